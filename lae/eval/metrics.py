"""Evaluation metrics, found by name in a registry; units are in the result keys.

Each metric maps (model, data, settings) to named results; a result holds the mean over examples,
its standard error, the number of examples and the settings that produced it, e.g.::

    {"nll_iwae_nats": {"value": 91.3, "stderr": 0.4, "n": 1000, "settings": {"k": 1000}}}

Log-likelihood figures are per image (or per point) in nats; ``_bpd`` keys divide by
(number of dimensions x ln 2) and are given only for discrete 8-bit data, where the likelihood is a
probability mass. MSE is per pixel on the [0, 1] scale whatever the data scale.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from lae.errors import ConfigError
from lae.eval.ais import ADAPT, KERNELS, SCHEDULES, AISDiagnostics, ais_log_px, bdmc
from lae.eval.importance import iwae_log_px, log_importance_weights
from lae.eval.logz import ais_log_normalizer
from lae.eval.registry import (  # noqa: F401 (re-exported: lae.eval.metrics is the front)
    FLAG,
    MAPPING,
    METRICS,
    NEEDS_CONTEXT,
    SHARE,
    TEXT,
    EvalContext,
    EvalSettings,
    NotApplicable,
    Result,
    add_settings_arguments,
    batches,
    echo,
    number,
    numbers,
    one_of,
    or_null,
    register_metric,
    settings_from_arguments,
    summarize,
    text_like,
    whole,
)
from lae.models import LatentModel
from lae.samplers import seeded_global_rng
from lae.samplers.descent import descend


def nll_results(prefix: str, log_px: Tensor, model: LatentModel,
                **settings: Any) -> dict[str, Result]:
    """``{prefix}_nats`` (and ``{prefix}_bpd`` for 8-bit data under a likelihood that is a
    probability mass: bits per dimension of a density on 8-bit data would compare a density with
    masses) from log p(x) estimates [N]."""
    out = {f"{prefix}_nats": summarize(-log_px, **settings)}
    if model.spec.n_bits is not None and model.likelihood.discrete:
        out[f"{prefix}_bpd"] = summarize(-log_px / (model.spec.n_dims * math.log(2)), **settings)
    return out


def _proposal(model: LatentModel) -> tuple[Callable, str]:
    """The model's q(z|x) and a description of it (recorded next to the numbers), for the
    importance-sampled bounds. Under an unnormalised prior log_joint lacks -log Z, so an ELBO or
    IWAE value would be off by the unknown log Z and bound nothing: those are refused."""
    if not model.has_proposal:
        raise NotApplicable(f"model {model.cfg.name!r} has no proposal q(z|x) to importance-sample")
    if not model.prior.normalized:
        raise NotApplicable(f"model.prior={model.cfg.prior!r} is unnormalised: an ELBO or IWAE "
                            "bound would lack -log Z; use nll-ais, which subtracts an AIS "
                            "estimate of log Z")
    return model.proposal, model.proposal_description


# what the importance-sampled bounds' "proposal" says (LatentModel.proposal_description; the
# LAE's names its evaluation sd)
PROPOSAL = text_like(r"learned q\(z\|x\)",
                     r"hand-set N\(Phi g\(x\), [0-9.e+-]+\^2 I\), the authors' evaluation")


@register_metric("iwae", "IWAE-k bound on -log p(x), nats per example (models with q(z|x))",
                 key_prefix="nll_iwae_", settings={"k": echo(whole(1), "k"), "proposal": PROPOSAL})
def iwae_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    proposal, description = _proposal(model)
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed + 4)
    log_px = torch.cat([iwae_log_px(model.log_joint, proposal(xb), xb, s.k, generator=g).cpu()
                        for xb in batches(x, s.batch_size, device, "iwae")])
    return nll_results("nll_iwae", log_px, model, k=s.k, proposal=description)


@register_metric("elbo", "negative ELBO, nats per example (models with q(z|x))",
                 key_prefix="neg_elbo_",
                 settings={"samples_per_example": echo(whole(1), "elbo_samples"),
                           "proposal": PROPOSAL})
def elbo_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    proposal, description = _proposal(model)
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed + 5)
    with torch.no_grad():
        elbo = torch.cat([
            log_importance_weights(model.log_joint, proposal(xb), xb, s.elbo_samples,
                                   g).mean(0).cpu()
            for xb in batches(x, s.batch_size, device, "elbo")])
    return nll_results("neg_elbo", elbo, model, samples_per_example=s.elbo_samples,
                       proposal=description)


@register_metric("langevin-bound", "minus the Langevin lower bound on log p(x) of the model's "
                 "short-run chain, nats per example (short-run models)",
                 key_prefix="nll_langevin_bound_",
                 settings={"draws_per_example": echo(whole(1), "elbo_samples"),
                           "steps": whole(0)})
def langevin_bound_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    if not model.has_langevin_bound:
        raise NotApplicable(f"model {model.cfg.name!r} has no Langevin bound (short-run models "
                            "only)")
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed + 3)
    parts = []
    for xb in batches(x, s.batch_size, device, "langevin-bound"):
        draws = torch.stack([model.bound(xb, generator=g)[0].detach()
                             for _ in range(s.elbo_samples)])
        parts.append(draws.mean(0).cpu())  # each draw is unbiased for the bound
    return nll_results("nll_langevin_bound", torch.cat(parts), model,
                       draws_per_example=s.elbo_samples, steps=model.cfg.n_steps)


def reconstruction_latents(model: LatentModel, x: Tensor, s: EvalSettings,
                           generator: torch.Generator) -> Tensor:
    """The latents [B, K] ``mse`` decodes x [B, ...] from, by ``s.mse_inference`` (see
    :class:`EvalSettings`): the model's ``infer(x)``, the posterior mode found from there, or
    the papers' noise-free Langevin steps from ``infer(x)`` or a prior draw."""
    if s.mse_inference == "noise-free" and s.mse_start == "prior":
        z = model.prior.sample(x.shape[0], generator=generator)
    else:
        with torch.no_grad():
            z = model.infer(x, generator)
    if s.mse_inference == "infer":
        return z
    return descend(lambda z: -model.log_joint(x, z), z, s.mse_steps, s.mse_step_size,
                   adaptive=s.mse_inference == "mode")


