"""The `lae` command end to end on a 2-D toy (seconds), and its error messages."""

import json
import math
import subprocess
import sys

import pytest

from lae.cli import main
from lae.distributions import PRIORS
from lae.models import MODELS


def test_train_sample_eval_report_end_to_end(tmp_path, fast_overrides, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), *[f"--{o}" for o in fast_overrides]]) == 0
    assert main(["sample", str(run), "-n", "50", "--out", str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    out = tmp_path / "results.json"
    assert main(["eval", str(run), "--metrics", "elbo,iwae,mse", "--k", "20",
                 "--n-examples", "50", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    metrics = results["metrics"]
    assert {"neg_elbo_nats", "nll_iwae_nats", "mse_per_dim"} == set(metrics)
    assert metrics["nll_iwae_nats"]["settings"] == {"k": 20, "proposal": "learned q(z|x)",
                                                    "seed": 0, "n_examples": 50}
    assert metrics["nll_iwae_nats"]["n"] == 50
    # IWAE-k is a tighter bound than the ELBO (allow Monte Carlo noise of a few stderr).
    slack = 3 * metrics["neg_elbo_nats"]["stderr"]
    assert metrics["nll_iwae_nats"]["value"] <= metrics["neg_elbo_nats"]["value"] + slack
    # the default results file is per split: scoring the training images (the generalisation
    # gap) adds results-train.json and leaves the test results where they were
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "20"]) == 0
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "20", "--split",
                 "train"]) == 0
    by_split = {f: json.loads((run / f).read_text()) for f in ("results.json",
                                                                "results-train.json")}
    assert [r["split"] for r in by_split.values()] == ["test", "train"]
    assert all(r["metrics"]["mse_per_dim"]["n"] == 20 for r in by_split.values())
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "nll_iwae_nats" in report and "run_samples.png" in report
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    for name in ("mnist5k", "fashion-mnist", "toy2d:8gaussians", "vae", "vae-toy2d", "iwae"):
        assert name in listing


