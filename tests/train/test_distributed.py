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

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lae.data import BatchLoader
from lae.errors import ConfigError
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
    from lae.train.trainer import data_spec

    cfg = _cfg(*LAE, batch=25)
    model = build_model(cfg.model, data_spec(load_dataset(cfg.data)))
    with pytest.raises(ConfigError, match="65 wide .* global batch is 100"):
        model.share_chains(lambda t: t, torch.Generator(), 100)
