"""Anomaly detection and inpainting (lae/tasks): the masked likelihood, the masks, the held-out
split, the detection metrics on a case worked by hand, and both tasks for every registered
model and end to end from the command line."""

import json

import numpy as np
import pytest
import torch

from lae.cli import main
from lae.errors import ConfigError
from lae.models import MODELS, DataSpec, build_model
from lae.tasks import anomaly_scores, detection_metrics, heldout_split, inpaint, make_mask
from lae.train import load_config

IMAGES = DataSpec(shape=(1, 8, 8), value_range=(0.0, 1.0), n_bits=8, binary=False, n_train=16)


def _model(name, **overrides):
    cfg = load_config("vae-mnist5k-mlp", [f"model.name={name}", "model.net.hidden=16",
                                          "model.net.depth=1", "model.latent_dim=2",
                                          *overrides])
    torch.manual_seed(0)
    return build_model(cfg.model, IMAGES)


def _images(n, seed=0):
    return torch.randint(0, 256, (n, 1, 8, 8), generator=torch.Generator().manual_seed(seed)) / 255


def test_a_missing_value_changes_neither_the_energy_nor_its_gradient():
    model, x = _model("vae"), _images(5)
    mask = make_mask("centre", (1, 8, 8), 5)
    other = torch.where(mask, x, _images(5, seed=1))  # different values where missing
    z = torch.randn(5, 2, requires_grad=True)
    energy = -model.log_joint(x, z, mask)
    energy_other = -model.log_joint(other, z, mask)
    torch.testing.assert_close(energy, energy_other, rtol=0, atol=0)
    grads = [torch.autograd.grad(e.sum(), z)[0] for e in (energy, energy_other)]
    torch.testing.assert_close(*grads, rtol=0, atol=0)
    # every value observed: the plain likelihood; the masked part: the sum over what is observed
    full = torch.ones_like(mask)
    torch.testing.assert_close(model.log_joint(x, z, full), model.log_joint(x, z))
    per_pixel = model.decode(z).base_dist.log_prob(x)
    torch.testing.assert_close(model.log_likelihood(x, z, mask),
                               (per_pixel * mask).flatten(1).sum(1))
    assert not torch.allclose(energy, -model.log_joint(x, z))  # the mask matters


def test_mask_families_cover_what_they_say_and_repeat_with_the_seed():
    shape = (1, 28, 28)
    assert (~make_mask("centre", shape, 1)).sum() == 14 * 14
    bottom = make_mask("bottom", shape, 1)
    assert not bottom[0, 0, 14:].any() and bottom[0, 0, :14].all()
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    pixels = make_mask("pixels:0.7", (3, 28, 28), 50, g())
    # each pixel missing with probability 0.7, in all channels: 39200 draws, sd 0.0023
    assert abs((~pixels[:, 0]).float().mean() - 0.7) < 0.01
    assert torch.equal(pixels[:, 0], pixels[:, 2])
    assert torch.equal(pixels, make_mask("pixels:0.7", (3, 28, 28), 50, g()))
    patches = make_mask("patches:4:0.5", shape, 20, g())
    missing = (~patches).flatten(1).float().mean(1)
    assert (missing >= 0.5).all() and (missing < 0.5 + 16 / 784 + 1e-9).all()
    for bad in ("pixels:1.5", "patches:0:0.5", "ring", "centre:2"):
        with pytest.raises(ConfigError):
            make_mask(bad, shape, 1)
    with pytest.raises(ConfigError, match="needs images"):
        make_mask("centre", (2,), 1)


def test_the_held_out_split_is_disjoint_reproducible_and_has_the_right_prevalence():
    ids = torch.arange(1000)
    labels = ids % 10
    tr, ytr, te, yte = heldout_split(ids, labels, digit=7)
    assert set(tr.tolist()).isdisjoint(te.tolist())  # no test normal was trained on
    assert (ytr != 7).all() and len(tr) == 720  # 80 % of the 900 normals
    assert (yte == 7).sum() == 100 and len(te) == 280
    assert float((yte == 7).double().mean()) == pytest.approx(100 / 280)  # the prevalence
    again = heldout_split(ids, labels, digit=7)  # a fresh generator per call: the same split
    assert torch.equal(again[0], tr) and torch.equal(again[2], te)
    assert not torch.equal(heldout_split(ids, labels, digit=7, seed=1)[0], tr)


