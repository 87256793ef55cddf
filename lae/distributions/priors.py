r"""Priors :math:`p(z)` on the latent space, chosen by config (``model.prior``) from a registry.

Every prior is a :class:`Prior`, a module with a typed contract that models and evaluation rely
on:

- ``log_prob(z)`` [..., K] -> [...]: the log density, normalised where ``normalized`` is True, else
  up to a constant (an energy-based prior, whose log Z must be estimated before a log-likelihood
  can be reported);
- ``sample(n, generator)`` -> [n, K]: exact draws where ``exact_sampling`` is True, else MCMC
  draws; ``sampler_description``, a dict naming how ``sample`` draws (``kernel``: "exact" or the
  MCMC kernel, with its settings), recorded beside the samples it gives;
- ``base``: a tractable distribution (``log_prob`` normalised, exact ``sample``) close to the prior,
  where annealed importance sampling starts; for a normalised prior, the prior itself;
- its training step, ``ml_loss(z_post, generator) -> (losses, metrics)``: named losses for a
  maximum-likelihood step on posterior samples z_post [..., K] ("prior", and "prior_sampler" for
  an amortized prior sampler; none for a fixed prior), with ``loss_parameters()`` mapping those
  names to its parameters, ``chain_reports()``, its own chains after that step (none for most),
  and ``check_record(record)``, its divergence guard on logged records.

Every model trains its prior the same way, in one place (:meth:`lae.models.LatentModel.
training_step`): the prior's ``ml_loss`` on the latents the decoder trained on, its parameters in
its own groups and in no other.

Models build theirs with :func:`build_prior`; samplers and metrics only use this interface.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from lae.argtypes import COUNT_MAX, NumberRangeError, decimal_number
from lae.distributions.base import Independent, Normal, independent, rsample_and_log_prob
from lae.errors import ConfigError, ModelDiverged
from lae.nn import mlp, mlp_trunk
from lae.samplers import ALD, ChainReport, Langevin, StepSizeAdapter, run_chain
from lae.samplers.amortized import AmortizedALD, time_averaged_energy
from lae.samplers.base import EnergyAndGrad, energy_and_grad


def _positive_float(key: str, value: Any) -> float:
    """``model.prior_options.<key>`` as a positive finite float (YAML 1.1 reads 1e4 as a
    string)."""
    try:
        number = decimal_number(value)
    except NumberRangeError as exc:
        raise ConfigError(f"model.prior_options.{key}: {value!r} is {exc}") from None
    if number is None:
        raise ConfigError(f"model.prior_options.{key}: expected a positive number, got "
                          f"{value!r}")
    if not 0 < number < math.inf:
        raise ConfigError(f"model.prior_options.{key} must be a finite number > 0, got "
                          f"{value!r}")
    return number


def _count(key: str, value: Any, high: int = COUNT_MAX) -> int:
    """``model.prior_options.<key>`` as a whole number in 1..``high`` (sizes and steps: zero
    builds nothing to train, and a few more digits would build for hours)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ConfigError(f"model.prior_options.{key} must be a whole number in 1..{high:,}, "
                          f"got {value!r}")
    return value


