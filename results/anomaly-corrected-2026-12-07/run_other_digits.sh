#!/bin/bash
# Issue 32: the best score (complexity) on the other five held-out digits (0 2 3 6 8), the VAE
# preset, 3 epochs, seeds 0 1 (time), as run.sh otherwise; /work/main at its commit (below).
cd /work/main
git log --oneline -1
OMP_NUM_THREADS=1 LAE=/work/main/.venv/bin/lae SCORES="complexity" K=20 DIGITS="0 2 3 6 8" \
  ANOMALY_FLAGS="--n-examples 5000" \
  taskset -c 0 bash bench/anomaly_table.sh vae /work/anom32/out-ten 3 "0 1" \
  --data.name=mnist --data.data_dir=/work/shared/data/mnist
