"""Units follow what the numbers are: bits per dimension only where log p(x) is the log of a
probability mass (8-bit data under a discrete likelihood); a density on 8-bit data gets nats
only (its "bpd" would compare a density with masses: a Gaussian VAE on digits read 1.32 bpd
against 6.39 for the logistic one, with the worse reconstructions)."""

import pytest
import torch

from lae.eval.metrics import EvalSettings, evaluate
from lae.models import DataSpec, build_model
from lae.train import load_config

SPEC = DataSpec(shape=(1, 4, 4), value_range=(0.0, 1.0), n_bits=8, binary=False)


@pytest.mark.parametrize("likelihood,has_bpd", [("logistic", True), ("gaussian", False)])
def test_bits_per_dim_only_for_a_probability_mass(likelihood, has_bpd):
    cfg = load_config("vae-toy2d", ["model.net.hidden=8", f"model.likelihood={likelihood}",
                                    "model.likelihood_options={}"])
    model = build_model(cfg.model, SPEC)
    x = torch.randint(0, 256, (6, 1, 4, 4)).float() / 255
    out = evaluate(model, x, ["iwae", "elbo"], EvalSettings(k=3, elbo_samples=2))["metrics"]
    assert {"nll_iwae_nats", "neg_elbo_nats"} <= set(out)
    assert ("nll_iwae_bpd" in out) == has_bpd and ("neg_elbo_bpd" in out) == has_bpd
    assert model.likelihood.discrete == has_bpd
