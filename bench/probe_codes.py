"""Is a falling probe accuracy the inference or the decoder? The linear probe on three codes.

    python bench/probe_codes.py RUN_DIR --epochs 5,30 [--train-images 1000] [--out FILE]

At each epoch checkpoint, codes of ``--train-images`` evenly spaced training images (the
probe's fit) and of every test image, three ways:

- ``infer``: what ``lae eval --metrics probe`` uses, ``model.infer(x)`` (one short-run chain's
  end for short-run models, q's mean for a VAE);
- ``chain_mean``: the mean of 16 draws of ``model.posterior_samples`` (the model's own inference,
  its noise averaged out);
- ``mode``: the posterior mode of U(x, z) = -log p(x, z), by Adam from the ``infer`` code (300
  steps, lr 0.02), which no inference error reaches.

If the probe on the modes holds while the probe on ``infer`` falls, the decoder still encodes
the class and the model's inference no longer finds it; if both fall, the decoder stopped
encoding it. One thread; prints one line per checkpoint and writes JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from shortrun_collapse import mode  # noqa: E402  (bench/ is the script's folder)

from lae.data import load_dataset
from lae.eval.probe import encode_all, probe_accuracy
from lae.train import load_run


def codes(model, x: torch.Tensor, how: str, batch: int = 500) -> np.ndarray:
    if how == "infer":
        return encode_all(model, x, batch, seed=7)
    out = []
    g = torch.Generator().manual_seed(7)
    for i in range(0, x.shape[0], batch):
        xb = x[i:i + batch]
        if how == "chain_mean":
            out.append(model.posterior_samples(xb, 16, generator=g).mean(0).detach())
        else:
            start = model.infer(xb, generator=g).detach()
            out.append(mode(lambda z, xb=xb: -model.log_joint(xb, z), start))
    return torch.cat(out).double().numpy()


def measure(run_dir: Path, checkpoint: str, n_train: int) -> dict:
    run = load_run(run_dir, checkpoint=checkpoint)
    model = run.model.eval()
    splits = load_dataset(run.config.data)
    idx = torch.linspace(0, splits.train.shape[0] - 1, n_train).round().long()
    x_train, y_train = splits.train[idx], np.asarray(splits.train_labels)[idx.numpy()]
    x_test, y_test = splits.test, np.asarray(splits.test_labels)
    record = {"checkpoint": checkpoint, "epoch": run.epoch, "train_images": n_train,
              "test_images": int(x_test.shape[0])}
    for how in ("infer", "chain_mean", "mode"):
        correct = probe_accuracy(codes(model, x_train, how), y_train, codes(model, x_test, how),
                                 y_test)
        record[f"probe_accuracy_{how}"] = float(correct.mean())
        record[f"probe_accuracy_{how}_stderr"] = float(correct.std() / np.sqrt(len(correct)))
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--epochs", required=True, help="comma-separated epochs")
    parser.add_argument("--train-images", type=int, default=1000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    records = []
    for epoch in args.epochs.split(","):
        records.append(measure(Path(args.run_dir), epoch, args.train_images))
        print(json.dumps(records[-1]), flush=True)
    out = Path(args.out) if args.out else Path(args.run_dir) / "probe_codes.json"
    out.write_text(json.dumps({"command": f"python bench/probe_codes.py {args.run_dir} --epochs "
                                          f"{args.epochs} --train-images {args.train_images}",
                               "records": records}, indent=2) + "\n")


if __name__ == "__main__":
    main()
