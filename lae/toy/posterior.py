"""``lae toy posterior``: sample the posterior of a linear-Gaussian model for N points at once and
score the samples against the exact Gaussian posterior.

The .npz holds ``samples`` [S_kept, N, K], ``x`` [N, D], ``W`` [D, K], ``b`` [D] and ``sigma``
(scalar), so the exact posterior can be recomputed from the file alone
(:func:`errors_from_npz`). The JSON report holds per-point errors (mean error in posterior sds,
covariance relative error, variance ratio, W2 to the exact Gaussian), their summary and the
sampler settings/acceptance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from lae.distributions import LinearGaussian
from lae.toy.linear import (
    SamplerSettings,
    default_feature_dim,
    make_linear_gaussian,
    sample_posterior,
    tanh_features,
)
from lae.toy.metrics import posterior_errors, summarize
from lae.toy.output import save_npz_and_report


def errors_from_arrays(samples, x, w, b, sigma) -> dict[str, torch.Tensor]:
    """Per-point errors of samples [S, N, K] against the exact posterior of (W, b, sigma)."""
    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)  # noqa: E731
    model = LinearGaussian(t(w), t(b), float(sigma))
    post = model.posterior(t(x))
    return posterior_errors(t(samples), post.mean, model.posterior_cov)


def errors_from_npz(path: str | Path) -> dict[str, torch.Tensor]:
    """Recompute the per-point errors from a saved .npz alone."""
    d = np.load(path)
    return errors_from_arrays(d["samples"], d["x"], d["W"], d["b"], d["sigma"])


def run_posterior(n_data: int = 100, x_dim: int = 10, z_dim: int = 2, sigma: float = 0.5,
                  settings: SamplerSettings | None = None, save_samples: str | Path | None = None,
                  out: str | Path | None = None, verbose: bool = True) -> dict:
    """Sample, score, and write the .npz (``save_samples``) and the JSON report (``out``, default
    next to the npz with suffix .json). Returns the report dict."""
    s = settings or SamplerSettings("ald", preconditioned=True)
    model, x = make_linear_gaussian(n_data, x_dim, z_dim, sigma, seed=s.seed)
    feats = None
    if s.sampler == "ald":
        s.feature_dim = s.feature_dim or default_feature_dim(n_data)
        feats = tanh_features(x, s.feature_dim, seed=s.seed + 1)
    result = sample_posterior(lambda z: -model.log_joint(x, z), n_data, z_dim, s, feats)
    samples = result["samples"]
    post = model.posterior(x)
    errs = posterior_errors(samples, post.mean, model.posterior_cov)
    report = {
        "problem": {"model": "linear-gaussian", "n_data": n_data, "x_dim": x_dim, "z_dim": z_dim,
                    "sigma": sigma, "seed": s.seed,
                    "feature_width": None if feats is None else int(feats.shape[1])},
        "sampler": {k: result[k] for k in ("step_size", "acceptance", "grad_evals", "seconds")}
        | {"settings": result["settings"], "kept_samples": int(samples.shape[0])},
        "summary": summarize(errs),
        "per_point": {k: v.tolist() for k, v in errs.items()},
    }
    save_npz_and_report(save_samples, out, report, lambda: dict(
        samples=samples.numpy(), x=x.numpy(), W=model.weight.numpy(), b=model.bias.numpy(),
        sigma=np.float64(sigma)), "samples_file")
    if verbose:
        sm = report["summary"]
        print(f"{s.sampler}{' (preconditioned)' if s.preconditioned else ''}"
              f"{'' if s.mh else ' (no MH)'}: N={n_data} D={x_dim} K={z_dim} steps={s.steps} "
              f"warmup={s.warmup} thin={s.thin} step={result['step_size']:.4g} "
              f"acceptance={result['acceptance']:.3f} ({result['seconds']:.1f} s)")
        print(f"  mean error {sm['mean_err_sd_mean']:.3f} posterior sds (max "
              f"{sm['mean_err_sd_max']:.3f}); cov rel. error {sm['cov_rel_err_mean']:.3f}; "
              f"var ratio {sm['var_ratio_mean']:.3f} (min {sm['var_ratio_min']:.3f}); "
              f"W2 {sm['w2_mean']:.4f} (max {sm['w2_max']:.4f})")
        for key in ("samples_file", "report_file"):
            if key in report:
                print(f"  wrote {report[key]}")
    return report
