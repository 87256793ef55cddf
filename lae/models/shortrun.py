r"""Short-run inference (Nijkamp et al., ECCV 2020; Pang et al., EACL 2021): no encoder.

Per example and per step, z_0 ~ p(z), then K unadjusted Langevin steps on U(x, z) = -log p(x, z)
(docs/methods.md §11):

    z_t = z_{t-1} - eta_t grad U(z_{t-1}) + sqrt(2 eta_t) xi_t,

started afresh every time (non-persistent). Two losses, each with its own optimiser:

- ``decoder``: -log p(x, z_K) with z_K held fixed, for theta;
- ``steps``: minus the Langevin lower bound on log p(x) (lae/samplers/langevin_bound.py), for the
  step sizes eta (one, or one per step with ``per_step``; held at ``step_size`` without
  ``learn_step``) and the bound's reverse kernels (``learn_reverse``); absent when neither is
  learned. The bound is a true stochastic lower bound; it is logged every step
  (``langevin_bound_nats``) and is the ``langevin-bound`` evaluation metric.

At test time (``encode``, ``posterior_samples``) the chain runs ``test_steps`` steps without a
graph: the learned steps, then the last learned step repeated.

Example::

    >>> import torch
    >>> from lae.models import DataSpec
    >>> from lae.nn import NetConfig
    >>> model = ShortRun(ShortRun.Config(latent_dim=2, n_steps=3, net=NetConfig(hidden=16,
    ...                                  depth=1)), DataSpec.points(2))
    >>> out = model.training_step(torch.randn(8, 2))
    >>> sorted(out.losses), model.step_sizes().shape
    (['decoder', 'steps'], torch.Size([3]))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from lae.models import register_model
from lae.models.base import DataSpec, LatentModel, ModelConfig, StepOutput
from lae.samplers import ChainReport, Langevin
from lae.samplers.base import tile_batch
from lae.samplers.langevin_bound import langevin_bound
from lae.samplers.metric import PrecisionFn, preconditioned_langevin_step, step_precision

METRICS = ("identity", "gauss-newton")


@register_model("shortrun")
class ShortRun(LatentModel):
    """Short-run Langevin from the prior, step sizes learned by the Langevin bound."""

    has_langevin_bound = True
    needs_exact_prior = ("its chains start at exact draws from p(z) and its Langevin bound needs "
                         "their normalised log density, which an energy-based prior has only up "
                         "to log Z and samples only by MCMC; choose model.prior: normal or flow")

    @dataclass
    class Config(ModelConfig):
        n_steps: int = 20  # K, Langevin steps per inference in training
        test_steps: int = 0  # steps at test time (encode, posterior samples); 0: n_steps
        step_size: float = 1e-3  # initial eta (the papers' s = 0.1 is eta = s^2/2 = 0.005)
        # one eta per latent layer, and per step with per_step (else shared by all steps)
        per_step: bool = False
        # learn eta by the bound; false holds it at step_size. A learned eta follows the
        # stability limit 2 / lambda_max of the posterior's stiffest direction down as the
        # decoder sharpens, and the chain then stops moving along the flat ones (the codes lose
        # what they carry about x); a fixed eta caps that stiffness (docs/models.md)
        learn_step: bool = True
        learn_reverse: bool = True  # learn the bound's reverse kernels (a tighter bound)
        # log step sizes move this many times faster than the other parameters: Adam moves each
        # parameter by about train.lr per step, and log eta has to travel a few units
        step_lr_multiplier: float = 100.0
        # the chain's metric: "identity" (plain Langevin) or "gauss-newton", the steps
        # preconditioned by the Gauss-Newton precision of U at the chain's start (the bound's
        # reverse kernels: at its end; lae/samplers/metric.py), so that one step size serves
        # the posterior's stiff and flat directions alike; each metric costs a forward-mode
        # decoder pass on latent_dim copies of the batch
        metric: str = "identity"
        # the bound's first reverse kernel is the start distribution, B_1(z_0 | z_1) = p(z_0),
        # not a Langevin kernel: a first step that contracts the prior onto the posterior then
        # pays nothing for the expansion a Langevin B_1 would need, which otherwise holds the
        # learned step small (on a linear-Gaussian model: docs/models.md)
        first_reverse_start: bool = False

        def __post_init__(self) -> None:
            super().__post_init__()
            if self.n_steps < 1 or self.test_steps < 0:
                raise ValueError(f"n_steps must be >= 1 and test_steps >= 0, got "
                                 f"{self.n_steps} and {self.test_steps}")
            if self.metric not in METRICS:
                raise ValueError(f"metric must be one of {', '.join(METRICS)}, got "
                                 f"{self.metric!r}")
            if not self.step_size > 0 or not self.step_lr_multiplier > 0:
                raise ValueError(f"step_size and step_lr_multiplier must be > 0, got "
                                 f"{self.step_size} and {self.step_lr_multiplier}")

    def __init__(self, cfg: ShortRun.Config, spec: DataSpec) -> None:
        super().__init__(cfg, spec)
        k = cfg.n_steps
        # one value per layer: a trailing [L] axis with several layers (none with one, the
        # shapes of single-layer checkpoints)
        layers = (len(self.latent_layers),) if len(self.latent_layers) > 1 else ()
        # log eta = log(step_size) + step_lr_multiplier * raw, raw starting at 0 (a buffer when
        # the step is held: same checkpoint key either way)
        raw_step = torch.zeros((k if cfg.per_step else 1, *layers))
        if cfg.learn_step:
            self.log_step = nn.Parameter(raw_step)
        else:
            self.register_buffer("log_step", raw_step)
        # reverse kernels (drift, variance) per step: auxiliary parameters of the bound only
        self.log_reverse = (nn.Parameter(torch.zeros((2, k, *layers))) if cfg.learn_reverse
                            else None)

    def _layer_eta(self, raw: Tensor) -> Tensor:
        """Step sizes from raw parameters, elementwise: log eta = log(step_size) +
        step_lr_multiplier * raw."""
        return torch.exp(math.log(self.cfg.step_size) + self.cfg.step_lr_multiplier * raw)

    def _eta(self, raw: Tensor) -> Tensor:
        """Step sizes from raw parameters [..., K(, L)]: [..., K] with one latent layer,
        [..., K, latent_dim] with several (each layer's value over its coordinates)."""
        eta = self._layer_eta(raw)
        if len(self.latent_layers) == 1:
            return eta
        sizes = torch.tensor(self.latent_layers, device=eta.device)
        return eta.repeat_interleave(sizes, dim=-1)

    def step_sizes(self) -> Tensor:
        """The forward step sizes eta_1..eta_K: [n_steps], or [n_steps, latent_dim] with several
        latent layers (one value per layer, over its coordinates)."""
        eta = self._eta(self.log_step)
        return eta.expand(self.cfg.n_steps, *eta.shape[1:])

    def layer_step_sizes(self) -> Tensor:
        """eta per step and latent layer, [n_steps, L] (what the logs and plots show)."""
        eta = self._layer_eta(self.log_step.detach())
        eta = eta.reshape(eta.shape[0], -1)
        return eta.expand(self.cfg.n_steps, eta.shape[1])

    def energy(self, x: Tensor):
        return lambda z: -self.log_joint(x, z)

    def bound(self, x: Tensor, generator: torch.Generator | None = None
              ) -> tuple[Tensor, Tensor]:
        """One draw of the Langevin lower bound on log p(x) per example [B] (nats, with its
        graph) and the chains' final states z_K [B, K]."""
        z0 = self.prior.sample(x.shape[0], generator=generator).to(x.device)
        reverse = None if self.log_reverse is None else tuple(self._eta(self.log_reverse))
        return langevin_bound(self.energy(x), self.prior.log_prob, z0, self.step_sizes(),
                              reverse, generator=generator,
                              value_and_grad=self.chain_value_and_grad,
                              precision_fn=self._precision_fn(x),
                              first_reverse_start=self.cfg.first_reverse_start)

    def _precision_fn(self, x: Tensor) -> PrecisionFn | None:
        """The chain's metric on U(x, .): None (plain Langevin) or the Gauss-Newton one."""
        return self.gauss_newton_metric(x) if self.cfg.metric == "gauss-newton" else None

    @torch.no_grad()
    def run(self, x: Tensor, n_steps: int | None = None,
            generator: torch.Generator | None = None) -> Tensor:
        """The inference chain without a graph, from z_0 ~ p(z): z_K [B, K]. Beyond the
        trained steps the last learned step size is repeated."""
        n_steps = n_steps or self.cfg.test_steps or self.cfg.n_steps
        etas = self.step_sizes().detach()
        energy_fn = self.energy(x)
        z0 = self.prior.sample(x.shape[0], generator=generator).to(x.device)
        precision_fn = self._precision_fn(x)
        if precision_fn is not None:  # the training chain's metric: G(z_0) throughout
            metric, z = precision_fn(z0), z0
            for t in range(n_steps):
                _, grad = self.chain_value_and_grad(energy_fn, z)
                eta = etas[min(t, etas.shape[0] - 1)]
                z, _, _ = preconditioned_langevin_step(z, grad, step_precision(metric, eta),
                                                       generator)
            return z
        # one eta, or (several layers) one per coordinate: as the kernels' per-coordinate form
        etas = etas if etas.ndim == 1 else etas[:, None].expand(-1, *z0.shape)
        kernel = Langevin(etas[0], value_and_grad=self.chain_value_and_grad)
        state = kernel.init(z0, energy_fn)
        for t in range(n_steps):
            step = kernel.with_step_size(etas[min(t, etas.shape[0] - 1)])
            state, _ = step.step(state, energy_fn, generator)
        return state.z

    def infer(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """One short-run chain's final state per x: [B, K]."""
        return self.run(x, generator=generator)

    def posterior_samples(self, x: Tensor, n_samples: int,
                          generator: torch.Generator | None = None) -> Tensor:
        """n_samples independent short-run chains per x: [n_samples, B, K]."""
        z = self.run(tile_batch(x, n_samples), generator=generator)
        return z.reshape(n_samples, x.shape[0], -1)

    def model_step(self, x: Tensor, index: Tensor | None = None,
                   generator: torch.Generator | None = None) -> StepOutput:
        bound, z_k = self.bound(x, generator)
        decoder_loss = -self.log_joint(x, z_k.detach()).mean()
        # the bound trains the step sizes and reverse kernels; with neither learned it is only
        # logged
        steps = {"steps": -bound.mean()} if self._step_parameters() else {}
        return StepOutput(
            losses={"decoder": decoder_loss, **steps},
            metrics={"langevin_bound_nats": bound.mean().detach(),
                     "log_joint_chain_nats": -decoder_loss.detach()},
            latents=z_k, chains=self.chain_reports())

    def chain_reports(self) -> dict[str, ChainReport]:
        """The step sizes, as chains without an accept/reject test: ``""`` (their mean), and
        each one under ``t<step>/layer<l>/`` (``t<step>/`` with ``per_step``, ``layer<l>/`` with
        several layers), logged as ``<prefix>step_size``; ``plots/step_sizes.png`` draws the
        per-step ones against the chain step."""
        eta = self.layer_step_sizes().detach()  # [K, L]
        rule = "learned" if self.cfg.learn_step else "fixed"
        steps = range(eta.shape[0]) if self.cfg.per_step else range(1)
        layers = range(eta.shape[1])
        out = {"": ChainReport(eta.mean(), rule=rule)}
        if len(steps) == 1 and len(layers) == 1:
            return out
        for t in steps:
            for layer in layers:
                prefix = (f"t{t + 1:02d}/" if self.cfg.per_step else "") + (
                    f"layer{layer + 1}/" if len(layers) > 1 else "")
                out[prefix] = ChainReport(eta[t, layer], rule=rule)
        return out

    def stall_hint(self) -> str:
        return ("the step sizes are learned by the Langevin bound, which lowers them to the "
                "stability limit of the posterior's stiffest direction while the decoder "
                "sharpens it, so the chain stops moving along the other directions and the "
                "codes lose what they carry about x (docs/models.md, \"Why the learned step "
                "falls\"); a fixed step (model.learn_step=false, as the presets) avoids it, "
                "more steps (model.n_steps) only delay it, and train.on_stall=warn lets the "
                "run finish")

    def _step_parameters(self) -> list[nn.Parameter]:
        """What the bound trains: the log step sizes (``learn_step``) and the reverse kernels
        (``learn_reverse``)."""
        return [p for p in (self.log_step, self.log_reverse) if isinstance(p, nn.Parameter)]

    def model_loss_parameters(self) -> dict[str, list[nn.Parameter]]:
        """"decoder": the decoder and likelihood; "steps" (when any is learned): the step sizes
        and the reverse kernels."""
        steps = self._step_parameters()
        ids = {id(p) for p in steps}
        decoder = [p for p in self.parameters() if p.requires_grad and id(p) not in ids]
        return {"decoder": decoder, **({"steps": steps} if steps else {})}
