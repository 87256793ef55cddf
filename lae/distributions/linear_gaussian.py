r"""The linear-Gaussian latent variable model (probabilistic PCA), where everything is exact.

.. math::

    z \sim \mathcal N(0, I_K), \qquad x \mid z \sim \mathcal N(W z + b, \sigma^2 I_D)

    \log p(x) = \log \mathcal N(x;\, b,\, W W^\top + \sigma^2 I)

    p(z \mid x) = \mathcal N\big(\Sigma W^\top (x - b) / \sigma^2,\; \Sigma\big), \qquad
    \Sigma = (I + W^\top W / \sigma^2)^{-1}

Samplers (Langevin, MALA, HMC, ALD) and likelihood estimators (IWAE, AIS) are tested against it.

Reference: Tipping and Bishop, "Probabilistic principal component analysis", JRSS-B 1999.

Example:
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> model = LinearGaussian(torch.randn(5, 2, generator=g), torch.zeros(5), sigma=0.5)
    >>> x = model.sample_x(3, generator=g)
    >>> model.log_marginal(x).shape, model.posterior(x).mean.shape
    (torch.Size([3]), torch.Size([3, 2]))
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import MultivariateNormal


class LinearGaussian:
    """Closed forms of the model above.

    Args:
        weight: W, [D, K].
        bias: b, [D].
        sigma: observation noise standard deviation (> 0).
    """

    def __init__(self, weight: Tensor, bias: Tensor, sigma: float) -> None:
        if weight.ndim != 2 or bias.shape != weight.shape[:1]:
            raise ValueError(f"weight must be [D, K] and bias [D]; got {tuple(weight.shape)} and "
                             f"{tuple(bias.shape)}")
        if not sigma > 0:
            raise ValueError(f"sigma must be > 0, got {sigma}")
        self.weight, self.bias, self.sigma = weight, bias, float(sigma)
        d, k = weight.shape
        eye_k = torch.eye(k, dtype=weight.dtype, device=weight.device)
        self.posterior_cov = torch.linalg.inv(eye_k + weight.T @ weight / self.sigma**2)  # [K, K]
        self.marginal_cov = weight @ weight.T + self.sigma**2 * torch.eye(
            d, dtype=weight.dtype, device=weight.device)  # [D, D]

    def log_marginal(self, x: Tensor) -> Tensor:
        """log p(x) in nats, [N] for x [N, D]."""
        return MultivariateNormal(self.bias, covariance_matrix=self.marginal_cov).log_prob(x)

    def posterior(self, x: Tensor) -> MultivariateNormal:
        """p(z | x): batch shape [N], event shape [K]."""
        mean = (x - self.bias) @ self.weight @ self.posterior_cov / self.sigma**2  # [N, K]
        return MultivariateNormal(mean, covariance_matrix=self.posterior_cov)

    def log_joint(self, x: Tensor, z: Tensor) -> Tensor:
        """log p(x, z), [N] for x [N, D], z [N, K]; minus the posterior energy U(x, z)."""
        d = x.shape[-1]
        resid = x - z @ self.weight.T - self.bias
        log_lik = -0.5 * (resid.pow(2).sum(-1) / self.sigma**2
                          + d * math.log(2 * math.pi * self.sigma**2))
        log_prior = -0.5 * (z.pow(2).sum(-1) + z.shape[-1] * math.log(2 * math.pi))
        return log_lik + log_prior

    def sample_x(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n draws of x from the model, [n, D]."""
        d, k = self.weight.shape
        kw = {"dtype": self.weight.dtype, "device": self.weight.device, "generator": generator}
        z = torch.randn(n, k, **kw)
        return z @ self.weight.T + self.bias + self.sigma * torch.randn(n, d, **kw)
