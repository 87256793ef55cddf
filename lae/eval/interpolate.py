"""Latent interpolation grids: one row per pair of images, linear in z, decoder means as PNG.

Row i shows image a_i, the decoder means of z_t = (1 - t) z_a + t z_b for ``steps`` values of t
evenly spaced on [0, 1] (so the ends are the reconstructions), then image b_i; z from the model's
own ``encode``. Pixels are shown on [0, 1] (``spec.to_unit``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lae.eval.plots import save_image_grid
from lae.eval.registry import NotApplicable

PICTURE = "interpolations.png"  # written beside the results file


@torch.no_grad()
def interpolation_images(model: Any, x_pairs: Tensor, steps: int = 8,
                         with_originals: bool = True) -> Tensor:
    """Images [P * (steps [+ 2]), C, H, W] on [0, 1], row-major, for pairs x_pairs [P, 2, ...]."""
    if x_pairs.dim() < 3 or x_pairs.shape[1] != 2:
        raise ValueError(f"x_pairs: expected [P, 2, C, H, W], got {tuple(x_pairs.shape)}")
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    device = next(model.parameters()).device
    p = x_pairs.shape[0]
    g = torch.Generator(device=device).manual_seed(0)  # chain-based inference is random
    z = model.infer(x_pairs.flatten(0, 1).to(device), generator=g).reshape(p, 2, -1)  # [P, 2, K]
    t = torch.linspace(0, 1, steps, device=device, dtype=z.dtype)[None, :, None]  # [1, T, 1]
    zt = (1 - t) * z[:, :1] + t * z[:, 1:]  # [P, T, K]
    images = model.decode(zt.flatten(0, 1)).mean.reshape(p, steps, *x_pairs.shape[2:])
    if with_originals:
        images = torch.cat([x_pairs[:, :1].to(device).to(images.dtype), images,
                            x_pairs[:, 1:].to(device).to(images.dtype)], dim=1)
    return model.spec.to_unit(images.flatten(0, 1)).cpu()


def save_interpolations(model: Any, x_pairs: Tensor, path: Path | str, steps: int = 8,
                        with_originals: bool = True) -> Path:
    """Write the interpolation grid of pairs x_pairs [P, 2, C, H, W] (data scale) to ``path``:
    P rows of ``steps`` (+ 2 originals) images."""
    if not model.spec.is_image:
        raise ValueError(f"interpolation grids need image data; got shape {model.spec.shape}")
    images = interpolation_images(model, x_pairs, steps, with_originals)
    return save_image_grid(images, Path(path), nrow=steps + 2 * with_originals)


def pairs_from(x: Tensor, n_pairs: int) -> Tensor:
    """``n_pairs`` pairs [P, 2, ...] of evenly spaced rows of x (row 2i with row 2i + 1)."""
    n = min(2 * n_pairs, x.shape[0] - x.shape[0] % 2)
    idx = torch.arange(n) * x.shape[0] // n
    return x[idx].reshape(n // 2, 2, *x.shape[1:])


def interp_metric(model: Any, x: Tensor, s: Any, ctx: Any) -> dict[str, Any]:
    """The ``interp`` metric (registered in lae/eval/metrics.py): writes
    ``out_dir/interpolations.png``; its value is the number of rows."""

    if not model.spec.is_image:
        raise NotApplicable(f"interp needs image data; this model's data has shape "
                            f"{model.spec.shape}")
    if ctx.out_dir is None:
        raise NotApplicable("interp needs an output folder: evaluate(..., out_dir=...)")
    if x.shape[0] < 2:
        raise NotApplicable("interp needs at least 2 test examples")
    pairs = pairs_from(x, s.interp_pairs)
    if pairs.shape[0] < s.interp_pairs:  # capped by the examples at hand: said, as --n-examples
        warnings.warn(f"--interp-pairs {s.interp_pairs} is more than the {x.shape[0]} examples "
                      f"make: using all {pairs.shape[0]} pairs", stacklevel=2)
    path = save_interpolations(model, pairs, Path(ctx.out_dir) / PICTURE,
                               steps=s.interp_steps)
    rows = pairs.shape[0]
    return {"interp_grid_rows": {"value": float(rows), "stderr": 0.0, "n": rows, "settings": {
        "path": str(path), "steps": s.interp_steps, "pairs": "evenly spaced test examples",
        "inference": "infer(), decoder means, linear in z"}}}
