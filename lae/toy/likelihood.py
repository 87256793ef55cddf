r"""``lae toy likelihood``: estimate log p(x) of a linear-Gaussian model by AIS or IWAE and compare
with the exact value log N(x; b, W Wᵀ + σ² I).

The problem (float64): W ~ N(0, 1)/sqrt(K) entrywise [D, K], b ~ N(0, 0.25) [D], σ = 1 by
default, x drawn from the model. Each of W z has unit variance per dimension, so the posterior
precision is about 1 + D/(K σ²) per latent direction (≈ 99 at D = 784, K = 8, σ = 1: posterior sds
≈ 0.1 against prior sds of 1, a concentrated posterior).

Estimators:

- ``ais``: forward AIS (lae.eval.ais.ais_log_px), a stochastic lower bound; with ``--bdmc`` also
  the reverse-AIS (BDMC) stochastic upper bound, started at one exact posterior draw per point
  (lae.eval.ais.ais_reverse_log_px, same settings), reported and saved next to it.
- ``iwae``: importance sampling with a deliberately mis-scaled Gaussian proposal
  q = N(μ_post, (1.5)² Σ_post), the exact posterior mean with its covariance inflated 1.5² times
  (the prior as proposal would need ~ e^{20} samples here). A lower bound as well.

The .npz holds ``x`` [N, D], ``W`` [D, K], ``b`` [D], ``sigma`` (scalar), ``log_px_estimate`` [N]
and ``log_px_exact`` [N] (recomputable from the others); with ``--bdmc`` also
``log_px_bdmc_upper`` [N], the BDMC upper bound per point. All log p(x) values are in nats per
point.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.distributions import MultivariateNormal

from lae.distributions import LinearGaussian, StandardNormalPrior
from lae.eval.ais import ais_log_px, ais_reverse_log_px
from lae.eval.importance import iwae_log_px
from lae.samplers import seeded_global_rng
from lae.toy.output import print_written, save_npz_and_report


def make_problem(n_data: int, x_dim: int, z_dim: int, sigma: float = 1.0, seed: int = 0
                 ) -> tuple[LinearGaussian, Tensor]:
    """The float64 linear-Gaussian model of the module doc and n_data points drawn from it."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(x_dim, z_dim, generator=g, dtype=torch.float64) / math.sqrt(z_dim)
    b = 0.5 * torch.randn(x_dim, generator=g, dtype=torch.float64)
    model = LinearGaussian(w, b, sigma)
    return model, model.sample_x(n_data, generator=g)


def log_likelihood_fn(model: LinearGaussian):
    """(x [N, D], z [N, K]) -> log N(x; W z + b, σ² I) [N]."""
    d = model.weight.shape[0]
    const = d * math.log(2 * math.pi * model.sigma**2)

    def log_likelihood(x: Tensor, z: Tensor) -> Tensor:
        resid = x - z @ model.weight.T - model.bias
        return -0.5 * (resid.pow(2).sum(-1) / model.sigma**2 + const)

    return log_likelihood


def estimate(model: LinearGaussian, x: Tensor, estimator: str = "ais", *, n_chains: int = 16,
             n_temps: int = 3000, n_leapfrog: int = 1, kernel: str = "hmc", k: int = 1000,
             bdmc: bool = False, seed: int = 0) -> dict:
    """log p(x) estimates [N] and the settings that produced them (and the BDMC upper bound)."""
    g = torch.Generator().manual_seed(seed + 1)
    z_dim = model.weight.shape[1]
    prior = StandardNormalPrior(z_dim).double()
    ll = log_likelihood_fn(model)
    out: dict = {}
    start = time.perf_counter()
    if bdmc and estimator != "ais":
        raise ValueError("bdmc needs estimator 'ais' (the BDMC upper bound is reverse AIS)")
    if estimator == "ais":
        kw = dict(n_chains=n_chains, n_temps=n_temps, n_leapfrog=n_leapfrog, kernel=kernel,
                  generator=g)
        est, diag = ais_log_px(prior, ll, x, **kw)
        out["settings"] = diag.settings.as_dict() | {"acceptance_final": diag.acceptance_final,
                                                     "step_size_final": diag.step_size_final}
        out["seconds"] = time.perf_counter() - start
        if bdmc:
            z_post = model.posterior(x).sample()  # exact posterior draws
            upper, _ = ais_reverse_log_px(prior, ll, x, z_post, **kw)
            out["upper"] = upper
    elif estimator == "iwae":
        post = model.posterior(x)
        proposal = MultivariateNormal(post.mean, covariance_matrix=2.25 * model.posterior_cov)
        with seeded_global_rng(seed + 1):
            est = iwae_log_px(model.log_joint, proposal, x, k)
        out["settings"] = {"k": k, "proposal": "N(posterior mean, 1.5^2 posterior cov)"}
        out["seconds"] = time.perf_counter() - start
    else:
        raise ValueError(f"unknown estimator {estimator!r}; choices: ais, iwae")
    out["log_px"] = est
    return out


def run_likelihood(estimator: str = "ais", n_data: int = 100, x_dim: int = 784, z_dim: int = 8,
                   sigma: float = 1.0, seed: int = 0, save: str | Path | None = None,
                   out: str | Path | None = None, verbose: bool = True, **kwargs) -> dict:
    """Estimate, compare with the exact log p(x), write the .npz (``save``) and a JSON report
    (``out``, default next to the npz). Returns the report."""
    model, x = make_problem(n_data, x_dim, z_dim, sigma, seed)
    exact = model.log_marginal(x)
    res = estimate(model, x, estimator, seed=seed, **kwargs)
    err = res["log_px"] - exact
    report = {
        "problem": {"model": "linear-gaussian", "n_data": n_data, "x_dim": x_dim,
                    "z_dim": z_dim, "sigma": sigma, "seed": seed,
                    "W": "N(0,1)/sqrt(z_dim)", "b": "N(0, 0.5^2)"},
        "estimator": estimator, "settings": res["settings"], "seconds": res["seconds"],
        "exact_log_px_mean": exact.mean().item(),
        "error_mean": err.mean().item(), "abs_error_mean": err.abs().mean().item(),
        "abs_error_max": err.abs().max().item(),
    }
    if "upper" in res:
        up = res["upper"] - exact
        report |= {"upper_error_mean": up.mean().item(), "upper_abs_error_max":
                   up.abs().max().item(), "bdmc_gap_mean": (res["upper"] - res["log_px"]).mean()
                   .item()}

    def arrays() -> dict:
        a = dict(x=x.numpy(), W=model.weight.numpy(), b=model.bias.numpy(),
                 sigma=np.float64(sigma), log_px_estimate=res["log_px"].numpy(),
                 log_px_exact=exact.numpy())
        if "upper" in res:
            a["log_px_bdmc_upper"] = res["upper"].numpy()
        return a

    save_npz_and_report(save, out, report, arrays, "file")
    if verbose:
        print(f"{estimator}: N={n_data} D={x_dim} K={z_dim} sigma={sigma} {res['settings']} "
              f"({res['seconds']:.1f} s)")
        print(f"  exact log p(x) mean {report['exact_log_px_mean']:.3f} nats; estimate - exact: "
              f"mean {report['error_mean']:+.4f}, mean abs {report['abs_error_mean']:.4f}, "
              f"max abs {report['abs_error_max']:.4f} nats")
        if "upper" in res:
            print(f"  BDMC upper bound - exact: mean {report['upper_error_mean']:+.4f}; "
                  f"gap upper - lower mean {report['bdmc_gap_mean']:.4f} nats")
        print_written(report)
    return report
