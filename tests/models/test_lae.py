"""Langevin autoencoder: its chain samples the exact posterior, training lowers the loss, and Phi
is saved exactly."""

import math

import pytest
import torch

from lae.distributions import LinearGaussian
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig
from lae.samplers.amortized import AmortizedALD
from lae.train import Trainer, load_config, load_run

POINTS = DataSpec.points(6)


def linear_lae(**kw):
    """An LAE whose decoder is linear and likelihood N(Wz + b, 0.5^2): a linear-Gaussian model."""
    cfg = MODELS["lae"].Config(name="lae", latent_dim=2, net=NetConfig(hidden=64, depth=1),
                               likelihood="gaussian", likelihood_options={"sigma": 0.5}, **kw)
    model = build_model(cfg, POINTS).double()
    model.decoder = torch.nn.Sequential(torch.nn.Linear(2, 6)).double()
    return model


@pytest.mark.parametrize("preconditioned,row_space_noise",
                         [(True, False), (False, False), (False, True)])
def test_chain_samples_the_exact_posterior_of_every_point(preconditioned, row_space_noise):
    # Decoder and features fixed (no optimiser step): training_step is then pure ALD on Phi, and
    # encode(x) must follow the product of the exact posteriors (Theorem 1: n = 10 <= d = 65).
    torch.manual_seed(0)
    model = linear_lae(preconditioned=preconditioned, row_space_noise=row_space_noise,
                       ald_steps=1, target_acceptance=0.6,
                       adapt_gain=0.05, step_size=0.05 if preconditioned else 0.002)
    lin = model.decoder[0]
    truth = LinearGaussian(lin.weight.detach(), lin.bias.detach(), 0.5)
    x = truth.sample_x(10, generator=torch.Generator().manual_seed(1))
    if not preconditioned:
        # Plain ALD mixes at the condition number of G G^T; orthonormal features keep it 1 so
        # a short test can check the temperature and the sum-vs-mean scaling.
        q, _ = torch.linalg.qr(torch.randn(65, 10, dtype=torch.float64))
        model.feature_matrix = lambda x_: q.T
        model.phi.zero_()
    warmup, steps = 300, 3000
    samples = []
    for i in range(warmup + steps):
        model.training_step(x)
        if i >= warmup:
            samples.append(model.encode(x).detach())
    s = torch.stack(samples)  # [S, n, K]
    post = truth.posterior(x)
    sd = post.variance.sqrt()
    # Tolerance: successive samples are correlated; batch means over 30 batches of 100 steps give
    # the standard error of each mean. 5 standard errors, and the variance within 25 % (a
    # chain n = 10 times too cold would give a ratio of 0.1).
    batch_means = s.view(30, 100, 10, 2).mean(1)
    stderr = batch_means.std(0) / math.sqrt(30)
    err = (s.mean(0) - post.mean).abs()
    assert (err < 5 * stderr + 0.05 * sd).all(), (err / sd).max()
    ratio = s.var(0) / post.variance
    assert ((ratio > 0.75) & (ratio < 1.25)).all(), ratio


def test_row_space_noise_leaves_phi_still_where_the_batch_does_not_see_it():
    # The part of Phi orthogonal to the batch's features moves under the plain chain's noise
    # (a random walk that shifts every other image's latents) and not at all with row_space_noise.
    torch.manual_seed(0)
    q, _ = torch.linalg.qr(torch.randn(65, 10, dtype=torch.float64))
    x = torch.randn(10, 6, dtype=torch.float64)
    moved = {}
    for row_space in (False, True):
        model = linear_lae(row_space_noise=row_space, step_size=0.002)
        model.feature_matrix = lambda x_: q.T
        null = torch.eye(65, dtype=torch.float64) - q @ q.T  # projector off the row space
        before = model.phi @ null
        for _ in range(20):
            model.training_step(x)
        moved[row_space] = float((model.phi @ null - before).norm())
    assert moved[True] < 1e-10 < 0.1 < moved[False], moved


def test_training_lowers_the_loss_and_phi_survives_a_checkpoint(tmp_path, fast_overrides):
    cfg = load_config("vae-toy2d", fast_overrides + ["model.name=lae", "train.epochs=3",
                                                     "model.step_size=1e-4",
                                                     "model.net.hidden=128"])
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.fit()
    losses = [r["loss"] for r in map(__import__("json").loads,
                                     (tmp_path / "run" / "metrics.jsonl").read_text().splitlines())
              if r["split"] == "train"]
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses
    loaded = load_run(tmp_path / "run").model
    assert torch.equal(loaded.phi, trainer.model.phi.cpu())  # load_run loads on the CPU
    assert torch.equal(loaded.log_step_size, trainer.model.log_step_size.cpu())
    assert loaded.phi.abs().sum() > 0


