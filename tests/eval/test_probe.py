"""Linear probe of latent codes (``probe``) and latent interpolation grids (``interp``)."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

from lae.eval.interpolate import pairs_from, save_interpolations
from lae.eval.metrics import EvalSettings, evaluate
from lae.eval.probe import probe_accuracy
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig


class CodesAreTheData(nn.Module):
    """A stand-in model whose code is the first two coordinates of x."""

    spec = DataSpec.points(5)

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def infer(self, x, generator=None):
        return x[:, :2]


def separable(n, seed):
    """Three well-separated classes in the first two coordinates, noise in the other three."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    centres = torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    x = torch.randn(n, 5, generator=g)
    x[:, :2] = 0.5 * x[:, :2] + centres[y]
    return x, y


def test_probe_accuracy_is_high_on_separable_codes_and_chance_on_noise():
    rng = np.random.default_rng(0)
    x, y = separable(300, 0)
    xt, yt = separable(150, 1)
    assert probe_accuracy(x[:, :2].numpy(), y.numpy(), xt[:, :2].numpy(), yt.numpy()).mean() > 0.97
    noise = probe_accuracy(rng.normal(size=(300, 2)), y.numpy(), rng.normal(size=(150, 2)),
                           yt.numpy()).mean()
    assert noise < 0.6


def test_probe_metric_through_evaluate():
    torch.set_num_threads(1)
    x, y = separable(300, 0)
    xt, yt = separable(150, 1)
    s = EvalSettings(probe_train=200, batch_size=64)
    out = evaluate(CodesAreTheData(), xt, ["probe"], s, train=(x, y), test_labels=yt)
    res = out["metrics"]["probe_accuracy"]
    assert res["value"] > 0.97 and res["n"] == 150
    assert res["settings"]["n_train"] == 200 and res["settings"]["C"] == 1.0
    skipped = evaluate(CodesAreTheData(), xt, ["probe"], s, train=(x, y))["skipped"]
    assert "labels" in skipped["probe"]


def image_vae():
    torch.manual_seed(0)
    spec = DataSpec(shape=(1, 8, 8), value_range=(-1.0, 1.0), n_bits=8, binary=False)
    cfg = MODELS["vae"].Config(name="vae", latent_dim=3, likelihood="gaussian",
                               net=NetConfig(hidden=16, depth=1, layernorm=False))
    return build_model(cfg, spec)


def test_interpolation_grid_png_has_one_row_per_pair(tmp_path):
    torch.set_num_threads(1)
    model = image_vae().eval()
    x = torch.rand(10, 1, 8, 8) * 2 - 1
    pairs = pairs_from(x, 3)
    assert pairs.shape == (3, 2, 1, 8, 8)
    torch.testing.assert_close(pairs[1, 0], x[3])  # rows 0, 1 | 3, 5 | 6, 8 of 10
    path = save_interpolations(model, pairs, tmp_path / "grid.png", steps=5)
    img = plt.imread(path)
    pad = 2  # lae.eval.plots.image_grid
    assert img.shape[:2] == (3 * (8 + pad) + pad, 7 * (8 + pad) + pad)  # 3 rows, 5 + 2 columns


def test_interp_metric_writes_next_to_results(tmp_path):
    model = image_vae()
    s = EvalSettings(interp_pairs=4, interp_steps=6)
    x = torch.rand(20, 1, 8, 8) * 2 - 1
    res = evaluate(model, x, ["interp"], s, out_dir=tmp_path)["metrics"]["interp_grid_rows"]
    assert res["value"] == 4 and (tmp_path / "interpolations.png").is_file()
    assert plt.imread(res["settings"]["path"]).shape[:2] == (4 * 10 + 2, 8 * 10 + 2)
    assert "output folder" in evaluate(model, x, ["interp"], s)["skipped"]["interp"]
    points = build_model(MODELS["vae"].Config(name="vae", latent_dim=2, likelihood="gaussian",
                                              net=NetConfig(hidden=8, depth=1, layernorm=False)),
                         DataSpec.points(4))
    with pytest.raises(ValueError, match="image data"):
        save_interpolations(points, torch.randn(2, 2, 4), tmp_path / "p.png")
