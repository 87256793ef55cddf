"""The short-run model: two disjoint losses, learned step sizes that tighten its Langevin bound,
and test-time chains longer than the trained ones."""

import torch

from lae.models import DataSpec
from lae.models.shortrun import ShortRun
from lae.nn import NetConfig


def _model(**kw):
    torch.manual_seed(0)
    # sigma 0.1: a posterior far narrower than the prior, so the chain has work to do
    cfg = ShortRun.Config(latent_dim=2, n_steps=5, step_size=1e-3, likelihood="gaussian",
                          likelihood_options={"sigma": 0.1},
                          net=NetConfig(hidden=32, depth=1), **kw)
    return ShortRun(cfg, DataSpec.points(3))


def test_losses_cover_every_parameter_once():
    model = _model(per_step=True)
    groups = model.loss_parameters()
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len(list(model.parameters()))
    assert model.step_sizes().shape == (5,)


def test_learning_the_steps_alone_raises_the_bound():
    # Decoder fixed: only the step sizes (and reverse kernels) move, so the bound on log p(x)
    # of this one fixed model must rise.
    model = _model()
    with torch.no_grad():  # data the decoder can explain: means at prior draws, plus noise
        x = model.decode(torch.randn(16, 2)).mean + 0.1 * torch.randn(16, 3)
    opt = torch.optim.Adam(model.loss_parameters()["steps"], lr=1e-2)

    def mean_bound():
        return torch.stack([model.bound(x)[0].detach().mean() for _ in range(64)]).mean()

    before = mean_bound()
    for _ in range(60):
        opt.zero_grad()
        model.training_step(x).losses["steps"].backward()
        opt.step()
    after = mean_bound()
    assert abs(torch.log(model.step_sizes()[0] / 1e-3)) > 0.05  # moved from its start
    # measured: -18.5 -> -7.3 nats; the mean over 64 x 16 draws varies by well under 1 nat
    assert after > before + 3, (before, after)


def test_a_held_step_stays_put_while_the_reverse_kernels_learn():
    # learn_step=False: eta is a buffer at step_size (same checkpoint key), the "steps" loss
    # trains only the reverse kernels, and with those held too the bound is only logged
    model = _model(learn_step=False)
    groups = model.loss_parameters()
    assert [p.shape for p in groups["steps"]] == [model.log_reverse.shape]
    assert "log_step" in model.state_dict() and not model.log_step.requires_grad
    x = torch.randn(16, 3)
    opt = torch.optim.Adam(groups["steps"], lr=1e-2)
    before = model.log_reverse.detach().clone()
    for _ in range(5):
        opt.zero_grad()
        model.training_step(x).losses["steps"].backward()
        opt.step()
    assert not torch.equal(model.log_reverse, before)
    torch.testing.assert_close(model.step_sizes(), torch.full((5,), 1e-3))
    frozen = _model(learn_step=False, learn_reverse=False)
    out = frozen.training_step(x)
    assert sorted(out.losses) == ["decoder"] and "steps" not in frozen.loss_parameters()
    assert torch.isfinite(out.metrics["langevin_bound_nats"])


def _langevin_by_hand(model, x, n_steps, seed):
    """z_0 ~ p(z), then n_steps of z - eta_t grad U + sqrt(2 eta_t) xi with eta_t the learned
    step (the last one repeated past the trained steps), the noise from one generator."""
    g = torch.Generator().manual_seed(seed)
    etas = model.step_sizes().detach()
    z = model.prior.sample(x.shape[0], generator=g)
    for t in range(n_steps):
        eta = etas[min(t, len(etas) - 1)]
        z = z.detach().requires_grad_(True)
        grad = torch.autograd.grad(-model.log_joint(x, z).sum(), z)[0]
        z = z - eta * grad + torch.sqrt(2 * eta) * torch.randn(z.shape, generator=g)
    return z.detach()


def test_test_time_chains_can_be_longer_than_training_ones():
    # test_steps = 12 beyond the 5 trained steps: the chain is 12 Langevin steps, the last
    # learned step size repeated, equal to the same chain written out by hand (float32 rounding)
    # and not to the 5-step one (the old shape-only check could not tell them apart).
    model = _model(test_steps=12)
    with torch.no_grad():
        model.log_step[:] = torch.linspace(-0.01, 0.01, 1)  # a step away from the start
    x = torch.randn(4, 3)
    z = model.infer(x, torch.Generator().manual_seed(3))
    torch.testing.assert_close(z, _langevin_by_hand(model, x, 12, seed=3), rtol=1e-4,
                               atol=1e-5)
    assert not torch.allclose(z, _langevin_by_hand(model, x, 5, seed=3), atol=1e-3)
    draws = model.posterior_samples(x, 7, torch.Generator().manual_seed(3))
    assert draws.shape == (7, 4, 2)


def test_two_layers_have_one_learned_step_size_each():
    torch.manual_seed(0)
    cfg = ShortRun.Config(latent_dim=5, latent_layers=[2, 3], n_steps=4, per_step=True,
                          likelihood="gaussian", net=NetConfig(hidden=16, depth=1))
    model = ShortRun(cfg, DataSpec.points(3))
    assert model.log_step.shape == (4, 2) and model.log_reverse.shape == (2, 4, 2)
    with torch.no_grad():
        model.log_step[:, 1] += 0.01  # layer 2 at e^1 = 2.7 times layer 1's step
    eta = model.step_sizes()
    assert eta.shape == (4, 5)
    torch.testing.assert_close(eta[:, 2:] / eta[:, :1], torch.full((4, 3), torch.e.__float__()))
    out = model.training_step(torch.randn(6, 3))
    assert {"t01/layer1/step_size", "t04/layer2/step_size"} <= set(out.logged())
    assert model.infer(torch.randn(6, 3)).shape == (6, 5)


def test_the_step_size_profile_is_plotted_from_the_log(tmp_path):
    import json

    from lae.eval.plots import save_loss_curves, save_step_size_profile

    records = [{"split": "train", "epoch": e, "step": 10 * e, "step_size": 0.01,
                "t01/layer1/step_size": 0.01 * e, "t02/layer1/step_size": 0.02 * e,
                "t01/layer2/step_size": 0.03, "t02/layer2/step_size": 0.04} for e in (1, 2)]
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert save_step_size_profile(path, tmp_path / "step_sizes.png").stat().st_size > 0
    assert save_loss_curves(path, tmp_path / "loss.png") is not None
    # a run without per-step sizes gets no profile
    path.write_text(json.dumps({"split": "train", "epoch": 1, "step": 1, "loss": 1.0}) + "\n")
    assert save_step_size_profile(path, tmp_path / "none.png") is None
