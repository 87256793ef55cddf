r"""Annealed importance sampling (AIS) estimates of log p(x), and BDMC bounds around them.

**Forward AIS (a stochastic lower bound).** Intermediate targets between the prior (beta = 0) and
the unnormalised posterior p(x, z) (beta = 1):

.. math::

    f_t(z) = p(z)\, p(x \mid z)^{\beta_t}, \qquad 0 = \beta_0 < \beta_1 < \dots < \beta_K = 1,
    \qquad Z_t = \int f_t, \quad Z_0 = 1, \quad Z_K = p(x).

With z_0 ~ p(z) and z_t drawn by a transition T_t that leaves f_t invariant (HMC or MALA),

.. math::

    \log w = \sum_{t=1}^{K} (\beta_t - \beta_{t-1}) \log p(x \mid z_{t-1}),
    \qquad \mathbb E[w] = Z_K / Z_0 = p(x)

(Neal 2001). With M independent chains per data point,
log p̂(x) = logmeanexp_m log w_m; by Jensen E[log p̂(x)] <= log p(x): a stochastic **lower**
bound. The transition at t = K does not enter the weight and is skipped, so K temperatures cost
K - 1 transitions; with K = 1 the estimator is plain importance sampling with the prior as
proposal.

**Reverse AIS (a stochastic upper bound; BDMC, Grosse, Ghahramani and Adams 2015).** Run the same
construction from f_K to f_0: start at an *exact* posterior sample z_K ~ p(z | x) (available for
data simulated from the model: z* ~ p(z), x ~ p(x | z*), so z* ~ p(z | x)), then for
t = K, ..., 1 accumulate log f_{t-1}(z_t) - log f_t(z_t) and move z_{t-1} ~ T_{t-1}(. | z_t):

.. math::

    \log w_{\text{rev}} = \sum_{t=1}^{K} (\beta_{t-1} - \beta_t) \log p(x \mid z_t)
    = -S, \qquad S = \sum_{t=1}^{K} (\beta_t - \beta_{t-1}) \log p(x \mid z_t),

    \mathbb E[w_{\text{rev}}] = Z_0 / Z_K = 1 / p(x).

Jensen gives E[logmeanexp_m(-S_m)] <= -log p(x), so

.. math::  \log \hat p_{\text{upper}}(x) = -\operatorname{logmeanexp}_m(-S_m)

satisfies E[log p̂_upper(x)] >= log p(x): a stochastic **upper** bound. All M reverse chains of a
data point start from the same exact sample (each chain is still an unbiased estimator of
1/p(x), and so is their mean). The gap upper - lower bounds the error of either estimate on such
data (Grosse et al. 2015); BDMC says nothing about real data the model did not generate.

**Schedule.** "sigmoid" (Grosse et al. 2015; Wu et al. 2017):
beta_t = (s(u_t) - s(-delta)) / (s(delta) - s(-delta)) with s the logistic function and u_t evenly
spaced on [-delta, delta], delta = 4; "linear": beta_t = t / K.

**Transitions and adaptation.** One HMC transition (``n_leapfrog`` leapfrog steps of size eps,
methods.md section 0c conventions, MH test on the Hamiltonian) or one MALA transition
(Langevin step eta, MH test with the reverse proposal built at z') per temperature: the
kernels of lae.samplers (``transition``), all B x M chains batched along dim 0, so the decoder
sees [B*M, K] latents at once. The chains' state (:class:`TemperedState`) caches log p(z),
log p(x|z) and their gradients separately, so the weight increment needs no extra decoder pass
and a temperature costs ``n_leapfrog`` (HMC) or 1 (MALA) decoder forward + backward passes.

Per-chain step sizes (a tensor [B*M]) follow the acceptance probability of each transition
toward ``target_acceptance`` (0.65 for HMC, 0.574 for MALA) by
log eps <- log eps + gain (a_t - a*) (lae.samplers.StepSizeAdapter with constant gain).

Is adapting during AIS valid? Each transition, with its step size, is f_t-invariant, and a step
size that depends only on the past is often taken to be enough. It is not: AIS's unbiasedness
argument needs the kernel applied at t to be chosen independently of the state it is applied to,
and a step size adapted from the chain's own acceptances depends on z_{t-1} (through the
acceptance of the move that produced it). Measured on a linear-Gaussian model (D = 20, K = 2,
300 points, M = 16, 300 temperatures): ``adapt="online"`` (per chain, during the run, gain 0.3)
puts the "lower bound" **above** the exact log p(x) by +0.082 ± 0.004 nats per point; with gain
0.03 the bias is within noise (-0.004 ± 0.006). So the default is ``adapt="pilot"``: a pilot run
with its own chains (``pilot_chains``, default M // 4) and random numbers adapts online and
records the step size used at every temperature, averaged in log space over the pilot chains of
each data point; the estimate comes from fresh chains with that schedule frozen, which makes
every chain a standard AIS chain with a fixed kernel sequence (measured: -0.001 ± 0.004 nats).
``adapt="none"`` keeps ``init_step_size``.

Defaults (n_leapfrog = 1, init_step_size = 0.3, gain 0.3) come from the linear-Gaussian check in
docs/evaluation.md: at equal decoder passes, more temperatures with one leapfrog step beat fewer
temperatures with longer trajectories by a wide margin.

Units: nats per data point (summed over dimensions), like every log density in ``lae``.

Example:
    >>> import torch
    >>> from lae.distributions import LinearGaussian, StandardNormalPrior
    >>> g = torch.Generator().manual_seed(0)
    >>> lg = LinearGaussian(torch.randn(6, 2, generator=g, dtype=torch.float64),
    ...                     torch.zeros(6, dtype=torch.float64), sigma=1.0)
    >>> x = lg.sample_x(3, generator=g)
    >>> prior = StandardNormalPrior(2).double()
    >>> log_px, diag = ais_log_px(prior, lambda x, z: lg.log_joint(x, z) - prior.log_prob(z), x,
    ...                           n_chains=16, n_temps=200, generator=g)
    >>> bool((log_px - lg.log_marginal(x)).abs().max() < 0.3)
    True

References: Neal, "Annealed importance sampling", Statistics and Computing 2001; Wu, Burda,
Salakhutdinov and Grosse, "On the quantitative analysis of decoder-based generative models",
ICLR 2017; Grosse, Ghahramani and Adams, "Sandwiching the marginal likelihood using
bidirectional Monte Carlo", arXiv:1511.02543, 2015.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor
from tqdm.auto import tqdm

from lae.samplers.base import seeded_global_rng
from lae.samplers.chain import StepSizeAdapter
from lae.samplers.kernels import KERNELS as SAMPLER_KERNELS
from lae.samplers.kernels import build_kernel

LogPrior = Callable[[Tensor], Tensor]
LogLikelihood = Callable[[Tensor, Tensor], Tensor]
PriorSampler = Callable[[int, "torch.Generator | None"], Tensor]

SCHEDULES = ("sigmoid", "linear")
ADAPT = ("online", "pilot", "none")


def beta_schedule(n_temps: int, schedule: str = "sigmoid", delta: float = 4.0,
                  dtype: torch.dtype = torch.float64) -> Tensor:
    """Inverse temperatures beta_0 = 0 < ... < beta_K = 1, shape [K + 1] (K = ``n_temps``)."""
    if n_temps < 1:
        raise ValueError(f"n_temps must be >= 1, got {n_temps}")
    if schedule == "linear" or n_temps == 1:
        return torch.linspace(0.0, 1.0, n_temps + 1, dtype=dtype)
    if schedule == "sigmoid":
        s = torch.sigmoid(torch.linspace(-delta, delta, n_temps + 1, dtype=torch.float64))
        return ((s - s[0]) / (s[-1] - s[0])).to(dtype)
    raise ValueError(f"unknown schedule {schedule!r}; choices: {', '.join(SCHEDULES)}")


class TemperedState(NamedTuple):
    """Chains [N, K] at inverse temperature ``beta``, with log p(z), log p(x|z) [N] and their
    gradients [N, K] cached apart, so that the energy at any beta, -(log p(z) + beta log
    p(x|z)), and the weight increment need no other decoder pass. ``energy`` and ``grad`` make
    it a state the kernels of lae.samplers move (``transition``)."""

    z: Tensor
    log_prior: Tensor
    log_lik: Tensor
    grad_log_prior: Tensor
    grad_log_lik: Tensor
    beta: float = 1.0

    @property
    def energy(self) -> Tensor:
        """-(log p(z) + beta log p(x|z)), [N]."""
        return -(self.log_prior + self.beta * self.log_lik)

    @property
    def grad(self) -> Tensor:
        """The energy's gradient in z, [N, K]."""
        return -(self.grad_log_prior + self.beta * self.grad_log_lik)


