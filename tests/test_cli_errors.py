"""Mistakes and accidents that used to end in a traceback: each is now one ``error:`` line (exit
status 2), or for a stop signal the resume hint, with nothing of the user's lost."""

import errno
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from lae.cli import main

TINY = ["--data.n_toy=200", "--train.eval_size=20", "--train.eval_k=2", "--train.n_samples=16",
        "--train.progress=false", "--model.net.hidden=8", "--train.batch_size=50"]


def _error(capsys):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    run = tmp_path_factory.mktemp("errors") / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1", *TINY]) == 0
    return run


@pytest.mark.parametrize("name", ["grid", "grid.foo"])
def test_sample_out_needs_a_picture_suffix(run, tmp_path, capsys, name):
    assert main(["sample", str(run), "--out", str(tmp_path / name)]) == 2
    assert "expected a picture file ending in .png" in _error(capsys)


def test_an_absurd_sample_count_is_refused_before_drawing(run, tmp_path, capsys):
    # -n is at most 10,000 (one grid picture): refused by the parser, before any drawing
    with pytest.raises(SystemExit) as info:
        main(["sample", str(run), "-n", "100000000000", "--out", str(tmp_path / "g.png")])
    assert info.value.code == 2 and "<= 10000" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()


def test_report_out_onto_a_file(run, tmp_path, capsys):
    target = tmp_path / "notes.txt"
    target.write_text("mine")
    assert main(["report", str(run), "--out", str(target)]) == 2
    assert "is a file" in _error(capsys) and target.read_text() == "mine"


def test_train_out_below_a_file_is_an_error_line(tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "file" / "run"), *TINY]) == 2
    assert "file" in _error(capsys)


def test_a_full_disk_while_training_keeps_the_checkpoint_and_says_how_to_go_on(
        tmp_path, capsys, monkeypatch):
    import lae.train.trainer as trainer

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "checkpoints/last.pt")

    monkeypatch.setattr(trainer, "save_checkpoint", full)
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "run"), "--train.epochs=1",
                 *TINY]) == 2
    err = _error(capsys)  # at the first epoch's checkpoint: none kept, so no --resume
    assert "No space left on device" in err and "--overwrite" in err
    # the epoch's records went with its checkpoint: no test record of an epoch never saved
    records = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert '"split": "test"' not in records


@pytest.mark.parametrize("override,message", [
    ("--train.device=mps", "mps was asked for"),
    ("--train.device=xla", "is not supported"),
    ("--model.latent_dim=2000000000", "model.latent_dim=2000000000 is too large"),
    ("--model.net.hidden=1000000", "or model.net.hidden (1000000)"),  # in range, too big
])
def test_devices_and_sizes_that_cannot_work_are_refused_before_the_folder(tmp_path, capsys,
                                                                          override, message):
    if override.endswith("mps"):
        import torch

        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            pytest.skip("this machine has an MPS device")
    tiny = [a for a in TINY if a.partition("=")[0] != override.partition("=")[0]]
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "run"), override, *tiny]) == 2
    assert message in _error(capsys) and not (tmp_path / "run").exists()


def test_eval_of_a_run_whose_data_changed_says_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    path = tmp_path / "points.npz"
    np.savez(path, x_train=rng.normal(size=(60, 3)).astype("float32"),
             x_test=rng.normal(size=(20, 3)).astype("float32"))
    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--data.name=npz", f"--data.path={path}", "--out",
                 str(run), "--train.epochs=1", *TINY[1:]]) == 0
    np.savez(path, x_train=rng.normal(size=(60, 4)).astype("float32"),
             x_test=rng.normal(size=(20, 4)).astype("float32"))
    assert main(["eval", str(run), "--metrics", "mse"]) == 2
    assert "the dataset changed since training" in _error(capsys)


def _sigterm_when(argv: list[str], ready, stop: int = signal.SIGTERM) -> tuple[int, str]:
    """Run ``lae ARGV`` in a new process, send it ``stop`` (SIGTERM) once ``ready()`` holds (it
    must not end first); its exit status and stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "lae.cli", *argv],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not ready():
            assert proc.poll() is None and time.monotonic() < deadline, "it ended early"
            time.sleep(0.05)
        proc.send_signal(stop)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    return proc.returncode, err


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
@pytest.mark.parametrize("stop", ["SIGTERM", "SIGHUP"])  # SIGHUP: a closed terminal (was rc 129,
def test_sigterm_stops_training_like_ctrl_c_with_the_resume_hint(tmp_path, stop):  # no word)
    run = tmp_path / "run"
    code, err = _sigterm_when(
        ["train", "vae-toy2d", "--out", str(run), "--train.epochs=1000", "--data.n_toy=2000",
         "--train.progress=false", "--train.eval_size=20", "--train.eval_k=2",
         "--train.n_samples=16"], (run / "checkpoints" / "last.pt").exists,
        getattr(signal, stop))
    assert code == 130, err
    assert "interrupted" in err and "--resume" in err and "Traceback" not in err


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_a_stop_before_the_first_epoch_ended_says_to_start_again_not_to_resume(tmp_path):
    # was: "continue from the last finished epoch with ... --resume", which then failed
    run = tmp_path / "run"
    code, err = _sigterm_when(
        ["train", "vae-toy2d", "--out", str(run), "--train.epochs=2", "--data.n_toy=1000000",
         "--train.progress=false"], (run / "metrics.jsonl").exists)  # training has started
    assert not (run / "checkpoints" / "last.pt").exists()
    assert code == 130 and "nothing was kept" in err and "--overwrite" in err, err
    assert "--resume" not in err
    # the command to start again is the user's own, overrides included (was: the preset alone,
    # which trained another run)
    assert "--train.epochs=2 --data.n_toy=1000000 --train.progress=false" in err, err


@pytest.mark.skipif(os.name != "posix", reason="SIGTERM")
def test_sigterm_of_any_command_is_an_interruption_that_leaves_no_empty_folder(run, tmp_path):
    # was: exit 143 without a word, the empty --out folder left behind
    out = tmp_path / "new" / "r.json"
    started = []

    def working():  # the results folder is made before the work; then a second of it
        if out.parent.exists() and not started:
            started.append(time.monotonic())
        return bool(started) and time.monotonic() - started[0] > 1

    code, err = _sigterm_when(["eval", str(run), "--metrics", "nll-ais", "--ais-temps",
                               "1000000", "--ais-chains", "64", "--out", str(out)], working)
    assert code == 130 and "interrupted" in err and "Traceback" not in err, err
    assert not (tmp_path / "new").exists()


@pytest.mark.parametrize("argv,flag", [
    (["anomaly", "RUN", "--score", "nll-iwae", "--k", "0"], "--k"),
    (["anomaly", "RUN", "--k", "-5"], "--k"),
    (["anomaly", "RUN", "--refine-steps", "-5"], "--refine-steps"),
    (["anomaly", "RUN", "--refine-steps", "0"], "--refine-steps"),
    (["anomaly", "RUN", "--k", "100000000"], "--k"),  # ran for hours per image, no bound
    (["anomaly", "RUN", "--refine-steps", "100000000"], "--refine-steps"),
    (["sample", "RUN", "-n", "100000000", "--out", "x.png"], "-n"),  # one grid of 1e8 images
    # a seed torch cannot take was an overflow traceback
    (["sample", "RUN", "--seed", "100000000000000000000000", "--out", "x.png"], "--seed"),
    (["inpaint", "RUN", "--seed", "100000000000000000000000"], "--seed"),
    (["anomaly", "RUN", "--seed", "-1"], "--seed"),
    (["anomaly", "RUN", "--n-examples", "-3"], "--n-examples"),
    (["inpaint", "RUN", "--steps", "-5"], "--steps"),
    (["inpaint", "RUN", "--steps", "100000000"], "--steps"),  # ran with no bar, memory growing
    (["inpaint", "RUN", "--step-size", "0"], "--step-size"),
    (["inpaint", "RUN", "--step-size", "-1"], "--step-size"),
    (["inpaint", "RUN", "--step-size", "nan"], "--step-size"),
    (["inpaint", "RUN", "--n-examples", "-1"], "--n-examples"),
    (["sample", "RUN", "-n", "0", "--out", "x.png"], "-n"),
    (["train", "vae-toy2d", "--out", "r", "--nproc", "100000"], "--nproc"),
    (["train", "vae-toy2d", "--out", "r", "--nproc", "0"], "--nproc"),
])
def test_numeric_options_out_of_range_fail_before_any_work(argv, flag, capsys, tmp_path,
                                                            monkeypatch):
    # checked by the parser: nothing is read, trained or written (RUN does not even exist)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}" in err and "expected" in err
    assert not any(tmp_path.iterdir())


def test_messages_that_misled_now_say_what_is_wrong_and_where(tmp_path, capsys):
    """Three messages the probes found misleading, each checked for what it names."""
    import yaml

    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1", *TINY]) == 0
    capsys.readouterr()
    # --checkpoint best on a run trained without train.patience: said only "no checkpoint"
    assert main(["eval", str(run), "--checkpoint", "best", "--metrics", "mse"]) == 2
    err = _error(capsys)
    assert "train.patience" in err and "--checkpoint last" in err
    # a last.pt that is a folder: said "no checkpoint ...; available: ..., last.pt"
    other = tmp_path / "other"
    (other / "checkpoints" / "last.pt").mkdir(parents=True)
    (other / "config.yaml").write_text((run / "config.yaml").read_text())
    assert main(["eval", str(other), "--metrics", "mse"]) == 2
    assert "is a folder, not a file" in _error(capsys)
    # an unknown key in the run's config.yaml on --resume: reported as if it were an override
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["model"]["bogus_key"] = 1
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    assert main(["train", "vae-toy2d", "--out", str(run), "--resume", "--train.epochs=2"]) == 2
    err = _error(capsys)
    assert str(run / "config.yaml") in err and "model.bogus_key" in err


def test_a_disk_that_fills_inside_the_checkpoint_writer_is_one_error_line(
        tmp_path, capsys, monkeypatch):
    """A full disk met by torch's own zip writer became its RuntimeError ("enforce fail at
    inline_container.cc"), a traceback the CLI did not catch (reproduced on a 3 MB tmpfs).
    Simulated: a file lae opens for atomic writing takes 1,000 bytes, then every write fails
    with ENOSPC, as on a disk that fills in the middle of a checkpoint."""
    import lae.files

    real_fdopen = os.fdopen

    class FullDisk:
        def __init__(self, f):
            self.f, self.room = f, 1000

        def write(self, data):
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(data)
            return self.f.write(data)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1", *TINY]) == 0
    capsys.readouterr()
    monkeypatch.setattr(lae.files.os, "fdopen", lambda *a, **k: FullDisk(real_fdopen(*a, **k)))
    assert main(["train", "vae-toy2d", "--out", str(run), "--resume", "--train.epochs=2"]) == 2
    err = _error(capsys)
    # the file, the system's words, and the way on from the checkpoint that was kept (the
    # run's config.yaml, written back as the resume starts, and the epoch's pictures are written
    # whole before its checkpoint, so one of them may fill it)
    assert "No space left on device" in err and "--resume" in err
    assert any(f"{name}: No" in err for name in ("epoch_0002.pt", "samples_0002.png",
                                                  "config.yaml"))
    assert "epoch_0001" not in err and (run / "config.yaml").read_text().startswith("data:")
    for folder in (".", "checkpoints", "samples"):  # no half-written file
        assert not list((run / folder).glob(".*.tmp"))
    assert not (run / "samples" / "samples_0002.png").exists()
    # a disk full before the first checkpoint: nothing to resume, and the message says so
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "new"), "--train.epochs=1",
                 *TINY]) == 2
    err = _error(capsys)
    assert "No space left on device" in err and "no checkpoint was written yet" in err


def test_the_memory_check_respects_the_cgroup_limit(tmp_path, capsys, monkeypatch):
    """In a 3 GB cgroup (docker --memory, SLURM --mem) a model needing far more passed the check
    against the host's free memory and was killed by the kernel without a word."""
    import lae.train.setup as setup

    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    limit.write_text(f"{3 * 2**30}\n")
    usage.write_text(f"{2**28}\n")
    monkeypatch.setattr(setup, "CGROUP_MEMORY_FILES", ((limit, usage),))
    host = setup._available_memory(torch.device("cpu"))
    assert host == 3 * 2**30 - 2**28  # the cgroup's room, below this machine's free memory
    # about 4 GiB for weights, gradients and Adam's moments: fits the host, not the cgroup
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "run"),
                 "--model.net.hidden=16000", "--model.net.depth=2", *TINY[:-2]]) == 2
    err = _error(capsys)
    assert "memory limit (its cgroup" in err and "model.net.hidden" in err
    assert not (tmp_path / "run").exists()
    limit.write_text("max\n")  # no limit: the host's free memory alone
    assert setup._cgroup_room() is None


