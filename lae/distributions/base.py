"""`torch.distributions` classes whose `sample` accepts a `torch.Generator`.

Seeded, reproducible sampling needs an explicit generator, which the stock classes do not take.
These subclasses add a ``generator`` keyword and change nothing else. They are built with
``validate_args=False`` by the likelihoods: argument checks would run in every training step.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch import distributions as D

SampleShape = torch.Size | tuple[int, ...]


class Normal(D.Normal):
    r"""Gaussian :math:`\mathcal{N}(\mu, \sigma^2)` with seeded (r)sampling."""

    def rsample(
        self, sample_shape: SampleShape = (), generator: torch.Generator | None = None
    ) -> Tensor:
        r"""Reparameterised :math:`\mu + \sigma \epsilon`, shape [*sample_shape, *batch_shape]."""
        shape = self._extended_shape(torch.Size(sample_shape))
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device, generator=generator)
        return self.loc + eps * self.scale

    def sample(
        self, sample_shape: SampleShape = (), generator: torch.Generator | None = None
    ) -> Tensor:
        """Sample without gradient, shape [*sample_shape, *batch_shape]."""
        with torch.no_grad():
            return self.rsample(sample_shape, generator)


class Bernoulli(D.Bernoulli):
    """Bernoulli distribution with seeded sampling."""

    def sample(
        self, sample_shape: SampleShape = (), generator: torch.Generator | None = None
    ) -> Tensor:
        """Sample in {0, 1}, shape [*sample_shape, *batch_shape]."""
        shape = self._extended_shape(torch.Size(sample_shape))
        with torch.no_grad():
            return torch.bernoulli(self.probs.expand(shape), generator=generator)


class Independent(D.Independent):
    """:class:`torch.distributions.Independent` that forwards ``generator`` to its base.

    ``log_prob(x)`` sums the base log-densities over the reinterpreted (event) dimensions, so for
    an image likelihood it returns one value per example, shape [B]. The per-element terms (e.g.
    for a masked likelihood) are ``self.base_dist.log_prob(x)``.
    """

    def sample(
        self, sample_shape: SampleShape = (), generator: torch.Generator | None = None
    ) -> Tensor:
        """Sample of shape [*sample_shape, *batch_shape, *event_shape]."""
        return self.base_dist.sample(sample_shape, generator=generator)

    def rsample(
        self, sample_shape: SampleShape = (), generator: torch.Generator | None = None
    ) -> Tensor:
        """Reparameterised sample, where the base distribution has one."""
        return self.base_dist.rsample(sample_shape, generator=generator)


def independent(base: D.Distribution, event_dims: int) -> Independent:
    """Reinterpret the last ``event_dims`` batch dimensions of ``base`` as event dimensions."""
    return Independent(base, event_dims, validate_args=False)


__all__ = ["Bernoulli", "Independent", "Normal", "independent"]
