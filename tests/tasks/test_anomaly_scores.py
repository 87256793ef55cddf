"""The corrected anomaly scores (complexity, likelihood ratio) and the background model's
training noise, on cases worked by hand."""

import json
import math

import numpy as np
import pytest
import torch

from lae.cli import main
from lae.data import BatchLoader
from lae.data.processing import perturb_values
from lae.models import DataSpec, build_model
from lae.tasks import anomaly_scores, best_likelihood, detection_metrics, png_bits
from lae.train import load_config

IMAGES = DataSpec(shape=(1, 8, 8), value_range=(0.0, 1.0), n_bits=8, binary=False)


def _model(name, seed=0):
    cfg = load_config("vae-mnist5k-mlp", [f"model.name={name}", "model.net.hidden=16",
                                          "model.net.depth=1", "model.latent_dim=2"])
    torch.manual_seed(seed)
    return build_model(cfg.model, IMAGES)


def _images(n, seed=0):
    return torch.randint(0, 256, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed)) / 255


def test_the_compressed_length_of_a_blank_image_is_below_that_of_noise():
    blank, noise = torch.zeros(3, 1, 8, 8), _images(3)
    assert (png_bits(blank, IMAGES) < png_bits(noise, IMAGES)).all()
    # bits, a whole number of bytes; and an RGB image is compressed as one
    assert (png_bits(noise, IMAGES) % 8 == 0).all()
    rgb = DataSpec(shape=(3, 8, 8), value_range=(-1.0, 1.0), n_bits=8, binary=False)
    assert png_bits(torch.zeros(2, 3, 8, 8), rgb).shape == (2,)
    with pytest.raises(Exception, match="grey or RGB"):
        png_bits(torch.zeros(2, 5), IMAGES)


