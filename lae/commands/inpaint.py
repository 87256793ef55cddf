"""``lae inpaint``: fill masked images from a trained model, scored on the missing values
(docs/tasks.md); with ``--split train``, the recovery of what ``data.mask`` hid from training."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lae.argtypes import count, nonempty_text, positive_number
from lae.commands.base import (
    Command,
    add_task_arguments,
    check_output_folder,
    load_task_run,
    note_all_examples,
    refuse_another_runs_folder,
    run_data,
    test_images,
    write_json,
    writing_results,
)
from lae.errors import ConfigError
from lae.files import refuse_existing

MAX_STEPS = 1_000_000  # each kept step's diagnostics stay in memory: more is a mistyped --steps


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lae.tasks import MASKS

    p.add_argument("run_dir", type=nonempty_text, help="a run folder written by lae train")
    p.add_argument("--mask", default=None, type=nonempty_text,
                   help=f"which values are missing: {', '.join(MASKS)} (default centre; with "
                        f"--split train, the run's data.mask)")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="test images, or the training images with the masks data.mask puts on "
                        "them: the recovery of what a run trained on corrupted data never saw "
                        "(default test)")
    p.add_argument("--steps", type=count(0, MAX_STEPS), default=100,
                   help="MALA transitions on the masked posterior (default 100; 0: the model's "
                        f"inference alone; at most {MAX_STEPS:,}, a progress bar on a terminal)")
    p.add_argument("--step-size", type=positive_number, default=None,
                   help="initial MALA step size, adapted per image (default 0.01; needs --steps "
                        "above 0)")
    add_task_arguments(p, n_examples=100,
                       out="folder for MASK.json and MASK.png (default RUN_DIR/inpaint)")


def _training_images_and_masks(run: Any, spec: str, n_examples: int):
    """For ``--split train`` (recovery): the run's training images without hidden values, and
    the masks ``spec`` puts on them (the run's own ``data.mask``, or ``--mask`` for a run trained
    on clean images: the same masks for the same data.seed), evenly spaced ``n_examples``, with
    the clean training split."""
    import copy

    from lae.data import evenly_spaced
    from lae.data.masks import training_masks

    clean_cfg = copy.deepcopy(run.config.data)
    clean_cfg.mask = ""
    train = run_data(run, clean_cfg)[0].train
    masks = training_masks(spec, tuple(train.shape[1:]), len(train), clean_cfg.seed)
    device = next(run.model.parameters()).device
    note_all_examples(n_examples, len(train), f"training images of {clean_cfg.name}")
    x, mask = evenly_spaced(train, n_examples), evenly_spaced(masks, n_examples)
    return x.to(device), mask.to(device), train


def _mean_and_stderr(values: Any) -> dict[str, Any]:
    """Mean and standard error over the images that have a value (NaN: an image with no
    missing, or no observed, value to score), and their number."""
    values = values[~values.isnan()]
    n = len(values)
    return {"value": float(values.mean()) if n else None,
            "stderr": float(values.std() / n ** 0.5) if n > 1 else None, "n": n}


def run(args: argparse.Namespace) -> int:
    import torch

    from lae.data.masks import mask_name
    from lae.tasks import inpaint, make_mask, save_inpainting_grid

    if args.step_size is not None and args.steps == 0:  # a setting nothing would read
        raise ConfigError("--step-size is the MALA chain's, and --steps 0 runs no chain")
    args.step_size = 0.01 if args.step_size is None else args.step_size
    run = load_task_run(args)
    out = Path(args.out) if args.out else run.run_dir / "inpaint"
    refuse_another_runs_folder(out, run.run_dir)
    spec = args.mask or (run.config.data.mask if args.split == "train" else "centre")
    if not spec:  # --split train on a run trained on whole images
        raise ConfigError(f"--split train: {run.run_dir} was trained on whole images; give the "
                          f"--mask whose recovery to score (e.g. the data.mask of the run to "
                          f"compare with)")
    spec = mask_name(spec)  # one spelling, one file name (pixels: .5 is pixels:0.5)
    stem = ("train-" if args.split == "train" else "") + spec.replace(":", "_")
    # the picture and the numbers describe one run: both are refused or replaced together
    refuse_existing([out / f"{stem}.json", out / f"{stem}.png"], args.overwrite)
    if args.split == "train":  # recovery of the values data.mask hides from training
        x, mask, train = _training_images_and_masks(run, spec, args.n_examples)
    else:
        x, _, train = test_images(run, args.n_examples)
        mask = make_mask(spec, tuple(x.shape[1:]), x.shape[0],
                         torch.Generator().manual_seed(args.seed)).to(x.device)
    if mask.all() or not mask.any():  # scores of nothing, or of sampling with no condition
        what = "no value" if mask.all() else "every value"
        raise ConfigError(f"--mask {spec} hides {what} of the {x.shape[0]} images chosen: "
                          f"nothing to {'fill' if mask.all() else 'condition on'}; give a mask "
                          f"that hides some values and shows others (e.g. centre)")
    check_output_folder(out)
    generator = torch.Generator(device=x.device).manual_seed(args.seed)
    result = inpaint(run.model, x, mask, steps=args.steps, step_size=args.step_size,
                     generator=generator)
    acceptance = float(result.acceptance.double().nanmean()) if args.steps else None
    warnings = []
    moved = float(result.moved.median())
    if acceptance is not None and acceptance < 0.01:  # the fill is where the chain started
        warnings.append(f"the chain accepted {acceptance:.1%} of its {args.steps} proposals at "
                        f"--step-size {args.step_size:g}: the fill is (nearly) the model's own "
                        f"inference, not a posterior sample; use a smaller --step-size")
    elif args.steps and moved < 1e-3:  # accepted, but steps too small to go anywhere
        warnings.append(f"the chains moved {moved:.1e} (median distance from the inference's "
                        f"latents) in {args.steps} steps at --step-size {args.step_size:g}: the "
                        f"fill is the model's own inference; use a larger --step-size")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    # another command may have written these, or trained the run over, meanwhile
    with writing_results(run, [out / f"{stem}.json", out / f"{stem}.png"], args.overwrite):
        picture = save_inpainting_grid(run.model, x, mask, result.filled, out / f"{stem}.png")
        mse, psnr = result.mse_missing.double().cpu(), result.psnr_missing.double().cpu()
        # the baseline: every missing value filled with the training set's mean at that position
        to_unit = run.model.spec.to_unit
        # (nanmean: a run trained with data.mask holds NaN where its training values are hidden)
        mean_fill = to_unit(train.float().nanmean(0)).expand_as(x.cpu())
        missing = (~mask.cpu()).flatten(1).double()
        err = (mean_fill - to_unit(x.cpu())).pow(2).flatten(1).double()
        baseline = (err * missing).sum(1) / missing.sum(1)
        all_err = (to_unit(result.filled.cpu()) - to_unit(x.cpu())).pow(2).flatten(1).double()
        n = x.shape[0]
        # images are scored on the [0, 1] pixel scale, points in their own units, per dimension
        image = run.model.spec.is_image
        unit = "_01" if image else "_per_dim"
        write_json(out / f"{stem}.json", {
            "run_dir": str(run.run_dir), "checkpoint": str(run.checkpoint_path), "epoch": run.epoch,
            "dataset": run.config.data.name, "mask": spec, "split": args.split,
            "trained_on_mask": run.config.data.mask or None,
            "missing_fraction": float((~mask).float().mean()),
            "settings": {"steps": args.steps, "step_size": args.step_size if args.steps else None,
                         "seed": args.seed, "n_examples": n},  # no chain ran: no step to record
            "chain_moved_median": moved if args.steps else None,
            "metrics": {
                f"mse_missing{unit}": _mean_and_stderr(mse),
                # a peak signal of 1 is the [0, 1] pixel scale's: no PSNR for points
                **({"psnr_missing_db": _mean_and_stderr(psnr)} if image else {}),
                f"mse_all{unit}": {"value": float(all_err.mean()), "n": n},
                f"mse_observed_decoder{unit}": _mean_and_stderr(result.mse_observed.double().cpu()),
                f"mean_fill_mse_missing{unit}": _mean_and_stderr(baseline),
                "mala_acceptance": acceptance},
            "warnings": warnings, "picture": str(picture) if picture else None})
    return 0


COMMAND = Command(
    "inpaint", "fill masked test images from a trained model (MSE and PSNR on the missing "
               "pixels, PNG grid)", add_arguments, run,
    description="Mask the test images, infer the latents from the observed pixels only (the "
                "model's inference, then MALA on the masked posterior) and fill the missing "
                "pixels from the decoder (docs/tasks.md).")