def test_the_chain_state_is_not_a_trained_parameter():
    model = linear_lae()
    names = {n for n, _ in model.named_parameters()}
    assert not any(n.startswith("phi") for n in names)
    params = model.loss_parameters()["loss"]
    out = model.training_step(torch.randn(8, 6, dtype=torch.float64))
    out.losses["loss"].backward()
    assert model.phi.grad is None
    assert all(p.grad is not None for p in model.features.parameters())
    assert len(params) == len(list(model.parameters()))


def test_bad_options_are_rejected():
    for bad in ({"ald_steps": 0}, {"step_size": 0.0}, {"target_acceptance": 1.0},
                {"eval_std": 0.0}):
        with pytest.raises(ValueError):
            MODELS["lae"].Config(**bad)


@pytest.mark.parametrize("preconditioned", [True, False])
def test_training_step_reports_the_feature_rank_and_warns_at_the_caller(preconditioned):
    # Features of width 65 (64 hidden + 1): a batch of 10 has full rank; a batch of 80 cannot.
    # The step warns from the shapes alone (no host read), naming the model's file, not the
    # sampler's internals; the numerical rank is a logging-step diagnostic, and the logged
    # record's warning says what it means.
    torch.manual_seed(0)
    model = linear_lae(preconditioned=preconditioned)
    x = torch.randn(10, 6, dtype=torch.float64)
    model.training_step(x)
    assert model.diagnostics(x)["feature_rank_fraction"] == 1.0
    assert model.warnings({"feature_rank_fraction": 1.0}) == []
    x = torch.randn(80, 6, dtype=torch.float64)
    with pytest.warns(UserWarning, match="rank <= 65 < batch size 80") as record:
        model.training_step(x)
    assert record[0].filename.endswith("lae/models/lae.py")
    diagnostics = model.diagnostics(x)
    assert diagnostics["feature_rank"] == 65
    assert diagnostics["feature_rank_fraction"] == pytest.approx(65 / 80)
    # the shapes said it at the first step: the measured rank does not say it again
    assert model.warnings(diagnostics) == []
    # a rank below the batch size that the shapes do not explain (40 examples, rank 20) is said
    low = {"feature_rank": 20, "feature_rank_fraction": 0.5}
    assert "rank < batch size" in model.warnings(low)[0]


def test_mala_refinement_samples_the_exact_posterior_and_splits_the_losses():
    # With mala_steps, the decoder trains on per-point MALA samples started from the ALD state.
    # Decoder and features frozen: successive refined samples must follow the exact posterior
    # (linear-Gaussian, posterior sds ~0.3): means within 0.25 sd, variances within 25 % over
    # 10 points x 2 coordinates x 400 correlated draws (MALA at ~0.57 acceptance, ESS >~ 60).
    torch.manual_seed(0)
    model = linear_lae(mala_steps=3, mala_step_size=0.05, step_size=1e-4)
    lin = model.decoder[0]
    truth = LinearGaussian(lin.weight.detach(), lin.bias.detach(), 0.5)
    x = truth.sample_x(10, generator=torch.Generator().manual_seed(1))
    out = model.training_step(x)
    assert set(out.losses) == {"decoder", "features"}
    groups = model.loss_parameters()
    assert {id(p) for p in groups["decoder"]}.isdisjoint({id(p) for p in groups["features"]})
    assert {"mala_acceptance", "mala_step_size", "shared_motion"} <= set(out.logged())
    assert out.chains["mala_"].rule == "adapted" and out.chains[""].rule == "adapted"
    draws = []
    for _ in range(500):
        with torch.no_grad():
            z, _, _ = model.refine(x, model.chain_latents(x) if not draws else draws[-1],
                                   adapt=True)
        draws.append(z)
    draws = torch.stack(draws[100:])  # [400, 10, 2]
    post = truth.posterior(x)
    sd = truth.posterior_cov.diagonal().sqrt()
    assert ((draws.mean(0) - post.mean).abs() / sd).mean() < 0.25
    assert ((draws.var(0).mean(0) / sd.pow(2)) - 1).abs().max() < 0.25


