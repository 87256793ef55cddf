"""Operators, matrix products (and their FLOPs) and host synchronisations per training step,
of the lae source tree SRC (a checkout of any commit), counted by this tree's
lae/bench/profile.py.

    python bench/step_counts.py MODELS SRC      # e.g. vae,lae,lae+model.mala_steps=0 /tmp/old

Counts ``training_step`` plus the trainer's ``_apply`` (both exist in every commit since the
trainer was written) on the ``<model>-mnist5k-mlp`` presets, batch 100, one thread: 5 profiled
steps after 3 warm-up steps. Used for results/step_counts_before_after.json.
"""

import importlib.util
import sys
import time
from pathlib import Path

models, src = sys.argv[1], str(Path(sys.argv[2]).resolve())
# import lae from SRC, not from the editable install
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, src)
here = Path(__file__).resolve().parents[1] / "lae" / "bench" / "profile.py"
spec = importlib.util.spec_from_file_location("lae_step_profile", here)
profile = importlib.util.module_from_spec(spec)
sys.modules["lae_step_profile"] = profile
spec.loader.exec_module(profile)

import torch  # noqa: E402

import lae  # noqa: E402
from lae.train import Trainer, load_config  # noqa: E402

assert lae.__file__.startswith(src), lae.__file__
torch.set_num_threads(1)
for name in models.split(","):
    model, *overrides = name.split("+")
    cfg = load_config(f"{model}-mnist5k-mlp", ["train.progress=false", "train.num_threads=1",
                                                *overrides])
    trainer = Trainer(cfg, Path("/tmp") / f"lae-step-counts-{model}-{time.time_ns()}")
    x, index = next(iter(trainer.loader))

    def step(trainer=trainer, x=x, index=index):
        trainer._apply(trainer.model.training_step(x, index, trainer.model_generator).losses)

    counts = profile.profile_steps(step).as_dict()
    keys = ("aten_ops_per_step", "aten_ops_all_depths_per_step", "matmuls_per_step",
            "matmul_flops_per_step", "host_syncs_per_step")
    print(name, {k: counts[k] for k in keys}, flush=True)