def test_compile_without_a_compiler_is_refused_before_the_run_folder(tmp_path, capsys,
                                                                     monkeypatch):
    """train.compile=true without a C++ compiler was torch's InductorError at the first step,
    after the run folder was made."""
    import shutil

    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    assert main(["train", "vae-toy2d", "--out", str(tmp_path / "run"), "--train.compile=true",
                 "--train.device=cpu", *TINY]) == 2
    err = _error(capsys)
    assert "train.compile=true needs a C++ compiler" in err and "train.compile=false" in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv", [
    ["train", "vae-toy2d"], ["eval", "RUN"], ["report", "RUN"], ["sample", "RUN"], ["bench"],
    ["anomaly", "RUN"], ["inpaint", "RUN"], ["toy", "posterior"]])
def test_an_empty_out_is_refused_not_taken_as_the_current_folder(argv, tmp_path, capsys,
                                                                 monkeypatch):
    # was: --out '' (an unset $RUN) named the current folder, in which lae train would train
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--out", ""])
    assert stop.value.code == 2
    assert "--out: an empty path" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_resume_without_a_usable_last_checkpoint_says_how_to_resume(run, tmp_path, capsys):
    # were: "the run stopped before its first epoch; start again with --overwrite" (which
    # deletes the epoch checkpoints it kept) and "use another checkpoint (--checkpoint)", a
    # flag lae train does not have
    import shutil

    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    last = copy / "checkpoints" / "last.pt"
    resume = ["train", "vae-toy2d", "--out", str(copy), "--resume", "--train.epochs=2", *TINY]
    for damage in (lambda: last.unlink(), lambda: last.write_bytes(b""),
                   lambda: last.write_bytes(b"garbage")):
        damage()
        assert main(resume) == 2
        err = _error(capsys)
        assert f"copy {copy / 'checkpoints' / 'epoch_0001.pt'} to {last}" in err, err
        assert "--overwrite" not in err and "--checkpoint" not in err, err
    shutil.copy(copy / "checkpoints" / "epoch_0001.pt", last)  # as the message says
    assert main(resume) == 0


def test_an_out_lae_cannot_create_is_named_without_overwrite_advice(tmp_path, capsys):
    # were: "train again with --overwrite" (no folder was made, so it changes nothing) and, for
    # a dangling link, "File exists"
    (tmp_path / "afile").write_text("mine")
    (tmp_path / "link").symlink_to(tmp_path / "missing")
    for out, message in ((tmp_path / "afile" / "run", "no run folder was made"),
                         (tmp_path / "link", "is a symbolic link to")):
        assert main(["train", "vae-toy2d", "--out", str(out), "--train.epochs=1", *TINY]) == 2
        err = _error(capsys)
        assert message in err and "--overwrite" not in err, err
    assert (tmp_path / "afile").read_text() == "mine" and not (tmp_path / "missing").exists()


def test_a_batch_wider_than_the_training_data_is_said(tmp_path):
    # was: --train.batch_size=100000 on 1,497 images trained one batch of 1,497 a step without
    # a word (on several processes it is an error: no full global batch); a warning is one
    # "warning:" line on the command line, not Python's file:line and source
    done = subprocess.run([sys.executable, "-m", "lae.cli", "train", "vae-toy2d", "--out",
                           str(tmp_path / "run"), "--train.epochs=1", *TINY[:-1],
                           "--train.batch_size=1000"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert ("warning: train.batch_size=1000 is more than the 200 training examples"
            in done.stderr), done.stderr
    assert "UserWarning" not in done.stderr and "warnings.warn" not in done.stderr


@pytest.mark.parametrize("argv,sizes", [
    (["eval", "RUN"], "--n-examples, --batch-size, --ais-chains"),
    (["sample", "RUN", "--out", "x.png"], "(-n)"),
    (["toy", "posterior"], "the sizes of lae toy posterior")])
def test_out_of_memory_names_the_commands_own_sizes(argv, sizes, capsys, monkeypatch):
    # was: one list for every command (batch size, -n, model.latent_dim, ...), options most of
    # them do not have
    import dataclasses

    import lae.cli
    import lae.toy.cli

    def oom(*args):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:127] DefaultCPUAllocator: can't "
                           "allocate memory: you tried to allocate 8000000000000 bytes")

    for name in ("eval", "sample"):
        monkeypatch.setitem(lae.cli.COMMANDS, name,
                            dataclasses.replace(lae.cli.COMMANDS[name], run=oom))
    monkeypatch.setattr(lae.toy.cli, "_posterior", oom)
    assert main(argv) == 2
    err = _error(capsys)
    assert "out of memory" in err and sizes in err, err
    assert "model.latent_dim" not in err


def test_a_reference_too_short_to_keep_a_sample_is_a_parser_error(capsys):
    # was: AttributeError after the other samplers had run (the reference keeps every 20th step)
    with pytest.raises(SystemExit) as stop:
        main(["toy", "neural", "--ref-steps", "19"])
    assert stop.value.code == 2 and "--ref-steps" in capsys.readouterr().err


@pytest.mark.parametrize("toy", ["neural", "posterior"])
def test_a_toy_whose_features_grow_as_n_squared_bounds_its_data(toy, capsys):
    # --n-data 1000000 ran for minutes without a word (ALD's features are N x 2N)
    with pytest.raises(SystemExit) as stop:
        main(["toy", toy, "--n-data", "4097"])
    assert stop.value.code == 2 and "<= 4096" in capsys.readouterr().err


@pytest.mark.parametrize("argv,flag", [
    (["toy", "convergence", "--epochs", "3"], "--epochs"),
    (["toy", "neural", "--n-data", "0"], "--n-data"),
    (["bench", "--out", "OUT", "--size", "tiny", "--threads", "100000"], "--threads"),
    (["toy", "likelihood", "--threads", "100000"], "--threads")])
def test_the_fifth_probe_rounds_parser_ranges(argv, flag, tmp_path, capsys):
    # --epochs 3 was an IndexError after the whole run; 100000 threads crashed inside torch
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / a) if a == "OUT" else a for a in argv])
    assert stop.value.code == 2 and flag in capsys.readouterr().err
    assert not (tmp_path / "OUT").exists()


@pytest.mark.parametrize("argv,message", [
    (["toy", "posterior", "--steps", "100", "--warmup", "0", "--thin", "200"], "--thin 200"),
    (["toy", "convergence", "--n-data", "20", "--batch", "100"], "--batch 100"),
    (["train", "vae-toy2d", "--out", "OUT", "--train.num_threads=100000"], "0..1024"),
    (["bench", "--out", "OUT", "--size", "tiny", "--device", "cuda"], "no CUDA device"),
    # the last of a setting given twice won without a word
    (["train", "vae-toy2d", "--out", "OUT", "--train.epochs=3", "--train.epochs=1"],
     "given twice")])
def test_the_fifth_probe_rounds_settings_fail_before_any_work(argv, message, tmp_path, capsys):
    # --thin above --steps was an AttributeError; --device cuda left an empty --out behind
    if "cuda" in argv and torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert main([str(tmp_path / a) if a == "OUT" else a for a in argv]) == 2
    assert message in _error(capsys)
    assert not (tmp_path / "OUT").exists()


def test_a_toy_run_twice_keeps_its_first_results_unless_told(tmp_path, capsys):
    # was: toy_out/energy.json and energy.png replaced without a word
    argv = ["toy", "energy", "--energies", "rings", "--n-chains", "10", "--feature-dim", "16",
            "--steps", "20", "--warmup", "0", "--out", str(tmp_path)]
    assert main(argv) == 0
    first = (tmp_path / "energy.json").read_bytes()
    assert main(argv) == 2 and "--overwrite" in _error(capsys)
    assert (tmp_path / "energy.json").read_bytes() == first
    assert main(argv + ["--overwrite"]) == 0


# a one-epoch run on the 8 x 8 digits, seconds on one core
DIGITS = ["--data.name=digits", "--model.net.hidden=16", "--train.epochs=1",
          "--train.eval_size=20", "--train.eval_k=2", "--train.progress=false"]


def _points_npz(path):
    """A small npz of 2-D points (100 training, 20 test) at ``path``, its folder made."""
    path.parent.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.normal(size=(100, 2)).astype(np.float32),
             x_test=rng.normal(size=(20, 2)).astype(np.float32))


def _edited_checkpoint(digits_run, folder, edit):
    """A copy of ``digits_run`` in ``folder`` whose last checkpoint was changed: ``edit`` is a
    mapping of its top-level fields to new values, or a function that edits it in place."""
    import shutil

    shutil.copytree(digits_run, folder)
    last = folder / "checkpoints" / "last.pt"
    ckpt = torch.load(last, weights_only=False)
    if isinstance(edit, dict):
        ckpt.update(edit)
    else:
        edit(ckpt)
    torch.save(ckpt, last)
    return last


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("digits") / "run"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), *DIGITS]) == 0
    return run


def test_a_result_of_one_example_merges_with_the_next(digits_run, capsys):
    # one example has no standard error (null in the file): printing the kept result was a
    # TypeError, and the new metric was lost
    for metric in ("elbo", "mse"):
        assert main(["eval", str(digits_run), "--metrics", metric, "--n-examples", "1"]) == 0
    assert "± –" in capsys.readouterr().out


@pytest.mark.parametrize("flags,message", [
    (["--metrics", "probe", "--probe-train", "1"], "hold one class"),
    (["--metrics", "interp", "--interp-steps", "1"], "--interp-steps")])
def test_metric_settings_that_cannot_work_are_an_error_line(digits_run, tmp_path, capsys, flags,
                                                           message):
    # were sklearn's and interpolate's ValueError tracebacks
    try:
        code = main(["eval", str(digits_run), *flags, "--out", str(tmp_path / "r.json")])
    except SystemExit as stop:  # a parser error
        code = stop.value.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_a_hand_edited_metric_is_named_not_dropped(digits_run, tmp_path, capsys):
    import json
    import shutil

    edited = tmp_path / "edited"
    shutil.copytree(digits_run, edited)
    assert main(["eval", str(edited), "--metrics", "mse", "--n-examples", "5"]) == 0
    results = json.loads((edited / "results.json").read_text())
    results["metrics"]["mse_per_pixel_01"]["value"] = "low"
    (edited / "results.json").write_text(json.dumps(results))
    capsys.readouterr()
    assert main(["report", str(edited), "--out", str(tmp_path / "rep")]) == 2
    assert "mse_per_pixel_01" in _error(capsys)


@pytest.mark.parametrize("preset,message", [("lae-mnist5k-mlp", "a 'vae' run"),
                                            ("no-such-preset", "no-such-preset")])
def test_resume_under_another_preset_is_said_not_ignored(run, preset, message, capsys):
    # was: the preset was ignored, and the vae run went on training as a vae
    assert main(["train", preset, "--out", str(run), "--resume", "--train.epochs=3"]) == 2
    assert message in _error(capsys)


def test_results_are_not_written_into_another_runs_folder(run, digits_run, tmp_path, capsys):
    # was: --out OTHER/results.json became that run's results, read by lae report as its own
    assert main(["eval", str(digits_run), "--metrics", "mse", "--n-examples", "5", "--out",
                 str(run / "results-of-digits.json")]) == 2
    assert f"inside the lae run {run.resolve()}" in _error(capsys)
    assert main(["anomaly", str(digits_run), "--against", "npz", "--against-path", "x.npz",
                 "--out", str(run / "ood")]) == 2
    assert "inside the lae run" in _error(capsys) and not (run / "ood").exists()


@pytest.mark.parametrize("argv,message", [
    (["eval", "DIGITS", "--set", "eval_inference=mala"], "--set eval_inference:"),
    (["train", "vae-toy2d", "--out", "OUT", "--data.binarize=yes"], "quote a word"),
    (["report", "DIGITS/config.yaml", "--out", "OUT"], "is a file; expected a run folder")])
def test_the_fifth_probe_rounds_messages(digits_run, tmp_path, capsys, argv, message):
    # were: "--set eval_inference.None" (a key never written), "expected a string, got True"
    # for YAML's yes, and "no config.yaml" for a file
    argv = [a.replace("DIGITS", str(digits_run)).replace("OUT", str(tmp_path / "o"))
            for a in argv]
    assert main(argv) == 2
    assert message in _error(capsys)


