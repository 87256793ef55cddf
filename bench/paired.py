"""The paired difference of one metric between two lae eval results files scored on the same
examples: mean of (A - B) over the examples, with its standard error.

    python bench/paired.py RUN_A/results.json RUN_B/results.json --key nll_ais_bpd
"""
import argparse
import json
import sys
from pathlib import Path

from lae.errors import RunDirError
from lae.eval.results import paired_difference, read_results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a", type=Path)
    ap.add_argument("b", type=Path)
    ap.add_argument("--key", required=True, help="the metric, e.g. nll_ais_bpd")
    args = ap.parse_args()
    try:
        out = paired_difference(read_results(args.a), read_results(args.b), args.key)
    except RunDirError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"a": str(args.a), "b": str(args.b), "key": args.key, **out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
