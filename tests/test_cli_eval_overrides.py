"""lae eval --set model.KEY=VALUE: evaluation-time settings of a trained model, and only those."""

import json

import pytest

from lae.cli import main

TINY = ["--train.epochs=1", "--train.eval_size=20", "--train.eval_k=2", "--train.progress=false",
        "--model.net.hidden=16", "--data.n_toy=200", "--train.batch_size=50"]


@pytest.fixture(scope="module")
def lae_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("eval-set") / "lae"
    assert main(["train", "vae-toy2d", "--out", str(run), "--model.name=lae", *TINY]) == 0
    return run


def test_an_evaluation_setting_changes_what_eval_runs_and_is_recorded(lae_run, tmp_path):
    out = tmp_path / "mala.json"
    assert main(["eval", str(lae_run), "--metrics", "mse", "--n-examples", "20", "--out",
                 str(out), "--set", "model.eval_inference=mala", "--set",
                 "model.infer_warmup=8"]) == 0
    results = json.loads(out.read_text())
    (mse,) = results["metrics"].values()  # mse_per_dim on these points
    assert mse["settings"]["model_overrides"] == {
        "model.eval_inference": "mala", "model.infer_warmup": 8}


@pytest.mark.parametrize("item,message", [
    ("model.ald_steps=3", "only the model's evaluation-time settings"),
    ("train.lr=1", "only the model's evaluation-time settings"),
    ("model.eval_inference=magic", "eval_inference must be 'chain' or 'mala'"),
])
def test_a_setting_that_would_change_the_model_is_refused(lae_run, tmp_path, capsys, item,
                                                          message):
    out = tmp_path / "r.json"
    assert main(["eval", str(lae_run), "--metrics", "mse", "--out", str(out), "--set",
                 item]) == 2
    assert message in capsys.readouterr().err and not out.exists()


def test_another_runs_checkpoint_is_not_filed_under_this_run(lae_run, tmp_path, capsys):
    # a checkpoint of another run of the same model, scored into this run's results: refused
    # before any work; with --out it is scored where the user said
    other = tmp_path / "lae2"
    assert main(["train", "vae-toy2d", "--out", str(other), "--model.name=lae", *TINY]) == 0
    foreign = str(other / "checkpoints" / "last.pt")
    assert main(["eval", str(lae_run), "--checkpoint", foreign, "--metrics", "mse"]) == 2
    assert "not one of" in capsys.readouterr().err
    out = tmp_path / "elsewhere.json"
    assert main(["eval", str(lae_run), "--checkpoint", foreign, "--metrics", "mse", "--out",
                 str(out)]) == 0
    assert out.is_file()


def test_a_checkpoint_of_another_model_in_a_run_folder_is_refused_by_name(lae_run, tmp_path,
                                                                           capsys):
    vae = tmp_path / "vae"
    assert main(["train", "vae-toy2d", "--out", str(vae), *TINY]) == 0
    planted = tmp_path / "planted"
    (planted / "checkpoints").mkdir(parents=True)
    (planted / "config.yaml").write_text((lae_run / "config.yaml").read_text())
    (planted / "checkpoints" / "last.pt").write_bytes(
        (vae / "checkpoints" / "last.pt").read_bytes())
    assert main(["eval", str(planted), "--metrics", "mse"]) == 2
    err = capsys.readouterr().err
    assert "holds a 'vae' model" in err and "trained 'lae'" in err
