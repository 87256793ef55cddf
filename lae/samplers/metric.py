r"""A position-dependent Gauss–Newton metric for Langevin chains on a latent-variable posterior.

For U(z) = -log p(x | f(z)) - log p(z), with a decoder f: z [d] -> o [P] and a likelihood that
factorises over the decoder's outputs, the Gauss–Newton approximation of the Hessian of U is

.. math::

    G(z) = J(z)^\top \operatorname{diag}(h(o))\, J(z) + \Lambda_0,
    \qquad J = \partial f / \partial z, \quad h_p = \partial^2 (-\log p(x \mid o)) / \partial o_p^2,

with Λ_0 the prior's precision (I for N(0, I)). It is positive definite whenever every h_p >= 0
(a log-concave likelihood in its outputs: Bernoulli logits, a Gaussian or (discretised) logistic
location; negative values are clipped to 0) and exact for a linear-Gaussian model. A Langevin
chain preconditioned by G^{-1} moves each direction of the posterior in proportion to its
width, so one step size serves directions whose curvatures differ by orders of magnitude; the
plain chain's step is held below 2 / lambda_max of the stiffest one (docs/models.md, "Why the
learned step falls").

With step sizes eta (one, or one per coordinate: D = diag(eta)) the preconditioned step is

.. math::

    z' = z - P^{-1} \nabla U(z) + \sqrt 2\, L^{-\top} \xi, \qquad
    P = D^{-1/2} G(z) D^{-1/2} = L L^\top, \quad \xi \sim \mathcal N(0, I),

a Gaussian proposal N(z - P^{-1} grad U, 2 P^{-1}); with G = I it is the plain Langevin step.
The metric is evaluated at the current point and held out of the gradient (it is a
preconditioner, not part of the model). Without the drift-correction term of Riemannian
Langevin (Girolami and Calderhead, JRSS-B 2011) the chain's limit is not exactly the posterior;
short-run inference does not rely on one, and the Langevin bound stays a bound for any kernels.

Cost: one forward-mode pass of the decoder on d copies of the batch (J) and a second derivative
of the likelihood in its outputs per metric, plus a d x d Cholesky per chain.

Example (for a linear-Gaussian model G is the exact posterior precision W^T W / sigma^2 + I)::

    >>> import torch
    >>> W = torch.tensor([[2.0, 0.0], [0.0, 0.5], [1.0, 1.0]])
    >>> x = torch.zeros(1, 3)
    >>> G = gauss_newton_precision(lambda z: z @ W.T,
    ...                            lambda o: 0.5 * ((x - o) ** 2).sum(-1) / 0.25, torch.zeros(1, 2))
    >>> torch.allclose(G[0], W.T @ W / 0.25 + torch.eye(2))
    True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from lae.samplers.base import randn_like

PrecisionFn = Callable[[Tensor], Tensor]


def gauss_newton_precision(outputs_fn: Callable[[Tensor], Tensor],
                           nll_fn: Callable[[Tensor], Tensor], z: Tensor,
                           prior_precision: float = 1.0) -> Tensor:
    """The Gauss–Newton precision G(z) [B, d, d] of U at z [B, d], without a graph.

    Args:
        outputs_fn: the decoder, ``z [B, d] -> o [B, ...]`` (what the likelihood reads); must
            support forward-mode autodiff (``torch.func.jvp``).
        nll_fn: ``o [B, ...] -> [B]``, minus the log likelihood of the observed x given the
            outputs. It must be a sum of one term per output element (a factorised likelihood),
            so that one Hessian-vector product with a vector of ones gives its diagonal.
        z: [B, d] points.
        prior_precision: Λ_0 = prior_precision * I.
    """
    if z.ndim != 2:
        raise ValueError(f"the Gauss-Newton metric needs flat latents [B, d]; got z of shape "
                         f"{tuple(z.shape)}")
    batch, dim = z.shape
    z = z.detach()
    # J by one forward-mode pass on d copies of the batch, copy j carrying the tangent e_j
    tangents = torch.eye(dim, dtype=z.dtype, device=z.device).repeat_interleave(batch, 0)
    with torch.no_grad():
        outputs, jvps = torch.func.jvp(outputs_fn, (z.repeat(dim, 1),), (tangents,))
    outputs = outputs[:batch].detach()
    jac = jvps.reshape(dim, batch, -1).permute(1, 2, 0)  # [B, P, d]
    with torch.enable_grad():
        o = outputs.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(nll_fn(o).sum(), o, create_graph=True)
        (curv,) = torch.autograd.grad(grad.sum(), o)
    curv = curv.reshape(batch, -1).clamp(min=0)
    precision = torch.einsum("bpi,bp,bpj->bij", jac, curv, jac)
    return precision + prior_precision * torch.eye(dim, dtype=z.dtype, device=z.device)


def step_precision(metric: Tensor, eta: Tensor) -> Tensor:
    """P = D^{-1/2} G D^{-1/2} [B, d, d] for G [B, d, d] and step sizes eta [] or [d]: the
    inverse covariance (up to the factor 2) of a preconditioned Langevin step."""
    scale = torch.rsqrt(eta).expand(metric.shape[-1])
    return metric * scale[:, None] * scale[None, :]


def preconditioned_langevin_step(z: Tensor, grad: Tensor, precision: Tensor,
                                 generator: torch.Generator | None = None
                                 ) -> tuple[Tensor, Tensor, Tensor]:
    """One step z' = z - P^{-1} grad + sqrt(2) L^{-T} xi for z, grad [B, d], P [B, d, d].

    Returns ``(z' [B, d], xi [B, d], L [B, d, d])``, L the Cholesky factor of P (what the
    proposal's log density needs: its log-determinant is 2 sum log diag L).
    """
    chol = torch.linalg.cholesky(precision)
    noise = randn_like(z, generator)
    drift = torch.cholesky_solve(grad.unsqueeze(-1), chol).squeeze(-1)
    spread = torch.linalg.solve_triangular(chol.transpose(-1, -2), noise.unsqueeze(-1),
                                           upper=True).squeeze(-1)
    return z - drift + 2 ** 0.5 * spread, noise, chol


def log_det_from_cholesky(chol: Tensor) -> Tensor:
    """log det P [B] from its Cholesky factor L [B, d, d]."""
    return 2 * torch.log(torch.diagonal(chol, dim1=-2, dim2=-1)).sum(-1)
