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
(see docs/methods.md section 2b). With ``adapt_step`` (default, needs ``mh``), log eta follows the
acceptance toward ``target_acceptance`` with a constant gain, since the posterior moves as theta
trains.

Fixes for the conditioning of G (docs/models.md, "Why the LAE's chain did not sample"), each a
config switch, measured against each other:

- ``precond_damping_ref: median`` with ``precond_damping`` = c: the preconditioner with a
  bounded metric, lam = c * median(s^2); ``phi_prior_std``: a N(0, sigma^2) prior on Phi's entries
  so that directions of Phi no batch constrains stay bounded (samplers/ald.py);
- ``feature_norm: batch``: g standardised per feature (BatchNorm without affine, running
  statistics at evaluation), removing the direction common to every image's features;
- ``mala_steps`` = m: after the ALD transitions, m per-point MALA steps in latent space from
  Z_T = G Phi_T^T (amortized start, per-point correction); the decoder then trains on the refined
  latents (loss "decoder") and the feature network on the ALD energies (loss "features").

Diagnostics: ``shared_motion`` (the share of the minibatch's latent move Z_T - Z_0 common to
the batch, samplers/diagnostics.py; 0 when nothing moved) every step, beside acceptance and step
size; on logging steps only (they need an SVD, which reads on the host), ``gram_condition`` (top
over median squared singular value of G), ``feature_rank`` and ``feature_rank_fraction``. A
warning fires when most of the motion of the plain ALD chain is shared, and when G is rank
deficient (once: at the first step when the batch is larger than G's width).

Several latent layers (``latent_layers``, a top-down generator): Phi's rows split into one head
per layer, and each head is its own ALD chain with its own step size and MH test; a transition
updates the heads in turn, each on the energy with the other layers held (Metropolis-within-Gibbs,
docs/methods.md section 12). Logged per layer as ``layer<l>/acceptance`` and ``layer<l>/step_size``.

``infer(x)`` returns Phi g(x), the chain's current sample for x (amortized: no per-point
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
    ['energy_per_example', 'nonfinite_proposals', 'phi_norm', 'shared_motion']
    >>> list(out.chains), out.chains[""].rule  # the ALD chain's step size and acceptance
    ([''], 'adapted')
    >>> sorted(model.diagnostics(torch.randn(16, 2)))  # logged on logging steps only
    ['feature_rank', 'feature_rank_fraction', 'gram_condition']
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn
from torch.distributions import Independent, Normal

from lae.errors import ConfigError
from lae.models import register_model
from lae.models.base import (
    DataSpec,
    LatentModel,
    ModelConfig,
    StepOutput,
    check_settings,
    with_gradient,
)
from lae.nn import build_encoder
from lae.samplers import MALA, ChainReport, SamplerState, StepSizeAdapter, run_chain
from lae.samplers.adaptive import AdaptiveMALAResult, adaptive_mala, posterior_energy
from lae.samplers.ald import ALDState, feature_rank
from lae.samplers.amortized import AmortizedALD, time_averaged_energy
from lae.samplers.base import tile_batch
from lae.samplers.diagnostics import gram_condition, shared_motion_share
from lae.samplers.kernels import MALA_TARGET

SHARED_MOTION_WARNING = 0.9  # warn when this share of a minibatch's latent move is common


class PlainChain:
    """How the LAE of the paper trains its decoder: on the ALD chain's own states. One loss,
    "loss", the time-averaged energy of the states, trains the features and the decoder alike;
    with one latent layer the chain's own energy evaluations carry the decoder's gradient too
    (its parameters ride along the chain), so no further decoder pass is needed."""

    watches_shared_motion = True  # the decoder trains on the chain: a shared move hurts it

    def register(self, model: LAE) -> None:
        """Add what this scheme keeps to the model (buffers): nothing."""

    def chain_parameters(self, model: LAE) -> tuple[Tensor, ...]:
        """The parameters whose energy gradients the chain's states carry."""
        return tuple(model.decoder_parameters()) if len(model.layer_rows) == 1 else ()

    def losses(self, model: LAE, x: Tensor, chain_loss: Tensor, z_end: Tensor,
               end: SamplerState | None, generator: torch.Generator | None,
               metrics: dict[str, Any], chains: dict[str, ChainReport]
               ) -> tuple[dict[str, Tensor], Tensor]:
        """(the named losses, the latents the decoder trained on [B, K]); may add to metrics
        and chains."""
        return {"loss": chain_loss}, z_end

    def refine(self, model: LAE, x: Tensor, z: Tensor, adapt: bool = False,
               generator: torch.Generator | None = None, start: SamplerState | None = None
               ) -> tuple[Tensor, Tensor, Tensor]:
        """No refinement: (z, acceptance 1, no rejected proposals)."""
        return z, z.new_ones(()), z.new_zeros((), dtype=torch.long)

    def refine_draws(self, model: LAE, x: Tensor, trace: Tensor,
                     generator: torch.Generator | None) -> Tensor:
        """Draws [S, B, K] of the chain continued on x, refined as in training: as they are."""
        return trace

    def infer(self, model: LAE, x: Tensor, start: Tensor,
              generator: torch.Generator | None) -> Tensor:
        """The training chain's estimate of the posterior mean from Phi g(x): Phi g(x)."""
        return start

    def loss_parameters(self, model: LAE) -> dict[str, list[nn.Parameter]]:
        return {"loss": [p for p in model.parameters() if p.requires_grad]}


class MALARefinement(PlainChain):
    """The per-point correction (``model.mala_steps`` = m): after the ALD transitions, m MALA
    steps per example on U(x, .) from the chain's latents Z_T = G Phi_T^T, at a step size
    (the model's buffer ``log_mala_step_size``) adapted toward ``mala_target``. The decoder
    trains on the refined latents (loss "decoder"), the feature network on the chain's
    energies (loss "features")."""

    watches_shared_motion = False  # the decoder trains on the refined latents

    def __init__(self, cfg: LAE.Config) -> None:
        self.steps = cfg.mala_steps
        self.adapter = StepSizeAdapter(cfg.mala_target, per_chain=False, decay=0.0,
                                       gain=cfg.mala_adapt_gain or cfg.adapt_gain)

    def register(self, model: LAE) -> None:
        model.register_buffer("log_mala_step_size",
                              torch.tensor(math.log(model.cfg.mala_step_size)))

    def chain_parameters(self, model: LAE) -> tuple[Tensor, ...]:
        return ()

    def losses(self, model: LAE, x: Tensor, chain_loss: Tensor, z_end: Tensor,
               end: SamplerState | None, generator: torch.Generator | None,
               metrics: dict[str, Any], chains: dict[str, ChainReport]
               ) -> tuple[dict[str, Tensor], Tensor]:
        # The refinement starts from the chain's last state, whose energy and gradient at z_end
        # the chain has already computed (one layer); several draws per image run as one
        # batch of copies, block d holding draw d of every image.
        draws = model.cfg.mala_draws
        if draws > 1:
            x, z_end, end = tile_batch(x, draws), tile_batch(z_end, draws), None
        z, acceptance, nonfinite = self.refine(model, x, z_end, adapt=True,
                                               generator=generator, start=end)
        decoder_loss = -model.log_joint(x, z).mean()
        z = z[:z.shape[0] // draws]  # the first draw of each image
        chains["mala_"] = ChainReport(model.log_mala_step_size.exp(), acceptance,
                                      self.adapter.rule)
        metrics["log_joint_refined_nats"] = -decoder_loss.detach()
        metrics["nonfinite_proposals"] = metrics["nonfinite_proposals"] + nonfinite
        return {"decoder": decoder_loss, "features": chain_loss}, z

    def refine(self, model: LAE, x: Tensor, z: Tensor, adapt: bool = False,
               generator: torch.Generator | None = None, start: SamplerState | None = None
               ) -> tuple[Tensor, Tensor, Tensor]:
        """``mala_steps`` per-point MALA steps on U(x, .) from z [B, K] (the amortized start):
        (refined z [B, K], mean acceptance, number of non-finite proposals rejected).
        ``adapt`` follows ``mala_target`` (training). ``start``: the MALA state at z (energy and
        gradient), where the caller has it (the ALD chain's last state), saving one decoder
        pass."""
        energy_fn = lambda zz: -model.log_joint(x, zz)  # noqa: E731
        kernel = MALA(model.log_mala_step_size.exp(), value_and_grad=model.chain_value_and_grad)
        state = start if start is not None else kernel.init(z.detach(), energy_fn)
        accepted, nonfinite = [], []
        for t in range(self.steps):
            state, info = kernel.step(state, energy_fn, generator)
            accepted.append(info.acceptance)
            nonfinite.append(info.nonfinite)
            if adapt:
                self.adapter.adapt_(model.log_mala_step_size, info.acceptance, t)
                kernel = kernel.with_step_size(model.log_mala_step_size.exp())
        return state.z, torch.stack(accepted).mean(), torch.stack(nonfinite).sum()

    def refine_draws(self, model: LAE, x: Tensor, trace: Tensor,
                     generator: torch.Generator | None) -> Tensor:
        s, b, k = trace.shape
        z, _, _ = self.refine(model, tile_batch(x, s), trace.reshape(s * b, k),
                              generator=generator)
        return z.reshape(s, b, k)

    def infer(self, model: LAE, x: Tensor, start: Tensor,
              generator: torch.Generator | None) -> Tensor:
        """The mean of the last half of ``infer_steps`` MALA steps on U(x, .) from Phi g(x), at
        the refinement's adapted step size (Phi g(x) itself with ``infer_steps`` 0)."""
        steps = model.cfg.infer_steps
        if not steps:
            return start
        kernel = MALA(model.log_mala_step_size.exp(), value_and_grad=model.chain_value_and_grad)
        energy_fn = lambda z: -model.log_joint(x, z)  # noqa: E731
        _, trace, _ = run_chain(kernel, kernel.init(start, energy_fn), energy_fn,
                                steps - steps // 2, warmup=steps // 2, generator=generator)
        return trace.mean(0)

    def loss_parameters(self, model: LAE) -> dict[str, list[nn.Parameter]]:
        return {"decoder": model.decoder_parameters(),
                "features": [p for p in model.features.parameters() if p.requires_grad]}



@register_model("lae")
class LAE(LatentModel):
    """Langevin autoencoder: ALD on the encoder's last layer, decoder on the chain's samples."""

    @dataclass
    class Config(ModelConfig):
        resumable = (*ModelConfig.resumable, "eval_std", "eval_inference", "eval_warmup",
                     "eval_thin", "infer_steps", "infer_warmup")
        ald_steps: int = 2  # T, ALD transitions per minibatch (the paper: T >= 2 is enough)
        step_size: float = 1e-6  # eta on the summed potential V (authors: 1e-4 on the mean)
        mh: bool = True  # Metropolis-Hastings test (the paper's ablation: stabilises training)
        preconditioned: bool = False  # row-space preconditioner (docs/methods.md 1b)
        adapt_step: bool = True  # follow target_acceptance (with mh only)
        target_acceptance: float = 0.6
        adapt_gain: float = 0.02  # log eta += gain * (acceptance - target) per transition
        # the gain when the acceptance is below the target (0: adapt_gain): a step that has
        # become too long as the posterior sharpens falls faster than a short one grows
        adapt_fall_gain: float = 0.0
        eval_std: float = 0.05  # std of the authors' hand-set q(z|x) for importance sampling
        precond_damping: float = 1e-6  # lam = precond_damping * s_ref^2 (preconditioned only)
        precond_damping_ref: str = "max"  # s_ref: "max" (nearly exact) or "median" (bounded)
        phi_prior_std: float = 0.0  # sigma of a N(0, sigma^2) prior on Phi's entries; 0: flat
        # the chain's noise projected on the row space of the batch's features: the batch's
        # chain is unchanged, Phi stops random-walking where the batch does not see it
        row_space_noise: bool = False
        feature_norm: str = "none"  # "batch": standardise g per feature (decorrelates G's rows)
        mala_steps: int = 0  # per-point MALA steps in latent space after the ALD transitions
        mala_step_size: float = 1e-2  # their initial step size (adapted toward mala_target)
        mala_target: float = MALA_TARGET
        mala_adapt_gain: float = 0.0  # the refinement step's adapter gain (0: adapt_gain)
        # refined draws per image per training step, each its own mala_steps chain from the
        # ALD state: the decoder's gradient averages them (a lower-variance estimate of
        # E_post grad log p(x, z), at mala_draws x the refinement's decoder passes)
        mala_draws: int = 1
        # Evaluation-time inference (posterior_samples, infer), apart from training's chain:
        # "chain": the training chain continued on the test batch (ALD on Phi, then mala_steps
        # refinement steps), the paper's amortized inference; "mala": per-image MALA from the
        # amortized start Phi g(x), its step size and a dense mass adapted per image over
        # eval_warmup steps (lae.samplers.adaptive), then every eval_thin-th step kept
        eval_inference: str = "chain"
        eval_warmup: int = 200
        eval_thin: int = 2
        # infer(x), an estimate of the posterior mean: with eval_inference "mala", the mean of
        # infer_steps kept steps after infer_warmup steps of the same sampler (shorter than
        # eval_warmup: infer runs on every image that reconstructions, the probe and the tasks
        # score); with "chain", the mean of the last half of infer_steps MALA steps from
        # Phi g(x) at the refinement's step (mala_steps > 0); 0: Phi g(x) itself
        infer_steps: int = 20
        infer_warmup: int = 100

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.precond_damping_ref not in ("max", "median"):
                raise ValueError(f"precond_damping_ref must be 'max' or 'median', got "
                                 f"{self.precond_damping_ref!r}")
            if self.feature_norm not in ("none", "batch"):
                raise ValueError(f"feature_norm must be 'none' or 'batch', got "
                                 f"{self.feature_norm!r}")
            if min(self.adapt_gain, self.adapt_fall_gain, self.mala_adapt_gain) < 0:
                raise ValueError(f"adapt_gain, adapt_fall_gain and mala_adapt_gain must be >= 0 "
                                 f"(0: the step stays); got {self.adapt_gain}, "
                                 f"{self.adapt_fall_gain}, {self.mala_adapt_gain}")
            if self.phi_prior_std < 0 or self.mala_steps < 0 or not self.mala_step_size > 0:
                raise ValueError("phi_prior_std and mala_steps must be >= 0 and mala_step_size "
                                 f"> 0; got {self.phi_prior_std}, {self.mala_steps}, "
                                 f"{self.mala_step_size}")
            if self.mala_draws < 1 or (self.mala_draws > 1 and not self.mala_steps):
                raise ValueError(f"mala_draws must be >= 1, and above 1 only with mala_steps "
                                 f"(the draws are refinement chains); got {self.mala_draws} "
                                 f"with mala_steps={self.mala_steps}")
            if self.row_space_noise and (self.preconditioned or self.phi_prior_std):
                raise ValueError("row_space_noise excludes preconditioned (its moves already stay "
                                 "in the row space) and phi_prior_std (its drift leaves it)")
            if self.eval_inference not in ("chain", "mala"):
                raise ValueError(f"eval_inference must be 'chain' or 'mala', got "
                                 f"{self.eval_inference!r}")
            if (min(self.eval_warmup, self.infer_warmup) < 4 or self.eval_thin < 1
                    or self.infer_steps < 0):
                raise ValueError(f"eval_warmup and infer_warmup must be >= 4, eval_thin >= 1 and "
                                 f"infer_steps >= 0; got {self.eval_warmup}, "
                                 f"{self.infer_warmup}, {self.eval_thin}, {self.infer_steps}")
            check_settings(self, at_least={"ald_steps": 1}, positive=("step_size", "eval_std"),
                           probability=("target_acceptance",))

    def __init__(self, cfg: LAE.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        encoder = build_encoder(cfg.net, spec.shape, cfg.latent_dim)
        self.features = encoder.features  # g(x; psi), trained by gradient descent
        self.features_width = encoder.feature_dim
        # per-feature standardisation (no affine: Phi already scales each feature)
        self.feature_norm = (nn.BatchNorm1d(encoder.feature_dim, affine=False)
                             if cfg.feature_norm == "batch" else nn.Identity())
        # The chain starts where an ordinary linear layer would; bias as a constant feature.
        phi0 = torch.cat([encoder.head.weight.detach(), encoder.head.bias.detach()[:, None]], 1)
        self.register_buffer("phi", phi0.clone())  # [K, d + 1], persistent across minibatches
        # one ALD chain per latent layer (a head of Phi's rows each), each with its own step
        # size: a 0-d buffer with one layer (as checkpoints before layers had), [L] with several
        self.layer_rows = [slice(a - k, a) for a, k in zip(
            itertools.accumulate(self.latent_layers), self.latent_layers)]
        log_eta = torch.full((len(self.layer_rows),), math.log(cfg.step_size))
        self.register_buffer("log_step_size", log_eta if len(self.layer_rows) > 1 else log_eta[0])
        # per layer, constant gain (decay 0): the posterior moves as theta trains
        self.ald_adapter = StepSizeAdapter(cfg.target_acceptance, per_chain=True,
                                           gain=cfg.adapt_gain, decay=0.0,
                                           fall_gain=cfg.adapt_fall_gain or None)
        # what the decoder trains on: the chain's states, or their per-point refinement
        self.scheme = MALARefinement(cfg) if cfg.mala_steps else PlainChain()
        self.scheme.register(self)

    def feature_matrix(self, x: Tensor) -> Tensor:
        """G = [g(x), 1]: [B, d + 1]."""
        g = self.feature_norm(self.features(self.fill_missing(x)))
        return torch.cat([g, torch.ones_like(g[:, :1])], dim=1)

    def eval_feature_matrix(self, x: Tensor) -> Tensor:
        """G with ``feature_norm`` at its running statistics, left unchanged even in train
        mode: [B, d + 1]."""
        feature_norm_mode = self.feature_norm.training
        self.feature_norm.eval()
        feats = self.feature_matrix(x)
        self.feature_norm.train(feature_norm_mode)
        return feats

    # training on several processes (share_chains): the all-reduce that makes the chain on Phi
    # one chain over the global batch, and the generator of its noise, seeded alike everywhere
    chain_reduce: Callable[[Tensor], Tensor] | None = None
    chain_generator: torch.Generator | None = None

    def share_chains(self, reduce: Callable[[Tensor], Tensor], generator: torch.Generator,
                     global_batch: int) -> None:
        """One ALD chain on Phi over the global batch of every process: V(Phi) and dV/dPhi are
        sums over the global batch (all-reduced by ``reduce``), the chain's noise and MH uniforms
        come from ``generator``, seeded alike on every process, so every process makes the same
        move. The per-point MALA refinement stays per process, on its own examples.

        Raises:
            ConfigError: the features are narrower than the global batch (Theorem 1 needs
                rank(G) = global batch), or ``model.preconditioned`` (its preconditioner needs
                the whole G on one process).
        """
        width = self.features_width + 1
        if width < global_batch:
            raise ConfigError(f"LAE on several processes: the ALD features are {width} wide "
                              f"(net features + 1) but the global batch is {global_batch} "
                              f"examples; one chain over the global batch needs width >= global "
                              f"batch (Theorem 1): lower train.batch_size or the number of "
                              f"processes, or widen the network")
        if self.cfg.row_space_noise:
            raise ConfigError("LAE on several processes: model.row_space_noise=true projects on "
                              "the whole batch's features, which no process holds; train on one "
                              "process or set model.row_space_noise=false")
        if self.cfg.preconditioned:
            raise ConfigError("LAE on several processes: model.preconditioned=true needs the "
                              "whole batch's features on one process; train on one process or "
                              "set model.preconditioned=false")
        self.chain_reduce, self.chain_generator = reduce, generator

    def ald_chain(self) -> AmortizedALD:
        """The ALD chain on Phi's heads (one per latent layer) with the model's kernel settings
        and adapter (built afresh: ``compile_log_joint`` may change how it computes U)."""
        cfg = self.cfg
        return AmortizedALD(self.layer_rows, self.ald_adapter, cfg.mh and cfg.adapt_step,
                            mh=cfg.mh, preconditioned=cfg.preconditioned,
                            lam_rel=cfg.precond_damping, damping_ref=cfg.precond_damping_ref,
                            phi_prior_std=cfg.phi_prior_std or None,
                            row_space_noise=cfg.row_space_noise,
                            value_and_grad=self.chain_value_and_grad)

    def refine(self, x: Tensor, z: Tensor, adapt: bool = False,
               generator: torch.Generator | None = None, start: SamplerState | None = None
               ) -> tuple[Tensor, Tensor, Tensor]:
        """The refinement of latents z [B, K] of x (:meth:`MALARefinement.refine`; none
        without ``mala_steps``)."""
        return self.scheme.refine(self, x, z, adapt, generator, start)

    inference_is_chain = True

    def eval_chain(self, x: Tensor, n_steps: int, thin: int, warmup: int,
                   generator: torch.Generator | None = None) -> AdaptiveMALAResult:
        """Evaluation-time MALA on U(x, .) per image from the amortized start Phi g(x), with a
        step size and a dense mass adapted per image over ``warmup`` steps, then ``n_steps``
        kept steps, every ``thin``-th recorded (samples [n_steps // thin, 1, B, K]). Costs
        ``warmup + n_steps`` decoder passes (forward and backward) per image."""
        start = self.eval_feature_matrix(x) @ self.phi.T  # running statistics, in any mode
        return adaptive_mala(posterior_energy(self.log_joint, x, 1), start[None], n_steps,
                             warmup=warmup, thin=thin, generator=generator)

    @torch.no_grad()
    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """n_samples draws per image of x, [n_samples, B, K]. With ``eval_inference`` "mala":
        :meth:`eval_chain`, ``n_samples * eval_thin`` kept steps. With "chain": the training
        chain continued on the batch x with theta, psi frozen: from the current Phi (left
        unchanged), n_samples transitions of warm-up that adapt each layer's eta toward
        ``target_acceptance`` (with MH), then n_samples kept successive transitions, each refined
        by ``mala_steps`` MALA steps if set."""
        if self.cfg.eval_inference == "mala":
            thin = self.cfg.eval_thin
            return self.eval_chain(x, n_samples * thin, thin, self.cfg.eval_warmup,
                                   generator).samples[:, 0]
        feats = self.eval_feature_matrix(x)
        adapt = (StepSizeAdapter(self.cfg.target_acceptance, per_chain=True) if self.cfg.mh
                 else None)
        warmup = n_samples if adapt else 0
        phi, log_eta = self.phi.clone(), self.log_step_size.reshape(-1).clone()
        chain, energy_fn = self.ald_chain(), lambda z: -self.log_joint(x, z)
        state = None
        trace = []
        for t in range(warmup + n_samples):
            phi, acceptance, _, state = chain.transition(energy_fn, feats, phi, log_eta, state,
                                                         generator)
            if t < warmup:
                log_eta = adapt.update(log_eta, acceptance, t)
            else:
                trace.append(feats @ phi.T)
        return self.scheme.refine_draws(self, x, torch.stack(trace), generator)

    def chain_latents(self, x: Tensor) -> Tensor:
        """The chain's current latents Phi g(x), [B, K] (deterministic given the chain)."""
        return self.feature_matrix(x) @ self.phi.T

    @torch.no_grad()
    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """An estimate of each x's posterior mean, [B, K]. With ``eval_inference`` "mala": the
        mean of ``infer_steps`` kept steps of :meth:`eval_chain` after ``infer_warmup`` steps
        (``infer_warmup + infer_steps`` decoder passes per image). With "chain" and refinement
        (``mala_steps``): the mean of the last half of ``infer_steps`` MALA steps on U(x, .)
        from Phi g(x), at the refinement's adapted step size. Otherwise (or ``infer_steps`` 0)
        Phi g(x) itself, which lies a few posterior sds from the posterior mean
        (docs/models.md)."""
        if self.cfg.eval_inference == "mala" and self.cfg.infer_steps:
            return self.eval_chain(x, self.cfg.infer_steps, 1, self.cfg.infer_warmup,
                                   generator).samples[:, 0].mean(0)
        return self.scheme.infer(self, x, self.chain_latents(x), generator)

    has_proposal = True
    proposal_is_inference = False  # hand-set around the chain's latents, not trained

    @property
    def proposal_description(self) -> str:
        return f"hand-set N(Phi g(x), {self.cfg.eval_std}^2 I), the authors' evaluation"

    def proposal(self, x: Tensor) -> Independent:
        """The authors' evaluation q(z|x) = N(Phi g(x), eval_std^2 I): batch [B], event [K]."""
        mean = self.chain_latents(x)
        return Independent(Normal(mean, torch.full_like(mean, self.cfg.eval_std)), 1)

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        feats = self.feature_matrix(x)  # graph to psi, for step 2
        g = feats.detach()  # the chain sees fixed features within the minibatch
        theta = self.scheme.chain_parameters(self)
        z_start = g @ self.phi.T
        # Step 1: T ALD transitions of the chain on Phi, theta and psi fixed
        phis, states, acceptance, nonfinite = self.advance_chain(x, g, theta, generator)
        one_layer = len(self.layer_rows) == 1
        z_end = states[-1].z if one_layer else g @ phis[-1].T  # the chain's latents G Phi_T^T
        rule = self.ald_adapter.rule if self.cfg.mh and self.cfg.adapt_step else "fixed"
        chains = {"": ChainReport(self.log_step_size.exp().mean(), acceptance.mean(), rule)}
        if not one_layer:  # each layer's chain
            per_layer = zip(acceptance.mean(0), self.log_step_size.exp())
            for layer, (accepted, eta) in enumerate(per_layer, 1):
                chains[f"layer{layer}/"] = ChainReport(eta, accepted, rule)
        metrics = {"phi_norm": torch.linalg.vector_norm(phis[-1])}
        if x.shape[0] > 1:  # one example's move is all "shared": nothing to measure
            # the share of the batch's latent move common to the batch (warned about at
            # logging steps, see warnings())
            metrics["shared_motion"] = shared_motion_share(z_end - z_start)
        # Step 2: psi (and theta, without refinement) descend (1/T) sum_t V(Phi_t) / n, with
        # each Phi_t fixed; the scheme decides what the decoder trains on
        loss = self.chain_loss(x, feats, phis, states, theta)
        metrics["nonfinite_proposals"] = nonfinite
        end = SamplerState(z_end, states[-1].energy, states[-1].grad_z) if one_layer else None
        losses, z_decoder = self.scheme.losses(self, x, loss, z_end, end, generator, metrics,
                                               chains)
        metrics["energy_per_example"] = loss.detach()
        return StepOutput(losses=losses, metrics=metrics, latents=z_decoder, chains=chains)

    def advance_chain(self, x: Tensor, g: Tensor, theta: tuple[Tensor, ...],
                      generator: torch.Generator | None
                      ) -> tuple[list[Tensor], list[ALDState], Tensor, Tensor]:
        """``ald_steps`` transitions of the chain on Phi on the batch x with features g
        [B, d + 1] (detached), each layer's step size adapted after each (with MH); Phi and the
        step sizes are written back. Returns (Phi after each transition, the states, acceptance
        [T, L], non-finite proposals rejected)."""
        run = self.ald_chain().advance(
            lambda z: -self.log_joint(x, z), g, self.phi, self.log_step_size.reshape(-1),
            self.cfg.ald_steps, self.chain_generator or generator, theta, self.chain_reduce)
        self.log_step_size.copy_(run.log_step_size.reshape(self.log_step_size.shape))
        self.phi.copy_(run.phis[-1])
        return run.phis, run.states, run.acceptance, run.nonfinite

    def chain_loss(self, x: Tensor, feats: Tensor, phis: list[Tensor], states: list[ALDState],
                   theta: tuple[Tensor, ...]) -> Tensor:
        """The time-averaged energy (1/(T n)) sum_t V(Phi_t) of the chain's states
        G(psi) Phi_t^T, each Phi_t fixed, with a graph to psi (feats [B, d + 1]) and, where the
        states carry their gradients (``theta``), to the decoder."""
        t, n = len(phis), x.shape[0]
        if len(self.layer_rows) > 1:  # the last layer's cached gradient covers only its rows
            return time_averaged_energy(lambda z: -self.log_joint(tile_batch(x, t), z), feats,
                                        phis)
        z = torch.einsum("nd,tkd->tnk", feats, torch.stack(phis))  # [T, n, K], graph to psi
        # With the chain's cached gradients: psi's is sum_t dU/dz_t dz_t/dpsi (the chain holds
        # dU/dz_t and U at every Phi_t), theta's the states' dV/dtheta. Value: the mean energy;
        # gradient: that of the linear surrogate. No decoder pass.
        grad_z = torch.stack([st.grad_z for st in states])  # [T, n, K], detached
        surrogate = (grad_z * z).sum() / (t * n)
        energy = torch.stack([st.energy for st in states]).mean()
        loss = energy + (surrogate - surrogate.detach())
        if theta:
            # summed in place into the first state's gradients (nothing reads them again):
            # these tensors are the decoder's size, and each pass over them counts
            grads = [states[0].param_grads[i] for i in range(len(theta))]
            for st in states[1:]:
                torch._foreach_add_(grads, list(st.param_grads))
            loss = loss + with_gradient(torch.zeros_like(energy), theta, grads,
                                        scale=1.0 / (t * n))
        return loss

    @torch.no_grad()
    def diagnostics(self, x: Tensor) -> dict[str, Tensor | float]:
        """On logging steps: ``feature_rank``, the numerical rank of the batch's features G,
        ``feature_rank_fraction``, rank(G) / n (below 1, this batch's latents cannot move
        independently: Theorem 1), and ``gram_condition``,
        top over median squared singular value of G (one SVD, which reads the factorisation's
        status on the host)."""
        feats = self.eval_feature_matrix(x)
        s = torch.linalg.svdvals(feats)
        rank = feature_rank(feats, s)
        return {"feature_rank": rank, "feature_rank_fraction": rank / x.shape[0],
                "gram_condition": gram_condition(s)}

    def warnings(self, record: dict[str, float]) -> list[str]:
        """Rank-deficient features; and, for the plain ALD chain (no refinement, which the
        decoder would train on instead), a move mostly shared by the batch."""
        out = []
        fraction, rank = record.get("feature_rank_fraction", 1.0), record.get("feature_rank")
        # a batch larger than G's width d + 1 was said at the first step (ald.check_width):
        # the measured rank adds nothing then
        shapes_said = (rank is not None and 0 < fraction
                       and rank / fraction > self.features_width + 1)
        if fraction < 1.0 and not shapes_said:
            out.append("LAE: the ALD features of a minibatch have rank < batch size, so its "
                       "latents cannot follow the product of the posteriors (Theorem 1 needs "
                       "rank(G) = n; see feature_rank_fraction in metrics.jsonl)")
        if (self.scheme.watches_shared_motion
                and record.get("shared_motion", 0.0) > SHARED_MOTION_WARNING):
            out.append(f"LAE: over {SHARED_MOTION_WARNING:.0%} of a minibatch's latent move is "
                       "one shift shared by the batch, so the chain does not sample each "
                       "posterior (G is badly conditioned; see docs/models.md for the fixes: "
                       "model.feature_norm, model.preconditioned with "
                       "model.precond_damping_ref=median, model.mala_steps)")
        return out

    def decoder_parameters(self) -> list[nn.Parameter]:
        """theta: the decoder's and the likelihood's trainable parameters."""
        return [p for p in (*self.decoder.parameters(), *self.likelihood.parameters())
                if p.requires_grad]

    def model_loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """One loss for the decoder, likelihood and features; with ``mala_steps``, "decoder"
        (decoder, likelihood) and "features" (the feature network g) separately (a learned
        prior's groups are added by :meth:`LatentModel.loss_parameters`)."""
        return self.scheme.loss_parameters(self)


@register_model("lae-flow")
class LAEFlow(LAE):
    """The LAE under a normalizing-flow prior (zuko's MAF, lae.distributions.FlowPrior), learned
    by maximum likelihood on the latents the decoder trains on: the flow prior of Xie et al.
    (AAAI 2023) with ALD inference in place of their short-run chains, a pairing none of the
    source papers has."""

    @dataclass
    class Config(LAE.Config):
        prior: str = "flow"
        prior_options: dict[str, Any] = field(default_factory=lambda: {
            "transforms": 4, "hidden": 64})


@register_model("lae-ebm")
class LAEEBM(LAE):
    """The LAE under a latent EBM prior (lae.distributions.LatentEBMPrior), amortized on both
    sides as in the LAE paper's earlier version: posterior by ALD on the encoder, and the prior's
    negative samples by unconditional ALD on a sampler network (``prior_options.sampler: ald``,
    lae.distributions.ALDPriorSampler); the prior learns by the EBM's maximum-likelihood step on
    the latents the decoder trains on, the sampler network on the energy of its chain's states
    (loss "prior_sampler")."""

    @dataclass
    class Config(LAE.Config):
        prior: str = "latent-ebm"
        prior_options: dict[str, Any] = field(default_factory=lambda: {
            "hidden": 200, "depth": 2, "base_scale": 1.0, "max_energy": 1e4, "sampler": "ald",
            "ald": {"n_chains": 100, "width": 256, "input_dim": 64, "steps": 2,
                    "step_size": 0.01}})
        prior_lr_scale: float = 0.2
