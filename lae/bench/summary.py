"""``summary.md`` and the plots of a ``lae bench`` record (the dict written to ``bench.json``).

- the seconds-per-step ratio to the VAE, one bar per model;
- the AIS NLL in bits/dim against training seconds, all models on shared axes (standard errors
  over the test images as error bars).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no screen; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402

MIB = 2**20


def _num(value: float | None, spec: str = ".3g", scale: float = 1.0) -> str:
    """A table cell: ``value / scale`` formatted, or a dash for a missing (null) figure."""
    return "–" if value is None else format(value / scale, spec)


def _curves(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The quality records of the models that finished (a failed model holds an error)."""
    return {label: records for label, records in result["quality"].items()
            if isinstance(records, list)}


def write_plots(result: dict[str, Any], speed_path: Path, quality_path: Path) -> None:
    """The two PNGs: seconds-per-step ratios to the baseline, and NLL (bits/dim) against
    training seconds for every model."""
    baseline = result["speed"]["baseline"]
    ratios = result["speed"][f"time_ratio_to_{baseline}"]
    labels = list(ratios)
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 1.2))
    bars = ax.barh(labels, [ratios[m] for m in labels], color="C0")
    ax.bar_label(bars, labels=[f"{ratios[m]:.2f}" for m in labels], padding=3)
    ax.axvline(1.0, color="0.4", lw=0.8, ls="--")
    ax.invert_yaxis()
    ax.set_xlabel(f"seconds per training step / {baseline}'s")
    ax.set_title(f"training step time, ratio to {baseline} (batch "
                 f"{result['speed']['batch_size']}, torch threads: "
                 f"{result['machine']['torch_threads']})", fontsize=9)
    ax.set_xlim(0, max(ratios.values()) * 1.18)
    fig.tight_layout()
    fig.savefig(speed_path, dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for i, (label, records) in enumerate(_curves(result).items()):
        points = [r for r in records if r["nll_ais_bpd"] is not None]
        if not points:
            continue
        ax.errorbar([r["seconds"] for r in points], [r["nll_ais_bpd"] for r in points],
                    yerr=[r["nll_ais_bpd_stderr"] or 0.0 for r in points], marker="o",
                    capsize=3, label=label, color=f"C{i % 10}")
    size = result["settings"]["size"]
    ax.set_xlabel("training seconds")
    ax.set_ylabel("AIS NLL (bits/dim)")
    ax.set_title(f"NLL against training time: {size['ais_images']} test images, AIS "
                 f"M={size['ais_chains']}, K={size['ais_temps']}", fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(quality_path, dpi=120)
    plt.close(fig)


def write_summary(result: dict[str, Any], path: Path, speed_plot: str, quality_plot: str) -> None:
    """Write the Markdown summary: machine and settings, then one table per part of the suite
    (units in the headers), with the plots (file names relative to ``path``)."""
    m, st = result["machine"], result["settings"]
    size, speed, baseline = st["size"], result["speed"], st["baseline"]
    ratios = speed[f"time_ratio_to_{baseline}"]
    lines = [
        f"# lae bench ({size['name']})",
        "",
        f"Command: `{result['lae_bench']['command']}`; written {result['lae_bench']['written_utc']}"
        f"; the whole run took {result['wall_seconds']:.0f} s.",
        "",
        f"Machine: {m['device_name']} (device `{m['device']}`), {m['cpu_count']} CPUs "
        f"({m['cpus_usable_by_process']} usable by the process), torch {m['torch_version']} with "
        f"{m['torch_threads']} threads, {m['platform']}, Python {m['python_version']}, lae "
        f"{m['lae_version']}.",
        "",
        f"Settings: data `{st['data']}`, presets `<model>-{st['data']}-{st['net']}`, batch "
        f"{st['batch_size']}, training seed {st['training_seed']}; overrides for every model: "
        + ", ".join(f"`{o}`" for o in st["overrides_for_all_models"])
        + "; a model's own overrides follow its name after `+`. All figures are in bench.json.",
        "",
        "## Training step cost",
        "",
        f"Seconds per step (the model's step and the optimiser update, `Trainer.train_step`): "
        f"median over {size['speed_rounds']} rounds of {size['speed_steps_per_round']} steps "
        f"after {size['speed_warmup']} warm-up steps, the models taking turns each round on the "
        f"same batch. Counts and memory: torch.profiler over {size['profile_steps']} steps after "
        f"{size['profile_warmup']} warm-up steps; memory measures in bench.json "
        "(`memory_measures`).",
        "",
        f"| model | seconds/step (s) | ratio to {baseline} (x) | aten ops/step (top level) | "
        "aten ops/step (all depths) | matmuls/step | matmul GFLOP/step | matmul FLOPs, ratio "
        f"to {baseline} (x) | host syncs/step | peak CPU memory above "
        "step start (MiB) | CPU allocations/step (MiB) | peak CUDA allocated (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    base_flops = result["profile"][baseline].get("matmul_flops_per_step")
    for label, ratio in ratios.items():
        p = result["profile"][label]
        flops = p.get("matmul_flops_per_step")
        flop_ratio = flops / base_flops if flops and base_flops else None
        lines.append(
            f"| {label} | {_num(speed['seconds_per_step_median'][label], '.4f')} | "
            f"{ratio:.2f} | {_num(p['aten_ops_per_step'], '.0f')} | "
            f"{_num(p['aten_ops_all_depths_per_step'], '.0f')} | "
            f"{_num(p['matmuls_per_step'], '.0f')} | {_num(flops, '.2f', 1e9)} | "
            f"{_num(flop_ratio, '.2f')} | {_num(p['host_syncs_per_step'], '.1f')} | "
            f"{_num(p['cpu_peak_bytes_above_step_start'], '.1f', MIB)} | "
            f"{_num(p['cpu_alloc_bytes_per_step'], '.1f', MIB)} | "
            f"{_num(p['cuda_peak_allocated_bytes'], '.1f', MIB)} |")
    lines += ["", f"![seconds per step, ratio to {baseline}]({speed_plot})", ""]
    lines += _throughput_lines(result.get("throughput") or {})
    lines += _quality_lines(result, quality_plot)
    path.write_text("\n".join(lines) + "\n")


def _throughput_lines(tp: dict[str, Any]) -> list[str]:
    if not tp:
        return ["## Evaluation throughput", "", "Not measured: the baseline model failed.", ""]
    ais, ref = tp["ais"], tp["posterior_reference"]
    a = ais["ais_settings"] or {}
    return [
        f"## Evaluation throughput ({tp['model']} trained for {tp['trained_seconds']:.3g} s)",
        "",
        "| what | settings | seconds (s) | throughput |",
        "|---|---|---|---|",
        f"| AIS NLL (`nll-ais`) | {ais['n_images']} test images, M={a.get('M')} chains, "
        f"K={a.get('K')} temperatures, {a.get('kernel')} with {a.get('leapfrog')} leapfrog step, "
        f"step sizes from a pilot run | {ais['ais_seconds']:.2f} | "
        f"{ais['ais_images_per_second']:.2f} images/s |",
        f"| posterior reference (MALA, `posterior`) | {ref['n_points']} test points x "
        f"{ref['chains_per_point']} chains from prior draws, {ref['warmup_steps_per_chain']} "
        f"warm-up + {ref['kept_steps_per_chain']} kept steps; rank-normalised R-hat max "
        f"{ref['rhat_max']:.3g}, median {ref['rhat_median']:.3g} | {ref['seconds']:.2f} | "
        f"{ref['points_per_second']:.2f} points/s |",
        "",
    ]


def _quality_lines(result: dict[str, Any], quality_plot: str) -> list[str]:
    size = result["settings"]["size"]
    budgets = size["budgets_seconds"]
    header = "| model |" + "".join(
        f" steps at {b:g} s | epochs at {b:g} s | NLL at {b:g} s (bits/dim) |" for b in budgets)
    lines = [
        "## Quality against training time",
        "",
        f"Each model trained from scratch for {', '.join(f'{b:g}' for b in budgets)} seconds of "
        f"training steps (the clock paused while scoring), then scored by AIS on the same "
        f"{size['ais_images']} evenly spaced test images with M={size['ais_chains']} chains and "
        f"K={size['ais_temps']} temperatures, seed 0: an upper bound on the NLL, loose at so few "
        "temperatures but the same for every model (for an unnormalised prior, latent-ebm, an "
        "estimate: log Z is estimated by AIS too). ± is the standard error over the images; the "
        "images are shared, so differences between models are more precise than it suggests.",
        "",
        header,
        "|---|" + "---|---|---|" * len(budgets),
    ]
    for label, records in result["quality"].items():
        if not isinstance(records, list):
            lines.append(f"| {label} | failed: {records['error']} |" + " |" * (3 * len(budgets)
                                                                            - 1))
            continue
        cells = "".join(
            f" {r['steps']} | {r['epochs']:.2f} | {_num(r['nll_ais_bpd'], '.4f')} ± "
            f"{_num(r['nll_ais_bpd_stderr'], '.4f')} |" for r in records)
        lines.append(f"| {label} |{cells}")
    lines += ["", f"![AIS NLL (bits/dim) against training seconds]({quality_plot})"]
    return lines