def test_resume_with_another_models_checkpoint_names_it(digits_run, tmp_path, capsys):
    # was: "cannot resume with changed settings" and 24 keys the user never changed
    import shutil

    other = tmp_path / "lae"
    assert main(["train", "lae-mnist5k-mlp", "--out", str(other), "--data.name=digits",
                 "--model.net.hidden=16", "--train.epochs=1", "--train.eval_size=5",
                 "--train.progress=false"]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    shutil.copy(other / "checkpoints" / "last.pt", copy / "checkpoints" / "last.pt")
    assert main(["train", "vae-mnist5k-mlp", "--out", str(copy), "--resume",
                 "--train.epochs=3"]) == 2
    assert "holds a 'lae' model, but its config a 'vae' one" in _error(capsys)


def test_the_sixth_probe_rounds_findings(run, digits_run, tmp_path, capsys):
    import shutil

    # an AIS whose chains accepted nothing gave a number with no warning
    assert main(["eval", str(digits_run), "--metrics", "nll-ais", "--n-examples", "3",
                 "--ais-temps", "10", "--ais-chains", "2", "--ais-step-size", "1e9", "--out",
                 str(tmp_path / "stuck.json")]) == 0
    assert "not an AIS one" in capsys.readouterr().err
    # lae sample and lae report wrote into another run's folder
    assert main(["sample", str(digits_run), "-n", "4", "--out",
                 str(run / "samples" / "samples_0009.png")]) == 2
    assert "inside the lae run" in _error(capsys)
    assert main(["report", str(digits_run), "--out", str(run / "rep")]) == 2
    assert "inside the lae run" in _error(capsys) and not (run / "rep").exists()
    # a mask that hides every value trained (and inpainted) on nothing
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "m"), "--data.name=digits",
                 "--data.mask=patches:8:0.5"]) == 2
    assert "hides every value" in _error(capsys)
    assert main(["inpaint", str(digits_run), "--mask", "patches:8:0.01", "--out",
                 str(tmp_path / "i")]) == 2
    assert "hides every value" in _error(capsys)
    # settings nothing reads
    assert main(["inpaint", str(digits_run), "--steps", "0", "--step-size", "0.5", "--out",
                 str(tmp_path / "i")]) == 2
    assert "--steps 0 runs no chain" in _error(capsys)
    assert main(["toy", "capacity", "--n", "20", "--widths", "40", "5", "5", "--out",
                 str(tmp_path / "c")]) == 2
    assert "each width once" in _error(capsys)
    # a count without a ceiling ran until stopped
    assert main(["train", "lae-mnist5k-mlp", "--out", str(tmp_path / "t"), "--data.name=digits",
                 "--model.infer_steps=100000000000"]) == 2
    assert "model.infer_steps=100000000000 is too large" in _error(capsys)
    # a path that does not exist
    assert main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "r")]) == 2
    assert "does not exist" in _error(capsys)
    # a checkpoint whose tensors do not fit its config was torch's traceback
    bad = tmp_path / "bad"
    shutil.copytree(digits_run, bad)
    ckpt = torch.load(bad / "checkpoints" / "last.pt", weights_only=False)
    name = next(iter(ckpt["model"]))
    ckpt["model"][name] = torch.zeros(3, 3, 3)
    torch.save(ckpt, bad / "checkpoints" / "last.pt")
    assert main(["eval", str(bad), "--metrics", "mse", "--n-examples", "3", "--out",
                 str(tmp_path / "b.json")]) == 2
    assert "do not fit the model its config describes" in _error(capsys)


def test_the_sixth_rounds_leftovers(digits_run, tmp_path, capsys):
    import json
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    # a folder that is not a run was told to use --resume or --overwrite, both then refused
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "mine"),
                 "--data.name=digits"]) == 2
    err = _error(capsys)
    assert "not a lae run directory" in err and "--resume" not in err
    # --set without '=' showed a training override as the example
    assert main(["eval", str(copy), "--metrics", "mse", "--set", "model.infer_steps"]) == 2
    assert "must look like model.KEY=VALUE" in _error(capsys)
    # a missing checkpoint file was reported as a path inside the run
    assert main(["eval", str(copy), "--metrics", "mse", "--checkpoint", "mine.pt"]) == 2
    assert "neither a path from the current folder nor a file in" in _error(capsys)
    # a checkpoint of NaN weights wrote null results
    ckpt = torch.load(copy / "checkpoints" / "last.pt", weights_only=False)
    name = next(k for k in ckpt["model"] if k.endswith("weight"))
    ckpt["model"][name][0] = float("nan")
    torch.save(ckpt, tmp_path / "nan.pt")
    assert main(["eval", str(copy), "--metrics", "mse", "--checkpoint", str(tmp_path / "nan.pt"),
                 "--out", str(tmp_path / "nan.json")]) == 2
    assert "non-finite values" in _error(capsys) and not (tmp_path / "nan.json").exists()
    # one checkpoint spelled two ways (absolute path; the epoch number of last.pt) merges
    assert main(["eval", str(copy), "--metrics", "mse", "--n-examples", "3"]) == 0
    assert main(["eval", str(copy), "--metrics", "elbo", "--n-examples", "3", "--checkpoint",
                 str((copy / "checkpoints" / "last.pt").absolute())]) == 0
    assert main(["eval", str(copy), "--metrics", "iwae", "--n-examples", "3", "--checkpoint",
                 "1", "--k", "2"]) == 0
    merged = json.loads((copy / "results.json").read_text())["metrics"]
    assert {"mse_per_pixel_01", "neg_elbo_nats", "nll_iwae_nats"} <= set(merged)
    # a hand-edited number in metrics.jsonl dropped its column from the report unsaid
    (copy / "results.json").unlink()
    lines = (copy / "metrics.jsonl").read_text().splitlines()
    last_test = max(i for i, line in enumerate(lines) if '"split": "test"' in line)
    record = json.loads(lines[last_test])
    key = next(k for k in record if k.endswith("_bpd"))
    lines[last_test] = json.dumps(record | {key: "low"})
    (copy / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["report", str(copy), "--out", str(tmp_path / "rep")]) == 2
    assert f"{key}='low'" in _error(capsys)
    # a run without metrics.jsonl showed "0 of N" epochs
    (copy / "metrics.jsonl").unlink()
    assert main(["report", str(copy), "--out", str(tmp_path / "rep2")]) == 0
    assert "? of 1 (no metrics.jsonl)" in (tmp_path / "rep2" / "report.md").read_text()
    # config.yaml replaced by a folder: refused before --overwrite deleted anything
    (copy / "config.yaml").unlink()
    (copy / "config.yaml").mkdir()
    assert main(["train", "vae-mnist5k-mlp", "--out", str(copy), "--overwrite",
                 "--data.name=digits"]) == 2
    assert "is not a file" in _error(capsys) and (copy / "checkpoints" / "last.pt").is_file()


@pytest.fixture(scope="module")
def lae_digits_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("lae-digits") / "run"
    assert main(["train", "lae-mnist5k-mlp", "--out", str(run), *DIGITS]) == 0
    return run


def test_the_seventh_probe_rounds_silent_findings(digits_run, lae_digits_run, tmp_path, capsys):
    import json
    import shutil

    # S1: YAML 1.1 read 016 as octal 14 and 1:30 as 90
    for value, message in (("016", "without the leading zero (16)"), ("1:30", "got '1:30'")):
        assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "o"),
                     "--data.name=digits", f"--model.latent_dim={value}"]) == 2
        assert message in _error(capsys)
    assert not (tmp_path / "o").exists()
    # S2: an evaluation-time --set that no chosen metric read was filed as applied
    assert main(["eval", str(lae_digits_run), "--metrics", "elbo", "--n-examples", "3",
                 "--set", "model.infer_steps=7", "--out", str(tmp_path / "s2.json")]) == 2
    assert "none of the metrics computed (elbo) read it" in _error(capsys)
    assert not (tmp_path / "s2.json").exists()
    assert main(["eval", str(lae_digits_run), "--metrics", "mse", "--n-examples", "3",
                 "--set", "model.infer_steps=7", "--out", str(tmp_path / "s2.json")]) == 0
    # S3: another split's results into the file lae report reads as the test split's
    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    assert main(["eval", str(copy), "--metrics", "mse", "--split", "train", "--n-examples",
                 "3", "--out", str(copy / "results.json")]) == 2
    assert "lae eval files the run's test-split results" in _error(capsys)
    # S4: another run's results.json merged into this run's
    shutil.copyfile(tmp_path / "s2.json", copy / "results.json")
    assert main(["eval", str(copy), "--metrics", "elbo", "--n-examples", "3"]) == 2
    assert "run_id" in _error(capsys)
    (copy / "results.json").unlink()
    # S7: --n-examples with bdmc alone, which scores simulated points
    assert main(["eval", str(copy), "--metrics", "bdmc", "--n-examples", "3"]) == 2
    assert "reads no test example" in _error(capsys)
    # S8: --against-data-dir without --against
    assert main(["anomaly", str(copy), "--against-data-dir", str(tmp_path)]) == 2
    assert "without --against it is read by nothing" in _error(capsys)
    # S6: toy options their sampler or estimator does not read
    assert main(["toy", "posterior", "--sampler", "mala", "--no-mh", "--n-data", "5"]) == 2
    assert "--no-mh: not read by mala" in _error(capsys)
    assert main(["toy", "likelihood", "--estimator", "ais", "--k", "50", "--n-data", "5"]) == 2
    assert "--k: not read by --estimator ais" in _error(capsys)
    # S9: --overwrite kept inpainting results of a mask written .5 (now named pixels_0.5)
    shutil.rmtree(copy)
    shutil.copytree(digits_run, copy)
    assert main(["inpaint", str(copy), "--mask", "pixels:.5", "--steps", "0",
                 "--n-examples", "3"]) == 0
    # S12: no chain ran, so no step size is recorded
    assert json.loads((copy / "inpaint" / "pixels_0.5.json").read_text()
                      )["settings"]["step_size"] is None
    assert main(["train", "vae-mnist5k-mlp", "--out", str(copy), "--overwrite", *DIGITS]) == 0
    assert not (copy / "inpaint").exists()
    # S10: each per-epoch record says how it estimated; S5: a report pooling it with a
    # results.json of other settings says so under its table
    record = [json.loads(line) for line in (copy / "metrics.jsonl").read_text().splitlines()
              if '"split": "test"' in line][-1]
    assert record["estimate"] == {"n_examples": 20, "k": 2}
    other = tmp_path / "other"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(other), *DIGITS,
                 "--train.seed=1"]) == 0
    assert main(["eval", str(other), "--metrics", "iwae", "--k", "5", "--n-examples", "3"]) == 0
    assert main(["report", str(copy), str(other), "--out", str(tmp_path / "rep")]) == 0
    assert "**`nll_iwae_nats` was scored with different settings**" in (
        tmp_path / "rep" / "report.md").read_text()


