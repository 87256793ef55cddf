"""Anomaly detection and inpainting from Python, in a few lines (docs/tasks.md).

Trains a small VAE on the scikit-learn 8x8 digits without the digit 3 (the published
held-out-class split, data.holdout_split=zenati), then scores the test images for anomaly and
fills the centre of some of them. Run: python examples/tasks.py --out runs/tasks
"""

import argparse
from pathlib import Path

import torch

from lae.data import load_dataset
from lae.tasks import anomaly_scores, detection_metrics, inpaint, make_mask
from lae.train import Trainer, load_config, load_run

parser = argparse.ArgumentParser()
parser.add_argument("--out", default="runs/tasks")
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()

cfg = load_config("vae-mnist5k-mlp", ["data.name=digits", "data.holdout_class=3",
                                      "data.holdout_split=zenati", f"train.epochs={args.epochs}",
                                      "model.net.hidden=128", "train.progress=false"])
Trainer(cfg, Path(args.out), overwrite=True).fit()

run = load_run(args.out)  # any run folder of any model works the same way
test = load_dataset(run.config.data)
x, is_anomaly = test.test, test.test_labels == 3

scores = anomaly_scores(run.model, x, "refined", refine_steps=20)
print({k: round(v, 3) for k, v in detection_metrics(is_anomaly, scores).items()})

mask = make_mask("centre", x.shape[1:], len(x), torch.Generator().manual_seed(0))
filled = inpaint(run.model, x, mask, steps=100, generator=torch.Generator().manual_seed(0))
print(f"inpainting, centre square: MSE on the missing pixels {filled.mse_missing.mean():.4f}, "
      f"PSNR {filled.psnr_missing.mean():.2f} dB")
