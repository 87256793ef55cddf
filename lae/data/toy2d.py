"""Two-dimensional toy densities (``toy2d:<variant>``), sampled with a seeded numpy generator.

The shapes follow the usual flow / EBM benchmarks (FFJORD, Grathwohl et al. 2019). Every
variant is centred and divided by the training sample's standard deviation, so all have roughly
unit variance; the test split uses the same affine map.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from lae.data.config import DataConfig, RawData
from lae.data.registry import register_dataset

Sampler = Callable[[np.random.Generator, int], np.ndarray]  # (rng, n) -> float [n, 2]


def _eight_gaussians(rng: np.random.Generator, n: int) -> np.ndarray:
    angles = 2 * np.pi * rng.integers(0, 8, n) / 8
    centers = np.stack([np.cos(angles), np.sin(angles)], axis=1) * 2.0
    return centers + 0.2 * rng.standard_normal((n, 2))


def _rings(rng: np.random.Generator, n: int) -> np.ndarray:
    radius = rng.integers(1, 5, n).astype(float)  # four concentric rings, radii 1..4
    angle = rng.uniform(0, 2 * np.pi, n)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return points + 0.08 * rng.standard_normal((n, 2))


def _moons(rng: np.random.Generator, n: int) -> np.ndarray:
    upper = rng.random(n) < 0.5
    t = rng.uniform(0, np.pi, n)
    x = np.where(upper, np.cos(t), 1 - np.cos(t))
    y = np.where(upper, np.sin(t), 0.5 - np.sin(t))
    return np.stack([x, y], axis=1) + 0.05 * rng.standard_normal((n, 2))


def _checkerboard(rng: np.random.Generator, n: int) -> np.ndarray:
    x1 = rng.uniform(-2, 2, n)
    x2 = rng.uniform(0, 1, n) - 2 * rng.integers(0, 2, n) + np.floor(x1) % 2
    return np.stack([x1, x2], axis=1)


def _swissroll(rng: np.random.Generator, n: int) -> np.ndarray:
    t = 1.5 * np.pi * (1 + 2 * rng.random(n))
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)
    return points + 0.5 * rng.standard_normal((n, 2))


def _two_spirals(rng: np.random.Generator, n: int) -> np.ndarray:
    t = np.sqrt(rng.random(n)) * 540 * (2 * np.pi) / 360
    arm = np.stack([-np.cos(t) * t, np.sin(t) * t], axis=1) + 0.5 * rng.random((n, 2))
    sign = np.where(rng.random(n) < 0.5, 1.0, -1.0)  # per point, so rows stay i.i.d.
    return sign[:, None] * arm + 0.1 * rng.standard_normal((n, 2))


def _pinwheel(rng: np.random.Generator, n: int) -> np.ndarray:
    n_arms, radial_std, tangential_std, rate = 5, 0.3, 0.1, 0.25
    arm = rng.integers(0, n_arms, n)
    features = rng.standard_normal((n, 2)) * np.array([radial_std, tangential_std])
    features[:, 0] += 1.0
    angle = 2 * np.pi * arm / n_arms + rate * np.exp(features[:, 0])
    rotations = np.stack(
        [np.cos(angle), -np.sin(angle), np.sin(angle), np.cos(angle)], axis=1
    ).reshape(n, 2, 2)
    return np.einsum("ni,nij->nj", features, rotations)


TOY_VARIANTS: dict[str, tuple[str, Sampler]] = {
    "8gaussians": ("mixture of 8 Gaussians on a circle", _eight_gaussians),
    "rings": ("4 concentric noisy rings", _rings),
    "moons": ("two interleaved half-moons", _moons),
    "checkerboard": ("uniform on the dark squares of a 4x4 checkerboard", _checkerboard),
    "swissroll": ("2-D swiss roll spiral", _swissroll),
    "2spirals": ("two interleaved spirals", _two_spirals),
    "pinwheel": ("5-armed pinwheel", _pinwheel),
}


def sample_toy(sampler: Sampler, n_train: int, n_test: int, seed: int) -> RawData:
    """Train [n_train, 2] and test [n_test, 2] float32 points, standardised by train statistics."""
    points = sampler(np.random.default_rng(seed), n_train + n_test)
    train, test = points[:n_train], points[n_train:]
    mean, std = train.mean(axis=0), train.std()
    as_tensor = partial(torch.as_tensor, dtype=torch.float32)
    return RawData(
        "points", as_tensor((train - mean) / std), None, as_tensor((test - mean) / std), None
    )


def _load_toy(cfg: DataConfig, sampler: Sampler) -> RawData:
    return sample_toy(sampler, cfg.n_toy, cfg.n_toy // 5, cfg.seed)


for _variant, (_description, _sampler) in TOY_VARIANTS.items():
    register_dataset(f"toy2d:{_variant}", f"2-D toy: {_description}, n_toy points, no labels")(
        partial(_load_toy, sampler=_sampler)
    )
