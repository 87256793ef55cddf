"""Pictures of a run: image grids, 2-D scatter plots and loss curves, written as PNG."""

from __future__ import annotations

import io
import json
import math
import re
import warnings
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # no screen here; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import Tensor  # noqa: E402

from lae.argtypes import COUNT_MAX, STEP_MAX  # noqa: E402
from lae.errors import RunDirError  # noqa: E402
from lae.eval.keys import bits_per_dim_problems, value_range  # noqa: E402
from lae.files import atomic_write, is_finite_number, is_whole_number  # noqa: E402

if TYPE_CHECKING:
    from lae.models import LatentModel


def image_grid(images: Tensor, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """Tile images [N, C, H, W] with values in [0, 1] into one array [H', W', C] (C = 1 or 3)."""
    n, c, h, w = images.shape
    nrow = nrow or max(1, math.ceil(math.sqrt(n)))
    ncol = math.ceil(n / nrow)
    grid = torch.ones(c, ncol * (h + pad) + pad, nrow * (w + pad) + pad)
    for i, img in enumerate(images.detach().float().clamp(0, 1).cpu()):
        r, col = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        grid[:, top:top + h, left:left + w] = img
    return grid.permute(1, 2, 0).numpy()


def write_picture(path: Path, render: Callable[..., Any], **kwargs: Any) -> Path:
    """``render(file, format=..., **kwargs)`` (``plt.imsave``, ``fig.savefig``) into memory,
    then the bytes to ``path`` atomically: a full disk or a kill leaves the old picture or none,
    never a truncated one that a report would show (the format from the suffix, PNG without)."""
    buffer = io.BytesIO()
    render(buffer, format=path.suffix.lstrip(".").lower() or "png", **kwargs)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()))
    return path


def save_image_grid(images: Tensor, path: Path, nrow: int | None = None) -> Path:
    """Write images [N, C, H, W] in [0, 1] as one PNG grid."""
    arr = image_grid(images, nrow)
    if arr.shape[-1] == 1:
        return write_picture(path, plt.imsave, arr=arr[..., 0], cmap="gray", vmin=0.0,
                             vmax=1.0)
    return write_picture(path, plt.imsave, arr=arr)