def test_detection_metrics_on_a_case_worked_by_hand():
    # scores rank anomaly, normal, anomaly: average precision (1 + 2/3) / 2 = 0.8333; the
    # trapezoid over sklearn's curve (recall, precision) = (1,2/3), (1/2,1/2), (1/2,1), (0,1)
    # gives 0.5 * (2/3 + 1/2) / 2 + 0.5 = 0.7917; AUROC: one of two anomaly-normal pairs is
    # ordered right, 0.5; chance: 2 of 3 are anomalies
    m = detection_metrics(torch.tensor([True, False, True]), torch.tensor([3.0, 2.0, 1.0]))
    assert m["average_precision"] == pytest.approx(5 / 6)
    assert m["auprc"] == pytest.approx(0.5 * (2 / 3 + 1 / 2) / 2 + 0.5)
    assert m["auroc"] == pytest.approx(0.5) and m["chance_auprc"] == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="both normal and anomalous"):
        detection_metrics(torch.tensor([True, True]), torch.tensor([1.0, 2.0]))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_both_tasks_run_for_every_registered_model(name):
    model, x = _model(name), _images(6)
    g = torch.Generator().manual_seed(0)
    for score in ("log-joint", "refined"):
        s = anomaly_scores(model, x, score, refine_steps=3, generator=g)
        assert s.shape == (6,) and torch.isfinite(s).all()
    if model.has_proposal and model.prior.normalized:
        assert torch.isfinite(anomaly_scores(model, x, "nll-iwae", k=4, generator=g)).all()
    elif not model.has_proposal:
        with pytest.raises(ConfigError, match="no proposal"):
            anomaly_scores(model, x, "nll-iwae")
    mask = make_mask("pixels:0.5", (1, 8, 8), 6, g)
    out = inpaint(model, x, mask, steps=4, generator=g)
    assert torch.equal(out.filled[mask], x[mask])  # the observed values are kept
    assert torch.isfinite(out.mse_missing).all() and (out.mse_missing >= 0).all()


def test_refining_lowers_the_log_joint_score():
    model, x = _model("vae"), _images(8)
    plain = anomaly_scores(model, x, "log-joint")
    refined = anomaly_scores(model, x, "refined", refine_steps=10)
    assert (refined <= plain + 1e-4).all() and (refined < plain).any()


def test_anomaly_and_inpaint_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae-mnist5k-mlp", "--data.name=digits", "--data.holdout_class=3",
                 "--data.holdout_split=zenati", "--out", str(run), "--train.epochs=1",
                 "--train.progress=false", "--model.net.hidden=16", "--train.eval_size=50",
                 "--train.eval_k=2", "--train.n_samples=16"]) == 0
    assert main(["anomaly", str(run), "--score", "refined", "--refine-steps", "2"]) == 0
    res = json.loads((run / "anomaly" / "refined" / "anomaly.json").read_text())
    assert res["holdout_class"] == 3 and res["holdout_split"] == "zenati"
    # the zenati split of the 1797 digits (183 threes): test = the 1614 normals less the 1291
    # (80 %) trained on, and every three
    assert res["metrics"]["n_anomalies"] == 183 and res["metrics"]["n"] == 1614 - 1291 + 183
    assert 0 <= res["metrics"]["auprc"] <= 1
    # each image's score and label, from which the metrics can be recomputed
    per_image = np.load(run / "anomaly" / "refined" / "anomaly_scores.npz")
    assert per_image["score"].shape == per_image["is_anomaly"].shape == (res["metrics"]["n"],)
    assert per_image["is_anomaly"].sum() == 183
    recomputed = detection_metrics(torch.from_numpy(per_image["is_anomaly"]),
                                   torch.from_numpy(per_image["score"]))
    assert recomputed == res["metrics"]
    # a second score goes beside the first, which stays
    assert main(["anomaly", str(run), "--n-examples", "200"]) == 0
    assert (run / "anomaly" / "log-joint" / "anomaly.json").is_file()
    assert json.loads((run / "anomaly" / "refined" / "anomaly.json").read_text()) == res
    assert main(["inpaint", str(run), "--mask", "bottom", "--steps", "4",
                 "--n-examples", "10"]) == 0
    res = json.loads((run / "inpaint" / "bottom.json").read_text())
    assert res["missing_fraction"] == 0.5 and res["metrics"]["mse_missing_01"]["n"] == 10
    assert (run / "inpaint" / "bottom.png").stat().st_size > 0 and res["warnings"] == []
    # a chain that never moves says so (was: exit 0, the fill the model's inference, silently)
    capsys.readouterr()
    assert main(["inpaint", str(run), "--mask", "bottom", "--steps", "4", "--n-examples", "10",
                 "--step-size", "1e30", "--out", str(tmp_path / "stuck")]) == 0
    assert "accepted 0.0% of its 4 proposals" in capsys.readouterr().err
    assert json.loads((tmp_path / "stuck" / "bottom.json").read_text())["warnings"]
    # and a chain that accepts every step too small to go anywhere (was: acceptance 1.0 and
    # the inference's fill, without a word)
    assert main(["inpaint", str(run), "--mask", "bottom", "--steps", "4", "--n-examples", "10",
                 "--step-size", "1e-30", "--out", str(tmp_path / "still")]) == 0
    assert "the fill is the model's own inference" in capsys.readouterr().err
    # a mask that hides nothing is an error (was: MSE 0 and PSNR 100 dB on no value)
    assert main(["inpaint", str(run), "--mask", "pixels:1e-9", "--n-examples", "10",
                 "--out", str(tmp_path / "none")]) == 2
    assert "hides no value" in capsys.readouterr().err and not (tmp_path / "none").exists()
    # an image with no value of a kind to score is left out of that mean (was: counted as 0)
    from lae.commands.inpaint import _mean_and_stderr

    kept = _mean_and_stderr(torch.tensor([0.5, float("nan"), 1.5], dtype=torch.float64))
    assert kept["n"] == 2 and kept["value"] == 1.0
    # --against on a run trained without a class: that class's images are not normals (were
    # counted as normals)
    noise = tmp_path / "noise.npz"
    np.savez(noise, x_test=np.random.default_rng(0).integers(0, 256, (20, 8, 8), dtype=np.uint8))
    assert main(["anomaly", str(run), "--against", "npz", "--against-path", str(noise),
                 "--out", str(tmp_path / "ood")]) == 0
    assert "left out of the normals" in capsys.readouterr().err
    ood = json.loads((tmp_path / "ood" / "anomaly.json").read_text())
    assert ood["settings"]["n_normal"] == 1614 - 1291
    other = tmp_path / "plain"
    assert main(["train", "vae-toy2d", "--out", str(other), "--train.epochs=1",
                 "--data.n_toy=200", "--train.progress=false", "--train.eval_size=20",
                 "--train.eval_k=2", "--train.n_samples=16"]) == 0
    assert main(["anomaly", str(other)]) == 2
    assert "holdout_class" in capsys.readouterr().err


