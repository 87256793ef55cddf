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
