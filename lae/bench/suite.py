"""The benchmark suite behind ``lae bench``: one run, one folder of JSON, Markdown and plots.

For each model entry (lae/bench/entries.py), on its MNIST-5k MLP preset with batch 100:

1. ``speed``: seconds per training step (``Trainer.train_step``: the model's step and the
   optimiser update), the models interleaved round by round (lae/bench/speed.py), and the ratio
   to the VAE (always measured: it is added first when not given);
2. ``profile``: per step, from ``torch.profiler`` (lae/bench/profile.py): aten operators (top
   level and at all depths), matrix products, host synchronisations, and memory:
   ``cpu_peak_bytes_above_step_start`` and ``cpu_alloc_bytes_per_step`` from the CPU allocator's
   records, and on a CUDA device ``cuda_peak_allocated_bytes`` and
   ``cuda_peak_bytes_above_step_start`` from the caching allocator (null on a CPU);
3. ``quality``: each model trained from scratch for equal budgets of training seconds, then
   scored at each budget by AIS (``nll-ais``) on the same evenly spaced test images with the
   same settings and seed (lae/bench/quality.py);
4. ``throughput``: for the VAE trained for the last budget, AIS test images per second (its
   last quality score) and the posterior-fidelity reference MALA's points per second
   (lae/bench/throughput.py).

:func:`run_bench` writes ``bench.json`` (the record: machine, settings, all figures),
``summary.md`` and the plots (lae/bench/summary.py) into the output folder.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

import lae
from lae.argtypes import THREADS_MAX
from lae.bench.entries import (
    ModelEntry,
    entry_config,
    parse_entries,
    parse_entry,
    scratch_trainers,
)
from lae.bench.profile import cuda_peak_bytes, profile_steps
from lae.bench.quality import quality_curve
from lae.bench.sizes import BENCH_DATASETS, DEFAULT_MODELS, SIZES, BenchSize
from lae.bench.speed import interleaved_seconds_per_step, speed_summary, synchronizer
from lae.bench.throughput import posterior_reference_throughput
from lae.errors import ConfigError, LaeError
from lae.eval.metrics import EvalSettings
from lae.train.setup import resolve_device

DATA, NET, BATCH_SIZE = "mnist5k", "mlp", 100

BUDGET_MAX = 7 * 24 * 3600.0  # seconds: a longer --budgets is a typo, not a benchmark
# seconds: no training step is shorter, so a smaller budget would label the quality table with
# time the model did not train in (1e-39 s was accepted, each model then trained one step)
BUDGET_MIN = 0.01
BASELINE = "vae"
BENCH_JSON, SUMMARY_MD = "bench.json", "summary.md"
SPEED_PLOT, QUALITY_PLOT = "speed_ratio.png", "nll_vs_seconds.png"
WRITTEN = (BENCH_JSON, SUMMARY_MD, SPEED_PLOT, QUALITY_PLOT)  # all lae bench writes
FORMAT_VERSION = 1
MEMORY_MEASURES = {
    "cpu_peak_bytes_above_step_start": "most bytes of CPU tensors live at once during a step "
    "beyond those live at its start (torch.profiler's allocator records; median over the "
    "profiled steps after the first)",
    "cpu_alloc_bytes_per_step": "bytes requested from the CPU allocator per step (traffic, not a "
    "peak)",
    "cuda_peak_allocated_bytes": "torch.cuda.max_memory_allocated over the profiled steps after "
    "a reset: parameters, optimiser state and the step's tensors (null: no CUDA device used)",
    "cuda_peak_bytes_above_step_start": "the same less the bytes allocated before the first "
    "step (null: no CUDA device used)",
}


def machine_record(device: torch.device) -> dict[str, Any]:
    """What the figures were measured on: CPUs (all, and those this process may use), torch's
    threads and version, the device and its name, the platform, Python and lae versions."""
    if device.type == "cuda":
        device_name = torch.cuda.get_device_name(device)
    else:
        device_name = _cpu_model() or platform.processor() or platform.machine()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu_count": os.cpu_count(), "cpus_usable_by_process": usable,
            "torch_threads": torch.get_num_threads(), "torch_version": torch.__version__,
            "device": str(device), "device_name": device_name, "platform": platform.platform(),
            "python_version": platform.python_version(), "lae_version": lae.__version__}


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def check_out_dir(out: Path, overwrite: bool) -> None:
    """Refuse a non-empty ``out`` unless ``overwrite``; with it, refuse to replace any of lae
    bench's file names there unless ``bench.json`` shows lae bench wrote them (nothing is ever
    deleted: lae bench's own files are replaced, others are left alone)."""
    if out.exists() and not out.is_dir():
        raise LaeError(f"--out {out} exists and is not a folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not overwrite:
        raise LaeError(f"--out {out} is not empty; pass --overwrite to replace lae bench's own "
                       f"files there ({', '.join(WRITTEN)}; other files are kept)")
    ours = [name for name in WRITTEN if (out / name).exists()]
    if ours and not _written_by_bench(out / BENCH_JSON):
        raise LaeError(f"--out {out} holds {', '.join(ours)} but no {BENCH_JSON} written by lae "
                       "bench; lae will not replace files it did not write (choose another "
                       "folder)")


def _written_by_bench(path: Path) -> bool:
    try:
        return "lae_bench" in json.loads(path.read_text())
    except (OSError, ValueError, TypeError):
        return False


def resolve_entries(models: str | Sequence[str]) -> list[ModelEntry]:
    """Parse the model entries (comma-separated text or a list); the VAE comes first, added
    when missing, since every speed figure is a ratio to it."""
    entries = (parse_entries(models) if isinstance(models, str)
               else [parse_entry(m) for m in models])
    if BASELINE not in [e.label for e in entries]:
        entries.insert(0, ModelEntry(BASELINE, BASELINE))
    return sorted(entries, key=lambda e: e.label != BASELINE)


def run_bench(out: Path | str, models: str | Sequence[str] = DEFAULT_MODELS, *,
              size: str = "default", threads: int = 1, device: str = "auto",
              overwrite: bool = False, command: str | None = None, data: str = DATA,
              budgets: Sequence[float] | None = None, data_dir: str | None = None,
              download: bool = False, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the suite (module docstring) and write ``bench.json``, ``summary.md`` and the plots
    into ``out``; returns the record written to ``bench.json``.

    Args:
        out: output folder; must be new or empty unless ``overwrite`` (see
            :func:`check_out_dir`).
        models: model entries, e.g. ``"vae,lae,lae+model.mala_steps=0"``.
        size: a key of :data:`SIZES` (``tiny``, ``small``, ``default``).
        threads: torch CPU threads (``train.num_threads``; 0: torch's default).
        device: ``train.device`` (``auto``, ``cpu``, ``cuda``, ...).
        data: the presets' data, one of :data:`lae.bench.sizes.BENCH_DATASETS`: each model
            runs its ``<model>-<data>-mlp`` preset.
        budgets: training seconds per model at which the quality part scores it, in place of
            the size's ``budgets_seconds``.
        data_dir, download: ``data.data_dir`` and ``data.download`` of every model (where the
            data set's files are, and whether to fetch them when missing).
        command: the command line recorded with the results.
        log: where progress lines go.
    """
    from lae.bench.summary import write_plots, write_summary
    from lae.eval.json import json_safe

    started = time.perf_counter()
    out = Path(out)
    if size not in SIZES:
        raise ConfigError(f"--size must be one of {', '.join(SIZES)}, got {size!r}")
    if not 0 <= threads <= THREADS_MAX:
        raise ConfigError(f"--threads must be in 0..{THREADS_MAX} (0: torch's default), got "
                          f"{threads}")
    if data not in BENCH_DATASETS:
        raise ConfigError(f"--data must be one of {', '.join(BENCH_DATASETS)}, got {data!r}")
    bench_size = SIZES[size]
    if budgets is not None:
        budgets = tuple(float(b) for b in budgets)
        if (not budgets or any(not BUDGET_MIN <= b <= BUDGET_MAX for b in budgets)
                or any(a >= b for a, b in zip(budgets, budgets[1:]))):
            raise ConfigError(f"--budgets must be increasing positive seconds from {BUDGET_MIN:g} "
                              f"(no training step is shorter) up to {BUDGET_MAX:g} (a week), got "
                              f"{budgets}")
        bench_size = replace(bench_size, budgets_seconds=budgets)
    entries = resolve_entries(models)
    common = ["train.progress=false", f"train.num_threads={threads}",
              f"train.batch_size={BATCH_SIZE}", f"train.device={device}", *bench_size.overrides,
              *([f"data.data_dir={data_dir}"] if data_dir else []),
              *(["data.download=true"] if download else [])]
    # every config is resolved (bad keys and values fail) before anything is written
    configs = {e.label: entry_config(e, common, data, NET) for e in entries}
    resolve_device(device)  # a device this machine lacks fails before --out is made
    check_out_dir(out, overwrite)
    out.mkdir(parents=True, exist_ok=True)

    with scratch_trainers() as make_trainer:
        speed, profile, machine = _speed_and_profile(configs, bench_size, make_trainer, log)
        quality, throughput = _quality_and_throughput(configs, bench_size, make_trainer, log)
    result = {
        "lae_bench": {"format_version": FORMAT_VERSION, "command": command,
                      "written_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
        "machine": machine,
        "settings": {"size": asdict(bench_size), "models": [e.label for e in entries],
                     "presets": {e.label: e.preset(data, NET) for e in entries},
                     "model_overrides": {e.label: list(e.overrides) for e in entries},
                     "overrides_for_all_models": common, "data": data, "net": NET,
                     "batch_size": BATCH_SIZE, "threads": threads, "baseline": BASELINE,
                     "training_seed": configs[BASELINE].train.seed},
        "speed": speed,
        "profile": profile,
        "memory_measures": MEMORY_MEASURES,
        "quality": quality,
        "throughput": throughput,
    }
    result["wall_seconds"] = time.perf_counter() - started
    (out / BENCH_JSON).write_text(json.dumps(json_safe(result), indent=2) + "\n")
    write_plots(result, out / SPEED_PLOT, out / QUALITY_PLOT)
    write_summary(result, out / SUMMARY_MD, SPEED_PLOT, QUALITY_PLOT)
    log(f"wrote {out / BENCH_JSON}, {out / SUMMARY_MD} and the plots "
        f"({result['wall_seconds']:.0f} s)")
    return result


def _speed_and_profile(configs: dict[str, Any], size: BenchSize, make_trainer: Callable,
                       log: Callable[[str], None]) -> tuple[dict, dict, dict]:
    """Parts 1 and 2: every model's trainer built at once, timed interleaved on one batch, then
    profiled one after another."""
    trainers = {label: make_trainer(cfg) for label, cfg in configs.items()}
    baseline = trainers[BASELINE]
    device = baseline.device
    sync = synchronizer(device)
    machine = machine_record(device)  # after the trainers set torch's threads
    x, index = next(iter(baseline.loader))
    steps = {label: (lambda tr=tr: tr.train_step(x, index)) for label, tr in trainers.items()}
    log(f"speed: {len(steps)} models x {size.speed_rounds} rounds x "
        f"{size.speed_steps_per_round} steps, batch {x.shape[0]}, torch threads: "
        f"{machine['torch_threads']}, device: {device}")
    speed = speed_summary(interleaved_seconds_per_step(
        steps, steps_per_round=size.speed_steps_per_round, rounds=size.speed_rounds,
        warmup=size.speed_warmup, synchronize=sync), BASELINE)
    speed |= {"baseline": BASELINE, "batch_size": int(x.shape[0])}
    for label, ratio in speed[f"time_ratio_to_{BASELINE}"].items():
        log(f"  {label:<28} {speed['seconds_per_step_median'][label]:.4f} s/step, "
            f"{ratio:.2f} x {BASELINE}")
    profile = {}
    for label, step in steps.items():
        counts = profile_steps(step, size.profile_steps, size.profile_warmup, memory=True)
        record = counts.as_dict() | {"cuda_peak_allocated_bytes": None,
                                     "cuda_peak_bytes_above_step_start": None}
        if device.type == "cuda":
            record |= cuda_peak_bytes(step, size.profile_steps, device)
        profile[label] = record
        log(f"profile: {label:<28} {record['aten_ops_per_step']:.0f} aten ops, "
            f"{record['matmuls_per_step']:.0f} matmuls, {record['host_syncs_per_step']:.1f} "
            "host syncs per step")
    return speed, profile, machine


def _quality_and_throughput(configs: dict[str, Any], size: BenchSize, make_trainer: Callable,
                            log: Callable[[str], None]) -> tuple[dict, dict]:
    """Parts 3 and 4: each model trained from scratch in turn (one at a time in memory) and
    scored at each budget; the VAE's last score and a reference-MALA run give the throughput.
    A model that fails (diverges, say) is recorded with its error and the suite goes on."""
    from lae.data import evenly_spaced

    settings = EvalSettings(ais_chains=size.ais_chains, ais_temps=size.ais_temps,
                            batch_size=size.ais_images, seed=0)
    quality: dict[str, Any] = {}
    throughput: dict[str, Any] = {}
    for label, cfg in configs.items():
        log(f"quality: {label}: training for {', '.join(f'{b:g}' for b in size.budgets_seconds)} "
            "s")
        tr = make_trainer(cfg)
        sync = synchronizer(tr.device)
        x_test = evenly_spaced(tr.splits.test, size.ais_images)

        def show(record: dict[str, Any], label: str = label) -> None:
            log(f"  {label:<28} {record['seconds']:6.1f} s, {record['steps']:5d} steps, "
                f"{record['epochs']:6.2f} epochs: NLL {_show(record['nll_ais_bpd'])} bits/dim "
                f"(AIS {record['ais_seconds']:.1f} s)")

        try:
            quality[label] = quality_curve(tr, size.budgets_seconds, x_test, settings, sync, show)
        except (LaeError, RuntimeError, ValueError) as exc:
            quality[label] = {"error": f"{type(exc).__name__}: {exc}"}
            log(f"  {label}: failed: {quality[label]['error']}")
            continue
        if label == BASELINE:
            last = quality[label][-1]
            throughput = {
                "model": BASELINE, "trained_seconds": last["seconds"],
                "ais": {k: last[k] for k in ("n_images", "ais_seconds", "ais_images_per_second",
                                             "ais_settings")},
                "posterior_reference": posterior_reference_throughput(
                    tr.model, evenly_spaced(tr.splits.test, size.posterior_points),
                    chains=size.posterior_chains, steps=size.posterior_steps,
                    warmup=size.posterior_warmup, seed=0, synchronize=sync)}
            ref = throughput["posterior_reference"]
            log(f"throughput: AIS {last['ais_images_per_second']:.2f} images/s; reference "
                f"MALA {ref['points_per_second']:.2f} points/s ({ref['seconds']:.1f} s)")
    return quality, throughput


def _show(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"

