"""train.compile: the compiled log p(x, z) gives the eager results within float rounding."""

from __future__ import annotations

import copy

import pytest
import torch

from lae.errors import ConfigError
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig
from lae.train.config import TrainConfig


@pytest.fixture(autouse=True)
def fresh_compile_caches():
    # every test compiles the same functions (LatentModel.log_joint) for new instances and
    # shapes; past torch._dynamo's recompile limit it would fall back to eager without a word,
    # and the test would no longer test compiled code
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("mala_steps", [0, 2])
def test_a_compiled_lae_step_matches_the_eager_one(mala_steps):
    """One LAE training step (ALD transitions, MH tests, MALA refinement) from the same state
    with the same generator seed, eager and with ``compile_log_joint``: losses, metrics and
    gradients agree to 1e-4 relative. Tolerance: float32, with inductor free to fuse and
    reorder the likelihood's sums (measured differences are ~1e-6 relative); an MH decision
    that flipped between the two would change the losses by far more than that."""
    torch.manual_seed(0)
    cfg = MODELS["lae"].Config(name="lae", latent_dim=2, net=NetConfig(hidden=16, depth=1),
                               mala_steps=mala_steps, step_size=1e-3)
    eager = build_model(cfg, DataSpec.points(3))
    compiled = copy.deepcopy(eager)
    compiled.compile_log_joint()
    x = torch.randn(8, 3)
    outs = []
    for model in (eager, compiled):
        out = model.training_step(x, generator=torch.Generator().manual_seed(1))
        grads = {name: torch.autograd.grad(loss, [p for p in model.parameters()
                                                  if p.requires_grad],
                                           retain_graph=True, allow_unused=True)
                 for name, loss in out.losses.items()}
        outs.append((out, grads))
    (a, ga), (b, gb) = outs
    assert a.losses.keys() == b.losses.keys()
    for name in a.losses:
        assert torch.allclose(a.losses[name], b.losses[name], rtol=1e-4), name
        for u, v in zip(ga[name], gb[name]):
            assert (u is None) == (v is None)
            if u is not None:
                assert torch.allclose(u, v, rtol=1e-4, atol=1e-6), name
    for key in a.metrics:
        assert torch.allclose(torch.as_tensor(a.metrics[key]),
                              torch.as_tensor(b.metrics[key]), rtol=1e-4, atol=1e-6), key
    assert torch.equal(eager.phi, compiled.phi) or torch.allclose(eager.phi, compiled.phi,
                                                                   rtol=1e-4)


def test_a_bad_compile_mode_is_an_error_naming_the_key():
    with pytest.raises(ConfigError, match="train.compile_mode='fast'.*reduce-overhead"):
        TrainConfig(compile_mode="fast")


COMPILED_CHAIN_MODELS = {
    "shortrun": {"n_steps": 4},
    "latent-ebm": {"posterior_steps": 4,
                   "prior_options": {"hidden": 8, "sample_steps": 5, "sample_step_size": 0.08}},
}


@pytest.mark.parametrize("name", COMPILED_CHAIN_MODELS)
def test_a_compiled_chain_model_step_matches_the_eager_one(name):
    """With ``compile_log_joint`` the chains' energies and gradients come from one compiled graph
    (short-run's bound differentiates through them: a compiled log p(x, z) would need a double
    backward, which torch.compile refuses; the latent EBM's prior chain runs on the prior's
    energy). One training step from the same state and generator seed: losses and parameter
    gradients equal eager to 1e-4 relative (float32 through a few Langevin steps, inductor free
    to reorder sums; measured differences are ~1e-6)."""
    torch.manual_seed(0)
    cfg = MODELS[name].Config(name=name, latent_dim=2, net=NetConfig(hidden=16, depth=2),
                              **COMPILED_CHAIN_MODELS[name])
    eager = build_model(cfg, DataSpec.points(3))
    compiled = copy.deepcopy(eager)
    compiled.compile_log_joint()
    assert compiled.chain_value_and_grad is not eager.chain_value_and_grad
    assert getattr(compiled.prior, "chain_value_and_grad",  # the EBM prior's chains too
                   compiled.chain_value_and_grad) is compiled.chain_value_and_grad
    x = torch.randn(8, 3)
    outs = []
    for model in (eager, compiled):
        out = model.training_step(x, generator=torch.Generator().manual_seed(1))
        params = [p for p in model.parameters() if p.requires_grad]
        outs.append((out.losses, torch.autograd.grad(sum(out.losses.values()), params,
                                                     allow_unused=True)))
    (la, ga), (lb, gb) = outs
    assert la.keys() == lb.keys()
    for key in la:
        assert torch.allclose(la[key], lb[key], rtol=1e-4), key
    assert sum(u is not None for u in ga) > 0
    for u, v in zip(ga, gb):
        assert (u is None) == (v is None)
        if u is not None:
            assert torch.allclose(u, v, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("name", ["lae", "hoffman", "shortrun", "latent-ebm"])
def test_the_trainer_runs_compiled_models_whose_losses_share_a_graph(tmp_path, name):
    # the trainer takes each loss group's gradients in turn with retain_graph=True, which a
    # compiled backward with donated buffers refuses (a RuntimeError at the first step of these
    # presets, discretised logistic on images, before compile_keeping_graphs); short-run also
    # differentiates through its chain's gradients
    from lae.train import Trainer, load_config
    cfg = load_config(f"{name}-mnist5k-mlp", [
        "train.compile=true", "train.epochs=1", "train.eval_size=50",
        "train.eval_ais_temps=0", "train.progress=false", "model.net.hidden=32",
        *{"shortrun": ["model.n_steps=3"],
          "latent-ebm": ["model.posterior_steps=3", "model.prior_options.sample_steps=3"]
          }.get(name, ["train.eval_k=2"])])
    summary = Trainer(cfg, tmp_path / name).fit()
    assert summary and all(v == v for v in summary.values() if isinstance(v, float))