# what mse's "inference" setting says, for each --mse-inference (the descriptions above)
MSE_DESCRIPTIONS = (
    r"infer\(\) then decoder mean", r"encode\(\) then decoder mean",  # the second: older files
    r"posterior mode: \d+ backtracking gradient steps on U\(x, z\) from infer\(x\), then "
    r"decoder mean",
    r"\d+ noise-free Langevin steps of size [0-9.e+-]+ from (a prior draw|infer\(x\)), then "
    r"decoder mean")


@register_metric("mse", "reconstruction MSE per pixel on [0, 1], from the model's own infer() "
                 "(--mse-inference: or the posterior mode, or the papers' noise-free steps)",
                 key_prefix="mse_", settings={"inference": text_like(*MSE_DESCRIPTIONS)})
def mse_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed + 6)
    errors = []
    for xb in batches(x, s.batch_size, device, "mse"):
        with torch.no_grad():
            recon = model.decode(reconstruction_latents(model, xb, s, g)).mean
        diff = model.spec.to_unit(recon) - model.spec.to_unit(xb)
        errors.append(diff.pow(2).flatten(1).mean(1).cpu())
    errors = torch.cat(errors)
    if s.mse_inference == "noise-free" and not torch.isfinite(errors).all():
        bad = int((~torch.isfinite(errors)).sum())
        raise ConfigError(f"mse: the noise-free chain diverged on {bad} of {len(errors)} "
                          f"examples at --mse-step-size {s.mse_step_size:g}; use a smaller step")
    # Images are compared on [0, 1]; continuous points (2-D toys) on their own scale; a protocol
    # other than infer() is named in the key, so that results.json keeps each beside the others
    protocol = {"infer": "", "mode": "mode_", "noise-free": "noise_free_"}[s.mse_inference]
    key = f"mse_{protocol}" + ("per_pixel_01" if model.spec.is_image else "per_dim")
    start = "a prior draw" if s.mse_start == "prior" else "infer(x)"
    described = {
        "infer": "infer() then decoder mean",
        "mode": f"posterior mode: {s.mse_steps} backtracking gradient steps on U(x, z) from "
                f"infer(x), then decoder mean",
        "noise-free": f"{s.mse_steps} noise-free Langevin steps of size {s.mse_step_size:g} "
                      f"from {start}, then decoder mean"}[s.mse_inference]
    assert any(re.fullmatch(p, described) for p in MSE_DESCRIPTIONS), described
    return {key: summarize(errors, inference=described)}


