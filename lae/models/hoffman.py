r"""Hoffman (2017): a VAE whose decoder learns from MCMC samples started at the encoder's guess.

M. D. Hoffman, "Learning deep latent Gaussian models with Markov chain Monte Carlo", ICML 2017
(called DLGM in some papers; docs/methods.md section 3c).

Per minibatch, for each example x (energy U(x, z) = -log p(x, z), summed over pixels):

1. z_0 ~ q(z|x) = N(mu(x), diag sigma(x)^2), the VAE encoder's guess, detached;
2. z_K = K transitions of a Markov kernel leaving p(z|x) invariant (MALA or HMC; unadjusted
   Langevin is allowed but biased), run on U(x, .) with no gradient through the chain;
3. decoder theta (with the likelihood's own parameters) descends (loss "decoder")

       L_dec = -(1/B) sum_i log p(x_i, z_K,i; theta),      z_K held fixed;

4. encoder phi ascends its usual bound (loss "encoder"; the ELBO, or IWAE-k with
   ``objective: iwae``)

       L_enc = -(1/B) sum_i E_q[log p(x_i, z) - log q(z|x_i)].

   L_enc depends on theta too, but ``loss_parameters`` gives it the encoder's parameters only, and
   the trainer differentiates each loss for its own parameters: the decoder is trained by L_dec
   alone, as in the paper (the encoder only has to be a good *initialisation*).

The step size of the kernel (eta for Langevin/MALA, the leapfrog eps for HMC) is one number kept in
a buffer (so checkpoints and resumes carry it). After every minibatch
log eta += ``adapt_gain`` * (mean acceptance - target), a Robbins-Monro step with a constant gain:
the posterior sharpens as the decoder trains, so adaptation must not die out. Within one chain the
step size is fixed, so each chain is a valid MCMC kernel.

``encode(x)`` runs the same K transitions from q's *mean* (not a sample) and returns the final
state: a posterior sample, so reconstruction MSE reflects Hoffman's inference, not the VAE's.
``proposal(x)`` is q(z|x): IWAE with it is a valid bound on log p(x), but a loose one here, since
q is trained only as the chain's initialisation (and the decoder is not trained to fit q).

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> spec = DataSpec.points(2)
    >>> model = Hoffman(Hoffman.Config(latent_dim=2, net=NetConfig(hidden=32, depth=1)), spec)
    >>> out = model.training_step(torch.randn(5, 2))
    >>> sorted(out.losses), sorted(model.loss_parameters())
    (['decoder', 'encoder'], ['decoder', 'encoder'])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lae.models import register_model
from lae.models.base import DataSpec, StepOutput, check_settings
from lae.models.vae import VAE
from lae.samplers import ChainInfo, ChainReport, StepSizeAdapter, run_chain
from lae.samplers.base import SamplerState, tile_batch
from lae.samplers.kernels import KERNELS, build_kernel


@register_model("hoffman")
class Hoffman(VAE):
    """VAE encoder as the initialiser of a short MCMC chain; decoder trained on the chain's end."""

    @dataclass
    class Config(VAE.Config):
        sampler: str = "mala"  # "mala" | "hmc" | "langevin" (unadjusted: biased, no adaptation)
        n_steps: int = 5  # K, transitions per chain
        step_size: float = 0.01  # initial eta (Langevin, MALA) or leapfrog eps (HMC)
        n_leapfrog: int = 5  # leapfrog steps per HMC transition
        adapt_step: bool = True  # follow target_acceptance (MALA, HMC)
        target_acceptance: float | None = None  # None: 0.574 for MALA, 0.65 for HMC
        adapt_gain: float = 0.05  # log step += gain * (acceptance - target) per minibatch

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.sampler not in KERNELS:
                raise ValueError(f"sampler must be one of {', '.join(KERNELS)}, got "
                                 f"{self.sampler!r}")
            check_settings(self, at_least={"n_steps": 1, "n_leapfrog": 1},
                           positive=("step_size",), probability=("target_acceptance",))

    def __init__(self, cfg: Hoffman.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        self.register_buffer("log_step_size", torch.tensor(math.log(cfg.step_size)))
        target = self.target_acceptance
        # constant gain: the posterior moves as theta trains (docs/methods.md §0e)
        self.adapter = (None if target is None else
                        StepSizeAdapter(target, per_chain=False, gain=cfg.adapt_gain, decay=0.0))

    @property
    def target_acceptance(self) -> float | None:
        """The adaptation target, or None when the step size stays fixed."""
        cfg = self.cfg
        default = KERNELS[cfg.sampler].target_acceptance
        if not cfg.adapt_step or default is None:  # ULA accepts everything
            return None
        return cfg.target_acceptance or default

    def kernel(self):
        """The configured kernel at the current step size (no gradient through its moves)."""
        return build_kernel(self.cfg.sampler, self.log_step_size.exp(),
                            n_leapfrog=self.cfg.n_leapfrog,
                            value_and_grad=self.chain_value_and_grad)

    def run_chain(self, x: Tensor, z0: Tensor, generator: torch.Generator | None = None
                  ) -> tuple[SamplerState, ChainInfo]:
        """K transitions on U(x, .) from z0 [B, K]: (final state, info of [K, B] tensors:
        acceptance, nonfinite, ...)."""
        kernel, energy_fn = self.kernel(), lambda z: -self.log_joint(x, z)
        state, _, info = run_chain(kernel, kernel.init(z0.detach(), energy_fn), energy_fn,
                                   self.cfg.n_steps, keep_trace=False, generator=generator)
        return state, info

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The chain's final state started from q's mean: one posterior sample per x, [B, K]."""
        return self.run_chain(x, self.proposal(x).mean, generator)[0].z

    @torch.no_grad()
    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """The refined samples the decoder trains on: z_0 ~ q(z|x), then ``n_steps``
        transitions, independently per draw: [n_samples, B, K]."""
        z0 = super().posterior_samples(x, n_samples, generator)  # [S, B, K]
        s, b, k = z0.shape
        z = self.run_chain(tile_batch(x, s), z0.reshape(s * b, k), generator)[0].z
        return z.reshape(s, b, k)

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        q = self.proposal(x)  # one encoder pass serves z_0 and the encoder's bound
        with torch.no_grad():  # z_0 is detached anyway: no graph through the draw
            z0 = q.sample(generator=generator)
        state, info = self.run_chain(x, z0, generator)
        acceptance = info.acceptance
        if self.adapter is not None:
            self.adapter.adapt_(self.log_step_size, acceptance)
        decoder_loss = -self.log_joint(x, state.z).mean()  # state.z carries no graph
        vae = super().model_step(x, index, generator, q)  # the encoder's bound, a second draw
        return StepOutput(
            losses={"decoder": decoder_loss, "encoder": vae.losses["loss"]},
            metrics={**vae.metrics, "log_joint_chain_nats": -decoder_loss.detach(),
                     "nonfinite_proposals": info.nonfinite.sum()},
            latents=state.z,
            chains={"": ChainReport(self.log_step_size.exp(), acceptance.mean(),
                                    self.adapter.rule if self.adapter else "fixed")},
        )

    def model_loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Disjoint groups: decoder + likelihood for "decoder", the encoder for "encoder"."""
        decoder = [*self.decoder.parameters(), *self.likelihood.parameters()]
        return {"decoder": [p for p in decoder if p.requires_grad],
                "encoder": [p for p in self.encoder.parameters() if p.requires_grad]}
