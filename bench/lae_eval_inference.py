"""Does the LAE's evaluation-time inference sample each posterior, and what does the amortized
start buy? Per checkpoint of an LAE run:

    python bench/lae_eval_inference.py RUN_DIR --checkpoints 1,5 [--n-examples 20]
        [--warmups 25,50,100,200,400] [--out FILE]

On N evenly spaced test images: the posterior-fidelity reference (lae/eval/posterior.py: 4
chains, 2 from the model's own start and 2 from the prior, 1500 + 1500 MALA steps with a dense
mass, budget doubled where R-hat or ESS fail; images whose worst R-hat stays above 1.1 are left
out), then for each inference:

- ``chain``: the training chain continued (eval_inference "chain", today's preset);
- ``mala-amortized-W``: eval_inference "mala" with eval_warmup W, started from Phi g(x);
- ``mala-prior-W``: the same sampler started from a prior draw instead (what amortization buys);

200 draws per image (every ``--thin``-th step, default 2), and infer(x) (the mean of 20 kept
steps after the same warm-up), scored per image x coordinate against the reference: the sd
ratio, the mean error and infer's error in posterior sd (median, 10th and 90th percentiles,
share inside the bands), and the cost in decoder passes (forward and backward) per image. One
thread.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import torch

from lae.data import evenly_spaced, load_dataset
from lae.eval.posterior import RHAT_KEEP, distribution, fidelity, reference_samples
from lae.samplers.adaptive import adaptive_mala, posterior_energy
from lae.train import load_run

DRAWS, INFER_STEPS = 200, 20


def scores(draws: torch.Tensor, code: torch.Tensor, ref: torch.Tensor, keep: torch.Tensor
           ) -> dict:
    """Distributions over kept image x coordinate of the sd ratio, mean error and infer error."""
    stats = fidelity(draws, ref)
    infer_error = (code - ref.mean(0)).abs() / ref.std(0)
    return {"sd_ratio": distribution(stats["sd_ratio_per_dim"][keep], inside=(0.8, 1.25)),
            "sd_ratio_inside_0.6_1.6": distribution(stats["sd_ratio_per_dim"][keep],
                                                    inside=(0.6, 1.6))["share_inside_0.6_1.6"],
            "mean_error_sd": distribution(stats["mean_error_per_dim"][keep], below=0.5),
            "infer_error_sd": distribution(infer_error[keep], below=1.0)}


def mala(model, x: torch.Tensor, start: torch.Tensor, warmup: int, thin: int,
         g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(200 draws [S, B, K], infer(x) [B, K]) of the evaluation-time sampler from start."""
    energy = posterior_energy(model.log_joint, x, 1)
    draws = adaptive_mala(energy, start[None], DRAWS * thin, warmup=warmup, thin=thin,
                          generator=g).samples[:, 0]
    code = adaptive_mala(energy, start[None], INFER_STEPS, warmup=warmup,
                         generator=g).samples[:, 0].mean(0)
    return draws, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--checkpoints", default="1,5")
    parser.add_argument("--n-examples", type=int, default=20)
    parser.add_argument("--warmups", default="25,50,100,200,400")
    parser.add_argument("--thin", type=int, default=2)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    record = {"command": "python bench/lae_eval_inference.py " + " ".join(
        a for a in [args.run_dir, f"--checkpoints {args.checkpoints}",
                    f"--n-examples {args.n_examples}", f"--warmups {args.warmups}",
                    f"--thin {args.thin}"]),
              "draws": DRAWS, "thin": args.thin, "infer_steps": INFER_STEPS, "checkpoints": {}}
    for ckpt in args.checkpoints.split(","):
        run = load_run(Path(args.run_dir), checkpoint=ckpt)
        model = run.model.eval()
        x = evenly_spaced(load_dataset(run.config.data).test, args.n_examples)
        g = torch.Generator().manual_seed(0)
        start = model.chain_latents(x).detach()
        prior_start = model.prior.sample(x.shape[0], generator=g).to(start)
        z0 = torch.stack([start, start + 0.01 * torch.randn(start.shape, generator=g),
                          prior_start, model.prior.sample(x.shape[0], generator=g).to(start)])
        ref = reference_samples(model.log_joint, x, z0, 1500, 1500, generator=g)
        keep = ref.rhat.amax(-1) <= RHAT_KEEP
        out = {"images": int(x.shape[0]), "images_left_out": int((~keep).sum()),
               "reference_rank_rhat_max": float(ref.rhat.max()), "inference": {}}
        chain_model = replace(model.cfg, eval_inference="chain")
        model.cfg = chain_model
        with torch.no_grad():
            chain_draws = model.posterior_samples(x, DRAWS, generator=g)
            chain_code = model.infer(x, generator=g)
        # DRAWS warm-up and DRAWS kept ALD transitions, each refined by mala_steps MALA steps
        cost = 2 * DRAWS + DRAWS * model.cfg.mala_steps
        out["inference"]["chain"] = scores(chain_draws, chain_code, ref.samples, keep) | {
            "decoder_passes_per_image_draws": cost,
            "decoder_passes_per_image_infer": model.cfg.infer_steps}
        for warmup in map(int, args.warmups.split(",")):
            for name, z in (("amortized", start), ("prior", prior_start)):
                draws, code = mala(model, x, z, warmup, args.thin, g)
                out["inference"][f"mala-{name}-{warmup}"] = scores(
                    draws, code, ref.samples, keep) | {
                    "decoder_passes_per_image_draws": warmup + DRAWS * args.thin,
                    "decoder_passes_per_image_infer": warmup + INFER_STEPS}
        record["checkpoints"][ckpt] = out
        print(ckpt, json.dumps({k: (v["sd_ratio"]["median"], v["mean_error_sd"]["median"],
                                    v["infer_error_sd"]["median"])
                                for k, v in out["inference"].items()}), flush=True)
    text = json.dumps(record, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
