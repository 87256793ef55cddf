r"""Decoders under a learned prior, no encoder, both sides sampled by short-run Langevin: the
latent energy-based prior (``latent-ebm``; Pang, Han, Nijkamp, Zhu, Wu, NeurIPS 2020) and the
latent normalizing-flow prior (``flow-prior``; Xie, Zhu, Li, Wu, AAAI 2023). One class holds what
they share (the posterior chain, inference, the two optimisers); each says how its prior learns.

Per minibatch:

1. posterior samples z+: ``posterior_steps`` unadjusted Langevin steps of size
   ``posterior_step_size`` on U(x, z) = -log p(x | z) - log p(z) (up to a constant), from the
   prior's base (short-run, non-persistent; Pang et al.: 20 steps, s = 0.1, eta = 0.005);
2. loss "decoder" (theta): -mean log p(x | z+);
3. loss "prior", the prior's own ``ml_loss`` (lae/distributions/priors.py):
   - ``latent-ebm``, p_alpha(z) ∝ exp(f_alpha(z)) N(z; 0, s_0^2 I)
     (:class:`lae.distributions.LatentEBMPrior`): -(mean f(z+) - mean f(z-)) with z- from the
     prior's own short-run chain (60 steps, s = 0.4, eta = 0.08), the maximum-likelihood gradient
     with the intractable log Z handled by the negative samples. Logged: ``energy_gap`` =
     E(z+) - E(z-) with E = -f (the paper's diagnostic: it should stay near 0), ``f_posterior``,
     ``f_prior``. Guard: a non-finite f, or |f| above ``prior_options.max_energy`` (the
     metric ``max_abs_f``, checked on logging steps, so at most ``train.log_every`` steps late),
     raises :class:`lae.errors.ModelDiverged` naming the likely cause (the trainer then stops
     with the last good checkpoint kept);
   - ``flow-prior`` (:class:`lae.distributions.FlowPrior`): -mean log p(z+), maximum likelihood
     on the posterior samples, no negative phase. Logged: ``prior_log_prob_nats``.

   The prior learns at ``prior_lr_scale`` times ``train.lr`` (Pang et al.: 2e-5 against 1e-4).

``infer(x)`` is one posterior chain of ``test_steps`` steps. Under the EBM prior, log p(x) needs
log Z: ``lae eval --metrics nll-ais`` estimates both parts by AIS and reports their difference as
an estimate, not a bound (lae/eval/metrics.py); the flow prior is normalised.

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
    >>> cfg = FlowPriorModel.Config(name="flow-prior", latent_dim=2, posterior_steps=3,
    ...                             prior_options={"hidden": 8}, net=NetConfig(hidden=16, depth=1))
    >>> sorted(FlowPriorModel(cfg, DataSpec.points(2)).training_step(torch.randn(4, 2)).losses)
    ['decoder', 'prior']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from lae.models import register_model
from lae.models.base import LatentModel, ModelConfig, StepOutput
from lae.samplers import Langevin, run_chain
from lae.samplers.base import tile_batch


class LearnedPriorModel(LatentModel):
    """A decoder under a learned prior (trained by its ``ml_loss`` on the posterior samples, as
    every model trains its prior: :meth:`LatentModel.training_step`), posterior by short-run
    Langevin; the registered models below differ only in their prior and defaults."""

    @dataclass
    class Config(ModelConfig):
        posterior_steps: int = 20  # K, Langevin steps of the posterior chain in training
        posterior_step_size: float = 0.005  # eta = s^2 / 2 with the papers' s = 0.1
        test_steps: int = 0  # posterior steps for infer() and evaluation; 0: posterior_steps
        prior_lr_scale: float = 0.2  # the prior's lr over train.lr (Pang et al.: 2e-5 / 1e-4)

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.posterior_steps < 1 or self.test_steps < 0:
                raise ValueError(f"posterior_steps must be >= 1 and test_steps >= 0, got "
                                 f"{self.posterior_steps} and {self.test_steps}")
            if not self.posterior_step_size > 0:
                raise ValueError("posterior_step_size must be > 0")
            if self.prior != type(self).prior:  # each model is its own prior's learning rule
                raise ValueError(f"model {self.name} needs prior: {type(self).prior}, got "
                                 f"{self.prior!r}")

    def posterior_chain(self, x: Tensor, n_steps: int,
                        generator: torch.Generator | None = None) -> Tensor:
        """Short-run Langevin on U(x, .) from the prior's base: z_K [B, K], no graph."""
        z0 = self.prior.base.sample(x.shape[0], generator).to(x.device)
        kernel = Langevin(self.cfg.posterior_step_size, value_and_grad=self.chain_value_and_grad)
        energy_fn = lambda z: -self.log_joint(x, z)  # noqa: E731
        state, _, _ = run_chain(kernel, kernel.init(z0, energy_fn), energy_fn, n_steps,
                                keep_trace=False, generator=generator)
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

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        """Loss "decoder" on the posterior samples z+ (the prior's loss is added on the same
        z+ by :meth:`LatentModel.training_step`)."""
        z_post = self.posterior_chain(x, self.cfg.posterior_steps, generator)
        log_lik = self.log_likelihood(x, z_post)
        return StepOutput(losses={"decoder": -log_lik.mean()},
                          metrics={"log_likelihood_nats": log_lik.mean().detach()},
                          latents=z_post)

    def model_loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """"decoder": the decoder and the likelihood (the prior's groups are added by
        :meth:`LatentModel.loss_parameters`)."""
        decoder = [*self.decoder.parameters(), *self.likelihood.parameters()]
        return {"decoder": [p for p in decoder if p.requires_grad]}


@register_model("latent-ebm")
class LatentEBM(LearnedPriorModel):
    """A decoder under a latent EBM prior (Pang et al. 2020): p(z) proportional to
    exp(f(z)) N(z; 0, I), f learned by maximum likelihood with short-run Langevin negatives.

    The defaults are Pang et al.'s: a 2 x 200 MLP energy, negatives by 60 Langevin steps of 0.08
    from N(0, I); an energy above ``max_energy`` is divergence (``check_record``).
    """

    @dataclass
    class Config(LearnedPriorModel.Config):
        prior: str = "latent-ebm"
        prior_options: dict[str, Any] = field(default_factory=lambda: {
            "hidden": 200, "depth": 2, "base_scale": 1.0, "sample_steps": 60,
            "sample_step_size": 0.08, "max_energy": 1e4})



@register_model("flow-prior")
class FlowPriorModel(LearnedPriorModel):
    """A decoder under a normalizing-flow prior (Xie et al. 2023)."""

    @dataclass
    class Config(LearnedPriorModel.Config):
        prior: str = "flow"
        prior_options: dict[str, Any] = field(default_factory=lambda: {
            "transforms": 4, "hidden": 64})
        prior_lr_scale: float = 1.0
