"""``lae toy capacity``: ALD with feature width d < n, d = n, d > n (n points in one batch).

Theorem 1 of the ALD paper needs rank(G) = n. With d < n the latents z_i = Phi g_i live in a
d-dimensional family and cannot be n independent posterior samples. For the linear-Gaussian model
this is exact: Phi's stationary law is Gaussian with covariance (G^T G)^+ (x) Sigma, so point i
gets variance ratio h_ii = g_i^T (G^T G)^+ g_i (its leverage; the h_ii sum to rank(G), mean d/n)
and its mean is the least-squares projection of the exact means onto the column space of G. With
rank(G) = n every h_ii = 1. The toy measures the per-point variance ratio from the chain and
prints it next to the predicted leverage. Sampler: preconditioned ALD with MH (step adapted in
warm-up); d counts the constant column.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from lae.toy.linear import SamplerSettings, make_linear_gaussian, sample_posterior, tanh_features
from lae.toy.metrics import posterior_errors
from lae.toy.output import pyplot, write_outputs


def leverages(features: torch.Tensor) -> torch.Tensor:
    """Diagonal of the hat matrix G (G^T G)^+ G^T, [n]."""
    u, s, _ = torch.linalg.svd(features, full_matrices=False)
    keep = s > s[0] * max(features.shape) * torch.finfo(s.dtype).eps
    return u[:, keep].pow(2).sum(1)


def run_capacity(n: int = 64, widths: tuple[int, ...] = (16, 32, 64, 128), steps: int = 3000,
                 warmup: int = 300, step_size: float = 0.02, seed: int = 0,
                 out: str | Path | None = None, verbose: bool = True) -> dict:
    """Per-point variance ratios of preconditioned ALD for each total feature width d."""
    model, x = make_linear_gaussian(n, seed=seed)
    post = model.posterior(x)
    energy_fn = lambda z: -model.log_joint(x, z)  # noqa: E731
    results = []
    for d in widths:
        feats = tanh_features(x, d - 1, seed=seed + 1)
        with warnings.catch_warnings():  # the rank warning is the point of this toy
            warnings.simplefilter("ignore", UserWarning)
            s = SamplerSettings("ald", steps=steps, warmup=warmup, step_size=step_size,
                                preconditioned=True, seed=seed)
            res = sample_posterior(energy_fn, n, model.weight.shape[1], s, feats)
        errs = posterior_errors(res["samples"], post.mean, model.posterior_cov)
        lev = leverages(feats)
        vr = errs["var_ratio"]
        row = {"d": d, "rank": int(torch.linalg.matrix_rank(feats)),
               "acceptance": res["acceptance"], "step_size": res["step_size"],
               "var_ratio_min": float(vr.min()), "var_ratio_median": float(vr.median()),
               "var_ratio_mean": float(vr.mean()),
               "frac_points_var_ratio_below_0.8": float((vr < 0.8).double().mean()),
               "predicted_leverage_mean": float(lev.mean()),
               "predicted_leverage_min": float(lev.min()),
               "mean_err_sd_mean": float(errs["mean_err_sd"].mean()),
               "w2_mean": float(errs["w2"].mean()),
               "var_ratio": vr.tolist(), "leverage": lev.tolist()}
        results.append(row)
        if verbose:
            print(f"d={d:4d} n={n} rank={row['rank']:3d} acc={row['acceptance']:.2f}: var ratio "
                  f"min {row['var_ratio_min']:.3f} median {row['var_ratio_median']:.3f} "
                  f"(predicted leverage mean {row['predicted_leverage_mean']:.3f}); "
                  f"{100 * row['frac_points_var_ratio_below_0.8']:.0f}% of points < 0.8; "
                  f"mean err {row['mean_err_sd_mean']:.2f} sd")
    report = {"n": n, "steps": steps, "warmup": warmup, "seed": seed, "results": results}
    if out is not None:
        write_outputs(out, "capacity", report, lambda p: plot_capacity(report, p), verbose=verbose)
    return report


def plot_capacity(report: dict, path: Path) -> None:
    plt = pyplot()

    fig, ax = plt.subplots(figsize=(6.5, 4))
    for row in report["results"]:
        order = sorted(range(len(row["var_ratio"])), key=lambda i: row["leverage"][i])
        line, = ax.plot([row["var_ratio"][i] for i in order], ".", label=f"d = {row['d']}")
        ax.plot([row["leverage"][i] for i in order], "-", color=line.get_color(), lw=1)
    ax.axhline(1, color="k", lw=0.5)
    ax.set_xlabel(f"data point (sorted by leverage), n = {report['n']}")
    ax.set_ylabel("sample variance / exact variance")
    ax.set_title("ALD capacity: dots measured, lines predicted leverage h_ii")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
