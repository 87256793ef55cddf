"""Run lae's CLI from the source tree given first, bypassing the editable install's finder:

    python bench/run_lae_from.py SRC train vae-mnist5k-mlp --out RUN ...

(to compare a checkout of an older commit with this one on the same command).
"""
import sys

src = sys.argv.pop(1)
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, src)
import lae  # noqa: E402
from lae.cli import main  # noqa: E402

assert lae.__file__.startswith(src), lae.__file__
sys.exit(main(sys.argv[1:]))