def test_task_commands_run_twice_refuse_before_any_work_and_keep_their_outputs_whole(
        tmp_path, capsys, monkeypatch):
    # Before: a second lae inpaint replaced MASK.png, then refused MASK.json (a picture and
    # numbers from two runs); lae anomaly refused its output only after all the work.
    import lae.tasks

    run = tmp_path / "run"
    assert main(["train", "vae-mnist5k-mlp", "--data.name=digits", "--data.holdout_class=3",
                 "--out", str(run), "--train.epochs=1", "--train.progress=false",
                 "--model.net.hidden=16", "--train.eval_size=50", "--train.eval_k=2",
                 "--train.n_samples=16"]) == 0
    assert main(["inpaint", str(run), "--steps", "2", "--n-examples", "6"]) == 0
    assert main(["anomaly", str(run), "--n-examples", "100"]) == 0
    files = [run / "inpaint" / "centre.png", run / "inpaint" / "centre.json",
             run / "anomaly" / "log-joint" / "anomaly.json",
             run / "anomaly" / "log-joint" / "anomaly_scores.npz"]
    before = {f: f.read_bytes() for f in files}
    capsys.readouterr()

    def no_work(*args, **kwargs):
        raise AssertionError("the task ran although its outputs exist")

    monkeypatch.setattr(lae.tasks, "inpaint", no_work)
    monkeypatch.setattr(lae.tasks, "anomaly_scores", no_work)
    assert main(["inpaint", str(run), "--steps", "3", "--n-examples", "6"]) == 2
    assert "centre.json" in capsys.readouterr().err
    assert main(["anomaly", str(run), "--n-examples", "100"]) == 2
    err = capsys.readouterr().err
    assert "anomaly.json" in err and "anomaly_scores.npz" in err and "--overwrite" in err
    assert {f: f.read_bytes() for f in files} == before
    # a command interrupted before it wrote anything leaves no empty --out folder behind
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(lae.tasks, "inpaint", interrupted)
    monkeypatch.setattr(lae.tasks, "anomaly_scores", interrupted)
    for argv in (["inpaint", str(run), "--steps", "3", "--out", str(tmp_path / "a" / "b")],
                 ["anomaly", str(run), "--out", str(tmp_path / "c")]):
        assert main(argv) == 130
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    # one output of the pair missing: still refused, the other kept
    (run / "inpaint" / "centre.json").unlink()
    assert main(["inpaint", str(run), "--steps", "3", "--n-examples", "6"]) == 2
    assert (run / "inpaint" / "centre.png").read_bytes() == before[files[0]]
