"""``lae toy energy``: unconditional ALD on 2-D energies (8 Gaussians, rings).

Sampler network h(u) = Psi k(u): fixed inputs u_j ~ N(0, I_64) (j = 1..n, drawn once), fixed
random features k(u) = [tanh(u A + c), 1] of width d >= n (64-D inputs: tanh features of 2-D
inputs are numerically low rank, rank 370 < 500 at d = 513); ALD runs on Psi with
V(Psi) = sum_j E(h(u_j)), so the n rows of K Psi^T are n chains for the price of one network.
Preconditioned ALD without MH (one joint MH test over hundreds of chains would need a tiny
step), i.e. per-chain ULA with step eta in z space. Psi starts random so the chains start spread
as N(0, ~2^2 I). Scored against exact samples of each density: MMD^2 (RBF, median bandwidth)
and, for 8 Gaussians, the mass per mode (exact: 1/8 each).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import Tensor

from lae.samplers import ALD, run_chain
from lae.toy.linear import tanh_features
from lae.toy.metrics import mmd2_rbf
from lae.toy.output import pyplot, write_outputs

MODES = torch.stack([torch.tensor([2 * math.cos(a), 2 * math.sin(a)], dtype=torch.float64)
                     for a in [k * math.pi / 4 for k in range(8)]])
MODE_SD, RADII, RING_SD = 0.2, (1.0, 2.0, 3.0), 0.15


def energy_8gauss(z: Tensor, sd: float = MODE_SD) -> Tensor:
    """-log p(z) + const [B] for z [B, 2]: an equal mixture of N(m, sd^2 I) over the 8 MODES
    (radius 2); its covariance is (2 + sd^2) I and each mode holds 1/8 of the mass."""
    d2 = (z.unsqueeze(1) - MODES.to(z.dtype)).pow(2).sum(-1)  # [B, 8]
    return -torch.logsumexp(-d2 / (2 * sd**2), dim=1)


def nearest_mode(points: Tensor) -> tuple[Tensor, Tensor]:
    """For points [..., 2]: the index [...] of the nearest of the 8 MODES and the squared
    distance [...] to it."""
    d2 = (points[..., None, :] - MODES.to(points.dtype)).pow(2).sum(-1)  # [..., 8]
    return d2.argmin(-1), d2.min(-1).values


def energy_rings(z: Tensor) -> Tensor:
    r = z.pow(2).sum(-1).add(1e-12).sqrt()
    d2 = torch.stack([(r - rk).pow(2) for rk in RADII], 1)
    return -torch.logsumexp(-d2 / (2 * RING_SD**2), dim=1)


def exact_samples(name: str, n: int, generator: torch.Generator) -> Tensor:
    kw = {"dtype": torch.float64, "generator": generator}
    if name == "8gaussians":
        idx = torch.randint(0, 8, (n,), generator=generator)
        return MODES[idx] + MODE_SD * torch.randn(n, 2, **kw)
    # rings: density depends on |z| only, so the radius has density ∝ r exp(-E(r))
    grid = torch.linspace(1e-4, 4.5, 20000, dtype=torch.float64)
    pdf = grid * torch.exp(-energy_rings(torch.stack([grid, torch.zeros_like(grid)], 1)))
    cdf = pdf.cumsum(0) / pdf.sum()
    r = grid[torch.searchsorted(cdf, torch.rand(n, **kw)).clamp(max=len(grid) - 1)]
    theta = 2 * math.pi * torch.rand(n, **kw)
    return torch.stack([r * theta.cos(), r * theta.sin()], 1)


ENERGIES = {"8gaussians": energy_8gauss, "rings": energy_rings}


def run_energy(names=("8gaussians", "rings"), n_chains: int = 500, width: int = 512,
               steps: int = 2000, warmup: int = 1000, step_size: float = 0.005, seed: int = 0,
               u_dim: int = 64,
               out: str | Path | None = None, verbose: bool = True) -> dict:
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(n_chains, u_dim, generator=g, dtype=torch.float64)
    feats = tanh_features(u, width, seed=seed + 1)  # k(u_j), [n, width + 1]
    report = {"n_chains": n_chains, "feature_width": width + 1, "steps": steps, "warmup": warmup,
              "step_size": step_size, "seed": seed, "sampler": "preconditioned ALD, no MH",
              "results": {}}
    traces = {}
    for name in names:
        psi0 = 2.0 * torch.randn(2, width + 1, generator=g, dtype=torch.float64) / math.sqrt(
            float(feats.pow(2).sum(1).mean()))
        ald = ALD(step_size, mh=False, preconditioned=True)
        state = ald.init(psi0, ENERGIES[name], feats)
        _, trace, _ = run_chain(ald, state, ENERGIES[name], steps, warmup=warmup,
                                thin=max(1, steps // 4), generator=g)
        final = trace[-1]
        traces[name] = final
        exact = exact_samples(name, n_chains, g)
        exact2 = exact_samples(name, n_chains, g)
        row = {"mmd2_vs_exact": float(mmd2_rbf(final, exact)),
               "mmd2_exact_vs_exact": float(mmd2_rbf(exact2, exact))}
        if name == "8gaussians":
            near = nearest_mode(final)[0]
            row["mass_per_mode"] = torch.bincount(near, minlength=8).div(n_chains).tolist()
        else:
            r = final.norm(dim=1)
            ring = (r.unsqueeze(1) - torch.tensor(RADII, dtype=r.dtype)).abs().argmin(1)
            rr = exact.norm(dim=1)
            ring_exact = (rr.unsqueeze(1) - torch.tensor(RADII, dtype=r.dtype)).abs().argmin(1)
            row["mass_per_ring"] = torch.bincount(ring, minlength=3).div(n_chains).tolist()
            row["mass_per_ring_exact_samples"] = torch.bincount(
                ring_exact, minlength=3).div(n_chains).tolist()
        report["results"][name] = row
        if verbose:
            print(f"{name}: {n_chains} chains (unconditional ALD, width {width + 1}), "
                  f"{warmup}+{steps} steps, eta {step_size}: MMD^2 vs exact "
                  f"{row['mmd2_vs_exact']:.4f} (exact vs exact {row['mmd2_exact_vs_exact']:.4f})"
                  + "".join(f"; {k} {[round(v, 3) for v in row[k]]}" for k in row
                            if k.startswith("mass")))
    if out is not None:
        write_outputs(out, "energy", report, lambda p: plot_energy(traces, p), verbose=verbose)
    return report


def ald_prior_sampler_on_eight_gaussians(seed: int = 0, sd: float = 0.5, n_chains: int = 100,
                                         steps: int = 1200, warmup: int = 400,
                                         n_exact: int = 200_000) -> dict[str, Tensor]:
    """The amortized ALD prior sampler of ``lae-ebm`` (distributions.ALDPriorSampler: learned
    features, one persistent chain, one joint MH test, adapted step) on the eight Gaussians with
    mode sd ``sd``, every chain started at the origin; ``steps`` transitions, the last
    ``steps - warmup`` scored. Returns the draws ``z`` [T, n_chains, 2], their nearest ``mode``
    [T, n_chains], ``mass`` [8] per mode, ``mean`` [2], ``cov`` [2, 2], ``second_moment``
    (E|z|^2; exact r^2 + 2 sd^2 = 4 + 2 sd^2) and ``spread`` (mean squared distance to the
    nearest mode) beside ``exact_spread`` from ``n_exact`` exact draws."""
    from lae.distributions.priors import ALDPriorSampler

    torch.manual_seed(seed)  # the sampler network's initialisation
    sampler = ALDPriorSampler(2, n_chains=n_chains, width=128, input_dim=16, steps=1,
                              step_size=0.1).double()
    g = torch.Generator().manual_seed(seed + 1)
    draws = []
    for t in range(steps):
        z, _ = sampler.advance(lambda z: energy_8gauss(z, sd), g)
        if t >= warmup:
            draws.append(z)
    z = torch.stack(draws)
    exact = MODES[torch.randint(0, 8, (n_exact,), generator=g)] + sd * torch.randn(
        n_exact, 2, dtype=torch.float64, generator=g)
    mode, d2 = nearest_mode(z)
    return {"z": z, "mode": mode,
            "mass": torch.nn.functional.one_hot(mode, 8).double().mean((0, 1)),
            "mean": z.mean((0, 1)), "cov": z.flatten(0, 1).T.cov(),
            "second_moment": z.pow(2).sum(-1).mean(), "spread": d2.mean(),
            "exact_spread": nearest_mode(exact)[1].mean()}


def plot_energy(samples: dict, path: Path) -> None:
    plt = pyplot()

    fig, axes = plt.subplots(1, len(samples), figsize=(4.2 * len(samples), 4.2), squeeze=False)
    g1 = torch.linspace(-4, 4, 200, dtype=torch.float64)
    zz = torch.stack(torch.meshgrid(g1, g1, indexing="xy"), -1).reshape(-1, 2)
    for ax, (name, pts) in zip(axes[0], samples.items()):
        dens = torch.exp(-ENERGIES[name](zz)).reshape(200, 200)
        ax.contourf(g1, g1, dens, levels=20, cmap="Greys")
        ax.scatter(pts[:, 0], pts[:, 1], s=3, color="C1", alpha=0.6)
        ax.set_title(f"{name}: true density, unconditional ALD ({len(pts)} chains)", fontsize=9)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
