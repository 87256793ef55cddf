"""Trainer: outputs of a run, exact resume, run-directory safety, one optimiser per named loss."""

import json
import shutil
from dataclasses import dataclass

import pytest
import torch

from lae.errors import RunDirError
from lae.eval.plots import read_metrics
from lae.models import MODELS, LatentModel, ModelConfig, StepOutput
from lae.nn import build_encoder
from lae.train import Trainer, load_config, load_run
from lae.train.rundir import prepare_run_dir


def _cfg(overrides, *extra):
    return load_config("vae-toy2d", overrides + list(extra))


def test_a_run_writes_what_the_docs_promise(tmp_path, fast_overrides):
    run = tmp_path / "run"
    summary = Trainer(_cfg(fast_overrides), run).fit()
    assert {"neg_elbo_nats", "nll_iwae_nats", "mse_per_dim"} <= set(summary)
    for rel in ["config.yaml", "metrics.jsonl", "checkpoints/last.pt",
                "checkpoints/epoch_0002.pt", "samples/samples_0002.png", "plots/loss.png"]:
        assert (run / rel).is_file(), rel
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {r["split"] for r in records} == {"train", "test"}
    assert all("images_per_s" in r for r in records if r["split"] == "train")
    loaded = load_run(run)
    assert loaded.epoch == 2 and loaded.config == _cfg(fast_overrides)


def test_the_per_epoch_test_record_has_no_bound_through_a_hand_set_q(tmp_path, fast_overrides):
    # the LAE's q(z|x) is the authors' hand-set Gaussian, not its inference: its ELBO and IWAE
    # would not compare with a VAE's, so the per-epoch record carries AIS (when asked) instead
    run = tmp_path / "lae"
    Trainer(_cfg(fast_overrides, "model.name=lae", "model.mala_steps=1",
                 "train.eval_ais_temps=3", "train.eval_ais_chains=2"), run).fit()
    test = [r for r in read_metrics(run / "metrics.jsonl") if r["split"] == "test"]
    assert test and all("nll_ais_nats" in r and "mse_per_dim" in r for r in test)
    assert not any(k.startswith(("nll_iwae", "neg_elbo")) for r in test for k in r)


def test_resume_continues_exactly(tmp_path, fast_overrides):
    straight = tmp_path / "straight"
    Trainer(_cfg(fast_overrides, "train.epochs=3"), straight).fit()
    split = tmp_path / "split"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), split).fit()
    Trainer(_cfg(fast_overrides, "train.epochs=3"), split, resume=True).fit()
    a, b = load_run(straight).model.state_dict(), load_run(split).model.state_dict()
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    lines = (split / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == sorted(steps)  # no record repeated or lost
    assert steps == [json.loads(line)["step"]
                     for line in (straight / "metrics.jsonl").read_text().splitlines()]


def test_checkpoints_are_pruned_but_last_kept(tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=4", "train.keep_checkpoints=2"), run).fit()
    names = sorted(p.name for p in (run / "checkpoints").glob("*.pt"))
    assert names == ["epoch_0003.pt", "epoch_0004.pt", "last.pt"]


def test_pruning_goes_by_the_epochs_trained_not_by_a_file_name(tmp_path, fast_overrides):
    """A file named for a later epoch (a copy, a hand rename) neither counts among the newest
    kept nor makes the run delete its real ones."""
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=2", "train.keep_checkpoints=2"), run).fit()
    shutil.copyfile(run / "checkpoints" / "epoch_0001.pt", run / "checkpoints" / "epoch_0099.pt")
    Trainer(_cfg(fast_overrides, "train.epochs=3", "train.keep_checkpoints=2"), run,
            resume=True).fit()
    names = sorted(p.name for p in (run / "checkpoints").glob("*.pt"))
    assert names == ["epoch_0002.pt", "epoch_0003.pt", "epoch_0099.pt", "last.pt"]


def test_existing_run_dir_is_never_overwritten_without_asking(tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    before = (run / "checkpoints" / "last.pt").read_bytes()
    with pytest.raises(RunDirError, match="--resume .* --overwrite"):
        Trainer(_cfg(fast_overrides, "train.epochs=1"), run)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run, overwrite=True).fit()


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path):
    (tmp_path / "precious.txt").write_text("mine")
    with pytest.raises(RunDirError, match="not a lae run directory"):
        prepare_run_dir(tmp_path, resume=False, overwrite=True)
    assert (tmp_path / "precious.txt").read_text() == "mine"
    with pytest.raises(RunDirError, match="not a lae run directory"):
        prepare_run_dir(tmp_path, resume=True, overwrite=False)
    # without a flag, the advice is another --out: neither --resume nor --overwrite would work
    with pytest.raises(RunDirError, match="not a lae run directory.*choose another --out") as err:
        prepare_run_dir(tmp_path, resume=False, overwrite=False)
    assert "--resume" not in str(err.value)


class TwoLosses(LatentModel):
    """A model with two objectives on disjoint parameters, like Hoffman (2017)."""

    @dataclass
    class Config(ModelConfig):
        pass

    def __init__(self, cfg, spec):
        super().__init__(cfg, spec)
        self.encoder = build_encoder(cfg.net, spec.shape, cfg.latent_dim)

    def infer(self, x, generator=None):
        return self.encoder(x)

    def training_step(self, x, index=None, generator=None):
        z = self.encoder(x)
        decoder_loss = -self.log_likelihood(x, z.detach()).mean()
        encoder_loss = (z - 1.0).pow(2).sum(-1).mean()
        return StepOutput(losses={"decoder": decoder_loss, "encoder": encoder_loss})

    def loss_parameters(self):
        dec = list(self.decoder.parameters()) + list(self.likelihood.parameters())
        return {"decoder": dec, "encoder": list(self.encoder.parameters())}


def test_each_named_loss_updates_only_its_own_parameters(tmp_path, fast_overrides, monkeypatch):
    monkeypatch.setitem(MODELS, "two-losses", TwoLosses)
    cfg = _cfg(fast_overrides, "model.name=two-losses", "train.epochs=1")
    trainer = Trainer(cfg, tmp_path / "run")
    x = trainer.splits.train[:50].to(trainer.device)  # where the trainer put the model
    # The encoder's gradient comes from its own loss alone: d/dz of ||z - 1||^2 through the
    # encoder; the decoder loss (which uses z.detach()) adds nothing.
    enc_params = list(trainer.model.encoder.parameters())
    expected = torch.autograd.grad(trainer.model.training_step(x).losses["encoder"], enc_params)
    trainer.optimizers["encoder"].step = lambda: None  # keep the parameters where they were
    trainer.optimizers["decoder"].step = lambda: None
    trainer._apply(trainer.model.training_step(x).losses)
    for p, g in zip(enc_params, expected):
        assert torch.allclose(p.grad, g)
    assert set(trainer.optimizers) == {"decoder", "encoder"}
    fresh = Trainer(cfg, tmp_path / "run", overwrite=True)
    fresh.fit()
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()


def test_tensorboard_logging_when_asked(tmp_path, fast_overrides):
    pytest.importorskip("tensorboard")
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1", "train.tensorboard=true"), run).fit()
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))


