"""Non-finite proposals: MH rejects them, unadjusted moves stay at the last finite state, and
every kernel counts them in ``info.nonfinite``."""

import math

import pytest
import torch

from lae.samplers import ALD, HMC, MALA, Langevin


def cliff(z):
    """N(0, I) energy that is NaN beyond |z_0| > 2 (an overflow in a decoder, say) and -inf
    beyond z_0 < -2 (a likelihood that blew up): neither may ever be entered."""
    u = 0.5 * z.pow(2).sum(-1)
    u = torch.where(z[:, 0] > 2, torch.full_like(u, math.nan), u)
    return torch.where(z[:, 0] < -2, torch.full_like(u, -math.inf), u)


@pytest.mark.parametrize("kernel", [Langevin(1.5), MALA(1.5), HMC(1.0, n_leapfrog=3)],
                         ids=["langevin", "mala", "hmc"])
def test_latent_kernels_never_enter_non_finite_states(kernel):
    g = torch.Generator().manual_seed(0)
    state = kernel.init(torch.zeros(256, 2), cliff)
    held_back = 0.0
    for _ in range(30):
        state, info = kernel.step(state, cliff, g)
        assert torch.isfinite(state.energy).all() and torch.isfinite(state.z).all()
        assert torch.isfinite(state.grad).all()
        held_back += float(info.nonfinite.sum())
        # a chain held back did not move (acceptance 0 for it)
        assert (info.acceptance[info.nonfinite > 0] == 0).all()
    # steps of 1.5 from N(0, 1) cross |z_0| = 2 often: the guard must have acted
    assert held_back > 100


@pytest.mark.parametrize("mh", [True, False])
def test_ald_rejects_or_holds_an_exploding_proposal(mh):
    g = torch.Generator().manual_seed(0)
    feats = torch.randn(16, 24, generator=g)
    ald = ALD(step_size=1e3, mh=mh)  # far too large: V overflows to inf or NaN
    state = ald.init(torch.zeros(2, 24), cliff, feats)
    for _ in range(5):
        state, info = ald.step(state, cliff, g)
        assert torch.isfinite(state.phi).all() and torch.isfinite(state.energy).all()
    assert info.nonfinite.max() == 1 and info.acceptance.max() == 0