def test_several_refined_draws_per_image_average_the_decoder_loss():
    # mala_draws = D runs D refinement chains per image from the same ALD state: given that
    # state they are independent, so the decoder loss (their mean) has 1/D of one chain's
    # variance over the refinement's noise. D = 4, 400 replicates from one state (the step
    # size restored each time): each sample variance is within ~7 % (sqrt(2/400)) one standard
    # error out, so the ratio's 0.25 lies within [0.17, 0.36] by more than 4 standard errors.
    losses = {}
    for draws in (1, 4):
        torch.manual_seed(0)  # the same model, data and ALD state for both
        model = linear_lae(mala_steps=2, mala_step_size=0.05, step_size=1e-4, mala_draws=draws)
        lin = model.decoder[0]
        truth = LinearGaussian(lin.weight.detach(), lin.bias.detach(), 0.5)
        x = truth.sample_x(10, generator=torch.Generator().manual_seed(1))
        z_end = model.chain_latents(x).detach()
        step = model.log_mala_step_size.clone()
        values = []
        for r in range(400):
            model.log_mala_step_size.copy_(step)
            with torch.no_grad():
                named, z = model.scheme.losses(
                    model, x, torch.zeros(()), z_end, None, torch.Generator().manual_seed(r),
                    {"nonfinite_proposals": 0}, {})
            assert z.shape == z_end.shape  # the first draw of each image
            values.append(float(named["decoder"]))
        losses[draws] = torch.tensor(values)
    ratio = float(losses[4].var() / losses[1].var())
    assert 0.17 < ratio < 0.36, ratio
    with pytest.raises(ValueError, match="mala_draws"):
        linear_lae(mala_draws=2)  # draws are refinement chains: needs mala_steps


def test_infer_estimates_the_posterior_mean_from_the_amortized_start():
    # Linear-Gaussian (posterior sds ~0.3): infer(x) averages the last 100 of 200 MALA steps
    # from Phi g(x), whose ESS is >~ 20 at step 0.05, so each coordinate's error is ~0.2
    # posterior sd; the mean over 10 points x 2 coordinates below 0.4 is > 5 standard errors
    # from failing by chance. The untrained Phi g(x) is several sds off; infer_steps 0 is it.
    torch.manual_seed(0)
    model = linear_lae(mala_steps=3, mala_step_size=0.05, infer_steps=200)
    lin = model.decoder[0]
    truth = LinearGaussian(lin.weight.detach(), lin.bias.detach(), 0.5)
    x = truth.sample_x(10, generator=torch.Generator().manual_seed(1))
    sd = truth.posterior_cov.diagonal().sqrt()
    error = lambda z: float(((z - truth.posterior(x).mean).abs() / sd).mean())  # noqa: E731
    assert error(model.chain_latents(x)) > 1.0
    assert error(model.infer(x, torch.Generator().manual_seed(2))) < 0.4
    model.cfg.infer_steps = 0
    assert torch.equal(model.infer(x), model.chain_latents(x))


def test_evaluation_time_mala_samples_each_exact_posterior_and_infers_its_mean():
    # eval_inference "mala": per-image MALA from the untrained (far off) Phi g(x), step and dense
    # mass adapted over 200 steps. 2,000 draws thinned by 2 of one chain per point, ESS >~ 200
    # with the whitened kernel: each mean is within ~0.07 sd and each sd within ~5 % one standard
    # error out; the bounds (0.25 sd on the mean, 15 % on the sd, per point and coordinate) sit
    # more than 3 standard errors out. infer(x) averages 200 kept steps: error ~0.15 sd, bound
    # 0.5 on the mean over points and coordinates.
    torch.manual_seed(0)
    model = linear_lae(eval_inference="mala", eval_warmup=200, eval_thin=2, infer_steps=200,
                       infer_warmup=200)
    lin = model.decoder[0]
    truth = LinearGaussian(lin.weight.detach(), lin.bias.detach(), 0.5)
    x = truth.sample_x(10, generator=torch.Generator().manual_seed(1))
    post = truth.posterior(x)
    sd = truth.posterior_cov.diagonal().sqrt()
    assert (((model.chain_latents(x) - post.mean).abs() / sd).mean() > 1.0)
    draws = model.posterior_samples(x, 2000, torch.Generator().manual_seed(2))
    assert draws.shape == (2000, 10, 2)
    assert ((draws.mean(0) - post.mean).abs() / sd < 0.25).all()
    assert ((draws.std(0) / sd - 1).abs() < 0.15).all()
    inferred = model.infer(x, torch.Generator().manual_seed(3))
    assert float(((inferred - post.mean).abs() / sd).mean()) < 0.5