def test_the_complexity_score_is_the_nll_in_bits_less_the_png_length():
    model, x = _model("vae"), _images(6)
    nll = anomaly_scores(model, x, "nll-iwae", k=10, generator=torch.Generator().manual_seed(1))
    score = anomaly_scores(model, x, "complexity", k=10,
                           generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(score, nll.double() / math.log(2) - png_bits(x, IMAGES))


def test_the_likelihood_ratio_of_a_model_against_itself_is_zero():
    model, x = _model("vae"), _images(6)
    for likelihood in ("nll-iwae", "log-joint", "refined"):
        lr = anomaly_scores(model, x, "likelihood-ratio", likelihood=likelihood, k=10,
                            refine_steps=3, background=model,
                            generator=torch.Generator().manual_seed(0))
        assert torch.equal(lr, torch.zeros_like(lr)), likelihood
    # against another model it is the difference of the two estimates, same draws
    other = _model("vae", seed=1)
    lr = anomaly_scores(model, x, "likelihood-ratio", likelihood="nll-iwae", k=10,
                        background=other, generator=torch.Generator().manual_seed(0))
    a = anomaly_scores(model, x, "nll-iwae", k=10, generator=torch.Generator().manual_seed(0))
    b = anomaly_scores(other, x, "nll-iwae", k=10, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(lr, a - b)


def test_the_auto_likelihood_is_the_best_estimate_each_model_has():
    assert best_likelihood(_model("vae")) == "nll-iwae"  # its own q(z|x)
    assert best_likelihood(_model("lae")) == "nll-ais"  # a hand-set q: AIS instead


def test_the_training_noise_hits_the_stated_fraction_reproducibly():
    x = _images(50)
    noisy = perturb_values(x, 0.2, (0.0, 1.0), 8, torch.Generator().manual_seed(3))
    again = perturb_values(x, 0.2, (0.0, 1.0), 8, torch.Generator().manual_seed(3))
    assert torch.equal(noisy, again)
    # exactly round(0.2 * 64) = 13 positions per image are redrawn: a redrawn value equals the
    # old one with probability 1/256, so at most 13 and on average about 13 * 255/256 differ
    changed = (noisy != x).flatten(1).sum(1)
    assert changed.max() <= 13 and changed.float().mean() > 12.5
    # the noise is uniform over the 256 levels of [0, 1]
    levels = noisy[noisy != x] * 255
    assert torch.allclose(levels, levels.round(), atol=1e-4)
    assert 0 <= levels.min() and levels.max() <= 255
    big = perturb_values(torch.zeros(400, 1, 8, 8), 0.5, (0.0, 1.0), 8,
                         torch.Generator().manual_seed(0))
    values = big[big != 0]  # 400 * 32 uniform levels (less the zeros): mean 0.5 ± 0.003
    assert abs(values.mean().item() - 0.5) < 0.02
    # the loader applies it to every training batch, drawn from its generator
    loader = BatchLoader(x, None, 10, shuffle=False, generator=torch.Generator().manual_seed(1),
                         perturb=lambda xb, generator: perturb_values(xb, 0.2, (0.0, 1.0), 8,
                                                                      generator))
    first = torch.cat([xb for xb, _ in loader])
    assert ((first != x).flatten(1).sum(1) <= 13).all() and not torch.equal(first, x)


def test_noise_fraction_out_of_range_is_a_config_error(tmp_path, capsys):
    for bad in ("1.5", "-0.1", "1"):
        assert main(["train", "vae-mnist5k-mlp", "--data.name=digits", f"--data.noise_fraction"
                     f"={bad}", "--out", str(tmp_path / "r")]) == 2
        assert "data.noise_fraction" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


def test_likelihood_ratio_and_complexity_from_the_command_line(tmp_path, capsys):
    common = ["--data.name=digits", "--data.holdout_class=3", "--train.epochs=1",
              "--train.progress=false", "--model.net.hidden=16", "--train.eval_size=50",
              "--train.eval_k=2", "--train.n_samples=16"]
    run, background = tmp_path / "run", tmp_path / "background"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), *common]) == 0
    assert main(["train", "vae-mnist5k-mlp", "--out", str(background),
                 "--data.noise_fraction=0.2", *common]) == 0
    capsys.readouterr()
    assert main(["anomaly", str(run), "--score", "likelihood-ratio"]) == 2
    assert "--background" in capsys.readouterr().err
    assert main(["anomaly", str(run), "--score", "likelihood-ratio", "--background",
                 str(background), "--k", "5", "--n-examples", "100"]) == 0
    res = json.loads((run / "anomaly" / "likelihood-ratio" / "anomaly.json").read_text())
    assert res["likelihood"] == "nll-iwae" and res["background"] == str(background)
    # the settings the score read, and only those (were: --k and --refine-steps always, and no
    # AIS settings for an AIS score)
    assert res["settings"] == {"k": 5, "seed": 0, "n_examples": 100, "n_normal": 91,
                               "n_anomalous": 9}
    assert main(["anomaly", str(run), "--score", "nll-ais", "--ais-chains", "2", "--ais-temps",
                 "10", "--n-examples", "100"]) == 0
    res = json.loads((run / "anomaly" / "nll-ais" / "anomaly.json").read_text())
    assert res["settings"] == {"ais_chains": 2, "ais_temps": 10, "seed": 0, "n_examples": 100,
                               "n_normal": 91, "n_anomalous": 9}
    assert main(["anomaly", str(run), "--score", "complexity", "--k", "5", "--n-examples",
                 "100"]) == 0
    res = json.loads((run / "anomaly" / "complexity" / "anomaly.json").read_text())
    assert res["score_unit"].startswith("bits per image")
    per_image = np.load(run / "anomaly" / "complexity" / "anomaly_scores.npz")
    assert detection_metrics(torch.from_numpy(per_image["is_anomaly"]),
                             torch.from_numpy(per_image["score"])) == res["metrics"]
    # backgrounds and options that do not fit are refused before any work (were: a traceback
    # after scoring the run, or a believable AUROC from mismatched models or data)
    other = tmp_path / "other"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(other), "--data.noise_fraction=0.2",
                 "--data.scale=-11", *common]) == 0
    lr = ["anomaly", str(run), "--score", "likelihood-ratio", "--out", str(tmp_path / "lr")]
    for argv, message in [
            (lr + ["--background", str(run)], "the run itself"),  # every score 0
            (lr + ["--background", str(background), "--against", "mnist", "--against-data-dir",
                   str(tmp_path / "missing")], "is not a folder"),
            (lr + ["--background", str(other)], "data.scale"),
            (["anomaly", str(run), "--score", "nll-iwae", "--background", str(background)],
             "does not use it"),
            (["anomaly", str(run), "--likelihood", "nll-ais"], "does not use it"),
            (["anomaly", str(run), "--k", "5"], "--k: --score log-joint does not use it"),
            (["anomaly", str(run), "--score", "nll-iwae", "--refine-steps", "5"],
             "--refine-steps: --score nll-iwae does not use it; it reads --k"),
            (["anomaly", str(run), "--score", "complexity", "--ais-temps", "50"],
             "builds on nll-iwae, which reads --k"),
            (["anomaly", str(run), "--last-checkpoints", "2", "--checkpoint", "1"], "ignored"),
            (["anomaly", str(run), "--against", "digits"], "own dataset"),
            (["anomaly", str(run), "--against", "nosuchset"], "--against nosuchset"),
            (["anomaly", str(run), "--against", "npz"], "--against-path FILE.npz goes with"),
            (["anomaly", str(run), "--n-examples", "2"], "raise --n-examples")]:
        capsys.readouterr()
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err, (argv, err)
    assert not (tmp_path / "lr").exists()
    # an .npz of images of the run's shape as the anomalies (was: offered, but no way to give
    # its file)
    noise = tmp_path / "noise.npz"
    rng = np.random.default_rng(0)
    # (only its test images are read: was, an x_train was required too)
    np.savez(noise, x_test=rng.integers(0, 256, (50, 8, 8), dtype=np.uint8))
    assert main(["anomaly", str(run), "--against", "npz", "--against-path", str(noise),
                 "--n-examples", "50", "--out", str(tmp_path / "vs-npz")]) == 0
    res = json.loads((tmp_path / "vs-npz" / "anomaly.json").read_text())
    assert res["against"] == "npz" and res["metrics"]["auroc"] > 0.9  # noise is unlike digits
    # --n-examples counts each set: said in the results (was: only their sum)
    # (less the 4 images of the class the run was trained without: not normals either)
    assert (res["settings"]["n_normal"], res["settings"]["n_anomalous"]) == (46, 50)
    with pytest.raises(Exception, match="tells no image from another"):
        detection_metrics(torch.tensor([False, True, False]), torch.zeros(3))
    # the outputs are lae's: --overwrite of the run removes them with the rest
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--overwrite", *common]) == 0
    assert not (run / "anomaly").exists()


