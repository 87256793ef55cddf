"""What lae promises under faults (docs/faults.md): user files are never deleted, checkpoints
never run code, a stalled or diverging chain stops loudly, torn files and killed writes are
recovered from. Each test names the defect it guards against."""

import json
import os
import shutil
import signal

import pytest
import torch

from lae.cli import main
from lae.errors import RunDirError
from lae.samplers import ChainReport
from lae.train import Trainer, load_config, load_run
from lae.train.checkpoint import load_checkpoint, save_checkpoint
from lae.train.guards import ChainStalled, TrainingDiverged
from lae.train.rundir import MANIFEST, prepare_run_dir


def _cfg(overrides, *extra, model="vae"):
    return load_config("vae-toy2d", overrides + [f"model.name={model}", *extra])


# -- 1. user files ---------------------------------------------------------------------------
def test_overwrite_leaves_a_user_folder_with_a_config_yaml_alone(tmp_path, capsys):
    """A user's project folder that happens to hold a config.yaml is not a lae run."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "config.yaml").write_text("my: settings\n")
    (project / "notes.txt").write_text("mine")
    code = main(["train", "vae-toy2d", "--out", str(project), "--overwrite",
                 "--train.epochs=1", "--train.progress=false"])
    assert code == 2 and "not a lae run directory" in capsys.readouterr().err
    assert sorted(p.name for p in project.iterdir()) == ["config.yaml", "notes.txt"]


def test_overwrite_of_the_current_folder_deletes_only_lae_files(tmp_path, monkeypatch,
                                                                  fast_overrides,
                                                                  replacing_overrides):
    """``--out . --overwrite`` used to empty the folder, then fail with EINVAL on '.'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "analysis.py").write_text("print('mine')")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "my_figure.png").write_bytes(b"png")
    args = ["train", "vae-toy2d", "--out", ".",
            *replacing_overrides([f"--{o}" for o in fast_overrides], "--train.epochs=1")]
    assert main(args) == 2  # the folder is not empty and not a run: refused
    (tmp_path / "samples" / "my_figure.png").unlink()
    (tmp_path / "samples").rmdir()
    os.remove(tmp_path / "analysis.py")
    assert main(args) == 0  # an empty folder becomes a run
    (tmp_path / "analysis.py").write_text("print('mine')")
    (tmp_path / "checkpoints" / "my_notes.txt").write_text("mine too")
    # names that only look like lae's (was: deleted, by the glob patterns inpaint/*.json,
    # inpaint/*.png and samples/samples_*.png)
    (tmp_path / "inpaint").mkdir()
    mine = [tmp_path / "inpaint" / n for n in ("README.json", "notes.png", "centre-v2.json")]
    mine += [tmp_path / "samples" / "samples_holiday.png",
             tmp_path / "anomaly" / "my-score" / "anomaly.json"]
    (tmp_path / "anomaly" / "my-score").mkdir(parents=True)
    for path in mine:
        path.write_text("mine")
    lae_written = [tmp_path / "inpaint" / "centre.json",
                   tmp_path / "inpaint" / "train-patches_4_0.5.png",
                   tmp_path / "anomaly" / "nll-iwae-vs-mnist" / "anomaly.json"]
    (tmp_path / "anomaly" / "nll-iwae-vs-mnist").mkdir()
    for path in lae_written:
        path.write_text("lae's")
    assert main(args + ["--overwrite"]) == 0
    assert (tmp_path / "analysis.py").read_text() == "print('mine')"
    assert (tmp_path / "checkpoints" / "my_notes.txt").read_text() == "mine too"
    assert all(path.read_text() == "mine" for path in mine)
    assert not any(path.exists() for path in lae_written)
    assert (tmp_path / MANIFEST).is_file() and (tmp_path / "checkpoints" / "last.pt").is_file()


