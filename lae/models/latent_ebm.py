r"""Latent energy-based prior model (LEBM; Pang, Han, Nijkamp, Zhu, Wu, NeurIPS 2020): a decoder
under an unnormalised prior p_alpha(z) ∝ exp(f_alpha(z)) N(z; 0, s_0^2 I), no encoder
(docs/methods.md section 4a; the prior is :class:`lae.distributions.LatentEBMPrior`).

Per minibatch:

1. posterior samples z+: ``posterior_steps`` unadjusted Langevin steps of size
   ``posterior_step_size`` on U(x, z) = -log p(x | z) - f_alpha(z) + |z|^2 / (2 s_0^2), from
   z_0 ~ N(0, s_0^2 I) (short-run, non-persistent; the paper: 20 steps, s = 0.1, eta = 0.005);
2. prior samples z-: the prior's own short-run chain (``model.prior_options``: sample_steps,
   sample_step_size; the paper: 60 steps, s = 0.4, eta = 0.08);
3. loss "prior" (alpha): -(mean f(z+) - mean f(z-)), the maximum-likelihood gradient of the EBM
   with its intractable log Z handled by the negative samples; loss "decoder" (theta):
   -mean log p(x | z+). The prior learns at ``prior_lr_scale`` times ``train.lr`` (the paper:
   2e-5 against 1e-4).

Logged every step: ``energy_gap`` = E(z+) - E(z-) with E = -f (the paper's diagnostic: it should
stay near 0; a drift means the prior chain no longer reaches the prior), ``f_posterior``,
``f_prior`` and ``log_likelihood_nats``. Guard: a non-finite f, or |f| above ``max_energy``,
raises :class:`lae.errors.ModelDiverged` naming the likely cause; the trainer then stops with the
last good checkpoint kept.

``infer(x)`` is one posterior chain of ``test_steps`` steps. log p(x) needs log Z:
``lae eval --metrics nll-ais`` estimates both parts by AIS and reports their difference as an
estimate, not a bound (lae/eval/metrics.py).

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> cfg = LatentEBM.Config(name="latent-ebm", latent_dim=2, posterior_steps=3,
    ...                        prior_options={"hidden": 8, "sample_steps": 3},
    ...                        net=NetConfig(hidden=16, depth=1))
    >>> out = LatentEBM(cfg, DataSpec.points(2)).training_step(torch.randn(4, 2))
    >>> sorted(out.losses), "energy_gap" in out.metrics
    (['decoder', 'prior'], True)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from lae.errors import ConfigError, ModelDiverged
from lae.models import register_model
from lae.models.base import DataSpec, LatentModel, ModelConfig, StepOutput
from lae.samplers import Langevin, run_chain
from lae.samplers.base import tile_batch


@register_model("latent-ebm")
class LatentEBM(LatentModel):
    """A decoder under a latent EBM prior, both sides sampled by short-run Langevin."""

    @dataclass
    class Config(ModelConfig):
        prior: str = "latent-ebm"
        prior_options: dict[str, Any] = field(default_factory=lambda: {
            "hidden": 200, "depth": 2, "base_scale": 1.0, "sample_steps": 60,
            "sample_step_size": 0.08})
        posterior_steps: int = 20  # K, Langevin steps of the posterior chain in training
        posterior_step_size: float = 0.005  # eta = s^2 / 2 with the paper's s = 0.1
        test_steps: int = 0  # posterior steps for infer() and evaluation; 0: posterior_steps
        prior_lr_scale: float = 0.2  # the prior's lr over train.lr (the paper: 2e-5 / 1e-4)
        max_energy: float = 1e4  # |f| beyond this is divergence (ModelDiverged)

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.prior != "latent-ebm":
                raise ValueError(f"model latent-ebm needs prior: latent-ebm, got {self.prior!r}")
            if self.posterior_steps < 1 or self.test_steps < 0:
                raise ValueError(f"posterior_steps must be >= 1 and test_steps >= 0, got "
                                 f"{self.posterior_steps} and {self.test_steps}")
            if not (self.posterior_step_size > 0 and self.prior_lr_scale > 0
                    and self.max_energy > 0):
                raise ValueError("posterior_step_size, prior_lr_scale and max_energy must be > 0")

    def __init__(self, cfg: LatentEBM.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        if not hasattr(self.prior, "f"):
            raise ConfigError("model latent-ebm: the prior must be a latent EBM")

    def posterior_chain(self, x: Tensor, n_steps: int,
                        generator: torch.Generator | None = None) -> Tensor:
        """Short-run Langevin on U(x, .) from the prior's base: z_K [B, K], no graph."""
        z0 = self.prior.base.sample(x.shape[0], generator).to(x.device)
        state, _, _ = run_chain(Langevin(self.cfg.posterior_step_size), z0,
                                lambda z: -self.log_joint(x, z), n_steps, keep_trace=False,
                                generator=generator)
        return state.z.detach()

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One posterior chain of ``test_steps`` steps per x: [B, K]."""
        return self.posterior_chain(x, self.cfg.test_steps or self.cfg.posterior_steps,
                                    generator)

    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """n_samples independent posterior chains per x: [n_samples, B, K]."""
        z = self.infer(tile_batch(x, n_samples), generator)
        return z.reshape(n_samples, x.shape[0], -1)

    def _guard(self, f_post: Tensor, f_prior: Tensor) -> None:
        worst = torch.cat([f_post, f_prior]).detach().abs().max()
        if not bool(torch.isfinite(worst)) or worst > self.cfg.max_energy:
            raise ModelDiverged(
                f"latent EBM energies exploded: max |f(z)| = {float(worst):.3g} over posterior "
                f"and prior samples (limit model.max_energy={self.cfg.max_energy:g}). Likely "
                f"causes: the prior's learning rate (model.prior_lr_scale="
                f"{self.cfg.prior_lr_scale:g} times train.lr) or a prior chain too short or "
                f"too coarse to reach the prior (model.prior_options sample_steps="
                f"{self.prior.sample_steps}, sample_step_size={self.prior.sample_step_size:g})")

    def training_step(self, x: Tensor, index: Tensor | None = None,
                      generator: torch.Generator | None = None) -> StepOutput:
        z_post = self.posterior_chain(x, self.cfg.posterior_steps, generator)
        z_prior = self.prior.sample(x.shape[0], generator).detach()
        f_post, f_prior = self.prior.f(z_post), self.prior.f(z_prior)
        self._guard(f_post, f_prior)
        log_lik = self.log_likelihood(x, z_post)
        return StepOutput(
            losses={"prior": -(f_post.mean() - f_prior.mean()), "decoder": -log_lik.mean()},
            metrics={"energy_gap": (f_prior.mean() - f_post.mean()).detach(),
                     "f_posterior": f_post.mean().detach(), "f_prior": f_prior.mean().detach(),
                     "log_likelihood_nats": log_lik.mean().detach()})

    def loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """"prior": f_alpha; "decoder": the decoder and the likelihood."""
        decoder = [*self.decoder.parameters(), *self.likelihood.parameters()]
        return {"prior": [p for p in self.prior.parameters() if p.requires_grad],
                "decoder": [p for p in decoder if p.requires_grad]}

    def lr_scales(self) -> dict[str, float]:
        return {"prior": self.cfg.prior_lr_scale}