def _ais_kwargs(s: EvalSettings) -> dict[str, Any]:
    return {"n_chains": s.ais_chains, "n_temps": s.ais_temps, "schedule": s.ais_schedule,
            "kernel": s.ais_kernel, "n_leapfrog": s.ais_leapfrog,
            "init_step_size": s.ais_step_size, "chunk_size": s.batch_size}


def _ais_settings(diag: AISDiagnostics) -> dict[str, Any]:
    st = diag.settings
    return {"M": st.n_chains, "K": st.n_temps, "schedule": st.schedule, "kernel": st.kernel,
            "leapfrog": st.n_leapfrog, "adapt": st.adapt,
            "target_acceptance": st.target_acceptance,
            "final_mean_acceptance": round(diag.acceptance_final, 4)}


# the settings of the AIS metrics (nll-ais, bdmc): :func:`_ais_settings`
AIS_SETTINGS = {"M": echo(whole(1), "ais_chains"), "K": echo(whole(1), "ais_temps"),
                "schedule": echo(one_of(*SCHEDULES), "ais_schedule"),
                "kernel": echo(one_of(*KERNELS), "ais_kernel"),
                "leapfrog": echo(whole(1), "ais_leapfrog"), "adapt": one_of(*ADAPT),
                "target_acceptance": SHARE, "final_mean_acceptance": SHARE}


def _require_normalized_prior(model: LatentModel) -> None:
    """BDMC simulates data from the model, which needs exact prior draws: an unnormalised prior
    (sampled by a short MCMC chain) has none."""
    if not model.prior.normalized:
        raise NotApplicable(f"model.prior={model.cfg.prior!r} is unnormalised and has no exact "
                            "sampler, so data cannot be simulated with known latents for BDMC")


@register_metric("nll-ais", "AIS estimate (stochastic lower bound on log p(x)) of -log p(x), "
                 "nats per example; any model (with an unnormalised prior: an estimate, minus "
                 "log Z by AIS in latent space)", key_prefix="nll_ais_",
                 settings=AIS_SETTINGS | {
                     "estimate": TEXT, "log_z_converged": FLAG, "log_z_settings": MAPPING,
                     "log_z_nats": number(), "log_z_half_temps_nats": number(),
                     "log_z_check_difference_nats": number(), "log_z_stderr_nats": number(0),
                     "log_z_check_tolerance_nats": number(0)})
def nll_ais_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed)
    prior = model.prior
    if prior.normalized:
        log_px, diag = ais_log_px(prior, model.log_likelihood, x.to(device), generator=g,
                                  progress="nll-ais", **_ais_kwargs(s))
        return nll_results("nll_ais", log_px.cpu(), model, **_ais_settings(diag))
    # p(z) = p~(z) / Z: AIS from the base p_0 to p~(z) p(x|z) estimates log p(x) + log Z
    base = prior.base

    def log_ratio_and_likelihood(xb: Tensor, z: Tensor) -> Tensor:
        return model.log_likelihood(xb, z) + prior.log_prob(z) - base.log_prob(z)

    log_px_plus_log_z, diag = ais_log_px(base, log_ratio_and_likelihood, x.to(device),
                                         generator=g, progress="nll-ais", **_ais_kwargs(s))
    log_z = ais_log_normalizer(prior, n_temps=max(s.ais_temps, 2), generator=g,
                               **{k: v for k, v in _ais_kwargs(s).items()
                                  if k not in ("n_chains", "n_temps", "chunk_size")})
    return nll_results(
        "nll_ais", (log_px_plus_log_z - log_z["log_z"]).cpu(), model, **_ais_settings(diag),
        estimate="log p(x) + log Z (AIS from the prior's base) minus log Z (AIS in latent "
                 "space): the difference of two estimates, not a bound",
        log_z_nats=log_z["log_z"], log_z_stderr_nats=log_z["log_z_stderr"],
        log_z_half_temps_nats=log_z["log_z_half_temps"],
        log_z_check_difference_nats=log_z["check_difference"],
        log_z_check_tolerance_nats=log_z["check_tolerance"],
        log_z_converged=log_z["converged"], log_z_settings=log_z["settings"])


