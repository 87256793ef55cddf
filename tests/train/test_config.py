"""Configs: presets, overrides, and errors that name the key and list the choices."""

import pytest

from lae.errors import ConfigError
from lae.models import MODELS
from lae.train.config import (
    Config,
    TrainConfig,
    config_from_dict,
    list_presets,
    load_config,
    parse_overrides,
    read_yaml,
    save_config,
)


def test_every_preset_loads_with_its_models_config_class():
    presets = list_presets()
    assert {"vae-mnist5k-mlp", "vae-mnist5k-conv", "vae-fashion-mnist-mlp",
            "vae-fashion-mnist-conv", "vae-toy2d"} <= set(presets)
    for name in presets:
        cfg = load_config(name)
        assert isinstance(cfg.model, MODELS[cfg.model.name].Config)


def test_overrides_are_typed_and_nested():
    cfg = load_config("vae-mnist5k-mlp", ["model.latent_dim=4", "train.lr=1e-4",
                                          "model.net.arch=conv", "train.tensorboard=true",
                                          "data.holdout_class=3"])
    assert cfg.model.latent_dim == 4 and cfg.train.lr == 1e-4
    assert cfg.model.net.arch == "conv" and cfg.train.tensorboard is True
    assert cfg.data.holdout_class == 3


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config("vae-toy2d", ["train.adam_betas=[0.5, 0.9]"])
    save_config(cfg, tmp_path / "config.yaml")
    again = config_from_dict(read_yaml(tmp_path / "config.yaml"))
    assert again == cfg and again.train.adam_betas == (0.5, 0.9)


@pytest.mark.parametrize("override,message", [
    (["model.latent_dimm=3"], r"unknown key model\.latent_dimm; valid keys in model: .*latent_dim"),
    (["train.epochs=many"], r"train\.epochs: expected an integer, got 'many'"),
    (["train.progress=maybe"], r"train\.progress: expected true or false"),
    (["model.name=nope"], r"model\.name: unknown model 'nope'; choices: .*vae"),
    (["optim.lr=1"], r"unknown config section"),
    (["model.latent_dim=0"], r"latent_dim must be >= 1"),
    (["model.objective=kl"], r"objective must be"),
    (["model.net.arch=transformer"], r"arch"),
    (["data.binarize=sometimes"], r"binarize"),
])
def test_bad_keys_and_values_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        cfg = load_config("vae-toy2d", override)
        # Some values are only checked when the parts are built.
        from lae.data import load_dataset
        from lae.models import build_model
        from lae.train.setup import data_spec
        build_model(cfg.model, data_spec(load_dataset(cfg.data)))


def test_unknown_preset_lists_presets():
    with pytest.raises(ConfigError, match="unknown preset 'vae-nope'; presets: .*vae-toy2d"):
        load_config("vae-nope")


def test_override_syntax_errors():
    with pytest.raises(ConfigError, match="--section.key=value"):
        parse_overrides(["train.epochs"])


def test_default_config_is_valid():
    assert isinstance(Config().to_dict()["train"]["adam_betas"], list)


def test_presets_can_build_on_a_base(tmp_path):
    conv = load_config("vae-mnist5k-conv")
    mlp = load_config("vae-mnist5k-mlp")
    assert conv.model.net.arch == "conv" and conv.train == mlp.train and conv.data == mlp.data
    (tmp_path / "a.yaml").write_text(f"base: {tmp_path / 'b.yaml'}\n")
    (tmp_path / "b.yaml").write_text(f"base: {tmp_path / 'a.yaml'}\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config(str(tmp_path / "a.yaml"))
    # a base file is found beside the file that names it, wherever the command runs (was:
    # resolved against the current folder)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "parent.yaml").write_text("base: vae-mnist5k-mlp\nmodel:\n"
                                                  "  latent_dim: 3\n")
    (tmp_path / "sub" / "child.yaml").write_text("base: parent.yaml\n")
    assert load_config(str(tmp_path / "sub" / "child.yaml")).model.latent_dim == 3


@pytest.mark.parametrize("override,message", [
    ("train.epochs=0", r"train\.epochs=0 is not valid; expected an integer in 1\.\.1000000"),
    ("train.epochs=-3", r"train\.epochs=-3 is not valid; expected an integer in 1\.\.1000000"),
    ("train.epochs=100000000", r"train\.epochs=100000000 is too large; expected at most 1000000"),
    ("train.lr=0", r"train\.lr=0\.0 is not valid; expected a finite number > 0"),
    ("train.lr=-1e-3", r"train\.lr=-0\.001 is not valid; expected a finite number > 0"),
    ("train.lr=.inf", r"train\.lr=inf is not valid; expected a finite number > 0"),
    ("train.eval_size=-1", r"train\.eval_size=-1 is not valid; expected "
                           r"an integer in 0\.\.1000000"),
    ("train.batch_size=0", r"train\.batch_size=0 is not valid; expected "
                           r"an integer in 1\.\.1000000"),
    ("train.log_every=0", r"train\.log_every=0 is not valid; expected an integer in 1\.\.1000000"),
    ("train.eval_k=0", r"train\.eval_k=0 is not valid; expected an integer in 1\.\.1000000"),
    ("train.eval_batch_size=0", r"train\.eval_batch_size=0 is not valid"),
    ("train.n_samples=0", r"train\.n_samples=0 is not valid; expected an integer in 1\.\.1000000"),
    ("train.keep_checkpoints=-1", r"train\.keep_checkpoints=-1 is not valid; expected an "
                                  r"integer in 0\.\.1000000"),
    ("train.num_threads=-2", r"train\.num_threads=-2 is not valid; expected "
                             r"an integer in 0\.\.1024"),
    # 100000 threads crashed inside torch
    ("train.num_threads=100000", r"train\.num_threads=100000 is not valid; expected "
                                 r"an integer in 0\.\.1024"),
    ("train.grad_clip=-1", r"train\.grad_clip=-1\.0 is not valid; expected a finite number >= 0"),
    ("train.seed=-1", r"train\.seed=-1 is not valid; expected an integer in 0\.\.4294967295"),
    ("train.stall_steps=-1", r"train\.stall_steps=-1 is not valid; expected "
                             r"an integer in 0\.\.1000000"),
    ("train.stall_acceptance=1.5", r"train\.stall_acceptance=1\.5 is not valid"),
    ("train.adam_betas=[0.9, 1.0]", r"train\.adam_betas=\(0\.9, 1\.0\) is not valid; expected "
                                    r"two numbers in \[0, 1\)"),
    ("train.adam_betas=[-0.1, 0.9]", r"train\.adam_betas=\(-0\.1, 0\.9\) is not valid"),
    ("data.seed=-5", r"data\.seed=-5 must be an int in 0\.\.4294967295"),
])
def test_nonsense_numbers_in_the_config_name_the_key(override, message):
    # These were accepted; epochs=0 left a run without a checkpoint that could not resume.
    with pytest.raises(ConfigError, match=message):
        load_config("vae-toy2d", [override])