def test_a_run_is_marked_with_lae_version(tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    manifest = json.loads((run / MANIFEST).read_text())
    assert manifest["lae_version"] and manifest["created_utc"] and len(manifest["run_id"]) == 32


def test_report_refuses_to_replace_a_report(tmp_path, fast_overrides, capsys):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    out = tmp_path / "rep"
    out.mkdir()
    (out / "report.md").write_text("my edited report")
    assert main(["report", str(run), "--out", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "report.md").read_text() == "my edited report"
    # --overwrite replaces a report lae wrote, not a file of the user's named report.md
    assert main(["report", str(run), "--out", str(out), "--overwrite"]) == 2
    assert (out / "report.md").read_text() == "my edited report"
    (out / "report.md").write_text("# lae report\nedited")
    assert main(["report", str(run), "--out", str(out), "--overwrite"]) == 0
    assert (out / "report.md").read_text().startswith("# lae report\n\nLog-likelihoods")


# -- 2. checkpoints never run code -----------------------------------------------------------
class _Payload:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_a_checkpoint_with_a_pickled_callable_is_refused(tmp_path, fast_overrides, capsys):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    evil = tmp_path / "evil.pt"
    payload = load_checkpoint(run / "checkpoints" / "last.pt")
    payload["extra"] = _Payload()
    torch.save(payload, evil)  # pickles os.system: loading without the guard would run it
    with pytest.raises(RunDirError, match="refusing to load checkpoint .*evil.pt"):
        load_checkpoint(evil)
    assert main(["sample", str(run), "--checkpoint", str(evil), "--out",
                 str(tmp_path / "s.png")]) == 2
    assert "refusing to load checkpoint" in capsys.readouterr().err
    torch.save([1, 2], tmp_path / "list.pt")
    with pytest.raises(RunDirError, match="not a lae checkpoint"):
        load_checkpoint(tmp_path / "list.pt")


# -- 3. a chain that never moves -------------------------------------------------------------
STALL = ["model.step_size=10", "train.stall_steps=6", "train.log_every=2", "train.epochs=3"]


def test_a_chain_that_never_accepts_stops_the_run(tmp_path, fast_overrides):
    """step_size=10 on the LAE: acceptance 0.0 on every step used to train to the end."""
    run = tmp_path / "run"
    with pytest.raises(ChainStalled, match="acceptance stayed below 0.01 for .*model.step_size=10"):
        Trainer(_cfg(fast_overrides, *STALL, "model.adapt_step=false", model="lae"),
                run).fit()


def test_a_stalled_chain_is_a_warning_in_the_log_and_results_when_asked(tmp_path,
                                                                         fast_overrides, capsys):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, *STALL, "train.on_stall=warn", model="lae"), run).fit()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    warned = [r for r in records if r["split"] == "warning"]
    assert warned and warned[0]["kind"] == "stalled_chain"
    assert "WARNING" in capsys.readouterr().out
    assert main(["eval", str(run), "--metrics", "mse", "--overwrite"]) == 0
    results = json.loads((run / "results.json").read_text())
    assert results["training_warnings"][0]["kind"] == "stalled_chain"


def test_a_collapsed_learned_step_size_is_reported_as_such(tmp_path, fast_overrides):
    # shortrun's step sizes are learned by its bound; when one collapses (as measured at K = 5 on
    # MNIST, docs/models.md) the hint must say so, not blame model.step_size
    trainer = Trainer(_cfg(fast_overrides, model="shortrun"), tmp_path / "run")
    chains = {"": ChainReport(1e-2, rule="learned")}
    trainer._watch_chains({"step_size": 1e-2}, chains, 1, 1)
    with pytest.raises(ChainStalled, match="learned by the Langevin bound"):
        trainer._watch_chains({"step_size": 1e-7}, chains, 1, 1)
    # a fixed step cannot collapse: the same fall of a fixed step is not a stall
    fixed = {"": ChainReport(1e-2)}
    trainer.chain_watch.max_step_size.clear()
    trainer._watch_chains({"step_size": 1e-2}, fixed, 1, 1)
    trainer._watch_chains({"step_size": 1e-7}, fixed, 1, 1)