@register_metric("bdmc", "BDMC gap (AIS upper - lower bound on log p(x)) on data simulated "
                 "from the model, nats per example", key_prefix="bdmc_",
                 settings=AIS_SETTINGS | {"n_sim": echo(whole(1), "bdmc_n_sim"), "data": TEXT,
                                          "final_mean_acceptance_reverse": SHARE})
def bdmc_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    _require_normalized_prior(model)
    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed + 1)
    out = bdmc(model, s.bdmc_n_sim, generator=g, progress="bdmc", **_ais_kwargs(s))
    settings = _ais_settings(out["forward"]) | {
        "n_sim": s.bdmc_n_sim, "data": "simulated from the model",
        "final_mean_acceptance_reverse": round(out["reverse"].acceptance_final, 4)}
    return {"bdmc_gap_nats": summarize(out["gap"].cpu(), **settings),
            "bdmc_lower_log_px_nats": summarize(out["lower"].cpu(), **settings),
            "bdmc_upper_log_px_nats": summarize(out["upper"].cpu(), **settings)}


# the posterior metric's settings (and those of files written before its settings were
# renamed: rhat_*, sd_ratio_p10_p90)
POSTERIOR_SETTINGS = {
    "draws": echo(whole(2), "posterior_samples"), "reference": TEXT,
    "rank_rhat_max": number(0), "rank_rhat_median": number(0), "rhat_max": number(0),
    "rhat_median": number(0), "bulk_ess_min": number(0),
    "points_budget_doubled": whole(0), "points_unconverged": whole(0),
    "points_left_out": whole(0), "left_out_when": TEXT, "left_out": MAPPING,
    "inference": one_of("chain", "independent draws"), "verdict": TEXT,
    "variance_ratio_per_dim": numbers(), "over": one_of("point x latent coordinate"),
    "statistic": one_of("median"), "what": TEXT, "p10_p90": numbers(2),
    "sd_ratio_p10_p90": numbers(2), "share_*": SHARE}


@register_metric("posterior", "posterior fidelity: the model's inference against long-run "
                 "per-point MALA on its posterior (sd ratio and mean error in posterior sd over "
                 "point x coordinate, infer(x)'s distance to the posterior mean, variance ratio, "
                 "MMD, shared motion of chains); any model", key_prefix="posterior_",
                 settings=POSTERIOR_SETTINGS)