def test_an_interrupt_while_an_epoch_is_logged_leaves_records_and_checkpoint_together(
        tmp_path, monkeypatch):
    """S11 of the seventh round: an interrupt landing between an epoch's records and its
    checkpoint left records of an epoch no checkpoint held."""
    from lae.train import Trainer

    logged = Trainer._log

    def log_then_interrupt(self, record):
        logged(self, record)
        if record.get("split") == "test" and record["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C right after the record

    monkeypatch.setattr(Trainer, "_log", log_then_interrupt)
    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=5", *TINY]) == 130
    epochs = [int(line.split('"epoch": ')[1].split(",")[0])
              for line in (run / "metrics.jsonl").read_text().splitlines()
              if '"split": "test"' in line]
    assert epochs[-1] == 2 and (run / "checkpoints" / "epoch_0002.pt").is_file()


def test_the_seventh_probe_rounds_messages(digits_run, tmp_path, capsys):
    import shutil

    # T1: a data override per benchmark model was a torch traceback (and left an empty --out)
    assert main(["bench", "--out", str(tmp_path / "b"), "--size", "tiny", "--models",
                 "vae+data.name=digits"]) == 2
    assert "a benchmark's data are the suite's" in _error(capsys)
    assert not (tmp_path / "b").exists()
    # U2: data.scale=01, as documented, unquoted
    assert main(["config", "vae-mnist5k-mlp", "--data.scale=01"]) == 0
    assert "scale: '01'" in capsys.readouterr().out
    # U5: an output below a file
    (tmp_path / "afile").write_text("")
    assert main(["sample", str(digits_run), "-n", "4", "--out",
                 str(tmp_path / "afile" / "s.png")]) == 2
    assert "is a file, so nothing can be made below it" in _error(capsys)
    # U8: resuming a folder that does not exist; an epoch the run did not keep
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "does not exist" in _error(capsys)
    assert main(["eval", str(digits_run), "--metrics", "mse", "--checkpoint", "99", "--out",
                 str(tmp_path / "e.json")]) == 2
    assert "the run keeps" in _error(capsys)
    # U9: the report of a run whose config.yaml was removed, as eval's advice allows
    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    (copy / "config.yaml").unlink()
    assert main(["report", str(copy), "--out", str(tmp_path / "rep")]) == 0


def test_the_eighth_probe_rounds_findings(tmp_path, capsys):
    import json

    # fd and probe of a run trained with hidden values read its training split, NaN where
    # hidden: numpy's LinAlgError traceback; they now read the whole training images
    run = tmp_path / "masked"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), *DIGITS,
                 "--data.mask=pixels:0.5"]) == 0
    assert main(["eval", str(run), "--metrics", "fd,probe", "--fd-samples", "100",
                 "--fd-bootstrap", "2", "--out", str(tmp_path / "out" / "r.json")]) == 0
    # L1: --out naming the run's own checkpoint (or config.yaml, lae-run.json), with
    # --overwrite, replaced it with results
    before = (run / "checkpoints" / "last.pt").read_bytes()
    for own in ("checkpoints/last.pt", "config.yaml", "lae-run.json"):
        assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "3", "--out",
                     str(run / own), "--overwrite"]) == 2
        assert f"is the run's own {own}" in _error(capsys)
    assert (run / "checkpoints" / "last.pt").read_bytes() == before
    # L2: a toy's --save and --out naming one file: the report replaced the arrays
    assert main(["toy", "ebm-logz", "--replicas", "2", "--chains", "2", "--temps", "10",
                 "--save", str(tmp_path / "x.npz"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "both name" in _error(capsys) and not (tmp_path / "x.npz").exists()
    # S12: 1_0 was read as 10; S5: one energy given twice ran twice
    assert main(["config", "vae-mnist5k-mlp", "--model.latent_dim=1_0"]) == 2
    assert "got '1_0'" in _error(capsys)
    assert main(["toy", "energy", "--energies", "rings", "rings", "--out",
                 str(tmp_path / "e")]) == 2
    assert "each energy once" in _error(capsys)
    # S10: a per-epoch record named an IWAE k that a model without a proposal never read
    ld = tmp_path / "ld"
    assert main(["train", "ld-mnist5k-mlp", "--out", str(ld), *DIGITS]) == 0
    record = [json.loads(line) for line in (ld / "metrics.jsonl").read_text().splitlines()
              if '"split": "test"' in line][-1]
    assert "nll_iwae_nats" not in record and "k" not in record["estimate"]


def test_the_eighth_probe_rounds_remaining_findings(tmp_path, capsys):
    import json

    import numpy as np
    from sklearn.datasets import load_digits

    # S1: an npz file changed since training (same shape) was scored and merged unsaid; the
    # run records its data's digest, a command on other contents warns, and results.json of
    # the earlier contents is not added to
    digits = (load_digits().images * 15).astype(np.uint8)
    data = tmp_path / "dig.npz"
    np.savez(data, x_train=digits[:300], x_test=digits[300:360])
    run = tmp_path / "npz"
    npz = ["--data.name=npz", f"--data.path={data}", *DIGITS[1:]]
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), *npz]) == 0
    digest = json.loads((run / "lae-run.json").read_text())["data_digest"]
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "10"]) == 0
    assert json.loads((run / "results.json").read_text())["data_digest"] == digest
    np.savez(data, x_train=digits[:300], x_test=255 - digits[300:360])
    with pytest.warns(UserWarning, match="changed since it was trained"):
        assert main(["eval", str(run), "--metrics", "elbo", "--n-examples", "10"]) == 2
    assert "data_digest" in _error(capsys)
    # (round 9) kept in the results, for lae report's warnings
    with pytest.warns(UserWarning, match="changed since it was trained"):
        assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "10", "--out",
                     str(tmp_path / "changed.json")]) == 0
    warned = json.loads((tmp_path / "changed.json").read_text())["warnings"]
    assert any("changed since it was trained" in w for w in warned)
    with pytest.warns(UserWarning, match="changed since it was trained"):
        assert main(["inpaint", str(run), "--steps", "0", "--n-examples", "5"]) == 0
    # a resume on the changed data says so and records them
    with pytest.warns(UserWarning, match="training data changed"):
        assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                     "--train.epochs=2"]) == 0
    assert json.loads((run / "lae-run.json").read_text())["data_digest"] != digest

    # S2: a benchmark entry's train.* key that the suite sets for all or never reads
    for key in ("train.batch_size=10", "train.epochs=3", "train.seed=4"):
        assert main(["bench", "--out", str(tmp_path / "b"), "--size", "tiny", "--models",
                     f"vae+{key}"]) == 2
        assert "the training keys a model may change" in _error(capsys)
    assert not (tmp_path / "b").exists()

    # S3: inpainting float points is scored per dimension, with no PSNR
    points = tmp_path / "pts.npz"
    rng = np.random.default_rng(0)
    np.savez(points, x_train=rng.normal(size=(200, 4)).astype(np.float32),
             x_test=rng.normal(size=(30, 4)).astype(np.float32))
    pts = tmp_path / "pts"
    assert main(["train", "vae-toy2d", "--out", str(pts), "--data.name=npz",
                 f"--data.path={points}", *DIGITS[1:]]) == 0
    assert main(["inpaint", str(pts), "--mask", "pixels:0.5", "--steps", "2",
                 "--n-examples", "10"]) == 0
    metrics = json.loads((pts / "inpaint" / "pixels_0.5.json").read_text())["metrics"]
    assert "mse_missing_per_dim" in metrics and "psnr_missing_db" not in metrics
    assert not any(k.endswith("_01") for k in metrics)

    # S4: a mask spelled with a space named a file --overwrite did not know; one spelling now
    assert main(["inpaint", str(run), "--mask", "pixels: .50", "--steps", "0",
                 "--n-examples", "5", "--overwrite"]) == 0
    assert (run / "inpaint" / "pixels_0.5.json").is_file()
    assert main(["inpaint", str(run), "--mask", "pixels:0.5", "--steps", "0",
                 "--n-examples", "5"]) == 2  # the same file: refused without --overwrite
    _error(capsys)

    # S6: a YAML file's values that differ from the run's config are said not to be used
    vae = tmp_path / "vae"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(vae), *DIGITS]) == 0
    mine = tmp_path / "mine.yaml"
    mine.write_text("base: vae-mnist5k-mlp\ndata:\n  name: digits\ntrain:\n  lr: 0.01\n")
    with pytest.warns(UserWarning, match=r"not used \(.*train\.lr \(0\.001 -> 0\.01\)"):
        assert main(["train", str(mine), "--out", str(vae), "--resume",
                     "--train.epochs=2"]) == 0
    # S7: a resume that trains nothing (early stopping turned on after epochs trained without
    # validation) leaves config.yaml as it was, and says what happened
    val = tmp_path / "val"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(val), *DIGITS,
                 "--data.val_size=100"]) == 0
    config = (val / "config.yaml").read_text()
    capsys.readouterr()
    assert main(["train", "vae-mnist5k-mlp", "--out", str(val), "--resume",
                 "--train.epochs=3", "--train.patience=1"]) == 0
    out = capsys.readouterr().out
    assert "nothing to train" in out and "1 of those epochs trained without a validation" in out
    assert (val / "config.yaml").read_text() == config

    # S9: a chain stalled from step 1 of a short run is caught at the end of its first epoch
    # (the check skipped the steps before the first logging step); S8: the report shows it
    stall = tmp_path / "stall"
    assert main(["train", "lae-mnist5k-mlp", "--out", str(stall), *DIGITS,
                 "--model.step_size=10", "--train.on_stall=warn", "--train.stall_steps=2",
                 "--train.log_every=1000"]) == 0
    warned = [json.loads(line) for line in (stall / "metrics.jsonl").read_text().splitlines()
              if '"warning"' in line]
    assert warned and warned[0]["epoch"] == 1
    assert main(["report", str(stall), "--out", str(tmp_path / "rep")]) == 0
    assert "stopped moving" in (tmp_path / "rep" / "report.md").read_text()
    # (round 7) --seed of a score that draws nothing for the model is recorded as null: the
    # VAE's log-joint reads its encoder's mean; the LAE's infer(x) runs a chain
    for model_run, drawn in ((vae, False), (stall, True)):
        assert main(["anomaly", str(model_run), "--score", "log-joint", "--against", "npz",
                     "--against-path", str(data), "--seed", "3", "--n-examples", "20"]) == 0
        settings = json.loads((model_run / "anomaly" / "log-joint-vs-npz" / "anomaly.json"
                               ).read_text())["settings"]
        assert settings["seed"] == (3 if drawn else None)
    # S11: an emptied metrics.jsonl beside a finished epoch's checkpoint is not "0 of N"
    (vae / "metrics.jsonl").write_text("")
    assert main(["report", str(vae), "--out", str(tmp_path / "rep2")]) == 0
    assert "? of 2 (no test record in metrics.jsonl)" in (
        tmp_path / "rep2" / "report.md").read_text()


ENTRY_POINTS = {  # the installed command and python -m lae; python -m lae.cli (round 13)
    "launcher": "from lae.launcher import main\nsys.argv = ['lae', 'list']\nsys.exit(main())\n",
    "lae.cli.main": "sys.exit(lae.cli.main(['list']))\n"}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_while_lae_starts_is_one_line(signum, entry):
    # the command loads the CLI and builds its parsers (torch, scipy, matplotlib: a second or
    # more) with SIGINT and SIGTERM held back: a stop then ends as an interrupted command does,
    # "interrupted" and status 130, where it printed a traceback (rounds 8, 9 and 13)
    script = ("import os, sys\n"
              "import lae.cli\n"
              "build = lae.cli.build_parser\n"
              "def stopped_while_building():\n"
              f"    os.kill(os.getpid(), {int(signum)})\n"
              "    return build()\n"
              "lae.cli.build_parser = stopped_while_building\n" + ENTRY_POINTS[entry])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 130 and proc.stderr == "interrupted\n", proc.stderr
    assert proc.stdout == ""  # the command did not run


def test_the_eighth_probe_rounds_messages(digits_run, tmp_path, capsys):
    # U2: a quoted integer was told to drop a leading zero it does not have
    assert main(["config", "vae-mnist5k-mlp", '--train.epochs="3"']) == 2
    assert "without quotes (3)" in _error(capsys)
    assert main(["config", "vae-mnist5k-mlp", '--train.epochs="03"']) == 2
    assert "without the leading zero (3)" in _error(capsys)
    # U6: --interp-pairs above what the examples make was capped without a word
    with pytest.warns(UserWarning, match="using all 2 pairs"):
        assert main(["eval", str(digits_run), "--metrics", "interp", "--n-examples", "4",
                     "--interp-pairs", "5", "--out", str(tmp_path / "r.json")]) == 0
    # U8: the keys are named as a config names them
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "v"), *DIGITS,
                 "--data.holdout_class=11"]) == 2
    assert "data.holdout_class=11" in _error(capsys)
    # U11: another run's checkpoint scored through a run recorded that run's run_id
    other = tmp_path / "other"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(other), *DIGITS]) == 0
    assert main(["eval", str(digits_run), "--checkpoint", str(other / "checkpoints" / "last.pt"),
                 "--metrics", "mse", "--n-examples", "5", "--out", str(tmp_path / "o.json")]) == 0
    import json
    assert json.loads((tmp_path / "o.json").read_text())["run_id"] is None


def test_the_ninth_probe_rounds_findings(digits_run, tmp_path, capsys):
    import json
    import shutil

    train = ["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "t"), *DIGITS]
    # T2, X1: prior and likelihood options out of range ended in torch/zuko/math errors, or
    # built for hours (10^6 flow transforms); now errors naming the option
    for option, message in (("--model.prior_options={transforms: 0}", "transforms must be"),
                            ("--model.prior_options={transforms: 1000000}", "transforms"),
                            ("--model.prior_options={hidden: 0}", "hidden must be")):
        assert main([*train, "--model.prior=flow", option]) == 2
        assert message in _error(capsys)
    for option, message in (("--model.likelihood_options={init_log_scale: 1000}", "[-50, 50]"),
                            ("--model.likelihood_options={per_dim: 5}", "true or false"),
                            ("--model.likelihood_options={min_scale: .inf}", "finite")):
        assert main([*train, option]) == 2
        assert message in _error(capsys)
    # S3: a noise fraction that replaces no value; S4: a compile mode without compiling;
    # S6: an underscore in a float was read as a digit separator
    for option, message in (("--data.noise_fraction=0.001", "replaces round(0.001 x 64) = 0"),
                            ("--train.compile_mode=max-autotune", "train.compile is false"),
                            ("--train.lr=1_0e-3", "expected a number, got '1_0e-3'")):
        assert main([*train, option]) == 2
        assert message in _error(capsys)
    assert not (tmp_path / "t").exists()
    # T3, T4: the toys' counts that broke after the work
    assert main(["toy", "neural", "--n-data", "2", "--steps", "20", "--warmup", "5",
                 "--ref-steps", "40", "--out", str(tmp_path / "n")]) == 0
    assert (tmp_path / "n" / "neural_posteriors.png").is_file()
    with pytest.raises(SystemExit):
        main(["toy", "energy", "--n-chains", "1", "--out", str(tmp_path / "e")])
    assert "expected an integer >= 2" in capsys.readouterr().err
    # L1: lae sample over the run's own pictures (training's) replaced them
    loss = next((digits_run / "plots").glob("*.png"))
    before = loss.read_bytes()
    assert main(["sample", str(digits_run), "--out", str(loss), "--overwrite"]) == 2
    assert "is the run's own plots/" in _error(capsys) and loss.read_bytes() == before
    # S1: a key given twice in one benchmark entry
    assert main(["bench", "--out", str(tmp_path / "b"), "--size", "tiny", "--models",
                 "vae+train.lr=0.01+train.lr=0.02"]) == 2
    assert "given twice" in _error(capsys)
    # S2: a preset named on --resume whose values differ from the run's is said not to be used
    # (only the keys the preset sets: not the defaults it leaves)
    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    with pytest.warns(UserWarning, match=r"vae-fashion-mnist-mlp that differ.*data\.name") as w:
        assert main(["train", "vae-fashion-mnist-mlp", "--out", str(copy), "--resume",
                     "--train.epochs=2"]) == 0
    assert "train.stall_steps" not in str(w[0].message)
    # U1: --data=... was taken as an abbreviation of --data-dir, not as the data section
    section = tmp_path / "section"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(section), "--data={name: digits}",
                 *DIGITS[1:]]) == 0
    assert "name: digits" in (section / "config.yaml").read_text()
    # U6: the toy posterior's option is named as it is spelled
    assert main(["toy", "posterior", "--n-data", "5", "--steps", "10", "--warmup", "2",
                 "--save-samples", str(tmp_path / "p.npz"), "--out", str(tmp_path / "p.npz")]) == 2
    assert "--save-samples and --out both name" in _error(capsys)
    # U7: a ../ spelling of the run's own checkpoint is that checkpoint
    (copy / "results.json").unlink(missing_ok=True)  # (the shared run's, from other tests)
    assert main(["eval", str(copy), "--metrics", "mse", "--n-examples", "5"]) == 0
    other_spelling = copy / ".." / copy.name / "checkpoints" / "last.pt"
    assert main(["eval", str(copy), "--checkpoint", str(other_spelling), "--metrics", "elbo",
                 "--n-examples", "5"]) == 0
    assert {"mse_per_pixel_01", "neg_elbo_nats"} <= set(
        json.loads((copy / "results.json").read_text())["metrics"])
    # S5: inpainting a run trained with hidden values had no mean-fill baseline (NaN means)
    masked = tmp_path / "masked"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(masked), *DIGITS,
                 "--data.mask=pixels:0.5"]) == 0
    assert main(["inpaint", str(masked), "--steps", "0", "--n-examples", "5"]) == 0
    baseline = json.loads((masked / "inpaint" / "centre.json").read_text()
                          )["metrics"]["mean_fill_mse_missing_01"]
    assert baseline["n"] == 5 and baseline["value"] > 0


