#!/usr/bin/env bash
# Images per second and seconds per epoch of the VAE and the default LAE (MNIST-5k MLP presets)
# on one process and on two (gloo, lae train --nproc 2), on this machine's CPU:
#   1 process x 1 thread, batch 100 | 2 processes x 1 thread, batch 100 each (global 200) |
#   1 process x 2 threads, batch 200 (the same global batch on one process).
# Usage: bash bench/distributed_scaling.sh OUT [EPOCHS]   (then bench/distributed_scaling_summary.py OUT)
set -euo pipefail
OUT=${1:?out folder}; EPOCHS=${2:-2}
LAE=${LAE:-.venv/bin/lae}
mkdir -p "$OUT"
common=(--train.epochs="$EPOCHS" --train.progress=false --train.log_every=10 --train.eval_size=100 --train.eval_k=2 --train.n_samples=16)
for model in vae lae; do
  preset=$model-mnist5k-mlp
  $LAE train $preset --out "$OUT/$model-1x1-b100" --overwrite "${common[@]}" --train.num_threads=1 --train.batch_size=100
  $LAE train $preset --out "$OUT/$model-2x1-b100" --overwrite --nproc 2 "${common[@]}" --train.num_threads=1 --train.batch_size=100
  $LAE train $preset --out "$OUT/$model-1x2-b200" --overwrite "${common[@]}" --train.num_threads=2 --train.batch_size=200
done
