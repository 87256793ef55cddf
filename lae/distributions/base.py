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


def _gaussian(q: D.Distribution) -> bool:
    return isinstance(q, (D.Normal, D.MultivariateNormal)) or (
        isinstance(q, D.Independent) and isinstance(q.base_dist, D.Normal))


def rsample_and_log_prob(q: D.Distribution, sample_shape: SampleShape = (),
                         generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    r"""Reparameterised draws :math:`z \sim q` with their :math:`\log q(z)`, the noise taken from
    ``generator``: shapes [*sample_shape, *batch_shape, *event_shape] and
    [*sample_shape, *batch_shape].

    ``q`` is a Gaussian (``Normal``, ``Independent`` of one, torch's or ours, or
    ``MultivariateNormal``), or a ``zuko.distributions.NormalizingFlow`` on a Gaussian base: then
    :math:`z = T^{-1}(z_0)`, :math:`z_0 = \mu + \sigma \epsilon`, and
    :math:`\log q(z) = \log q_0(z_0) - \log |\det \partial T^{-1}/\partial z_0|`, in one pass
    (what zuko's own ``rsample_and_log_prob`` computes, but from the global RNG).

    Example:
        >>> q = independent(Normal(torch.zeros(3, 2), torch.ones(3, 2)), 1)
        >>> z, log_q = rsample_and_log_prob(q, (4,), torch.Generator().manual_seed(0))
        >>> z.shape, log_q.shape
        (torch.Size([4, 3, 2]), torch.Size([4, 3]))
    """
    from zuko.distributions import NormalizingFlow  # the flow library, only where flows are

    base = q.base if isinstance(q, NormalizingFlow) else q
    if not _gaussian(base):
        raise TypeError(f"rsample_and_log_prob: expected a Gaussian or a normalizing flow on one, "
                        f"got {type(base).__name__}")
    mean = base.mean
    eps = torch.randn(torch.Size(sample_shape) + mean.shape, dtype=mean.dtype,
                      device=mean.device, generator=generator)
    if isinstance(base, D.MultivariateNormal):
        z0 = mean + (base.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)
    else:
        z0 = mean + base.stddev * eps
    if base is q:
        return z0, q.log_prob(z0)
    z, ladj = q.transform.inv.call_and_ladj(z0)
    for _ in range(q.reinterpreted):  # event dimensions the flow treats as one
        ladj = ladj.sum(-1)
    return z, base.log_prob(z0) - ladj


__all__ = ["Bernoulli", "Independent", "Normal", "independent", "rsample_and_log_prob"]