def test_a_stop_swallowed_by_a_finalizer_still_stops_training(tmp_path, capsys):
    # a KeyboardInterrupt raised by the signal handler inside a weakref callback or finalizer
    # is printed as "Exception ignored" and dropped (seen under load: training went on for
    # 1000 epochs); the handler records the stop, and the next training step raises it
    from lae import interrupts
    from lae.train import trainer

    steps = {"n": 0}
    real = trainer.Trainer.train_step

    def step_then_stop_swallowed(self, x, index):
        steps["n"] += 1
        if steps["n"] == 3:  # the handler ran inside a finalizer: its raise was lost
            try:
                interrupts.request_stop(15, None)
            except KeyboardInterrupt:
                pass
        return real(self, x, index)

    run = tmp_path / "run"
    try:
        trainer.Trainer.train_step = step_then_stop_swallowed
        code = main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=50",
                     "--train.progress=false", "--train.eval_size=20", "--train.eval_k=2"])
    finally:
        trainer.Trainer.train_step = real
    assert code == 130 and steps["n"] == 3
    assert "interrupted" in capsys.readouterr().err


def test_the_tenth_probe_rounds_findings(digits_run, tmp_path, capsys):
    train = ["train", "vae-toy2d", "--out", str(tmp_path / "t"), "--train.epochs=1",
             "--train.progress=false"]
    # T1: a likelihood option YAML reads as text (1e-1) ended in a TypeError; text that spells a
    # number is the number, anything else an error naming the option
    assert main([*train, "--model.likelihood_options={sigma: 1e-1}"]) == 0
    assert main([*train, "--overwrite", "--model.likelihood_options={sigma: [0.1]}"]) == 2
    assert "model.likelihood_options.sigma: expected a number" in _error(capsys)
    # X1: the flow prior's size is counted (zuko's flow cannot be built on the meta device)
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "f"), *DIGITS,
                 "--model.prior=flow", "--model.prior_options={transforms: 10, hidden: 100000}"]
                ) == 2
    assert "model.prior_options" in _error(capsys) and not (tmp_path / "f").exists()
    # L1: eval --out --overwrite replaced any file (the run's own data file): results are JSON
    data = tmp_path / "data.npz"
    data.write_bytes(b"user data")
    assert main(["eval", str(digits_run), "--metrics", "mse", "--n-examples", "3", "--out",
                 str(data), "--overwrite"]) == 2
    assert "ending in .json" in _error(capsys) and data.read_bytes() == b"user data"
    # S1: a key twice inside one {...} mapping (on one line) was taken, the last winning
    mine = tmp_path / "dup.yaml"
    mine.write_text("base: vae-mnist5k-mlp\ndata: {name: digits, name: mnist}\n")
    assert main(["config", str(mine)]) == 2
    assert "appears twice" in _error(capsys)
    # S2: a command's own option given twice kept the last (--metrics mse --metrics elbo)
    with pytest.raises(SystemExit):
        main(["eval", str(digits_run), "--metrics", "mse", "--metrics", "elbo"])
    assert "--metrics is given 2 times" in capsys.readouterr().err


def test_the_eleventh_probe_rounds_findings(digits_run, tmp_path, capsys, monkeypatch):
    import json
    import shutil

    import lae.eval.metrics
    from lae import interrupts

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    ev = ["eval", str(run), "--n-examples", "3"]
    # T1: a number beyond float32 (1e39) passed the finite-number checks, then torch.full raised
    # an overflow traceback; one below its normal range (1e-50) would have been 0
    with pytest.raises(SystemExit):  # an argparse type
        main(["inpaint", str(run), "--step-size", "1e39", "--steps", "2"])
    assert "float32's largest number" in capsys.readouterr().err
    assert main([*ev, "--metrics", "mse", "--mse-inference", "mode", "--mse-step-size", "1e39"]
                ) == 2
    assert "float32's largest number" in _error(capsys)
    for item in ("--model.prior_options={scale: 1e39}", "--model.step_size=1e-50"):
        assert main(["train", "lae-mnist5k-mlp", "--out", str(tmp_path / "t"), *DIGITS, item]
                    ) == 2
        assert "float32" in _error(capsys) and not (tmp_path / "t").exists()
    # D1: two evals of one run that finish together: the later replaced the earlier's metrics.
    # Here another eval writes while this one computes; both sets are kept
    evaluate = lae.eval.metrics.evaluate

    def meanwhile_another_eval(*args, **kwargs):
        results = evaluate(*args, **kwargs)
        monkeypatch.setattr(lae.eval.metrics, "evaluate", evaluate)  # the other eval: plain
        assert main([*ev, "--metrics", "elbo"]) == 0
        return results

    monkeypatch.setattr(lae.eval.metrics, "evaluate", meanwhile_another_eval)
    assert main([*ev, "--metrics", "mse"]) == 0
    assert {"neg_elbo_nats", "mse_per_pixel_01"} <= set(
        json.loads((run / "results.json").read_text())["metrics"])
    # S1: the run trained over (a new run_id) while an eval ran: its numbers were filed under
    # the new model; now refused, the file untouched
    before = (run / "results.json").read_text()

    def meanwhile_trained_over(*args, **kwargs):
        manifest = json.loads((run / "lae-run.json").read_text())
        (run / "lae-run.json").write_text(json.dumps({**manifest, "run_id": "another"}))
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(lae.eval.metrics, "evaluate", meanwhile_trained_over)
    assert main([*ev, "--metrics", "mse"]) == 2
    assert "trained again" in _error(capsys)
    assert (run / "results.json").read_text() == before
    monkeypatch.setattr(lae.eval.metrics, "evaluate", evaluate)
    # D2: lae report --out replaced the user's pictures of the same names (only report.md was
    # checked)
    figs = tmp_path / "figs"
    figs.mkdir()
    (figs / "run_samples.png").write_bytes(b"mine")
    assert main(["report", str(digits_run), "--out", str(figs)]) == 2
    assert "run_samples.png" in _error(capsys)
    assert (figs / "run_samples.png").read_bytes() == b"mine"
    # D3: --out --overwrite replaced a data file named .json (the run's own, here)
    data = tmp_path / "dig.json"
    np.savez(data.open("wb"), x=np.zeros(3))
    content = data.read_bytes()
    assert main([*ev, "--metrics", "mse", "--out", str(data), "--overwrite"]) == 2
    assert "not a .json file as lae writes them" in _error(capsys) and data.read_bytes() == content
    # S2: --out x.json/ wrote the file x.json
    with pytest.raises(SystemExit):
        main([*ev, "--metrics", "mse", "--out", str(tmp_path / "x.json") + "/"])
    assert "ends in a slash" in capsys.readouterr().err and not (tmp_path / "x.json").exists()
    # U1, U2: an infinite prior learning rate was accepted; a divergence named only
    # model.step_size, not the LAE's other step sizes or the prior's learning rate
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "t"), *DIGITS,
                 "--model.prior=flow", "--model.prior_lr_scale=inf"]) == 2
    assert "prior_lr_scale must be a finite number" in _error(capsys)
    from lae.models import DataSpec, build_model
    from lae.train.config import load_config
    spec = DataSpec(shape=(1, 8, 8), value_range=(0.0, 1.0), n_bits=8, binary=False, n_train=10)
    model = build_model(load_config("lae-mnist5k-mlp").model, spec)
    causes = " ".join(c for _, c in model.divergence_causes())
    assert "model.mala_step_size" in causes and "model.step_size" in causes
    # U3: likelihood options' errors named neither the key nor its section
    for option, message in (("{per_dim: 5}", "model.likelihood_options.per_dim: expected true"),
                            ("{sigma: 0}", "model.likelihood_options.sigma (0) must exceed")):
        assert main(["train", "vae-toy2d", "--out", str(tmp_path / "t"), "--train.epochs=1",
                     "--model.likelihood=gaussian", f"--model.likelihood_options={option}"]) == 2
        assert message in _error(capsys)
    # U4: a full-width digit (８) was told to drop quotes it never had, or read as 8
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "t"), *DIGITS,
                 "--model.latent_dim=８"]) == 2
    assert "outside ASCII" in _error(capsys)
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "t"), *DIGITS,
                 "--train.lr=０.001"]) == 2
    assert "outside ASCII" in _error(capsys)
    # U5: --checkpoint "" was "checkpoints is a folder"
    with pytest.raises(SystemExit):
        main([*ev, "--metrics", "mse", "--checkpoint", ""])
    assert "an empty value" in capsys.readouterr().err
    # U6: a signal the environment ignores (a script's background job's SIGINT) was caught
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with interrupts.interrupts_deferred():
            os.kill(os.getpid(), signal.SIGINT)  # ignored: no KeyboardInterrupt after the block
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        assert main(["config", "vae-mnist5k-mlp"]) == 0
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_the_twelfth_probe_rounds_findings(digits_run, tmp_path, capsys):
    import shutil

    # T1: a checkpoint edited by hand (a key removed, a number made text) ended in a KeyError
    # or TypeError traceback, on resume and on eval: every part lae reads is checked
    edits = {"rng": lambda c: c.pop("rng"), "epoch": lambda c: c.__setitem__("epoch", "1"),
             "negative": lambda c: c.__setitem__("epoch", -5),
             "shape": lambda c: c["data_spec"].pop("shape"),
             "n_bits": lambda c: c["data_spec"].__setitem__("n_bits", "8")}
    read_by_resume = {"rng", "epoch", "negative"}  # a resume rebuilds the spec from the data
    read_by_eval = {"epoch", "negative", "shape", "n_bits"}  # eval reads no training state
    for name, edit in edits.items():
        run = tmp_path / name
        shutil.copytree(digits_run, run)
        last = run / "checkpoints" / "last.pt"
        ckpt = torch.load(last, weights_only=True)
        edit(ckpt)
        last.unlink()  # the epoch checkpoint is a link to the same file: keep it as it was
        torch.save(ckpt, last)
        if name in read_by_resume:
            assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                         "--train.epochs=2"]) == 2
            assert "edited or damaged" in _error(capsys)
        if name in read_by_eval:
            assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "3"]) == 2
            assert "edited or damaged" in _error(capsys)


