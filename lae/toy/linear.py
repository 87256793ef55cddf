"""The linear-Gaussian toy problem, random features for ALD, and one driver for every sampler.

Model (docs/methods.md 5): z ~ N(0, I_K), x = W z + b + sigma * noise, with W = 0.5 * randn(D, K)
and b = randn(D) drawn from the seed (D = 10, K = 2, sigma = 0.5 gives posterior precision
eigenvalues ~8 and ~12, posterior sds ~0.3). Its posterior is exact (``LinearGaussian``).

ALD features: random tanh features of the data plus a constant column,
g(x) = [tanh(x A / sqrt(D) + c), 1] with A, c ~ N(0, 1) fixed by a seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import torch
from torch import Tensor

from lae.distributions import LinearGaussian
from lae.samplers import ALD, StepSizeAdapter, run_chain
from lae.samplers.kernels import KERNELS, build_kernel

SAMPLERS = ("ald", "ld", "mala", "hmc")
# default step sizes in units of the posterior (sds ~0.3 for the default problem); MALA, HMC and
# ALD with MH adapt them during warm-up toward the target acceptance
DEFAULT_STEP = {"ld": 0.005, "mala": 0.05, "hmc": 0.15, "ald": 0.02, "ald-plain": 1e-4}
# MH kernels adapt toward the registry's targets; ALD's joint test toward MALA's
TARGET_ACCEPTANCE = {"mala": KERNELS["mala"].target_acceptance,
                     "hmc": KERNELS["hmc"].target_acceptance,
                     "ald": KERNELS["mala"].target_acceptance}


def make_linear_gaussian(n: int, x_dim: int = 10, z_dim: int = 2, sigma: float = 0.5,
                         seed: int = 0) -> tuple[LinearGaussian, Tensor]:
    """A float64 linear-Gaussian model and n data points drawn from it."""
    g = torch.Generator().manual_seed(seed)
    w = 0.5 * torch.randn(x_dim, z_dim, generator=g, dtype=torch.float64)
    b = torch.randn(x_dim, generator=g, dtype=torch.float64)
    model = LinearGaussian(w, b, sigma)
    return model, model.sample_x(n, generator=g)


def tanh_features(x: Tensor, width: int, seed: int = 1, constant: bool = True) -> Tensor:
    """Random tanh features of x [n, D]: [n, width (+1 constant column)]."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(x.shape[1], width, generator=g, dtype=x.dtype) / math.sqrt(x.shape[1])
    c = torch.randn(width, generator=g, dtype=x.dtype)
    feats = torch.tanh(x @ a + c)
    if constant:
        feats = torch.cat([feats, torch.ones(x.shape[0], 1, dtype=x.dtype)], 1)
    return feats


def default_feature_dim(n: int) -> int:
    """max(2n, 128): rank(G) = n with random features."""
    return max(2 * n, 128)


@dataclass
class SamplerSettings:
    sampler: str
    steps: int = 2000
    warmup: int = 200
    thin: int = 1
    step_size: float | None = None
    mh: bool = True
    preconditioned: bool = False
    feature_dim: int | None = None
    n_leapfrog: int = 5
    seed: int = 0

    def resolved_step(self) -> float:
        if self.step_size is not None:
            return self.step_size
        if self.sampler == "ald" and not self.preconditioned:
            return DEFAULT_STEP["ald-plain"]
        return DEFAULT_STEP[self.sampler]


def sample_posterior(energy_fn, n: int, z_dim: int, settings: SamplerSettings,
                     features: Tensor | None = None, dtype=torch.float64) -> dict:
    """Run one sampler on n independent posteriors with per-point energies ``energy_fn``.

    ``ld``/``mala``/``hmc`` run one chain per data point (batched); ``ald`` runs one chain on
    Phi [K, d] with z_i = Phi g_i (``features`` G [n, d] required). MALA, HMC and ALD with MH
    adapt the step size during warm-up. Returns ``samples`` [S_kept, n, K], the final
    ``step_size``, mean ``acceptance``, ``grad_evals`` (per-point gradient evaluations, one per
    point per energy/gradient call) and ``seconds``.
    """
    s = settings
    if s.sampler not in SAMPLERS:
        raise ValueError(f"unknown sampler {s.sampler!r}; choose from {SAMPLERS}")
    eta = s.resolved_step()
    adapt = None
    if s.sampler != "ald":  # "ld" is datapoint-wise unadjusted Langevin
        name = {"ld": "langevin"}.get(s.sampler, s.sampler)
        kernel = build_kernel(name, eta, n_leapfrog=s.n_leapfrog)
        state = kernel.init(torch.zeros(n, z_dim, dtype=dtype), energy_fn)
        evals_per_step = s.n_leapfrog if name == "hmc" else 1
    else:
        if features is None:
            raise ValueError("ald needs features G [n, d]")
        kernel = ALD(eta, mh=s.mh, preconditioned=s.preconditioned)
        state = kernel.init(torch.zeros(z_dim, features.shape[1], dtype=dtype), energy_fn,
                            features)
        evals_per_step = 1
    if s.warmup > 0 and (s.sampler in ("mala", "hmc") or (s.sampler == "ald" and s.mh)):
        adapt = StepSizeAdapter(TARGET_ACCEPTANCE[s.sampler], per_chain=s.sampler != "ald")
    g = torch.Generator().manual_seed(s.seed)
    t0 = time.perf_counter()
    _, trace, info = run_chain(kernel, state, energy_fn, s.steps, warmup=s.warmup, adapt=adapt,
                               thin=s.thin, generator=g)
    seconds = time.perf_counter() - t0
    step = info.step_size
    return {
        "samples": trace,
        "step_size": float(step.mean()) if step.ndim else float(step),
        "acceptance": float(info.acceptance.mean()),
        "grad_evals": n * (1 + evals_per_step * (s.warmup + s.steps)),
        "seconds": seconds,
        "settings": asdict(s),
    }
