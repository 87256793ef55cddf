"""FD-classifier: a Fréchet distance in the feature space of a classifier trained on the same data.

Not FID: Inception weights cannot be downloaded here, so the feature network is a small CNN
trained by a fixed, versioned recipe (:data:`RECIPE`) on the dataset's own training split with its
labels. Features are the penultimate layer (``feature_dim`` ReLU units). The distance is

    FD = ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^{1/2})

between Gaussian fits (mean, covariance) of the features of two image sets; units: squared
feature distance. Numbers are comparable only between runs with the same recipe and the same
training data (the cache file name carries both).

Weights are cached under ``$LAE_CACHE_DIR/fd`` (default ``~/.cache/lae/fd``) in a file named by
the recipe version and a sha256 of the recipe fields, the training images and their labels, so a
second call loads instead of training.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lae.data.processing import content_digest
from lae.errors import DataError
from lae.eval.registry import NotApplicable
from lae.samplers import seeded_global_rng


@dataclass(frozen=True)
class FDRecipe:
    """Everything that defines the feature network; change ``version`` with any change here."""

    version: str = "fdclf-v1"
    width: int = 32  # channels of the first conv; then 2x, 2x
    feature_dim: int = 128  # penultimate layer: the FD feature space
    epochs: int = 3  # at least; more when needed to reach min_steps
    min_steps: int = 1500  # optimiser steps at least (small datasets get more epochs)
    batch_size: int = 128
    lr: float = 1e-3  # Adam, betas (0.9, 0.999), no weight decay
    seed: int = 0  # initialisation and minibatch order


RECIPE = FDRecipe()


class FeatureClassifier(nn.Module):
    """conv3x3(C->w)-ReLU-maxpool2, conv3x3(w->2w)-ReLU-maxpool2, conv3x3(2w->2w)-ReLU,
    global average pool, linear(2w->F)-ReLU [features], linear(F->classes). Input on [0, 1]."""

    def __init__(self, in_channels: int, n_classes: int, recipe: FDRecipe = RECIPE) -> None:
        super().__init__()
        w = recipe.width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
            nn.Linear(2 * w, recipe.feature_dim), nn.ReLU())
        self.head = nn.Linear(recipe.feature_dim, n_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features [B, F] of images [B, C, H, W] on [0, 1]."""
        return self.body(x * 2.0 - 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def _check(x: Tensor, labels: Tensor | None) -> Tensor:
    if x.dim() != 4:
        raise DataError(f"FD-classifier needs image data [N, C, H, W]; got shape {tuple(x.shape)}")
    if labels is None:
        raise DataError("FD-classifier needs class labels for the training split; "
                        "this dataset has none")
    labels = torch.as_tensor(labels).long().cpu()
    if labels.shape != (x.shape[0],):
        raise DataError(f"FD-classifier: {x.shape[0]} images but labels of shape "
                        f"{tuple(labels.shape)}")
    return labels


def content_hash(x: Tensor, labels: Tensor, recipe: FDRecipe = RECIPE) -> str:
    """sha256 (hex) of the recipe fields, the images (dtype, shape, bytes) and the labels."""
    recipe_fields = json.dumps(dataclasses.asdict(recipe), sort_keys=True).encode()
    return content_digest(x, labels, salt=recipe_fields)


def cache_dir() -> Path:
    root = os.environ.get("LAE_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "lae") / "fd"


def train_classifier(x: Tensor, labels: Tensor, recipe: FDRecipe = RECIPE,
                     device: torch.device | str = "cpu") -> FeatureClassifier:
    """Train the recipe's classifier on images x [N, C, H, W] on [0, 1] and labels [N]."""
    labels = _check(x, labels)
    device = torch.device(device)
    with seeded_global_rng(recipe.seed):
        net = FeatureClassifier(x.shape[1], int(labels.max()) + 1, recipe).to(device)
        opt = torch.optim.Adam(net.parameters(), lr=recipe.lr)
        g = torch.Generator().manual_seed(recipe.seed)
        net.train()
        per_epoch = -(-x.shape[0] // recipe.batch_size)
        for _ in range(max(recipe.epochs, -(-recipe.min_steps // per_epoch))):
            order = torch.randperm(x.shape[0], generator=g)
            for start in range(0, x.shape[0], recipe.batch_size):
                idx = order[start:start + recipe.batch_size]
                loss = nn.functional.cross_entropy(net(x[idx].float().to(device)),
                                                   labels[idx].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return net.eval()


def load_or_train_classifier(x: Tensor, labels: Tensor, recipe: FDRecipe = RECIPE,
                             device: torch.device | str = "cpu",
                             root: Path | None = None) -> tuple[FeatureClassifier, dict[str, Any]]:
    """The recipe's classifier for this training data: loaded from the cache, else trained and
    saved. Returns (net in eval mode, info with ``recipe``, ``hash``, ``path``, ``cached``)."""
    labels = _check(x, labels)
    digest = content_hash(x, labels, recipe)
    path = (root or cache_dir()) / f"{recipe.version}-{digest[:16]}.pt"
    info = {"recipe": recipe.version, "hash": digest[:16], "path": str(path)}
    n_classes = int(labels.max()) + 1
    if path.is_file():
        blob = torch.load(path, map_location=device, weights_only=True)
        net = FeatureClassifier(x.shape[1], n_classes, recipe).to(device)
        net.load_state_dict(blob)
        return net.eval(), info | {"cached": True}
    net = train_classifier(x, labels, recipe, device)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({k: v.cpu() for k, v in net.state_dict().items()}, tmp)
    os.replace(tmp, path)  # atomic: a concurrent reader sees the whole file or none
    return net, info | {"cached": False}


@torch.no_grad()
def classifier_features(net: FeatureClassifier, x: Tensor, batch_size: int = 500) -> np.ndarray:
    """Features [N, F] (float64) of images x on [0, 1]."""
    device = next(net.parameters()).device
    out = [net.features(x[i:i + batch_size].float().to(device)).double().cpu()
           for i in range(0, x.shape[0], batch_size)]
    return torch.cat(out).numpy()


@torch.no_grad()
def classifier_accuracy(net: FeatureClassifier, x: Tensor, labels: Tensor,
                        batch_size: int = 500) -> float:
    device = next(net.parameters()).device
    correct = sum(int((net(x[i:i + batch_size].float().to(device)).argmax(1).cpu()
                       == labels[i:i + batch_size].cpu()).sum())
                  for i in range(0, x.shape[0], batch_size))
    return correct / x.shape[0]


def gaussian_fit(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [F] and covariance [F, F] (ddof 1) of features [N, F]."""
    f = np.asarray(features, dtype=np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((s + s.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T


def frechet_distance(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray,
                     cov_b: np.ndarray) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu_a, cov_a) and N(mu_b, cov_b).

    tr((S_a S_b)^{1/2}) is computed as the sum of square roots of the eigenvalues of the symmetric
    PSD matrix S_a^{1/2} S_b S_a^{1/2} (same spectrum as S_a S_b), so no complex parts arise;
    tiny negative eigenvalues from round-off are clipped to 0.
    """
    root_a = _sqrt_psd(cov_a)
    m = root_a @ cov_b @ root_a
    eig = np.linalg.eigvalsh((m + m.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(eig, 0.0, None)).sum())
    diff = np.asarray(mu_a) - np.asarray(mu_b)
    fd = float(diff @ diff + np.trace(cov_a) + np.trace(cov_b) - 2.0 * tr_sqrt)
    return max(fd, 0.0)


def bootstrap_stderr(features_a: np.ndarray, features_b: np.ndarray, n_boot: int,
                     seed: int = 0) -> float:
    """Bootstrap standard error of the FD between feature sets [N_a, F] and [N_b, F].

    Rows of both sets are resampled with replacement ``n_boot`` times and the standard deviation
    of the recomputed distances is returned (nan when ``n_boot < 2``). It measures how much the
    number moves with the finite samples and test images drawn, not the classifier's own
    randomness (its weights are fixed by the recipe and the cache).
    """
    if n_boot < 2:
        return float("nan")
    rng = np.random.default_rng(seed)
    fds = []
    for _ in range(n_boot):
        ia = rng.integers(0, features_a.shape[0], features_a.shape[0])
        ib = rng.integers(0, features_b.shape[0], features_b.shape[0])
        fds.append(frechet_distance(*gaussian_fit(features_a[ia]),
                                    *gaussian_fit(features_b[ib])))
    return float(np.std(fds, ddof=1))


def fd_between(net: FeatureClassifier, x_a: Tensor, x_b: Tensor, batch_size: int = 500) -> float:
    """FD-classifier between image sets x_a and x_b (both on [0, 1])."""
    fa = classifier_features(net, x_a, batch_size)
    fb = classifier_features(net, x_b, batch_size)
    return frechet_distance(*gaussian_fit(fa), *gaussian_fit(fb))


def fd_metric(model: Any, x: Tensor, s: Any, ctx: Any) -> dict[str, Any]:
    """The ``fd`` metric (registered in lae/eval/metrics.py): ``fd_classifier`` between
    ``n`` model samples and ``n`` test images (``n = s.fd_samples`` or all of x)."""
    from lae.data import evenly_spaced

    spec = model.spec
    if not spec.is_image:
        raise NotApplicable(f"fd needs image data; this model's data has shape {spec.shape}")
    if ctx.train_x is None:
        raise NotApplicable("fd needs the training split: evaluate(..., train=(x, labels))")
    if ctx.train_labels is None:
        raise NotApplicable("fd needs class labels to train its feature classifier; "
                            "this dataset has none")
    device = next(model.parameters()).device
    net, info = load_or_train_classifier(spec.to_unit(ctx.train_x.float()), ctx.train_labels,
                                         RECIPE, device)
    n = s.fd_samples if s.fd_samples > 0 else x.shape[0]
    test = spec.to_unit(evenly_spaced(x, n).float())
    g = torch.Generator(device=device).manual_seed(s.seed)
    samples = torch.cat([spec.to_unit(model.sample(min(s.batch_size, n - i), generator=g)).cpu()
                         for i in range(0, n, s.batch_size)])
    f_test = classifier_features(net, test, s.batch_size)
    f_samples = classifier_features(net, samples, s.batch_size)
    for what, features in (("test images", f_test), ("model's samples", f_samples)):
        if not np.isfinite(features).all():  # NaN images (hidden values, a diverged model)
            raise NotApplicable(f"the classifier features of the {what} are not finite (NaN or "
                                f"inf in the images)")
    fd = frechet_distance(*gaussian_fit(f_samples), *gaussian_fit(f_test))
    stderr = bootstrap_stderr(f_samples, f_test, s.fd_bootstrap, s.seed)
    # Reference: the same statistic between training and test images (finite-sample floor).
    train_ref = spec.to_unit(evenly_spaced(ctx.train_x, test.shape[0]).float())
    fd_ref = frechet_distance(*gaussian_fit(classifier_features(net, train_ref, s.batch_size)),
                              *gaussian_fit(f_test))
    acc = None
    if ctx.test_labels is not None:
        labels = torch.as_tensor(ctx.test_labels).long()
        if labels.shape[0] == x.shape[0]:
            acc = round(classifier_accuracy(net, spec.to_unit(x.float()), labels,
                                            s.batch_size), 4)
    settings = {"units": "squared feature distance", "recipe": RECIPE.version,
                "weights": info["hash"], "feature_dim": RECIPE.feature_dim,
                "n_samples": n, "n_test_images_in_fd": int(test.shape[0]),
                "classifier_test_accuracy": acc, "fd_train_vs_test": round(fd_ref, 4),
                "stderr": f"bootstrap over samples and test images, {s.fd_bootstrap} resamples"}
    return {"fd_classifier": {"value": fd, "stderr": stderr, "n": n, "settings": settings}}
