"""Datapoint-wise LD: persistent per-example chains and step sizes, checkpoints, training."""


import pytest
import torch

from lae.errors import ConfigError
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig
from lae.train import Trainer, load_config, load_run

N_TRAIN = 64
POINTS = DataSpec.points(6, n_train=N_TRAIN)


def ld(spec=POINTS, **kw):
    # No LayerNorm: on tiny batches it dominates CPU time.
    cfg = MODELS["ld"].Config(name="ld", latent_dim=2, likelihood="gaussian",
                              net=NetConfig(hidden=16, depth=1, layernorm=False), **kw)
    return build_model(cfg, spec)


def test_only_the_visited_chains_move_and_they_persist():
    torch.manual_seed(0)
    model = ld()
    before_z, before_eta = model.z_chains.clone(), model.log_step_size.clone()
    index = torch.tensor([1, 5, 7])
    out = model.training_step(torch.randn(3, 6), index)
    assert set(out.losses) == {"loss"} and torch.isfinite(out.losses["loss"])
    others = torch.ones(N_TRAIN, dtype=torch.bool)
    others[index] = False
    assert torch.equal(model.z_chains[others], before_z[others])
    assert torch.equal(model.log_step_size[others], before_eta[others])
    assert not torch.equal(model.log_step_size[index], before_eta[index])  # adapted
    assert not torch.equal(model.z_chains[index], before_z[index])  # some move was accepted
    # The next visit starts where this one stopped: one MALA move (eta = 0.01, noise sd 0.14)
    # from states placed far out stays near them.
    model.z_chains[index] = 3.0
    model.cfg.n_steps = 1
    model.training_step(torch.randn(3, 6), index)
    assert (model.z_chains[index] - 3.0).abs().max() < 1.0


def test_chains_and_step_sizes_survive_a_state_dict_round_trip():
    torch.manual_seed(0)
    model = ld()
    model.training_step(torch.randn(4, 6), torch.arange(4))
    state = model.state_dict()
    assert state["z_chains"].shape == (N_TRAIN, 2) and state["log_step_size"].shape == (N_TRAIN,)
    fresh = ld()
    assert not torch.equal(fresh.z_chains, model.z_chains)
    fresh.load_state_dict(state)
    assert torch.equal(fresh.z_chains, model.z_chains)
    assert torch.equal(fresh.log_step_size, model.log_step_size)


def test_needs_the_training_set_size_and_the_index():
    with pytest.raises(ConfigError, match="n_train"):
        ld(DataSpec.points(6))
    with pytest.raises(ValueError, match="index"):
        ld().training_step(torch.randn(3, 6))


def test_training_decreases_the_energy_and_encode_runs_from_zero(linear_gaussian_data):
    # Epochs over 64 linear-Gaussian points (batches of 16, as the trainer visits them); tolerance:
    # the mean loss of the last 2 epochs at least 1 nat below the first 2.
    x = linear_gaussian_data(N_TRAIN, dtype=torch.float32)[1]
    torch.manual_seed(0)
    model = ld(step_size=0.05, test_steps=20)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    epochs = []
    for _ in range(25):
        losses = []
        for index in torch.randperm(N_TRAIN).split(16):
            loss = model.training_step(x[index], index).losses["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        epochs.append(sum(losses) / len(losses))
    assert sum(epochs[-2:]) / 2 < sum(epochs[:2]) / 2 - 1.0, epochs
    z = model.encode(x[:8])
    assert z.shape == (8, 2) and torch.isfinite(z).all()


def test_trainer_end_to_end_checkpoints_the_chains(tmp_path, fast_overrides):
    cfg = load_config("vae-toy2d", fast_overrides + [
        "model.name=ld", "train.epochs=1", "model.test_steps=5", "model.net.layernorm=false"])
    trainer = Trainer(cfg, tmp_path / "run")
    assert trainer.model.z_chains.shape == (trainer.spec.n_train, 2)
    start = trainer.model.z_chains.clone()
    summary = trainer.fit()
    assert "mse_per_dim" in summary and "nll_iwae_nats" not in summary  # no proposal
    assert not torch.equal(trainer.model.z_chains, start)
    loaded = load_run(tmp_path / "run").model
    assert torch.equal(loaded.z_chains, trainer.model.z_chains.cpu())  # loaded on the CPU
    assert torch.equal(loaded.log_step_size, trainer.model.log_step_size.cpu())


def test_abp_is_ld_with_unadjusted_langevin_trained_on_the_last_state():
    # ABP shares LD's persistent chains; its step is unadjusted Langevin at a fixed eta, and the
    # decoder's loss is -log p(x, z_T) at the chains' last states (what is written back).
    torch.manual_seed(0)
    cfg = MODELS["abp"].Config(name="abp", latent_dim=2, likelihood="gaussian", n_steps=3,
                               net=NetConfig(hidden=16, depth=1, layernorm=False))
    model = build_model(cfg, POINTS)
    assert (cfg.sampler, cfg.train_on, cfg.adapts) == ("langevin", "last", False)
    x, index = torch.randn(4, 6), torch.tensor([0, 9, 17, 63])
    eta_before = model.log_step_size.clone()
    out = model.training_step(x, index, torch.Generator().manual_seed(0))
    assert torch.equal(model.log_step_size, eta_before)  # never adapted
    torch.testing.assert_close(out.losses["loss"],
                               -model.log_joint(x, model.z_chains[index]).mean())
    # no MH test, no acceptance to report
    assert "acceptance" not in out.logged() and out.chains[""].acceptance is None
