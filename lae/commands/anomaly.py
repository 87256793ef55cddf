"""``lae anomaly``: score test images by how anomalous a trained model finds them, and report how
well the scores rank the anomalies above the normal images (docs/tasks.md). The anomalies are
the class the run was trained without (``data.holdout_class``), or, with ``--against DATASET``,
the test images of another dataset (out-of-distribution detection)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lae.argtypes import COUNT_MAX, count, nonempty_text
from lae.commands.base import (
    Command,
    add_task_arguments,
    check_output_folder,
    load_task_run,
    note_all_examples,
    refuse_another_runs_folder,
    test_images,
    write_json,
    writing_results,
)
from lae.errors import ConfigError, DataError
from lae.files import atomic_write, refuse_existing

RESULTS, PER_IMAGE = "anomaly.json", "anomaly_scores.npz"


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lae.tasks import LIKELIHOODS, SCORES

    p.add_argument("run_dir", type=nonempty_text, help="a run folder written by lae train")
    p.add_argument("--score", choices=SCORES, default="log-joint",
                   help="log-joint: -log p(x, z) at the model's inferred z; refined: after "
                        "--refine-steps gradient steps on it; nll-iwae, nll-ais: -log p(x); "
                        "complexity: -log2 p(x) - L(x), L the PNG length of x in bits (Serra et "
                        "al. 2020); likelihood-ratio: -log p(x) + log p_background(x) (Ren et al. "
                        "2019, --background). Nats per image, complexity bits per image; "
                        "higher = more anomalous (default log-joint)")
    p.add_argument("--likelihood", choices=LIKELIHOODS, default="auto",
                   help="the estimate of -log p(x) complexity and likelihood-ratio correct (auto: "
                        "nll-iwae through a trained q(z|x), else nll-ais, else refined)")
    p.add_argument("--background", default=None, type=nonempty_text, metavar="RUN",
                   help="likelihood-ratio: the background model, a run of the same model "
                        "trained with --data.noise_fraction=MU (its last checkpoint)")
    p.add_argument("--against", default=None, type=nonempty_text, metavar="DATASET",
                   help="out-of-distribution detection: the anomalies are the test images of "
                        "this dataset (same shape), the normals the run's own test images")
    p.add_argument("--against-data-dir", default=None, type=nonempty_text,
                   help="where --against's files are")
    p.add_argument("--against-path", default=None, type=nonempty_text, metavar="FILE.npz",
                   help="--against npz: the .npz file of images (its data.path)")
    p.add_argument("--refine-steps", type=count(1, COUNT_MAX), default=None,
                   help="noise-free gradient steps of the refined estimate (default 20)")
    p.add_argument("--k", type=count(1, COUNT_MAX), default=None,
                   help="importance samples of the nll-iwae estimate (default 100)")
    p.add_argument("--ais-chains", type=count(1, COUNT_MAX), default=None,
                   help="chains per image of the nll-ais estimate (default 4)")
    p.add_argument("--ais-temps", type=count(2, COUNT_MAX), default=None,
                   help="temperatures of the nll-ais estimate (default 200)")
    p.add_argument("--last-checkpoints", type=count(1, COUNT_MAX), default=1, metavar="N",
                   help="average each image's score over the run's last N epoch checkpoints "
                        "(the published protocol of LEBM; needs train.keep_checkpoints >= N; "
                        "default 1: --checkpoint alone)")
    add_task_arguments(p, n_examples=0, examples="test images; with --against, N of each dataset",
                       out=f"folder for {RESULTS} (the metrics) and {PER_IMAGE} (each image's "
                           f"score and label; default RUN_DIR/anomaly/SCORE, or "
                           f"RUN_DIR/anomaly/SCORE-vs-DATASET with --against)")


def _images_and_labels(run: Any, args: argparse.Namespace):
    """The test images [N, ...] on the model's device and whether each is an anomaly [N]."""
    import copy

    import torch

    from lae.data import evenly_spaced, load_dataset
    from lae.data.npz import EXPECTED as NPZ_EXPECTED

    x, y, _ = test_images(run, args.n_examples)
    if args.against is None:
        if y is None:
            raise ConfigError(f"the test split of {run.config.data.name} has no labels")
        return x, (y == run.config.data.holdout_class).to(x.device)
    held_out = run.config.data.holdout_class
    if held_out is not None and y is not None:  # never trained on: not a normal image
        x = x[(y != held_out).to(x.device)]
        print(f"note: the run was trained without class {held_out}: its test images of that "
              f"class are left out of the normals", file=sys.stderr)
    other_cfg = copy.deepcopy(run.config.data)
    other_cfg.name, other_cfg.path, other_cfg.mask = args.against, args.against_path, ""
    other_cfg.holdout_class, other_cfg.holdout_split, other_cfg.val_size = None, "official", 0
    if args.against_data_dir is not None and not Path(args.against_data_dir).is_dir():
        raise ConfigError(f"--against-data-dir {args.against_data_dir} is not a folder")
    other_cfg.data_dir = args.against_data_dir
    try:
        other = load_dataset(other_cfg, test_only=True).test
    except (ConfigError, DataError) as exc:  # named for this command's options
        text = str(exc).replace("data.name=", "--against ").replace(
            "data.path=", "--against-path ").replace("data.path:", "--against-path").replace(
            NPZ_EXPECTED, "an .npz archive (written by numpy.savez) with an array x_test").replace(
            "pass --download (download=True) to fetch it into",
            "fetch it with lae train --download into").replace(
            "--data-dir PATH (data_dir=PATH)", "--against-data-dir PATH")
        raise type(exc)(f"--against {args.against}: {text}") from None
    if tuple(other.shape[1:]) != tuple(x.shape[1:]):
        raise ConfigError(f"--against {args.against}: its images have shape "
                          f"{tuple(other.shape[1:])}, the run's {tuple(x.shape[1:])}")
    note_all_examples(args.n_examples, len(other), f"test images of {args.against}")
    other = evenly_spaced(other, args.n_examples).to(x.device)
    is_anomaly = torch.cat([torch.zeros(len(x), dtype=torch.bool),
                            torch.ones(len(other), dtype=torch.bool)]).to(x.device)
    return torch.cat([x, other]), is_anomaly


