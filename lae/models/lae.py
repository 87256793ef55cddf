r"""The Langevin autoencoder (LAE), trained with amortized Langevin dynamics (Algorithm 2 of
Taniguchi et al., NeurIPS 2022).

The encoder is split as z = f(x) = Phi [g(x; psi), 1]: a feature network g (trained by gradient
descent) and a last linear layer Phi [K, d + 1] (bias folded in as a constant feature), which is
not a trained parameter but the state of a Markov chain. Per minibatch x_1..x_n:

1. for t = 1..T: one ALD transition of Phi on the summed potential
   V(Phi) = sum_i U(x_i, Phi g_i),  U(x, z) = -log p(x, z),
   Phi' = Phi - eta grad_Phi V + sqrt(2 eta) Xi, with a Metropolis-Hastings test (``mh``);
   optionally preconditioned on the row space of G = [g_1..g_n] (``preconditioned``, docs/methods.md
   section 1b), which makes eta the per-point MALA step size;
2. the decoder theta and the feature network psi take a gradient step on the time-averaged energy
   (1/T) sum_t V(Phi_t) / n, with Phi_t held fixed (the loss "loss");
3. Phi persists to the next minibatch: one chain lives through the whole run (a buffer, so it is
   in every checkpoint).

Because eta is defined on the *sum* V, the noise sqrt(2 eta) has the right temperature by
construction. The authors' code uses a batch-mean energy with step 1e-4, i.e. eta = 1e-4 / n on V
(see docs/methods.md section 2). With ``adapt_step`` (default, needs ``mh``), log eta follows the
acceptance toward ``target_acceptance`` with a constant gain, since the posterior moves as theta
trains.

``encode(x)`` returns Phi g(x), the chain's current sample for x (amortized: no per-point
iterations at test time). ``proposal(x)`` is the authors' evaluation distribution
q(z|x) = N(Phi g(x), ``eval_std``^2 I), hand-set rather than learned: importance sampling with it
gives a valid but loose bound on log p(x) (AIS is the fair comparison).

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> spec = DataSpec.points(2)
    >>> model = LAE(LAE.Config(latent_dim=2, net=NetConfig(hidden=32, depth=1)), spec)
    >>> out = model.training_step(torch.randn(16, 2))
    >>> model.phi.shape
    torch.Size([2, 33])
    >>> sorted(out.metrics)
    ['acceptance', 'energy_per_example', 'feature_rank_fraction', 'step_size']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Independent, Normal

from lae.models import register_model
from lae.models.base import DataSpec, LatentModel, ModelConfig, StepOutput
from lae.nn import build_encoder
from lae.samplers import ALD


@register_model("lae")
class LAE(LatentModel):
    """Langevin autoencoder: ALD on the encoder's last layer, decoder on the chain's samples."""

    @dataclass
    class Config(ModelConfig):
        ald_steps: int = 2  # T, ALD transitions per minibatch (the paper: T >= 2 is enough)
        step_size: float = 1e-6  # eta on the summed potential V (authors: 1e-4 on the mean)
        mh: bool = True  # Metropolis-Hastings test (the paper's ablation: stabilises training)
        preconditioned: bool = False  # row-space preconditioner (docs/methods.md 1b)
        adapt_step: bool = True  # follow target_acceptance (with mh only)
        target_acceptance: float = 0.6
        adapt_gain: float = 0.02  # log eta += gain * (acceptance - target) per transition
        eval_std: float = 0.05  # std of the authors' hand-set q(z|x) for importance sampling

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.ald_steps < 1:
                raise ValueError(f"ald_steps must be >= 1, got {self.ald_steps}")
            if not self.step_size > 0:
                raise ValueError(f"step_size must be > 0, got {self.step_size}")
            if not 0 < self.target_acceptance < 1:
                raise ValueError(f"target_acceptance must be in (0, 1), got "
                                 f"{self.target_acceptance}")
            if not self.eval_std > 0:
                raise ValueError(f"eval_std must be > 0, got {self.eval_std}")

    def __init__(self, cfg: LAE.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        encoder = build_encoder(cfg.net, spec.shape, cfg.latent_dim)
        self.features = encoder.features  # g(x; psi), trained by gradient descent
        # The chain starts where an ordinary linear layer would; bias as a constant feature.
        phi0 = torch.cat([encoder.head.weight.detach(), encoder.head.bias.detach()[:, None]], 1)
        self.register_buffer("phi", phi0.clone())  # [K, d + 1], persistent across minibatches
        self.register_buffer("log_step_size", torch.tensor(math.log(cfg.step_size)))

    def feature_matrix(self, x: Tensor) -> Tensor:
        """G = [g(x), 1]: [B, d + 1]."""
        g = self.features(x)
        return torch.cat([g, torch.ones_like(g[:, :1])], dim=1)

    def kernel(self) -> ALD:
        return ALD(step_size=self.log_step_size.exp(), mh=self.cfg.mh,
                   preconditioned=self.cfg.preconditioned)

    def encode(self, x: Tensor) -> Tensor:
        return self.feature_matrix(x) @ self.phi.T

    @property
    def proposal_description(self) -> str:
        return f"hand-set N(Phi g(x), {self.cfg.eval_std}^2 I), the authors' evaluation"

    def proposal(self, x: Tensor) -> Independent:
        """The authors' evaluation q(z|x) = N(Phi g(x), eval_std^2 I): batch [B], event [K]."""
        mean = self.encode(x)
        return Independent(Normal(mean, torch.full_like(mean, self.cfg.eval_std)), 1)

    def training_step(self, x: Tensor, index: Tensor | None = None) -> StepOutput:
        cfg = self.cfg
        feats = self.feature_matrix(x)  # graph to psi, for step 2
        g = feats.detach()  # the chain sees fixed features within the minibatch

        def energy_fn(z: Tensor) -> Tensor:
            return -self.log_joint(x, z)  # U(x_i, z_i), [n]

        kernel = self.kernel()
        state = kernel.init(self.phi, g, energy_fn)
        phis, acceptance = [], []
        for _ in range(cfg.ald_steps):
            state, info = kernel.step(state, g, energy_fn)
            phis.append(state.phi)
            acceptance.append(info["acceptance"][0])
            if cfg.mh and cfg.adapt_step:
                self.log_step_size += cfg.adapt_gain * (acceptance[-1] - cfg.target_acceptance)
                kernel = kernel.with_step_size(self.log_step_size.exp())
        self.phi.copy_(state.phi)

        # Step 2: theta and psi descend (1/T) sum_t V(Phi_t) / n, with each Phi_t fixed.
        t, n = len(phis), x.shape[0]
        z = torch.einsum("nd,tkd->tnk", feats, torch.stack(phis)).reshape(t * n, -1)
        energy = -self.log_joint(x.expand(t, *x.shape).reshape(t * n, *x.shape[1:]), z)
        loss = energy.mean()
        return StepOutput(losses={"loss": loss}, metrics={
            "energy_per_example": loss.detach(),
            "acceptance": torch.stack(acceptance).mean(),
            "step_size": self.log_step_size.exp(),
            # rank(G) / n below 1: this batch's latents cannot move independently (Theorem 1)
            "feature_rank_fraction": torch.tensor(state.feature_rank / n),
        })
