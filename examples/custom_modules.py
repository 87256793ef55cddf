"""Train lae's VAE with your own encoder and decoder modules, from Python.

    python examples/custom_modules.py --out runs/custom --epochs 3

Your modules plug in through ``register_arch``: a feature network g(x) for the encoder (lae adds
the last linear layer, which the Langevin autoencoder runs its chains on) and a decoder from z to
per-pixel likelihood parameters. Everything else (data, trainer, checkpoints, `lae eval`,
`lae sample`) works unchanged; the run directory can be evaluated with `lae eval` as long as the
module that registers the architecture is imported first (as this script does).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from torch import nn

from lae.nn import NetConfig, register_arch
from lae.train import Trainer, load_config


def small_cnn_features(cfg: NetConfig, in_shape: tuple[int, ...]) -> tuple[nn.Module, int]:
    """g(x): two 3x3 convolutions, then a linear layer of width cfg.hidden."""
    c, h, w = in_shape
    net = nn.Sequential(
        nn.Conv2d(c, 16, 3, padding=1), nn.SiLU(),
        nn.Conv2d(16, 16, 3, padding=1), nn.SiLU(),
        nn.Flatten(), nn.Linear(16 * h * w, cfg.hidden), nn.SiLU(),
    )
    return net, cfg.hidden


def small_decoder(cfg: NetConfig, latent_dim: int, out_shape: tuple[int, ...]) -> nn.Module:
    return nn.Sequential(nn.Linear(latent_dim, cfg.hidden), nn.SiLU(),
                         nn.Linear(cfg.hidden, math.prod(out_shape)), nn.Unflatten(1, out_shape))


register_arch("small-cnn", small_cnn_features, small_decoder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/custom-modules")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args()
    cfg = load_config("vae-mnist5k-mlp", [
        "data.name=digits", "model.net.arch=small-cnn", "model.net.hidden=128",
        f"train.epochs={args.epochs}", "train.eval_size=300", "train.eval_k=20",
    ])
    summary = Trainer(cfg, Path(args.out), overwrite=args.overwrite).fit()
    print(summary)


if __name__ == "__main__":
    main()