def _check_options(args: argparse.Namespace) -> None:
    """Options that do not go with the chosen score or with each other, before any work."""
    from lae.tasks import CORRECTED

    corrected = args.score in CORRECTED
    if args.score == "likelihood-ratio" and args.background is None:
        raise ConfigError("--score likelihood-ratio needs --background RUN (the same model "
                          "trained on the same data with --data.noise_fraction=MU, e.g. 0.2)")
    if args.background is not None and args.score != "likelihood-ratio":
        raise ConfigError(f"--background is the likelihood-ratio score's background model; "
                          f"--score {args.score} does not use it")
    if args.likelihood != "auto" and not corrected:
        raise ConfigError(f"--likelihood chooses what the complexity and likelihood-ratio "
                          f"scores correct; --score {args.score} does not use it")
    if (args.against_path is not None) != (args.against == "npz"):
        raise ConfigError("--against-path FILE.npz goes with --against npz, and --against npz "
                          "needs it")
    if args.against_data_dir is not None and args.against is None:
        raise ConfigError("--against-data-dir is where --against DATASET's files are; without "
                          "--against it is read by nothing")
    if args.last_checkpoints > 1 and args.checkpoint != "last":
        raise ConfigError(f"--last-checkpoints {args.last_checkpoints} averages the last "
                          f"epoch checkpoints, so --checkpoint {args.checkpoint} would be "
                          f"ignored; give one of them")


def _settings(model: Any, args: argparse.Namespace) -> tuple[str | None, dict[str, int]]:
    """(the estimate a corrected score builds on, or None; the settings the score reads, the
    given values over their defaults). A setting given that the score does not read is an
    error, before any work: it would be recorded as used."""
    from lae.tasks import ESTIMATE_SETTINGS, score_settings

    estimate, settings = score_settings(model, args.score, args.likelihood)
    names = {k for estimate_settings in ESTIMATE_SETTINGS.values() for k in estimate_settings}
    given = {k: getattr(args, k) for k in sorted(names) if getattr(args, k) is not None}
    unused = sorted(k for k in given if k not in settings)
    if unused:
        flags = ", ".join("--" + k.replace("_", "-") for k in unused)
        reads = (f"builds on {estimate}, which reads " if estimate else "reads ") + (
            ", ".join("--" + k.replace("_", "-") for k in settings) or "none of them")
        raise ConfigError(f"{flags}: --score {args.score} does not use it; it {reads}")
    return estimate, {**settings, **given}