@pytest.mark.parametrize("args,message", [
    (["train", "vae-toy2d", "--model.latent_dimm=3"], "unknown key model.latent_dimm"),
    (["train", "vae-nope"], "unknown preset 'vae-nope'"),
    (["train", "vae-toy2d", "--resume", "--overwrite"], "give one of them"),  # was: resumed
    (["train", "vae-toy2d", "--data-dir", "{tmp}/afile"], "is a file"),  # was: "fetch it into"
    (["train", "vae-toy2d", "--data.name=cifar11"], "cifar11"),
    (["sample", "{tmp}/missing", "--out", "{tmp}/x.png"], "does not exist"),
])
def test_expected_errors_print_one_line_and_exit_2(tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    (tmp_path / "afile").write_text("not a folder")
    if args[0] == "train":
        args += ["--out", str(tmp_path / "run")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()  # nothing written for a bad config


@pytest.mark.parametrize("flags,message", [
    (["--k", "0"], "--k must be >= 1, got 0"),  # was a math domain error
    (["--ais-chains", "0"], "--ais-chains must be >= 1"),
    (["--ais-temps", "0"], "--ais-temps must be >= 1"),
    # every count has a ceiling: a typo of a few digits would run for weeks
    (["--ais-temps", "10000000"], "--ais-temps must be <= 1000000"),
    # a setting no chosen metric reads (was: silently ignored)
    (["--metrics", "iwae", "--mse-inference", "mode"], "--mse-inference changes only mse"),
    (["--metrics", "mse", "--mse-start", "prior"], "not under --mse-inference infer"),
    # and one that the chosen kernel does not read (was: dropped without a word)
    (["--metrics", "nll-ais", "--ais-kernel", "mala", "--ais-leapfrog", "5"],
     "--ais-leapfrog is read under --ais-kernel hmc, not under --ais-kernel mala"),
    (["--metrics", "mse", "--ais-temps", "10"], "--ais-temps changes only nll-ais, bdmc"),
    (["--k", "100000000"], "--k must be <= 1000000"),
    (["--seed", "100000000000000000000000"], "--seed must be <= 9223372036854775807"),
    (["--ais-step-size", "-0.1"], "--ais-step-size must be a finite number > 0"),
    (["--n-examples", "-5"], "--n-examples must be >= 0"),
    (["--posterior-samples", "1"], "--posterior-samples must be >= 2"),
])
def test_eval_flags_out_of_range_are_errors_before_any_work(tmp_path, capsys, flags, message):
    assert main(["eval", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_missing_dataset_says_where_it_looked_and_how_to_get_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("LAE_DATA_DIR", raising=False)
    assert main(["train", "vae-mnist5k-mlp", "--data.name=mnist", "--out", str(tmp_path / "r"),
                 "--data-dir", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "nowhere") in err and "--download" in err
    assert not (tmp_path / "r").exists()


def test_sample_refuses_to_overwrite_a_file(tmp_path, fast_overrides, capsys):
    run = tmp_path / "run"
    main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1",
          *[f"--{o}" for o in fast_overrides if not o.startswith("train.epochs")]])
    target = tmp_path / "mine.png"
    target.write_bytes(b"user data")
    assert main(["sample", str(run), "--out", str(target)]) == 2
    assert target.read_bytes() == b"user data"
    assert "--overwrite" in capsys.readouterr().err


def test_console_script_entry_point_runs():
    # The installed command (pyproject [project.scripts]) is lae.launcher:main, as python -m lae.
    proc = subprocess.run([sys.executable, "-m", "lae", "list"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "datasets:" in proc.stdout


def test_eval_with_labelled_metrics_on_digits(tmp_path, monkeypatch, capsys):
    # fd (with a tiny classifier recipe), probe and interp need the training split and labels,
    # which `lae eval` passes from the run's dataset.
    from dataclasses import replace

    from lae.eval import fd

    monkeypatch.setattr(fd, "RECIPE", replace(fd.RECIPE, epochs=1, min_steps=5))
    monkeypatch.setenv("LAE_CACHE_DIR", str(tmp_path / "cache"))
    run = tmp_path / "run"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--data.name=digits",
                 "--train.epochs=1", "--model.net.hidden=32", "--model.net.depth=1",
                 "--train.eval_k=2", "--train.progress=false"]) == 0
    # --fd-bootstrap 1: no error bar, which must be written as null (no NaN in the JSON)
    assert main(["eval", str(run), "--metrics", "fd,probe,interp", "--n-examples", "100",
                 "--fd-bootstrap", "1", "--interp-pairs", "3"]) == 0
    results = json.loads((run / "results.json").read_text())
    metrics = results["metrics"]
    assert {"fd_classifier", "probe_accuracy", "interp_grid_rows"} <= set(metrics)
    assert metrics["fd_classifier"]["value"] >= 0
    assert metrics["fd_classifier"]["stderr"] is None
    assert results["settings"]["fd_bootstrap"] == 1 and results["settings"]["interp_pairs"] == 3
    assert 0 <= metrics["probe_accuracy"]["value"] <= 1
    assert (run / "interpolations.png").is_file()
    assert (run / "latents_pca.png").stat().st_size > 0  # the codes, coloured by class
    assert main(["report", str(run), "--out", str(tmp_path / "report")]) == 0
    assert "latent_codes" in (tmp_path / "report" / "report.md").read_text()


@pytest.mark.parametrize("model", sorted(MODELS))
def test_eval_writes_results_for_every_registered_model(tmp_path, fast_overrides, model):
    # AIS and BDMC need only the model's prior and likelihood, so every model in the registry gets
    # them; metrics a model cannot give (iwae without a q(z|x)) are listed as skipped, with why.
    run = tmp_path / model
    assert main(["train", "vae-toy2d", "--out", str(run), f"--model.name={model}",
                 *[f"--{o}" for o in fast_overrides]]) == 0
    assert main(["eval", str(run), "--metrics",
                 "nll-ais,bdmc,iwae,elbo,langevin-bound,mse,posterior",
                 "--n-examples", "20", "--k", "10", "--elbo-samples", "2",
                 "--ais-chains", "2", "--ais-temps", "20",
                 "--bdmc-n-sim", "4", "--posterior-samples", "10", "--posterior-ref-steps", "300",
                 "--posterior-ref-warmup", "300"]) == 0
    results = json.loads((run / "results.json").read_text())
    # posterior fidelity for every model; the shared motion only where inference is one chain
    for key in ("mean_error_sd", "variance_ratio", "mmd", "sd_ratio", "mean_error_median_sd",
                "infer_error_median_sd"):
        assert math.isfinite(results["metrics"][f"posterior_{key}"]["value"]), (model, key)
    assert ("posterior_shared_motion" in results["metrics"]) == MODELS[model].inference_is_chain
    left_out = results["metrics"]["posterior_variance_ratio"]["settings"]["points_left_out"]
    assert results["metrics"]["posterior_variance_ratio"]["n"] + left_out == 20
    # the medians are over point x coordinate pairs (toy latents: 2 coordinates)
    assert results["metrics"]["posterior_sd_ratio"]["n"] == 2 * (20 - left_out)
    assert results["metrics"]["nll_ais_nats"]["n"] == 20
    if PRIORS[MODELS[model].Config().prior].normalized:
        assert results["metrics"]["bdmc_gap_nats"]["n"] == 4
    else:  # an energy-based prior has no exact sampler to simulate BDMC's data with
        assert "bdmc" in results["skipped"]
    assert math.isfinite(results["metrics"]["nll_ais_nats"]["value"])
    for name, prefix in (("iwae", "nll_iwae"), ("elbo", "neg_elbo"), ("mse", "mse"),
                         ("langevin-bound", "nll_langevin_bound")):
        given = any(key.startswith(prefix) for key in results["metrics"])
        assert given != (name in results["skipped"]), (model, name)
    assert ("langevin-bound" in results["skipped"]) != MODELS[model].has_langevin_bound


def test_help_and_list_say_what_exists_without_markup_or_cut_sentences(capsys):
    from lae.cli import build_parser
    from lae.eval.metrics import METRICS
    from lae.train import list_presets

    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    assert "`" not in top and "toy" in top and "config" in top
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    eval_help = " ".join(capsys.readouterr().out.split())
    for name in METRICS:  # posterior and langevin-bound were missing
        assert name in eval_help
    # every option of every subcommand says what it is
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for command in ("train", "sample", "eval", "report", "config", "bench"):
        for action in sub.choices[command]._actions:
            assert action.help, (command, action.dest)
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    models = listing.split("models:")[1].split("metrics:")[0]
    entries = []  # a name at two spaces' indent starts an entry; deeper lines continue it
    for line in models.splitlines():
        if line.startswith("  ") and not line.startswith("   "):
            entries.append(line)
        elif line.strip():
            entries[-1] += " " + line.strip()
    assert {e.split()[0] for e in entries} == set(MODELS)
    for entry in entries:  # each description is a whole sentence (was: cut mid-sentence)
        assert " ".join(entry.split()).endswith("."), entry
    presets = listing.split("presets")[1]
    for name in list_presets():
        line = next(line for line in presets.splitlines() if line.split()[:1] == [name])
        assert len(line.split()) > 2, line  # a description beside the name


def test_config_prints_every_key_of_a_preset_with_overrides(capsys):
    import yaml

    assert main(["config", "lae-mnist5k-mlp", "--model.mala_steps=2"]) == 0
    cfg = yaml.safe_load(capsys.readouterr().out)
    assert cfg["model"]["mala_steps"] == 2 and "prior_lr_scale" in cfg["model"]
    assert {"data", "model", "train"} == set(cfg) and "eval_ais_temps" in cfg["train"]
    assert main(["config", "vae-toy2d", "--model.nope=1"]) == 2
    assert "unknown key model.nope" in capsys.readouterr().err


def test_float_points_under_an_image_preset_name_the_fix(tmp_path, capsys):
    # README's "Your own data" advertises float points [N, D]; with an image preset the error
    # now names the key to set (it said "choose 'gaussian'" without naming it)
    import numpy as np

    rng = np.random.default_rng(0)
    path = tmp_path / "points.npz"
    np.savez(path, x_train=rng.normal(size=(60, 3)).astype("float32"),
             x_test=rng.normal(size=(20, 3)).astype("float32"))
    common = ["--data.name=npz", f"--data.path={path}", "--train.epochs=1",
              "--train.progress=false", "--model.net.hidden=8", "--train.eval_size=10",
              "--train.eval_k=2", "--train.batch_size=20"]
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "a"), *common]) == 2
    assert "--model.likelihood=auto" in capsys.readouterr().err
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "b"),
                 "--model.likelihood=auto", *common]) == 0
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "c"), *common]) == 0