class Prior(nn.Module):
    """The contract every prior keeps (see the module docstring). Subclasses set ``normalized``
    and ``exact_sampling`` and define ``log_prob``, ``sample``, ``base`` and
    ``sampler_description``; a learned prior also overrides ``ml_loss`` and
    ``loss_parameters`` (and ``check_record`` where it can diverge). The defaults are those of a
    fixed prior: no losses, no parameter groups, no guard."""

    normalized: ClassVar[bool] = True  # log_prob is the exact log density
    exact_sampling: ClassVar[bool] = True  # sample() draws exactly (no Markov chain)

    @property
    def learned(self) -> bool:
        """True when the prior has trainable parameters (its ``ml_loss`` then trains them)."""
        return any(p.requires_grad for p in self.parameters())

    def log_prob(self, z: Tensor) -> Tensor:
        """log p(z) [...] for z [..., dim] (up to log Z where not ``normalized``)."""
        raise NotImplementedError

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws [n, dim]."""
        raise NotImplementedError

    @property
    def base(self) -> Prior:
        """A normalised prior with exact sampling close to this one (where AIS starts)."""
        raise NotImplementedError

    @property
    def sampler_description(self) -> dict[str, Any]:
        """How ``sample`` draws."""
        raise NotImplementedError

    def ml_loss(self, z_post: Tensor, generator: torch.Generator | None = None
                ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """The prior's maximum-likelihood step on posterior samples z_post [..., dim]:
        (losses by name, detached metrics). A fixed prior: none."""
        return {}, {}

    def loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """Loss name (of :meth:`ml_loss`) -> the parameters it updates. A fixed prior: none."""
        return {}

    def chain_reports(self) -> dict[str, ChainReport]:
        """The prior's own Markov chains after the last :meth:`ml_loss`, by log prefix (what
        a model's step reports, :class:`lae.models.base.StepOutput`). Default: none."""
        return {}

    def check_record(self, record: dict[str, float]) -> None:
        """Raise :class:`lae.errors.ModelDiverged` when a logged record shows the prior
        diverging. Default: never."""

    def compile_chains(self, value_and_grad: EnergyAndGrad) -> None:
        """Compute (U, dU/dz) in the prior's own Markov chains with ``value_and_grad``
        (``train.compile`` passes one compiled graph:
        :func:`lae.samplers.base.compiled_energy_and_grad`). Default: a prior without chains
        has nothing to change."""


class NormalPrior(Prior):
    r"""Isotropic normal prior :math:`p(z) = \mathcal{N}(0, s^2 I_d)`,

    .. math:: \log p(z) = -\frac{\lVert z \rVert^2}{2 s^2} - \frac{d}{2} \log (2\pi s^2).

    The zero mean and the scale are (non-persistent) buffers, so the distribution follows the
    module's device and dtype and nothing is added to checkpoints.

    Example:
        >>> import torch
        >>> NormalPrior(3, scale=2.0).log_prob(torch.zeros(2, 3))
        tensor([-4.8363, -4.8363])
    """

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

    @property
    def sampler_description(self) -> dict[str, Any]:
        """How ``sample`` draws: exactly."""
        return {"kernel": "exact", "distribution": f"N(0, {self.scale_value:g}^2 I)"}

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