def test_sgd_optimizer_and_a_bad_optimizer_name(tmp_path, fast_overrides):
    trainer = Trainer(_cfg(fast_overrides, "train.optimizer=sgd", "train.lr=0.01"), tmp_path / "a")
    assert all(type(opt) is torch.optim.SGD for opt in trainer.optimizers.values())
    assert all(g["lr"] == 0.01 for opt in trainer.optimizers.values() for g in opt.param_groups)
    with pytest.raises(Exception, match="train.optimizer"):
        Trainer(_cfg(fast_overrides, "train.optimizer=rmsprop"), tmp_path / "b")
    assert not (tmp_path / "b").exists()  # refused before the run directory was made


def test_test_records_carry_training_wall_clock_and_the_per_epoch_ais_nll(tmp_path,
                                                                          fast_overrides):
    # The report's comparison figure puts runs on one time axis (train_seconds, evaluation
    # excluded) and scores them by AIS (train.eval_ais_temps): the IWAE bound of the per-epoch
    # record goes through each model's own proposal and compares proposals as much as models.
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.eval_ais_temps=3", "train.eval_ais_chains=2",
                 "train.eval_size=20"), run).fit()
    tests = [r for r in read_metrics(run / "metrics.jsonl") if r["split"] == "test"]
    assert [r["epoch"] for r in tests] == [1, 2]
    assert 0 < tests[0]["train_seconds"] < tests[1]["train_seconds"]
    assert all("nll_ais_nats" in r for r in tests)
    resumed = Trainer(_cfg(fast_overrides, "train.epochs=3", "train.eval_ais_temps=3",
                           "train.eval_ais_chains=2", "train.eval_size=20"), run, resume=True)
    assert resumed.train_seconds == pytest.approx(tests[1]["train_seconds"], abs=1e-3)


def test_a_new_run_inside_another_run_is_refused(tmp_path):
    # --out inside another run's checkpoints/ was accepted: that run's --overwrite deletes it
    outer = tmp_path / "outer"
    prepare_run_dir(outer, resume=False, overwrite=False)
    for inner in (outer / "checkpoints" / "inner", outer / "sub"):
        with pytest.raises(RunDirError, match=f"inside the lae run {outer.resolve()}"):
            prepare_run_dir(inner, resume=False, overwrite=False)
        assert not inner.exists()
