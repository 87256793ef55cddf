"""``load_dataset``: registry lookup, loading, validation and preprocessing in one place."""

from __future__ import annotations

import math

import torch

# Imported for their @register_dataset side effect.
from lae.data import bundled, celeba, cifar10, idx, npz, svhn, toy2d  # noqa: F401
from lae.data.config import DataConfig, DataSplits, RawData
from lae.data.masks import training_masks
from lae.data.processing import (
    as_labels,
    as_pixels,
    content_digest,
    convert_pixels,
    drop_class,
    heldout_split,
    n_validation,
    numeric,
    split_validation,
)
from lae.data.registry import check_file_options, get_spec
from lae.errors import ConfigError, DataError


def load_dataset(cfg: DataConfig, test_only: bool = False) -> DataSplits:
    """Load ``cfg.name`` and preprocess it per ``cfg``; every tensor stays in memory.
    ``test_only``: only the test split will be read (its training split may be empty).

    Order: validate raw arrays -> drop ``holdout_class`` from train -> hold out ``val_size``
    (seeded by ``cfg.seed``) -> binarise or scale.

    Raises:
        ConfigError: unknown name or invalid option value.
        DataError: files missing or corrupt, invalid pixel values or labels.
    """
    cfg.validate()  # again: fields may have been set after construction
    check_file_options(cfg)
    raw = get_spec(cfg.name).loader(cfg)
    digest = content_digest(raw.train, raw.train_labels, raw.test, raw.test_labels)[:16]
    if raw.kind == "image":
        train = as_pixels(raw.train, f"{cfg.name} train images")
        test = as_pixels(raw.test, f"{cfg.name} test images")
    elif raw.kind == "points":
        if cfg.binarize != "none":
            raise ConfigError(
                f"data.binarize={cfg.binarize!r} is invalid for the point dataset {cfg.name}; "
                "expected 'none'"
            )
        train, test = _as_points(raw, cfg.name)
    else:
        raise ValueError(f"loader of {cfg.name} returned unknown kind {raw.kind!r}")
    for split, x in (("train", train), ("test", test)):
        if len(x) == 0 and not (test_only and split == "train"):
            source = f" (no x_{split} in {cfg.path})" if cfg.name == "npz" else ""
            raise DataError(f"{cfg.name}: the {split} split has no examples{source}; expected "
                            f"at least one")
        if x.shape[1:].numel() == 0:
            raise DataError(f"{cfg.name}: {split} examples have shape {tuple(x.shape[1:])}, "
                            "which holds no values; expected every dimension >= 1")
    train_labels = as_labels(raw.train_labels, len(train), f"{cfg.name} train labels")
    test_labels = as_labels(raw.test_labels, len(test), f"{cfg.name} test labels")
    if train.shape[1:] != test.shape[1:]:
        raise DataError(f"{cfg.name}: train examples have shape {tuple(train.shape[1:])} but "
                        f"test examples {tuple(test.shape[1:])}; expected the same")

    if cfg.holdout_split == "zenati":  # pooled, 80/20 of the normals (lae/tasks/anomaly.py)
        if train_labels is None or test_labels is None:
            raise DataError(f"data.holdout_split=zenati: {cfg.name} has no labels")
        train, train_labels, test, test_labels = heldout_split(
            torch.cat([train, test]), torch.cat([train_labels, test_labels]), cfg.holdout_class)
    elif cfg.holdout_class is not None:
        train, train_labels = drop_class(train, train_labels, cfg.holdout_class,
                                         f"{cfg.name} train labels")
    n_val = n_validation(cfg.val_size, len(train))
    train, train_labels, val, val_labels = split_validation(train, train_labels, n_val, cfg.seed)

    if raw.kind == "image":
        train = convert_pixels(train, cfg, "train")
        val = None if val is None else convert_pixels(val, cfg, "val")
        test = convert_pixels(test, cfg, "test")
        binary = cfg.binarize != "none"
        value_range = (0.0, 1.0) if binary or cfg.scale == "01" else (-1.0, 1.0)
        n_bits = None if binary else 8
    else:
        value_range, n_bits = (-math.inf, math.inf), None
    if cfg.mask:  # learning from corrupted data: hidden training values are NaN
        observed = training_masks(cfg.mask, tuple(train.shape[1:]), len(train), cfg.seed)
        if not observed.any():  # nothing left to learn from
            raise ConfigError(f"data.mask={cfg.mask!r} hides every value of the "
                              f"{tuple(train.shape[1:])} training images; choose a mask that "
                              f"shows some (smaller patches or a lower fraction)")
        if observed.all():  # the run would be recorded as trained on corrupted data
            raise ConfigError(f"data.mask={cfg.mask!r} hides no value of the "
                              f"{len(train)} training images (its fraction is too small for "
                              f"their {math.prod(train.shape[1:])} values); choose a larger "
                              f"fraction, or no mask")
        train = torch.where(observed, train.float(), torch.tensor(float("nan")))

    return DataSplits(
        name=cfg.name,
        kind=raw.kind,
        shape=tuple(train.shape[1:]),
        train=train,
        train_labels=train_labels,
        val=val,
        val_labels=val_labels,
        test=test,
        test_labels=test_labels,
        binarize=cfg.binarize,
        value_range=value_range,
        n_bits=n_bits,
        digest=digest,
    )


def _as_points(raw: RawData, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and test points as float32 [N, D], checked to be finite."""
    out = []
    for split, x in (("train", raw.train), ("test", raw.test)):
        what = f"{name} {split} points"
        t = torch.as_tensor(numeric(x, what))
        if t.dtype == torch.bool or t.is_complex():
            raise DataError(f"{what}: dtype {t.dtype}, expected real numbers")
        if t.dim() != 2:
            raise DataError(f"{what}: shape {tuple(t.shape)}, expected [N, D]")
        bad = int((~torch.isfinite(t)).sum()) if t.is_floating_point() else 0
        if bad:
            raise DataError(f"{what}: {bad} non-finite values (NaN/inf) among {t.numel()}; "
                            "expected finite numbers")
        t = t.to(torch.float32)
        overflow = int((~torch.isfinite(t)).sum())
        if overflow:
            raise DataError(f"{what}: {overflow} values exceed the float32 range (about 3.4e38)")
        out.append(t)
    return out[0], out[1]
