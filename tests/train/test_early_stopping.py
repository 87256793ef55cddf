"""Early stopping (train.patience): the validation split decides when to stop, best.pt is the
epoch with the best validation bound, and a stopped run resumes to nothing."""

import pytest
import torch

from lae.errors import ConfigError
from lae.eval.plots import read_metrics
from lae.train import Trainer, load_config, load_run
from lae.train.checkpoint import find_checkpoint, load_checkpoint


def _cfg(overrides, *extra):
    return load_config("vae-toy2d", overrides + list(extra))


def test_patience_needs_a_validation_split(tmp_path, fast_overrides):
    with pytest.raises(ConfigError, match=r"train.patience=2 needs a validation split.*"
                                          r"data.val_size"):
        Trainer(_cfg(fast_overrides, "train.patience=2"), tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run folder is made


def test_a_run_stops_after_patience_epochs_without_a_better_validation_bound(
        tmp_path, fast_overrides, capsys):
    # lr 0.05 makes the toy VAE's validation bound go up and down from the first epochs, so
    # the run stops well before train.epochs (the runs are deterministic on the CPU: this is
    # not a matter of chance)
    run = tmp_path / "run"
    cfg = _cfg(fast_overrides, "data.val_size=100", "train.patience=2", "train.epochs=40",
               "train.lr=0.05")
    Trainer(cfg, run).fit()
    val = [r for r in read_metrics(run / "metrics.jsonl") if r["split"] == "val"]
    assert val and all(r["stopping_key"] == "nll_iwae_nats" for r in val)
    bounds = [r["nll_iwae_nats"] for r in val]
    best = 1 + min(range(len(bounds)), key=bounds.__getitem__)
    last = val[-1]["epoch"]
    assert last < 40, "the bound improved every epoch: the test no longer tests stopping"
    assert last == best + 2  # stopped exactly `patience` epochs after the best
    assert all(bounds[i] >= bounds[best - 1] for i in range(len(bounds)))
    assert [r["best_epoch"] for r in val][-1] == best
    # the test split is still scored every epoch, and never chose anything
    assert [r["epoch"] for r in read_metrics(run / "metrics.jsonl")
            if r["split"] == "test"] == list(range(1, last + 1))
    assert load_checkpoint(find_checkpoint(run, "best"))["epoch"] == best
    assert load_run(run, "best").epoch == best and load_run(run).epoch == last
    # a stopped run has nothing left to train: resuming it changes nothing
    before = load_run(run).model.state_dict()
    # and it says so, returning its last test record (was: {} and nothing said)
    summary = Trainer(cfg, run, resume=True).fit()
    assert summary["epoch"] == last and summary["split"] == "test"
    assert "nothing to train: it stopped early after epoch" in capsys.readouterr().out
    after = load_run(run).model.state_dict()
    assert load_run(run).epoch == last
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_model_without_a_bound_needs_ais_to_stop_on(tmp_path, fast_overrides):
    # the LAE's IWAE and ELBO go through a hand-set q and are not logged: nothing to stop on
    # known from the config: refused before the run folder is made (was: after the first
    # epoch, leaving a folder that --resume could not continue)
    with pytest.raises(ConfigError, match=r"logs no bound to stop on.*train.eval_ais_temps"):
        Trainer(_cfg(fast_overrides, "model.name=lae", "model.mala_steps=1", "data.val_size=100",
                     "train.patience=1"), tmp_path / "lae")
    assert not (tmp_path / "lae").exists()
    run = tmp_path / "lae-ais"
    Trainer(_cfg(fast_overrides, "model.name=lae", "model.mala_steps=1", "data.val_size=100",
                 "train.patience=1", "train.eval_ais_temps=3", "train.eval_ais_chains=2"),
            run).fit()
    val = [r for r in read_metrics(run / "metrics.jsonl") if r["split"] == "val"]
    assert val and all(r["stopping_key"] == "nll_ais_nats" for r in val)


def test_a_whole_count_stays_a_count_on_the_command_line():
    # data.val_size is a fraction below 1 or a count: 500 from --data.val_size=500 is a count
    assert load_config("vae-toy2d", ["data.val_size=500"]).data.val_size == 500
    assert isinstance(load_config("vae-toy2d", ["data.val_size=500"]).data.val_size, int)
    assert load_config("vae-toy2d", ["data.val_size=0.1"]).data.val_size == 0.1
    with pytest.raises(ConfigError, match="ambiguous"):
        load_config("vae-toy2d", ["data.val_size=500.0"])
