r"""Measurement code shared by the toys: per-point posterior errors, Gaussian W2, MMD.

Sample sets are [S, N, K]: S samples for each of N data points in K latent dimensions.

* Mean error (posterior sds): the Mahalanobis norm sqrt((m - mu)^T Sigma^{-1} (m - mu)) of the
  sample mean m against the exact mean mu, i.e. the error in units of the posterior sd (for
  K = 1 it is |m - mu| / sd).
* Covariance relative error: ||S - Sigma||_F / ||Sigma||_F with S the sample covariance.
* Variance ratio: tr(S) / tr(Sigma) (1 when the spread is right; < 1 for a collapsed point).
* 2-Wasserstein distance between Gaussians (closed form, Dowson & Landau 1982):

  .. math::

      W_2^2 = \lVert m_1 - m_2 \rVert^2
              + \operatorname{tr}\big(S_1 + S_2 - 2 (S_2^{1/2} S_1 S_2^{1/2})^{1/2}\big),

  applied to the sample mean/cov of each point against the exact Gaussian posterior.
* MMD: the unbiased estimate of MMD^2 with an RBF kernel exp(-||a - b||^2 / (2 h^2)), bandwidth
  h = median pairwise distance of the pooled samples (Gretton et al., JMLR 2012).
"""

from __future__ import annotations

import torch
from torch import Tensor

from lae.distributions.mmd import mmd2_unbiased


def sqrtm_psd(a: Tensor) -> Tensor:
    """Symmetric square root of PSD matrices [..., K, K] (eigenvalues clamped at 0)."""
    evals, evecs = torch.linalg.eigh(0.5 * (a + a.transpose(-1, -2)))
    return (evecs * evals.clamp(min=0).sqrt().unsqueeze(-2)) @ evecs.transpose(-1, -2)


def gaussian_w2_sq(m1: Tensor, s1: Tensor, m2: Tensor, s2: Tensor) -> Tensor:
    """Squared 2-Wasserstein distance between N(m1, s1) and N(m2, s2); means [..., K], covs
    [..., K, K] (broadcast). Returns [...]."""
    root2 = sqrtm_psd(s2)
    cross = sqrtm_psd(root2 @ s1 @ root2)
    tr = (s1 + s2 - 2 * cross).diagonal(dim1=-2, dim2=-1).sum(-1)
    return (m1 - m2).pow(2).sum(-1) + tr.clamp(min=0)


def gaussian_w2(m1: Tensor, s1: Tensor, m2: Tensor, s2: Tensor) -> Tensor:
    """2-Wasserstein distance (not squared) between Gaussians, see :func:`gaussian_w2_sq`."""
    return gaussian_w2_sq(m1, s1, m2, s2).sqrt()


def sample_moments(samples: Tensor) -> tuple[Tensor, Tensor]:
    """Per-point sample mean [N, K] and covariance [N, K, K] (unbiased) of samples [S, N, K]."""
    mean = samples.mean(0)
    c = samples - mean
    cov = torch.einsum("sni,snj->nij", c, c) / max(samples.shape[0] - 1, 1)
    return mean, cov


def posterior_errors(samples: Tensor, mu: Tensor, cov: Tensor) -> dict[str, Tensor]:
    """Per-point errors of samples [S, N, K] against exact Gaussians N(mu [N, K], cov).

    ``cov`` is [K, K] (shared, as in the linear-Gaussian model) or [N, K, K]. Returns [N] tensors
    ``mean_err_sd``, ``cov_rel_err``, ``var_ratio``, ``w2`` (see the module docstring).
    """
    samples, mu, cov = samples.double(), mu.double(), cov.double()
    cov = cov.expand(mu.shape[0], *cov.shape[-2:])
    m, s = sample_moments(samples)
    diff = (m - mu).unsqueeze(-1)
    maha = (diff.transpose(-1, -2) @ torch.linalg.solve(cov, diff)).squeeze(-1).squeeze(-1)
    fro = torch.linalg.matrix_norm
    return {
        "mean_err_sd": maha.clamp(min=0).sqrt(),
        "cov_rel_err": fro(s - cov) / fro(cov),
        "var_ratio": s.diagonal(dim1=-2, dim2=-1).sum(-1) / cov.diagonal(dim1=-2, dim2=-1).sum(-1),
        "w2": gaussian_w2(m, s, mu, cov),
    }


def summarize(errors: dict[str, Tensor]) -> dict[str, float]:
    """Mean (and max, min for the variance ratio) of per-point errors, as plain floats."""
    out: dict[str, float] = {}
    for key, val in errors.items():
        out[f"{key}_mean"] = float(val.mean())
        out[f"{key}_max"] = float(val.max())
        if key == "var_ratio":
            out[f"{key}_min"] = float(val.min())
    return out


def median_bandwidth(a: Tensor, b: Tensor) -> Tensor:
    """Median pairwise Euclidean distance of the pooled sample set (a and b: [S, K])."""
    z = torch.cat([a, b])
    d = torch.cdist(z, z)
    off = d[~torch.eye(len(z), dtype=torch.bool)]
    return off.median().clamp(min=1e-12)


def mmd2_rbf(a: Tensor, b: Tensor, bandwidth: Tensor | float | None = None) -> Tensor:
    """Unbiased MMD^2 between sample sets a [S1, K] and b [S2, K] with an RBF kernel
    (median-heuristic bandwidth by default). Can be slightly negative for equal laws."""
    h = median_bandwidth(a, b) if bandwidth is None else torch.as_tensor(bandwidth)
    return mmd2_unbiased(a, b, h)


def mmd_per_point(samples: Tensor, reference: Tensor, max_samples: int = 500) -> Tensor:
    """MMD^2 per data point between samples [S1, N, K] and reference [S2, N, K], each thinned
    evenly to at most ``max_samples`` (cost is quadratic). Returns [N]."""
    def thin(t: Tensor) -> Tensor:
        idx = torch.linspace(0, len(t) - 1, min(len(t), max_samples)).round().long()
        return t[idx]

    a, b = thin(samples.double()), thin(reference.double())
    return torch.stack([mmd2_rbf(a[:, i], b[:, i]) for i in range(a.shape[1])])
