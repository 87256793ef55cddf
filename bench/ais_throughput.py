"""Decoder throughput inside AIS vs the machine's plain matmul throughput, in one run.

    python bench/ais_throughput.py [--chains 1024] [--temps 30] [--threads 1] [--out FILE]

The authors' MLP decoder (lae.nn.build_decoder(NetConfig(), 8, (1, 28, 28)): 8 -> 3 x 1024
(Linear, LayerNorm, ReLU) -> 784, Bernoulli likelihood) on random binary x, AIS with B*M chains
batched. Decoder FLOPs per energy-and-gradient evaluation and chain: forward 2 sum(in*out) over
the Linear layers plus the backward to the input (weights are not differentiated), another
2 sum(in*out); elementwise work (LayerNorm, ReLU, likelihood) is not counted. Achieved decoder
FLOP/s = evaluations x chains x FLOPs / AIS wall time (everything AIS does included). Reference:
torch.mm of two 2048 x 2048 float32 matrices, same threads, same process.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from lae.distributions import StandardNormalPrior, build_likelihood
from lae.eval.ais import ais_log_px
from lae.nn import NetConfig, build_decoder


def matmul_flops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        best = min(best, (time.perf_counter() - t) / reps)
    return 2 * n**3 / best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chains", type=int, default=1024, help="B*M chains per chunk")
    ap.add_argument("--m", type=int, default=16, help="chains per data point")
    ap.add_argument("--temps", type=int, default=30)
    ap.add_argument("--leapfrog", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="results/ais_throughput.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    decoder = build_decoder(NetConfig(), 8, (1, 28, 28)).eval()
    likelihood = build_likelihood("bernoulli", (1, 28, 28))
    prior = StandardNormalPrior(8)
    lin = [m for m in decoder.modules() if isinstance(m, torch.nn.Linear)]
    fwd = sum(2 * m.in_features * m.out_features for m in lin)
    flops_per_eval = 2 * fwd  # forward + backward to the input

    def log_likelihood(x, z):
        return likelihood(decoder(z)).log_prob(x)

    b = args.chains // args.m
    x = torch.bernoulli(torch.full((b, 1, 28, 28), 0.3))
    kw = dict(n_chains=args.m, n_temps=args.temps, n_leapfrog=args.leapfrog, chunk_size=b,
              adapt="none", init_step_size=0.05)
    ais_log_px(prior, log_likelihood, x, **(kw | {"n_temps": 3}))  # warm-up
    mm_before = matmul_flops()
    t = time.perf_counter()
    _, diag = ais_log_px(prior, log_likelihood, x, generator=torch.Generator().manual_seed(0),
                         **kw)
    seconds = time.perf_counter() - t
    mm_after = matmul_flops()
    evals = diag.grad_evals_per_chain * b * args.m
    achieved = evals * flops_per_eval / seconds
    mm = max(mm_before, mm_after)
    result = {
        "command": "python " + " ".join(sys.argv),
        "decoder": "build_decoder(NetConfig(), 8, (1, 28, 28)): 8-1024-1024-1024-784, "
                   "LayerNorm+ReLU, Bernoulli",
        "settings": {"chains": b * args.m, "M": args.m, "temps": args.temps,
                     "leapfrog": args.leapfrog, "threads": args.threads, "dtype": "float32",
                     "adapt": "none (no pilot in the timed run)"},
        "decoder_flops_per_eval_per_chain": flops_per_eval,
        "energy_grad_evals": evals, "ais_seconds": seconds,
        "ais_decoder_gflops": achieved / 1e9,
        "matmul_gflops_2048": mm / 1e9, "matmul_gflops_before_after": [mm_before / 1e9,
                                                                       mm_after / 1e9],
        "ratio": achieved / mm, "target_ratio": 0.5,
        "machine": {"cpu_count": torch.get_num_threads(), "platform": platform.platform(),
                    "torch": torch.__version__, "device": "cpu"},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"AIS decoder throughput {achieved / 1e9:.1f} GFLOP/s vs torch.mm {mm / 1e9:.1f} "
          f"GFLOP/s: ratio {achieved / mm:.2f} ({seconds:.1f} s, {evals} evaluations)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
