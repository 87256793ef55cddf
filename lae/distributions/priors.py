r"""Priors :math:`p(z)` on the latent space, chosen by config (``model.prior``) from a registry.

Every prior is a module with

- ``log_prob(z)`` [..., K] -> [...]: the log density, normalised where ``normalized`` is True, else
  up to a constant (an energy-based prior, whose log Z must be estimated before a log-likelihood
  can be reported);
- ``sample(n, generator)`` -> [n, K]: exact draws, or MCMC draws where no exact sampler exists;
- ``base``: a tractable distribution (``log_prob`` normalised, exact ``sample``) close to the prior,
  where annealed importance sampling starts; for a normalised prior, the prior itself;
- a learned prior also has ``ml_loss(z_post, generator) -> (loss, metrics)``: its loss for a
  maximum-likelihood step on posterior samples z_post [B, K] (models add it as their "prior"
  loss).

Models build theirs with :func:`build_prior`; samplers and metrics only use this interface.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lae.distributions.base import Independent, Normal, independent, rsample_and_log_prob
from lae.errors import ConfigError, ModelDiverged
from lae.nn import mlp
from lae.samplers import Langevin, run_chain


def _positive_float(key: str, value: Any) -> float:
    """``model.prior_options.<key>`` as a positive float (YAML 1.1 reads 1e4 as a string)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"model.prior_options.{key}: expected a positive number, got "
                          f"{value!r}") from None
    if not number > 0:
        raise ConfigError(f"model.prior_options.{key} must be > 0, got {value!r}")
    return number


