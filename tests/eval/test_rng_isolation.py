"""Evaluation draws from seeded random numbers and hands every global RNG back untouched: on a
GPU, forking only the CPU's stream and then calling torch.manual_seed reset the training noise
of every epoch to the evaluation seed."""

import pytest
import torch

from lae.eval.metrics import EvalSettings, evaluate
from lae.models import DataSpec, build_model
from lae.train import load_config

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA device"))]


def _states():
    return (torch.get_rng_state(),
            torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_evaluate_restores_every_global_rng(device):
    cfg = load_config("vae-toy2d", ["model.net.hidden=16"])
    model = build_model(cfg.model, DataSpec.points(2)).to(device)
    x = torch.randn(40, 2, device=device)
    torch.manual_seed(123)
    torch.randn(3, device=device)  # a training stream in the middle of its run
    before = _states()
    first = evaluate(model, x, ["elbo", "iwae"], EvalSettings(k=5, elbo_samples=2))
    after = _states()
    assert torch.equal(before[0], after[0])
    assert all(torch.equal(a, b) for a, b in zip(before[1], after[1]))
    assert len(before[1]) == len(after[1])
    # and the numbers come from the evaluation seed, not from where training was
    torch.randn(5, device=device)
    second = evaluate(model, x, ["elbo", "iwae"], EvalSettings(k=5, elbo_samples=2))
    assert first["metrics"] == second["metrics"]
