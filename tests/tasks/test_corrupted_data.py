"""Learning from corrupted data (``data.mask``): training images lose values (NaN), every model
trains on what is left (the likelihood leaves the hidden values out, encoders see them filled),
and ``lae inpaint --split train`` scores the recovery of what training never saw, with the same
masks for a run trained on the whole images."""

import json

import pytest
import torch

from lae.cli import main
from lae.data import DataConfig, load_dataset
from lae.data.masks import training_masks
from lae.errors import ConfigError
from lae.models import MODELS, DataSpec, build_model
from lae.train import load_config

MISSING = DataSpec(shape=(1, 8, 8), value_range=(0.0, 1.0), n_bits=8, binary=False, n_train=16,
                   missing=True)


def test_the_mask_hides_training_values_only_and_repeats_with_the_seed():
    s = load_dataset(DataConfig(name="digits", mask="pixels:0.5", val_size=100))
    hidden = torch.isnan(s.train)
    assert abs(float(hidden.float().mean()) - 0.5) < 0.02  # 1397 x 64 draws, sd 0.002
    assert not torch.isnan(s.val).any() and not torch.isnan(s.test).any()
    expected = training_masks("pixels:0.5", (1, 8, 8), len(s.train), 0)
    assert torch.equal(~hidden, expected)  # what lae inpaint --split train draws again
    with pytest.raises(ConfigError, match="binarize"):
        DataConfig(name="digits", mask="pixels:0.5", binarize="dynamic")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_on_images_with_hidden_values(name):
    cfg = load_config("vae-mnist5k-mlp", [f"model.name={name}", "model.net.hidden=16",
                                          "model.net.depth=1", "model.latent_dim=2"])
    torch.manual_seed(0)
    model = build_model(cfg.model, MISSING)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 256, (6, 1, 8, 8), generator=g) / 255
    mask = torch.rand(6, 1, 8, 8, generator=g) > 0.4
    hidden = torch.where(mask, x, torch.tensor(float("nan")))
    out = model.training_step(hidden, torch.arange(6), g)
    for key, loss in out.losses.items():
        assert torch.isfinite(loss), (key, loss)
        params = [p for p in model.loss_parameters()[key] if p.requires_grad]
        grads = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        assert all(gr is None or torch.isfinite(gr).all() for gr in grads), key
    # NaN marks the hidden values: the same likelihood as the explicit mask, any fill
    z = torch.randn(6, 2)
    torch.testing.assert_close(model.log_likelihood(hidden, z),
                               model.log_likelihood(torch.where(mask, x, 0.3), z, mask))


def test_recovery_of_the_hidden_training_values_from_the_command_line(tmp_path, capsys):
    common = ["--data.name=digits", "--train.epochs=1", "--train.progress=false",
              "--model.net.hidden=16", "--train.eval_size=50", "--train.eval_k=2",
              "--train.n_samples=16"]
    masked, clean = tmp_path / "masked", tmp_path / "clean"
    assert main(["train", "vae-mnist5k-mlp", "--data.mask=patches:2:0.5", "--out", str(masked),
                 *common]) == 0
    assert main(["train", "vae-mnist5k-mlp", "--out", str(clean), *common]) == 0
    assert main(["inpaint", str(masked), "--split", "train", "--steps", "4",
                 "--n-examples", "40"]) == 0
    a = json.loads((masked / "inpaint" / "train-patches_2_0.5.json").read_text())
    assert a["trained_on_mask"] == "patches:2:0.5" and a["split"] == "train"
    assert main(["inpaint", str(clean), "--split", "train"]) == 2  # which mask?
    assert "--mask" in capsys.readouterr().err
    assert main(["inpaint", str(clean), "--split", "train", "--mask", "patches:2:0.5",
                 "--steps", "4", "--n-examples", "40"]) == 0
    b = json.loads((clean / "inpaint" / "train-patches_2_0.5.json").read_text())
    assert b["trained_on_mask"] is None
    assert a["missing_fraction"] == b["missing_fraction"] >= 0.5  # the same masks
    for res in (a, b):
        m = res["metrics"]
        assert m["mse_missing_01"]["n"] == 40 and 0 <= m["mse_observed_decoder_01"]["value"] < 1
