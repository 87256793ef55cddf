"""One ALD chain over Phi shared by two processes (torch.distributed, gloo on the CPU), each
holding half of the batch: every process must hold the same Phi after every step, and that chain
must be the one-process chain of the whole batch (same noise, same MH decisions), to float
tolerance: the two shards' sums are added in another order than one process adds them."""

from __future__ import annotations

import math

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lae.samplers.ald import ALD
from lae.train.distributed import all_reduce_sum

N, D, K, STEPS = 8, 16, 2, 25


def _problem():
    from lae.distributions import LinearGaussian

    g = torch.Generator().manual_seed(0)
    truth = LinearGaussian(torch.randn(6, K, generator=g, dtype=torch.float64),
                           torch.randn(6, generator=g, dtype=torch.float64), 0.5)
    x = truth.sample_x(N, generator=g)
    feats = torch.cat([torch.tanh(torch.randn(N, D - 1, generator=g, dtype=torch.float64)),
                       torch.ones(N, 1, dtype=torch.float64)], 1)
    phi0 = 0.1 * torch.randn(K, D, generator=g, dtype=torch.float64)
    return truth, x, feats, phi0


def _chain(kernel, truth, x, feats, phi0):
    """STEPS transitions from phi0: (Phi after each step [STEPS, K, D], acceptance [STEPS])."""
    energy_fn = lambda z: -truth.log_joint(x, z)  # noqa: E731
    g = torch.Generator().manual_seed(1)  # seeded alike on every process
    state = kernel.init(phi0, energy_fn, feats)
    phis, accepted = [], []
    for _ in range(STEPS):
        state, info = kernel.step(state, energy_fn, g)
        phis.append(state.phi)
        accepted.append(info.acceptance[0])
    return torch.stack(phis), torch.stack(accepted)


def _worker(rank: int, world: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        truth, x, feats, phi0 = _problem()
        shard = slice(rank * N // world, (rank + 1) * N // world)
        phis, accepted = _chain(ALD(step_size=0.002, reduce=all_reduce_sum), truth, x[shard],
                                feats[shard], phi0)
        torch.save({"phis": phis, "accepted": accepted}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built in")
def test_two_processes_hold_one_chain_equal_to_the_one_process_chain(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert torch.equal(ranks[0]["phis"], ranks[1]["phis"])  # bitwise: one chain
    truth, x, feats, phi0 = _problem()
    phis, accepted = _chain(ALD(step_size=0.002), truth, x, feats, phi0)
    torch.testing.assert_close(ranks[0]["phis"], phis, rtol=0, atol=1e-10)
    torch.testing.assert_close(ranks[0]["accepted"], accepted, rtol=0, atol=1e-10)
    moved = (phis.diff(dim=0).abs().amax((1, 2)) > 0).double().mean()
    assert 0.5 < float(moved) < 1.0  # a real chain: most proposals accepted, not all
    assert math.isfinite(float(phis.abs().max()))


def test_a_shared_chain_refuses_what_needs_the_whole_batch():
    with pytest.raises(ValueError, match="preconditioned"):
        ALD(step_size=0.1, preconditioned=True, reduce=all_reduce_sum)
