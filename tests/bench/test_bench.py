"""`lae bench` end to end at the tiny size (seconds): the files, the JSON's keys (units in their
names, strict JSON), and the refusals. Speed is never asserted: only that it was measured."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from lae.bench.profile import MEMORY_EVENT, STEP_LABEL, cpu_memory_per_step
from lae.bench.suite import WRITTEN
from lae.cli import main

MODELS = "vae,lae+model.mala_steps=0"
PROFILE_KEYS = {"aten_ops_per_step", "aten_ops_all_depths_per_step", "matmuls_per_step",
                "matmul_flops_per_step",
                "host_syncs_per_step", "cpu_peak_bytes_above_step_start",
                "cpu_alloc_bytes_per_step", "cuda_peak_allocated_bytes",
                "cuda_peak_bytes_above_step_start"}
QUALITY_KEYS = {"budget_seconds", "seconds", "steps", "epochs", "nll_ais_bpd",
                "nll_ais_bpd_stderr", "nll_ais_nats", "nll_ais_nats_stderr", "n_images",
                "ais_seconds", "ais_images_per_second", "ais_settings"}


def _strict_json(text: str):
    """json.loads that refuses NaN and infinities (strict JSON has none)."""
    def refuse(constant):
        raise ValueError(f"non-strict JSON constant {constant}")
    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "out"
    assert main(["bench", "--out", str(out), "--size", "tiny", "--models", MODELS,
                 "--budgets", "0.1,0.3"]) == 0
    return out


def test_writes_the_json_the_summary_and_the_plots(bench_dir):
    assert sorted(p.name for p in bench_dir.iterdir()) == sorted(WRITTEN)
    for name in WRITTEN:
        assert (bench_dir / name).stat().st_size > 0
    summary = (bench_dir / "summary.md").read_text()
    for text in ("ratio to vae (x)", "seconds/step (s)", "host syncs/step", "(MiB)",
                 "(bits/dim)", "images/s", "points/s", "speed_ratio.png", "nll_vs_seconds.png",
                 "lae+model.mala_steps=0"):
        assert text in summary


def test_json_names_machine_settings_and_units(bench_dir):
    result = _strict_json((bench_dir / "bench.json").read_text())
    assert result["lae_bench"]["command"].startswith("lae bench --out")
    assert {"cpu_count", "torch_threads", "torch_version", "device", "device_name",
            "platform"} <= set(result["machine"])
    assert result["machine"]["torch_threads"] == 1  # --threads defaults to 1
    labels = ["vae", "lae+model.mala_steps=0"]
    settings = result["settings"]
    assert settings["models"] == labels and settings["batch_size"] == 100
    assert settings["model_overrides"]["lae+model.mala_steps=0"] == ["model.mala_steps=0"]
    assert settings["size"]["name"] == "tiny" and settings["data"] == "mnist5k"
    assert settings["presets"]["vae"] == "vae-mnist5k-mlp"
    assert settings["size"]["budgets_seconds"] == [0.1, 0.3]  # --budgets replaced the size's

    speed = result["speed"]
    assert speed["time_ratio_to_vae"]["vae"] == 1.0
    for key in ("seconds_per_step_median", "time_ratio_to_vae", "seconds_per_step_per_round"):
        assert list(speed[key]) == labels
    assert all(s > 0 for s in speed["seconds_per_step_median"].values())

    for label in labels:
        profile = result["profile"][label]
        assert set(profile) == PROFILE_KEYS
        assert profile["aten_ops_per_step"] > 0 and profile["matmuls_per_step"] > 0
        assert profile["aten_ops_all_depths_per_step"] >= profile["aten_ops_per_step"]
        assert profile["matmul_flops_per_step"] > 0
        on_cpu = result["machine"]["device"] == "cpu"
        assert (profile["cuda_peak_allocated_bytes"] is None) == on_cpu
        assert profile["cpu_alloc_bytes_per_step"] > 0
    assert set(result["memory_measures"]) == PROFILE_KEYS - {
        "aten_ops_per_step", "aten_ops_all_depths_per_step", "matmuls_per_step",
        "matmul_flops_per_step", "host_syncs_per_step"}

    budgets = settings["size"]["budgets_seconds"]
    for label in labels:
        records = result["quality"][label]
        assert [r["budget_seconds"] for r in records] == budgets
        for record in records:
            assert set(record) == QUALITY_KEYS
            assert record["seconds"] >= record["budget_seconds"]
            assert record["n_images"] == settings["size"]["ais_images"]
            assert record["ais_settings"]["M"] == settings["size"]["ais_chains"]
        assert records[0]["steps"] <= records[1]["steps"]
        assert records[-1]["epochs"] == pytest.approx(records[-1]["steps"] / 45)  # 4500 / 100

    throughput = result["throughput"]
    assert throughput["model"] == "vae"
    assert throughput["ais"]["ais_images_per_second"] > 0
    reference = throughput["posterior_reference"]
    assert reference["points_per_second"] > 0
    assert reference["n_points"] == settings["size"]["posterior_points"]
    assert result["wall_seconds"] > 0


def test_refuses_a_non_empty_folder_without_overwrite(bench_dir, capsys):
    before = (bench_dir / "bench.json").read_text()
    assert main(["bench", "--out", str(bench_dir), "--size", "tiny", "--models", "vae"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--overwrite" in err and len(err.splitlines()) == 1
    assert (bench_dir / "bench.json").read_text() == before


def test_overwrite_replaces_only_its_own_files(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["bench", "--out", str(out), "--size", "tiny", "--models", "vae"]) == 2
    assert main(["bench", "--out", str(out), "--size", "tiny", "--models", "vae",
                 "--overwrite"]) == 0
    assert (out / "notes.txt").read_text() == "mine"
    assert _strict_json((out / "bench.json").read_text())["settings"]["models"] == ["vae"]


def test_overwrite_never_replaces_files_lae_did_not_write(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "summary.md").write_text("my own summary")
    assert main(["bench", "--out", str(out), "--size", "tiny", "--overwrite"]) == 2
    assert "did not write" in capsys.readouterr().err
    assert (out / "summary.md").read_text() == "my own summary"
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]


@pytest.mark.parametrize("models,message", [
    ("vae,nope", "unknown model 'nope'"),
    ("vae+mala_steps", "section.key=value"),
    ("vae+model.no_such_key=1", "no_such_key"),
    ("vae,vae", "more than once"),
])
def test_bad_models_fail_before_anything_is_written(tmp_path, capsys, models, message):
    out = tmp_path / "out"
    assert main(["bench", "--out", str(out), "--size", "tiny", "--models", models]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not out.exists()


@pytest.mark.parametrize("option,message", [
    (["--budgets", "60,30"], "increasing positive seconds"),
    (["--budgets", "0,30"], "increasing positive seconds"),
    (["--budgets", "1m"], "comma-separated seconds"),
    (["--budgets", "1e12"], "up to 604800"),  # was: accepted, trained until killed
    (["--budgets", "5,5"], "increasing positive seconds"),  # was: two identical rows
    (["--budgets", "nan"], "increasing positive seconds"),
])
def test_bad_budgets_fail_before_anything_is_written(tmp_path, capsys, option, message):
    out = tmp_path / "out"
    assert main(["bench", "--out", str(out), "--size", "tiny", *option]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_bad_threads_is_an_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:  # a parser error now: in range 0..1024
        main(["bench", "--out", str(tmp_path / "o"), "--size", "tiny", "--threads", "-1"])
    assert stop.value.code == 2 and "--threads" in capsys.readouterr().err


def _record(name, start, nbytes=0, end=None):
    return SimpleNamespace(name=lambda: name, start_ns=lambda: start,
                           end_ns=lambda: start if end is None else end,
                           nbytes=lambda: nbytes, device_type=lambda: torch.autograd.DeviceType.CPU)


def test_memory_peak_is_the_most_live_above_each_steps_start():
    records = [_record(MEMORY_EVENT, 0, 1000),  # live before the first step: not counted
               _record(STEP_LABEL, 10, end=50), _record(MEMORY_EVENT, 20, 300),
               _record(MEMORY_EVENT, 30, 200), _record(MEMORY_EVENT, 40, -500),
               _record(STEP_LABEL, 60, end=90), _record(MEMORY_EVENT, 70, 100),
               _record(MEMORY_EVENT, 75, -100), _record(MEMORY_EVENT, 80, 400)]
    peak, allocated = cpu_memory_per_step(records)
    assert peak == 400  # the second step's (the first is left out: see profile.py)
    assert allocated == (500 + 500) / 2


def test_data_dir_and_download_reach_every_model(tmp_path, monkeypatch):
    # the missing-data message names --data-dir and --download; lae bench takes both and hands
    # them to every model's data config
    import lae.bench.suite as suite

    seen = {}

    def stop(configs, *args):
        seen.update(configs)
        raise SystemExit(0)

    monkeypatch.setattr(suite, "_speed_and_profile", stop)
    with pytest.raises(SystemExit):
        main(["bench", "--out", str(tmp_path / "o"), "--size", "tiny", "--models", "vae",
              "--data-dir", str(tmp_path / "data"), "--download"])
    assert [(c.data.data_dir, c.data.download) for c in seen.values()] == [
        (str(tmp_path / "data"), True)]