def _evaluate(log_prior: LogPrior, log_likelihood: LogLikelihood, x: Tensor, z: Tensor,
              beta: float = 1.0) -> TemperedState:
    """The tempered state at z [N, K] (x [N, ...]): one decoder pass forward and back."""
    with torch.enable_grad():
        zg = z.detach().requires_grad_(True)
        ll = log_likelihood(x, zg)
        (g_ll,) = torch.autograd.grad(ll.sum(), zg)
        zp = z.detach().requires_grad_(True)
        lp = log_prior(zp)
        (g_lp,) = torch.autograd.grad(lp.sum(), zp)
    if ll.shape != z.shape[:1] or lp.shape != z.shape[:1]:
        raise ValueError(f"log_prior and log_likelihood must return shape {tuple(z.shape[:1])}; "
                         f"got {tuple(lp.shape)} and {tuple(ll.shape)}")
    return TemperedState(z.detach(), lp.detach(), ll.detach(), g_lp, g_ll, beta)


# The registry's kernels with an MH test (lae.samplers.KERNELS): AIS needs transitions that
# leave each f_beta exactly invariant.
KERNELS = tuple(name for name, spec in SAMPLER_KERNELS.items() if spec.target_acceptance)


def _anneal(log_prior: LogPrior, log_likelihood: LogLikelihood, x_rep: Tensor, z0: Tensor,
            betas: Tensor, kernel: str, n_leapfrog: int, log_eta: Tensor | None,
            adapter: StepSizeAdapter | None, generator: torch.Generator | None,
            reverse: bool, record: bool, on_transition: Callable[[], Any] | None = None
            ) -> dict[str, Any]:
    """One annealing run over all chains [N] (forward: betas 0 -> 1; reverse: 1 -> 0).

    ``log_eta`` is [N] (adapted from there when ``adapter`` is given) or a frozen schedule
    [K - 1, N], one row per transition. Returns the summed weights S [N] (forward: log w;
    reverse: minus log w_rev), acceptance per transition [K - 1] (mean over chains), the
    recorded log step sizes [K - 1, N] when ``record``, and the final log step sizes [N].
    ``on_transition`` is called after each transition (a progress bar's update).
    """
    bs = betas.tolist()
    if reverse:
        bs = bs[::-1]
    state = _evaluate(log_prior, log_likelihood, x_rep, z0)
    s = torch.zeros_like(state.log_lik)
    n_trans = len(bs) - 2
    # on the chains' device: writing a GPU value into a CPU tensor would wait for the GPU at
    # every temperature
    acc_mean = torch.zeros(max(n_trans, 0), dtype=torch.float64, device=state.z.device)
    last_acc = torch.full_like(state.log_lik, float("nan"))
    recorded = []
    frozen = log_eta is not None and log_eta.ndim == 2
    cur = log_eta
    for t in range(1, len(bs)):
        # weight increment at the current state (distributed ~ f_{t-1} of this direction)
        s = s + abs(bs[t] - bs[t - 1]) * state.log_lik
        if t == len(bs) - 1:
            break  # the last transition does not enter the weight
        eta_t = (cur[t - 1] if frozen else cur).exp()
        if record:
            recorded.append(eta_t.log())
        beta = bs[t]
        state, info = build_kernel(kernel, eta_t, n_leapfrog=n_leapfrog).transition(
            state._replace(beta=beta),
            lambda z, b=beta: _evaluate(log_prior, log_likelihood, x_rep, z, b), generator)
        acc = info.acceptance
        acc_mean[t - 1] = acc.double().mean()
        last_acc = acc
        if on_transition is not None:
            on_transition()
        if adapter is not None and not frozen:
            cur = adapter.update(cur, acc, t - 1)
    return {"s": s, "acceptance": acc_mean, "last_acceptance": last_acc,
            "log_step_size": torch.stack(recorded) if record and recorded else None,
            "final_log_step_size": (cur[-1] if frozen and cur.shape[0] else cur)
            if cur is not None else None}