def test_the_twelfth_probe_rounds_other_findings(digits_run, tmp_path, capsys, monkeypatch):
    import json
    import shutil

    import lae.tasks

    run = tmp_path / "run"
    shutil.copytree(digits_run, run)
    # D1: two lae inpaint of one run at once: the later replaced the earlier's result unasked.
    # Here another writes it while this one computes: this one refuses, the other's file stays
    inpaint = lae.tasks.inpaint
    task = ["inpaint", str(run), "--steps", "2", "--n-examples", "3"]

    def meanwhile_another(*args, **kwargs):
        monkeypatch.setattr(lae.tasks, "inpaint", inpaint)
        assert main(task) == 0
        return inpaint(*args, **kwargs)

    monkeypatch.setattr(lae.tasks, "inpaint", meanwhile_another)
    result = run / "inpaint" / "centre.json"
    assert main(task) == 2
    assert "appeared while this command ran" in _error(capsys)
    kept = result.read_text()
    # S1: the same while the run was trained over: refused, nothing written
    def meanwhile_trained_over(*args, **kwargs):
        manifest = json.loads((run / "lae-run.json").read_text())
        (run / "lae-run.json").write_text(json.dumps({**manifest, "run_id": "another"}))
        return inpaint(*args, **kwargs)

    monkeypatch.setattr(lae.tasks, "inpaint", meanwhile_trained_over)
    assert main([*task, "--overwrite"]) == 2
    assert "trained again" in _error(capsys) and result.read_text() == kept
    monkeypatch.setattr(lae.tasks, "inpaint", inpaint)
    # T1: an --out through a loop of symbolic links ended in a RuntimeError traceback
    (tmp_path / "loopA").symlink_to(tmp_path / "loopB")
    (tmp_path / "loopB").symlink_to(tmp_path / "loopA")
    assert main(["report", str(digits_run), "--out", str(tmp_path / "loopA" / "r")]) == 2
    # (Python < 3.13: lae's message; later, the system's ELOOP "Too many levels of symbolic links")
    assert "symbolic links" in _error(capsys)
    # S3: runs "a b" and "a_b" shared their pictures' file names in a report
    shutil.copytree(digits_run, tmp_path / "a b")
    shutil.copytree(digits_run, tmp_path / "a_b")
    assert main(["report", str(tmp_path / "a b"), str(tmp_path / "a_b"), "--out",
                 str(tmp_path / "rep")]) == 2
    assert "same file names" in _error(capsys)
    # S4: a mask fraction too small to hide any value trained a run recorded as masked
    assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "t"), *DIGITS,
                 "--data.mask=pixels:1e-6"]) == 2
    assert "hides no value" in _error(capsys) and not (tmp_path / "t").exists()
    # S6: full-width digits read as numbers in a checkpoint's epoch and a mask
    assert main(["eval", str(run), "--metrics", "mse", "--checkpoint", "１"]) == 2
    capsys.readouterr()
    assert main([*task, "--mask", "pixels:０.５"]) == 2
    assert "fraction must be a number" in _error(capsys)
    # S2: a metric that overflowed was filed as null without a word
    import lae.eval.metrics
    evaluate = lae.eval.metrics.evaluate

    def overflowed(*args, **kwargs):
        results = evaluate(*args, **kwargs)
        results["metrics"]["mse_per_pixel_01"]["value"] = float("inf")
        return results

    monkeypatch.setattr(lae.eval.metrics, "evaluate", overflowed)
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "3", "--out",
                 str(tmp_path / "inf.json")]) == 0
    assert "mse_per_pixel_01: not a finite number" in capsys.readouterr().err
    # S5: an empty run folder argument was the current folder
    with pytest.raises(SystemExit):
        main(["eval", "", "--metrics", "mse"])
    assert "an empty value" in capsys.readouterr().err
    # S8, S6: bench budgets of 1e-39 s (labelled with time no step fits in) or a full-width ５
    for budgets in ("1e-39", "５"):
        assert main(["bench", "--out", str(tmp_path / "b"), "--size", "tiny", "--budgets",
                     budgets]) == 2
        assert "--budgets" in _error(capsys) and not (tmp_path / "b").exists()


def test_the_twelfth_probe_rounds_messages(digits_run, tmp_path, capsys):
    # U4: base: "" named neither the file nor the key
    empty = tmp_path / "emptybase.yaml"
    empty.write_text('base: ""\n')
    assert main(["config", str(empty)]) == 2
    err = _error(capsys)
    assert str(empty) in err and "base=''" in err
    # U5: data.val_size (a count or a fraction) out of float32's range said "expected an integer"
    assert main(["config", "vae-mnist5k-mlp", "--data.val_size=1e-39"]) == 2
    assert "float32" in _error(capsys)
    # S6: eval's --n-examples read the full-width ５ as 5
    with pytest.raises(SystemExit):
        main(["eval", str(digits_run), "--metrics", "mse", "--n-examples", "５"])
    assert "--n-examples" in capsys.readouterr().err


def test_the_twelfth_rounds_leftovers(tmp_path, capsys, monkeypatch):
    import json

    import yaml

    # lae config printed configs lae train then refused: the same checks run before printing
    for key, named in (("--data.name=nope", "data.name"), ("--train.device=gpu", "train.device"),
                       ("--train.optimizer=rmsprop", "train.optimizer"),
                       ("--data.path=x.npz", "data.path")):
        assert main(["config", "vae-mnist5k-mlp", key]) == 2
        assert named in _error(capsys)
    assert main(["config", "vae-mnist5k-mlp", "--train.device=cuda"]) == 0  # for another machine
    capsys.readouterr()

    # data.path was kept as typed: a resume from another folder read another file (or none)
    points = tmp_path / "here" / "pts.npz"
    _points_npz(points)
    run = tmp_path / "pts-run"
    monkeypatch.chdir(points.parent)
    assert main(["train", "vae-toy2d", "--out", str(run), "--data.name=npz",
                 "--data.path=pts.npz", *DIGITS[1:]]) == 0
    saved = yaml.safe_load((run / "config.yaml").read_text())["data"]["path"]
    assert saved == str(points)
    # the same file spelled otherwise is the same setting
    assert main(["train", "vae-toy2d", "--out", str(run), "--resume", "--train.epochs=2",
                 "--data.path=./../here/pts.npz"]) == 0
    monkeypatch.chdir(tmp_path)  # and a resume from elsewhere finds it
    assert main(["train", "vae-toy2d", "--out", str(run), "--resume", "--train.epochs=3"]) == 0
    capsys.readouterr()

    # the toys said "Not a directory" after their work, for an --out below a file
    blocker = tmp_path / "afile"
    blocker.write_text("mine")
    energy = ["toy", "energy", "--energies", "rings", "--n-chains", "4", "--feature-dim", "8",
              "--steps", "2", "--warmup", "0"]
    for argv in (energy + ["--out", str(blocker / "sub")],
                 ["toy", "posterior", "--save-samples", str(blocker / "x.npz")]):
        assert main(argv) == 2
        assert "is a file" in _error(capsys)
    assert blocker.read_text() == "mine"

    # a latent code wider than the data trained without a word (slowly, at 1,000,000)
    with pytest.warns(UserWarning, match="exceeds the data's 64 dimensions"):
        assert main(["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "wide"),
                     "--model.latent_dim=80", *DIGITS]) == 0
    assert json.loads((tmp_path / "wide" / "lae-run.json").read_text())


def test_the_thirteenth_probe_rounds_findings(digits_run, tmp_path, capsys):

    # T1: a last checkpoint whose world_size was edited (text, null) was a ValueError/TypeError
    # traceback on --resume; now a line naming the file and the part
    for bad in ("x", None, 0):
        run = tmp_path / f"world-{bad}"
        last = _edited_checkpoint(digits_run, run, {"world_size": bad})
        assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                     "--train.epochs=3"]) == 2
        err = _error(capsys)
        assert str(last) in err and "world_size" in err
    # T2: a class label beyond int64 was torch's OverflowError after the data loaded
    assert main(["config", "vae-mnist5k-mlp", "--data.holdout_class=" + "1" * 31]) == 2
    assert "data.holdout_class" in _error(capsys)
    # and a toy data set of 10^30 points, bounded like every count
    assert main(["config", "vae-toy2d", "--data.n_toy=" + "1" * 31]) == 2
    assert "data.n_toy" in _error(capsys)
    # T3: python -m lae.cli (as the benchmarks call it) built its parsers without the launcher's
    # guard: test_a_stop_while_lae_starts_is_one_line[...-lae.cli.main]


def test_the_thirteenth_probe_rounds_other_findings(digits_run, tmp_path, capsys, monkeypatch):
    import json
    import shutil

    from lae.commands.base import writing_results
    from lae.errors import RunDirError
    from lae.train import load_run

    # S: lae config printed configs lae train refuses before its work
    for argv, named in ((["vae-mnist5k-mlp", "--model.prior=bogus"], "prior='bogus'"),
                        (["vae-mnist5k-mlp", "--model.likelihood=bogus"], "likelihood='bogus'"),
                        (["vae-mnist5k-mlp", "--model.net.arch=bogus"], "arch='bogus'"),
                        (["vae-mnist5k-mlp", "--train.patience=3"], "data.val_size"),
                        (["lae-mnist5k-mlp", "--train.patience=2", "--data.val_size=100"],
                         "train.eval_ais_temps")):
        assert main(["config", *argv]) == 2
        assert named in _error(capsys)
    # S: an empty --mask ran the default mask; an empty --data-dir was "set" for a dataset
    for argv in (["inpaint", str(digits_run), "--mask", ""],
                 ["train", "vae-mnist5k-mlp", "--out", str(tmp_path / "e"), "--data-dir", ""]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "an empty value" in capsys.readouterr().err
    # S: lae report showed another run's results.json (copied in) and an edited epoch as the run's
    other = tmp_path / "other"
    assert main(["train", "vae-mnist5k-mlp", "--out", str(other), *DIGITS]) == 0
    assert main(["eval", str(other), "--metrics", "mse", "--n-examples", "5"]) == 0
    copy = tmp_path / "copy"
    shutil.copytree(digits_run, copy)
    shutil.copy(other / "results.json", copy / "results.json")
    assert main(["report", str(copy), "--out", str(tmp_path / "rep")]) == 2
    assert "another run" in _error(capsys)
    edited = json.loads((other / "results.json").read_text())
    edited["epoch"] = -3
    (other / "results.json").write_text(json.dumps(edited))
    assert main(["report", str(other), "--out", str(tmp_path / "rep")]) == 2
    assert "epoch -3" in _error(capsys)
    # S: checkpoint counters beyond any run (epoch 10^30, step 10^20, 1e308 s) were taken
    for key, value in (("epoch", 10**30), ("step", 10**20), ("train_seconds", 1e308)):
        run = tmp_path / f"huge-{key}"
        last = _edited_checkpoint(digits_run, run, {key: value})
        assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                     "--train.epochs=3"]) == 2
        assert str(last) in _error(capsys)
    # U: a run whose npz file moved (data.path is saved absolute) could be neither resumed
    # nor scored: --data.path on resume, --data-path on eval, the content's digest deciding
    points = tmp_path / "proj" / "pts.npz"
    _points_npz(points)
    pts = tmp_path / "pts-run"
    assert main(["train", "vae-toy2d", "--out", str(pts), "--data.name=npz",
                 f"--data.path={points}", *DIGITS[1:]]) == 0
    moved = tmp_path / "moved"
    points.parent.rename(moved)
    assert main(["eval", str(pts), "--metrics", "mse", "--data-path",
                 str(moved / "pts.npz")]) == 0
    assert main(["train", "vae-toy2d", "--out", str(pts), "--resume", "--train.epochs=2",
                 f"--data.path={moved / 'pts.npz'}"]) == 0
    capsys.readouterr()
    # U: a task command whose run was trained over while it ran named its vanished lock file
    run = load_run(str(digits_run), "last")
    run.run_id = "an earlier run"
    with pytest.raises(RunDirError, match="trained again"):
        with writing_results(run, [tmp_path / "gone" / "x.json"], overwrite=False):
            pass
    # U: an output through a symbolic link that leads nowhere was "File exists" after the work
    monkeypatch.chdir(tmp_path)
    os.symlink("nowhere", "dangling")
    os.symlink("loop-b", "loop-a")
    os.symlink("loop-a", "loop-b")
    for argv in (["sample", str(digits_run), "--out", "dangling/x.png"],
                 ["eval", str(digits_run), "--metrics", "mse", "--out", "dangling/r.json"],
                 ["toy", "likelihood", "--out", "loop-a/r.json"]):
        assert main(argv) == 2
        assert "leads nowhere" in _error(capsys)


def test_the_fourteenth_probe_rounds_findings(tmp_path, capsys):
    # S: lae config printed an npz config without its file, and took an empty data.path as unset
    assert main(["config", "vae-toy2d", "--data.name=npz"]) == 2
    assert "needs data.path" in _error(capsys)
    assert main(["config", "vae-toy2d", "--data.name=npz", "--data.path="]) == 2
    assert "not empty" in _error(capsys)
    # U: lae eval of a run whose npz file moved said only that it does not exist (and, round
    # 15, so did --resume)
    points = tmp_path / "proj" / "pts.npz"
    _points_npz(points)
    run = tmp_path / "pts-run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--data.name=npz",
                 f"--data.path={points}", *DIGITS[1:]]) == 0
    points.unlink()
    assert main(["eval", str(run), "--metrics", "mse"]) == 2
    assert "--data-path" in _error(capsys)
    assert main(["train", "vae-toy2d", "--out", str(run), "--resume", "--train.epochs=2"]) == 2
    assert "--data.path=FILE" in _error(capsys)


