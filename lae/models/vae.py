"""Variational autoencoder (Kingma & Welling 2014), its importance-weighted bound (IWAE,
Burda et al. 2016), and InfoVAE (Zhao, Song, Ermon 2019; ``infovae``, at the end of this file).

q(z|x) = N(z; mu(x), diag(sigma(x)^2)), with mu and sigma from one encoder whose last linear layer
outputs 2K numbers. Training maximises, per example,

    ELBO(x)    = E_q[log p(x, z) - log q(z|x)]                              (objective "elbo")
    IWAE_k(x)  = E[log (1/k) sum_j p(x, z_j) / q(z_j|x)],  z_j ~ q(z|x)      (objective "iwae")

with reparameterised samples; ``k`` samples per example in both cases (the ELBO averages them).
Evaluation uses ``proposal(x)`` for the IWAE bound with many samples (lae.eval).

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> spec = DataSpec.points(2)
    >>> vae = VAE(VAE.Config(latent_dim=2, net=NetConfig(hidden=32, depth=1)), spec)
    >>> out = vae.training_step(torch.randn(5, 2))
    >>> sorted(out.losses), out.losses["loss"].shape
    (['loss'], torch.Size([]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.distributions import Distribution

from lae.distributions import Independent, Normal, independent, rsample_and_log_prob
from lae.distributions.mmd import KERNELS as MMD_KERNELS
from lae.distributions.mmd import mmd2_unbiased
from lae.models import register_model
from lae.models.base import DataSpec, LatentModel, ModelConfig, StepOutput
from lae.nn import build_encoder
from lae.samplers.base import tile_batch

MIN_STD = 1e-4  # keeps q from collapsing to a point mass (log q would blow up)


@register_model("vae")
class VAE(LatentModel):
    """Gaussian-encoder VAE trained on the ELBO or the IWAE-k bound."""

    @dataclass
    class Config(ModelConfig):
        objective: str = "elbo"  # "elbo" | "iwae"
        k: int = 1  # samples of z per example in each training step

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.objective not in ("elbo", "iwae"):
                raise ValueError(f"objective must be 'elbo' or 'iwae', got {self.objective!r}")
            if self.k < 1:
                raise ValueError(f"k must be >= 1, got {self.k}")

    def __init__(self, cfg: VAE.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        self.encoder = build_encoder(cfg.net, spec.shape, 2 * cfg.latent_dim)

    def gaussian(self, h: Tensor) -> tuple[Tensor, Tensor]:
        """Mean and standard deviation [B, K] of the Gaussian q from encoder features h."""
        mean, raw_std = self.encoder.head(h).chunk(2, dim=-1)
        return mean, F.softplus(raw_std) + MIN_STD

    has_proposal = True

    def proposal(self, x: Tensor) -> Independent:
        """q(z | x): batch shape [B], event shape [K]."""
        return independent(Normal(*self.gaussian(self.encoder.features(self.fill_missing(x))),
                                  validate_args=False), 1)

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """q's mean, [B, K] (deterministic)."""
        return self.proposal(x).mean

    @torch.no_grad()
    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """Independent draws from q(z|x) (flows included in subclasses): [n_samples, B, K]."""
        return rsample_and_log_prob(self.proposal(x), (n_samples,), generator)[0]

    def draws_and_log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None,
                              posterior: Distribution | None = None) -> tuple[Tensor, Tensor]:
        """k reparameterised z_j ~ q(z|x) [k, B, K] and their log weights
        log p(x, z_j) - log q(z_j | x) [k, B]. z and log q(z|x) come in one pass (for IAF
        flows, log_prob of a given z would invert each flow in K sequential passes).
        ``posterior``: q(z|x) = ``self.proposal(x)`` where the caller has already built it."""
        q = self.proposal(x) if posterior is None else posterior
        z, log_q = rsample_and_log_prob(q, (k,), generator)  # [k, B, K], [k, B]
        return z, self.log_joint(tile_batch(x, k), z.flatten(0, 1)).view(k, -1) - log_q

    def log_weights(self, x: Tensor, k: int, generator: torch.Generator | None = None
                    ) -> Tensor:
        """log p(x, z_j) - log q(z_j | x) for k reparameterised z_j ~ q(z|x): [k, B]."""
        return self.draws_and_log_weights(x, k, generator)[1]

    unnormalized_prior_metrics = {"elbo_nats": "elbo_plus_log_z_nats",
                                  "bound_nats": "bound_plus_log_z_nats"}

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None,
                   posterior: Distribution | None = None) -> StepOutput:
        """The bound's loss; ``posterior``: q(z|x), where the caller has already built it."""
        k = self.cfg.k
        z, log_w = self.draws_and_log_weights(x, k, generator, posterior)
        elbo = log_w.mean(0)
        bound = elbo if self.cfg.objective == "elbo" else torch.logsumexp(log_w, 0) - math.log(k)
        return StepOutput(
            losses={"loss": -bound.mean()},
            metrics={"elbo_nats": elbo.mean().detach(), "bound_nats": bound.mean().detach()},
            latents=z,
        )


