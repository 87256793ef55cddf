r"""VAE with a normalizing-flow posterior: the VAE's Gaussian pushed through conditional
autoregressive flows (zuko's masked autoregressive transforms).

    z_0 ~ N(mu(x), diag sigma(x)^2),      z = T_n o ... o T_1 (z_0; h(x)),
    log q(z|x) = log N(z_0; mu, sigma^2) - sum_t log |det dT_t / dz_{t-1}|,

with h(x) the encoder's features (the input of its last layer) as the flows' context, and each
T_t an affine autoregressive map z_i' = exp(a_i) z_i + b_i, with (a_i, b_i) from a MADE on
(z_{<i}, h(x)) (zuko.flows.MaskedAutoregressiveTransform; the order of z flips between flows).
Training maximises the VAE's ELBO (or IWAE-k), so the log-determinants enter through log q.

``flow`` chooses which direction of the autoregressive map is the one-pass one:

- ``"iaf"`` (inverse autoregressive flow, Kingma et al. 2016): T_t is the one-pass direction, so
  sampling z and its log q(z|x) (all that training needs) cost one MADE pass per flow; the density
  of an arbitrary z (IWAE evaluation calls ``log_prob`` on the samples) inverts T_t in K passes.
- ``"maf"`` (masked autoregressive flow, Papamakarios et al. 2017): T_t^{-1} is the one-pass
  direction, so ``log_prob`` is cheap and sampling costs K passes per flow.

Both give the same family of densities. The flows start as the identity (the MADEs' last layers are
zero), so an untrained VAE-flow is exactly a VAE.

``proposal(x)`` is a ``zuko.distributions.NormalizingFlow`` with batch shape [B] and event shape [K]
(rsample, sample, log_prob), so the IWAE and ELBO evaluations apply. ``infer(x)`` returns the
flows' image of the base mean, T(mu(x); h(x)) (E_q[z] has no closed form).

References: Rezende & Mohamed, "Variational inference with normalizing flows", ICML 2015;
Kingma et al., "Improved variational inference with inverse autoregressive flow", NeurIPS 2016;
Papamakarios et al., "Masked autoregressive flow for density estimation", NeurIPS 2017.

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> spec = DataSpec.points(2)
    >>> cfg = VAEFlow.Config(latent_dim=2, net=NetConfig(hidden=32, depth=1), flow_hidden=16)
    >>> q = VAEFlow(cfg, spec).proposal(torch.randn(5, 2))
    >>> q.batch_shape, q.event_shape, q.log_prob(q.sample((3,))).shape
    (torch.Size([5]), torch.Size([2]), torch.Size([3, 5]))
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from zuko.distributions import DiagNormal, NormalizingFlow
from zuko.flows import MaskedAutoregressiveTransform
from zuko.lazy import LazyComposedTransform, LazyTransform

from lae.models import register_model
from lae.models.base import DataSpec
from lae.models.vae import VAE


@register_model("vae-flow")
class VAEFlow(VAE):
    """VAE whose q(z|x) is a Gaussian transformed by conditional IAF or MAF flows."""

    @dataclass
    class Config(VAE.Config):
        flow: str = "iaf"  # "iaf" (one-pass sampling) | "maf" (one-pass density)
        n_flows: int = 4  # autoregressive transforms T_1..T_n
        flow_hidden: int = 256  # width of each MADE's two hidden layers

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.flow not in ("iaf", "maf"):
                raise ValueError(f"flow must be 'iaf' or 'maf', got {self.flow!r}")
            if self.n_flows < 1:
                raise ValueError(f"n_flows must be >= 1, got {self.n_flows}")
            if self.flow_hidden < 1:
                raise ValueError(f"flow_hidden must be >= 1, got {self.flow_hidden}")

    def __init__(self, cfg: VAEFlow.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        k = cfg.latent_dim
        transforms = [
            MaskedAutoregressiveTransform(
                features=k, context=self.encoder.feature_dim,
                order=torch.arange(k) if t % 2 == 0 else torch.arange(k).flip(0),
                hidden_features=(cfg.flow_hidden, cfg.flow_hidden))
            for t in range(cfg.n_flows)]
        for t in transforms:  # zero (shift, log-scale): every T_t starts as the identity
            torch.nn.init.zeros_(t.hyper[-1].weight)
            torch.nn.init.zeros_(t.hyper[-1].bias)
        sampling = LazyComposedTransform(*transforms)  # z_0 -> z, one pass per T_t
        # zuko's NormalizingFlow takes the normalising direction z -> z_0 and samples with its
        # inverse; for IAF that inverse is the one-pass direction.
        self.flow: LazyTransform = sampling.inv if cfg.flow == "iaf" else sampling

    def proposal(self, x: Tensor) -> NormalizingFlow:
        """q(z | x): batch shape [B], event shape [K]."""
        h = self.encoder.features(self.fill_missing(x))  # [B, feature_dim], the flows' context
        return NormalizingFlow(self.flow(h), DiagNormal(*self.gaussian(h)))

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """T(mu(x); h(x)): the flows' image of the base Gaussian's mean, [B, K]
        (deterministic)."""
        q = self.proposal(x)
        return q.transform.inv(q.base.mean)