def test_last_checkpoints_averages_each_images_score_over_the_epochs(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--data.name=digits",
                 "--data.holdout_class=3", "--train.epochs=2", "--train.progress=false",
                 "--model.net.hidden=16", "--train.eval_size=20", "--train.eval_k=2",
                 "--train.n_samples=4", "--train.keep_checkpoints=2"]) == 0
    scores = {}
    for flags, name in ((["--checkpoint", "1"], "e1"), (["--checkpoint", "2"], "e2"),
                        (["--last-checkpoints", "2"], "mean")):
        assert main(["anomaly", str(run), "--n-examples", "60", "--out", str(tmp_path / name),
                     *flags]) == 0
        scores[name] = np.load(tmp_path / name / "anomaly_scores.npz")["score"]
    np.testing.assert_allclose(scores["mean"], (scores["e1"] + scores["e2"]) / 2, rtol=1e-12)
    averaged = json.loads((tmp_path / "mean" / "anomaly.json").read_text())
    # was: "checkpoint" last.pt beside the two epochs averaged
    assert averaged["checkpoint"] is None and averaged["checkpoints_averaged"] == ["1", "2"]
    capsys.readouterr()
    # more epochs than the run trained: no keep_checkpoints helps (was the advice)
    assert main(["anomaly", str(run), "--last-checkpoints", "3", "--out",
                 str(tmp_path / "three")]) == 2
    assert "has trained 2 epoch(s); give at most 2" in capsys.readouterr().err
    (run / "checkpoints" / "epoch_0001.pt").unlink()  # as keep_checkpoints=1 would have
    assert main(["anomaly", str(run), "--last-checkpoints", "2", "--out",
                 str(tmp_path / "two")]) == 2
    assert "train.keep_checkpoints=2" in capsys.readouterr().err