@pytest.mark.parametrize("options", [
    {"eval_inference": "mala", "eval_warmup": 10, "infer_warmup": 6, "infer_steps": 3},
    {"feature_norm": "batch"},
    {"preconditioned": True, "precond_damping": 1.0, "precond_damping_ref": "median",
     "phi_prior_std": 1.0},
    {"mala_steps": 2},
])
def test_conditioning_options_train_and_give_posterior_samples(options):
    torch.manual_seed(0)
    model = linear_lae(**options)
    x = torch.randn(16, 6, dtype=torch.float64)
    out = model.training_step(x)
    assert all(torch.isfinite(v) for v in out.losses.values())
    model.eval()
    draws = model.posterior_samples(x, 5)
    assert draws.shape == (5, 16, 2) and torch.isfinite(draws).all()


def test_bad_conditioning_options_are_errors_that_name_the_key():
    with pytest.raises(ValueError, match="feature_norm"):
        MODELS["lae"].Config(name="lae", feature_norm="zca")
    with pytest.raises(ValueError, match="precond_damping_ref"):
        MODELS["lae"].Config(name="lae", precond_damping_ref="min")


def test_one_chain_per_layer_samples_the_exact_joint_posterior_of_two_layers():
    # Two latent layers (z_2: 1, z_1: 2) under a linear top-down generator with a fixed scale:
    # x is linear-Gaussian in the standardised noise [z_2, eps_1], x = M eps + m + 0.5 e, so the
    # exact posterior of the joint latent is LinearGaussian(M, m, 0.5)'s. Each layer is its own
    # preconditioned ALD chain (a head of Phi), updated in turn; together they must sample it.
    torch.manual_seed(0)
    cfg = MODELS["lae"].Config(name="lae", latent_dim=3, latent_layers=[1, 2],
                               net=NetConfig(hidden=64, depth=1, topdown_hidden=0),
                               likelihood="gaussian", likelihood_options={"sigma": 0.5},
                               preconditioned=True, ald_steps=1, step_size=0.05,
                               target_acceptance=0.6, adapt_gain=0.05)
    model = build_model(cfg, POINTS).double()
    model.decoder.bottom = torch.nn.Linear(2, 6).double()
    with torch.no_grad():
        model.decoder.transitions[0][-1].weight[2:] = 0.0  # z_1's scale does not depend on z_2
    assert model.log_step_size.shape == (2,)
    jac = torch.autograd.functional.jacobian(lambda e: model.decode(e[None]).mean[0],
                                             torch.zeros(3, dtype=torch.float64))
    truth = LinearGaussian(jac, model.decode(torch.zeros(1, 3, dtype=torch.float64)).mean[0], 0.5)
    x = truth.sample_x(10, generator=torch.Generator().manual_seed(1))
    warmup, steps = 200, 1500
    samples = []
    for i in range(warmup + steps):
        out = model.training_step(x)
        if i >= warmup:
            samples.append(model.infer(x).detach())
    assert {"layer1/acceptance", "layer2/step_size"} <= set(out.logged())
    s = torch.stack(samples)  # [S, n, 3]
    post = truth.posterior(x)
    sd = post.variance.sqrt()
    # the tolerance of the one-layer test above: 5 batch-means standard errors, variances 25 %
    stderr = s.view(30, 50, 10, 3).mean(1).std(0) / math.sqrt(30)
    err = (s.mean(0) - post.mean).abs()
    assert (err < 5 * stderr + 0.05 * sd).all(), (err / sd).max()
    ratio = s.var(0) / post.variance
    assert ((ratio > 0.75) & (ratio < 1.25)).all(), ratio
    # the layers are correlated a posteriori: the joint, not only the marginals, must match
    cov = torch.stack([torch.cov(s[:, i].T) for i in range(10)]).mean(0)
    torch.testing.assert_close(cov, post.covariance_matrix[0], atol=0.1 * sd.max() ** 2, rtol=0.25)


@pytest.mark.parametrize("name,options", [
    ("lae-flow", {"hidden": 8, "transforms": 2}),
    ("lae-ebm", {"hidden": 8, "sample_steps": 3}),
    ("lae-ebm", {"hidden": 8, "sampler": "ald", "ald": {"n_chains": 8, "width": 16,
                                                        "input_dim": 4}}),
])
@pytest.mark.parametrize("mala_steps", [0, 2])
def test_a_learned_prior_gets_its_own_loss_and_optimiser(name, options, mala_steps):
    # every trainable parameter in exactly one loss's group; the prior's loss is its
    # maximum-likelihood step on the latents the decoder trains on
    torch.manual_seed(0)
    cfg = MODELS[name].Config(name=name, latent_dim=2, mala_steps=mala_steps,
                              prior_options=options, net=NetConfig(hidden=64, depth=1))
    model = build_model(cfg, POINTS)
    out = model.training_step(torch.randn(8, 6))
    groups = model.loss_parameters()
    assert set(out.losses) == set(groups) and "prior" in groups
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == sum(p.requires_grad for p in model.parameters())
    prior_groups = [n for n in groups if n.startswith("prior")]  # prior (and prior_sampler)
    assert {id(p) for n in prior_groups for p in groups[n]} == {
        id(p) for p in model.prior.parameters()}
    assert all(torch.isfinite(v) for v in out.losses.values())