def posterior_metric(model: LatentModel, x: Tensor, s: EvalSettings) -> dict[str, Result]:
    from lae.eval.posterior import (
        MEAN_ERROR_OK,
        RHAT_KEEP,
        SD_RATIO_OK,
        converged,
        distribution,
        fidelity,
        reference_samples,
        verdict,
        warn_if_unconverged,
    )

    device = next(model.parameters()).device
    g = torch.Generator(device=device).manual_seed(s.seed + 2)
    per_point: dict[str, list[Tensor]] = {}
    rhats, esses, doublings = [], [], []
    for xb in batches(x, s.batch_size, device, "posterior"):
        try:
            draws = model.posterior_samples(xb, s.posterior_samples, generator=g)
        except NotImplementedError:
            raise NotApplicable(f"model {model.cfg.name!r} has no posterior_samples") from None
        # the reference starts from the model's own draws, spread over its S draws, and with
        # "mixed" half of its chains from the prior: if those disagree at the end, R-hat says so
        starts = draws[torch.linspace(0, draws.shape[0] - 1, s.posterior_ref_chains).long()]
        if s.posterior_ref_start == "mixed":
            n_prior = s.posterior_ref_chains // 2
            starts[:n_prior] = model.prior.sample(n_prior * xb.shape[0], generator=g).reshape(
                n_prior, xb.shape[0], -1).to(starts)
        ref = reference_samples(model.log_joint, xb, starts, s.posterior_ref_steps,
                                s.posterior_ref_warmup, generator=g)
        rhats.append(ref.rhat.cpu())
        esses.append(ref.ess.cpu())
        doublings.append(ref.doublings.cpu())
        for key, value in fidelity(draws, ref.samples, is_chain=model.inference_is_chain).items():
            per_point.setdefault(key, []).append(value.detach().cpu())
        # the one code a user gets (MSE, probe, interpolation use it), in posterior sd
        with torch.no_grad():
            code = model.infer(xb, generator=g)
        per_point.setdefault("infer_error_per_dim", []).append(
            ((code - ref.samples.mean(0)).abs() / ref.samples.std(0)).detach().cpu())
    stats = {key: torch.cat(v, dim=0) for key, v in per_point.items()}
    rhat, ess, doubled = torch.cat(rhats), torch.cat(esses), torch.cat(doublings)  # [N, K], [N]
    warn_if_unconverged(rhat, ess, s.posterior_ref_chains)
    # a point whose reference chains still disagree after its budget was doubled has no
    # trustworthy reference: left out of the summaries, and named with its R-hat
    worst = rhat.amax(-1)
    keep = worst <= RHAT_KEEP
    if not keep.any():
        raise NotApplicable(f"no point's reference MCMC converged (rank R-hat <= {RHAT_KEEP}); "
                            "raise --posterior-ref-steps or --posterior-ref-warmup")
    stats = {key: (v[keep] if key != "shared_motion" else v) for key, v in stats.items()}
    sd_ratio = distribution(stats["sd_ratio_per_dim"], inside=SD_RATIO_OK)
    mean_error = distribution(stats["mean_error_per_dim"], below=MEAN_ERROR_OK)
    infer_error = distribution(stats["infer_error_per_dim"], below=1)
    left_out = torch.nonzero(~keep).flatten().tolist()
    settings = {
        "draws": s.posterior_samples, "reference": f"MALA with a dense mass matrix, "
        f"{s.posterior_ref_chains} chains x {s.posterior_ref_steps} steps after "
        f"{s.posterior_ref_warmup} warm-up steps (doubled, twice at most, for points that "
        f"did not converge), starts: {s.posterior_ref_start}",
        "rank_rhat_max": round(float(rhat.max()), 4),
        "rank_rhat_median": round(float(worst.median()), 4),
        "bulk_ess_min": round(float(ess.min()), 1),
        "points_budget_doubled": int((doubled > 0).sum()),
        "points_unconverged": int((~converged(rhat, ess, s.posterior_ref_chains)).sum()),
        "points_left_out": len(left_out), "left_out_when": f"rank R-hat > {RHAT_KEEP}",
        "left_out": {str(i): round(float(worst[i]), 4) for i in left_out},  # point: R-hat
        "inference": "chain" if model.inference_is_chain else "independent draws",
        "verdict": verdict(mean_error["median"], sd_ratio["median"]),
        "variance_ratio_per_dim": [round(float(r), 4) for r in
                                   stats["variance_ratio_per_dim"].log().mean(0).exp()],
    }
    n_pairs = stats["sd_ratio_per_dim"].numel()
    out = {f"posterior_{key}": summarize(stats[key], **settings)
           for key in ("mean_error_sd", "variance_ratio", "mmd")}
    out["posterior_sd_ratio"] = _median_result(sd_ratio, n_pairs, settings)
    out["posterior_mean_error_median_sd"] = _median_result(mean_error, n_pairs, settings)
    out["posterior_infer_error_median_sd"] = _median_result(
        infer_error, n_pairs, settings, what="|infer(x) - reference mean| / reference sd")
    if "shared_motion" in stats:
        out["posterior_shared_motion"] = summarize(stats["shared_motion"], **settings)
    return out


def _median_result(dist: dict[str, float], n_pairs: int, settings: dict[str, Any],
                   **extra: Any) -> Result:
    """A Result whose value is the median of a :func:`lae.eval.posterior.distribution` over
    point x coordinate pairs, its percentiles and shares in the settings (no standard error)."""
    shares = {k: round(v, 4) for k, v in dist.items() if k.startswith("share_")}
    return {"value": dist["median"], "stderr": float("nan"), "n": n_pairs,
            "settings": settings | {"over": "point x latent coordinate", "statistic": "median",
                                    **extra, "p10_p90": [round(dist["p10"], 4),
                                                         round(dist["p90"], 4)], **shares}}