class NormalPrior(nn.Module):
    r"""Isotropic normal prior :math:`p(z) = \mathcal{N}(0, s^2 I_d)`,

    .. math:: \log p(z) = -\frac{\lVert z \rVert^2}{2 s^2} - \frac{d}{2} \log (2\pi s^2).

    The zero mean and the scale are (non-persistent) buffers, so the distribution follows the
    module's device and dtype and nothing is added to checkpoints.

    Example:
        >>> import torch
        >>> NormalPrior(3, scale=2.0).log_prob(torch.zeros(2, 3))
        tensor([-4.8363, -4.8363])
    """

    normalized: ClassVar[bool] = True  # log_prob is the exact log density

    def __init__(self, dim: int, scale: float = 1.0):
        super().__init__()
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise ConfigError(f"latent dim must be a positive integer, got {dim!r}")
        scale = _positive_float("scale", scale)
        self.dim, self.scale_value = dim, scale
        self.register_buffer("loc", torch.zeros(dim), persistent=False)
        self.register_buffer("scale", torch.full((dim,), float(scale)), persistent=False)

    def forward(self) -> Independent:
        """The prior as a distribution with batch shape () and event shape (dim,)."""
        return independent(Normal(self.loc, self.scale, validate_args=False), 1)

    def log_prob(self, z: Tensor) -> Tensor:
        r"""Closed-form :math:`\log p(z)` for ``z`` [..., dim], summed over dim: shape [...]."""
        s2 = self.scale_value ** 2
        return -0.5 * z.square().sum(-1) / s2 - 0.5 * self.dim * math.log(2 * math.pi * s2)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws, shape [n, dim]."""
        return self.scale_value * torch.randn(
            n, self.dim, dtype=self.loc.dtype, device=self.loc.device, generator=generator)

    @property
    def base(self) -> NormalPrior:
        """Where AIS starts: the prior itself (it is normalised and has an exact sampler)."""
        return self

    def extra_repr(self) -> str:
        return f"dim={self.dim}" + (f", scale={self.scale_value:g}" if self.scale_value != 1
                                    else "")


class StandardNormalPrior(NormalPrior):
    r"""Standard normal prior :math:`p(z) = \mathcal{N}(0, I_d)`, the default of every model,

    .. math:: \log p(z) = -\tfrac12 \lVert z \rVert^2 - \tfrac{d}{2} \log 2\pi.

    Example:
        >>> import torch
        >>> prior = StandardNormalPrior(3)
        >>> prior.log_prob(torch.zeros(2, 3))
        tensor([-2.7568, -2.7568])
    """

    def __init__(self, dim: int):
        super().__init__(dim, 1.0)


class LatentEBMPrior(nn.Module):
    r"""Latent energy-based prior (Pang et al., NeurIPS 2020), unnormalised:

    .. math::

        p_\alpha(z) = \frac{1}{Z(\alpha)} \exp(f_\alpha(z))\, p_0(z), \qquad
        p_0 = \mathcal N(0, s_0^2 I),

    with :math:`f_\alpha` a small MLP (``hidden`` units, ``depth`` hidden layers, lae.nn.mlp).
    ``log_prob`` is :math:`f_\alpha(z) + \log p_0(z)`, i.e. :math:`\log p_\alpha(z) + \log Z`
    (``normalized`` is False: a log-likelihood needs an estimate of log Z, lae/eval/logz.py).
    ``sample`` runs ``sample_steps`` unadjusted Langevin steps of size ``sample_step_size`` on
    :math:`-\log p_\alpha` from :math:`p_0` (the paper's prior chain: 60 steps, s = 0.4, i.e.
    eta = s^2 / 2 = 0.08), without a graph. ``base`` is :math:`p_0`.

    Example:
        >>> import torch
        >>> prior = LatentEBMPrior(2, hidden=8, sample_steps=5)
        >>> prior.sample(4, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 2])
        >>> prior.normalized, prior.base
        (False, NormalPrior(dim=2))
    """

    normalized: ClassVar[bool] = False

    def __init__(self, dim: int, hidden: int = 200, depth: int = 2, base_scale: float = 1.0,
                 sample_steps: int = 60, sample_step_size: float = 0.08,
                 max_energy: float = 1e4):
        super().__init__()
        self.max_energy = _positive_float("max_energy", max_energy)
        if not isinstance(sample_steps, int) or sample_steps < 1:
            raise ConfigError(f"model.prior_options.sample_steps must be a positive integer, "
                              f"got {sample_steps!r}")
        self._base = NormalPrior(dim, base_scale)
        self.dim = dim
        self.energy_net = mlp(dim, 1, hidden, depth, layernorm=False)  # f_alpha
        self.sample_steps = sample_steps
        self.sample_step_size = _positive_float("sample_step_size", sample_step_size)

    @property
    def base(self) -> NormalPrior:
        """p_0 = N(0, s_0^2 I): where the prior chain and AIS start."""
        return self._base

    def f(self, z: Tensor) -> Tensor:
        """The learned log-density correction f_alpha(z) [...] for z [..., dim]."""
        return self.energy_net(z).squeeze(-1)

    def log_prob(self, z: Tensor) -> Tensor:
        """f_alpha(z) + log p_0(z) [...]: log p_alpha(z) up to the constant log Z."""
        return self.f(z) + self._base.log_prob(z)

    @property
    def sampler_description(self) -> dict[str, Any]:
        """How ``sample`` draws (recorded next to the numbers it gives)."""
        return {"kernel": "langevin", "steps": self.sample_steps,
                "step_size": self.sample_step_size, "start": "base N(0, s0^2 I)"}

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws from the short-run prior chain, [n, dim] (approximate: short-run
        unadjusted Langevin, as the paper samples its prior)."""
        z0 = self._base.sample(n, generator)
        state, _, _ = run_chain(Langevin(self.sample_step_size), z0, lambda z: -self.log_prob(z),
                                self.sample_steps, keep_trace=False, generator=generator)
        return state.z

    def ml_loss(self, z_post: Tensor, generator: torch.Generator | None = None
                ) -> tuple[Tensor, dict[str, Tensor]]:
        """-(mean f(z+) - mean f(z-)) with z- from :meth:`sample`: the maximum-likelihood
        gradient of the EBM, its intractable log Z handled by the negative samples. Metrics:
        ``energy_gap`` = E(z+) - E(z-) with E = -f (Pang et al.'s diagnostic: it should stay
        near 0), ``f_posterior``, ``f_prior``. Raises :class:`lae.errors.ModelDiverged` when f is
        not finite or |f| exceeds ``max_energy``."""
        z_prior = self.sample(z_post.shape[0], generator).detach()
        f_post, f_prior = self.f(z_post.detach()), self.f(z_prior)
        worst = torch.cat([f_post, f_prior]).detach().abs().max()
        if not bool(torch.isfinite(worst)) or worst > self.max_energy:
            raise ModelDiverged(
                f"latent EBM energies exploded: max |f(z)| = {float(worst):.3g} over posterior "
                f"and prior samples (limit model.prior_options.max_energy={self.max_energy:g}). "
                f"Likely causes: the prior's learning rate (model.prior_lr_scale times "
                f"train.lr) or a prior chain too short or too coarse to reach the prior "
                f"(model.prior_options sample_steps={self.sample_steps}, sample_step_size="
                f"{self.sample_step_size:g})")
        return -(f_post.mean() - f_prior.mean()), {
            "energy_gap": (f_prior.mean() - f_post.mean()).detach(),
            "f_posterior": f_post.mean().detach(), "f_prior": f_prior.mean().detach()}

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, sampler=langevin x {self.sample_steps} at "
                f"{self.sample_step_size:g}")