# -- 4. divergence ---------------------------------------------------------------------------
@pytest.mark.parametrize("model,extra,cause", [
    ("lae", ["train.lr=1e6"], "train.lr=1e+06"),
    ("lae", ["model.step_size=1e8", "model.mh=false"], "model.step_size=1e+08 without"),
    ("vae", ["train.lr=1e6"], "train.lr=1e+06"),
    ("vae-flow", ["train.lr=1e6"], "train.lr=1e+06"),
    ("hoffman", ["train.lr=1e6"], "train.lr=1e+06"),
    ("ld", ["train.lr=1e6"], "train.lr=1e+06"),
])
def test_divergence_stops_with_the_likely_cause_and_keeps_the_checkpoint(
        tmp_path, fast_overrides, model, extra, cause):
    """lr=10 / step_size=10 without MH used to end in torch's LinAlgError from the SVD. The lr
    cases resume a healthy run with the bad lr; the step size is chain state restored from a
    checkpoint, so that case starts afresh."""
    run = tmp_path / "run"
    resume = "lr" in cause
    if resume:
        Trainer(_cfg(fast_overrides, "train.epochs=1", model=model), run).fit()
        good = (run / "checkpoints" / "last.pt").read_bytes()
    trainer = Trainer(_cfg(fast_overrides, "train.epochs=3", *extra, model=model), run,
                      resume=resume)
    with pytest.raises(TrainingDiverged, match="Likely causes") as info:
        trainer.fit()
    first = str(info.value).split("Likely causes, most likely first: ")[1]
    assert first.startswith("the learning rate" if resume else "the Langevin step size")
    assert cause in str(info.value)
    diagnostics = json.loads((run / "diagnostics.json").read_text())
    assert diagnostics["likely_causes"] and diagnostics["problem"]
    if resume:
        assert diagnostics["last_good_checkpoint"]
        assert (run / "checkpoints" / "last.pt").read_bytes() == good
        assert all(torch.isfinite(p).all() for p in load_run(run).model.parameters())


# -- 5. a torn metrics.jsonl -----------------------------------------------------------------
def test_a_torn_last_metrics_line_is_dropped_on_resume_and_report(tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    with (run / "metrics.jsonl").open("a") as f:
        f.write('{"split": "train", "epoch": 2, "st')  # a crash mid-write
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 0
    with pytest.warns(UserWarning, match="incomplete"):
        Trainer(_cfg(fast_overrides, "train.epochs=2"), run, resume=True).fit()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert all(json.loads(line) for line in lines)


def test_a_damaged_middle_metrics_line_is_an_error_naming_the_line(tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[1] = "garbage"
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunDirError, match="metrics.jsonl, line 2"):
        Trainer(_cfg(fast_overrides, "train.epochs=2"), run, resume=True)


# -- 6. config errors before anything is written; SIGINT in a checkpoint write ---------------
def test_a_model_config_error_leaves_no_run_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--model.name=lae",
                 "--model.ald_steps=0"]) == 2
    assert not run.exists()


def test_ctrl_c_during_a_checkpoint_write_finishes_the_write(tmp_path, fast_overrides,
                                                             monkeypatch):
    """SIGINT inside torch.save used to tear the zip writer (a traceback and a .tmp file)."""
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    payload = load_checkpoint(run / "checkpoints" / "last.pt")
    real_save = torch.save

    def interrupted_save(obj, f, *args, **kwargs):
        signal.raise_signal(signal.SIGINT)  # Ctrl-C arrives mid-write
        real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(run, {**payload, "epoch": 2}, 2, keep=0)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == 2
    assert not list((run / "checkpoints").glob(".*.tmp"))