def _logmeanexp(a: Tensor, dim: int) -> Tensor:
    return torch.logsumexp(a, dim) - math.log(a.shape[dim])


def _prior_sampler(log_prior: Any, sample_prior: PriorSampler | None, needed: bool = True
                   ) -> tuple[LogPrior, PriorSampler | None]:
    """(log p(z) callable, prior sampler); the sampler may be None when not ``needed``."""
    if hasattr(log_prior, "log_prob") and hasattr(log_prior, "sample"):
        prior = log_prior
        return prior.log_prob, sample_prior or (lambda n, g: prior.sample(n, generator=g))
    if sample_prior is None and needed:
        raise ValueError("pass a prior with .log_prob and .sample(n, generator=), or "
                         "sample_prior=(n, generator) -> z [n, K] with a log_prior callable")
    return log_prior, sample_prior


@dataclass(frozen=True)
class AISSettings:
    """How an AIS run was made (recorded beside its numbers: :meth:`as_dict`)."""

    n_chains: int  # M, estimating chains per data point
    n_temps: int  # K, temperatures
    schedule: str
    kernel: str
    n_leapfrog: int | None  # HMC only
    init_step_size: float
    target_acceptance: float | None
    adapt: str
    adapt_gain: float
    pilot_chains: int | None  # adapt="pilot" only
    chunk_size: int | None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class AISDiagnostics:
    """What an AIS run reports besides its estimate."""

    direction: str  # "forward" (lower bound) or "reverse" (upper bound)
    log_weights: Tensor  # [N, M]: log w (forward) or log w_rev (reverse)
    ess_fraction: Tensor  # [N], in (1/M, 1]
    acceptance_per_temp: Tensor  # [K - 1], mean over chains and data points
    acceptance_final: float
    acceptance_mean: float
    step_size_final: float
    betas: Tensor  # [K]
    grad_evals_per_chain: int  # per estimating chain
    pilot_grad_evals_per_chain: float
    seconds: float
    settings: AISSettings


