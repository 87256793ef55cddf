"""The data config, the loaded splits, and the raw arrays a dataset loader hands over."""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lae.argtypes import COUNT_MAX
from lae.errors import ConfigError

BINARIZE_MODES = ("none", "static", "dynamic")
SCALES = ("01", "-11")
KINDS = ("image", "points")


MAX_SEED = 2**32 - 1


def _show(value: object, limit: int = 80) -> str:
    """``repr(value)`` for an error message, shortened; an int too long to print is described."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits()
        return "<an integer too long to print>"
    return text if len(text) <= limit else text[: limit - 5] + " ...>"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_choice(key: str, value: object, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(
            f"data.{key}={_show(value)} is not valid; expected one of "
            f"{', '.join(map(repr, choices))}"
        )


@dataclass
class DataConfig:
    """Which dataset to load and how to preprocess it.

    Attributes:
        name: registry name, see :func:`lae.data.list_datasets` (e.g. ``"mnist5k"``,
            ``"fashion-mnist"``, ``"toy2d:8gaussians"``).
        data_dir: folder searched first for the dataset files, and where downloads go.
        download: fetch missing files from the official mirrors (checksums verified).
        binarize: ``"none"``, ``"static"`` (one fixed Bernoulli draw of every split) or
            ``"dynamic"`` (train kept as probabilities, resampled by the loader each batch).
        scale: ``"01"`` maps pixel k to k/255, ``"-11"`` to 2k/255 - 1. Ignored for toy2d.
        val_size: fraction (0 < f < 1) or count (>= 1) of the training split held out.
        holdout_class: label removed from train and val (kept in test), for anomaly detection.
        holdout_split: with ``holdout_class``, ``"official"`` (the dataset's own train/test
            split) or ``"zenati"`` (train and test pooled, 80 % of the normal images for training,
            the other 20 % and every held-out image for testing; lae/tasks/anomaly.py).
        mask: learning from corrupted data: a mask family of lae/data/masks.py (``patches:4:0.5``,
            ``pixels:0.7``, ``centre``, ...) hiding values of every training example (NaN in
            the training tensor, left out of the likelihood, filled for encoders); the
            validation and test splits stay whole. ``""``: none.
        noise_fraction: the background model of the likelihood-ratio anomaly score (Ren et al.
            2019): each training batch, this fraction of every image's values (exactly, at
            positions drawn afresh) replaced by uniform noise over the data's levels
            (:func:`lae.data.processing.perturb_values`); validation and test stay clean. 0: none.
        n_toy: number of training points of a toy2d dataset; its test split has n_toy // 5.
        seed: seed of the validation split, of static binarisation and of toy sampling.
        path: the file of the ``npz`` dataset (your own data); unused by the others.
    """

    name: str = "mnist5k"
    data_dir: str | None = None
    download: bool = False
    binarize: str = "none"
    scale: str = "01"
    val_size: int | float = 0.0
    holdout_class: int | None = None
    holdout_split: str = "official"
    mask: str = ""
    noise_fraction: float = 0.0
    n_toy: int = 20000
    seed: int = 0
    path: str | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid key (the name is checked on load)."""
        if not isinstance(self.name, str):
            raise ConfigError(f"data.name={_show(self.name)} is not valid; expected a dataset "
                              "name (see `lae list`)")
        for key in ("data_dir", "path"):
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"data.{key}={_show(value)} is not valid; expected a path "
                                  "(a string, not empty) or null")
        if self.data_dir is not None and Path(self.data_dir).exists() and not Path(
                self.data_dir).is_dir():
            raise ConfigError(f"data.data_dir (--data-dir) {self.data_dir} is a file; expected "
                              f"the folder that holds (or will hold) the dataset's files")
        if not isinstance(self.download, bool):
            raise ConfigError(f"data.download={_show(self.download)} is not valid; expected "
                              "true or false")
        _check_choice("binarize", self.binarize, BINARIZE_MODES)
        _check_choice("scale", self.scale, SCALES)
        if self.binarize != "none" and self.scale != "01":
            raise ConfigError(
                f"data.scale={self.scale!r} cannot be combined with data.binarize="
                f"{self.binarize!r}: binarised pixels are always 0 or 1; use scale='01'"
            )
        val = self.val_size
        if (isinstance(val, bool) or not isinstance(val, (int, float))
                or (isinstance(val, float) and not math.isfinite(val))):
            raise ConfigError(f"data.val_size={_show(val)} must be a finite number")
        if val < 0 or (val >= 1 and val != int(val)):
            raise ConfigError(
                f"data.val_size={_show(val)} must be 0, a fraction 0 < f < 1, or a whole count >= 1"
            )
        if isinstance(val, float) and val >= 1:  # 1.0 would read as a count beside 0.999
            raise ConfigError(
                f"data.val_size={_show(val)} is ambiguous: a fraction must be below 1 and a count "
                f"is written as an integer (data.val_size={int(val)} holds out {int(val)} "
                f"example{'s' if int(val) != 1 else ''})")
        held = self.holdout_class
        if held is not None and (not _is_int(held) or not -2**63 <= held < 2**63):
            raise ConfigError(f"data.holdout_class={_show(held)} is not valid; expected a class "
                              "label (an integer, as labels are stored: int64) or null")
        if self.holdout_split not in ("official", "zenati"):
            raise ConfigError(f"data.holdout_split={_show(self.holdout_split)}: expected "
                              f"'official' or 'zenati'")
        if self.mask:  # its family, fraction and patch size, known from the text alone
            from lae.data.masks import mask_name

            mask_name(self.mask)
        if self.mask and self.binarize != "none":
            raise ConfigError("data.mask cannot be combined with data.binarize: a binarised "
                              "pixel has no missing state; use data.binarize=none")
        if self.holdout_split == "zenati" and self.holdout_class is None:
            raise ConfigError("data.holdout_split=zenati needs data.holdout_class (the class "
                              "held out as the anomaly)")
        frac = self.noise_fraction
        if (isinstance(frac, bool) or not isinstance(frac, (int, float))
                or not 0 <= frac < 1):
            raise ConfigError(f"data.noise_fraction={_show(frac)} must be a number in [0, 1) "
                              "(the share of each training image's values replaced by noise)")
        if frac and self.binarize != "none":
            raise ConfigError("data.noise_fraction cannot be combined with data.binarize: "
                              "perturb the grey levels (data.binarize=none)")
        if not _is_int(self.n_toy) or not 5 <= self.n_toy <= COUNT_MAX:
            raise ConfigError(f"data.n_toy={_show(self.n_toy)} must be an int in 5..{COUNT_MAX}")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"data.seed={_show(self.seed)} must be an int in 0..{MAX_SEED}")


