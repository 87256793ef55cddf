"""The paper's comparison table on data we have: models x seeds, trained and scored alike.

    python bench/paper_table.py --data mnist --data-dir $MNIST_DIR --epochs 50 \
        --models vae,vae-flow,hoffman,lae --seeds 0,1,2 --jobs 2 --out runs/table-mnist

Each (model, seed) is trained from the preset ``<model>-mnist5k-mlp`` (the authors' MLP, latent
dim 8, discretised logistic on 8-bit pixels) with ``data.name`` replaced, then scored with
``lae eval --metrics nll-ais,bdmc,elbo,iwae,mse`` on ``--n-examples`` evenly spaced test images:
the AIS NLL, the BDMC gap on ``--bdmc-n-sim`` points simulated from the trained model, and the
paper's own metric (the negative ELBO per dimension, with the hand-set q = N(f(x), 0.05^2) for the
LAE). ``lae report`` then writes one row per model with mean ± std over the seeds, and
``timings.json`` records each run's training and evaluation wall-clock seconds, and
``comparison.md`` sets each model's AIS NLL against ``--reference``'s (default the LAE) in percent,
with the standard error of the difference over seeds.

Extra ``--set key=value`` pairs are passed to every ``lae train`` (e.g. ``--set
data.binarize=dynamic --set model.likelihood=bernoulli`` for binarised MNIST); ``--set-for MODEL
key=value`` to one model's runs only (e.g. ``--set-for shortrun model.n_steps=5``);
``--preset-for MODEL PRESET`` trains that model from another preset (e.g. ``--preset-for lae
lae-paper-mnist-mlp``, the authors' setting). ``--include FILE.json`` adds a recorded
``results.json`` (named ``<model>-seed<seed>.json``, as in results/) to ``comparison.md`` only,
so that new models can be set beside rows scored earlier with the same settings without training
those again. ``--jobs J`` runs J (model, seed) pairs at once with ``--threads`` torch threads
each (default: cores // J); on a small CPU, J = cores with one thread each is fastest (several
multi-threaded torch processes on the same cores slow each other down badly). Each run's output
goes to ``OUT/<model>-seed<seed>.log``. Runs already trained and scored (in ``timings.json``,
with a results.json) are skipped and the others resumed, so an interrupted table can be
continued.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lae.eval.registry import USED_BY


def lae(args: list[str], log: Path, threads: int) -> float:
    """Run ``lae ARGS`` with its output appended to ``log``; returns wall-clock seconds."""
    cmd = [sys.executable, "-m", "lae.cli", *args]
    env = os.environ | {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    with log.open("a") as f:
        f.write("+ " + " ".join(cmd) + "\n")
        f.flush()
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed (exit {done.returncode}); see {log}")
    return time.perf_counter() - t0


def epochs_trained(metrics: Path) -> dict[str, int]:
    """``epochs_run`` (the last epoch scored) and, with early stopping, ``best_epoch``."""
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    scored = [r for r in records if r.get("split") in ("test", "val")]
    out = {"epochs_run": max((r["epoch"] for r in scored), default=0)}
    best = [r["best_epoch"] for r in scored if "best_epoch" in r]
    return out | ({"best_epoch": best[-1]} if best else {})


def compare(runs: list[Path], timings: dict, reference: str,
            included: list[Path] = ()) -> str:
    """Markdown: per model, mean ± std over seeds of the headline numbers, and how far each
    model's AIS NLL is from ``reference``'s, in percent, with the standard error of that
    difference (seed-to-seed spread of both models; the test images are the same for all)."""
    import statistics as st

    by_model: dict[str, list[dict]] = {}
    for name, path in [(run.name, run / "results.json") for run in runs] + [
            (p.stem, p) for p in included]:
        res = json.loads(path.read_text())["metrics"]
        by_model.setdefault(name.rsplit("-seed", 1)[0], []).append(
            {k: v["value"] for k, v in res.items()} | timings.get(name, {}))
    unit = "bpd" if any("nll_ais_bpd" in r for rs in by_model.values() for r in rs) else "nats"
    keys = [f"nll_ais_{unit}", "bdmc_gap_nats", f"neg_elbo_{unit}", f"nll_iwae_{unit}",
            f"nll_langevin_bound_{unit}", "mse_per_pixel_01", "probe_accuracy", "train_s",
            "best_epoch"]

    def mean_sd(values: list[float]) -> tuple[float, float]:
        return st.mean(values), (st.stdev(values) if len(values) > 1 else float("nan"))

    lines = ["| model | seeds | " + " | ".join(keys) + f" | AIS NLL vs {reference} |",
             "|---" * (len(keys) + 3) + "|"]
    # without AIS (--metrics without nll-ais) the last column stays empty
    ref = [r[keys[0]] for r in by_model.get(reference, []) if keys[0] in r]
    for model, rs in by_model.items():
        cells = []
        for key in keys:
            vals = [r[key] for r in rs if key in r]
            m, sd = mean_sd(vals) if vals else (float("nan"), float("nan"))
            cells.append(f"{m:.4g} ± {sd:.2g}")
        vals = [r[keys[0]] for r in rs if keys[0] in r]
        if ref and vals and model != reference:
            (m, sd), (mr, sdr) = mean_sd(vals), mean_sd(ref)
            se = (sd ** 2 / len(vals) + sdr ** 2 / len(ref)) ** 0.5
            cells.append(f"{100 * (m - mr) / m:+.2f}% ± {100 * se / m:.2f}%")
        else:
            cells.append("")
        lines.append(f"| {model} | {len(rs)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (
        f"\n\nmean ± standard deviation over seeds; the last column is (model - {reference}) / "
        "model of the mean AIS NLL, ± the standard error of that difference over seeds (positive: "
        f"{reference} is better). train_s: training wall-clock seconds.\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--models", default="vae,vae-flow,hoffman,lae")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--n-examples", type=int, default=1000, help="test images scored")
    ap.add_argument("--ais-chains", type=int, default=16)
    ap.add_argument("--ais-temps", type=int, default=1000)
    ap.add_argument("--bdmc-n-sim", type=int, default=20, help="points simulated for BDMC")
    ap.add_argument("--k", type=int, default=1000, help="IWAE samples")
    ap.add_argument("--jobs", type=int, default=1, help="(model, seed) runs at once")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads per run (0: cores // jobs)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--set-for", action="append", nargs=2, default=[],
                    metavar=("MODEL", "KEY=VALUE"), help="a setting for one model's runs")
    ap.add_argument("--preset-for", action="append", nargs=2, default=[],
                    metavar=("MODEL", "PRESET"), help="train MODEL from PRESET, not "
                    "MODEL-mnist5k-mlp")
    ap.add_argument("--include", action="append", default=[], type=Path, metavar="FILE.json",
                    help="a recorded <model>-seed<seed>.json for comparison.md")
    ap.add_argument("--metrics", default="nll-ais,bdmc,elbo,iwae,langevin-bound,mse",
                    help="lae eval --metrics (those a model cannot give are skipped)")
    ap.add_argument("--reference", default="lae", help="model the others are compared with")
    ap.add_argument("--checkpoint", default="last",
                    help="the checkpoint scored: last, or best with --set train.patience=N "
                         "--set data.val_size=M (early stopping on the validation split)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    data_dir = ["--data-dir", args.data_dir] if args.data_dir else []
    timings_path = out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {}

    def one(model: str, seed: str) -> Path:
        run = out / f"{model}-seed{seed}"
        # finished: trained and scored (timings.json has it). A results.json alone is not enough:
        # another lae eval (a second reconstruction protocol) may have written one into a run
        # whose training was interrupted, which then was never resumed
        if run.name in timings and (run / "results.json").is_file():
            return run
        log = out / f"{model}-seed{seed}.log"
        print(f"start {run} ({threads} thread(s)), log {log}", flush=True)
        # each setting once (lae train refuses a repeated one): --set-for over --set over these
        settings = {kv.partition("=")[0]: kv for kv in (
            f"data.name={args.data}", f"train.epochs={args.epochs}", f"train.seed={seed}",
            f"train.num_threads={threads}", "train.progress=false", *args.set,
            *[kv for name, kv in args.set_for if name == model])}
        preset = dict(args.preset_for).get(model, f"{model}-mnist5k-mlp")
        train = ["train", preset, "--out", str(run),
                 *[f"--{kv}" for kv in settings.values()], *data_dir]
        if (run / "checkpoints" / "last.pt").is_file():
            train.append("--resume")
        elif (run / "config.yaml").is_file():  # stopped inside its first epoch: nothing to keep
            train.append("--overwrite")
        train_s = lae(train, log, threads)
        # only the settings of the metrics asked for (lae eval refuses the others)
        chosen = set(args.metrics.split(","))
        settings = [f"--{name.replace('_', '-')}={value}" for name, value in (
            ("k", args.k), ("ais_chains", args.ais_chains), ("ais_temps", args.ais_temps),
            ("bdmc_n_sim", args.bdmc_n_sim)) if chosen & set(USED_BY[name])]
        eval_s = lae(["eval", str(run), "--checkpoint", args.checkpoint, "--metrics", args.metrics,
                      "--n-examples", str(args.n_examples), *settings, *data_dir], log, threads)
        timings[run.name] = {"train_s": round(train_s, 1), "eval_s": round(eval_s, 1),
                             "threads": threads, "jobs": args.jobs, "epochs": args.epochs,
                             **epochs_trained(run / "metrics.jsonl")}
        timings_path.write_text(json.dumps(timings, indent=2) + "\n")
        print(f"done {run}: train {train_s:.0f} s, eval {eval_s:.0f} s", flush=True)
        return run

    # seed-major, so that a table cut short still has every model at the seeds it reached
    pairs = [(m, s) for s in args.seeds.split(",") for m in args.models.split(",")]
    # every run goes ahead when another fails (Executor.map would cancel the pending ones); the
    # table is written from the runs that finished, and the failures are listed at the end
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(one, *ms) for ms in pairs]
    runs, failed = [], []
    for future in futures:
        try:
            runs.append(future.result())
        except RuntimeError as exc:
            failed.append(str(exc))
    if runs:
        lae(["report", *map(str, runs), "--out", str(out / "report"), "--overwrite"],
            out / "report.log", threads)
        table = compare(runs, timings, args.reference, args.include)
        (out / "comparison.md").write_text(table)
        print(f"wrote {out / 'report' / 'report.md'} and {out / 'comparison.md'}:\n\n{table}")
    if failed:
        sys.exit(f"{len(failed)} run(s) failed; the table leaves them out:\n" + "\n".join(failed))


if __name__ == "__main__":
    main()
