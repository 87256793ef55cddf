"""A run folder is locked while a process trains into it: a second ``--resume`` or
``--overwrite`` from another process is refused before it touches anything (both used to exit 0
with two models' records interleaved in metrics.jsonl and checkpoints mixed)."""

import os
import subprocess
import sys
import textwrap

import pytest

from lae.cli import main

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX record locks")

TINY = ["--data.n_toy=200", "--train.eval_size=20", "--train.eval_k=2", "--train.n_samples=16",
        "--train.progress=false", "--model.net.hidden=8", "--train.batch_size=50"]


@pytest.fixture
def trained(tmp_path):
    run = tmp_path / "run"
    assert main(["train", "vae-toy2d", "--out", str(run), "--train.epochs=1", *TINY]) == 0
    return run


def _holder(run):
    """Another process holding the run's lock, as a training process does, until killed."""
    code = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from lae.train.rundir import lock_run_dir
        lock = lock_run_dir(Path({str(run)!r}))
        print("locked", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


@pytest.mark.parametrize("flag", ["--resume", "--overwrite"])
def test_a_folder_another_process_trains_into_is_refused(trained, capsys, flag):
    before = {p: p.stat().st_mtime_ns for p in trained.rglob("*") if p.is_file()}
    holder = _holder(trained)
    try:
        assert main(["train", "vae-toy2d", "--out", str(trained), flag, "--train.epochs=2",
                     *TINY]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "is in use" in err and f"lae process {holder.pid}" in err
    after = {p: p.stat().st_mtime_ns for p in trained.rglob("*") if p.is_file()}
    assert {p: t for p, t in after.items() if p.name != ".lae.lock"} == {
        p: t for p, t in before.items() if p.name != ".lae.lock"}  # nothing touched
    # once the other process has ended, the lock is free again
    assert main(["train", "vae-toy2d", "--out", str(trained), "--resume", "--train.epochs=2",
                 *TINY]) == 0


def test_deleting_the_lock_file_does_not_let_a_second_process_in(trained, capsys):
    """Deleting .lae.lock while a run trained let a second process train into the same folder
    (metrics.jsonl then read test epochs 11, 12, 10, 12): the folder itself is locked too."""
    holder = _holder(trained)
    try:
        (trained / ".lae.lock").unlink()
        assert main(["train", "vae-toy2d", "--out", str(trained), "--resume",
                     "--train.epochs=2", *TINY]) == 2
    finally:
        holder.kill()
        holder.wait()
    err = capsys.readouterr().err
    assert "is in use" in err and ".lae.lock was deleted" in err
    # the same process may train into the folder again once a run there has ended (the
    # folder's lock is per open file, not per process: each run lets it go)
    assert main(["train", "vae-toy2d", "--out", str(trained), "--resume", "--train.epochs=2",
                 *TINY]) == 0
    assert main(["train", "vae-toy2d", "--out", str(trained), "--resume", "--train.epochs=3",
                 *TINY]) == 0