def test_train_config_checks_values_when_built_directly():
    with pytest.raises(ConfigError, match=r"train\.epochs=0"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match=r"train\.lr=nan"):
        TrainConfig(lr=float("nan"))
    assert TrainConfig(eval_size=0, keep_checkpoints=0, grad_clip=0.0).eval_size == 0


def test_cli_rejects_bad_train_config_before_creating_the_run_dir(tmp_path, capsys):
    from lae.cli import main

    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "train.epochs=0" in err and len(err.splitlines()) == 1
    assert not run.exists()
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.lr=-1"]) == 2
    assert not run.exists()


@pytest.mark.parametrize("raw,message", [
    ([1, 2], r"a config must be a mapping"),
    ({"train": [1, 2]}, r"train must be a mapping of keys to values, got \[1, 2\]"),
    ({"model": "vae"}, r"model must be a mapping of keys to values, got 'vae'"),
    ({"model": {"name": ["vae"]}}, r"model\.name: unknown model \['vae'\]"),
    ({1: {}, "x": {}}, r"unknown config section\(s\) \['x', 1\]"),
    ({"train": {1: 2, "x": 3}}, r"unknown key train\.x; valid keys in train"),
    ({"train": {"lr": 10**400}}, r"train\.lr: 1000000000.* \.\.\.> is beyond float32.s largest"),
    ({"train": {"lr": float("nan")}}, r"train\.lr: expected a number, got nan"),
    ({"train": {"device": 10**5000}}, r"train\.device: expected a string, got <an integer"),
    ({"train": {"epochs": -(10**5000)}}, r"train\.epochs=<an integer of about 5000 digits>"),
])
def test_config_from_dict_rejects_odd_values_with_config_errors(raw, message):
    # Each raised TypeError / ValueError / OverflowError (or was accepted, for NaN) before.
    with pytest.raises(ConfigError, match=message):
        config_from_dict(raw)


def test_unreadable_yaml_files_are_config_errors(tmp_path):
    (tmp_path / "latin1.yaml").write_bytes(b"train:\n  device: caf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin1\.yaml is not a UTF-8 text file"):
        load_config(str(tmp_path / "latin1.yaml"))
    (tmp_path / "deep.yaml").write_text("[" * 1000)
    with pytest.raises(ConfigError, match=r"deep\.yaml: YAML nested too deeply"):
        load_config(str(tmp_path / "deep.yaml"))
    (tmp_path / "bigint.yaml").write_text("train:\n  epochs: " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"bigint\.yaml: a value cannot be read"):
        load_config(str(tmp_path / "bigint.yaml"))
    (tmp_path / "base.yaml").write_text("base: [1]\n")
    with pytest.raises(ConfigError, match=r"base\.yaml: base=\[1\] is not valid"):
        load_config(str(tmp_path / "base.yaml"))


@pytest.mark.parametrize("name", ["a\0b", "x" * 5000, ""])
def test_preset_names_that_are_not_paths(name):
    with pytest.raises(ConfigError, match="preset"):
        load_config(name)


def test_override_values_that_are_not_yaml_stay_text():
    assert parse_overrides(["train.device=[[[["]) == {"train": {"device": "[[[["}}
    deep = "[" * 1000
    assert parse_overrides([f"train.device={deep}"]) == {"train": {"device": deep}}
    big = "9" * 5000
    assert parse_overrides([f"train.device={big}"]) == {"train": {"device": big}}


@pytest.mark.parametrize("overrides,message", [
    (["train.epochs=3", "train.epochs=1"], "the same key is given twice"),
    (["model.net.hidden=64", "model={}"], "model.net.hidden is given as well"),
    (["model.net={hidden: 8}", "model.net.depth=2"], "model.net is given as well")])
def test_a_setting_given_twice_on_the_command_line_is_refused(overrides, message):
    # were: the last one won (--train.epochs=3 --train.epochs=1 trained 1 epoch), and a bare
    # --model={} reset an earlier --model.net.hidden=64 to the preset's 1024
    from lae.train.config import refuse_repeated_overrides

    with pytest.raises(ConfigError, match=message):
        refuse_repeated_overrides(overrides)
