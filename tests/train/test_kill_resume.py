"""SIGKILL at random moments of a real ``lae train`` process, then ``--resume``: no file is left
corrupt, and the finished run equals an uninterrupted twin bit for bit.

The short form (up to 3 kills, at least 1) runs in CI; ``pytest --long`` tries 12 (at least 4
must land). Kill times are drawn from a
seeded generator, so a failure can be repeated.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
import torch

from lae.eval.plots import read_metrics
from lae.train.checkpoint import load_checkpoint

ARGS = ["data.n_toy=600", "train.eval_size=100", "train.eval_k=5",
        "train.n_samples=100", "train.progress=false", "train.log_every=2",
        "model.net.hidden=32", "train.batch_size=50", "train.num_threads=1"]


def _train(out, epochs, *flags) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "lae.cli", "train", "vae-toy2d", "--out",
                             str(out), *flags, f"--train.epochs={epochs}",
                             *[f"--{a}" for a in ARGS]], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _check_not_corrupt(run):
    """Every file lae reads back is whole (half-written temporaries aside)."""
    for path in (run / "checkpoints").glob("*.pt"):
        load_checkpoint(path)
    read_metrics(run / "metrics.jsonl")  # a torn last line is tolerated, nothing else
    json.loads((run / "lae-run.json").read_text())


def _kill_and_resume(tmp_path, n_kills: int, epochs: int, seed: int, min_kills: int,
                     window: tuple[float, float]):
    """Up to ``n_kills`` kills, each at a time uniform in ``window`` (fractions of the
    uninterrupted twin's wall time) after a (re)start: past the imports, into training,
    evaluation or a checkpoint write, whatever the machine's speed. A resumed run has less left
    to do, so a late attempt can find it finished, and a kill can land after the last checkpoint,
    when the run is complete and ``--resume`` rightly refuses; at least ``min_kills`` must land."""
    straight = tmp_path / "straight"
    start = time.perf_counter()
    assert _train(straight, epochs).wait() == 0
    duration = time.perf_counter() - start
    rng = random.Random(seed)
    run = tmp_path / "killed"
    kills = attempts = 0
    while True:
        started = run.exists() and (run / "checkpoints" / "last.pt").is_file()
        if started and load_checkpoint(run / "checkpoints" / "last.pt")["epoch"] == epochs:
            break  # killed after its last checkpoint (the last thing a run writes): finished
        flags = ["--resume"] if started else ["--overwrite"] if run.exists() else []
        proc = _train(run, epochs, *flags)
        if attempts < n_kills:
            attempts += 1
            time.sleep(rng.uniform(*window) * duration)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                kills += 1
                if run.exists():
                    _check_not_corrupt(run)
                continue
        _, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            break
        raise AssertionError(f"resume failed after {kills} kills: {err[-2000:]}")
    assert kills >= min_kills, (kills, attempts)
    a = load_checkpoint(straight / "checkpoints" / "last.pt")
    b = load_checkpoint(run / "checkpoints" / "last.pt")
    assert a["step"] == b["step"] and a["epoch"] == b["epoch"] == epochs
    for key in a["model"]:
        assert torch.equal(a["model"][key], b["model"][key]), key
    # every number but the wall-clock (train_seconds) is the same
    tests = [[{k: v for k, v in r.items() if k != "train_seconds"}
              for r in read_metrics(d / "metrics.jsonl") if r["split"] == "test"]
             for d in (straight, run)]
    assert tests[0] == tests[1]
    assert not list((run / "checkpoints").glob(".*.tmp"))


@pytest.mark.slow
def test_killed_three_times_then_resumed_equals_an_uninterrupted_twin(tmp_path):
    _kill_and_resume(tmp_path, n_kills=3, epochs=10, seed=0, min_kills=1, window=(0.25, 0.6))


@pytest.mark.long
def test_killed_twelve_times_then_resumed_equals_an_uninterrupted_twin(tmp_path):
    _kill_and_resume(tmp_path, n_kills=12, epochs=40, seed=1, min_kills=4, window=(0.1, 0.3))
