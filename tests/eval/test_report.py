"""The Markdown report: one row per config, mean ± std over runs that differ only in seeds."""

import json
import math

import pytest
import yaml

from lae.errors import RunDirError
from lae.eval.report import summarize_run, write_report


def fake_run(root, name, seed, values, latent_dim=8, data_seed=0, device="cpu"):
    run = root / name
    run.mkdir()
    cfg = {"data": {"name": "digits", "seed": data_seed, "data_dir": str(root)},
           "model": {"name": "vae", "latent_dim": latent_dim, "net": {"arch": "mlp"}},
           "train": {"epochs": 2, "seed": seed, "device": device}}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    metrics = {k: {"value": v, "stderr": 0.1, "n": 100, "settings": {"seed": 10}}
               for k, v in values.items()}
    for key in [k for k in metrics if k.endswith("_bpd")]:  # lae eval files the nats beside
        nats = key.removesuffix("_bpd") + "_nats"
        metrics.setdefault(nats, {**metrics[key],
                                  "value": metrics[key]["value"] * 64 * math.log(2)})
    (run / "results.json").write_text(json.dumps({"metrics": metrics}))
    (run / "metrics.jsonl").write_text(
        json.dumps({"split": "train", "epoch": 2, "step": 10, "images_per_s": 100.0})
        + "\n" + json.dumps({"split": "test", "epoch": 2, "step": 10}))
    return run


def table_rows(report):
    return [line for line in report.splitlines() if line.startswith("| ") and "---" not in line]


def test_runs_differing_only_in_seeds_share_a_row_with_mean_and_std(tmp_path):
    runs = [fake_run(tmp_path, "a0", 0, {"fd_classifier": 10.0, "probe_accuracy": 0.8}),
            fake_run(tmp_path, "a1", 1, {"fd_classifier": 12.0, "probe_accuracy": 0.9},
                     data_seed=1, device="cuda"),
            fake_run(tmp_path, "a2", 2, {"fd_classifier": 14.0}),
            fake_run(tmp_path, "b0", 0, {"fd_classifier": 20.0}, latent_dim=16)]
    report = write_report(runs, tmp_path / "out").read_text()
    header, *rows = table_rows(report)
    assert "seeds" in header and "fd_classifier" in header and "probe_accuracy" in header
    assert len(rows) == 2
    a, b = rows
    assert a.startswith("| a0, a1, a2 |") and "| 3 |" in a
    assert "12 ± 2 |" in a  # mean and sample std of 10, 12, 14
    assert "0.85 ± 0.071 (n=2)" in a  # only two of the three runs have it
    assert b.startswith("| b0 |") and "| 1 |" in b and "20 ± 0.1" in b  # single run: ± stderr
    assert "mean ± standard deviation" in report


def test_single_run_keeps_stderr_and_nan_stderr_is_left_out(tmp_path):
    run = fake_run(tmp_path, "r", 0, {"nll_iwae_nats": 91.3})
    res = json.loads((run / "results.json").read_text())
    res["metrics"]["fd_classifier"] = {"value": 5.0, "stderr": float("nan"), "n": 50,
                                       "settings": {"recipe": "fdclf-v1"}}
    (run / "results.json").write_text(json.dumps(res))
    summary = summarize_run(run)
    assert summary["numbers"] == {"nll_iwae_nats": "91.3 ± 0.1", "fd_classifier": "5"}
    report = write_report([run], tmp_path / "out").read_text()
    assert "recipe = fdclf-v1" in report
    assert "| r | vae | digits | mlp | 8 | 2 | 100 | 1 |" in report


def test_not_a_run_dir(tmp_path):
    with pytest.raises(RunDirError):
        summarize_run(tmp_path)


def test_the_samples_say_how_the_prior_was_sampled(tmp_path):
    run = fake_run(tmp_path, "ebm", 0, {"fd_classifier": 1.0})
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["model"].update(prior="latent-ebm", prior_options={"hidden": 8, "sample_steps": 60,
                                                           "sample_step_size": 0.08})
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    (run / "samples").mkdir()
    (run / "samples" / "samples_0001.png").write_bytes(b"png")
    report = write_report([run, fake_run(tmp_path, "plain", 0, {})], tmp_path / "out").read_text()
    assert "prior `latent-ebm` by: kernel langevin, steps 60, step_size 0.08" in report
    assert "prior `normal`" not in report  # the plain run has no samples picture
    assert summarize_run(tmp_path / "plain")["samples_caption"].endswith(
        "prior `normal` by: kernel exact, distribution N(0, 1^2 I)")
    cfg["model"]["prior_options"] = {"widht": 3}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "could not be rebuilt" in summarize_run(run)["samples_caption"]


def _with_tests(run, records, picture=None):
    lines = [json.dumps({"split": "train", "epoch": 1, "step": 1, "images_per_s": 100.0})]
    # lae logs each bits-per-dimension score beside its nats (64 dimensions: digits)
    records = [r | {k.removesuffix("_bpd") + "_nats": v * 64 * math.log(2)
                    for k, v in r.items() if k.endswith("_bpd")} for r in records]
    lines += [json.dumps({"split": "test", "step": 10 * r["epoch"], **r}) for r in records]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if picture is not None:
        (run / "samples").mkdir(exist_ok=True)
        (run / "samples" / "samples_0002.png").write_bytes(picture)
    return run


