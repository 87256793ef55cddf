"""``lae toy {posterior,neural,energy,capacity,convergence,likelihood,shortrun,ebm-logz}``: argument
parsing only.

Wiring (lae/cli.py): ``add_toy_commands(sub)`` in ``build_parser`` and
``"toy": lambda: args.toy_func(args)`` in ``main``'s command table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lae.argtypes import (
    COUNT_MAX,
    THREADS_MAX,
    count,
    file_path_text,
    path_text,
    positive_number,
    seed,
)
from lae.errors import ConfigError

# the toys' counts (sizes, steps, chains): at least 1 (0 for warm-up), at most COUNT_MAX, and
# their scales finite and > 0, checked by the parser
COUNT, COUNT_OR_0 = count(1, COUNT_MAX), count(0, COUNT_MAX)
# the toys whose ALD features are N x max(2N, 128) (memory and each step's work grow as N^2):
# at most 4096 points, 134 MB of features
N_DATA_ALD = count(1, 4096)


def _check_out_folder(args: argparse.Namespace, name: str, png: str | None = None) -> None:
    """The folder-writing toys' --out: a folder (made if missing), where the toy's report
    ``name.json`` and picture (``png`` or ``name``.png) are new unless --overwrite: checked
    before the work."""
    from lae.files import check_creatable, refuse_existing

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; this toy writes a folder of results")
    check_creatable(out)
    refuse_existing([out / f"{name}.json", out / f"{png or name}.png"], args.overwrite)


def _refuse_existing_outputs(npz: str | None, out: str | None, flag: str = "--save") -> None:
    """The npz and JSON report a toy would write must be new: a user's files are not replaced
    unasked (and the check comes before the experiment, not after it). ``flag``: the toy's
    option for the npz."""
    from lae.files import check_creatable
    from lae.toy.output import output_paths

    npz_path, json_path = output_paths(npz, out)
    for path, option in ((npz_path, flag), (json_path, "--out")):
        if path is not None:
            check_creatable(path, option)
    if npz_path is not None and json_path is not None and \
            npz_path.resolve() == json_path.resolve():  # the report would replace the arrays
        raise ConfigError(f"{flag} and --out both name {npz_path}: the JSON report would "
                          f"replace the saved arrays; give --out another file (or leave it out: "
                          f"the report goes next to the npz)")
    existing = [str(p) for p in (npz_path, json_path) if p is not None and p.exists()]
    if existing:
        raise ConfigError(f"{' and '.join(existing)} already exist(s); remove it or choose "
                          f"another {flag} / --out")


# defaults of options read by one sampler or estimator only (_refuse_unread)
POSTERIOR_LEAPFROG, AIS_CHAINS, AIS_TEMPS, AIS_LEAPFROG, IWAE_K = 5, 16, 3000, 1, 1000


def _refuse_unread(what: str, unread: dict[str, bool]) -> None:
    """An error naming the options (those marked True) that ``what`` does not read."""
    given = [option for option, bad in unread.items() if bad]
    if given:
        raise ConfigError(f"{', '.join(given)}: not read by {what}, so it would change nothing "
                          f"(and be recorded as if it had); drop it")


def _refuse_repeated(flag: str, values: list, what: str) -> None:
    """A value given twice would run again: a second, identical row, or a result replaced."""
    if len(set(values)) != len(values):
        raise ConfigError(f"{flag} {' '.join(map(str, values))}: each {what} once (a repeated "
                          f"one runs again and gives a second, identical result)")


def _posterior(args: argparse.Namespace) -> int:
    from lae.toy.linear import SamplerSettings
    from lae.toy.posterior import run_posterior

    if args.thin > args.steps:  # no step would be kept
        raise ConfigError(f"--thin {args.thin} keeps every {args.thin}th of --steps "
                          f"{args.steps}: none; give --thin <= --steps")
    # options another sampler reads: given here they would be recorded but change nothing
    _refuse_unread(args.sampler, {"--no-mh": args.no_mh and args.sampler != "ald",
                                  "--preconditioned": args.preconditioned and args.sampler != "ald",
                                  "--feature-dim": args.feature_dim is not None
                                  and args.sampler != "ald",
                                  "--n-leapfrog": args.n_leapfrog != POSTERIOR_LEAPFROG
                                  and args.sampler != "hmc"})
    s = SamplerSettings(args.sampler, steps=args.steps, warmup=args.warmup, thin=args.thin,
                        step_size=args.step_size, mh=not args.no_mh,
                        preconditioned=args.preconditioned, feature_dim=args.feature_dim,
                        n_leapfrog=args.n_leapfrog, seed=args.seed)
    _refuse_existing_outputs(args.save_samples, args.out, "--save-samples")
    run_posterior(args.n_data, args.x_dim, args.z_dim, args.sigma, s,
                  save_samples=args.save_samples, out=args.out)
    return 0


def _neural(args: argparse.Namespace) -> int:
    from lae.toy.neural import run_neural

    _check_out_folder(args, "neural", "neural_posteriors")
    run_neural(args.n_data, args.steps, args.warmup, args.ref_steps, args.seed, args.out)
    return 0


def _energy(args: argparse.Namespace) -> int:
    from lae.toy.energy import run_energy

    _refuse_repeated("--energies", args.energies, "energy")
    _check_out_folder(args, "energy")
    run_energy(tuple(args.energies), args.n_chains, args.feature_dim, args.steps, args.warmup,
               args.step_size, args.seed, out=args.out)
    return 0


def _capacity(args: argparse.Namespace) -> int:
    from lae.toy.capacity import run_capacity

    _refuse_repeated("--widths", args.widths, "width")
    _check_out_folder(args, "capacity")
    run_capacity(args.n, tuple(args.widths), args.steps, args.warmup, args.step_size,
                 args.seed, out=args.out)
    return 0


def _convergence(args: argparse.Namespace) -> int:
    from lae.toy.convergence import run_convergence

    if args.batch > args.n_data:
        raise ConfigError(f"--batch {args.batch} is more than --n-data {args.n_data}: ALD's "
                          f"minibatches would be the whole data; give --batch <= --n-data")
    _check_out_folder(args, f"convergence_{args.toy}")
    run_convergence(args.toy, out=args.out, n_data=args.n_data, batch=args.batch,
                    width=args.feature_dim, epochs=args.epochs, seed=args.seed)
    return 0


def _likelihood(args: argparse.Namespace) -> int:
    import torch

    from lae.toy.likelihood import run_likelihood

    if args.bdmc and args.estimator != "ais":
        raise ConfigError("--bdmc needs --estimator ais (the BDMC upper bound is reverse AIS)")
    ais, hmc = args.estimator == "ais", args.kernel == "hmc"
    _refuse_unread(f"--estimator {args.estimator}" + (f" --kernel {args.kernel}" if ais else ""),
                   {"--n-chains": args.n_chains != AIS_CHAINS and not ais,
                    "--n-temps": args.n_temps != AIS_TEMPS and not ais,
                    "--kernel": args.kernel != "hmc" and not ais,
                    "--n-leapfrog": args.n_leapfrog != AIS_LEAPFROG and not (ais and hmc),
                    "--k": args.k != IWAE_K and ais})
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    _refuse_existing_outputs(args.save, args.out)
    run_likelihood(args.estimator, args.n_data, args.x_dim, args.z_dim, args.sigma, args.seed,
                   save=args.save, out=args.out, n_chains=args.n_chains, n_temps=args.n_temps,
                   n_leapfrog=args.n_leapfrog, kernel=args.kernel, k=args.k, bdmc=args.bdmc)
    return 0


def _shortrun(args: argparse.Namespace) -> int:
    from lae.toy.shortrun import run_shortrun

    if args.eval_chains < 4:
        raise ConfigError("--eval-chains must be >= 4")
    _refuse_existing_outputs(args.save, args.out)
    run_shortrun(args.n_data, args.x_dim, args.z_dim, args.steps, sigma=args.sigma,
                 seed=args.seed, init_step=args.init_step, per_step=args.per_step,
                 tied_reverse=args.tied_reverse, iters=args.iters, chains=args.chains,
                 eval_chains=args.eval_chains, lr=args.lr, save=args.save, out=args.out)
    return 0


def _ebm_logz(args: argparse.Namespace) -> int:
    from lae.toy.ebm_logz import run_ebm_logz

    if args.replicas < 2 or args.temps < 2:
        raise ConfigError("--replicas and --temps must be >= 2")
    _refuse_existing_outputs(args.save, args.out)
    run_ebm_logz(args.latent_dim, seed=args.seed, base_scale=args.base_scale,
                 n_replicas=args.replicas, n_chains=args.chains, n_temps=args.temps,
                 save=args.save, out=args.out)
    return 0


def _add_seed_and_outputs(p: argparse.ArgumentParser) -> None:
    """--seed, --save FILE.npz and --out (the JSON report), as the npz-writing toys take them."""
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--save", type=file_path_text, default=None, help="FILE.npz")
    p.add_argument("--out", type=file_path_text, default=None,
                   help="JSON report (default: next to the npz)")


def _add_seed_and_folder(p: argparse.ArgumentParser) -> None:
    """--seed, --out FOLDER and --overwrite, as the toys that write a report and a picture
    into a folder take them."""
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--out", type=path_text, default="toy_out")
    p.add_argument("--overwrite", action="store_true", help="replace this toy's report and "
                   "picture in --out")


def add_toy_commands(subparsers) -> argparse.ArgumentParser:
    """Add ``toy`` and its subcommands to an argparse subparsers object; each subcommand sets
    ``args.toy_func`` (call it with ``args``; returns the exit status)."""
    toy = subparsers.add_parser("toy", help="toy validation experiments (docs/toys.md)")
    sub = toy.add_subparsers(dest="toy_command", required=True)

    p = sub.add_parser("posterior", help="sample a linear-Gaussian posterior, score vs exact")
    p.add_argument("--model", choices=["linear-gaussian"], default="linear-gaussian")
    p.add_argument("--sampler", choices=["ald", "ld", "mala", "hmc"], default="ald")
    p.add_argument("--n-data", type=N_DATA_ALD, default=100,
                   help="data points, at most 4096 (ALD's features are N x 2N; default 100)")
    p.add_argument("--x-dim", type=COUNT, default=10)
    p.add_argument("--z-dim", type=COUNT, default=2)
    p.add_argument("--sigma", type=positive_number, default=0.5)
    p.add_argument("--steps", type=COUNT, default=2000)
    p.add_argument("--warmup", type=COUNT_OR_0, default=200,
                   help="discarded; step adapted (MH only)")
    p.add_argument("--thin", type=COUNT, default=1)
    p.add_argument("--step-size", type=positive_number, default=None,
                   help="eta (leapfrog eps for hmc); default per sampler")
    p.add_argument("--no-mh", action="store_true", help="ald: unadjusted")
    p.add_argument("--preconditioned", action="store_true", help="ald: methods.md 1b")
    p.add_argument("--feature-dim", type=COUNT, default=None, help="ald: default max(2N, 128)")
    p.add_argument("--n-leapfrog", type=COUNT, default=POSTERIOR_LEAPFROG, help="hmc")
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--save-samples", type=file_path_text, default=None, help="FILE.npz")
    p.add_argument("--out", type=file_path_text, default=None,
                   help="JSON report (default: next to the npz)")
    p.set_defaults(toy_func=_posterior)

    p = sub.add_parser("neural", help="MLP likelihood: ALD and VI vs a long MALA reference")
    p.add_argument("--n-data", type=N_DATA_ALD, default=32,
                   help="data points, at most 4096 (ALD's features are N x 2N; default 32)")
    p.add_argument("--steps", type=COUNT, default=5000)
    p.add_argument("--warmup", type=COUNT_OR_0, default=500)
    # the reference keeps every 20th step (lae.toy.neural.reference_samples): fewer keep none
    p.add_argument("--ref-steps", type=count(20, COUNT_MAX), default=20000,
                   help="steps of the MALA reference, at least 20 (default 20000)")
    _add_seed_and_folder(p)
    p.set_defaults(toy_func=_neural)

    p = sub.add_parser("energy", help="unconditional ALD on 8 Gaussians and rings")
    p.add_argument("--energies", nargs="+", choices=["8gaussians", "rings"],
                   default=["8gaussians", "rings"])
    # the MMD to the exact samples is unbiased only with 2 chains or more
    p.add_argument("--n-chains", type=count(2, COUNT_MAX), default=500)
    p.add_argument("--feature-dim", type=COUNT, default=512)
    p.add_argument("--steps", type=COUNT, default=2000)
    p.add_argument("--warmup", type=COUNT_OR_0, default=1000)
    p.add_argument("--step-size", type=positive_number, default=0.005)
    _add_seed_and_folder(p)
    p.set_defaults(toy_func=_energy)

    p = sub.add_parser("capacity", help="ALD with feature width d < n, d = n, d > n")
    p.add_argument("--n", type=COUNT, default=64)
    p.add_argument("--widths", type=COUNT, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--steps", type=COUNT, default=3000)
    p.add_argument("--warmup", type=COUNT_OR_0, default=300)
    p.add_argument("--step-size", type=positive_number, default=0.02)
    _add_seed_and_folder(p)
    p.set_defaults(toy_func=_capacity)

    p = sub.add_parser("convergence", help="error vs gradient evaluations and time")
    p.add_argument("--toy", choices=["linear", "neural"], default="linear")
    p.add_argument("--n-data", type=COUNT, default=1000)
    p.add_argument("--batch", type=COUNT, default=100)
    p.add_argument("--feature-dim", type=COUNT, default=256)
    # its error curve is read at log-spaced epochs from the 4th (lae.toy.convergence.checkpoints)
    p.add_argument("--epochs", type=count(4, COUNT_MAX), default=2000,
                   help="epochs, at least 4 (default 2000)")
    _add_seed_and_folder(p)
    p.set_defaults(toy_func=_convergence)

    p = sub.add_parser("likelihood", help="AIS / IWAE log p(x) of a linear-Gaussian vs exact")
    p.add_argument("--model", choices=["linear-gaussian"], default="linear-gaussian")
    p.add_argument("--estimator", choices=["ais", "iwae"], default="ais")
    p.add_argument("--n-data", type=COUNT, default=100)
    p.add_argument("--x-dim", type=COUNT, default=784)
    p.add_argument("--z-dim", type=COUNT, default=8)
    p.add_argument("--sigma", type=positive_number, default=1.0)
    p.add_argument("--n-chains", type=COUNT, default=AIS_CHAINS, help="ais: chains per point (M)")
    p.add_argument("--n-temps", type=COUNT, default=AIS_TEMPS, help="ais: annealing steps (K)")
    p.add_argument("--n-leapfrog", type=COUNT, default=AIS_LEAPFROG,
                   help="ais: leapfrog steps per HMC move")
    p.add_argument("--kernel", choices=["hmc", "mala"], default="hmc")
    p.add_argument("--bdmc", action="store_true",
                   help="ais: also the reverse-AIS (BDMC) upper bound per point, reported and "
                   "saved in the npz as log_px_bdmc_upper (nats)")
    p.add_argument("--k", type=COUNT, default=IWAE_K, help="iwae: importance samples")
    p.add_argument("--threads", type=count(1, THREADS_MAX), default=None,
                   help="torch CPU threads")
    _add_seed_and_outputs(p)
    p.set_defaults(toy_func=_likelihood)

    p = sub.add_parser("shortrun", help="learn short-run Langevin step sizes on a "
                       "linear-Gaussian model; Langevin bound vs exact log p(x)")
    p.add_argument("--model", choices=["linear-gaussian"], default="linear-gaussian")
    p.add_argument("--n-data", type=COUNT, default=100)
    p.add_argument("--x-dim", type=COUNT, default=20)
    p.add_argument("--z-dim", type=COUNT, default=4)
    p.add_argument("--sigma", type=positive_number, default=0.5)
    p.add_argument("--steps", type=COUNT, default=20, help="Langevin steps per chain (S)")
    p.add_argument("--per-step", action="store_true", help="one step size per step (else one)")
    p.add_argument("--tied-reverse", action="store_true",
                   help="reverse kernels use the forward steps (a looser bound); by default "
                   "their drift and variance steps are learned too")
    p.add_argument("--init-step", type=positive_number, default=1e-3, help="starting eta")
    p.add_argument("--iters", type=COUNT, default=300, help="Adam iterations on log eta")
    p.add_argument("--lr", type=positive_number, default=0.05, help="Adam learning rate on log eta")
    p.add_argument("--chains", type=COUNT, default=16, help="chains per point while learning")
    p.add_argument("--eval-chains", type=COUNT, default=256,
                   help="independent chains per point averaged in the saved bounds")
    _add_seed_and_outputs(p)
    p.set_defaults(toy_func=_shortrun)

    p = sub.add_parser("ebm-logz", help="log Z of a latent EBM prior with a random quadratic "
                       "energy by AIS, against the closed form")
    p.add_argument("--latent-dim", type=COUNT, default=8)
    p.add_argument("--base-scale", type=positive_number, default=1.0,
                   help="s0 of the base N(0, s0^2 I)")
    p.add_argument("--replicas", type=COUNT, default=8, help="independent AIS runs (the stderr)")
    p.add_argument("--chains", type=COUNT, default=256, help="chains per AIS run")
    p.add_argument("--temps", type=COUNT, default=1000, help="annealing steps")
    _add_seed_and_outputs(p)
    p.set_defaults(toy_func=_ebm_logz)
    return toy
