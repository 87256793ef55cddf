"""Configs: presets, overrides, and errors that name the key and list the choices."""

import pytest

from lae.errors import ConfigError
from lae.models import MODELS
from lae.train.config import (
    Config,
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
        from lae.train.trainer import data_spec
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