def test_runs_of_the_same_folder_name_keep_their_own_pictures(tmp_path):
    # runs/s0/vae and runs/s1/vae: once both reported as "vae", one's pictures under both
    (tmp_path / "s0").mkdir()
    (tmp_path / "s1").mkdir()
    a = _with_tests(fake_run(tmp_path / "s0", "vae", 0, {"mse_per_pixel_01": 0.1}), [],
                    picture=b"picture of s0")
    b = _with_tests(fake_run(tmp_path / "s1", "vae", 1, {"mse_per_pixel_01": 0.2}), [],
                    picture=b"picture of s1")
    out = tmp_path / "out"
    report = write_report([a, b], out).read_text()
    assert "## s0/vae" in report and "## s1/vae" in report
    assert (out / "s0_vae_samples.png").read_bytes() == b"picture of s0"
    assert (out / "s1_vae_samples.png").read_bytes() == b"picture of s1"


def test_the_source_names_the_evaluated_epoch_and_flags_an_older_one(tmp_path):
    run = _with_tests(fake_run(tmp_path, "r", 0, {"mse_per_pixel_01": 0.1}),
                      [{"epoch": 1}, {"epoch": 2}, {"epoch": 3}])
    results = json.loads((run / "results.json").read_text())
    (run / "results.json").write_text(json.dumps(results | {"epoch": 1, "run_dir": str(run)}))
    assert summarize_run(run)["source"] == "results.json (epoch 1; the run trained to epoch 3)"
    (run / "results.json").write_text(json.dumps(results | {"epoch": 3,
                                                            "run_dir": "/elsewhere/other"}))
    assert summarize_run(run)["source"] == "results.json (epoch 3; evaluated as /elsewhere/other)"


def test_the_comparison_figure_puts_runs_on_shared_axes_and_says_what_it_compares(tmp_path):
    curves = {"lae": [2.4, 2.1, 2.0], "vae": [2.3, 2.15, 2.1]}
    runs = [_with_tests(fake_run(tmp_path, name, 0, {"nll_ais_bpd": ys[-1]}),
                        [{"epoch": e + 1, "train_seconds": 10.0 * (e + 1), "nll_ais_bpd": y,
                          "nll_iwae_bpd": y + 0.5} for e, y in enumerate(ys)])
            for name, ys in curves.items()]
    report = write_report(runs, tmp_path / "out").read_text()
    assert (tmp_path / "out" / "compare_nll.png").stat().st_size > 0
    assert "Test `nll_ais_bpd` after each epoch" in report and "compare_nll.png" in report
    assert "**`nll_ais` is the column that compares models**" in report
    # without a per-epoch AIS the figure falls back to IWAE and says what that compares
    for run in runs:
        _with_tests(run, [{"epoch": 1, "train_seconds": 1.0, "nll_iwae_bpd": 2.0}])
    report = write_report(runs, tmp_path / "out2").read_text()
    assert "Test `nll_iwae_bpd`" in report and "compares proposals" in report


def test_a_metric_scored_with_different_settings_is_flagged_under_the_table(tmp_path):
    # was: AIS on 50 images beside AIS on 20 (and other estimator settings), with nothing to
    # say so anywhere in the report
    a = fake_run(tmp_path, "a", 0, {"nll_ais_bpd": 1.6, "mse_per_pixel_01": 0.01})
    b = fake_run(tmp_path, "b", 0, {"nll_ais_bpd": 1.7, "mse_per_pixel_01": 0.02},
                 latent_dim=16)
    res = json.loads((b / "results.json").read_text())
    res["metrics"]["nll_ais_bpd"]["n"] = 20
    (b / "results.json").write_text(json.dumps(res))
    report = write_report([a, b], tmp_path / "out").read_text()
    assert "**`nll_ais_bpd` was scored with different settings**: a: n = 100, seed = 10; b: " \
           "n = 20, seed = 10." in report
    assert "`mse_per_pixel_01` was scored with different" not in report  # alike: no warning


def test_the_epochs_column_is_the_epochs_trained(tmp_path):
    # was train.epochs from the config: a run stopped at epoch 1 of 2 read as 2
    run = fake_run(tmp_path, "r", 0, {"fd_classifier": 1.0})
    (run / "metrics.jsonl").write_text(json.dumps({"split": "test", "epoch": 1, "step": 5}))
    assert summarize_run(run)["epochs"] == "1 of 2"


def test_runs_of_the_same_seeds_are_not_pooled_as_seeds(tmp_path):
    # was one "seeds = 2" row with every spread 0: a run repeated is not another seed
    runs = [fake_run(tmp_path, "a", 0, {"fd_classifier": 1.0}),
            fake_run(tmp_path, "b", 0, {"fd_classifier": 1.0})]
    rows = table_rows(write_report(runs, tmp_path / "out").read_text())[1:]
    assert len(rows) == 2


def test_the_data_column_names_what_changed_the_training_set(tmp_path):
    run = fake_run(tmp_path, "m", 0, {"fd_classifier": 1.0})
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["data"] |= {"mask": "patches:4:0.5", "noise_fraction": 0.2, "holdout_class": 7}
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert summarize_run(run)["data"] == ("digits without class 7, masked patches:4:0.5, "
                                          "noise 0.2")


def test_the_epochs_column_says_a_run_stopped_early(tmp_path):
    # was "7 of 12", as for a run interrupted at epoch 7
    run = fake_run(tmp_path, "r", 0, {"mse_per_pixel_01": 0.1})
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    cfg["train"].update(epochs=12, patience=2)
    cfg["data"]["val_size"] = 100
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    records = [{"split": split, "epoch": e, "step": 10 * e, "train_seconds": 1.0 * e,
                "mse_per_pixel_01": 0.1, **({"best_epoch": 5} if split == "val" else {})}
               for e in range(1, 8) for split in ("test", "val")]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = write_report([run], tmp_path / "out").read_text()
    assert "| 7 of 12 (stopped early; best epoch 5) |" in report
    records[-1]["best_epoch"] = 6  # one epoch since the best: not stopped by patience 2
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    report = write_report([run], tmp_path / "out2").read_text()
    assert "| 7 of 12 |" in report
