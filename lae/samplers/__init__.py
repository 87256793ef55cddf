"""Samplers: Langevin, MALA, HMC and (preconditioned) amortized Langevin dynamics.

Blackjax-style kernels with ``init``/``step``, chains batched on dim 0, energies per chain
``z [B, ...] -> U [B]``, and all randomness from an explicit ``torch.Generator``. See
docs/samplers.md.
"""

from lae.samplers.ald import ALD, ALDState, check_rank, feature_rank
from lae.samplers.base import (
    Info,
    SamplerState,
    energy_and_grad,
    langevin_log_q,
    mala_log_acceptance,
    metropolis_hastings,
    seeded_global_rng,
)
from lae.samplers.chain import ChainInfo, ChainReport, StepSizeAdapter, run_chain
from lae.samplers.kernels import HMC, MALA, Langevin

__all__ = [
    "ALD",
    "ALDState",
    "ChainInfo",
    "ChainReport",
    "HMC",
    "Info",
    "MALA",
    "Langevin",
    "SamplerState",
    "StepSizeAdapter",
    "check_rank",
    "feature_rank",
    "energy_and_grad",
    "langevin_log_q",
    "mala_log_acceptance",
    "metropolis_hastings",
    "run_chain",
    "seeded_global_rng",
]