class FlowPrior(nn.Module):
    r"""Normalizing-flow prior (Xie et al., AAAI 2023): a masked autoregressive flow from zuko
    (``transforms`` affine MAF layers with two hidden layers of ``hidden`` units) on a standard
    normal base. Normalised, with exact sampling; log_prob costs one pass per transform, sampling
    ``dim`` passes (the MAF's cheap direction is the density).

    Example:
        >>> import torch
        >>> prior = FlowPrior(2, transforms=2, hidden=8)
        >>> z = prior.sample(3, generator=torch.Generator().manual_seed(0))
        >>> z.shape, prior.log_prob(z).shape, prior.normalized
        (torch.Size([3, 2]), torch.Size([3]), True)
    """

    normalized: ClassVar[bool] = True

    def __init__(self, dim: int, transforms: int = 4, hidden: int = 64):
        super().__init__()
        from zuko.flows import MAF  # the maintained flow library

        self.dim = dim
        self.flow = MAF(features=dim, context=0, transforms=transforms,
                        hidden_features=(hidden, hidden))

    def log_prob(self, z: Tensor) -> Tensor:
        """The exact log p(z) [...] for z [..., dim]."""
        return self.flow().log_prob(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws, [n, dim] (reparameterised: differentiable in the flow)."""
        return rsample_and_log_prob(self.flow(), (n,), generator)[0]

    def ml_loss(self, z_post: Tensor, generator: torch.Generator | None = None
                ) -> tuple[Tensor, dict[str, Tensor]]:
        """-mean log p(z+): maximum likelihood on the posterior samples (no negative phase)."""
        log_p = self.log_prob(z_post.detach())
        return -log_p.mean(), {"prior_log_prob_nats": log_p.mean().detach()}

    @property
    def base(self) -> FlowPrior:
        """Where AIS starts: the prior itself (normalised, exact sampler)."""
        return self


PRIORS: dict[str, Callable[..., nn.Module]] = {
    "normal": NormalPrior,
    "latent-ebm": LatentEBMPrior,
    "flow": FlowPrior,
}


def build_prior(name: str, dim: int, **options: Any) -> nn.Module:
    """The registered prior ``name`` on a latent of ``dim`` dimensions (``model.prior`` and
    ``model.prior_options`` in configs).

    Example:
        >>> build_prior("normal", 3)
        NormalPrior(dim=3)
        >>> build_prior("latent-ebm", 3, hidden=16).normalized
        False
    """
    if name not in PRIORS:
        raise ConfigError(f"model.prior: unknown prior {name!r}; choices: {', '.join(PRIORS)}")
    try:
        return PRIORS[name](dim, **options)
    except TypeError as exc:  # an option the prior does not take
        raise ConfigError(f"model.prior_options for prior {name!r}: {exc}") from None
