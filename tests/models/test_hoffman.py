"""Hoffman (2017): two disjoint objectives, gradient isolation, step-size adaptation, training."""


import pytest
import torch

from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig
from lae.train import Trainer, load_config, load_run

POINTS = DataSpec.points(6)


def hoffman(**kw):
    # No LayerNorm: on tiny batches it dominates CPU time (11 ms a call with 2 busy threads).
    net = NetConfig(hidden=16, depth=1, layernorm=False)
    cfg = MODELS["hoffman"].Config(name="hoffman", latent_dim=2, net=net, likelihood="gaussian",
                                   **kw)
    return build_model(cfg, POINTS)


def test_loss_groups_are_disjoint_and_cover_every_parameter():
    model = hoffman()
    groups = model.loss_parameters()
    dec, enc = ({id(p) for p in groups[k]} for k in ("decoder", "encoder"))
    assert dec and enc and not dec & enc
    assert dec | enc == {id(p) for p in model.parameters()}
    assert {id(p) for p in model.encoder.parameters()} == enc


def test_decoder_loss_has_no_path_to_the_encoder():
    torch.manual_seed(0)
    model = hoffman()
    losses = model.training_step(torch.randn(8, 6)).losses
    enc = list(model.encoder.parameters())
    # z_0 is detached and the chain is not differentiable: no gradient from L_dec to phi.
    assert all(g is None for g in torch.autograd.grad(losses["decoder"], enc, allow_unused=True,
                                                      retain_graph=True))
    assert all(g is not None for g in torch.autograd.grad(losses["encoder"], enc))


def test_one_encoder_pass_serves_the_chain_start_and_the_encoders_bound():
    torch.manual_seed(0)
    model = hoffman()
    calls = []
    model.encoder.features.register_forward_hook(lambda *_: calls.append(1))
    model.training_step(torch.randn(8, 6))
    assert len(calls) == 1


@pytest.mark.parametrize("sampler", ["mala", "hmc", "langevin"])
def test_each_sampler_gives_finite_losses_and_metrics(sampler):
    torch.manual_seed(0)
    model = hoffman(sampler=sampler, n_leapfrog=2)
    out = model.training_step(torch.randn(8, 6))
    assert all(torch.isfinite(v) and v.shape == () for v in out.losses.values())
    chain = out.chains[""]
    assert 0 <= chain.acceptance <= 1 and chain.step_size > 0
    assert model.encode(torch.randn(3, 6)).shape == (3, 2)
    if sampler == "langevin":  # no MH test, nothing to adapt to
        assert chain.acceptance == 1 and chain.step_size == 0.01 and chain.rule == "fixed"
    else:
        assert chain.rule == "adapted"


def test_step_size_adapts_toward_the_target_and_is_checkpointed():
    torch.manual_seed(0)
    model = hoffman(step_size=10.0, adapt_gain=0.5)  # far too large: MALA rejects nearly all
    x = torch.randn(32, 6)
    sizes = [model.training_step(x).chains[""].step_size.item() for _ in range(10)]
    assert sizes[-1] < sizes[0] / 5
    assert "log_step_size" in model.state_dict()
    fresh = hoffman()
    fresh.load_state_dict(model.state_dict())
    assert fresh.log_step_size.exp().item() == pytest.approx(sizes[-1], rel=1e-6)


def test_training_decreases_both_losses(linear_gaussian_data):
    # Two Adams on disjoint groups, as the trainer does; 60 steps on linear-Gaussian points.
    # Tolerance: the mean of the last 10 steps at least 1 nat below the first 10, per loss.
    torch.manual_seed(0)
    x = linear_gaussian_data(512, dtype=torch.float32)[1]
    model = hoffman()
    groups = model.loss_parameters()
    opts = {k: torch.optim.Adam(v, lr=1e-2) for k, v in groups.items()}
    history = {k: [] for k in groups}
    for _ in range(60):
        losses = model.training_step(x[torch.randint(0, len(x), (32,))]).losses
        for name, loss in losses.items():
            grads = torch.autograd.grad(loss, groups[name], retain_graph=True, allow_unused=True)
            for p, g in zip(groups[name], grads):
                p.grad = g
            history[name].append(loss.item())
        for opt in opts.values():
            opt.step()
    for name, h in history.items():
        first, last = sum(h[:10]) / 10, sum(h[-10:]) / 10
        assert last < first - 1.0, (name, first, last)


def test_trainer_end_to_end_updates_each_group_from_its_own_loss(tmp_path, fast_overrides):
    cfg = load_config("vae-toy2d", fast_overrides + [
        "model.name=hoffman", "train.epochs=1", "model.n_steps=2", "model.net.layernorm=false"])
    trainer = Trainer(cfg, tmp_path / "run")
    x = trainer.splits.train[:50].to(trainer.device)  # where the trainer put the model
    torch.manual_seed(1)
    losses = trainer.model.training_step(x).losses
    groups = trainer.model.loss_parameters()
    expected = {k: torch.autograd.grad(losses[k], groups[k], retain_graph=True, allow_unused=True)
                for k in groups}
    dec = groups["decoder"]
    elbo_grads = torch.autograd.grad(losses["encoder"], dec, retain_graph=True, allow_unused=True)
    trainer._apply(losses)
    for name, params in groups.items():
        for p, g in zip(params, expected[name]):
            assert (p.grad is None and g is None) or torch.allclose(p.grad, g)
    # The decoder's gradient is L_dec's alone, although L_enc (the ELBO) also depends on theta.
    assert any(g is not None and not torch.allclose(g, p.grad) for g, p in zip(elbo_grads, dec))
    summary = Trainer(cfg, tmp_path / "run", overwrite=True).fit()
    assert {"neg_elbo_nats", "nll_iwae_nats", "mse_per_dim"} <= set(summary)
    assert load_run(tmp_path / "run").model.log_step_size.shape == ()
