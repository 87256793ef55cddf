r"""``lae toy shortrun``: learn the step sizes of short-run Langevin inference on a linear-Gaussian
model by maximising the Langevin lower bound (lae/samplers/langevin_bound.py), and check the
bound against the exact log p(x).

The problem is the one of ``lae toy likelihood`` (:func:`lae.toy.likelihood.make_problem`, float64):
W ~ N(0, 1)/sqrt(K) [D, K], b ~ N(0, 0.25) [D], x drawn from the model. Inference: z_0 ~ N(0, I),
S unadjusted Langevin steps on U(x, z) = -log p(x, z) (non-persistent, no encoder). The step
sizes (one shared by all steps, or one per step with ``per_step``) start at ``init_step`` and are
learned by Adam on the mean bound over all points, ``chains`` chains each, together with the
reverse kernels' drift and variance step sizes (auxiliary parameters of the bound, one per step;
``tied_reverse`` ties them to the forward steps instead, the looser bound).

The .npz holds ``x`` [N, D], ``W`` [D, K], ``b`` [D], ``sigma`` (scalar): the exact
log p(x) = log N(x; b, W Wᵀ + σ² I) follows from them. Then ``step_sizes`` [S] (learned),
``step_sizes_initial`` [S], ``reverse_drift`` and ``reverse_variance`` [S] (unless tied), and
per point, in nats, averaged over ``eval_chains`` independent
chains: ``langevin_bound`` (learned steps), ``langevin_bound_initial`` (starting steps) and
``log_px_exact``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from lae.distributions import LinearGaussian
from lae.samplers.langevin_bound import langevin_bound
from lae.toy.likelihood import make_problem
from lae.toy.output import print_written, save_npz_and_report


def _bound_per_point(model: LinearGaussian, x: Tensor, step_sizes: Tensor,
                     reverse: tuple[Tensor, Tensor] | None, chains: int,
                     generator: torch.Generator) -> Tensor:
    """The bound averaged over ``chains`` chains per point: [N] (graph kept)."""
    xs = x.repeat_interleave(chains, 0)
    k = model.weight.shape[1]
    z0 = torch.randn(xs.shape[0], k, dtype=x.dtype, generator=generator)
    log_q0 = lambda z: -0.5 * (z.pow(2).sum(-1) + k * math.log(2 * math.pi))  # noqa: E731
    draws, _ = langevin_bound(lambda z: -model.log_joint(xs, z), log_q0, z0, step_sizes,
                              reverse, generator=generator)
    return draws.reshape(x.shape[0], chains).mean(1)


def learn_step_sizes(model: LinearGaussian, x: Tensor, steps: int, init_step: float = 1e-3,
                     per_step: bool = False, tied_reverse: bool = False, iters: int = 300,
                     chains: int = 16, lr: float = 0.05,
                     generator: torch.Generator | None = None
                     ) -> tuple[Tensor, tuple[Tensor, Tensor] | None, list[float]]:
    """Maximise the mean Langevin bound over log step sizes. Returns the forward step sizes
    [steps], the reverse kernels' (drift, variance) step sizes [steps] each (None when tied to
    the forward ones) and the trace of the bound."""
    g = generator or torch.Generator().manual_seed(0)
    n = steps if per_step else 1
    start = torch.full((n,), math.log(init_step), dtype=x.dtype)
    log_eta = start.clone().requires_grad_(True)
    # the reverse kernels are always per step: they are auxiliary, not part of the sampler
    log_rev = [torch.full((steps,), math.log(init_step), dtype=x.dtype, requires_grad=True)
               for _ in range(0 if tied_reverse else 2)]
    opt = torch.optim.Adam([log_eta, *log_rev], lr=lr)

    def current() -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
        rev = None if tied_reverse else (log_rev[0].exp(), log_rev[1].exp())
        return log_eta.exp().expand(steps), rev

    trace = []
    for _ in range(iters):
        opt.zero_grad()
        eta, rev = current()
        bound = _bound_per_point(model, x, eta, rev, chains, g).mean()
        (-bound).backward()
        opt.step()
        trace.append(bound.item())
    with torch.no_grad():
        eta, rev = current()
        return eta.clone(), None if rev is None else (rev[0].clone(), rev[1].clone()), trace


def run_shortrun(n_data: int, x_dim: int, z_dim: int, steps: int, *, sigma: float = 0.5,
                 seed: int = 0, init_step: float = 1e-3, per_step: bool = False,
                 tied_reverse: bool = False,
                 iters: int = 300, chains: int = 16, eval_chains: int = 256, lr: float = 0.05,
                 save: str | Path | None = None, out: str | Path | None = None,
                 verbose: bool = True) -> dict:
    """Learn the step sizes, score both settings against the exact log p(x); returns the
    report (also written as JSON next to ``save`` or at ``out``)."""
    model, x = make_problem(n_data, x_dim, z_dim, sigma, seed)
    g = torch.Generator().manual_seed(seed + 1)
    start = time.perf_counter()
    learned, reverse, trace = learn_step_sizes(model, x, steps, init_step, per_step,
                                               tied_reverse, iters, chains, lr, g)
    seconds = time.perf_counter() - start
    initial = torch.full((steps,), init_step, dtype=x.dtype)
    exact = model.log_marginal(x)
    bounds = {}
    for name, eta, rev in (("langevin_bound", learned, reverse),
                           ("langevin_bound_initial", initial, None)):
        # independent chains, in chunks so memory stays small
        parts = [_bound_per_point(model, x, eta, rev, eval_chains // 4, g).detach()
                 for _ in range(4)]
        bounds[name] = torch.stack(parts).mean(0)
    gap, gap0 = exact - bounds["langevin_bound"], exact - bounds["langevin_bound_initial"]
    report = {
        "model": "linear-gaussian", "n_data": n_data, "x_dim": x_dim, "z_dim": z_dim,
        "sigma": sigma, "steps": steps, "seed": seed, "per_step": per_step,
        "tied_reverse": tied_reverse,
        "init_step": init_step, "iters": iters, "chains": chains, "eval_chains": eval_chains,
        "learned_step_sizes": learned.tolist(), "seconds_learning": seconds,
        "learned_reverse_drift": None if reverse is None else reverse[0].tolist(),
        "learned_reverse_variance": None if reverse is None else reverse[1].tolist(),
        "exact_log_px_mean_nats": exact.mean().item(),
        "langevin_bound_mean_nats": bounds["langevin_bound"].mean().item(),
        "langevin_bound_initial_mean_nats": bounds["langevin_bound_initial"].mean().item(),
        "gap_learned_mean_nats": gap.mean().item(),
        "gap_initial_mean_nats": gap0.mean().item(),
        "points_learned_above_exact": int((gap < 0).sum()),
        "points_learned_below_initial": int((gap > gap0).sum()),
        "bound_trace_first_last": [trace[0], trace[-1]],
    }

    def arrays() -> dict:
        a = dict(x=x.numpy(), W=model.weight.numpy(), b=model.bias.numpy(),
                 sigma=np.float64(sigma), step_sizes=learned.numpy(),
                 step_sizes_initial=initial.numpy(), log_px_exact=exact.numpy(),
                 langevin_bound=bounds["langevin_bound"].numpy(),
                 langevin_bound_initial=bounds["langevin_bound_initial"].numpy())
        if reverse is not None:
            a |= dict(reverse_drift=reverse[0].numpy(), reverse_variance=reverse[1].numpy())
        return a

    save_npz_and_report(save, out, report, arrays, "file")
    if verbose:
        print(f"shortrun: N={n_data} D={x_dim} K={z_dim} sigma={sigma} S={steps} "
              f"({seconds:.1f} s learning)")
        print(f"  learned eta {learned[0].item():.4g}" + (" ... " if per_step else "")
              + f"; exact log p(x) mean {report['exact_log_px_mean_nats']:.3f} nats")
        print(f"  bound - exact: learned {-gap.mean().item():+.3f}, initial "
              f"{-gap0.mean().item():+.3f} nats (mean over points)")
        print_written(report)
    return report
