"""The step-size adapter (lae.samplers.StepSizeAdapter), the one rule every adaptive chain in the
library uses, against a target whose optimal step is known: MALA on N(0, 1).

For MALA with step h on U(z) = z^2 / 2 the proposal is z' = (1 - h) z + sqrt(2 h) xi, and the
stationary acceptance rate a(h) = E[min(1, alpha)] over z ~ N(0, 1), xi ~ N(0, 1) is a 2-D
Gaussian integral, computed here by Gauss-Hermite quadrature (200 x 200 nodes; a Monte Carlo
check with 4e6 draws gives 0.5743 at the root). The step h* with a(h*) = 0.574 is 1.710.
"""

import math

import numpy as np
import pytest
import torch

from lae.samplers import MALA, StepSizeAdapter, run_chain
from lae.samplers.kernels import MALA_TARGET


def mala_acceptance_on_standard_normal(h: float, nodes: int = 200) -> float:
    x, w = np.polynomial.hermite_e.hermegauss(nodes)  # weight exp(-x^2 / 2)
    w = w / w.sum()
    z, xi = np.meshgrid(x, x, indexing="ij")
    zp = (1 - h) * z + math.sqrt(2 * h) * xi
    log_q = lambda a, b: -(a - b + h * b) ** 2 / (4 * h)  # noqa: E731  q(a | b)
    log_alpha = 0.5 * z ** 2 - 0.5 * zp ** 2 + log_q(z, zp) - log_q(zp, z)
    return float((np.outer(w, w) * np.exp(np.minimum(log_alpha, 0.0))).sum())


def optimal_step(target: float) -> float:
    lo, hi = 0.01, 3.0  # a(h) falls from 1 to ~0 over this range
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if mala_acceptance_on_standard_normal(mid) > target else (lo, mid)
    return (lo + hi) / 2


H_STAR = optimal_step(MALA_TARGET)


def test_the_known_optimal_step():
    assert abs(H_STAR - 1.710) < 0.005
    assert abs(mala_acceptance_on_standard_normal(H_STAR) - MALA_TARGET) < 1e-6


def _run(adapter: StepSizeAdapter, warmup: int, init: float, chains: int = 2000):
    energy_fn = lambda z: 0.5 * z.pow(2).sum(-1)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(chains, 1, generator=g, dtype=torch.float64)  # stationary start
    kernel = MALA(init)
    _, _, info = run_chain(kernel, kernel.init(z0, energy_fn), energy_fn, 200, warmup=warmup,
                           adapt=adapter, keep_trace=False, generator=g)
    return float(info.step_size), float(info.acceptance.mean())


@pytest.mark.parametrize("init", [0.01, 10.0])
def test_decaying_gain_warmup_finds_the_optimal_step(init):
    # Global adaptation over 2,000 chains: the mean acceptance of one step has sd ~0.011, and
    # with gain (t + 1)^-0.6 the last 500 updates average it down to a log-step error of
    # ~0.01; 4 % of h* is > 3 of those, and leaves room for the start's bias at t = 1,500.
    step, acceptance = _run(StepSizeAdapter(MALA_TARGET, per_chain=False), 1500, init)
    assert abs(step / H_STAR - 1) < 0.04, (step, H_STAR)
    # the kept steps run at the frozen step: their acceptance is a(step) +- 0.002
    assert abs(acceptance - MALA_TARGET) < 0.02


def test_constant_gain_tracks_the_optimal_step():
    # Training-time rule (decay 0, gain 0.05): the step keeps moving by ~gain * 0.011 per update,
    # a stationary spread of ~sqrt(gain / 2) * 0.011 / slope in log h, well within 10 %.
    step, _ = _run(StepSizeAdapter(MALA_TARGET, per_chain=False, gain=0.05, decay=0.0), 1500,
                   0.01)
    assert abs(step / H_STAR - 1) < 0.10, (step, H_STAR)


def test_adapt_writes_a_models_buffer_in_place_whole_or_by_rows():
    adapter = StepSizeAdapter(0.5, per_chain=True, gain=0.1, decay=0.0)
    buffer = torch.zeros(4)
    adapter.adapt_(buffer, torch.tensor([1.0, 0.0]), index=torch.tensor([1, 3]))
    assert torch.allclose(buffer, torch.tensor([0.0, 0.05, 0.0, -0.05]))
    scalar = torch.zeros(())
    StepSizeAdapter(0.5, per_chain=False, gain=0.1, decay=0.0).adapt_(
        scalar, torch.tensor([1.0, 1.0]))
    assert torch.allclose(scalar, torch.tensor(0.05))


def test_run_chain_shows_a_progress_bar_only_when_asked(capsys):
    """A long chain (lae inpaint --steps 1e8 showed nothing) gets a bar with a label; tqdm draws
    it on terminals only (disable=None), so here it is checked through tqdm's own switch."""
    import lae.samplers.chain as chain
    from lae.samplers import MALA

    seen = []
    real = chain.tqdm

    def spy(*args, **kwargs):
        seen.append((kwargs.get("desc"), kwargs.get("disable"), kwargs.get("total")))
        return real(*args, **kwargs)

    energy_fn = lambda z: 0.5 * z.pow(2).sum(-1)  # noqa: E731
    kernel = MALA(0.5)
    for label in (None, "inpaint"):
        chain.tqdm = spy
        try:
            chain.run_chain(kernel, kernel.init(torch.zeros(2, 1), energy_fn), energy_fn, 3,
                            warmup=2, generator=torch.Generator().manual_seed(0),
                            progress=label)
        finally:
            chain.tqdm = real
    assert seen == [(None, True, 5), ("inpaint", None, 5)]