def save_points(samples: Tensor, path: Path, reference: Tensor | None = None,
                title: str = "") -> Path:
    """Scatter plot of 2-D points [N, 2], with data points [M, 2] behind them when given."""
    fig, ax = plt.subplots(figsize=(4, 4))
    if reference is not None:
        ref = reference.detach().cpu().numpy()
        ax.scatter(ref[:, 0], ref[:, 1], s=2, alpha=0.3, c="0.6", label="data")
    pts = samples.detach().cpu().numpy()
    ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.6, c="C0", label="model")
    ax.set_aspect("equal")
    ax.legend(loc="upper right", fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    write_picture(path, fig.savefig, dpi=120)
    plt.close(fig)
    return path


# the records lae train writes: a logged training step, an epoch's scores on the test and
# validation splits, and a warning (a stalled chain)
RECORD_SPLITS = ("train", "test", "val", "warning")


# what a test or validation record holds besides its metrics (lae.train.trainer), and the
# counts its estimate names
SCORE_FIELDS = ("split", "epoch", "step", "train_seconds", "estimate", "stopping_key",
                "best_epoch")
ESTIMATE_COUNTS = ("n_examples", "k", "ais_chains", "ais_temps")


def read_metrics(path: Path) -> list[dict]:
    """Records of a ``metrics.jsonl`` file (one JSON object per line).

    A last line that is not valid JSON was torn by a crash mid-write: it is left out with a
    warning (``lae train --resume`` then rewrites the file without it). A damaged line anywhere
    else is an error that names the file and line.
    """
    if not path.is_file():
        return []
    lines = path.read_text(errors="replace").splitlines()
    records = []
    last_line, seconds = 0, -math.inf  # the last record's line; the latest train_seconds
    seen: dict[tuple[Any, Any], int] = {}  # (split, step) of each record: its line
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            if number == len(lines):
                # issued here (stacklevel 1): shown once per file, however many readers it has
                warnings.warn(f"{path}: its last line (line {number}) is incomplete, as after a "
                              "crash mid-write; it is left out", stacklevel=1)
                break
            raise RunDirError(f"{path}, line {number}: not a JSON record ({exc})") from None
        # what every reader sorts and cuts the records by (a resume drops those after its
        # checkpoint's step): an edit there is named, not met as a KeyError or a wrong cut
        wrong = [f"{key} {record.get(key)!r} (expected {expected})" for key, ok, expected in (
            ("split", record.get("split") in RECORD_SPLITS, f"one of {', '.join(RECORD_SPLITS)}"),
            ("epoch", is_whole_number(record.get("epoch"), 1, COUNT_MAX),
             f"a whole number in 1..{COUNT_MAX}"),
            ("step", is_whole_number(record.get("step"), 1, STEP_MAX),
             "a whole number in 1..2^53")) if not ok]
        # lae logs finite numbers only (a non-finite one stops training as divergence), each
        # in its range (a squared error is not negative), and one record per split and step
        for key, value in record.items():
            low, high = value_range(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and not is_finite_number(value, low, high):
                wrong.append(f"{key} {value!r} (expected a finite number" + (
                    f" in {low:g}..{high:g})" if (low, high) != (-math.inf, math.inf) else ")"))
        wrong += [f"{problem} (expected bits per dimension of the nats)"
                  for problem in bits_per_dim_problems(record)]
        estimate = record.get("estimate", {})  # what a score was estimated with: counts
        if not isinstance(estimate, dict) or not all(
                k in ESTIMATE_COUNTS and is_whole_number(v, 1, COUNT_MAX)
                for k, v in estimate.items()):
            wrong.append(f"estimate {estimate!r} (expected counts among "
                         f"{', '.join(ESTIMATE_COUNTS)}, each a whole number in 1..{COUNT_MAX})")
        scored = (record.get("split"), record.get("step"))
        if record.get("split") in ("train", "test", "val") and scored in seen:
            wrong.append(f"a second {scored[0]} record of step {scored[1]} (line {seen[scored]})")
        seen.setdefault(scored, number)
        # lae appends records as training goes: epochs and steps never go back
        last = records[-1] if records else {"epoch": 0, "step": 0}
        if not wrong and (record["epoch"] < last["epoch"] or record["step"] < last["step"]
                          or record.get("train_seconds", math.inf) < seconds):
            wrong.append(f"epoch {record['epoch']} step {record['step']} after line "
                         f"{last_line}'s record of epoch {last['epoch']} step {last['step']} "
                         f"(records are written in the order of training, and their "
                         f"train_seconds never go back): one of the two lines was edited")
        if wrong:
            raise RunDirError(f"{path}, line {number}: {'; '.join(wrong)}: not as lae train "
                              f"writes it, so the file was edited; restore the line or remove "
                              f"it") from None
        records.append(record)
        last_line, seconds = number, record.get("train_seconds", seconds)
    return records


# a chain's learned step size at one of its steps (and layer): t05/step_size, t05/layer2/step_size
PER_CHAIN_STEP = re.compile(r"^t(\d+)/(?:layer(\d+)/)?step_size$")


NOT_PLOTTED = ("step", "epoch", "time_s", "images_per_s", "train_seconds")  # axes, not series


def save_loss_curves(metrics_path: Path, out_path: Path) -> Path | None:
    """Plot every numeric train and eval series of ``metrics.jsonl`` against the step (the
    per-chain-step step sizes go to :func:`save_step_size_profile` instead)."""
    series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for rec in read_metrics(metrics_path):
        for key, value in rec.items():
            if key in NOT_PLOTTED or not isinstance(value, (int, float)) or PER_CHAIN_STEP.match(
                    key):
                continue
            series[f"{rec.get('split', 'train')}/{key}"].append((rec["step"], float(value)))
    if not series:
        return None
    keys = sorted(series)
    ncols = min(3, len(keys))
    nrows = math.ceil(len(keys) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 2.8 * nrows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        steps, values = zip(*series[key])
        ax.plot(steps, values, marker="." if len(steps) < 50 else None)
        if min(values) > 0 and max(values) / min(values) > 1e3:  # e.g. gram_condition, step_size
            ax.set_yscale("log")
        ax.set_title(key, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_picture(out_path, fig.savefig, dpi=100)
    plt.close(fig)
    return out_path


# per-epoch test keys that can put runs on one axis, best first: AIS scores every model through
# its prior and decoder alone; IWAE depends on each model's proposal (the LAE's is hand-set)
COMPARABLE_NLL_KEYS = ("nll_ais_bpd", "nll_ais_nats", "nll_iwae_bpd", "nll_iwae_nats")


def save_nll_comparison(runs: dict[str, Path], out_path: Path) -> str | None:
    """Test NLL of several runs on shared axes, against the epoch and against the training
    wall-clock (``train_seconds`` of the per-epoch test records): ``runs`` maps a label to a
    run folder. The key is the first of :data:`COMPARABLE_NLL_KEYS` that every run logged;
    returns it (None, and no figure, when the runs share none)."""
    tests = {label: [r for r in read_metrics(run / "metrics.jsonl") if r.get("split") == "test"]
             for label, run in runs.items()}
    key = next((k for k in COMPARABLE_NLL_KEYS
                if all(any(k in r for r in recs) for recs in tests.values())), None)
    if key is None:
        return None
    fig, (by_epoch, by_time) = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for label, recs in tests.items():
        recs = [r for r in recs if isinstance(r.get(key), (int, float))]
        by_epoch.plot([r["epoch"] for r in recs], [r[key] for r in recs], marker=".",
                      label=label)
        timed = [r for r in recs if "train_seconds" in r]
        by_time.plot([r["train_seconds"] for r in timed], [r[key] for r in timed], marker=".",
                     label=label)
    unit = "bits/dim" if key.endswith("_bpd") else "nats per example"
    by_epoch.set_ylabel(f"test {key} ({unit}, lower is better)", fontsize=8)
    by_epoch.set_xlabel("epoch")
    by_time.set_xlabel("training wall-clock (s, evaluation excluded)")
    by_epoch.legend(fontsize=8)
    for ax in (by_epoch, by_time):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_picture(out_path, fig.savefig, dpi=100)
    plt.close(fig)
    return key


def save_step_size_profile(metrics_path: Path, out_path: Path) -> Path | None:
    """Plot learned step sizes against the chain's step (keys ``t<step>[/layer<l>]/step_size``
    of short-run models with ``per_step``): one line per epoch (its last training record) and
    latent layer. None when the run logs no such keys."""
    last: dict[int, dict[str, float]] = {}
    for rec in read_metrics(metrics_path):
        if rec.get("split") == "train" and any(PER_CHAIN_STEP.match(k) for k in rec):
            last[rec["epoch"]] = rec
    if not last:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.2))
    colours = plt.cm.viridis(np.linspace(0, 1, len(last)))
    for colour, (epoch, rec) in zip(colours, sorted(last.items())):
        lines: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for key, value in rec.items():
            if m := PER_CHAIN_STEP.match(key):
                lines[m.group(2) or ""].append((int(m.group(1)), float(value)))
        for layer, (style, points) in zip(lines, zip(("-", "--", ":", "-."), lines.values())):
            steps, values = zip(*sorted(points))
            label = f"epoch {epoch}" + (f", layer {layer}" if layer else "")
            ax.plot(steps, values, style, color=colour, marker=".", label=label)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("chain step t", fontsize=8)
    ax.set_ylabel("learned step size eta_t", fontsize=8)
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_picture(out_path, fig.savefig, dpi=100)
    plt.close(fig)
    return out_path


def save_model_samples(model: LatentModel, n: int, path: Path, seed: int = 0,
                       reference: Tensor | None = None) -> Path:
    """Decoder means for n prior samples (a fixed seed, so epochs are comparable), as a PNG:
    an image grid for image data, a scatter plot over ``reference`` points for 2-D data."""
    generator = torch.Generator(device=next(model.parameters()).device).manual_seed(seed)
    x = model.sample(n, generator=generator)
    if model.spec.is_image:
        return save_image_grid(model.spec.to_unit(x), path)
    return save_points(x, path, reference=reference, title=f"{n} samples")


def save_reconstructions(model: LatentModel, x: Tensor, path: Path) -> Path | None:
    """Rows of data and their reconstructions (image data only): odd rows data, even rows model."""
    if not model.spec.is_image:
        return None
    recon = model.reconstruct(x)
    n = x.shape[0]
    nrow = min(n, 8)
    rows = []
    for start in range(0, n, nrow):
        rows += [x[start:start + nrow], recon[start:start + nrow]]
    return save_image_grid(model.spec.to_unit(torch.cat(rows)).cpu(), path, nrow=nrow)