def _background(run: Any, path: str) -> Any:
    """The likelihood-ratio score's background run (its last checkpoint): the run's own model,
    trained on its own data with values perturbed (data.noise_fraction > 0), checked before any
    work."""
    from dataclasses import asdict

    from lae.train import load_run
    from lae.train.resume import changed_settings, resumable_changes

    if Path(path).resolve() == Path(run.run_dir).resolve():
        raise ConfigError(f"--background {path} is the run itself: every score would be 0; "
                          f"give the same model trained with --data.noise_fraction=MU")
    background = load_run(path, advice="--background takes a run's last checkpoint: train "
                                       "the background again, or name another run")
    if background.config.model.name != run.config.model.name:
        raise ConfigError(f"--background {path} is a {background.config.model.name!r} model, "
                          f"the run a {run.config.model.name!r}: the ratio compares one model "
                          f"trained on clean and on perturbed data")
    mu = background.config.data.noise_fraction
    if not mu > 0:
        raise ConfigError(f"--background {path} was trained on unperturbed data "
                          f"(data.noise_fraction={mu}); train the background with "
                          f"--data.noise_fraction=MU, e.g. 0.2")
    # the same model on the same data but for the noise: another likelihood (a density against
    # a mass) or network makes the ratio compare two things (what a resume may change may differ)
    free = resumable_changes(run.config) | {("data", "noise_fraction"), ("data", "path")}
    differ = changed_settings(
        {s: asdict(getattr(background.config, s)) for s in ("data", "model")},
        {s: asdict(getattr(run.config, s)) for s in ("data", "model")}, free)
    if differ:
        raise ConfigError(f"--background {path} is not the run's model on the run's data but "
                          f"for data.noise_fraction; it differs in (background -> run): "
                          + ", ".join(differ))
    return background