def test_the_fourteenth_rounds_leftovers(digits_run, tmp_path, capsys):
    # every field lae reads back from its own files is checked in one place each
    # (lae.train.checkpoint.header_problems, lae.eval.results.results_problems): an edit is
    # refused by every reader, named, never used
    import json
    import shutil

    # S: --resume took a checkpoint's epoch 0, step 0, best_epoch -5, best_value NaN and
    # train_seconds as text or true; lae eval took a world_size that --resume refuses
    edits = (("epoch", 0, "epoch 0"), ("step", 0, "step 0"),
             ("early_stopping", {"best_epoch": -5, "best_value": 1.0}, "best_epoch -5"),
             ("early_stopping", {"best_epoch": 0, "best_value": float("nan")}, "best_value nan"),
             ("early_stopping", {"best_epoch": "x", "best_value": 1.0}, "best_epoch 'x'"),
             ("train_seconds", "12", "train_seconds '12'"),
             ("train_seconds", True, "train_seconds True"), ("world_size", "x", "world_size"))
    for i, (key, value, named) in enumerate(edits):
        run = tmp_path / f"ckpt-{i}"
        last = _edited_checkpoint(digits_run, run, {key: value})
        for argv in (["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                      "--train.epochs=3"], ["eval", str(run), "--metrics", "mse"]):
            assert main(argv) == 2
            err = _error(capsys)
            assert str(last) in err and named in err, (argv[0], err)
    # S: lae report showed a hand-edited results.json as the run's
    scored = tmp_path / "scored"
    shutil.copytree(digits_run, scored)
    assert main(["eval", str(scored), "--metrics", "mse", "--n-examples", "5"]) == 0
    original = (scored / "results.json").read_text()
    key = "mse_per_pixel_01"
    edits = (
        (lambda r: r["metrics"][key].update(value=float("nan")), "value nan"),
        (lambda r: r["metrics"][key].update(stderr=-0.5), "stderr -0.5"),
        (lambda r: r["metrics"][key].update(per_example=[0.1]), "per_example"),
        (lambda r: r["metrics"].update(accuracy={"value": 0.99}), "'accuracy'"),
        (lambda r: r.update(split="holdout"), "split 'holdout'"),
        (lambda r: r.pop("run_id"), "no run_id"),
        (lambda r: r.update(data_digest="0" * 16), "data_digest 0000"))
    for edit, named in edits:
        results = json.loads(original)
        edit(results)
        (scored / "results.json").write_text(json.dumps(results))  # NaN as JSON's NaN
        capsys.readouterr()
        assert main(["report", str(scored), "--out", str(tmp_path / "rep")]) == 2
        err = _error(capsys)
        assert str(scored / "results.json") in err and named in err, err
        assert not (tmp_path / "rep").exists()
    (scored / "results.json").write_text(original)  # as lae eval wrote it: shown
    assert main(["report", str(scored), "--out", str(tmp_path / "rep")]) == 0
    # U: lae eval --data-path of a run on a data set that reads no file named data.path only
    capsys.readouterr()
    assert main(["eval", str(scored), "--metrics", "mse", "--data-path", "x.npz"]) == 2
    assert "--data-path" in _error(capsys)
    # U: a metrics.jsonl record whose step or epoch was edited (text, missing) was a KeyError
    # or TypeError traceback on --resume and report; now the file, line and field
    for i, (key, value) in enumerate((("step", "12"), ("epoch", None), ("split", 3))):
        run = tmp_path / f"records-{i}"
        shutil.copytree(digits_run, run)
        lines = (run / "metrics.jsonl").read_text().splitlines()
        first = json.loads(lines[0])
        first[key] = value
        (run / "metrics.jsonl").write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
        for argv in (["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                      "--train.epochs=3"], ["report", str(run), "--out", str(tmp_path / "rep")]):
            assert main(argv) == 2
            err = _error(capsys)
            assert "metrics.jsonl, line 1" in err and key in err, err
    # S: a results.json whose dataset was edited was shown in a row that says the run's
    scored = tmp_path / "dataset-edited"
    shutil.copytree(digits_run, scored)
    assert main(["eval", str(scored), "--metrics", "mse", "--n-examples", "5"]) == 0
    results = json.loads((scored / "results.json").read_text())
    (scored / "results.json").write_text(json.dumps(results | {"dataset": "mnist"}))
    capsys.readouterr()
    assert main(["report", str(scored), "--out", str(tmp_path / "rep2")]) == 2
    assert "dataset 'mnist'" in _error(capsys)
    # U: an edited chain_watch was named by Python's own message ("'int' object is not iterable");
    # lae eval, which does not use it, took it (round 15)
    for i, watch in enumerate(({"stalled_steps": -3}, {"max_step_size": {"t": "x"}})):
        run = tmp_path / f"watch-{i}"
        last = _edited_checkpoint(digits_run, run, {"chain_watch": watch})
        for argv in (["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                      "--train.epochs=3"], ["eval", str(run), "--metrics", "mse"]):
            assert main(argv) == 2
            assert f"chain_watch.{next(iter(watch))}" in _error(capsys)


def test_the_fifteenth_probe_rounds_findings(digits_run, tmp_path, capsys):
    import json
    import shutil

    resume = ["train", "vae-mnist5k-mlp", "--resume", "--train.epochs=2"]
    # T: an optimiser state of the wrong shape was a segmentation fault in Adam's step
    run = tmp_path / "adam-shape"
    last = _edited_checkpoint(digits_run, run, lambda c: c["optimizers"]["loss"]["state"][0]
                              .update(exp_avg=torch.zeros(3)))
    assert main([*resume, "--out", str(run)]) == 2
    err = _error(capsys)
    assert str(last) in err and "exp_avg" in err
    # S: an edited beta was trained with; the config decides the hyperparameters
    run = tmp_path / "adam-betas"
    _edited_checkpoint(digits_run, run, lambda c: c["optimizers"]["loss"]["param_groups"][0]
                       .update(betas=(2.0, 0.999), eps=-1.0))
    assert main([*resume, "--out", str(run)]) == 0
    group = torch.load(run / "checkpoints" / "last.pt")["optimizers"]["loss"]["param_groups"][0]
    assert tuple(group["betas"]) == (0.9, 0.999) and group["eps"] > 0
    # S: an edited data_spec changed eval's numbers (bits/dim of 3-bit data)
    run = tmp_path / "spec"
    last = _edited_checkpoint(digits_run, run, lambda c: c["data_spec"].update(n_bits=3))
    assert main(["eval", str(run), "--metrics", "mse"]) == 2
    assert "data_spec" in _error(capsys)
    # S: a checkpoint step before its own epoch's records made --resume delete them
    run = tmp_path / "step"
    _edited_checkpoint(digits_run, run, lambda c: c.update(step=c["step"] - 1))
    before = (run / "metrics.jsonl").read_text()
    assert main([*resume, "--out", str(run)]) == 2
    assert "metrics.jsonl" in _error(capsys) and (run / "metrics.jsonl").read_text() == before
    # S: a record of an unknown split was read
    run = tmp_path / "split"
    shutil.copytree(digits_run, run)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text("\n".join(
        [json.dumps(json.loads(lines[0]) | {"split": "bogus"}), *lines[1:]]) + "\n")
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 2
    assert "split 'bogus'" in _error(capsys)
    # S: a results.json value that is not its per-example values' mean was shown
    run = tmp_path / "value"
    shutil.copytree(digits_run, run)
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "5"]) == 0
    results = json.loads((run / "results.json").read_text())
    results["metrics"]["mse_per_pixel_01"]["value"] = 1.0
    (run / "results.json").write_text(json.dumps(results))
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 2
    assert "not the mean of its per-example values" in _error(capsys)
    # S: a lae-run.json whose run_id was edited to a number was taken
    run = tmp_path / "manifest"
    shutil.copytree(digits_run, run)
    manifest = json.loads((run / "lae-run.json").read_text())
    (run / "lae-run.json").write_text(json.dumps(manifest | {"run_id": 5}))
    assert main(["eval", str(run), "--metrics", "mse"]) == 2
    assert "lae-run.json" in _error(capsys)
    # S: sample --overwrite replaced a text file named .png (and wrote through a link to one)
    notes = tmp_path / "notes.png"
    notes.write_text("my notes")
    os.symlink(notes, tmp_path / "link.png")
    for out in (notes, tmp_path / "link.png"):
        assert main(["sample", str(digits_run), "-n", "4", "--out", str(out),
                     "--overwrite"]) == 2
        assert "not a .png file as lae writes them" in _error(capsys)
    assert notes.read_text() == "my notes"
    assert main(["sample", str(digits_run), "-n", "4", "--out", str(tmp_path / "s.png")]) == 0
    assert main(["sample", str(digits_run), "-n", "4", "--out", str(tmp_path / "s.png"),
                 "--overwrite"]) == 0  # lae's own picture: replaced as asked
    # S: a negative squared error, a null value lae eval did not say overflowed, and bits/dim
    # that are not the nats per dimension were shown
    run = tmp_path / "ranges"
    shutil.copytree(digits_run, run)
    assert main(["eval", str(run), "--metrics", "mse,elbo", "--n-examples", "5"]) == 0
    original = json.loads((run / "results.json").read_text())
    for key, value, named in (("mse_per_pixel_01", -1.0, "expected 0.0..1.0"),
                              ("mse_per_pixel_01", None, "without lae eval's warning"),
                              ("neg_elbo_bpd", 99.0, "per dimension in bits")):
        results = json.loads(json.dumps(original))
        results["metrics"][key].pop("per_example")
        results["metrics"][key]["value"] = value
        (run / "results.json").write_text(json.dumps(results))
        capsys.readouterr()
        assert main(["report", str(run), "--out", str(tmp_path / "rep")]) == 2
        assert named in _error(capsys)


def test_the_sixteenth_probe_rounds_findings(digits_run, tmp_path, capsys, monkeypatch):
    import json
    import shutil

    # T: lae report of a folder without a checkpoint whose config.yaml lacks a section was a
    # KeyError traceback; a config lae reads is filled in, one it cannot read is named
    made = tmp_path / "made"
    made.mkdir()
    (made / "config.yaml").write_text("data: {name: digits}\nmodel: {name: vae}\n"
                                      "train: {epochs: 1}\n")
    assert main(["report", str(made), "--out", str(tmp_path / "rep")]) == 0
    (made / "config.yaml").write_text("model: {name: vae, latent_dim: -3}\n")
    assert main(["report", str(made), "--out", str(tmp_path / "rep2")]) == 2
    assert "config.yaml" in _error(capsys)
    # S: a full disk left a truncated samples picture, which report showed: pictures are
    # written whole or not at all
    from lae.eval.plots import save_image_grid

    picture = tmp_path / "grid.png"
    save_image_grid(torch.rand(4, 1, 8, 8), picture)
    before = picture.read_bytes()

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("lae.files.os.replace", full)
    with pytest.raises(OSError):
        save_image_grid(torch.rand(4, 1, 8, 8), picture)
    monkeypatch.undo()
    assert picture.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".grid")] == []
    # U: an edited Adam step count (-5) or a negative second moment was trained on until the
    # run "diverged"; now the state is named
    for edit, named in ((lambda s: s.update(step=torch.tensor(-5.0)), "'step'"),
                        (lambda s: s.update(exp_avg_sq=-s["exp_avg_sq"] - 1), "exp_avg_sq")):
        run = tmp_path / f"adam-{named.strip(chr(39))}"
        _edited_checkpoint(digits_run, run,
                           lambda c, edit=edit: edit(c["optimizers"]["loss"]["state"][0]))
        assert main(["train", "vae-mnist5k-mlp", "--resume", "--train.epochs=2", "--out",
                     str(run)]) == 2
        assert named in _error(capsys)
    # S: lae config printed masks that train refuses from their text (all or nothing hidden)
    for mask in ("pixels:1.0", "pixels:0"):
        assert main(["config", "vae-mnist5k-mlp", f"--data.mask={mask}"]) == 2
        assert "missing fraction" in _error(capsys)
    # S: a test record's NaN value was shown as the run's number
    run = tmp_path / "nan-record"
    shutil.copytree(digits_run, run)
    (run / "results.json").unlink(missing_ok=True)  # the report shows the record
    lines = (run / "metrics.jsonl").read_text().splitlines()
    last_test = max(i for i, line in enumerate(lines) if '"split": "test"' in line)
    record = json.loads(lines[last_test])
    key = next(k for k in record if k.startswith("mse_"))
    lines[last_test] = json.dumps(record | {key: float("nan")})
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["report", str(run), "--out", str(tmp_path / "rep3")]) == 2
    assert "expected a finite number" in _error(capsys)
    # S: a record's negative train_seconds and a repeated test record were read as written
    for i, edit in enumerate((lambda lines: [json.dumps(json.loads(lines[0]) | {
            "train_seconds": -5.0}), *lines[1:]],
                              lambda lines: [*lines, lines[-1]])):
        run = tmp_path / f"records-{i}"
        shutil.copytree(digits_run, run)
        lines = (run / "metrics.jsonl").read_text().splitlines()
        (run / "metrics.jsonl").write_text("\n".join(edit(lines)) + "\n")
        assert main(["report", str(run), "--out", str(tmp_path / f"rep-r{i}")]) == 2
        assert "metrics.jsonl, line" in _error(capsys)


def _scored_copy(digits_run, base, capsys):
    """A copy of ``digits_run`` at ``base`` scored by lae eval (elbo, mse on 5 images); its
    results.json as a dict."""
    import json
    import shutil

    shutil.copytree(digits_run, base)
    assert main(["eval", str(base), "--metrics", "elbo,mse", "--n-examples", "5",
                 "--overwrite"]) == 0
    capsys.readouterr()
    return json.loads((base / "results.json").read_text())


def test_the_sixteenth_rounds_leftovers(digits_run, tmp_path, capsys):
    import json
    import shutil

    base = tmp_path / "base"
    scored = _scored_copy(digits_run, base, capsys)

    def edited(name, edit):
        run = tmp_path / name
        shutil.copytree(base, run)
        results = json.loads(json.dumps(scored))
        edit(results)
        (run / "results.json").write_text(json.dumps(results))
        return run

    mse = next(k for k in scored["metrics"] if k.startswith("mse_"))
    # S: the settings a results file keeps beside its numbers were shown as written
    for name, edit, named in (
            ("n", lambda r: r["metrics"][mse]["settings"].update(n_examples=99999),
             "n_examples"),
            ("seed", lambda r: r["metrics"][mse]["settings"].update(seed="abc"), "seed"),
            ("inference", lambda r: r["metrics"][mse]["settings"].update(
                inference="noise-free"), "inference"),
            ("unknown-setting", lambda r: r["metrics"][mse]["settings"].update(mine=1), "mine"),
            ("k", lambda r: r["settings"].update(k=-5), "settings.k"),
            ("skipped", lambda r: r.update(skipped={"iwae": 5}), "skipped.iwae"),
            ("nats-gone", lambda r: r["metrics"].pop("neg_elbo_nats"), "neg_elbo_nats"),
            ("warnings", lambda r: r.update(training_warnings=[5, None]), "training_warnings"),
            ("checkpoint", lambda r: r.update(checkpoint="/etc/passwd"), "/etc/passwd")):
        run = edited(name, edit)
        assert main(["report", str(run), "--out", str(tmp_path / f"rep-{name}")]) == 2, name
        error = _error(capsys)
        assert "results.json" in error and named in error, (name, error)
        assert not (tmp_path / f"rep-{name}").exists()
    # S: a record's negative squared error was shown as the run's number
    run = tmp_path / "negative-mse"
    shutil.copytree(base, run)
    (run / "results.json").unlink()
    lines = (run / "metrics.jsonl").read_text().splitlines()
    last_test = max(i for i, line in enumerate(lines) if '"split": "test"' in line)
    record = json.loads(lines[last_test])
    lines[last_test] = json.dumps(record | {mse: -0.5})
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    assert main(["report", str(run), "--out", str(tmp_path / "rep-mse")]) == 2
    assert "expected a finite number in 0..1" in _error(capsys)
    # S: a checkpoint's epoch edited past the run's records was scored as that epoch
    run = tmp_path / "epoch-5"
    _edited_checkpoint(base, run, {"epoch": 5})
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "5", "--overwrite"]) == 2
    assert "no test record" in _error(capsys)
    # S: report --overwrite replaced a report.md the user wrote
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "report.md").write_text("my notes\n")
    assert main(["report", str(base), "--out", str(mine), "--overwrite"]) != 0
    assert "report.md" in _error(capsys) and (mine / "report.md").read_text() == "my notes\n"
    assert main(["report", str(base), "--out", str(tmp_path / "ours")]) == 0
    assert main(["report", str(base), "--out", str(tmp_path / "ours"), "--overwrite"]) == 0
    # consistency: --resume writes an emptied config.yaml back; eval, which writes no run
    # file, calls it damaged and says so
    run = tmp_path / "empty-config"
    shutil.copytree(base, run)
    (run / "config.yaml").write_text("")
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "5"]) == 2
    assert "lae train --resume writes it back" in _error(capsys)
    # S: lae config printed prior and likelihood options that building the model refuses
    assert main(["config", "vae-mnist5k-mlp", "--model.prior_options={scale: 0}"]) == 2
    assert "scale" in _error(capsys)
    assert main(["config", "vae-mnist5k-mlp", "--model.likelihood_options={bogus: 1}"]) == 2
    assert "bogus" in _error(capsys)
    # messages: a results.json that is a JSON list spoke of --overwrite, which was not given
    run = edited("list", lambda r: None)
    (run / "results.json").write_text("[1, 2]")
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "5"]) != 0
    error = _error(capsys)
    assert "results.json" in error and "not a .json file as lae writes them" in error