class ALDPriorSampler(nn.Module):
    r"""An amortized sampler of an energy-based density by unconditional ALD (samplers/ald.py):
    ``n_chains`` fixed inputs :math:`u_j \sim \mathcal N(0, I_{input\_dim})` (drawn once, saved),
    a feature network :math:`k_\psi` (an MLP, ``width`` units, 2 hidden layers), and one
    persistent chain :math:`\Phi` [K, width + 1] whose rows :math:`z_j = \Phi [k_\psi(u_j), 1]`
    are ``n_chains`` samples. Transitions are preconditioned ALD with an MH test, the step size
    adapted toward ``target_acceptance`` with a constant gain (as the LAE's chain). The feature
    network descends the time-averaged energy of the chain's states with :math:`\Phi` held, as
    the LAE's encoder features do (Taniguchi et al.; the earlier version of the LAE paper samples
    its latent EBM prior this way).
    """

    def __init__(self, dim: int, n_chains: int = 100, width: int = 256, input_dim: int = 64,
                 steps: int = 2, step_size: float = 0.01, target_acceptance: float = 0.6,
                 adapt_gain: float = 0.02):
        super().__init__()
        for key, value in (("n_chains", n_chains), ("width", width), ("input_dim", input_dim),
                           ("steps", steps)):
            _count(f"ald.{key}", value)
        if width + 1 < n_chains:
            raise ConfigError(f"model.prior_options.ald: width + 1 >= n_chains is needed (ALD "
                              f"needs as many features as chains); got width {width}, "
                              f"n_chains {n_chains}")
        self.n_chains, self.steps = n_chains, steps
        self.features = mlp_trunk(input_dim, width, 2, layernorm=False)
        self.register_buffer("inputs", torch.randn(n_chains, input_dim))
        self.register_buffer("phi", torch.zeros(dim, width + 1))
        self.register_buffer("log_step_size", torch.tensor(math.log(
            _positive_float("ald.step_size", step_size))))
        self.adapter = StepSizeAdapter(target_acceptance, per_chain=False, gain=adapt_gain,
                                       decay=0.0)
        self.last_acceptance = torch.zeros(())

    @property
    def description(self) -> dict[str, Any]:
        return {"kernel": "unconditional preconditioned ALD with MH", "chains": self.n_chains,
                "steps_per_update": self.steps,
                "step_size": float(f"{float(self.log_step_size.exp()):.4g}")}

    def feature_matrix(self) -> Tensor:
        """G = [k(u), 1]: [n_chains, width + 1] (with a graph to the feature network)."""
        g = self.features(self.inputs)
        return torch.cat([g, torch.ones_like(g[:, :1])], 1)

    def chain(self) -> AmortizedALD:
        """The unconditional ALD chain on Phi: one head, preconditioned, with MH."""
        return AmortizedALD([slice(0, self.phi.shape[0])], self.adapter, mh=True,
                            preconditioned=True)

    def kernel(self) -> ALD:
        """The chain's kernel at its current (adapted) step size."""
        return self.chain().kernel(self.log_step_size.exp())

    @torch.no_grad()
    def advance(self, energy_fn: Any, generator: torch.Generator | None = None
                ) -> tuple[Tensor, list[Tensor]]:
        """``steps`` transitions of the persistent chain, one at a time so the step size adapts
        (the features, and so the preconditioner, are fixed within a call: one ``init``):
        (the new samples [n_chains, K], the chain states visited)."""
        run = self.chain().advance(energy_fn, self.feature_matrix(), self.phi,
                                   self.log_step_size.reshape(1), self.steps, generator)
        self.log_step_size.copy_(run.log_step_size.reshape(()))
        self.last_acceptance = run.acceptance[-1].mean()
        self.phi.copy_(run.phis[-1])
        return run.states[-1].z, run.phis

    def loss(self, phis: list[Tensor], energy_fn: Any) -> Tensor:
        """The feature network's loss: mean energy of the states G(psi) Phi_t^T, Phi_t held."""
        return time_averaged_energy(energy_fn, self.feature_matrix(), phis)

    @torch.no_grad()
    def sample(self, n: int, energy_fn: Any, generator: torch.Generator | None = None
               ) -> Tensor:
        """n samples [n, K]: the chain continued from its current state on a copy, ``steps``
        transitions per round of ``n_chains`` samples (the saved chain is left unchanged)."""
        kernel = self.kernel()
        state = kernel.init(self.phi.clone(), energy_fn, self.feature_matrix())
        out: list[Tensor] = []
        while sum(len(z) for z in out) < n:
            state, _, _ = run_chain(kernel, state, energy_fn, self.steps, keep_trace=False,
                                    generator=generator)
            out.append(state.z)
        return torch.cat(out)[:n]


