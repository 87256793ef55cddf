"""Masks of missing values, shared by inpainting (lae/tasks) and training on corrupted data
(``data.mask``): bool tensors, True where a value is observed, one per example.

Families (``spec`` strings: ``data.mask`` and the ``--mask`` flag of ``lae inpaint``):

- ``centre``: the centre square of side H/2 (W/2) missing, in every channel;
- ``bottom``: the bottom half of the rows missing;
- ``pixels:P``: each pixel (all its channels) missing independently with probability P
  (``pixels:0.5``, ``pixels:0.7``, ``pixels:0.9``); for 2-D points, each coordinate;
- ``patches:S:P``: S x S patches at random positions (overlaps allowed) until at least a fraction P
  of the pixels is missing (``patches:4:0.5`` on 28 x 28, the 8 x 8 patches of 64 x 64 images
  scaled down).

Example:
    >>> import torch
    >>> m = make_mask("centre", (1, 8, 8), 2)
    >>> m.shape, int((~m[0]).sum())
    (torch.Size([2, 1, 8, 8]), 16)
"""

from __future__ import annotations

import torch
from torch import Tensor

from lae.argtypes import NumberRangeError, decimal_number
from lae.errors import ConfigError

MASKS = ("centre", "bottom", "pixels:P", "patches:S:P")


def _fraction(text: str, spec: str) -> float:
    try:
        p = decimal_number(text)  # ASCII, no underscores, a fraction float32 holds
    except NumberRangeError:
        p = None
    if p is None or not 0 < p < 1:
        raise ConfigError(f"mask {spec!r}: the missing fraction must be a number in (0, 1), got "
                          f"{text!r}")
    return p


def mask_name(spec: str) -> str:
    """The one spelling of the mask ``spec`` (``center`` -> ``centre``, ``pixels: .50`` ->
    ``pixels:0.5``): what names the files a mask's results go to. Its fraction and patch size
    are checked here; whether the family fits the examples, by :func:`make_mask`.

    Example:
        >>> mask_name("pixels: .50"), mask_name("patches:4:5e-1"), mask_name("center")
        ('pixels:0.5', 'patches:4:0.5', 'centre')
    """
    kind, *args = spec.strip().split(":")
    if kind in ("centre", "center", "bottom") and not args:
        return "centre" if kind == "center" else kind
    if kind == "pixels" and len(args) == 1:
        return f"pixels:{_fraction(args[0], spec):g}"
    if kind == "patches" and len(args) == 2:
        size = args[0].strip()
        if not (size.isascii() and size.isdigit()) or int(size) < 1:
            raise ConfigError(f"mask {spec!r}: the patch size must be a whole number >= 1, got "
                              f"{args[0]!r}")
        return f"patches:{int(size)}:{_fraction(args[1], spec):g}"
    raise ConfigError(f"unknown mask {spec!r}; choices: {', '.join(MASKS)} (e.g. pixels:0.7, "
                      f"patches:4:0.5)")


def make_mask(spec: str, shape: tuple[int, ...], n: int,
              generator: torch.Generator | None = None) -> Tensor:
    """``n`` masks of the family ``spec`` for examples of ``shape`` ((C, H, W) or (D,)):
    bool [n, *shape], True where observed. Random families draw from ``generator``."""
    kind, *args = spec.split(":")
    image = len(shape) == 3
    if kind in ("centre", "center", "bottom", "patches") and not image:
        raise ConfigError(f"mask {spec!r} needs images (C, H, W); these examples have shape "
                          f"{tuple(shape)}: use pixels:P")
    observed = torch.ones(n, *shape, dtype=torch.bool)
    if kind in ("centre", "center") and not args:
        _, h, w = shape
        observed[:, :, h // 4:h // 4 + h // 2, w // 4:w // 4 + w // 2] = False
    elif kind == "bottom" and not args:
        observed[:, :, shape[1] // 2:, :] = False
    elif kind == "pixels" and len(args) == 1:
        p = _fraction(args[0], spec)
        grid = shape[1:] if image else shape  # a pixel is missing in all its channels
        missing = torch.rand(n, *grid, generator=generator) < p
        observed &= ~(missing.unsqueeze(1) if image else missing)
    elif kind == "patches" and len(args) == 2:
        digits = args[0].isascii() and args[0].isdigit()  # not the full-width ２
        size, p = int(args[0]) if digits else 0, _fraction(args[1], spec)
        _, h, w = shape
        if not 1 <= size <= min(h, w):
            raise ConfigError(f"mask {spec!r}: the patch size must be a whole number in "
                              f"1..{min(h, w)}")
        for i in range(n):
            while (~observed[i, 0]).float().mean() < p:
                top = int(torch.randint(0, h - size + 1, (), generator=generator))
                left = int(torch.randint(0, w - size + 1, (), generator=generator))
                observed[i, :, top:top + size, left:left + size] = False
    else:
        raise ConfigError(f"unknown mask {spec!r}; choices: {', '.join(MASKS)} (e.g. pixels:0.7, "
                          f"patches:4:0.5)")
    return observed


# the training images' masks are drawn from this seed offset of data.seed, so the loader (which
# hides the values) and ``lae inpaint --split train`` (which scores their recovery, for a run
# trained on them or on the clean images) draw the same masks
MASK_SEED_OFFSET = 2


def training_masks(spec: str, shape: tuple[int, ...], n: int, data_seed: int) -> Tensor:
    """The masks ``data.mask=spec`` puts on the ``n`` training examples: bool [n, *shape]."""
    return make_mask(spec, shape, n, torch.Generator().manual_seed(data_seed + MASK_SEED_OFFSET))
