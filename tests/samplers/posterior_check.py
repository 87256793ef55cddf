"""Monte Carlo tolerances for comparing chains with an exact Gaussian posterior.

Derivation (used by every exactness test):

* Integrated autocorrelation time tau is estimated by batch means, pooled over all points and
  coordinates: split the S kept steps into 20 batches of length b; for a chain with time constant
  tau, Var(batch mean) ~ tau * Var(z) / b, so tau_hat = b * mean Var(batch means) / mean Var(z).
  Pooling over N points makes tau_hat stable; it is floored at 1. ESS = S / tau_hat per point.
* Mean: the time average of one point's chain has standard error sd / sqrt(ESS); we accept
  |mean_i - mu_i| < 5 sd / sqrt(ESS) for every point and coordinate (N*K <= 200 comparisons, so
  a false alarm at 5 SE has probability ~1e-4 for a correct sampler).
* Variance: the per-point sample variances pooled over N points estimate sd^2 with relative
  standard error sqrt(2 tau / (N S)) (Gaussian; tau of z^2 <= tau of z for an AR(1)-like chain),
  so the ratio to the truth must lie in 1 +- 5 sqrt(2 tau / (N S)) (+ an allowance for samplers
  with a known discretisation bias, stated where used).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import Tensor


@dataclass
class Check:
    mean_err_max: float  # max over points/coords of |mean - mu| / sd (posterior sds)
    mean_err_rms: float
    mean_tol: float  # 5 / sqrt(ESS), posterior sds
    var_ratio: list[float]  # per latent coordinate, pooled over points
    var_tol: float  # half-width of the band around 1 (before any stated allowance)
    tau: float
    ess: float

    def mean_ok(self) -> bool:
        return self.mean_err_max < self.mean_tol

    def var_ok(self, allowance: float = 0.0) -> bool:
        return all(abs(r - 1) < self.var_tol + allowance for r in self.var_ratio)

    def __str__(self) -> str:
        return (f"mean err max {self.mean_err_max:.3f} rms {self.mean_err_rms:.3f} sd "
                f"(tol {self.mean_tol:.3f}); var ratio "
                f"{', '.join(f'{r:.3f}' for r in self.var_ratio)} (1 +- {self.var_tol:.3f}); "
                f"tau {self.tau:.1f}, ESS {self.ess:.0f}")


def posterior_check(trace: Tensor, mu: Tensor, cov: Tensor, n_batches: int = 20) -> Check:
    """trace [S, N, K] against posterior means mu [N, K] and shared covariance cov [K, K]."""
    s_total, n, k = trace.shape
    b = s_total // n_batches
    trace = trace[: b * n_batches]
    s_total = b * n_batches
    sd = cov.diagonal().sqrt()
    var = trace.var(0)  # [N, K]
    batch_means = trace.reshape(n_batches, b, n, k).mean(1)
    tau = max(1.0, float(b * batch_means.var(0).mean() / var.mean()))
    ess = s_total / tau
    err = (trace.mean(0) - mu) / sd
    return Check(mean_err_max=float(err.abs().max()), mean_err_rms=float(err.pow(2).mean().sqrt()),
                 mean_tol=5 / math.sqrt(ess), var_ratio=(var.mean(0) / sd.pow(2)).tolist(),
                 var_tol=5 * math.sqrt(2 * tau / (n * s_total)), tau=tau, ess=ess)
