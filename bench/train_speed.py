"""Training speed of each model, as a ratio to the first one (the VAE), measured in one run.

    python bench/train_speed.py [--models vae,lae,...] [--steps 30] [--rounds 3] [--data mnist5k]

A thin wrapper on lae/bench/speed.py (the same measurement as part 1 of ``lae bench``, which
also profiles, scores and plots: docs/bench.md), kept for measuring variants quickly and for
the files in results it wrote. A model entry may carry config overrides after "+", e.g.
``lae+model.mala_steps=0`` or ``lae+model.preconditioned=true`` (the entry is its label).

Times ``Trainer.train_step`` (the model's step plus the optimiser update) on the same batch of
<data> with the authors' MLP (the <model>-<data>-mlp presets), interleaving the models round by
round so that background load affects them alike. Writes results/train_speed.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

import torch

from lae.bench.entries import entry_config, parse_entries, scratch_trainers
from lae.bench.speed import interleaved_seconds_per_step, speed_summary, synchronizer
from lae.errors import LaeError

RESULTS = Path(__file__).parent.parent / "results"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="vae,lae")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per model per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data", default="mnist5k")
    parser.add_argument("--out", default=str(RESULTS / "train_speed.json"))
    args = parser.parse_args()
    try:
        entries = parse_entries(args.models)
        configs = {e.label: entry_config(e, ["train.progress=false"], args.data) for e in entries}
    except LaeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with scratch_trainers() as make_trainer:
        trainers = {label: make_trainer(cfg) for label, cfg in configs.items()}
        first = trainers[entries[0].label]
        x, index = next(iter(first.loader))
        seconds = interleaved_seconds_per_step(
            {label: (lambda tr=tr: tr.train_step(x, index)) for label, tr in trainers.items()},
            steps_per_round=args.steps, rounds=args.rounds, warmup=3,
            synchronize=synchronizer(first.device))
    result = {
        "command": "python bench/train_speed.py " + " ".join(
            f"--{k.replace('_', '-')}={v}" for k, v in vars(args).items() if k != "out"),
        "settings": {"data": args.data, "batch_size": x.shape[0], "net": "mlp 3x1024 LayerNorm",
                     "steps_per_round": args.steps, "rounds": args.rounds,
                     "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
                     "machine": platform.processor() or platform.machine()},
        **speed_summary(seconds, entries[0].label),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
