"""Toy experiments: npz contents, recomputed errors, metrics, ALD vs MALA, capacity collapse."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch

from lae.toy.capacity import run_capacity
from lae.toy.cli import add_toy_commands
from lae.toy.linear import SamplerSettings
from lae.toy.metrics import gaussian_w2, gaussian_w2_sq, mmd2_rbf
from lae.toy.posterior import errors_from_npz, run_posterior


def _parse(argv):
    parser = argparse.ArgumentParser()
    add_toy_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def test_cli_posterior_npz_and_recomputed_errors(tmp_path, capsys):
    npz = tmp_path / "s.npz"
    args = _parse(["toy", "posterior", "--model", "linear-gaussian", "--sampler", "mala",
                   "--n-data", "7", "--x-dim", "5", "--z-dim", "3", "--steps", "60",
                   "--warmup", "20", "--thin", "2", "--seed", "1", "--save-samples", str(npz)])
    assert args.toy_func(args) == 0
    assert "mean error" in capsys.readouterr().out
    d = np.load(npz)
    assert d["samples"].shape == (30, 7, 3)
    assert d["x"].shape == (7, 5) and d["W"].shape == (5, 3) and d["b"].shape == (5,)
    assert d["sigma"].shape == () and float(d["sigma"]) == 0.5
    report = json.loads(npz.with_suffix(".json").read_text())
    errs = errors_from_npz(npz)
    for key, val in errs.items():
        np.testing.assert_allclose(val.numpy(), report["per_point"][key], rtol=1e-9)
    assert math.isclose(report["summary"]["w2_mean"], float(errs["w2"].mean()), rel_tol=1e-9)


def test_ald_and_mala_agree_with_exact_posterior(tmp_path):
    # N = 20 points, K = 2; posterior sds ~0.3. Tolerance: with ~1500 kept steps and tau <~ 15
    # (ESS >~ 100 per point) the mean error of one point is ~N(0,1)/sqrt(ESS) per coordinate, so
    # the per-point Mahalanobis error averages ~0.13 sd; 0.3 sd on the mean over points and a
    # +-15 % band on the pooled variance ratio are > 4 Monte Carlo standard errors.
    out = {}
    for name, s in {"ald": SamplerSettings("ald", steps=1500, warmup=200, preconditioned=True),
                    "mala": SamplerSettings("mala", steps=1500, warmup=200)}.items():
        out[name] = run_posterior(20, settings=s, verbose=False)["summary"]
        assert out[name]["mean_err_sd_mean"] < 0.3, (name, out[name])
        assert abs(out[name]["var_ratio_mean"] - 1) < 0.15, (name, out[name])
    assert abs(out["ald"]["w2_mean"] - out["mala"]["w2_mean"]) < 0.05


def test_w2_closed_cases():
    m, s = torch.tensor([0.3, -1.0]), torch.tensor([[1.0, 0.2], [0.2, 0.5]])
    assert float(gaussian_w2(m, s, m, s)) == pytest.approx(0.0, abs=1e-6)
    m1, m2, s1, s2 = 0.4, -0.6, 0.7, 1.9  # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    w = gaussian_w2_sq(torch.tensor([m1]), torch.tensor([[s1**2]]), torch.tensor([m2]),
                       torch.tensor([[s2**2]]))
    assert float(w) == pytest.approx((m1 - m2) ** 2 + (s1 - s2) ** 2, rel=1e-6)
    # commuting (diagonal) covariances: sum of per-coordinate 1-D terms
    w = gaussian_w2_sq(torch.zeros(2), torch.diag(torch.tensor([1.0, 4.0])), torch.ones(2),
                       torch.diag(torch.tensor([9.0, 1.0])))
    assert float(w) == pytest.approx(2 + (1 - 3) ** 2 + (2 - 1) ** 2, rel=1e-6)


def test_mmd_small_for_same_law_large_for_shift():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(400, 2, generator=g), torch.randn(400, 2, generator=g)
    same, shifted = float(mmd2_rbf(a, b)), float(mmd2_rbf(a, b + 1.0))
    assert abs(same) < 0.01 and shifted > 0.1


def test_capacity_collapse_below_rank():
    rep = run_capacity(n=16, widths=(8, 16, 32), steps=1200, warmup=200, verbose=False)
    small, equal, large = rep["results"]
    assert small["var_ratio_min"] < 0.5 and small["var_ratio_median"] < 0.75  # collapse
    for row in (equal, large):
        assert row["rank"] == 16 and 0.85 < row["var_ratio_median"] < 1.15
        assert row["var_ratio_min"] > 0.6
