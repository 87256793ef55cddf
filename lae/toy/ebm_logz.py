r"""``lae toy ebm-logz``: log Z of a latent energy-based prior against its closed form.

The prior is :class:`lae.distributions.LatentEBMPrior` (p(z) ∝ exp(f(z)) N(z; 0, s_0^2 I)) with its
MLP replaced by a random quadratic energy

    f(z) = -z^T A z / 2 + b^T z + c,   A = M M^T / K - 0.5 I / s_0^2 (so that P = A + I/s_0^2 is
                                        positive definite, but A itself need not be),

whose normaliser is known (:func:`lae.eval.logz.quadratic_log_normalizer`). log Z is estimated by
:func:`lae.eval.logz.ais_log_normalizer`, the code path evaluation uses for EBM priors. The .npz
holds ``log_z_estimate``, ``log_z_exact``, ``log_z_stderr``, ``A``, ``b``, ``c`` and ``s0``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from lae.distributions import LatentEBMPrior
from lae.eval.logz import ais_log_normalizer, quadratic_log_normalizer
from lae.toy.output import print_written, save_npz_and_report


class QuadraticEnergy(nn.Module):
    """f(z) = -z^T A z / 2 + b^T z + c as a network z [N, K] -> [N, 1]."""

    def __init__(self, a: Tensor, b: Tensor, c: float) -> None:
        super().__init__()
        self.register_buffer("a", a)
        self.register_buffer("b", b)
        self.c = c

    def forward(self, z: Tensor) -> Tensor:
        return (-0.5 * ((z @ self.a) * z).sum(-1) + z @ self.b + self.c)[:, None]


def random_quadratic(k: int, base_scale: float, seed: int) -> tuple[Tensor, Tensor, float]:
    """(A [K, K], b [K], c) drawn with ``seed``; A + I / s_0^2 is positive definite."""
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(k, k, generator=g, dtype=torch.float64)
    a = m @ m.T / k - 0.5 * torch.eye(k, dtype=torch.float64) / base_scale ** 2
    b = torch.randn(k, generator=g, dtype=torch.float64)
    c = float(torch.randn((), generator=g, dtype=torch.float64))
    return a, b, c


def run_ebm_logz(latent_dim: int, *, seed: int = 0, base_scale: float = 1.0,
                 n_replicas: int = 8, n_chains: int = 256, n_temps: int = 1000,
                 save: str | Path | None = None, out: str | Path | None = None,
                 verbose: bool = True) -> dict:
    """Estimate log Z of a random quadratic latent EBM and compare with the exact value."""
    a, b, c = random_quadratic(latent_dim, base_scale, seed)
    prior = LatentEBMPrior(latent_dim, base_scale=base_scale).double()
    prior.energy_net = QuadraticEnergy(a, b, c)
    exact = quadratic_log_normalizer(a, b, c, base_scale)
    start = time.perf_counter()
    est = ais_log_normalizer(prior, n_replicas=n_replicas, n_chains=n_chains, n_temps=n_temps,
                             generator=torch.Generator().manual_seed(seed + 1))
    seconds = time.perf_counter() - start
    report = {"latent_dim": latent_dim, "seed": seed, "base_scale": base_scale,
              "log_z_exact": exact, "log_z_estimate": est["log_z"],
              "log_z_stderr": est["log_z_stderr"], "error": est["log_z"] - exact,
              "log_z_half_temps": est["log_z_half_temps"],
              "check_difference": est["check_difference"],
              "check_tolerance": est["check_tolerance"], "converged": est["converged"],
              # the self-check above cannot see a bias both runs share; the exact value can:
              # 4 replica standard errors, + 0.02 nats for the small bias of log of a mean
              "exact_tolerance": 4 * est["log_z_stderr"] + 0.02,
              "agrees_with_exact": abs(est["log_z"] - exact) <= 4 * est["log_z_stderr"] + 0.02,
              "settings": est["settings"], "seconds": seconds}

    def arrays() -> dict:
        return dict(log_z_estimate=np.float64(est["log_z"]), log_z_exact=np.float64(exact),
                    log_z_stderr=np.float64(est["log_z_stderr"]), A=a.numpy(), b=b.numpy(),
                    c=np.float64(c), s0=np.float64(base_scale))

    save_npz_and_report(save, out, report, arrays, "file")
    if verbose:
        print(f"ebm-logz: K={latent_dim} s0={base_scale} seed={seed} ({seconds:.1f} s)")
        print(f"  log Z exact {exact:.4f}, AIS {est['log_z']:.4f} ± {est['log_z_stderr']:.4f} "
              f"nats (error {est['log_z'] - exact:+.4f}: "
              f"{'within' if report['agrees_with_exact'] else 'OUTSIDE'} the tolerance "
              f"{report['exact_tolerance']:.4f}, 4 standard errors + 0.02)")
        print(f"  self-check: half the temperatures {est['log_z_half_temps']:.4f}, "
              f"converged (the two agree): {est['converged']}")
        print_written(report)
    return report