@dataclass
class RawData:
    """What a dataset loader returns, before validation and preprocessing.

    For ``kind="image"``: ``train`` [N, C, H, W] and ``test`` [M, C, H, W] pixel arrays with
    integer values 0..255 (uint8, or integer-valued floats, which are checked). For
    ``kind="points"``: float32 tensors [N, D] and [M, D]. Labels are integer [N] / [M] or None.
    """

    kind: str
    train: np.ndarray | torch.Tensor
    train_labels: np.ndarray | torch.Tensor | None
    test: np.ndarray | torch.Tensor
    test_labels: np.ndarray | torch.Tensor | None


@dataclass
class DataSplits:
    """A preprocessed dataset held in memory.

    Attributes:
        name: registry name.
        kind: ``"image"`` or ``"points"``.
        shape: per-example shape, (C, H, W) for images, (2,) for toy2d.
        train: float32 [N, *shape]; with ``binarize="dynamic"`` these are probabilities in [0, 1]
            and :class:`BatchLoader` (``dynamic_binarize=True``) samples them.
        train_labels: int64 [N] or None.
        val, val_labels: float32 [V, *shape] and int64 [V], or None when ``val_size=0``.
        test, test_labels: float32 [M, *shape] and int64 [M] or None.
        binarize: the binarisation mode used.
        value_range: (0, 1) or (-1, 1) for images, (-inf, inf) for points.
        n_bits: 8 for 8-bit pixels that were not binarised, else None.
        digest: sha256 (hex, 16 digits) of the loaded arrays before preprocessing (images,
            labels): a run records it, so that data changed since training is noticed.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    train: torch.Tensor
    train_labels: torch.Tensor | None
    val: torch.Tensor | None
    val_labels: torch.Tensor | None
    test: torch.Tensor
    test_labels: torch.Tensor | None
    binarize: str
    value_range: tuple[float, float]
    n_bits: int | None
    digest: str = ""

    def describe(self) -> str:
        """One line: name, split sizes, shape, value range, binarisation."""
        n_val = 0 if self.val is None else len(self.val)
        lo, hi = self.value_range
        labels = "labelled" if self.train_labels is not None else "unlabelled"
        return (
            f"{self.name}: train {len(self.train)}, val {n_val}, test {len(self.test)}, "
            f"{self.kind} shape {tuple(self.shape)}, range [{lo:g}, {hi:g}], "
            f"binarize {self.binarize}, {labels}"
        )


PATH_KEYS = ("data_dir", "path")  # the data keys that name files or folders


def absolute_path(text: str) -> str:
    """``text`` (``~`` expanded) as an absolute path against the current folder, normalised."""
    return os.path.abspath(os.path.expanduser(text))


def with_absolute_paths(cfg: DataConfig) -> DataConfig:
    """``cfg`` with ``data_dir`` and ``path`` absolute: a run's saved config then names the same
    files wherever it is resumed or scored from, and one file spelled two ways is one setting."""
    return dataclasses.replace(cfg, **{key: absolute_path(getattr(cfg, key))
                                       for key in PATH_KEYS if getattr(cfg, key)})