def _checkpoints(args: argparse.Namespace) -> list[str]:
    """The checkpoints whose scores are averaged: ``--checkpoint``, or the last
    ``--last-checkpoints`` epoch checkpoints of the run."""
    if args.last_checkpoints == 1:
        return [args.checkpoint]
    from lae.train.rundir import CHECKPOINT_DIR, epoch_checkpoints

    folder = Path(args.run_dir) / CHECKPOINT_DIR
    epochs = [epoch for epoch, _ in epoch_checkpoints(Path(args.run_dir))]
    trained = epochs[-1] if epochs else 0
    if trained < args.last_checkpoints:  # no keep_checkpoints helps: the epochs do not exist
        raise ConfigError(f"--last-checkpoints {args.last_checkpoints}: the run has trained "
                          f"{trained} epoch(s); give at most {trained}, or train longer")
    if len(epochs) < args.last_checkpoints:
        raise ConfigError(f"--last-checkpoints {args.last_checkpoints}: {folder} keeps "
                          f"{len(epochs)} epoch checkpoint(s); train with "
                          f"train.keep_checkpoints={args.last_checkpoints} or more")
    return [str(e) for e in epochs[-args.last_checkpoints:]]


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from lae.tasks import anomaly_scores, detection_metrics
    from lae.train import find_checkpoint, load_run

    _check_options(args)
    checkpoints = _checkpoints(args)
    run = load_task_run(args)
    digit = run.config.data.holdout_class
    if digit is None and args.against is None:
        raise ConfigError(f"{run.run_dir} was not trained with a class held out: train with "
                          f"--data.holdout_class=D (and --data.holdout_split=zenati for the "
                          f"published MNIST split) on a labelled dataset, or give --against "
                          f"DATASET")
    if args.against is not None and args.against == run.config.data.name:
        raise ConfigError(f"--against {args.against}: that is the run's own dataset, so the same "
                          f"images would be both the normals and the anomalies; give another "
                          f"dataset of the same image shape")
    if args.score == "complexity" and len(run.model.spec.shape) != 3:
        raise ConfigError(f"--score complexity compresses images as PNG; {run.run_dir} models "
                          f"points of shape {tuple(run.model.spec.shape)}")
    estimate, settings = _settings(run.model, args)
    background = _background(run, args.background) if args.background else None  # a run
    name = args.score + (f"-vs-{args.against}" if args.against else "")
    out = Path(args.out) if args.out else run.run_dir / "anomaly" / name
    refuse_another_runs_folder(out, run.run_dir)
    paths = [out / RESULTS, out / PER_IMAGE]
    refuse_existing(paths, args.overwrite)  # both, before any work
    x, is_anomaly = _images_and_labels(run, args)
    if is_anomaly.all() or not is_anomaly.any():
        kind = "anomalies" if is_anomaly.all() else "normal"
        raise ConfigError(f"the {len(is_anomaly)} test images chosen (--n-examples "
                          f"{args.n_examples}) are all {kind}: the metrics need both; raise "
                          f"--n-examples (0: all)")
    check_output_folder(out)
    total, drew = None, False
    for checkpoint in checkpoints:
        # the loaded run's own checkpoint (last.pt is the last epoch's file) is not read again
        same = find_checkpoint(run.run_dir, checkpoint).samefile(run.checkpoint_path)
        model = run.model if same else load_run(run.run_dir, checkpoint).model
        generator = torch.Generator(device=x.device).manual_seed(args.seed)
        before = generator.get_state()
        scores = anomaly_scores(model, x, args.score, likelihood=args.likelihood,
                                background=background and background.model, generator=generator,
                                **settings).double().cpu()
        # whether the score drew at all depends on the model (the LAE's infer(x) runs a chain)
        drew = drew or not torch.equal(generator.get_state(), before)
        total = scores if total is None else total + scores
    scores = total / len(checkpoints)
    if not drew and args.seed != 0:
        print(f"note: --seed {args.seed}: the {args.score} score of this model draws nothing "
              f"at random; recorded as null", file=sys.stderr)
    metrics = detection_metrics(is_anomaly, scores)
    # another command may have written these, or trained the run over, meanwhile
    with writing_results(run, paths, args.overwrite):
        atomic_write(paths[1], lambda f: np.savez(f, score=scores.numpy(),
                                                  is_anomaly=is_anomaly.cpu().numpy()))
        write_json(paths[0], {
            # averaged over several epochs: no one checkpoint (checkpoints_averaged names them)
            "run_dir": str(run.run_dir),
            **({"checkpoint": str(run.checkpoint_path), "epoch": run.epoch} if len(checkpoints) == 1
               else {"checkpoint": None, "epoch": None}),
            "dataset": run.config.data.name, "holdout_class": digit,
            "holdout_split": run.config.data.holdout_split, "against": args.against,
            "against_path": args.against_path,
            "score": args.score,
            "likelihood": estimate,
            "background": str(args.background) if args.background else None,
            **({"background_checkpoint": str(background.checkpoint_path),
                "background_epoch": background.epoch} if background else {}),
            "score_unit": ("bits" if args.score == "complexity" else "nats")
                          + " per image, higher = more anomalous",
            "checkpoints_averaged": checkpoints,
            "settings": {**settings, "seed": args.seed if drew else None,
                         "n_examples": int(x.shape[0]), "n_normal": int((~is_anomaly).sum()),
                         "n_anomalous": int(is_anomaly.sum())},
            "metrics": metrics, "per_image": str(paths[1])})
    return 0


COMMAND = Command(
    "anomaly", "anomaly detection: score the test images of a run trained with "
               "data.holdout_class, or against another dataset (AUPRC, AUROC)",
    add_arguments, run,
    description="Score the test split of a run trained without one class (data.holdout_class; "
                "data.holdout_split=zenati for the published MNIST split), or its test split "
                "against another dataset's (--against), and report AUPRC (auc(recall, "
                "precision) and average precision), AUROC and the chance AUPRC; each image's "
                "score and label go to anomaly_scores.npz (docs/tasks.md).")
