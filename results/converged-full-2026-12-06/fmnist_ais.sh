#!/bin/bash
# Issue 29: was the Fashion-MNIST "decline" of the standardised-feature preset (per-checkpoint
# AIS 2 x 100 on 500 validation images: 3.855 at epoch 3, 3.920 at epoch 9) the estimator's too?
# Both checkpoints by AIS 4 x 1000 on the same 200 test images (clone /work/full29b @ e1d7c7d).
cd /work/full29b
for e in 3 9; do
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python -m lae.cli eval /work/runs29/fmnist-lae-fnorm-s0 \
  --checkpoint $e --metrics nll-ais --n-examples 200 --ais-chains 4 --ais-temps 1000 \
  --out /work/decline29/fmnist-fnorm-epoch$e-ais.json
done
