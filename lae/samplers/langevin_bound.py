r"""The Langevin lower bound: an ELBO of a short-run Langevin chain, differentiable in its steps.

A chain z_0 ~ q_0, then K unadjusted Langevin steps on U(z) = -log p(x, z),

.. math::

    z_t = z_{t-1} - \eta_t \odot \nabla U(z_{t-1}) + \sqrt{2\eta_t} \odot \xi_t,
    \qquad \xi_t \sim \mathcal N(0, I),

has no tractable marginal q(z_K), but its whole path has one. Take as auxiliary reverse kernels
Langevin kernels built at the later point, B_t(z_{t-1} | z_t) =
N(z_t - a_t \nabla U(z_t), 2 v_t) (with a = v = eta: MALA's reverse proposal). For any such B
the extended-space ELBO is a lower bound on log p(x) (Salimans et al., ICML 2015; Geffner and
Domke, NeurIPS 2021; Zhang et al., NeurIPS 2021):

.. math::

    \log p(x) \ge \mathbb E\Big[\log p(x, z_K) - \log q_0(z_0)
        + \sum_{t=1}^K \log B_t(z_{t-1} \mid z_t) - \log F_t(z_t \mid z_{t-1})\Big].

With a = v = η the normalisers of F_t and B_t cancel and each term is
‖ξ_t‖²/2 − ‖z_{t-1} − z_t + η_t ∇U(z_t)‖² / (4η_t). But a slow chain is nearly reversible for
the posterior, so those terms then telescope to log p(x, z_0) − log p(x, z_K), and the bound falls
back to the ELBO of q_0 whatever K is. Learning a and v as well (auxiliary parameters: any
positive values give a valid bound) removes that limit; on ``lae toy shortrun`` it closes most
of the remaining gap (docs/toys.md). The chain is reparameterised, so the
bound is differentiable in the step sizes (and in the model's parameters): maximising it over
η minimises KL(q(z_{0:K}) ‖ p(z_K | x) B(z_{0:K-1} | z_K)), the variational step-size criterion
of short-run inference. Every single draw is an unbiased estimate of a number ≤ log p(x); the
mean over draws is the bound. (A "bound" from the Jacobian log-determinant of a fixed-noise chain
ignores the noise and bounds nothing.)

Step sizes are a tensor [K, ...] broadcast against z's event shape: one number per step, or per
step and coordinate (e.g. one per latent layer, expanded over that layer's coordinates).

Example (the bound sits below the exact log p(x) of a 1-D Gaussian model)::

    >>> import torch
    >>> from torch.distributions import Normal
    >>> prior = Normal(0.0, 1.0)
    >>> energy_fn = lambda z: 0.5 * z.pow(2).sum(-1) + 0.5 * (z - 1.0).pow(2).sum(-1) / 0.25
    >>> log_q0 = lambda z: prior.log_prob(z).sum(-1)
    >>> g = torch.Generator().manual_seed(0)
    >>> z0 = torch.randn(4000, 1, generator=g)
    >>> bound, zk = langevin_bound(energy_fn, log_q0, z0, torch.full((10,), 0.05), generator=g)
    >>> bound.shape, zk.shape
    (torch.Size([4000]), torch.Size([4000, 1]))
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from lae.samplers.base import EnergyAndGrad, EnergyFn, energy_and_grad, randn_like, sum_event
from lae.samplers.metric import (
    PrecisionFn,
    log_det_from_cholesky,
    preconditioned_langevin_step,
    step_precision,
)


def langevin_bound(energy_fn: EnergyFn, log_q0: Callable[[Tensor], Tensor], z0: Tensor,
                   step_sizes: Tensor, reverse: tuple[Tensor, Tensor] | None = None,
                   generator: torch.Generator | None = None,
                   value_and_grad: EnergyAndGrad = energy_and_grad,
                   precision_fn: PrecisionFn | None = None,
                   first_reverse_start: bool = False) -> tuple[Tensor, Tensor]:
    """Per-chain draws of the Langevin lower bound on log p(x), and the chains' last states.

    Args:
        energy_fn: ``z [B, ...] -> U [B]``, the NORMALISED joint -log p(x, z) in nats (the bound
            is on log p(x) only if U is normalised in z and x).
        log_q0: log density of the start distribution, ``z [B, ...] -> [B]``.
        z0: starting points drawn from q_0, [B, ...] (a reparameterised draw, if q_0 is learned).
        step_sizes: eta of the forward chain, [K] or [K, *event_shape] (positive;
            differentiable).
        reverse: ``(drift, variance)`` step sizes of the reverse kernels,
            B_t(z_{t-1} | z_t) = N(z_t - drift_t * grad U(z_t), 2 variance_t), each shaped like
            ``step_sizes``; None ties both to the forward eta. Free reverse kernels are
            auxiliary variational parameters: any positive values give a valid bound, and
            learning them tightens it (with tied kernels a slow chain telescopes back to the
            ELBO of q_0: see the module docstring).
        generator: the noise source.
        value_and_grad: computes ``(U, dU/dz)`` with :func:`energy_and_grad`'s signature
            (:func:`lae.samplers.base.compiled_energy_and_grad` for one compiled graph).
        precision_fn: ``z [B, d] -> G [B, d, d]``, a metric (e.g. the Gauss-Newton precision,
            lae/samplers/metric.py); the steps are then preconditioned,
            F_t = N(z_{t-1} - P^{-1} grad U, 2 P^{-1}) with P = D^{-1/2} G(z_0) D^{-1/2},
            D = diag(eta_t), and the reverse kernels use G(z_K) with their own D's. None: the
            plain chain (G = I). Needs flat latents [B, d].
        first_reverse_start: the first reverse kernel is the start distribution,
            B_1(z_0 | z_1) = q_0(z_0), so the chain's first step is not asked to be reversible:
            log q_0(z_0) cancels and the bound keeps -log F_1(z_1 | z_0), the entropy of the
            first step's Gaussian. A chain that contracts a wide q_0 onto a narrow posterior in
            its first step pays, with a Langevin B_1, for the expansion B_1 would need.

    Returns:
        ``(bound [B], z_K [B, ...])``: each entry of ``bound`` is an unbiased draw of the bound
        (its mean over chains is <= log p(x) in expectation), differentiable in the step sizes,
        in ``z0`` and in the energy's parameters; z_K keeps its graph.
    """
    event_ndim = z0.ndim - 1
    if step_sizes.ndim < 1 or step_sizes.ndim > 1 + event_ndim:
        raise ValueError(f"step_sizes must be [K] or [K, *event_shape]; got "
                         f"{tuple(step_sizes.shape)} for z of shape {tuple(z0.shape)}")

    def per_step(t: Tensor) -> Tensor:  # [K] or [K, *event] -> broadcastable against one chain
        return t.reshape(t.shape + (1,) * (1 + event_ndim - t.ndim))

    etas = per_step(step_sizes)
    drifts, variances = (etas, etas) if reverse is None else map(per_step, reverse)
    if precision_fn is not None:
        return _preconditioned_bound(energy_fn, log_q0, z0, list(zip(etas, drifts, variances)),
                                     precision_fn, generator, value_and_grad,
                                     first_reverse_start)
    z = z0
    log_w = -log_q0(z0)
    energy, grad = value_and_grad(energy_fn, z, True)
    for t, (eta, drift, var) in enumerate(zip(etas, drifts, variances)):
        noise = randn_like(z, generator)
        z_next = z - eta * grad + torch.sqrt(2 * eta) * noise
        energy_next, grad_next = value_and_grad(energy_fn, z_next, True)
        if t == 0 and first_reverse_start:  # B_1 = q_0 cancels -log q_0(z_0): -log F_1 is left
            log_w = (0.5 * sum_event(noise.pow(2), 1)
                     + 0.5 * sum_event(torch.log(4 * math.pi * eta).expand_as(z), 1))
        else:
            backward = z - z_next + drift * grad_next
            # log B - log F; the Gaussians' normalisers differ only where var != eta
            log_w = (log_w + 0.5 * sum_event(noise.pow(2), 1)
                     - sum_event(backward.pow(2) / (4 * var), 1)
                     - 0.5 * sum_event(torch.log(var / eta).expand_as(z), 1))
        z, energy, grad = z_next, energy_next, grad_next
    return log_w - energy, z


def _preconditioned_bound(energy_fn: EnergyFn, log_q0: Callable[[Tensor], Tensor], z0: Tensor,
                          steps: list[tuple[Tensor, Tensor, Tensor]], precision_fn: PrecisionFn,
                          generator: torch.Generator | None,
                          value_and_grad: EnergyAndGrad, first_reverse_start: bool
                          ) -> tuple[Tensor, Tensor]:
    """:func:`langevin_bound` with a metric (its ``precision_fn``): the forward kernels use
    G(z_0), the reverse kernels G(z_K), and the log B - log F terms have the Gaussians'
    quadratic forms and log-determinants in the step precisions P (the plain bound's terms when
    G = I). Two metrics per chain, not K + 1, and still a bound: a forward kernel may depend on
    every earlier state and a reverse kernel on every later one."""
    # with first_reverse_start, B_1 = q_0 cancels -log q_0(z_0) and leaves F_1's normaliser
    log_w = (0.5 * z0.shape[-1] * math.log(4 * math.pi) * torch.ones_like(z0[:, 0])
             if first_reverse_start else -log_q0(z0))
    energy, grad = value_and_grad(energy_fn, z0, True)
    metric = precision_fn(z0)
    path = [(z0, grad)]
    for eta, _, _ in steps:
        z_next, noise, chol_forward = preconditioned_langevin_step(
            *path[-1], step_precision(metric, eta), generator)
        energy, grad = value_and_grad(energy_fn, z_next, True)
        path.append((z_next, grad))
        log_w = log_w + 0.5 * noise.pow(2).sum(-1) - 0.5 * log_det_from_cholesky(chol_forward)
    metric = precision_fn(path[-1][0])
    first = 1 if first_reverse_start else 0
    for (z, _), (z_next, grad_next), (_, drift, var) in zip(path[first:], path[first + 1:],
                                                             steps[first:]):
        chol_drift = torch.linalg.cholesky(step_precision(metric, drift))
        chol_var = torch.linalg.cholesky(step_precision(metric, var))
        backward = z - z_next + torch.cholesky_solve(grad_next.unsqueeze(-1),
                                                     chol_drift).squeeze(-1)
        # r^T P_v r = |L_v^T r|^2
        quad = (chol_var.transpose(-1, -2) @ backward.unsqueeze(-1)).squeeze(-1).pow(2).sum(-1)
        log_w = log_w - quad / 4 + 0.5 * log_det_from_cholesky(chol_var)
    return log_w - energy, path[-1][0]
