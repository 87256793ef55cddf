"""Training speed of each model, as a ratio to the VAE, measured in one run.

    python bench/train_speed.py [--models vae,lae,...] [--steps 30] [--preset-data mnist5k]

A model entry may carry config overrides after "+", e.g. ``lae+model.mala_steps=5`` or
``lae+model.preconditioned=true+model.precond_damping_ref=median`` (the entry is its label).

Times ``training_step`` plus the optimiser update (the trainer's ``_apply``) on the same batches
of MNIST-5k with the authors' MLP (vae-<data>-mlp settings), interleaving the models round by
round so that background load affects them alike. Writes bench/results/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from lae.models import MODELS
from lae.train import Trainer, load_config

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="vae,lae")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per model per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default="mnist5k")
    parser.add_argument("--out", default=str(RESULTS / "train_speed.json"))
    args = parser.parse_args()
    names = [m.strip() for m in args.models.split(",")]
    unknown = [m for m in names if m.split("+")[0] not in MODELS]
    if unknown:
        raise SystemExit(f"unknown models {unknown}; choices: {sorted(MODELS)}")

    trainers = {}
    for name in names:
        model, *overrides = name.split("+")
        preset = f"{model}-{args.data}-mlp"
        cfg = load_config(preset, ["train.progress=false", *overrides])
        run_dir = Path("/tmp") / f"lae-bench-{model}-{time.time_ns()}"
        trainers[name] = Trainer(cfg, run_dir)
    batch = next(iter(trainers[names[0]].loader))
    x, index = batch

    times: dict[str, list[float]] = {n: [] for n in names}
    for tr in trainers.values():  # warm-up
        for _ in range(3):
            tr._apply(tr.model.training_step(x, index).losses)
    for _ in range(args.rounds):
        for name, tr in trainers.items():
            t0 = time.perf_counter()
            for _ in range(args.steps):
                tr._apply(tr.model.training_step(x, index).losses)
            times[name].append((time.perf_counter() - t0) / args.steps)

    base = statistics.median(times[names[0]])
    result = {
        "command": "python bench/train_speed.py " + " ".join(
            f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "out"),
        "settings": {"data": args.data, "batch_size": x.shape[0], "net": "mlp 3x1024 LayerNorm",
                     "steps_per_round": args.steps, "rounds": args.rounds,
                     "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                     "machine": platform.processor() or platform.machine()},
        "seconds_per_step_median": {n: statistics.median(t) for n, t in times.items()},
        f"time_ratio_to_{names[0]}": {n: statistics.median(t) / base for n, t in times.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