class LatentEBMPrior(Prior):
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

    ``sampler="ald"`` samples instead by unconditional ALD on a sampler network
    (:class:`ALDPriorSampler`, options ``ald``), amortized as in the LAE paper's earlier version:
    its persistent chain advances ``ald["steps"]`` transitions per training step for the negative
    samples, and its feature network trains on the loss "prior_sampler".

    Example:
        >>> import torch
        >>> prior = LatentEBMPrior(2, hidden=8, sample_steps=5)
        >>> prior.sample(4, generator=torch.Generator().manual_seed(0)).shape
        torch.Size([4, 2])
        >>> prior.normalized, prior.base
        (False, NormalPrior(dim=2))
    """

    normalized: ClassVar[bool] = False
    exact_sampling: ClassVar[bool] = False

    def __init__(self, dim: int, hidden: int = 200, depth: int = 2, base_scale: float = 1.0,
                 sample_steps: int = 60, sample_step_size: float = 0.08,
                 max_energy: float = 1e4, sampler: str = "langevin",
                 ald: dict[str, Any] | None = None):
        super().__init__()
        if sampler not in ("langevin", "ald"):
            raise ConfigError(f"model.prior_options.sampler: expected 'langevin' or 'ald', got "
                              f"{sampler!r}")
        self.max_energy = _positive_float("max_energy", max_energy)
        sample_steps, hidden, depth = (_count(key, value) for key, value in (
            ("sample_steps", sample_steps), ("hidden", hidden), ("depth", depth)))
        self._base = NormalPrior(dim, _positive_float("base_scale", base_scale))
        self.dim = dim
        self.energy_net = mlp(dim, 1, hidden, depth, layernorm=False)  # f_alpha
        self.sample_steps = sample_steps
        self.sample_step_size = _positive_float("sample_step_size", sample_step_size)
        self.sampler = sampler
        self.ald_sampler = None
        if ald is not None and not isinstance(ald, dict):
            raise ConfigError(f"model.prior_options.ald: expected a mapping of the ALD "
                              f"sampler's options, got {ald!r}")
        if ald and sampler != "ald":  # set, and read by no sampler: a mistake to say
            raise ConfigError(f"model.prior_options.ald is read only with sampler: ald (the "
                              f"sampler is {sampler!r})")
        if sampler == "ald":
            try:
                self.ald_sampler = ALDPriorSampler(dim, **(ald or {}))
            except TypeError as exc:
                raise ConfigError(f"model.prior_options.ald: {exc}") from None
        self.chain_value_and_grad = energy_and_grad  # the Langevin sampler's (E, dE/dz)

    def compile_chains(self, value_and_grad: EnergyAndGrad) -> None:
        self.chain_value_and_grad = value_and_grad

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
        if self.ald_sampler is not None:
            return self.ald_sampler.description
        return {"kernel": "langevin", "steps": self.sample_steps,
                "step_size": self.sample_step_size, "start": "base N(0, s0^2 I)"}

    def energy(self, z: Tensor) -> Tensor:
        """E(z) = -log p~(z) [...], what the prior's samplers run on."""
        return -self.log_prob(z)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` draws from the prior chain, [n, dim] (approximate): short-run unadjusted
        Langevin from the base, as the paper samples its prior, or the amortized ALD sampler
        continued from its current state (left unchanged)."""
        if self.ald_sampler is not None:
            return self.ald_sampler.sample(n, self.energy, generator)
        z0 = self._base.sample(n, generator)
        kernel = Langevin(self.sample_step_size, value_and_grad=self.chain_value_and_grad)
        energy_fn = lambda z: -self.log_prob(z)  # noqa: E731
        state, _, _ = run_chain(kernel, kernel.init(z0, energy_fn), energy_fn, self.sample_steps,
                                keep_trace=False, generator=generator)
        return state.z

    def ml_loss(self, z_post: Tensor, generator: torch.Generator | None = None
                ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """-(mean f(z+) - mean f(z-)) with z- from :meth:`sample`: the maximum-likelihood
        gradient of the EBM, its intractable log Z handled by the negative samples. Metrics:
        ``energy_gap`` = E(z+) - E(z-) with E = -f (Pang et al.'s diagnostic: it should stay
        near 0), ``f_posterior``, ``f_prior``, and ``max_abs_f`` (largest |f| over both sample
        sets), which :meth:`check_record` guards on logging steps (reading it here would make
        every step wait for the device)."""
        losses: dict[str, Tensor] = {}
        if self.ald_sampler is None:
            z_prior = self.sample(z_post.shape[0], generator).detach()
        else:  # the amortized chain advances (and adapts); its features learn on its states
            z_prior, phis = self.ald_sampler.advance(self.energy, generator)
            losses["prior_sampler"] = self.ald_sampler.loss(phis, self.energy)
        f_post, f_prior = self.f(z_post.detach()), self.f(z_prior)
        losses["prior"] = -(f_post.mean() - f_prior.mean())
        metrics = {"energy_gap": (f_prior.mean() - f_post.mean()).detach(),
                   "f_posterior": f_post.mean().detach(), "f_prior": f_prior.mean().detach(),
                   "max_abs_f": torch.cat([f_post, f_prior]).detach().abs().max()}
        return losses, metrics

    def chain_reports(self) -> dict[str, ChainReport]:
        """The amortized prior sampler's chain after the last :meth:`ml_loss`, where there is
        one (logged as ``prior_sampler/acceptance`` and ``prior_sampler/step_size``)."""
        if self.ald_sampler is None:
            return {}
        sampler = self.ald_sampler
        return {"prior_sampler/": ChainReport(sampler.log_step_size.exp(),
                                              sampler.last_acceptance, sampler.adapter.rule)}

    def check_record(self, record: dict[str, float]) -> None:
        """The divergence guard, on a logged record (``max_abs_f`` is the largest |f| since the
        last logging step): raises :class:`lae.errors.ModelDiverged` when f was not finite or
        |f| exceeded ``max_energy``."""
        worst = record.get("max_abs_f")
        if worst is None or (math.isfinite(worst) and worst <= self.max_energy):
            return
        raise ModelDiverged(
            f"latent EBM energies exploded: max |f(z)| = {worst:.3g} over posterior and prior "
            f"samples (limit model.prior_options.max_energy={self.max_energy:g}). Likely "
            f"causes: the prior's learning rate (model.prior_lr_scale times train.lr) or a "
            f"prior chain too short or too coarse to reach the prior (model.prior_options "
            f"sample_steps={self.sample_steps}, sample_step_size={self.sample_step_size:g})")

    def loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """"prior": f_alpha; "prior_sampler": the amortized sampler's feature network."""
        groups = {"prior": [p for p in self.energy_net.parameters() if p.requires_grad]}
        if self.ald_sampler is not None:
            groups["prior_sampler"] = [p for p in self.ald_sampler.parameters()
                                       if p.requires_grad]
        return groups

    def extra_repr(self) -> str:
        return (f"dim={self.dim}, sampler=langevin x {self.sample_steps} at "
                f"{self.sample_step_size:g}")


class FlowPrior(Prior):
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

    def __init__(self, dim: int, transforms: int = 4, hidden: int = 64):
        super().__init__()
        from zuko.flows import MAF  # the maintained flow library

        self.dim = dim
        self.flow = MAF(features=dim, context=0, transforms=_count("transforms", transforms, 100),
                        hidden_features=(_count("hidden", hidden),) * 2)

    @staticmethod
    def parameter_count(dim: int, transforms: int = 4, hidden: int = 64) -> int:
        """The flow's parameters, counted without building it (zuko's masks cannot be built on
        torch's meta device, where the trainer counts a model's size): per transform an MLP
        dim -> hidden -> hidden -> 2 dim (a shift and a log-scale per coordinate)."""
        per_layer = (dim + 1) * hidden + (hidden + 1) * hidden + (hidden + 1) * 2 * dim
        return transforms * per_layer

    def log_prob(self, z: Tensor) -> Tensor:
        """The exact log p(z) [...] for z [..., dim]."""
        return self.flow().log_prob(z)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """``n`` exact draws, [n, dim] (reparameterised: differentiable in the flow)."""
        return rsample_and_log_prob(self.flow(), (n,), generator)[0]

    def ml_loss(self, z_post: Tensor, generator: torch.Generator | None = None
                ) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        """-mean log p(z+): maximum likelihood on the posterior samples (no negative phase)."""
        log_p = self.log_prob(z_post.detach())
        return {"prior": -log_p.mean()}, {"prior_log_prob_nats": log_p.mean().detach()}

    def loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """"prior": the flow's parameters."""
        return {"prior": [p for p in self.parameters() if p.requires_grad]}

    @property
    def base(self) -> FlowPrior:
        """Where AIS starts: the prior itself (normalised, exact sampler)."""
        return self

    @property
    def sampler_description(self) -> dict[str, Any]:
        """How ``sample`` draws: exactly, through the flow."""
        return {"kernel": "exact", "distribution": "zuko MAF on N(0, I)"}


PRIORS: dict[str, Callable[..., Prior]] = {
    "normal": NormalPrior,
    "latent-ebm": LatentEBMPrior,
    "flow": FlowPrior,
}


def build_prior(name: str, dim: int, **options: Any) -> Prior:
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
        import inspect

        valid = sorted(p for p in inspect.signature(PRIORS[name]).parameters if p != "dim")
        unknown = sorted(set(options) - set(valid))
        what = f"has no option(s) {unknown}" if unknown else f"cannot take these options ({exc})"
        raise ConfigError(f"model.prior_options: prior {name!r} {what}; valid options are "
                          f"{valid}") from None
