"""Config mistakes that used to pass silently or end in a traceback: an empty YAML trained the
defaults, a key given twice kept the last, ``data.val_size=1.0`` meant one example beside 0.999
meaning 99.9%, and ``--resume`` with a changed model or data setting ended in a state-dict
traceback (or, with an emptied config.yaml, ignored the run's config)."""

import pytest

from lae.cli import main

TINY = ["--data.n_toy=200", "--train.eval_size=20", "--train.eval_k=2", "--train.n_samples=16",
        "--train.progress=false", "--model.net.hidden=8", "--train.batch_size=50"]


def _error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    return err


def test_an_empty_yaml_is_an_error_not_the_defaults(tmp_path, capsys):
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("# nothing yet\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    assert "is empty" in _error(capsys) and not (tmp_path / "run").exists()


def test_a_key_given_twice_is_an_error_naming_it_and_its_lines(tmp_path, capsys):
    cfg = tmp_path / "mine.yaml"
    cfg.write_text("model:\n  name: vae\ntrain:\n  lr: 0.001\n  epochs: 2\n  lr: 0.1\n")
    assert main(["train", str(cfg), "--out", str(tmp_path / "run")]) == 2
    err = _error(capsys)
    assert "'lr' appears twice (first on line 4)" in err and "line 6" in err


@pytest.mark.parametrize("value,ok", [("1.0", False), ("2.0", False), ("1", True),
                                      ("0.999", True)])
def test_val_size_reads_one_way_only(tmp_path, capsys, value, ok):
    from lae.data.config import DataConfig
    from lae.errors import ConfigError

    if ok:
        DataConfig(name="toy2d:8gaussians", val_size=float(value) if "." in value
                   else int(value))
        return
    with pytest.raises(ConfigError, match="ambiguous.*data.val_size=") as info:
        DataConfig(name="toy2d:8gaussians", val_size=float(value))
    assert f"holds out {int(float(value))} example" in str(info.value)


@pytest.fixture
def trained(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1", *TINY]) == 0
    return run


@pytest.mark.parametrize("override,key", [
    ("--model.latent_dim=3", "model.latent_dim (2 -> 3)"),
    # the one sub-key that changed, not the whole model.net dict (as before)
    ("--model.net.layernorm=false", "model.net.layernorm (True -> False)"),
    ("--data.name=toy2d:rings", "data.name ('toy2d:8gaussians' -> 'toy2d:rings')"),
    ("--train.optimizer=sgd", "train.optimizer ('adam' -> 'sgd')"),
])
def test_resume_with_a_changed_model_data_or_optimiser_names_the_keys(trained, capsys, override,
                                                                       key):
    assert main(["train", "vae-toy2d", "--out", str(trained), "--resume", "--train.epochs=2",
                 override]) == 2
    err = _error(capsys)
    assert "cannot resume with changed settings" in err and key in err
    assert "'hidden'" not in err  # no unchanged sub-key is printed


def test_resume_of_a_finished_run_says_so(trained, capsys):
    assert main(["train", "vae-toy2d", "--out", str(trained), "--resume"]) == 2
    assert "already trained 1 epoch" in _error(capsys)


def test_resume_with_an_emptied_config_uses_the_checkpoints(trained, capsys):
    (trained / "config.yaml").write_text("")
    assert main(["train", "vae-toy2d", "--out", str(trained), "--resume",
                 "--train.epochs=2"]) == 0
    assert "latent_dim: 2" in (trained / "config.yaml").read_text()
    # and says so (was: silently)
    assert "config.yaml is empty: resuming with the config" in capsys.readouterr().err


def test_a_model_config_declares_which_of_its_keys_a_resume_may_change(tmp_path, capsys):
    # the LAE's evaluation-time sampler is not in its checkpoint: a resume may change it; its
    # chain's settings are
    run = tmp_path / "lae"
    assert main(["train", "vae-toy2d", "--out", str(run), "--model.name=lae",
                 "--train.epochs=1", *TINY]) == 0
    assert main(["train", "vae-toy2d", "--out", str(run), "--model.name=lae", "--resume",
                 "--train.epochs=2", "--model.eval_warmup=50", *TINY]) == 0
    assert main(["train", "vae-toy2d", "--out", str(run), "--model.name=lae", "--resume",
                 "--train.epochs=3", "--model.ald_steps=3", *TINY]) == 2
    assert "model.ald_steps (2 -> 3)" in _error(capsys)