def _edited_run(source, run, scored, results=None, records=None):
    """A copy of the run ``source`` at ``run`` whose results.json is ``scored`` edited by
    ``results`` (a function of the dict), or whose metrics.jsonl records were edited by
    ``records`` (a function of the list; results.json removed, so a report reads them)."""
    import json
    import shutil

    shutil.copytree(source, run)
    if results is not None:
        edited = json.loads(json.dumps(scored))
        results(edited)
        (run / "results.json").write_text(json.dumps(edited))
    if records is not None:
        (run / "results.json").unlink()
        lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        records(lines)
        (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return run


def _last_test(edit):
    """A records edit (for :func:`_edited_run`) applying ``edit`` to the last test record."""
    return lambda lines: edit(next(r for r in reversed(lines) if r["split"] == "test"))


def test_the_seventeenth_probe_rounds_findings(digits_run, tmp_path, capsys):

    import yaml

    from lae.files import looks_like_lae_output

    base = tmp_path / "base"
    scored = _scored_copy(digits_run, base, capsys)
    mse = next(k for k in scored["metrics"] if k.startswith("mse_"))

    def copy(name, results=None, records=None, source=base):
        return _edited_run(source, tmp_path / name, scored, results, records)

    def refused_by_report(run, *named):
        assert main(["report", str(run), "--out", str(tmp_path / f"rep-{run.name}")]) == 2
        error = _error(capsys)
        assert all(n in error for n in named), (run.name, error)

    # S1: --resume of a config.yaml without its train section trained on lae's defaults
    run = copy("no-train")
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["train"]["eval_size"] == 20
    del cfg["train"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                 "--train.epochs=2"]) == 0
    assert "lacks train" in capsys.readouterr().err
    assert yaml.safe_load((run / "config.yaml").read_text())["train"]["eval_size"] == 20

    # S2, S3: records out of order, bits/dim that are not the nats', counts below 1, a squared
    # error of [0, 1] pixels above 1, a record of an epoch the checkpoint has not reached
    refused_by_report(copy("reversed", records=lambda lines: lines.reverse(),
                           source=tmp_path / "no-train"), "order of training")  # 2 epochs
    refused_by_report(copy("bpd", records=_last_test(lambda r: r.update(neg_elbo_bpd=0.5))),
                      "neg_elbo_bpd")
    refused_by_report(copy("estimate", records=_last_test(
        lambda r: r["estimate"].update(n_examples=-3))), "estimate")
    refused_by_report(copy("mse-1.5", records=_last_test(lambda r: r.update({mse: 1.5}))),
                      "0..1")
    refused_by_report(copy("epoch-3", records=_last_test(lambda r: r.update(epoch=3))),
                      "does not fit")
    # S4: settings that pass each rule but contradict the file
    refused_by_report(copy("samples", results=lambda r: r["metrics"]["neg_elbo_nats"][
        "settings"].update(samples_per_example=11)), "samples_per_example")
    refused_by_report(copy("proposal", results=lambda r: r["metrics"]["neg_elbo_nats"][
        "settings"].update(proposal="prior p(z)")), "proposal")
    refused_by_report(copy("seed", results=lambda r: r["metrics"][mse]["settings"].update(
        seed=7)), "settings.seed")
    # S5: warnings lae did not write
    refused_by_report(copy("training-warning", results=lambda r: r.update(training_warnings=[
        {"epoch": 1, "step": 14, "kind": "nonfinite", "message": "loss became nan"}])),
        "training_warnings")
    refused_by_report(copy("warning", results=lambda r: r.update(
        warnings=["the chains did not mix"])), "warnings")
    # S6, U8: lae config took Bernoulli options train refuses; a prior's options are listed
    assert main(["config", "vae-mnist5k-mlp", "--model.likelihood=bernoulli",
                 "--data.binarize=dynamic", "--model.likelihood_options={bogus: 1}"]) == 2
    assert "bogus" in _error(capsys)
    assert main(["config", "vae-mnist5k-mlp", "--model.prior=latent-ebm",
                 "--model.prior_options={bogus: 1}"]) == 2
    assert "valid options are" in _error(capsys)
    # U7: a checkpoint epoch past the records was "already trained" before it was named
    run = tmp_path / "epoch-5"
    _edited_checkpoint(base, run, {"epoch": 5})
    assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                 "--train.epochs=2"]) == 2
    assert "no test record" in _error(capsys)
    # U9: a config.yaml of empty sections said the run trained None
    run = copy("empty-sections")
    (run / "config.yaml").write_text("data: {}\nmodel: {}\ntrain: {}\n")
    assert main(["eval", str(run), "--metrics", "mse", "--n-examples", "5"]) == 2
    assert "no model.name" in _error(capsys)
    # S10: --overwrite took a user's text file named .npz for lae's
    notes = tmp_path / "anomaly_scores.npz"
    notes.write_text("notes")
    assert not looks_like_lae_output(notes)
    np.savez(tmp_path / "ours.npz", a=np.zeros(2))
    assert looks_like_lae_output(tmp_path / "ours.npz")


def test_the_eighteenth_probe_rounds_findings(digits_run, tmp_path, capsys):
    import json
    import shutil

    import yaml

    base = tmp_path / "base"
    shutil.copytree(digits_run, base)
    assert main(["eval", str(base), "--metrics", "elbo,mse", "--n-examples", "5",
                 "--overwrite"]) == 0
    assert main(["train", "vae-mnist5k-mlp", "--out", str(base), "--resume",
                 "--train.epochs=2"]) == 0  # two epochs of records
    assert main(["eval", str(base), "--metrics", "elbo,mse", "--n-examples", "5",
                 "--overwrite"]) == 0
    capsys.readouterr()
    scored = json.loads((base / "results.json").read_text())
    mse = next(k for k in scored["metrics"] if k.startswith("mse_"))

    def refused(name, results=None, records=None, named=()):
        run = _edited_run(base, tmp_path / name, scored, results, records)
        assert main(["report", str(run), "--out", str(tmp_path / f"rep-{name}")]) == 2, name
        error = _error(capsys)
        assert all(n in error for n in named), (name, error)

    # S3: an overflow warning beside a number; a data-changed warning with made-up digests
    refused("overflow", results=lambda r: r.update(warnings=[
        f"{mse}: not a finite number (nan): the model's computation overflowed; filed as "
        f"null"]), named=("beside a value",))
    refused("digests", results=lambda r: r.update(warnings=[
        f"the data of {base} changed since it was trained (content digest 0000, trained on "
        f"1111): the results describe the data as they are now"]), named=("digests",))
    # S4: a score's key no metric writes, an estimate's unknown count, time going back
    refused("bogus-key", records=_last_test(lambda r: r.update(bogus_metric_nats=5.0)),
            named=("bogus_metric_nats",))
    refused("bogus-count", records=_last_test(lambda r: r["estimate"].update(bogus=5)),
            named=("estimate",))
    refused("time-back", records=_last_test(lambda r: r.update(train_seconds=0.0)),
            named=("train_seconds never go back",))
    # S1: bits per dimension doubled with their nats (128 "dimensions" of the 64 pixels)
    refused("bpd-doubled", records=_last_test(lambda r: r.update(neg_elbo_bpd=2 * r[
        "neg_elbo_bpd"])), named=("64 dimensions",))
    refused("bpd-doubled-results", results=lambda r: [r["metrics"]["neg_elbo_bpd"].update(
        value=2 * r["metrics"]["neg_elbo_bpd"]["value"], stderr=None, per_example=[])],
        named=("64 dimensions",))
    # S5: a results epoch past the run; a val split on a run without one
    refused("epoch-past", results=lambda r: r.update(epoch=3), named=("past the run's last",))
    refused("val-split", results=lambda r: r.update(split="val"), named=("no validation split",))
    # U8: a record out of order is named with the line before it
    refused("moved", records=lambda lines: lines.insert(1, lines.pop()),
            named=("after line 2's record", "one of the two lines"))
    # S7, U11: the latent EBM's ald options read by no sampler, or not a mapping; base_scale
    # named as scale
    for options, named in (("{ald: maybe}", "expected a mapping"),
                           ("{sampler: langevin, ald: {steps: 2}}", "read only with sampler"),
                           ("{base_scale: 0}", "prior_options.base_scale")):
        assert main(["config", "vae-mnist5k-mlp", "--model.prior=latent-ebm",
                     f"--model.prior_options={options}"]) == 2
        assert named in _error(capsys), options
    # U9: the preset warning of a resume whose config.yaml lacks keys compared lae's defaults
    run = tmp_path / "no-train"
    shutil.copytree(base, run)
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    del cfg["train"]
    (run / "config.yaml").write_text(yaml.safe_dump(cfg))
    with pytest.warns(UserWarning, match=r"train.eval_size \(20 -> 500\)"):
        assert main(["train", "vae-mnist5k-mlp", "--out", str(run), "--resume",
                     "--train.epochs=3"]) == 0
