r"""Priors :math:`p(z)` on the latent space."""

from __future__ import annotations

import math

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