@register_metric("fd", "FD-classifier: Frechet distance between features of model samples and "
                 "test images in a classifier trained on the training split (not FID); "
                 "labelled image data", key_prefix="fd_", needs_context=True, settings={
                     "units": TEXT, "recipe": TEXT, "weights": TEXT, "feature_dim": whole(1),
                     "n_samples": whole(1), "n_test_images_in_fd": whole(1),
                     "n_test_images": whole(1),  # older files' name of the one before
                     "classifier_test_accuracy": or_null(SHARE), "fd_train_vs_test": number(0),
                     "stderr": TEXT})
def fd_metric(model: LatentModel, x: Tensor, s: EvalSettings,
              ctx: EvalContext) -> dict[str, Result]:
    from lae.eval.fd import fd_metric as run

    return run(model, x, s, ctx)


@register_metric("probe", "linear-probe (logistic regression) test accuracy of latent codes "
                 "from encode(); labelled data", key_prefix="probe_", needs_context=True,
                 settings={"n_train": whole(2), "C": echo(number(0), "probe_C"),
                           "max_iter": echo(whole(1), "probe_max_iter"),
                           "features": TEXT, "classifier": TEXT})
def probe_metric(model: LatentModel, x: Tensor, s: EvalSettings,
                 ctx: EvalContext) -> dict[str, Result]:
    from lae.eval.probe import probe_metric as run

    return run(model, x, s, ctx)


@register_metric("interp", "latent interpolation grid PNG (linear in z, decoder means) between "
                 "pairs of test images; image data and an output folder",
                 key_prefix="interp_", needs_context=True,
                 settings={"path": TEXT, "steps": echo(whole(2), "interp_steps"), "pairs": TEXT,
                           "inference": TEXT})
def interp_metric(model: LatentModel, x: Tensor, s: EvalSettings,
                  ctx: EvalContext) -> dict[str, Result]:
    from lae.eval.interpolate import interp_metric as run

    return run(model, x, s, ctx)


def evaluate(model: LatentModel, x: Tensor, names: list[str],
             settings: EvalSettings | None = None, *,
             train: tuple[Tensor, Tensor | None] | None = None,
             test_labels: Tensor | None = None,
             out_dir: Path | str | None = None) -> dict[str, Any]:
    """Run the named metrics on data x [N, *shape]; returns ``{"metrics": ..., "skipped": ...}``.

    ``train`` = (train_x, train_labels) and ``test_labels`` (rows matching x) are needed by
    ``fd`` and ``probe``, ``out_dir`` by ``interp``; without them those metrics are skipped.

    Randomness comes from a generator seeded with ``settings.seed`` inside a forked RNG, so the
    numbers are reproducible and the caller's random stream (e.g. training) is left untouched.
    """
    settings = settings or EvalSettings()
    ctx = EvalContext(train_x=None if train is None else train[0],
                      train_labels=None if train is None else train[1],
                      test_labels=test_labels,
                      out_dir=None if out_dir is None else Path(out_dir))
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; choices: {', '.join(sorted(METRICS))}")
    metrics: dict[str, Result] = {}
    skipped: dict[str, str] = {}
    was_training = model.training
    model.eval()
    try:
        with seeded_global_rng(settings.seed):
            for name in names:
                try:
                    fn = METRICS[name][0]
                    if name in NEEDS_CONTEXT:
                        metrics.update(fn(model, x, settings, ctx))
                    else:
                        metrics.update(fn(model, x, settings))
                except NotApplicable as exc:
                    skipped[name] = str(exc)
    finally:
        model.train(was_training)
    for result in metrics.values():  # each number says what it was computed from, also
        if isinstance(result, dict):  # after a later lae eval merged other metrics beside it
            own = result.get("settings", {})  # BDMC's points are simulated (n_sim), not x
            result["settings"] = {**own, "seed": settings.seed,
                                  **({} if "n_sim" in own else {"n_examples": int(x.shape[0])})}
    return {"metrics": metrics, "skipped": skipped, "settings": asdict(settings),
            "n_examples": int(x.shape[0])}
