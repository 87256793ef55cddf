"""FD-classifier: the Fréchet distance, the cached feature classifier and the ``fd`` metric."""

import dataclasses

import numpy as np
import pytest
import torch

from lae.errors import DataError
from lae.eval import fd
from lae.eval.metrics import EvalSettings, evaluate
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig

TINY = dataclasses.replace(fd.RECIPE, width=8, feature_dim=16, epochs=2, min_steps=0,
                           batch_size=32, lr=1e-2)
IMAGES = DataSpec(shape=(1, 8, 8), value_range=(0.0, 1.0), n_bits=None, binary=False)


def blobs(n=240, seed=0):
    """Synthetic labelled 8x8 images: class c is a bright 4x4 square in quadrant c, plus noise."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = 0.1 * torch.rand(n, 1, 8, 8, generator=g)
    for c in range(4):
        r, col = divmod(c, 2)
        x[y == c, :, 4 * r:4 * r + 4, 4 * col:4 * col + 4] += 0.8
    return x.clamp(0, 1), y


def test_frechet_distance_is_zero_for_itself_and_matches_closed_form():
    rng = np.random.default_rng(0)
    f = rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    same = fd.frechet_distance(*fd.gaussian_fit(f), *fd.gaussian_fit(f))
    assert same == pytest.approx(0, abs=1e-8)
    # Diagonal covariances: ||mu_a - mu_b||^2 + sum (sqrt(a) - sqrt(b))^2.
    a, b, mu = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25]), np.array([1.0, 2.0, 0.0])
    expected = mu @ mu + ((np.sqrt(a) - np.sqrt(b)) ** 2).sum()
    assert fd.frechet_distance(mu, np.diag(a), np.zeros(3), np.diag(b)) == pytest.approx(expected)


def test_fd_grows_with_a_shift():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(2000, 8))
    other = rng.normal(size=(2000, 8))  # same distribution, independent sample
    values = [fd.frechet_distance(*fd.gaussian_fit(base), *fd.gaussian_fit(other + shift))
              for shift in (0.0, 0.5, 1.0, 2.0)]
    assert values[0] < 0.05
    assert all(a < b for a, b in zip(values, values[1:]))
    assert values[-1] == pytest.approx(8 * 4.0, rel=0.1)


def test_bootstrap_stderr_matches_the_spread_over_independent_samples():
    # FD between N(0, I) and N(delta, I) samples, |delta| = 1, n = 300 each: its spread over 300
    # independent pairs of samples is the truth the bootstrap (from one pair) must estimate.
    # Tolerance 0.7..1.4x: the bootstrap estimate itself varies by ~10% (one pair, 200 resamples).
    rng = np.random.default_rng(2)
    delta = np.array([1.0, 0.0, 0.0, 0.0])

    def pair():
        return rng.normal(size=(300, 4)), rng.normal(size=(300, 4)) + delta

    spread = np.std([fd.frechet_distance(*fd.gaussian_fit(a), *fd.gaussian_fit(b))
                     for a, b in (pair() for _ in range(300))], ddof=1)
    boot = fd.bootstrap_stderr(*pair(), n_boot=200, seed=0)
    assert 0.7 < boot / spread < 1.4
    assert np.isnan(fd.bootstrap_stderr(*pair(), n_boot=1))


def test_classifier_is_cached_by_content_and_loaded_without_training(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    x, y = blobs()
    net, info = fd.load_or_train_classifier(x, y, TINY, root=tmp_path)
    assert not info["cached"] and (tmp_path / f"fdclf-v1-{info['hash']}.pt").is_file()
    assert fd.classifier_accuracy(net, x, y) > 0.5

    def no_training(*args, **kwargs):
        raise AssertionError("trained again instead of loading the cache")

    monkeypatch.setattr(fd, "train_classifier", no_training)
    again, info2 = fd.load_or_train_classifier(x, y, TINY, root=tmp_path)
    assert info2["cached"] and info2["hash"] == info["hash"]
    np.testing.assert_allclose(fd.classifier_features(again, x), fd.classifier_features(net, x))
    # Other data or another recipe -> another file (here: would train, which is patched to fail).
    with pytest.raises(AssertionError, match="trained again"):
        fd.load_or_train_classifier(x, (y + 1) % 4, TINY, root=tmp_path)
    with pytest.raises(AssertionError, match="trained again"):
        fd.load_or_train_classifier(x, y, dataclasses.replace(TINY, epochs=TINY.epochs + 1),
                                    root=tmp_path)


def test_classifier_needs_labelled_images(tmp_path):
    x, y = blobs(20)
    with pytest.raises(DataError, match="labels"):
        fd.load_or_train_classifier(x, None, TINY, root=tmp_path)
    with pytest.raises(DataError, match="image data"):
        fd.load_or_train_classifier(x.flatten(1), y, TINY, root=tmp_path)


def _vae(spec):
    torch.manual_seed(0)
    cfg = MODELS["vae"].Config(name="vae", latent_dim=2, likelihood="gaussian",
                               net=NetConfig(hidden=16, depth=1, layernorm=False))
    return build_model(cfg, spec)


def test_fd_metric_through_evaluate(tmp_path, monkeypatch):
    torch.set_num_threads(1)
    monkeypatch.setenv("LAE_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(fd, "RECIPE", TINY)
    x, y = blobs(240)
    model = _vae(IMAGES)
    s = EvalSettings(batch_size=50, fd_samples=60)
    out = evaluate(model, x[:100], ["fd"], s, train=(x[100:], y[100:]), test_labels=y[:100])
    res = out["metrics"]["fd_classifier"]
    assert res["value"] > 0 and res["n"] == 60 and 0 < res["stderr"] < res["value"]
    st = res["settings"]
    assert st["recipe"] == "fdclf-v1" and st["n_samples"] == 60 and st["n_test_images_in_fd"] == 60
    assert 0 <= st["classifier_test_accuracy"] <= 1 and st["fd_train_vs_test"] < res["value"]
    assert len(list((tmp_path / "fd").glob("fdclf-v1-*.pt"))) == 1
    # Skipped, with the reason, without labels or training data or on non-image data.
    assert "labels" in evaluate(model, x[:50], ["fd"], s, train=(x, None))["skipped"]["fd"]
    assert "training split" in evaluate(model, x[:50], ["fd"], s)["skipped"]["fd"]
    points = _vae(DataSpec.points(6))
    skipped = evaluate(points, torch.randn(20, 6), ["fd"], s, train=(torch.randn(20, 6), y[:20]))
    assert "image data" in skipped["skipped"]["fd"]