def _run(log_prior: Any, log_likelihood: LogLikelihood, x: Tensor, *, z_post: Tensor | None,
         n_chains: int, n_temps: int, schedule: str, kernel: str, n_leapfrog: int,
         init_step_size: float, target_acceptance: float | None, adapt: str, adapt_gain: float,
         pilot_chains: int | None, chunk_size: int | None, generator: torch.Generator | None,
         sample_prior: PriorSampler | None, progress: str | None
         ) -> tuple[Tensor, AISDiagnostics]:
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; choices: {', '.join(KERNELS)}")
    if adapt not in ADAPT:
        raise ValueError(f"unknown adapt {adapt!r}; choices: {', '.join(ADAPT)}")
    if n_chains < 1:
        raise ValueError(f"n_chains must be >= 1, got {n_chains}")
    if not init_step_size > 0:
        raise ValueError(f"init_step_size must be > 0, got {init_step_size}")
    reverse = z_post is not None  # reverse chains start at z_post: no prior draws
    log_prior_fn, sampler = _prior_sampler(log_prior, sample_prior, needed=not reverse)
    pilot_chains = pilot_chains or max(1, n_chains // 4)
    target = (SAMPLER_KERNELS[kernel].target_acceptance if target_acceptance is None
              else target_acceptance)
    adapter = StepSizeAdapter(target, per_chain=True, gain=adapt_gain, decay=0.0)
    betas = beta_schedule(n_temps, schedule)
    n, m = x.shape[0], n_chains
    chunk = chunk_size or max(1, 2048 // m)
    start_time = time.perf_counter()
    s_all, acc_sum, last_acc, final_eta = [], None, [], []
    runs_per_chunk = 2 if adapt == "pilot" and n_temps > 1 else 1
    bar = tqdm(total=math.ceil(n / chunk) * runs_per_chunk * max(len(betas) - 2, 0),
               desc=progress, unit="temp", leave=False, dynamic_ncols=True,
               disable=None if progress else True)  # on a terminal only
    for lo in range(0, n, chunk):
        xb = x[lo:lo + chunk]
        b = xb.shape[0]
        x_rep = xb.repeat_interleave(m, 0)  # chain i * M + j belongs to data point i

        def start(gen, mm=m, lo=lo, b=b, xb=xb):
            if reverse:
                return z_post[lo:lo + chunk].repeat_interleave(mm, 0)
            z = sampler(b * mm, gen)
            return z.to(dtype=xb.dtype, device=xb.device) if xb.is_floating_point() else z

        log_eta0 = torch.full((b * max(m, pilot_chains),), math.log(init_step_size),
                              dtype=torch.float64, device=xb.device)
        if adapt == "pilot" and n_temps > 1:
            # adapt on a pilot run with its own chains, then freeze its per-temperature step
            # sizes (mean over the pilot chains of each data point, in log space)
            mp = pilot_chains
            pilot = _anneal(log_prior_fn, log_likelihood, xb.repeat_interleave(mp, 0),
                            start(generator, mp), betas, kernel, n_leapfrog, log_eta0[:b * mp],
                            adapter, generator, reverse, record=True, on_transition=bar.update)
            sched = pilot["log_step_size"].view(-1, b, mp).mean(-1).repeat_interleave(m, -1)
            run = _anneal(log_prior_fn, log_likelihood, x_rep, start(generator), betas, kernel,
                          n_leapfrog, sched, None, generator, reverse, record=False,
                          on_transition=bar.update)
        else:
            run = _anneal(log_prior_fn, log_likelihood, x_rep, start(generator), betas, kernel,
                          n_leapfrog, log_eta0[:b * m], adapter if adapt == "online" else None,
                          generator, reverse, record=False, on_transition=bar.update)
        s_all.append(run["s"].view(b, m))
        acc = run["acceptance"] * b
        acc_sum = acc if acc_sum is None else acc_sum + acc
        last_acc.append(run["last_acceptance"])
        if run["final_log_step_size"] is not None:
            final_eta.append(run["final_log_step_size"].exp())
    bar.close()
    s = torch.cat(s_all)  # [N, M]
    log_est = _logmeanexp(s, 1) if not reverse else -_logmeanexp(-s, 1)
    log_w = s if not reverse else -s
    w = torch.softmax(log_w.double(), 1)
    acceptance = (acc_sum / n) if acc_sum is not None else torch.zeros(0)
    n_trans = max(n_temps - 1, 0)
    grad_evals = 1 + n_trans * (n_leapfrog if kernel == "hmc" else 1)
    diagnostics = AISDiagnostics(
        direction="reverse" if reverse else "forward",
        log_weights=log_w,
        ess_fraction=1.0 / (w.pow(2).sum(1) * m),
        acceptance_per_temp=acceptance,
        acceptance_final=float(torch.cat(last_acc).double().nanmean()) if n_trans else
        float("nan"),
        acceptance_mean=float(acceptance.mean()) if n_trans else float("nan"),
        step_size_final=float(torch.cat(final_eta).mean()) if final_eta else float(
            init_step_size),
        betas=betas,
        grad_evals_per_chain=grad_evals,
        pilot_grad_evals_per_chain=grad_evals * pilot_chains / m
        if adapt == "pilot" and n_trans else 0.0,
        seconds=time.perf_counter() - start_time,
        settings=AISSettings(
            n_chains=m, n_temps=n_temps, schedule=schedule, kernel=kernel,
            n_leapfrog=n_leapfrog if kernel == "hmc" else None, init_step_size=init_step_size,
            target_acceptance=target, adapt=adapt, adapt_gain=adapt_gain,
            pilot_chains=pilot_chains if adapt == "pilot" else None, chunk_size=chunk))
    return log_est, diagnostics


@torch.no_grad()
def ais_log_px(log_prior: Any, log_likelihood: LogLikelihood, x: Tensor, *, n_chains: int = 16,
               n_temps: int = 500, schedule: str = "sigmoid", kernel: str = "hmc",
               n_leapfrog: int = 1, init_step_size: float = 0.3,
               target_acceptance: float | None = None, adapt: str = "pilot",
               adapt_gain: float = 0.3, pilot_chains: int | None = None,
               chunk_size: int | None = None,
               generator: torch.Generator | None = None,
               sample_prior: PriorSampler | None = None,
               progress: str | None = None) -> tuple[Tensor, AISDiagnostics]:
    """Forward AIS: a stochastic lower bound on log p(x), nats per data point: ([B], diagnostics).

    Args:
        log_prior: the prior, either an object with ``log_prob(z [N, K]) -> [N]`` and
            ``sample(n, generator=) -> [n, K]`` (e.g. ``model.prior``), or a callable
            ``z -> log p(z) [N]`` together with ``sample_prior``.
        log_likelihood: ``(x [N, *shape], z [N, K]) -> log p(x | z) [N]`` (e.g.
            ``model.log_likelihood``); called on all B*M chains of a chunk at once.
        x: data [B, *shape].
        n_chains: M, chains per data point.
        n_temps: K, number of annealing steps (K + 1 inverse temperatures).
        schedule: "sigmoid" or "linear" (module doc).
        kernel: "hmc" or "mala".
        n_leapfrog: leapfrog steps per HMC transition.
        init_step_size: leapfrog eps (HMC) or Langevin eta (MALA) at t = 1.
        target_acceptance: default 0.65 (HMC) or 0.574 (MALA).
        adapt: "pilot" (default: adapted on a pilot run of ``pilot_chains`` chains per point,
            then frozen; keeps the bound valid), "online" (per chain, during the run; biased
            upward, see the module doc) or "none".
        pilot_chains: chains per data point of the pilot run; default max(1, M // 4), so the
            pilot adds 25% to the cost.
        adapt_gain: gain of the log step-size update per temperature.
        chunk_size: data points per chunk (memory is O(chunk_size * M)); default 2048 // M.
        generator: the only source of randomness (on x's device).
        sample_prior: ``(n, generator) -> z [n, K]``, needed when ``log_prior`` is a callable.
        progress: a progress bar's label (temperatures done, with time left; shown on a
            terminal only); None: no bar.

    Returns:
        ``(log_px [B], diagnostics)``; diagnostics hold ``log_weights`` [B, M], ``ess_fraction``
        [B], ``acceptance_per_temp`` [K - 1], ``acceptance_final`` (mean acceptance of the last
        transition), ``acceptance_mean``, ``step_size_final``, ``betas``,
        ``grad_evals_per_chain``, ``seconds`` and ``settings``.
    """
    return _run(log_prior, log_likelihood, x, z_post=None, n_chains=n_chains, n_temps=n_temps,
                schedule=schedule, kernel=kernel, n_leapfrog=n_leapfrog,
                init_step_size=init_step_size, target_acceptance=target_acceptance, adapt=adapt,
                adapt_gain=adapt_gain, pilot_chains=pilot_chains, chunk_size=chunk_size,
                generator=generator, sample_prior=sample_prior, progress=progress)


@torch.no_grad()
def ais_reverse_log_px(log_prior: Any, log_likelihood: LogLikelihood, x: Tensor, z_post: Tensor,
                       **kwargs: Any) -> tuple[Tensor, AISDiagnostics]:
    """Reverse AIS from exact posterior samples ``z_post`` [B, K] (one per data point): a
    stochastic **upper** bound on log p(x), -logmeanexp_m(-S_m), nats: ([B], diagnostics).

    Valid only if each ``z_post[i]`` is an exact draw from p(z | x_i), e.g. the z* that generated
    simulated data. Keyword arguments and defaults as in :func:`ais_log_px` (``sample_prior``
    is accepted and not used: the chains start at ``z_post``).
    """
    # the same defaults as the forward run, read from its signature
    defaults = {name: par.default for name, par in inspect.signature(ais_log_px).parameters.items()
                if par.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = set(kwargs) - set(defaults)
    if unknown:
        raise TypeError(f"ais_reverse_log_px got unexpected keyword(s) {sorted(unknown)}")
    if z_post.shape[0] != x.shape[0]:
        raise ValueError(f"z_post must have one row per data point: {z_post.shape[0]} vs "
                         f"{x.shape[0]}")
    return _run(log_prior, log_likelihood, x, z_post=z_post, **(defaults | kwargs))


@torch.no_grad()
def bdmc_bounds(log_prior: Any, log_likelihood: LogLikelihood, x: Tensor, z_post: Tensor,
                **kwargs: Any) -> dict[str, Any]:
    """Both AIS bounds on data whose exact posterior samples ``z_post`` are known.

    Returns ``lower`` [B] (forward AIS), ``upper`` [B] (reverse AIS), ``gap`` = upper - lower
    [B], their means (``lower_mean``, ``upper_mean``, ``gap_mean``) and both diagnostics.
    """
    lower, d_fwd = ais_log_px(log_prior, log_likelihood, x, **kwargs)
    upper, d_rev = ais_reverse_log_px(log_prior, log_likelihood, x, z_post, **kwargs)
    gap = upper - lower
    return {"lower": lower, "upper": upper, "gap": gap, "lower_mean": lower.mean().item(),
            "upper_mean": upper.mean().item(), "gap_mean": gap.mean().item(),
            "forward": d_fwd, "reverse": d_rev}


@torch.no_grad()
def simulate(model: Any, n_sim: int, generator: torch.Generator | None = None
             ) -> tuple[Tensor, Tensor]:
    """(x [n, *shape], z* [n, K]) with z* ~ p(z) and x ~ p(x | z*): z* is an exact posterior
    sample of its x. Discrete likelihoods give discrete x (as the model defines them)."""
    z = model.prior.sample(n_sim, generator=generator)
    dist = model.decode(z)
    if generator is None:
        return dist.sample(), z
    # torch distributions draw from the global RNG; fork it, seeded from the generator
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    with seeded_global_rng(seed):
        x = dist.sample()
    return x, z


@torch.no_grad()
def bdmc(model: Any, n_sim: int = 10, *, generator: torch.Generator | None = None,
         **kwargs: Any) -> dict[str, Any]:
    """BDMC on ``n_sim`` points simulated from ``model``: lower and upper AIS bounds on
    log p(x), their gap per point and means (nats); also the simulated ``x`` and ``z``.

    Keyword arguments go to :func:`ais_log_px` (n_chains, n_temps, schedule, kernel, ...).
    """
    x, z = simulate(model, n_sim, generator)
    out = bdmc_bounds(model.prior, model.log_likelihood, x, z, generator=generator, **kwargs)
    return {**out, "x": x, "z": z}
