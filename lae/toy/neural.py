"""``lae toy neural``: a neural likelihood with a 2-D latent, where no closed form exists.

Model: z ~ N(0, I_2), x = f(z) + sigma * noise with a fixed random MLP decoder
f(z) = W2 tanh(W1 z + c1) + c2 (hidden 32, D = 12, weights drawn from the seed, W1 scaled by 1.5
so that posteriors are curved). Reference: a long MALA run per data point (step adapted in
warm-up, thinned). Compared against it, per point, by MMD^2 (RBF kernel, median bandwidth):
preconditioned ALD on Phi with random tanh features g(x_i), and Gaussian VI fitted per point
(mean-field and full covariance; ELBO maximised with reparameterised samples and Adam), as in
the paper's toy comparison. The figure shows posterior contours (exact unnormalised density on a
grid) with ALD samples and the 2-sd ellipses of both VI fits for a few points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from lae.toy.linear import SamplerSettings, default_feature_dim, sample_posterior, tanh_features
from lae.toy.metrics import mmd_per_point
from lae.toy.output import pyplot, write_outputs


@dataclass
class NeuralProblem:
    """Random MLP decoder and data drawn from it (float64)."""

    w1: Tensor
    c1: Tensor
    w2: Tensor
    c2: Tensor
    sigma: float
    x: Tensor

    def decode(self, z: Tensor) -> Tensor:
        return torch.tanh(z @ self.w1.T + self.c1) @ self.w2.T + self.c2

    def energy(self, x: Tensor):
        """Per-point posterior energies U(x_i, z_i) (up to constants), z [N, 2] -> [N]."""
        def fn(z: Tensor) -> Tensor:
            resid = x - self.decode(z)
            return 0.5 * resid.pow(2).sum(-1) / self.sigma**2 + 0.5 * z.pow(2).sum(-1)
        return fn


def make_neural(n: int, x_dim: int = 12, hidden: int = 32, sigma: float = 0.3,
                seed: int = 0) -> NeuralProblem:
    g = torch.Generator().manual_seed(1000 + seed)
    r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)  # noqa: E731
    w1, c1 = 1.5 * r(hidden, 2), 0.5 * r(hidden)
    w2, c2 = r(x_dim, hidden) / math.sqrt(hidden), r(x_dim)
    prob = NeuralProblem(w1, c1, w2, c2, sigma, torch.empty(0))
    z = r(n, 2)
    prob.x = prob.decode(z) + sigma * r(n, x_dim)
    return prob


def reference_samples(prob: NeuralProblem, steps: int = 20000, warmup: int = 2000,
                      thin: int = 20, seed: int = 0) -> dict:
    """Long MALA run, one chain per data point: samples [steps // thin, N, 2]."""
    s = SamplerSettings("mala", steps=steps, warmup=warmup, thin=thin, step_size=0.05,
                        seed=10_000 + seed)
    return sample_posterior(prob.energy(prob.x), prob.x.shape[0], 2, s)


def fit_vi(prob: NeuralProblem, full: bool, iters: int = 1500, mc: int = 16, lr: float = 0.05,
           seed: int = 0) -> tuple[Tensor, Tensor]:
    """Gaussian VI per data point: maximise the ELBO E_q[-U] + H[q] with reparameterised samples.

    Returns means [N, 2] and Cholesky factors [N, 2, 2] (diagonal for mean-field)."""
    g = torch.Generator().manual_seed(20_000 + seed)
    n = prob.x.shape[0]
    energy = prob.energy(prob.x.repeat(mc, 1))
    mu = torch.zeros(n, 2, dtype=torch.float64, requires_grad=True)
    log_diag = torch.full((n, 2), -1.0, dtype=torch.float64, requires_grad=True)
    off = torch.zeros(n, dtype=torch.float64, requires_grad=True)
    params = [mu, log_diag] + ([off] if full else [])
    opt = torch.optim.Adam(params, lr=lr)
    tril = torch.tensor([[0.0, 0.0], [1.0, 0.0]], dtype=torch.float64)

    def chol() -> Tensor:
        lower = torch.diag_embed(log_diag.exp())
        return lower + off[:, None, None] * tril if full else lower

    for t in range(iters):
        for group in opt.param_groups:  # decay the step for a stable end point
            group["lr"] = lr * (0.02 ** (t / iters))
        eps = torch.randn(mc, n, 2, 1, dtype=torch.float64, generator=g)
        z = (mu.unsqueeze(-1) + chol() @ eps).squeeze(-1)  # [mc, n, 2]
        neg_elbo = energy(z.reshape(mc * n, 2)).reshape(mc, n).mean(0) - log_diag.sum(-1)
        opt.zero_grad()
        neg_elbo.sum().backward()
        opt.step()
    return mu.detach(), chol().detach()


def vi_samples(mu: Tensor, chol: Tensor, s: int, seed: int = 0) -> Tensor:
    g = torch.Generator().manual_seed(30_000 + seed)
    eps = torch.randn(s, *mu.shape, 1, dtype=mu.dtype, generator=g)
    return (mu.unsqueeze(-1) + chol @ eps).squeeze(-1)


def run_neural(n_data: int = 32, steps: int = 5000, warmup: int = 500, ref_steps: int = 20000,
               seed: int = 0, out: str | Path | None = None, n_plot: int = 4,
               verbose: bool = True) -> dict:
    if verbose:  # the work below runs minutes before the first result: say what it is
        print(f"neural likelihood: N={n_data}; two MALA references of {ref_steps} steps, then "
              f"ALD and MALA {steps} steps each and two VI fits", flush=True)
    prob = make_neural(n_data, seed=seed)
    ref = reference_samples(prob, steps=ref_steps, seed=seed)
    width = default_feature_dim(n_data)
    feats = tanh_features(prob.x, width, seed=seed + 1)
    s = SamplerSettings("ald", steps=steps, warmup=warmup, thin=max(1, steps // 1000),
                        step_size=0.02, preconditioned=True, feature_dim=width, seed=seed)
    ald = sample_posterior(prob.energy(prob.x), n_data, 2, s, feats)
    s_mala = SamplerSettings("mala", steps=steps, warmup=warmup, thin=max(1, steps // 1000),
                             seed=seed + 7)
    mala = sample_posterior(prob.energy(prob.x), n_data, 2, s_mala)
    n_ref = ref["samples"].shape[0]
    mf, full = fit_vi(prob, full=False, seed=seed), fit_vi(prob, full=True, seed=seed)
    samples = {"ALD (precond.)": ald["samples"], f"MALA ({steps} steps)": mala["samples"],
               "VI mean-field": vi_samples(*mf, n_ref, seed),
               "VI full-cov": vi_samples(*full, n_ref, seed)}
    # floor: a second independent long MALA run against the reference
    ref2 = reference_samples(prob, steps=ref_steps, seed=seed + 1)
    samples["MALA reference, 2nd run"] = ref2["samples"]
    mmd = {k: mmd_per_point(v, ref["samples"]) for k, v in samples.items()}
    report = {"n_data": n_data, "x_dim": prob.x.shape[1], "sigma": prob.sigma, "seed": seed,
              "reference": {"sampler": "mala", "steps": ref_steps, "thin": 20,
                            "acceptance": ref["acceptance"], "step_size": ref["step_size"]},
              "ald": {"steps": steps, "warmup": warmup, "feature_width": width + 1,
                      "acceptance": ald["acceptance"], "step_size": ald["step_size"]},
              "mmd2_mean": {k: float(v.mean()) for k, v in mmd.items()},
              "mmd2_median": {k: float(v.median()) for k, v in mmd.items()},
              "mmd2_per_point": {k: v.tolist() for k, v in mmd.items()}}
    if verbose:
        print(f"D={prob.x.shape[1]} K=2 sigma={prob.sigma}; reference MALA acceptance "
              f"{ref['acceptance']:.2f}")
        for k, v in mmd.items():
            print(f"  {k:26s} MMD^2 to reference: mean {float(v.mean()):.4f}, "
                  f"median {float(v.median()):.4f}")
    if out is not None:
        write_outputs(out, "neural", report,
                      lambda p: plot_neural(prob, ald["samples"], mf, full, p, n_plot),
                      png="neural_posteriors", verbose=verbose)
    return report


def _ellipse(mu: Tensor, chol: Tensor, k: float = 2.0) -> tuple[list, list]:
    t = torch.linspace(0, 2 * math.pi, 100, dtype=torch.float64)
    circle = torch.stack([t.cos(), t.sin()])
    pts = mu[:, None] + k * chol @ circle
    return pts[0].tolist(), pts[1].tolist()


def plot_neural(prob: NeuralProblem, ald: Tensor, mf, full, path: Path, n_plot: int = 4) -> None:
    plt = pyplot()

    n_plot = min(n_plot, ald.shape[1])  # fewer points than panels: one panel each
    fig, axes = plt.subplots(1, n_plot, figsize=(3.2 * n_plot, 3.3), squeeze=False)
    for j, ax in enumerate(axes[0]):
        pts = ald[:, j]
        lo, hi = pts.min(0).values - 0.5, pts.max(0).values + 0.5
        g1 = torch.linspace(float(lo[0]), float(hi[0]), 120, dtype=torch.float64)
        g2 = torch.linspace(float(lo[1]), float(hi[1]), 120, dtype=torch.float64)
        zz = torch.stack(torch.meshgrid(g1, g2, indexing="xy"), -1).reshape(-1, 2)
        u = prob.energy(prob.x[j].expand(len(zz), -1))(zz)
        dens = torch.exp(-(u - u.min())).reshape(120, 120)
        ax.contour(g1, g2, dens, levels=6, colors="k", linewidths=0.7)
        ax.scatter(pts[::2, 0], pts[::2, 1], s=2, alpha=0.3, color="C0", label="ALD")
        ax.plot(*_ellipse(mf[0][j], mf[1][j]), color="C3", label="VI mean-field")
        ax.plot(*_ellipse(full[0][j], full[1][j]), color="C2", label="VI full-cov")
        ax.set_title(f"data point {j}")
        ax.set_xlabel("z1")
    axes[0, 0].set_ylabel("z2")
    axes[0, 0].legend(fontsize=7, loc="best")
    fig.suptitle("Neural likelihood: exact posterior contours, ALD samples, VI 2-sd ellipses",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
