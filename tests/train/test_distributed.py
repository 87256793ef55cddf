"""Training on two processes (torch.distributed, gloo on the CPU) against one process.

One pair of processes is started for the module and trains every scenario in turn (starting
processes costs seconds); the tests then compare what they wrote with one-process runs:

- the LAE with plain ALD (no per-example randomness): Phi bitwise equal on both processes, and
  the model equal to a one-process run of the same global batch, to float tolerance (the two
  shards' sums are added in another order than one process adds them);
- the VAE (per-process noise): equal to a one-process replay that averages the gradients of the
  two processes' batches, drawn with the two processes' generators;
- LD's per-example chains: merged every epoch (every row moved, both processes equal), and a run
  stopped after epoch 1 and resumed equal to an uninterrupted one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lae.data import BatchLoader
from lae.errors import ConfigError
from lae.eval.plots import read_metrics
from lae.models import MODELS
from lae.train import Trainer, load_config, load_run

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="no torch.distributed")

WORLD = 2
BASE = ["data.n_toy=400", "train.eval_size=50", "train.eval_k=2", "train.n_samples=16",
        "train.progress=false", "train.log_every=4", "train.num_threads=1",
        "train.device=cpu"]
LAE = ["model.name=lae", "model.mala_steps=0", "model.net.hidden=64", "train.epochs=1"]
VAE = ["model.net.hidden=32", "train.epochs=1"]
LD = ["model.name=ld", "model.net.hidden=32"]


def _cfg(*overrides: str, batch: int):
    return load_config("vae-toy2d", [*BASE, *overrides, f"train.batch_size={batch}"])


def _worker(rank: int, ports: list[int], out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD),
                      MASTER_ADDR="127.0.0.1")
    runs = [("lae", LAE, False), ("vae", VAE, False),
            ("ld-straight", [*LD, "train.epochs=2"], False),
            ("ld-split", [*LD, "train.epochs=1"], False),
            ("ld-split", [*LD, "train.epochs=2"], True)]
    for port, (name, overrides, resume) in zip(ports, runs):
        os.environ["MASTER_PORT"] = str(port)
        trainer = Trainer(_cfg(*overrides, batch=25), f"{out}/{name}", resume=resume)
        trainer.fit()
        torch.save(trainer.model.state_dict(), f"{out}/{name}-rank{rank}.pt")


@pytest.fixture(scope="module")
def two_process_runs(tmp_path_factory):
    from lae.train.distributed import free_port

    out = tmp_path_factory.mktemp("dist")
    mp.start_processes(_worker, args=([free_port() for _ in range(5)], str(out)),
                       nprocs=WORLD, join=True, start_method="spawn")
    return out


def _close(a: dict, b: dict, atol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=atol, msg=key)


def test_the_lae_chain_is_one_chain_equal_to_one_process_with_the_global_batch(
        two_process_runs, tmp_path):
    runs = [torch.load(two_process_runs / f"lae-rank{r}.pt") for r in range(WORLD)]
    assert torch.equal(runs[0]["phi"], runs[1]["phi"])  # bitwise: one chain
    for key in runs[0]:  # every process holds the same model
        assert torch.equal(runs[0][key], runs[1][key]), key
    one = Trainer(_cfg(*LAE, batch=25 * WORLD), tmp_path / "one")
    phi0 = one.model.phi.clone()
    one.fit()
    # float32 sums of 25 + 25 against 50 terms, over 8 steps of a chain and Adam: 1e-4
    _close(runs[0], one.model.state_dict(), atol=1e-4)
    assert (one.model.phi - phi0).abs().max() > 1e-3  # the chain moved


def test_the_vae_steps_on_the_mean_gradient_of_the_processes_batches(two_process_runs,
                                                                     tmp_path):
    runs = [torch.load(two_process_runs / f"vae-rank{r}.pt") for r in range(WORLD)]
    for key in runs[0]:
        assert torch.equal(runs[0][key], runs[1][key]), key
    # the replay: one process, both processes' batches and generators, gradients averaged
    cfg = _cfg(*VAE, batch=25)
    replay = Trainer(cfg, tmp_path / "replay")
    model, seed = replay.model, cfg.train.seed
    train = replay.splits.train
    loaders = [BatchLoader(train, torch.arange(len(train)), 25, shuffle=True, drop_last=True,
                           generator=torch.Generator().manual_seed(seed), shard=(r, WORLD))
               for r in range(WORLD)]
    generators = [torch.Generator().manual_seed(seed + 1 + ((r + 1) << 32))
                  for r in range(WORLD)]
    model.train()
    for batches in zip(*loaders):
        per_process = []
        for (x, index), g in zip(batches, generators):
            losses = model.training_step(x, index, g).losses
            per_process.append({name: torch.autograd.grad(loss, replay.param_groups[name])
                                for name, loss in losses.items()})
        for name, opt in replay.optimizers.items():
            for i, p in enumerate(replay.param_groups[name]):
                p.grad = sum(grads[name][i] for grads in per_process) / WORLD
            opt.step()
    _close(runs[0], model.state_dict(), atol=1e-5)


def test_per_example_chains_are_merged_every_epoch_and_resume_exactly(two_process_runs):
    straight = [torch.load(two_process_runs / f"ld-straight-rank{r}.pt") for r in range(WORLD)]
    for key in straight[0]:  # merged: both processes hold every chain
        assert torch.equal(straight[0][key], straight[1][key]), key
    saved = load_run(two_process_runs / "ld-straight").model.state_dict()
    assert torch.equal(saved["z_chains"], straight[0]["z_chains"])  # the checkpoint has them all
    first = load_run(two_process_runs / "ld-split", checkpoint="1").model.state_dict()
    moved = (saved["z_chains"] != first["z_chains"]).any(1)
    assert bool(moved.all()), f"{int((~moved).sum())} chains did not move in epoch 2"
    split = [torch.load(two_process_runs / f"ld-split-rank{r}.pt") for r in range(WORLD)]
    for key in straight[0]:  # stopped after epoch 1 and resumed: the same run
        assert torch.equal(split[0][key], straight[0][key]), key
        assert torch.equal(split[1][key], straight[1][key]), key


def test_a_run_refuses_a_global_batch_wider_than_the_lae_features():
    from lae.data import load_dataset
    from lae.models import build_model
    from lae.train.setup import data_spec

    cfg = _cfg(*LAE, batch=25)
    model = build_model(cfg.model, data_spec(load_dataset(cfg.data)))
    with pytest.raises(ConfigError, match="65 wide .* global batch is 100"):
        model.share_chains(lambda t: t, torch.Generator(), 100)


def test_a_run_resumes_only_on_as_many_processes(two_process_runs):
    with pytest.raises(ConfigError, match="trained on 2 process.*resumed on 1"):
        Trainer(_cfg(*LD, "train.epochs=3", batch=25), two_process_runs / "ld-straight",
                resume=True)


FLAGS = ["--data.n_toy=400", "--train.epochs=1", "--train.progress=false",
         "--train.batch_size=25", "--train.eval_size=50", "--train.eval_k=2",
         "--train.n_samples=16", "--train.log_every=4", "--train.num_threads=1",
         "--train.device=cpu"]


def _lae_train(out, *flags: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lae.cli", "train", "vae-toy2d", "--out",
                           str(out), "--nproc", "2", *FLAGS, *flags],
                          capture_output=True, text=True, timeout=600)


def test_lae_train_nproc_starts_the_processes_and_process_0_writes(tmp_path):
    done = _lae_train(tmp_path / "run", "--model.net.hidden=32")
    assert done.returncode == 0, done.stderr
    assert "global batch 50" in done.stdout
    assert done.stdout.count('"run_dir"') == 1  # the summary, from process 0 only
    assert (tmp_path / "run" / "checkpoints" / "last.pt").is_file()
    train = [r for r in read_metrics(tmp_path / "run" / "metrics.jsonl")
             if r["split"] == "train"]
    assert [r["step"] for r in train] == [4, 8]  # one record per logging step, not one each


def test_a_failing_process_stops_the_run_with_its_error(tmp_path):
    done = _lae_train(tmp_path / "run", "--model.name=lae", "--model.net.hidden=32")
    assert done.returncode == 2
    assert "error: LAE on several processes: the ALD features are 33 wide" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_error_every_process_meets_is_said_once(tmp_path):
    # was: a divergence printed twice, once per process, in two wordings
    done = _lae_train(tmp_path / "run", "--model.net.hidden=32", "--train.lr=1e4")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("training diverged") == 1, done.stderr
    assert done.stderr.count("error:") == 1 and "Traceback" not in done.stderr


@pytest.mark.long
@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_trains_on_two_processes(tmp_path, name):
    hidden = 64 if name.startswith("lae") else 32  # the LAE's features >= the global batch
    done = _lae_train(tmp_path / name, f"--model.name={name}", f"--model.net.hidden={hidden}")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / name / "checkpoints" / "last.pt").is_file()


@pytest.mark.long
def test_a_killed_two_process_run_resumes_to_the_uninterrupted_run(tmp_path):
    flags = ["--model.name=ld", "--model.net.hidden=32", "--train.epochs=3",
             "--data.n_toy=3000"]
    straight = _lae_train(tmp_path / "straight", *flags)
    assert straight.returncode == 0, straight.stderr
    run = tmp_path / "killed"
    command = [sys.executable, "-m", "lae.cli", "train", "vae-toy2d", "--out", str(run),
               "--nproc", "2", *FLAGS, *flags]
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while not (run / "checkpoints" / "epoch_0001.pt").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, "no epoch 1 checkpoint"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both training processes
    proc.wait()
    assert load_run(run).epoch < 3, "the kill came after the run had finished"
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr
    a, b = load_run(tmp_path / "straight").model.state_dict(), load_run(run).model.state_dict()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(c) for c in path.read_text().split()] if path.is_file() else []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has finished


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux /proc")
def _training_on_two_processes(command: list[str], run: Path):
    """Start ``command`` (lae train --nproc 2 into ``run``) and wait until both processes train;
    the launcher's Popen and its two training processes' pids."""
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 120
    while not (run / "metrics.jsonl").is_file():
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()
        time.sleep(0.1)
    workers = [c for c in _children(proc.pid) if "spawn_main" in
               Path(f"/proc/{c}/cmdline").read_text()]
    assert len(workers) >= 2, workers
    return proc, workers


def test_a_killed_launcher_takes_its_processes_with_it_and_a_killed_process_is_named(
        tmp_path, replacing_overrides):
    """A SIGKILLed launcher left its processes training to the last epoch, holding the run's
    lock (107 orphans in one probe); a process killed by a signal was reported only as
    "interrupted", without its rank, the signal or --nproc in the resume command."""
    flags = ["--data.n_toy=20000", "--train.epochs=50", "--model.net.hidden=32"]
    command = [sys.executable, "-m", "lae.cli", "train", "vae-toy2d", "--nproc", "2",
               *replacing_overrides(FLAGS, *flags)]
    for victim, stop in (("launcher", None), ("process", signal.SIGKILL),
                         ("stopped process", signal.SIGTERM)):
        out = tmp_path / victim.replace(" ", "-")
        proc, workers = _training_on_two_processes([*command, "--out", str(out)], out)
        if victim == "launcher":
            proc.kill()
            proc.wait()
            deadline = time.monotonic() + 60
            while any(_alive(w) for w in workers):
                assert time.monotonic() < deadline, "the training processes outlived it"
                time.sleep(0.2)
        else:
            os.kill(workers[-1], stop)
            err = proc.communicate(timeout=120)[1]
            # which the launcher sees first, the killed process or the other one losing contact
            # with it, is a race: both name the killed process (a SIGTERM was "exit status 143")
            assert (f"was stopped by signal {stop.name}" in err or "died without a word" in err
                    ), err
            assert proc.returncode != 0
            # the way on, as printed: --resume once an epoch was kept, else start again (was
            # always --resume, which fails on a folder with no checkpoint)
            kept = (out / "checkpoints" / "last.pt").is_file()
            assert "training process 1 of 2" in err
            assert ("--resume --nproc 2" in err if kept else
                    "--nproc 2" in err and "--overwrite" in err), err
            assert err.count("error:") == 1 and "Traceback" not in err
            assert "Exception ignored" not in err and "leaked" not in err, err


def test_a_stopped_launcher_stops_its_processes(tmp_path, replacing_overrides):
    """SIGTERM to the launcher printed "interrupted" and then waited on its processes, which
    went on training (epoch 27 to 106 in one probe)."""
    run = tmp_path / "run"
    proc, workers = _training_on_two_processes(
        [sys.executable, "-m", "lae.cli", "train", "vae-toy2d", "--nproc", "2",
         *replacing_overrides(FLAGS, "--data.n_toy=20000", "--train.epochs=50",
                              "--model.net.hidden=32"),
         "--out", str(run)],
        run)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130 and "interrupted" in err, err
    assert not any(_alive(w) for w in workers), "the training processes outlived the launcher"
    assert "Traceback" not in err and "Exception ignored" not in err, err
