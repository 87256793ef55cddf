"""``lae anomaly``: score the test images of a run trained with one class held out, and report
how well the scores rank the held-out class above the others (docs/tasks.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from lae.commands.base import (
    Command,
    add_task_arguments,
    check_output_folder,
    count,
    load_task_run,
    refuse_existing,
    test_images,
    write_json,
)
from lae.errors import ConfigError
from lae.files import atomic_write

RESULTS, PER_IMAGE = "anomaly.json", "anomaly_scores.npz"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lae.tasks import SCORES

    p.add_argument("run_dir", help="a run folder written by lae train")
    p.add_argument("--score", choices=SCORES, default="log-joint",
                   help="log-joint: -log p(x, z) at the model's inferred z; refined: after "
                        "--refine-steps gradient steps on it; nll-iwae, nll-ais: -log p(x) "
                        "(default log-joint)")
    p.add_argument("--refine-steps", type=count(1), default=20,
                   help="noise-free gradient steps of the refined score (default 20)")
    p.add_argument("--k", type=count(1), default=100, help="importance samples of nll-iwae "
                                                      "(default 100)")
    add_task_arguments(p, n_examples=0,
                       out=f"folder for {RESULTS} (the metrics) and {PER_IMAGE} (each image's "
                           f"score and label; default RUN_DIR/anomaly/SCORE)")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from lae.tasks import anomaly_scores, detection_metrics

    run = load_task_run(args)
    digit = run.config.data.holdout_class
    if digit is None:
        raise ConfigError(f"{run.run_dir} was not trained with a class held out: train with "
                          f"--data.holdout_class=D (and --data.holdout_split=zenati for the "
                          f"published MNIST split) on a labelled dataset")
    out = Path(args.out) if args.out else run.run_dir / "anomaly" / args.score
    paths = [out / RESULTS, out / PER_IMAGE]
    refuse_existing(paths, args.overwrite)  # both, before any work
    x, y, _ = test_images(run, args.n_examples)
    if y is None:
        raise ConfigError(f"the test split of {run.config.data.name} has no labels")
    check_output_folder(out)
    generator = torch.Generator(device=x.device).manual_seed(args.seed)
    scores = anomaly_scores(run.model, x, args.score, refine_steps=args.refine_steps,
                            k=args.k, generator=generator)
    is_anomaly = y == digit
    metrics = detection_metrics(is_anomaly, scores)
    atomic_write(paths[1], lambda f: np.savez(f, score=scores.double().cpu().numpy(),
                                              is_anomaly=is_anomaly.cpu().numpy()))
    write_json(paths[0], {
        "run_dir": str(run.run_dir), "checkpoint": str(run.checkpoint_path), "epoch": run.epoch,
        "dataset": run.config.data.name, "holdout_class": digit,
        "holdout_split": run.config.data.holdout_split, "score": args.score,
        "score_unit": "nats per image, higher = more anomalous",
        "settings": {"refine_steps": args.refine_steps, "k": args.k, "seed": args.seed,
                     "n_examples": int(x.shape[0])},
        "metrics": metrics, "per_image": str(paths[1])})
    return 0


COMMAND = Command(
    "anomaly", "anomaly detection: score the test images of a run trained with "
               "data.holdout_class (AUPRC, AUROC)", add_arguments, run,
    description="Score the test split of a run trained without one class (data.holdout_class; "
                "data.holdout_split=zenati for the published MNIST split) and report AUPRC "
                "(auc(recall, precision) and average precision), AUROC and the chance AUPRC; "
                "each image's score and label go to anomaly_scores.npz (docs/tasks.md).")
