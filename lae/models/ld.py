r"""Persistent per-example chains, no encoder: datapoint-wise Langevin dynamics (``ld``), the
non-amortized counterpart of ALD (docs/methods.md section 3d), and alternating back-propagation
(``abp``, Han et al., AAAI 2017), which is the same model with other defaults (below).

Each training example x_i owns a latent z_i [K] and a step size eta_i, kept in buffers
``z_chains`` [n_train, K] and ``log_step_size`` [n_train] (so checkpoints carry them; chains start
from the prior, z_i ~ N(0, I)). Per minibatch with rows I (the trainer's ``index``):

1. from the stored z_i, i in I, run T = ``n_steps`` transitions of the ``sampler`` kernel on
   U(x_i, .) = -log p(x_i, .) (MALA: z' = z - eta_i grad U + sqrt(2 eta_i) xi, then the MH test;
   nothing reaches the decoder), and write the final states back;
2. the decoder theta (with the likelihood's parameters) descends the time-averaged energy (as in
   LAE's Algorithm 2, Taniguchi et al., NeurIPS 2022)

       L = (1/T) sum_t (1/|I|) sum_{i in I} -log p(x_i, z_i^(t); theta),   z_i^(t) held fixed;

   (``train_on: last`` uses only the T-th state);
3. with an MH kernel, each eta_i takes one Robbins-Monro step toward the target acceptance,
   log eta_i += ``adapt_gain`` * (mean_t acceptance_i^(t) - ``target_acceptance``),
   with a constant gain (the posterior moves as theta trains). An example is visited once per
   epoch, so its chain advances T steps per epoch: LD mixes slowly, which is what amortization
   (ALD) is meant to fix.

``encode(x)`` for new data (a test set) starts ``test_steps`` transitions from z = 0 with the
decoder fixed, at the step size exp(mean_i log eta_i) learnt in training, adapting each chain's step
size toward the target during the run (MH kernels only), and returns the final state (one
approximate posterior sample). There is no q(z|x), hence no ``proposal``: IWAE/ELBO evaluation is
skipped.

ABP: Han et al. run L unadjusted Langevin steps z' = z + (s^2/2) grad log p(x, z) + s xi per
example, warm-started from the example's previous state, then one gradient step of theta on
log p(x, z) at the last state. That is this model with ``sampler: langevin`` (eta = s^2/2, fixed),
``adapt_gain: 0`` and ``train_on: last``, the defaults of :class:`ABP`.

Reference: Roberts & Tweedie, Bernoulli 1996 (MALA); the LD baseline of Taniguchi et al.,
"Langevin Autoencoders for Learning Deep Latent Variable Models", NeurIPS 2022; its precursor is the
alternating back-propagation of Han et al., AAAI 2017 (unadjusted, chains not persistent).

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> spec = DataSpec.points(2, n_train=10)
    >>> model = LD(LD.Config(latent_dim=2, net=NetConfig(hidden=32, depth=1)), spec)
    >>> out = model.training_step(torch.randn(4, 2), torch.tensor([0, 3, 5, 9]))
    >>> model.z_chains.shape, sorted(out.metrics), out.chains[""].rule
    (torch.Size([10, 2]), ['energy_per_example', 'nonfinite_proposals'], 'adapted')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from lae.errors import ConfigError
from lae.models import register_model
from lae.models.base import DataSpec, LatentModel, ModelConfig, StepOutput, check_settings
from lae.samplers import ChainReport, StepSizeAdapter, run_chain
from lae.samplers.base import EnergyFn, tile_batch
from lae.samplers.kernels import KERNELS, MALA_TARGET, build_kernel


@register_model("ld")
class LD(LatentModel):
    """A decoder trained on persistent per-example MALA chains."""

    per_example_buffers = ("z_chains", "log_step_size")  # one chain per training example

    @dataclass
    class Config(ModelConfig):
        resumable = (*ModelConfig.resumable, "test_steps")
        n_steps: int = 2  # T, transitions per visit of an example
        sampler: str = "mala"  # a kernel of lae.samplers.KERNELS; "langevin" is unadjusted
        step_size: float = 0.01  # initial eta of every chain
        target_acceptance: float = MALA_TARGET  # MALA's optimal-scaling target
        adapt_gain: float = 0.2  # per visit; 0 keeps every eta at step_size (so does langevin)
        train_on: str = "average"  # decoder loss on the T states' "average" or the "last" one
        test_steps: int = 100  # transitions from z = 0 for encode() on new data

        def __post_init__(self) -> None:
            super().__post_init__()
            check_settings(self, at_least={"n_steps": 1, "test_steps": 1},
                           positive=("step_size",), non_negative=("adapt_gain",),
                           probability=("target_acceptance",))
            if self.sampler not in KERNELS:
                raise ValueError(f"sampler must be one of {', '.join(KERNELS)}, got "
                                 f"{self.sampler!r}")
            if self.train_on not in ("average", "last"):
                raise ValueError(f"train_on must be 'average' or 'last', got {self.train_on!r}")

        @property
        def adapts(self) -> bool:
            """Step sizes follow the acceptance only for a kernel with an MH test."""
            return KERNELS[self.sampler].target_acceptance is not None and self.adapt_gain > 0

    def __init__(self, cfg: LD.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        if spec.n_train < 1:
            raise ConfigError("model ld keeps one chain per training example and needs "
                              "DataSpec.n_train > 0 (the trainer sets it from the data)")
        self.register_buffer("z_chains", torch.randn(spec.n_train, cfg.latent_dim))
        self.register_buffer("log_step_size", torch.full((spec.n_train,), math.log(cfg.step_size)))
        # per chain, constant gain: each posterior moves as theta trains
        self.chain_adapter = StepSizeAdapter(cfg.target_acceptance, per_chain=True,
                                             gain=cfg.adapt_gain, decay=0.0)

    def energy(self, x: Tensor) -> EnergyFn:
        """U(x, .) = -log p(x, .): z [B, K] -> [B] for the batch x."""
        return lambda z: -self.log_joint(x, z)

    def kernel(self, step_size: Tensor):
        """The chains' transition kernel (``sampler``) at ``step_size`` ([B] or 0-d)."""
        return build_kernel(self.cfg.sampler, step_size, value_and_grad=self.chain_value_and_grad)

    def test_chain(self, x: Tensor, n_samples: int, generator: torch.Generator | None = None
                   ) -> tuple[Tensor, Tensor | None]:
        """Chains for new data, decoder fixed: from z = 0, ``test_steps`` transitions at the
        step size exp(mean_i log eta_i) learnt in training (adapted per chain toward the target
        during them, when the kernel has an MH test), then n_samples kept transitions:
        (final states [B, K], trace [n_samples, B, K] or None when n_samples = 0)."""
        z0 = self.z_chains.new_zeros(x.shape[0], self.latent_dim)
        adapt = StepSizeAdapter(self.cfg.target_acceptance) if self.cfg.adapts else None
        kernel, energy_fn = self.kernel(self.log_step_size.mean().exp()), self.energy(x)
        state, trace, _ = run_chain(kernel, kernel.init(z0, energy_fn), energy_fn, n_samples,
                                    warmup=self.cfg.test_steps, adapt=adapt,
                                    keep_trace=n_samples > 0, generator=generator)
        return state.z, trace

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The final state of :meth:`test_chain` (new data, decoder fixed): [B, K]."""
        return self.test_chain(x, 0, generator)[0]

    inference_is_chain = True

    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """The test-time chains of :meth:`encode` continued for n_samples transitions at the
        adapted step sizes: [n_samples, B, K]."""
        return self.test_chain(x, n_samples, generator)[1]

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        if index is None:
            raise ValueError(f"{self.cfg.name} needs the batch's rows in the training set (index)")
        log_eta = self.log_step_size[index]  # [B]
        kernel, energy_fn = self.kernel(log_eta.exp()), self.energy(x)
        state, trace, info = run_chain(kernel, kernel.init(self.z_chains[index], energy_fn),
                                       energy_fn, self.cfg.n_steps,
                                       generator=generator)  # trace [T, B, K]
        self.z_chains[index] = state.z
        chain = ChainReport(log_eta.exp().mean())  # without an MH test: no acceptance
        if self.cfg.adapts:
            acceptance = info.acceptance.mean(0)  # [B]
            self.chain_adapter.adapt_(self.log_step_size, acceptance, index=index)
            chain = ChainReport(chain.step_size, acceptance.mean(), self.chain_adapter.rule)
        if self.cfg.train_on == "last":
            trace = trace[-1:]
        loss = -self.log_joint(tile_batch(x, trace.shape[0]), trace.flatten(0, 1)).mean()
        return StepOutput(losses={"loss": loss},
                          metrics={"energy_per_example": loss.detach(),
                                   "nonfinite_proposals": info.nonfinite.sum()},
                          latents=trace, chains={"": chain})


@register_model("abp")
class ABP(LD):
    """Alternating back-propagation (Han et al., AAAI 2017) with persistent chains: LD's
    per-example chains, run by unadjusted Langevin at a fixed step size, the decoder trained on
    each chain's last state. Only the defaults differ from :class:`LD` (one implementation of
    persistent chains serves both).

    Example::

        >>> import torch
        >>> from lae.models import DataSpec
        >>> from lae.nn import NetConfig
        >>> model = ABP(ABP.Config(name="abp", latent_dim=2, net=NetConfig(hidden=16, depth=1)),
        ...             DataSpec.points(2, n_train=10))
        >>> out = model.training_step(torch.randn(4, 2), torch.tensor([0, 3, 5, 9]))
        >>> model.cfg.sampler, out.chains[""].acceptance, out.chains[""].rule  # no MH test
        ('langevin', None, 'fixed')
    """

    @dataclass
    class Config(LD.Config):
        name: str = "abp"
        n_steps: int = 5  # Langevin steps per visit, continuing the example's chain
        sampler: str = "langevin"  # unadjusted, as in Han et al.
        step_size: float = 1e-3  # eta = s^2 / 2, fixed (no MH test, no adaptation)
        adapt_gain: float = 0.0
        train_on: str = "last"
