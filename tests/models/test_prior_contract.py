"""The prior contract (lae/distributions/priors.py, lae/models/base.py): every model trains a
learned prior the same way, by the prior's own maximum-likelihood step on the latents its decoder
trained on, with the prior's parameters in the prior's groups and in no other; combinations that
cannot work are refused with the reason; the trainer refuses loss groups that leave a parameter
untrained or train it twice."""

import pytest
import torch

from lae.distributions import Prior
from lae.errors import ConfigError
from lae.models import MODELS, DataSpec, build_model
from lae.train import Trainer, load_config
from lae.train.setup import check_loss_groups

SMALL_PRIOR = {"latent-ebm": "{hidden: 8, sample_steps: 3}", "flow": "{hidden: 8, transforms: 2}"}
# models that are one prior's learning rule, by name
OWN_PRIOR = {"latent-ebm": "latent-ebm", "flow-prior": "flow"}


def _model(name, prior):
    cfg = load_config("vae-toy2d", [f"model.name={name}", "model.net.hidden=16",
                                    "model.net.depth=1", f"model.prior={prior}",
                                    f"model.prior_options={SMALL_PRIOR[prior]}"])
    torch.manual_seed(0)
    return build_model(cfg.model, DataSpec.points(2, n_train=8))


def _compatible(prior):
    names = [n for n in sorted(MODELS) if OWN_PRIOR.get(n, prior) == prior]
    return [n for n in names if not (prior == "latent-ebm" and MODELS[n].needs_exact_prior)]


@pytest.mark.parametrize("name", _compatible("flow"))
def test_every_model_trains_a_flow_prior_by_maximum_likelihood_on_its_decoders_latents(name):
    # The flow prior's "prior" loss is -mean log p(z) over exactly the latents the step's decoder
    # trained on (StepOutput.latents), whatever the model; its parameters are in the "prior"
    # group only, at model.prior_lr_scale, and get a gradient from that loss. Before the
    # contract, hoffman, vae, ld, shortrun... put the flow in no group or in the model's own.
    model = _model(name, "flow")
    g = torch.Generator().manual_seed(1)
    out = model.training_step(torch.randn(6, 2, generator=g), torch.arange(6), g)
    assert out.latents is not None and out.latents.shape[-1] == 2
    expected = -model.prior.log_prob(out.latents.detach().reshape(-1, 2)).mean()
    torch.testing.assert_close(out.losses["prior"], expected)
    groups = model.loss_parameters()
    check_loss_groups(model, groups)
    flow = {id(p) for p in model.prior.parameters()}
    assert {id(p) for p in groups["prior"]} == flow
    assert all(id(p) not in flow for n, ps in groups.items() if n != "prior" for p in ps)
    assert model.lr_scales() == {"prior": model.cfg.prior_lr_scale}
    grads = torch.autograd.grad(out.losses["prior"], groups["prior"], allow_unused=True)
    assert sum(float(gr.abs().sum()) for gr in grads if gr is not None) > 0


@pytest.mark.parametrize("name", _compatible("latent-ebm"))
def test_every_model_trains_a_latent_ebm_prior_with_its_negative_phase(name):
    # The EBM's loss is -(mean f(z+) - mean f(z-)): at f = 0 on the negative samples' side it
    # differs from -mean f(z+) on the decoder's latents only by the negative term, which the
    # metrics report; a model's own loss never holds the EBM's parameters (trained without the
    # negative phase they would run away: the ELBO only pushes f up where q puts its samples).
    model = _model(name, "latent-ebm")
    g = torch.Generator().manual_seed(2)
    out = model.training_step(torch.randn(6, 2, generator=g), torch.arange(6), g)
    f_post = model.prior.f(out.latents.detach().reshape(-1, 2)).mean()
    torch.testing.assert_close(out.losses["prior"], -(f_post - out.metrics["f_prior"]))
    groups = model.loss_parameters()
    check_loss_groups(model, groups)
    ebm = {id(p) for p in model.prior.energy_net.parameters()}
    assert {id(p) for p in groups["prior"]} == ebm
    assert all(id(p) not in ebm for n, ps in groups.items() if n != "prior" for p in ps)


def test_a_bound_under_an_unnormalized_prior_is_named_for_what_it_bounds():
    # With an EBM prior known up to log Z, the VAE's ELBO bounds log p(x) + log Z: logging it as
    # elbo_nats (the "ELBO" of -1120 nats) would read as a bound on log p(x).
    out = _model("vae", "latent-ebm").training_step(torch.randn(6, 2))
    assert "elbo_plus_log_z_nats" in out.metrics and "elbo_nats" not in out.metrics
    assert "elbo_nats" in _model("vae", "flow").training_step(torch.randn(6, 2)).metrics
    info = _model("infovae", "latent-ebm").training_step(torch.randn(6, 2)).metrics
    assert "kl_minus_log_z_nats" in info and "kl_nats" not in info


@pytest.mark.parametrize("name", [n for n in sorted(MODELS) if MODELS[n].needs_exact_prior])
def test_a_model_that_needs_an_exact_prior_refuses_an_energy_based_one_and_says_why(name):
    with pytest.raises(ConfigError, match="log Z") as info:
        _model(name, "latent-ebm")
    assert "model.prior" in str(info.value)


def test_every_registered_prior_keeps_the_contract():
    from lae.distributions import PRIORS

    for name, options in [("normal", {}), ("latent-ebm", {"hidden": 8, "sample_steps": 2}),
                          ("flow", {"hidden": 8, "transforms": 1})]:
        prior = PRIORS[name](3, **options)
        assert isinstance(prior, Prior)
        z = prior.sample(4, torch.Generator().manual_seed(0))
        assert z.shape == (4, 3) and prior.log_prob(z).shape == (4,)
        assert prior.base.normalized and prior.base.exact_sampling
        losses, _ = prior.ml_loss(z, torch.Generator().manual_seed(0))
        assert set(losses) == set(prior.loss_parameters())
        assert prior.learned == bool(losses)


def test_loss_groups_that_leave_a_parameter_untrained_or_train_it_twice_are_refused():
    model = _model("hoffman", "flow")
    groups = model.loss_parameters()
    check_loss_groups(model, groups)
    without_encoder = {n: ps for n, ps in groups.items() if n != "encoder"}
    with pytest.raises(ValueError, match=r"in no loss group.*encoder\."):
        check_loss_groups(model, without_encoder)
    twice = groups | {"encoder": groups["encoder"] + groups["prior"][:1]}
    with pytest.raises(ValueError, match=r"two or more loss groups: prior\.\S+ \(in encoder, "
                                         r"prior\)|two or more loss groups: prior\.\S+ "
                                         r"\(in prior, encoder\)"):
        check_loss_groups(model, twice)


def test_the_trainer_refuses_a_model_whose_groups_miss_a_parameter(tmp_path, fast_overrides,
                                                                   monkeypatch):
    from lae.models.vae import VAE

    monkeypatch.setattr(VAE, "model_loss_parameters",
                        lambda self: {"loss": list(self.decoder.parameters())})
    cfg = load_config("vae-toy2d", fast_overrides)
    with pytest.raises(ValueError, match="never train: .*encoder"):
        Trainer(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run folder is made
