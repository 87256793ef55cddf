#!/bin/bash
# train and validation AIS NLL of the new preset's (feature_norm: batch) checkpoints on full Fashion-MNIST
OMP_NUM_THREADS=1 taskset -c 0 /work/main/.venv/bin/python /work/main/bench/lae_decline.py /work/runs29/fmnist-lae-fnorm-s0 --n 500 \
  --epochs 1,2,3,4,5,6,7,8,9 --out /work/runs29/decline-lae-fnorm-s0.json > /work/runs29/decline-lae-fnorm-s0.log 2>&1
