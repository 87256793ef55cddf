r"""Priors :math:`p(z)` on the latent space, chosen by config (``model.prior``) from a registry.

Every prior is a module with

- ``log_prob(z)`` [..., K] -> [...]: the log density, normalised where ``normalized`` is True, else
  up to a constant (an energy-based prior, whose log Z must be estimated before a log-likelihood
  can be reported);
- ``sample(n, generator)`` -> [n, K]: exact draws, or MCMC draws where no exact sampler exists;
- ``base``: a tractable distribution (``log_prob`` normalised, exact ``sample``) close to the prior,
  where annealed importance sampling starts; for a normalised prior, the prior itself.

Models build theirs with :func:`build_prior`; samplers and metrics only use this interface.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lae.distributions.base import Independent, Normal, independent
from lae.errors import ConfigError


class StandardNormalPrior(nn.Module):
    r"""Standard normal prior :math:`p(z) = \mathcal{N}(0, I_d)`,

    .. math:: \log p(z) = -\tfrac12 \lVert z \rVert^2 - \tfrac{d}{2} \log 2\pi.

    The zero mean and unit scale are (non-persistent) buffers, so the distribution follows the
    module's device and dtype and nothing is added to checkpoints.

    Example:
        >>> import torch
        >>> prior = StandardNormalPrior(3)
        >>> prior.log_prob(torch.zeros(2, 3))
        tensor([-2.7568, -2.7568])
    """

    normalized: ClassVar[bool] = True  # log_prob is the exact log density

    def __init__(self, dim: int):
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"latent dim must be a positive integer, got {dim!r}")
        self.dim = dim
        self.register_buffer("loc", torch.zeros(dim), persistent=False)
        self.register_buffer("scale", torch.ones(dim), persistent=False)

    def forward(self) -> Independent:
        """The prior as a distribution with batch shape () and event shape (dim,)."""
        return independent(Normal(self.loc, self.scale, validate_args=False), 1)

    def log_prob(self, z: Tensor) -> Tensor:
        r"""Closed-form :math:`\log p(z)` for ``z`` [..., dim], summed over dim: shape [...]."""
        return -0.5 * z.square().sum(-1) - 0.5 * self.dim * math.log(2 * math.pi)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws, shape [n, dim]."""
        return torch.randn(
            n, self.dim, dtype=self.loc.dtype, device=self.loc.device, generator=generator
        )

    def extra_repr(self) -> str:
        return f"dim={self.dim}"

    @property
    def base(self) -> StandardNormalPrior:
        """Where AIS starts: the prior itself (it is normalised and has an exact sampler)."""
        return self


PRIORS: dict[str, Callable[..., nn.Module]] = {"normal": StandardNormalPrior}


def build_prior(name: str, dim: int, **options: Any) -> nn.Module:
    """The registered prior ``name`` on a latent of ``dim`` dimensions (``model.prior`` and
    ``model.prior_options`` in configs).

    Example:
        >>> build_prior("normal", 3)
        StandardNormalPrior(dim=3)
    """
    if name not in PRIORS:
        raise ConfigError(f"model.prior: unknown prior {name!r}; choices: {', '.join(PRIORS)}")
    return PRIORS[name](dim, **options)
