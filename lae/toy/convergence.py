"""``lae toy convergence``: posterior error against gradient evaluations and wall-clock time,
ALD (plain and preconditioned) versus datapoint-wise LD and MALA, with many data points.

Set-up as the LAE uses ALD: N data points split into fixed batches of n; one "epoch" visits every
batch once. ALD does one transition on the shared Phi per batch visit, so after each epoch every
point's latent is z_i = Phi g(x_i); LD/MALA advance one chain per point by one step per epoch
(all N at once). After every epoch each method contributes one sample per point.

Error after e epochs: the samples of epochs (e/2, e] (the first half is discarded as burn-in)
scored per point and averaged over points -- the mean W2 to the exact Gaussian posterior (and the
mean error in posterior sds) on the linear-Gaussian toy, the mean MMD^2 to a long MALA reference
on the neural-likelihood toy. Gradient evaluations are counted by the energy function itself
(one per data point per energy-and-gradient call): ALD re-evaluates energy and gradient at the
current Phi each time it moves to a new batch (its MH test and drift need them), so it pays two
per point per epoch; LD/MALA pay one (the gradient at the current state is cached). Time is the
wall-clock of the sampler steps only (metrics excluded), all methods in one process.
"""

from __future__ import annotations

import math
import time
import warnings
from pathlib import Path

import torch

from lae.samplers import ALD, MALA, Langevin, energy_and_grad
from lae.toy.linear import make_linear_gaussian, tanh_features
from lae.toy.metrics import mmd_per_point, posterior_errors
from lae.toy.output import pyplot, write_outputs


class CountingEnergy:
    """Wraps z -> U [B]; counts per-point evaluations (rows of z)."""

    def __init__(self, fn, counter: list[int]) -> None:
        self.fn, self.counter = fn, counter

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        self.counter[0] += z.shape[0]
        return self.fn(z)


def run_latent(kernel, make_energy, x: torch.Tensor, z_dim: int, epochs: int, seed: int) -> dict:
    """One chain per data point, one step per epoch. Returns trace [epochs, N, K], evals, times."""
    counter = [0]
    energy = CountingEnergy(make_energy(x), counter)
    g = torch.Generator().manual_seed(seed)
    trace, evals, times = [], [], []
    t0 = time.perf_counter()
    state = kernel.init(torch.zeros(x.shape[0], z_dim, dtype=x.dtype), energy)
    acc = 0.0
    for _ in range(epochs):
        state, info = kernel.step(state, energy, g)
        acc += float(info.acceptance.mean())
        times.append(time.perf_counter() - t0)
        evals.append(counter[0])
        trace.append(state.z)
    return {"trace": torch.stack(trace), "evals": evals, "seconds": times,
            "acceptance": acc / epochs}


def run_ald(ald: ALD, make_energy, x: torch.Tensor, feats: torch.Tensor, z_dim: int, batch: int,
            epochs: int, seed: int) -> dict:
    """ALD on a shared Phi, one transition per batch visit, batches in a fixed order."""
    counter = [0]
    n_data = x.shape[0]
    idx = [torch.arange(i, min(i + batch, n_data)) for i in range(0, n_data, batch)]
    batch_feats = [feats[i] for i in idx]
    energies = [CountingEnergy(make_energy(x[i]), counter) for i in idx]
    g = torch.Generator().manual_seed(seed)
    trace, evals, times = [], [], []
    phi0 = torch.zeros(z_dim, feats.shape[1], dtype=x.dtype)
    t_setup = time.perf_counter()
    # the preconditioner (SVD) of each batch is constant: computed once, as a trainer would
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        cache = [ald.init(phi0, CountingEnergy(eb.fn, [0]), fb) for fb, eb in
                 zip(batch_feats, energies)]
    setup_seconds = time.perf_counter() - t_setup  # reported, not in the curve
    state, current = cache[0], 0
    acc, n_acc = 0.0, 0
    t0 = time.perf_counter()
    for _ in range(epochs):
        for b, (fb, eb, c) in enumerate(zip(batch_feats, energies, cache)):
            if b != current:  # new batch: energy and gradient at the current Phi
                current = b
                z = fb @ state.phi.T
                energy, grad_z = energy_and_grad(eb, z)
                state = c._replace(phi=state.phi, z=z, energy=energy, grad_z=grad_z,
                                   grad_phi=grad_z.T @ fb)
            state, info = ald.step(state, eb, g)
            acc, n_acc = acc + float(info.acceptance[0]), n_acc + 1
        times.append(time.perf_counter() - t0)
        evals.append(counter[0])
        trace.append(feats @ state.phi.T)  # every point's latent after this epoch
    return {"trace": torch.stack(trace), "evals": evals, "seconds": times,
            "acceptance": acc / n_acc, "setup_seconds": setup_seconds}


def checkpoints(epochs: int, n: int = 14) -> list[int]:
    pts = torch.logspace(math.log10(4), math.log10(epochs), n).round().long().unique()
    return [int(p) for p in pts]