def test_bounds_that_would_lack_log_z_are_refused_under_an_ebm_prior():
    # log_joint under an unnormalised prior omits -log Z: an ELBO or IWAE from it would be off
    # by an unknown constant, so evaluation refuses them and points to nll-ais
    from lae.eval.metrics import EvalSettings, evaluate

    torch.manual_seed(0)
    cfg = MODELS["lae-ebm"].Config(name="lae-ebm", latent_dim=2,
                                   prior_options={"hidden": 8, "sample_steps": 3},
                                   net=NetConfig(hidden=64, depth=1))
    res = evaluate(build_model(cfg, POINTS), torch.randn(8, 6), ["elbo", "iwae", "mse"],
                   EvalSettings(k=4, batch_size=8))
    assert set(res["skipped"]) == {"elbo", "iwae"} and "mse_per_dim" in res["metrics"]
    assert all("lack -log Z" in why and "nll-ais" in why for why in res["skipped"].values())


@pytest.mark.parametrize("mala_steps", [0, 2])
@pytest.mark.parametrize("latent_layers", [[], [1, 1]])
def test_the_chain_loss_is_the_mean_state_energy_with_its_exact_gradient(latent_layers,
                                                                         mala_steps, monkeypatch):
    """The loss on the chain's states reuses the chain's cached dU/dz, U and (without
    refinement) dV/dtheta instead of a decoder pass over the states: its value and its gradient
    in every parameter it trains (psi; theta too without refinement) must equal those of the
    energy recomputed at G(psi) Phi_t^T (float64: the two differ only in summation order).
    Several layers take the recomputing path; both are checked."""
    torch.manual_seed(0)
    model = linear_lae(mala_steps=mala_steps, mala_step_size=0.05, step_size=1e-3, ald_steps=3,
                       latent_layers=latent_layers)
    x = torch.randn(12, 6, dtype=torch.float64)
    phis = []
    original = AmortizedALD.transition

    def recording(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        phis.append(out[0].detach().clone())
        return out

    monkeypatch.setattr(AmortizedALD, "transition", recording)
    out = model.training_step(x, generator=torch.Generator().manual_seed(3))
    feats = model.feature_matrix(x)
    z = torch.einsum("nd,tkd->tnk", feats, torch.stack(phis)).flatten(0, 1)
    expected = -model.log_joint(x.repeat(len(phis), 1), z).mean()
    name = "features" if mala_steps else "loss"
    params = model.loss_parameters()[name]
    decoder = {id(p) for p in model.decoder.parameters()}
    assert any(id(p) in decoder for p in params) == (not mala_steps)  # theta's too, or not
    got_grads = torch.autograd.grad(out.losses[name], params)
    want_grads = torch.autograd.grad(expected, params)
    assert torch.allclose(out.losses[name], expected, rtol=1e-10)
    for got, want in zip(got_grads, want_grads):
        assert torch.allclose(got, want, rtol=1e-8, atol=1e-12)


def test_the_shared_motion_warning_speaks_only_where_it_means_something():
    # It used to fire for every LAE run, refined ones included (it measures the ALD part the
    # decoder no longer trains on) and at batch size 1 (one example's move is all "shared").
    torch.manual_seed(0)
    plain, refined = linear_lae(), linear_lae(mala_steps=2)
    assert plain.warnings({"shared_motion": 0.99}) and not refined.warnings(
        {"shared_motion": 0.99})
    assert "shared_motion" not in plain.training_step(torch.randn(1, 6,
                                                                  dtype=torch.float64)).metrics
    assert "shared_motion" in plain.training_step(torch.randn(4, 6, dtype=torch.float64)).metrics


def test_evaluation_time_inference_leaves_the_feature_statistics_alone():
    # with standardised features, posterior_samples and infer start from Phi g(x) at the
    # running statistics and never update them, in train mode too
    torch.manual_seed(0)
    model = linear_lae(eval_inference="mala", eval_warmup=8, infer_warmup=8, infer_steps=2,
                       feature_norm="batch")
    x = torch.randn(12, 6, dtype=torch.float64)
    model.training_step(x)
    before = {k: v.clone() for k, v in model.feature_norm.state_dict().items()}
    model.train()
    model.posterior_samples(x, 3)
    model.infer(x)
    after = model.feature_norm.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