# -- 7. leftovers ----------------------------------------------------------------------------
def test_resume_removes_half_written_checkpoints(tmp_path, fast_overrides):
    run = tmp_path / "run"
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run).fit()
    stale = run / "checkpoints" / ".epoch_0002.pt.abc123.tmp"
    stale.write_bytes(b"\0" * 1000)  # what a kill during torch.save leaves
    Trainer(_cfg(fast_overrides, "train.epochs=2"), run, resume=True).fit()
    assert not stale.exists()


def test_resume_before_the_first_checkpoint_says_to_overwrite(tmp_path, fast_overrides):
    run = tmp_path / "run"
    prepare_run_dir(run, resume=False, overwrite=False)  # a run killed during epoch 1
    (run / "config.yaml").write_text("{}\n")
    with pytest.raises(RunDirError, match="stopped before the end of its first epoch.*--overwrite"):
        Trainer(_cfg(fast_overrides), run, resume=True)
    Trainer(_cfg(fast_overrides, "train.epochs=1"), run, overwrite=True).fit()


def test_divergence_is_decided_by_the_state_not_by_the_error_text(tmp_path, fast_overrides,
                                                                  monkeypatch):
    # an error that merely mentions "nan" while every parameter and buffer is finite is a bug
    # and keeps its traceback; the same error with a non-finite parameter is divergence
    trainer = Trainer(_cfg(fast_overrides, "train.epochs=1"), tmp_path / "run")

    def failing_step(*args, **kwargs):
        raise ValueError("invalid values: nan (a message, not a state)")

    monkeypatch.setattr(trainer.model, "training_step", failing_step)
    with pytest.raises(ValueError, match="a message, not a state"):
        trainer.fit()
    trainer = Trainer(_cfg(fast_overrides, "train.epochs=1"), tmp_path / "run2")
    monkeypatch.setattr(trainer.model, "training_step", failing_step)
    with torch.no_grad():
        next(trainer.model.parameters()).fill_(float("inf"))
    with pytest.raises(TrainingDiverged, match="a message, not a state"):
        trainer.fit()


def test_a_symlinked_checkpoint_folder_is_refused_not_written_through(tmp_path, fast_overrides,
                                                                      replacing_overrides):
    """--overwrite of a run whose checkpoints/ linked into another run replaced that run's
    checkpoints."""
    args = ["train", "vae-toy2d", *replacing_overrides([f"--{o}" for o in fast_overrides],
                                              "--train.epochs=1")]
    other, run = tmp_path / "other", tmp_path / "run"
    assert main(args + ["--out", str(other)]) == 0
    assert main(args + ["--out", str(run)]) == 0
    before = (other / "checkpoints" / "last.pt").read_bytes()
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").symlink_to(other / "checkpoints")
    for flag in ("--overwrite", "--resume"):
        assert main(args + ["--out", str(run), flag]) == 2
    assert (other / "checkpoints" / "last.pt").read_bytes() == before


def test_a_stall_warning_counts_the_whole_stalled_stretch():
    # a chain stuck from step 1: warned at 14 steps (stall_steps 10), then again at 28, which
    # says 28 (round 9: it said 14 again, the count restarted by the first warning)
    from lae.samplers import ChainReport
    from lae.train.config import TrainConfig
    from lae.train.guards import ChainWatch

    watch = ChainWatch(TrainConfig(stall_steps=10))
    chains = {"": ChainReport(0.1, 0.0, "fixed")}
    record = {"acceptance": 0.0}
    first = watch.problems(record, chains, 14)
    watch.restart_counts()
    assert "for 14 steps" in first[0]
    assert watch.problems(record, chains, 7) == []  # 7 since the warning: not yet
    second = watch.problems(record, chains, 7)
    assert "for 28 steps" in second[0]
    assert watch.problems({"acceptance": 0.5}, chains, 7) == []  # it moves again: counts reset
    watch.restart_counts()
    assert watch.stalled_run == {"acceptance": 0}
