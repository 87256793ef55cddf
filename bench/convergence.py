"""Regenerate the convergence measurements of docs/toys.md (lae/toy/convergence.py).

    .venv/bin/python bench/convergence.py [--quick]

Writes results/convergence_{linear,linear_fullbatch,neural}.json (settings, command and
curves) and docs/figures/convergence_{...}.png. Each run takes a few minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from lae.toy.convergence import run_convergence

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    # name: (toy, settings)
    "linear": ("linear", {"n_data": 1000, "batch": 100, "width": 256, "epochs": 2000}),
    "linear_fullbatch": ("linear", {"n_data": 100, "batch": 100, "width": 256, "epochs": 2000}),
    # Feature width >= N: one Phi can then give every point of the data set its own posterior.
    "linear_wide": ("linear", {"n_data": 1000, "batch": 100, "width": 2048, "epochs": 2000}),
    # Fixed step sizes from the adapted values of `lae toy neural` (MALA 0.028 per point; ALD's one
    # joint MH test over a batch of 100 needs smaller steps); the defaults gave ~0 acceptance.
    "neural": ("neural", {"n_data": 200, "batch": 100, "width": 256, "epochs": 1000,
                          "steps": {"LD": 0.005, "MALA": 0.028, "ALD precond.": 0.002,
                                    "ALD plain": 1e-7}}),
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10x fewer epochs (smoke test)")
    ap.add_argument("--only", nargs="*", default=list(CASES))
    args = ap.parse_args()
    tmp = ROOT / "bench" / "results" / "_tmp"
    for name in args.only:
        toy, kw = CASES[name]
        kw = dict(kw)
        if args.quick:
            kw["epochs"] //= 10
        t0 = time.perf_counter()
        result = run_convergence(toy, out=tmp, **kw)
        result["command"] = "python bench/convergence.py " + " ".join(sys.argv[1:])
        result["total_seconds"] = time.perf_counter() - t0
        (ROOT / "bench" / "results" / f"convergence_{name}.json").write_text(
            json.dumps(result, indent=1))
        shutil.copy(tmp / f"convergence_{toy}.png",
                    ROOT / "docs" / "figures" / f"convergence_{name}.png")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
