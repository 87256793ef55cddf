r"""log Z of an unnormalised prior by annealed importance sampling in latent space.

A prior :math:`p(z) = \tilde p(z) / Z` with :math:`\tilde p(z) = \exp(f(z))\, p_0(z)` (e.g. the
latent EBM, lae/distributions/priors.py) has

.. math:: Z = \mathbb E_{p_0}[\exp f(z)],

which AIS estimates without bias by annealing from :math:`p_0` (the prior's ``base``) to
:math:`\tilde p`: the same code as the log-likelihood AIS (lae/eval/ais.py), with :math:`p_0` as
the "prior" and :math:`\log \tilde p(z) - \log p_0(z)` as the "likelihood". The latent space is
low-dimensional, so many chains are cheap. ``n_replicas`` independent runs of ``n_chains`` chains
give the standard error (the spread of the replicas' estimates); the estimate itself pools all
chains (log-mean-exp of every weight). Because the logarithm of an unbiased estimate of Z is
biased low, the estimate is a stochastic lower bound on log Z; a convergence check repeats the
whole estimate with half the temperatures and records the difference.

A log-likelihood under such a prior, log p(x) = log ∫ p̃(z) p(x|z) dz − log Z, is then the
difference of two estimates (each a stochastic lower bound), which is not a bound: report it as
an estimate, with both parts' uncertainties.

Example (a Gaussian energy, where log Z is known: f(z) = -z^2/2 on p_0 = N(0, 1) gives
Z = E[exp(-z^2/2)] = 1/sqrt(2))::

    >>> import math, torch
    >>> from lae.distributions import NormalPrior
    >>> class Quadratic(torch.nn.Module):
    ...     base = NormalPrior(1).double()
    ...     normalized = False
    ...     def log_prob(self, z):
    ...         return -0.5 * z.pow(2).sum(-1) + self.base.log_prob(z)
    >>> out = ais_log_normalizer(Quadratic(), n_replicas=4, n_chains=64, n_temps=50,
    ...                          generator=torch.Generator().manual_seed(0), check=False)
    >>> abs(out["log_z"] - math.log(1 / math.sqrt(2))) < 0.01
    True
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from lae.eval.ais import ais_log_px


def _estimate(prior: Any, n_replicas: int, n_chains: int, n_temps: int,
              generator: torch.Generator | None, **ais_kwargs: Any
              ) -> tuple[float, float, dict[str, Any]]:
    base = prior.base
    dtype, device = base.loc.dtype, base.loc.device
    log_ratio = lambda x, z: prior.log_prob(z) - base.log_prob(z)  # noqa: E731  f(z)
    # one dummy "data point" per replica: AIS runs n_chains chains for each
    x = torch.zeros(n_replicas, 1, dtype=dtype, device=device)
    per_replica, diag = ais_log_px(base, log_ratio, x, n_chains=n_chains, n_temps=n_temps,
                                   generator=generator, **ais_kwargs)
    log_w = diag.log_weights.reshape(-1)  # every chain of every replica
    pooled = torch.logsumexp(log_w, 0) - math.log(log_w.numel())
    stderr = per_replica.std().item() / math.sqrt(n_replicas) if n_replicas > 1 else math.nan
    return pooled.item(), stderr, diag


def ais_log_normalizer(prior: Any, *, n_replicas: int = 8, n_chains: int = 256,
                       n_temps: int = 1000, check: bool = True,
                       generator: torch.Generator | None = None,
                       **ais_kwargs: Any) -> dict[str, Any]:
    """Estimate log Z of an unnormalised prior (``log_prob`` = log p̃, ``base`` = p_0).

    Args:
        prior: an object with ``log_prob(z) [N, K] -> [N]`` (unnormalised) and ``base`` (a
            normalised distribution with ``log_prob``, ``sample(n, generator=)`` and a ``loc``
            buffer, e.g. :class:`lae.distributions.NormalPrior`).
        n_replicas: independent AIS runs (the standard error is their spread).
        n_chains: chains per run.
        n_temps: annealing steps.
        check: repeat with ``n_temps // 2`` temperatures and record the difference.
        generator: the only source of randomness.
        ais_kwargs: more options of :func:`lae.eval.ais.ais_log_px` (kernel, schedule, ...).

    Returns:
        ``log_z`` (nats), ``log_z_stderr``, and with ``check`` ``log_z_half_temps``,
        ``log_z_half_temps_stderr``, ``check_difference`` (full minus half) and
        ``check_tolerance`` (3 combined standard errors + 0.05 nats) and ``converged``
        (|difference| within the tolerance); ``settings``.
    """
    if n_replicas < 2 or n_chains < 1 or n_temps < 2:
        raise ValueError(f"ais_log_normalizer: need n_replicas >= 2, n_chains >= 1 and "
                         f"n_temps >= 2; got {n_replicas}, {n_chains}, {n_temps}")
    log_z, stderr, diag = _estimate(prior, n_replicas, n_chains, n_temps, generator,
                                    **ais_kwargs)
    out: dict[str, Any] = {"log_z": log_z, "log_z_stderr": stderr, "settings": {
        "n_replicas": n_replicas, "n_chains": n_chains, "n_temps": n_temps,
        **{k: v for k, v in diag.settings.as_dict().items() if k not in ("n_chains", "n_temps")}}}
    if check:
        half, half_stderr, _ = _estimate(prior, n_replicas, n_chains, n_temps // 2, generator,
                                         **ais_kwargs)
        tolerance = 3 * math.hypot(stderr, half_stderr) + 0.05
        out |= {"log_z_half_temps": half, "log_z_half_temps_stderr": half_stderr,
                "check_difference": log_z - half, "check_tolerance": tolerance,
                "converged": abs(log_z - half) <= tolerance}
    return out


def quadratic_log_normalizer(a: Tensor, b: Tensor, c: float, base_scale: float) -> float:
    r"""Exact log Z for f(z) = -z^T A z / 2 + b^T z + c on p_0 = N(0, s_0^2 I):

    .. math::

        \log Z = c + \tfrac12 b^\top P^{-1} b - \tfrac12 \log\det P - \tfrac{K}{2} \log s_0^2,
        \qquad P = A + I / s_0^2 \ (\text{positive definite}).
    """
    k = a.shape[0]
    p = a + torch.eye(k, dtype=a.dtype) / base_scale ** 2
    chol = torch.linalg.cholesky(p)  # raises if P is not positive definite
    p_inv_b = torch.cholesky_solve(b[:, None], chol)[:, 0]
    log_det = 2 * chol.diagonal().log().sum()
    return float(c + 0.5 * b @ p_inv_b - 0.5 * log_det - 0.5 * k * math.log(base_scale ** 2))
