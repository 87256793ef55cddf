#!/bin/bash
# train and validation AIS NLL (500 images each, M = 2, K = 100) of the preset LAE's odd-epoch checkpoints on full Fashion-MNIST
OMP_NUM_THREADS=1 taskset -c 0 /work/main/.venv/bin/python /work/main/bench/lae_decline.py /work/runs29/fmnist-lae-s0 --n 500 \
  --epochs 1,3,5,7,9,11,13,15 --out /work/runs29/decline-lae-s0.json > /work/runs29/decline-lae-s0.log 2>&1