def curves(runs: dict, score, epochs: int) -> dict:
    """Error on samples of epochs (e/2, e] at log-spaced e, for every method."""
    out = {}
    for name, r in runs.items():
        rows = []
        for e in checkpoints(epochs):
            window = r["trace"][e // 2: e]
            rows.append({"epoch": e, "grad_evals": r["evals"][e - 1],
                         "seconds": r["seconds"][e - 1], **score(window)})
        out[name] = {"acceptance": r["acceptance"], "setup_seconds": r.get("setup_seconds", 0.0),
                     "curve": rows}
    return out


def linear_convergence(n_data: int = 1000, batch: int = 100, width: int = 256,
                       epochs: int = 2000, seed: int = 0, steps: dict | None = None) -> dict:
    """The linear-Gaussian toy (D = 10, K = 2, sigma = 0.5) with N = n_data points."""
    eta = {"LD": 0.01, "MALA": 0.1, "ALD precond.": 0.02, "ALD plain": 1e-5} | (steps or {})
    model, x = make_linear_gaussian(n_data, seed=seed)
    post = model.posterior(x)
    feats = tanh_features(x, width, seed=seed + 1)
    make_energy = lambda xb: (lambda z: -model.log_joint(xb, z))  # noqa: E731
    runs = {
        "LD": run_latent(Langevin(eta["LD"]), make_energy, x, 2, epochs, seed),
        "MALA": run_latent(MALA(eta["MALA"]), make_energy, x, 2, epochs, seed),
        "ALD precond.": run_ald(ALD(eta["ALD precond."], preconditioned=True), make_energy, x,
                                feats, 2, batch, epochs, seed),
        "ALD plain": run_ald(ALD(eta["ALD plain"]), make_energy, x, feats, 2, batch, epochs,
                             seed),
    }

    def score(window):
        errs = posterior_errors(window, post.mean, model.posterior_cov)
        return {"w2_mean": float(errs["w2"].mean()),
                "mean_err_sd_mean": float(errs["mean_err_sd"].mean()),
                "var_ratio_mean": float(errs["var_ratio"].mean())}

    return {"toy": "linear-gaussian", "n_data": n_data, "batch": batch,
            "feature_width": width + 1, "epochs": epochs, "seed": seed, "step_sizes": eta,
            "x_dim": 10, "z_dim": 2, "sigma": 0.5, "metric": "w2_mean",
            "methods": curves(runs, score, epochs)}


def neural_convergence(n_data: int = 200, batch: int = 100, width: int = 256, epochs: int = 2000,
                       seed: int = 0, ref_steps: int = 20000, steps: dict | None = None) -> dict:
    """The neural-likelihood toy; error = mean MMD^2 to a long MALA reference per point."""
    from lae.toy.neural import make_neural, reference_samples

    eta = {"LD": 0.005, "MALA": 0.05, "ALD precond.": 0.02, "ALD plain": 1e-5} | (steps or {})
    prob = make_neural(n_data, seed=seed)
    ref = reference_samples(prob, steps=ref_steps, seed=seed)["samples"]
    feats = tanh_features(prob.x, width, seed=seed + 1)
    runs = {
        "LD": run_latent(Langevin(eta["LD"]), prob.energy, prob.x, 2, epochs, seed),
        "MALA": run_latent(MALA(eta["MALA"]), prob.energy, prob.x, 2, epochs, seed),
        "ALD precond.": run_ald(ALD(eta["ALD precond."], preconditioned=True), prob.energy,
                                prob.x, feats, 2, batch, epochs, seed),
        "ALD plain": run_ald(ALD(eta["ALD plain"]), prob.energy, prob.x, feats, 2, batch,
                             epochs, seed),
    }

    def score(window):
        return {"mmd2_mean": float(mmd_per_point(window, ref, max_samples=300).mean())}

    return {"toy": "neural", "n_data": n_data, "batch": batch, "feature_width": width + 1,
            "epochs": epochs, "seed": seed, "step_sizes": eta, "reference_mala_steps": ref_steps,
            "metric": "mmd2_mean", "methods": curves(runs, score, epochs)}


def plot_convergence(result: dict, path: Path) -> None:
    plt = pyplot()

    metric = result["metric"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for name, m in result["methods"].items():
        c = m["curve"]
        y = [max(r[metric], 1e-5) for r in c]
        axes[0].loglog([r["grad_evals"] for r in c], y, "o-", ms=3, label=name)
        axes[1].loglog([r["seconds"] for r in c], y, "o-", ms=3, label=name)
    axes[0].set_xlabel("gradient evaluations (per data point, summed)")
    axes[1].set_xlabel("wall-clock seconds (sampler steps only)")
    label = "mean W2 to exact posterior" if metric == "w2_mean" else "mean MMD^2 to reference"
    for ax in axes:
        ax.set_ylabel(label)
        ax.grid(True, which="both", lw=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{result['toy']}: N = {result['n_data']}, batches of {result['batch']}, "
                 f"feature width {result['feature_width']}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_convergence(toy: str = "linear", out: str | Path | None = None, verbose: bool = True,
                    **kwargs) -> dict:
    result = linear_convergence(**kwargs) if toy == "linear" else neural_convergence(**kwargs)
    metric = result["metric"]
    if verbose:
        print(f"{result['toy']}: N={result['n_data']} batch={result['batch']} "
              f"width={result['feature_width']} epochs={result['epochs']}")
        for name, m in result["methods"].items():
            pts = m["curve"]
            show = [pts[i] for i in sorted({0, len(pts) // 3, 2 * len(pts) // 3, len(pts) - 1})]
            print(f"  {name:13s} acc {m['acceptance']:.2f}: " + "; ".join(
                f"e={r['epoch']} evals={r['grad_evals']} t={r['seconds']:.2f}s "
                f"{metric}={r[metric]:.4f}" for r in show))
    if out is not None:
        write_outputs(out, f"convergence_{toy}", result, lambda p: plot_convergence(result, p))
    return result