@register_model("infovae")
class InfoVAE(VAE):
    r"""InfoVAE (Zhao, Song, Ermon, AAAI 2019): the VAE's Gaussian q(z|x) trained with a
    weighted KL and an MMD term between the aggregate posterior and the prior. The objective is

        E_q[log p(x|z)] - (1 - alpha) KL(q(z|x) || p(z)) - (alpha + lambda - 1) MMD(q(z), p(z)),

    with q(z) the aggregate posterior of the batch (one draw per example) against as many prior
    draws, MMD^2 estimated without bias (lae/distributions/mmd.py) with an ``rbf`` or ``imq``
    kernel of scale h = sqrt(latent_dim) (C = 2 h^2 = 2K for the inverse multiquadric, as in
    Tolstikhin et al.'s WAE). The KL term is the single-draw estimate log q(z|x) - log p(z) on
    the same draw, so alpha = 0, lambda = 1 is exactly the VAE's ELBO. alpha = 1 (the default) is
    the MMD-VAE: no KL term, so its objective bounds nothing; like every model it is scored by
    AIS, and its q(z|x) still gives valid IWAE / ELBO bounds on the model's log p(x).

    Example::

        >>> import torch
        >>> from lae.models import DataSpec
        >>> from lae.nn import NetConfig
        >>> cfg = InfoVAE.Config(name="infovae", latent_dim=2, net=NetConfig(hidden=16, depth=1))
        >>> sorted(InfoVAE(cfg, DataSpec.points(2)).training_step(torch.randn(8, 2)).metrics)
        ['kl_nats', 'log_likelihood_nats', 'mmd2']
    """

    @dataclass
    class Config(VAE.Config):
        alpha: float = 1.0  # 1 - alpha weighs the KL term; 1: the MMD-VAE
        lam: float = 1000.0  # lambda: the MMD term's weight is alpha + lambda - 1
        kernel: str = "imq"  # "rbf" | "imq"

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.kernel not in MMD_KERNELS:
                raise ValueError(f"kernel must be one of {', '.join(MMD_KERNELS)}, got "
                                 f"{self.kernel!r}")
            if self.alpha > 1 or self.alpha + self.lam - 1 < 0:
                raise ValueError(f"need alpha <= 1 and alpha + lam >= 1 (non-negative weights), "
                                 f"got alpha={self.alpha}, lam={self.lam}")

    unnormalized_prior_metrics = {"kl_nats": "kl_minus_log_z_nats"}

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        cfg = self.cfg
        z, log_q = rsample_and_log_prob(self.proposal(x), (), generator)  # [B, K], [B]
        log_lik = self.log_likelihood(x, z)
        kl = log_q - self.prior.log_prob(z)  # single-draw KL(q(z|x) || p(z)), [B]
        z_prior = self.prior.sample(x.shape[0], generator).to(z)
        mmd2 = mmd2_unbiased(z, z_prior, math.sqrt(self.latent_dim), cfg.kernel)
        objective = (log_lik - (1 - cfg.alpha) * kl).mean() - (cfg.alpha + cfg.lam - 1) * mmd2
        return StepOutput(losses={"loss": -objective}, metrics={
            "log_likelihood_nats": log_lik.mean().detach(), "kl_nats": kl.mean().detach(),
            "mmd2": mmd2.detach()}, latents=z)
