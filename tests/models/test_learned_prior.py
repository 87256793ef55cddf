"""Learned priors (latent-ebm, flow-prior): the EBM's log-likelihood (AIS minus log Z) against
the closed form of a linear-Gaussian decoder under a quadratic EBM prior, training on toy data,
the divergence guard, and the flow prior's maximum-likelihood loss."""

import json

import pytest
import torch

from lae.eval.metrics import EvalSettings, evaluate
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig
from lae.toy.ebm_logz import QuadraticEnergy, random_quadratic
from lae.train import Trainer, load_config
from lae.train.guards import TrainingDiverged


def test_nll_under_an_ebm_prior_matches_the_closed_form():
    # f(z) = -z'Az/2 + b'z + c on N(0, I) makes the prior N(P^-1 b, P^-1), P = A + I; with
    # x = W z + d + 0.5 e the marginal is N(W P^-1 b + d, W P^-1 W' + 0.25 I), exact.
    torch.manual_seed(0)
    cfg = MODELS["latent-ebm"].Config(name="latent-ebm", latent_dim=2, likelihood="gaussian",
                                      likelihood_options={"sigma": 0.5},
                                      net=NetConfig(hidden=8, depth=1))
    model = build_model(cfg, DataSpec.points(5)).double()
    model.decoder = torch.nn.Linear(2, 5).double()
    a, b, c = random_quadratic(2, 1.0, seed=3)
    model.prior.energy_net = QuadraticEnergy(a, b, c)
    p_inv = torch.linalg.inv(a + torch.eye(2, dtype=torch.float64))
    w, d = model.decoder.weight.detach(), model.decoder.bias.detach()
    marginal = torch.distributions.MultivariateNormal(
        w @ p_inv @ b + d, w @ p_inv @ w.T + 0.25 * torch.eye(5, dtype=torch.float64))
    x = marginal.sample((12,))
    res = evaluate(model, x, ["nll-ais", "bdmc"],
                   EvalSettings(ais_chains=16, ais_temps=300, batch_size=12))
    nll = res["metrics"]["nll_ais_nats"]
    exact = -marginal.log_prob(x).mean().item()
    # both AIS estimates are accurate to ~0.01 nats here (16 chains x 300 temperatures in 2-D;
    # the log Z part has its own standard error, recorded): 0.05 nats is a real-defect margin
    assert abs(nll["value"] - exact) < 0.05 + 3 * nll["settings"]["log_z_stderr_nats"], (
        nll["value"], exact)
    assert nll["settings"]["log_z_converged"] and "not a bound" in nll["settings"]["estimate"]
    assert "bdmc" in res["skipped"]  # no exact prior sampler, so no simulated data


def _cfg(fast_overrides, *extra, max_energy=1e4):
    return load_config("vae-toy2d", fast_overrides + [
        "model.name=latent-ebm", "model.posterior_steps=5",
        f"model.prior_options={{hidden: 16, sample_steps: 10, max_energy: {max_energy}}}",
        *extra])


def test_training_steps_log_the_energy_gap(tmp_path, fast_overrides):
    Trainer(_cfg(fast_overrides), tmp_path / "run").fit()
    records = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    train = [r for r in records if r.get("split") == "train"]
    assert train and all({"energy_gap", "prior", "decoder"} <= set(r) for r in train)
    assert all(torch.isfinite(torch.tensor(r["energy_gap"])) for r in train)


def test_exploding_energies_stop_the_run_with_the_cause_and_keep_the_checkpoint(
        tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    good = (run / "checkpoints" / "last.pt").read_bytes()
    # a limit no energy stays under: the guard fires at the first step of the resumed run
    trainer = Trainer(_cfg(fast_overrides, "train.epochs=2", max_energy=1e-9), run, resume=True)
    with pytest.raises(TrainingDiverged, match="latent EBM energies exploded") as info:
        trainer.fit()
    assert "prior_lr_scale" in str(info.value)
    assert (run / "checkpoints" / "last.pt").read_bytes() == good
    assert json.loads((run / "diagnostics.json").read_text())["problem"]


def test_the_flow_prior_learns_by_maximum_likelihood_on_the_posterior_samples():
    torch.manual_seed(0)
    cfg = MODELS["flow-prior"].Config(name="flow-prior", latent_dim=2, posterior_steps=3,
                                      prior_options={"hidden": 8, "transforms": 2},
                                      net=NetConfig(hidden=16, depth=1))
    model = build_model(cfg, DataSpec.points(3))
    x = torch.randn(8, 3)
    out = model.training_step(x, None, torch.Generator().manual_seed(1))
    assert set(out.losses) == {"prior", "decoder"} and "prior_log_prob_nats" in out.metrics
    # the step's latents are the posterior chain's draws (same generator seed, same chain)
    z_post = model.posterior_chain(x, 3, torch.Generator().manual_seed(1))
    torch.testing.assert_close(out.latents, z_post)
    # maximum likelihood on them: gradient steps on the "prior" loss raise the mean log p(z+)
    # of these draws and change nothing but the flow (the decoder is in another group)
    groups = model.loss_parameters()
    decoder = [p.detach().clone() for p in groups["decoder"]]
    before = model.prior.log_prob(z_post).mean().item()
    opt = torch.optim.SGD(groups["prior"], lr=0.05)
    for _ in range(20):
        opt.zero_grad()
        model.prior.ml_loss(z_post)[0]["prior"].backward()
        opt.step()
    assert model.prior.log_prob(z_post).mean().item() > before + 0.1
    assert all(torch.equal(a, b) for a, b in zip(decoder, groups["decoder"]))
    assert model.prior.normalized and model.lr_scales() == {"prior": 1.0}
