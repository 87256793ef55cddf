"""What every model shares: config, data description, prior/decoder/likelihood, and the contract.

A model is a ``torch.nn.Module`` that the trainer drives through four things:

- :meth:`LatentModel.training_step` returns a :class:`StepOutput` with *named* losses: the
  model's own (:meth:`LatentModel.model_step`, what each model defines) and, under a learned
  prior, the prior's maximum-likelihood step on the latents the decoder trained on
  (``StepOutput.latents``), added here for every model;
- :meth:`LatentModel.loss_parameters` maps each loss name to the parameters it updates: the
  model's groups (:meth:`LatentModel.model_loss_parameters`) without the prior's parameters,
  and the prior's own groups (the trainer gives each name its own optimiser, so a model with
  two objectives, such as Hoffman's, needs no trainer of its own, and refuses a parameter that
  is in no group or in two);
- :meth:`LatentModel.infer` (the model's own inference, with an explicit generator; ``encode`` is
  its short form) / :meth:`LatentModel.decode` / :meth:`LatentModel.sample`;
- :meth:`LatentModel.log_joint`, log p(x, z) per example, which evaluation (IWAE, AIS) builds on.

Models whose inference has a density, q(z|x), declare ``has_proposal`` and expose ``proposal(x)``;
evaluation uses it for importance sampling. Every stochastic call takes a ``torch.Generator``: the
trainer passes one seeded from ``train.seed`` (saved in checkpoints) to ``training_step``, and each
metric its own. The latent z [B, latent_dim] is flat; ``latent_layers`` says how it splits into
layers (top first) for a multi-layer generator.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lae.distributions import Prior, build_likelihood, build_prior
from lae.distributions.likelihoods import LIKELIHOODS
from lae.distributions.priors import PRIORS
from lae.errors import ConfigError
from lae.nn import NetConfig, build_decoder, output_bias
from lae.samplers.base import compile_keeping_graphs, compiled_energy_and_grad, energy_and_grad
from lae.samplers.chain import ChainReport
from lae.samplers.metric import PrecisionFn, gauss_newton_precision


@dataclass
class ModelConfig:
    """Settings every model has. Models add their own fields in a subclass named ``Config``."""

    name: str = "vae"
    latent_dim: int = 16
    # several latent layers, sizes from the top down (a TopDown generator, lae/nn/topdown.py);
    # latent_dim must then be their sum. Empty: one layer of latent_dim.
    latent_layers: list[int] = field(default_factory=list)
    net: NetConfig = field(default_factory=NetConfig)
    # "auto": bernoulli for binarised data, discretised logistic for 8-bit pixels, and a
    # Gaussian for continuous data (2-D toys): scale fixed at sigma = 1 unless
    # likelihood_options say {learn_scale: true} (as the toy presets do).
    prior: str = "normal"  # a prior of lae.distributions.PRIORS, on the whole (flat) latent
    prior_options: dict[str, Any] = field(default_factory=dict)
    likelihood: str = "auto"
    likelihood_options: dict[str, Any] = field(default_factory=dict)
    prior_lr_scale: float = 1.0  # a learned prior's learning rate over train.lr

    #: keys a resumed run may change (evaluation-time settings and guards, not what the
    #: checkpoint holds); "a.b" names key b inside the dict-valued key a. Subclasses extend it.
    resumable: ClassVar[tuple[str, ...]] = ("prior_options.max_energy",)

    def __post_init__(self) -> None:
        # the registries' names are known before any data: refused with the config
        if self.prior not in PRIORS:
            raise ValueError(f"prior={self.prior!r} is unknown; choices: "
                             f"{', '.join(PRIORS)}")
        if self.likelihood != "auto" and self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood={self.likelihood!r} is unknown; choices: "
                             f"auto, {', '.join(sorted(LIKELIHOODS))}")
        if self.latent_dim < 1:
            raise ValueError(f"latent_dim must be >= 1, got {self.latent_dim}")
        if not 0 < self.prior_lr_scale < math.inf:
            raise ValueError(f"prior_lr_scale must be a finite number > 0, got "
                             f"{self.prior_lr_scale}")
        if any(not isinstance(k, int) or k < 1 for k in self.latent_layers):
            raise ValueError(f"latent_layers must be positive integers, got {self.latent_layers}")
        if self.latent_layers and sum(self.latent_layers) != self.latent_dim:
            raise ValueError(f"latent_layers {self.latent_layers} sum to "
                             f"{sum(self.latent_layers)}, but latent_dim is {self.latent_dim}: "
                             "set latent_dim to their sum")


@dataclass(frozen=True)
class DataSpec:
    """What a model needs to know about its data; stored in checkpoints so a run can be sampled
    without loading the dataset."""

    shape: tuple[int, ...]  # per example: (C, H, W) or (D,)
    value_range: tuple[float, float]  # (0, 1), (-1, 1), or (-inf, inf) for continuous points
    n_bits: int | None  # 8 for 8-bit pixels; None for binary or continuous data
    binary: bool  # values in {0, 1}
    n_train: int = 0  # training examples (models with per-example chains size their state by it)
    # the training data hide values (NaN, ``data.mask``): the likelihood leaves them out and
    # encoders see them filled (:meth:`LatentModel.fill_missing`)
    missing: bool = False

    def __post_init__(self) -> None:
        """Each field of the type and range lae writes (a checkpoint's copy may be edited)."""
        def whole(v: Any, low: int) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= low
        problems = [what for what, ok in (
            ("shape: whole numbers >= 1", isinstance(self.shape, tuple) and bool(self.shape)
             and all(whole(d, 1) for d in self.shape)),
            ("value_range: (low, high), low < high", len(self.value_range) == 2 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool)
                for v in self.value_range) and self.value_range[0] < self.value_range[1]),
            ("n_bits: None or 1..16", self.n_bits is None or whole(self.n_bits, 1)
             and self.n_bits <= 16),
            ("binary, missing: true or false", isinstance(self.binary, bool)
             and isinstance(self.missing, bool)),
            ("n_train: a whole number >= 0", whole(self.n_train, 0))) if not ok]
        if problems:
            raise ValueError(f"a data description with {'; '.join(problems)} expected, got "
                             f"{self.__dict__}")

    @classmethod
    def points(cls, dim: int, n_train: int = 0) -> DataSpec:
        """Continuous, unbounded data of shape (dim,), like the 2-D toys."""
        return cls(shape=(dim,), value_range=(-math.inf, math.inf), n_bits=None, binary=False,
                   n_train=n_train)

    @property
    def n_dims(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    def to_unit(self, x: Tensor) -> Tensor:
        """Map data-scale values to [0, 1] (for MSE reports and image grids)."""
        lo, hi = self.value_range
        if not (lo > float("-inf") and hi < float("inf")):
            return x
        return (x - lo) / (hi - lo)


def check_settings(cfg: Any, *, at_least: dict[str, int] | None = None,
                   positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                   probability: tuple[str, ...] = ()) -> None:
    """Range checks a model config's ``__post_init__`` shares, in order: each ``at_least`` field
    >= its bound, each ``positive`` > 0, each ``non_negative`` >= 0, each ``probability`` in
    (0, 1) (a ``None`` there: unset, allowed). Raises ValueError naming the first field out of
    range (the config loader adds the ``model.`` prefix)."""
    for key, low in (at_least or {}).items():
        if getattr(cfg, key) < low:
            raise ValueError(f"{key} must be >= {low}, got {getattr(cfg, key)}")
    for key in positive:
        if not getattr(cfg, key) > 0:
            raise ValueError(f"{key} must be > 0, got {getattr(cfg, key)}")
    for key in non_negative:
        if getattr(cfg, key) < 0:
            raise ValueError(f"{key} must be >= 0, got {getattr(cfg, key)}")
    for key in probability:
        value = getattr(cfg, key)
        if value is not None and not 0 < value < 1:
            raise ValueError(f"{key} must be in (0, 1), got {value}")


def resolve_likelihood_name(name: str, spec: DataSpec) -> str:
    if name != "auto":
        return name
    if spec.binary:
        return "bernoulli"
    return "logistic" if spec.n_bits is not None else "gaussian"


class _WithGradient(torch.autograd.Function):
    """The value of a loss whose gradients in some tensors are already known (see
    :func:`with_gradient`)."""

    @staticmethod
    def forward(ctx, value: Tensor, scale: float, n: int, *tensors_and_grads: Tensor) -> Tensor:
        ctx.scale, ctx.grads = scale, tensors_and_grads[n:]
        return value.detach().clone()

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        factor = grad_out * ctx.scale  # 0-d: one pass over each gradient below
        return (None, None, None, *(g * factor for g in ctx.grads), *(None for _ in ctx.grads))


def with_gradient(value: Tensor, tensors: list[Tensor] | tuple[Tensor, ...],
                  grads: list[Tensor] | tuple[Tensor, ...], scale: float = 1.0) -> Tensor:
    """A scalar loss with the value of ``value`` (0-d) whose gradient with respect to each of
    ``tensors`` is ``scale`` times the matching entry of ``grads`` (computed elsewhere, e.g. by
    a sampler's backward passes), so that autograd returns them without evaluating anything
    again.

    Example:
        >>> w = torch.ones(3, requires_grad=True)
        >>> loss = with_gradient(torch.tensor(2.0), [w], [torch.tensor([1.0, 2.0, 3.0])])
        >>> float(loss), torch.autograd.grad(3 * loss, w)[0].tolist()
        (2.0, [3.0, 6.0, 9.0])
    """
    return _WithGradient.apply(value, scale, len(tensors), *tensors, *grads)


@dataclass
class StepOutput:
    """One training step: losses to minimise (each a scalar tensor with a graph), detached
    metrics for logging (scalars, tensors are fine; the trainer reads them on logging steps), and
    the latents the decoder trained on ([..., K]: the posterior samples a learned prior takes its
    maximum-likelihood step on; every model's ``model_step`` sets them), and the model's Markov
    chains as typed records by log prefix (``""`` for the model's main chain, ``"mala_"``,
    ``"layer1/"``, ``"prior_sampler/"``): the trainer logs each as ``<prefix>step_size`` and
    ``<prefix>acceptance`` and watches it for stalls."""

    losses: dict[str, Tensor]
    metrics: dict[str, Tensor | float] = field(default_factory=dict)
    latents: Tensor | None = None
    chains: dict[str, ChainReport] = field(default_factory=dict)

    def logged(self) -> dict[str, Tensor | float]:
        """Everything the step logs: its losses, its metrics and its chains' values."""
        out = {**self.losses, **self.metrics}
        for prefix, chain in self.chains.items():
            out |= chain.metrics(prefix)
        return out


class LatentModel(nn.Module):
    """Base class: prior p(z) (``model.prior``, N(0, I) by default), decoder network,
    likelihood p(x|z).

    Args:
        cfg: the model's config.
        spec: the data description (shape, range, bits).
    """

    Config: ClassVar[type[ModelConfig]] = ModelConfig
    # True when posterior_samples are successive states of one chain (posterior fidelity then
    # also reports the share of the chain's motion common to the batch)
    inference_is_chain: ClassVar[bool] = False
    # True when proposal(x) gives a q(z|x) with a density (the IWAE and ELBO metrics need one)
    has_proposal: ClassVar[bool] = False
    # True when that q(z|x) is the model's own trained inference; False for a hand-set one (the
    # LAE's evaluation Gaussian), whose bounds say little about the model: training's per-epoch
    # test record leaves them out (AIS, train.eval_ais_temps, compares every model)
    proposal_is_inference: ClassVar[bool] = True
    # True when bound(x) gives a stochastic lower bound on log p(x) of the model's own
    # inference chain (the langevin-bound metric)
    has_langevin_bound: ClassVar[bool] = False
    # Why the model needs a normalised prior with exact sampling ("" where it does not): a model
    # with a reason refuses an energy-based prior at construction, naming it.
    needs_exact_prior: ClassVar[str] = ""
    # training metrics whose value holds log p(z) (nats) -> their name under a prior known only
    # up to log Z, which they then hold too (a bound on log p(x) bounds log p(x) + log Z)
    unnormalized_prior_metrics: ClassVar[dict[str, str]] = {}
    # buffers with one row per training example (persistent per-example chains): on several
    # processes each row is moved by the process that drew it and merged at the end of an epoch;
    # the model's other floating-point buffers are averaged over the processes every step
    per_example_buffers: ClassVar[tuple[str, ...]] = ()

    def __init__(self, cfg: ModelConfig, spec: DataSpec) -> None:
        super().__init__()
        self.cfg = cfg
        self.spec = spec
        self.latent_dim = cfg.latent_dim
        # the latent description: layer sizes, top first, in the order z [B, latent_dim] holds
        # them; every sampler and metric works on the flat z
        self.latent_layers: tuple[int, ...] = tuple(cfg.latent_layers) or (cfg.latent_dim,)
        self.prior: Prior = build_prior(cfg.prior, cfg.latent_dim, **cfg.prior_options)
        if self.needs_exact_prior and not (self.prior.normalized and self.prior.exact_sampling):
            raise ConfigError(f"model {cfg.name!r} cannot use model.prior: {cfg.prior}: "
                              f"{self.needs_exact_prior}")
        self.decoder = build_decoder(cfg.net, self.latent_layers, spec.shape)
        # how the model's chains compute (U, dU/dz); compile_log_joint swaps in a compiled graph
        self.chain_value_and_grad = energy_and_grad
        likelihood = resolve_likelihood_name(cfg.likelihood, spec)
        if likelihood == "bernoulli" and not spec.binary:
            raise ConfigError("model.likelihood: bernoulli needs binarised data; set "
                              "data.binarize=static or dynamic, or choose gaussian or logistic")
        self.likelihood = build_likelihood(likelihood, spec.shape, value_range=spec.value_range,
                                           n_bits=spec.n_bits, **cfg.likelihood_options)

    @torch.no_grad()
    def init_from_data(self, x_train: Tensor) -> None:
        """Data-dependent initialisation, once, before the first training step (the trainer calls
        it for a new run, not on resume).

        Where the likelihood defines :meth:`~lae.distributions.Likelihood.params_for_mean`
        (Bernoulli: the logit of the clipped mean), the decoder's output bias starts at the
        parameters of the training data's mean: per pixel for the MLP decoder, per channel for
        the conv decoder. Such a decoder predicts the mean image whatever z is, the best
        z-independent model (206.8 nats per binarised MNIST-5k test image, against
        784 ln 2 = 543 for p = 0.5 everywhere), so the first gradients are about z rather than
        about the mean image. Without it a binarised-MNIST VAE's first steps went into learning
        that mean while the KL term pulled q(z|x) onto the prior, and it sat collapsed at the
        mean image's 207.6 nats for up to 8 epochs. Started here, and with a small enough
        learning rate (the binarised preset's 3e-4), it learns from the first steps
        (docs/models.md, "Binarised MNIST: why the VAE started collapsed, and the fix"). Other
        likelihoods keep the default initialisation.

        Args:
            x_train: the training split [N, *shape] (for dynamic binarisation, the pixel
                probabilities, whose mean is the binarised pixels' expected mean).
        """
        # nanmean: with data.mask the hidden training values are NaN
        target = self.likelihood.params_for_mean(torch.nanmean(x_train.double(), 0))
        bias = output_bias(self.decoder)
        if target is None or bias is None:
            return
        if bias.numel() != target.numel():  # one bias per channel (conv decoder)
            if not (self.spec.is_image and bias.numel() == self.spec.shape[0]):
                return  # a custom decoder whose output bias we cannot map to pixels
            channel_mean = torch.nanmean(x_train.double().transpose(0, 1).flatten(1), 1)
            target = self.likelihood.params_for_mean(channel_mean)
        bias.copy_(target.reshape(bias.shape).to(bias))

    # -- generative side, shared by every model -------------------------------------------
    def decode(self, z: Tensor) -> torch.distributions.Distribution:
        """p(x | z) for z [B, K]; its ``log_prob(x)`` is [B] (nats, summed over pixels)."""
        return self.likelihood(self.decoder(z))

    def log_likelihood(self, x: Tensor, z: Tensor, mask: Tensor | None = None) -> Tensor:
        """log p(x | z) [B] for x [B, *shape], z [B, K]. With ``mask`` (bool [B, *shape], True
        where x is observed) only the observed values count: the likelihood of the observed
        part, what inference on an image with missing pixels conditions on (a missing value
        changes neither the result nor its gradient; it must lie in the data's range)."""
        return self.log_likelihood_of_outputs(x, self.decoder(z), mask)

    def log_likelihood_of_outputs(self, x: Tensor, outputs: Tensor,
                                  mask: Tensor | None = None) -> Tensor:
        """log p(x | o) [B] for the decoder's outputs o (what the likelihood reads, [B, ...]);
        ``mask`` as in :meth:`log_likelihood`."""
        p = self.likelihood(outputs)
        if mask is None and self.spec.missing:  # hidden training values are NaN
            mask = ~torch.isnan(x)
        if mask is None:
            return p.log_prob(x)
        per_value = p.base_dist.log_prob(torch.where(mask, x, self.fill_value))
        return torch.where(mask, per_value, torch.zeros_like(per_value)).flatten(1).sum(1)

    def gauss_newton_metric(self, x: Tensor, mask: Tensor | None = None) -> PrecisionFn:
        """z [B, K] -> the Gauss–Newton precision of the posterior energy U(x, .) at z,
        [B, K, K] (lae/samplers/metric.py): the decoder's Jacobian weighted by the likelihood's
        curvature in its outputs, plus the identity, which is the precision of an N(0, I) prior
        and an approximation of any other."""
        return partial(gauss_newton_precision, self.decoder,
                       lambda o: -self.log_likelihood_of_outputs(x, o, mask))

    @property
    def fill_value(self) -> float:
        """What a missing value is replaced by where something must read it (an encoder, or a
        likelihood term that is then left out): the middle of the data's range (0 for unbounded
        data)."""
        lo, hi = self.spec.value_range
        return 0.0 if not (math.isfinite(lo) and math.isfinite(hi)) else (lo + hi) / 2

    def fill_missing(self, x: Tensor) -> Tensor:
        """x with hidden values (NaN, when the training data hide some: ``data.mask``) set to
        :attr:`fill_value`: what an encoder reads. x itself otherwise."""
        return torch.nan_to_num(x, nan=self.fill_value) if self.spec.missing else x

    def log_joint(self, x: Tensor, z: Tensor, mask: Tensor | None = None) -> Tensor:
        """log p(x, z) = log p(z) + log p(x | z), [B]; minus the posterior energy U(x, z).
        ``mask`` as in :meth:`log_likelihood` (the joint of z and the observed values)."""
        return self.prior.log_prob(z) + self.log_likelihood(x, z, mask)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Means of p(x | z) for z ~ p(z): [n, *shape] on the data scale."""
        z = self.prior.sample(n, generator=generator)
        return self.decode(z).mean

    @torch.no_grad()
    def reconstruct(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Means of p(x | infer(x)), [B, *shape] on the data scale."""
        return self.decode(self.infer(x, generator)).mean

    # -- the training step every model shares -------------------------------------------
    def training_step(self, x: Tensor, index: Tensor | None = None,
                      generator: torch.Generator | None = None) -> StepOutput:
        """One step on the batch x [B, *shape]: the model's own losses (:meth:`model_step`) and,
        under a learned prior, the prior's maximum-likelihood step (its ``ml_loss``) on the
        latents the decoder trained on, so that every model trains its prior the same way.
        Under a prior known only up to log Z, the metrics that hold log p(z) are renamed to
        say so (``unnormalized_prior_metrics``).

        Args:
            x: the batch [B, *shape].
            index: the batch's rows in the training set [B] (for per-example state).
            generator: the source of every random draw of the step.
        """
        out = self.model_step(x, index, generator)
        metrics = out.metrics
        if not self.prior.normalized:
            metrics = {self.unnormalized_prior_metrics.get(k, k): v for k, v in metrics.items()}
        if not self.prior.learned:
            return StepOutput(out.losses, metrics, out.latents, out.chains)
        if out.latents is None:
            raise NotImplementedError(f"{type(self).__name__}.model_step returned no latents, so "
                                      f"its learned prior {self.cfg.prior!r} cannot train")
        prior_losses, prior_metrics = self.prior.ml_loss(
            out.latents.detach().reshape(-1, self.latent_dim), generator)
        clash = set(prior_losses) & set(out.losses)
        if clash:
            raise ValueError(f"{type(self).__name__}: the model's losses and its prior's share "
                             f"the names {sorted(clash)}")
        return StepOutput(out.losses | prior_losses, metrics | prior_metrics, out.latents,
                          out.chains | self.prior.chain_reports())

    def share_chains(self, reduce: Callable[[Tensor], Tensor], generator: torch.Generator,
                     global_batch: int) -> None:
        """Train on several processes: chains over a state shared by the whole batch (the LAE's
        ALD chain on Phi) become one chain over the global batch of ``global_batch`` examples,
        their sums over examples summed over the processes by ``reduce`` and their noise drawn
        from ``generator`` (seeded alike on every process). Models without such a chain have
        nothing to share (their per-example draws use the per-process generator)."""

    def loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Loss name -> the parameters its optimiser updates: the model's groups
        (:meth:`model_loss_parameters`) less the prior's parameters, and the prior's own
        groups (its ``loss_parameters``), which train on its ``ml_loss`` only."""
        prior_groups = self.prior.loss_parameters()
        in_prior = {id(p) for params in prior_groups.values() for p in params}
        groups = {name: [p for p in params if id(p) not in in_prior]
                  for name, params in self.model_loss_parameters().items()}
        clash = set(groups) & set(prior_groups)
        if clash:
            raise ValueError(f"{type(self).__name__}: the model's loss groups and its prior's "
                             f"share the names {sorted(clash)}")
        return groups | prior_groups

    def lr_scales(self) -> dict[str, float]:
        """Loss name -> factor on ``train.lr`` for its optimiser (names left out: 1): the prior's
        groups learn at ``model.prior_lr_scale``."""
        return {name: self.cfg.prior_lr_scale for name in self.prior.loss_parameters()}

    # -- what each model defines ---------------------------------------------------------
    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        """The model's own part of :meth:`training_step` on the batch x [B, *shape]: its losses,
        metrics, and the latents its decoder trained on (``StepOutput.latents``); ``index`` [B]
        holds the batch's rows in the training set (for models that keep per-example state,
        e.g. persistent chains); ``generator`` is the source of every random draw of the step."""
        raise NotImplementedError

    def model_loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """The model's loss name -> parameters (a learned prior's are taken out and trained on
        its own loss, see :meth:`loss_parameters`). Default: one loss, all parameters."""
        return {"loss": [p for p in self.parameters() if p.requires_grad]}

    def diagnostics(self, x: Tensor) -> dict[str, Tensor | float]:
        """Costly or host-reading diagnostics of the batch x, logged on logging steps only
        (``train.log_every``), so that training steps never wait on the device. Default: none."""
        return {}

    def compile_log_joint(self, mode: str = "default") -> None:
        """``train.compile``: replace :meth:`log_joint` on this instance by its ``torch.compile``d
        form (decoder, likelihood and prior fused; the backward compiled too), which every loss
        goes through, and :attr:`chain_value_and_grad` by one compiled graph computing a chain
        step's energy and its gradient in z (:func:`lae.samplers.base.compiled_energy_and_grad`):
        a compiled log p(x, z) differentiated in z would also compute the decoder's weight
        gradients (a compiled backward computes all of them), and a chain differentiated through
        (short-run's bound) would need a double backward, which compiled code does not have.
        Results match eager within float rounding (tests/train/test_compile.py). One graph per
        shape (the chain's batch, T stacked states, evaluation batches): the first steps of each
        shape compile."""
        self.log_joint = compile_keeping_graphs(type(self).log_joint.__get__(self), mode)
        self.chain_value_and_grad = compiled_energy_and_grad(mode)
        self.prior.compile_chains(self.chain_value_and_grad)

    def check_record(self, record: dict[str, float]) -> None:
        """A divergence guard on a logged record: raises :class:`lae.errors.ModelDiverged` when
        the record shows the model diverging. Default: the prior's guard (the latent EBM's
        exploding energies)."""
        self.prior.check_record(record)

    def stall_hint(self) -> str:
        """What to change when one of the model's chains stalls (the trainer appends it to its
        error or warning). Default: about the model's ``step_size`` setting, where it has one."""
        step_size = getattr(self.cfg, "step_size", None)
        if step_size is None:
            return "check the sampler's step size"
        return (f"model.step_size={step_size:g} is likely far too large (or too small) for this "
                "posterior; lower it, or check that model.adapt_step is on")

    def divergence_causes(self) -> list[tuple[int, str]]:
        """Likely causes of a divergence that lie in the model's own settings, each with a score
        (higher: more likely; the trainer's own causes score 0-4), for the trainer's
        ``diagnostics.json``. Default: each Langevin step size the config sets (``step_size``,
        ``mala_step_size``, ...), more likely without a Metropolis-Hastings test, and a learned
        prior's learning rate, more likely above ``train.lr``."""
        causes = []
        for key, value in sorted(vars(self.cfg).items()):
            if not (key.endswith("step_size") and isinstance(value, float)):
                continue
            no_mh = key == "step_size" and getattr(self.cfg, "mh", None) is False
            causes.append((int(no_mh), f"the Langevin step size model.{key}={value:g}"
                           + (" without a Metropolis-Hastings test (model.mh=false)" if no_mh
                              else "") + ": try one 10-100x smaller"))
        if self.prior.loss_parameters():
            scale = self.cfg.prior_lr_scale
            causes.append((1 + 2 * (scale > 1), f"the learned prior's learning rate, "
                           f"model.prior_lr_scale={scale:g} times train.lr: try a smaller "
                           f"model.prior_lr_scale"))
        return causes

    def warnings(self, record: dict[str, float]) -> list[str]:
        """Warnings for a logged record (train metrics averaged since the last logging step,
        plus :meth:`diagnostics`); the trainer issues each as a ``UserWarning``. Default: none."""
        return []

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """The model's own inference: one latent code per x, [B, K] (an encoder's mean, or a
        chain's state, drawn with ``generator``). Evaluation (MSE, probe, interpolation) uses
        it."""
        raise NotImplementedError

    def encode(self, x: Tensor) -> Tensor:
        """:meth:`infer` with no generator given (the global RNG, where inference is random)."""
        return self.infer(x)

    def proposal(self, x: Tensor) -> torch.distributions.Distribution:
        """q(z | x) with a density, batch shape [B], event shape [K]: only where
        ``has_proposal`` (a VAE's encoder; the LAE's hand-set evaluation Gaussian)."""
        raise NotImplementedError(f"model {self.cfg.name!r} has no proposal q(z|x)")

    @property
    def proposal_description(self) -> str:
        """What ``proposal`` is, recorded next to the numbers it gives."""
        return "learned q(z|x)"

    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """Draws from the model's own inference for each x (what it trains its decoder on, or
        its test-time counterpart): [n_samples, B, K]. Posterior fidelity compares them with
        long-run MCMC on the model's posterior (lae/eval/posterior.py)."""
        raise NotImplementedError
