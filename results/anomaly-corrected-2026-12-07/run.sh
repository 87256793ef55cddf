#!/bin/bash
# Issue 32: the held-out digit table on full MNIST (the leak-free Zenati split of the pooled
# 70,000 images) with the corrected scores. The VAE preset, 3 epochs, seeds 0 1 2, digits
# 1 4 5 7 9; its background model for the likelihood ratio with data.noise_fraction=0.2 (not
# tuned); scored on 5,000 evenly spaced test images with IWAE k = 20.
# Code: the clone /work/anom32/lae at its commit (PYTHONPATH; /work/main's venv).
cd /work/anom32/lae
export PYTHONPATH=/work/anom32/lae OMP_NUM_THREADS=1
LAE=/work/main/.venv/bin/lae SCORES="log-joint nll-iwae complexity" MU=0.2 \
  ANOMALY_FLAGS="--n-examples 5000 --k 20" \
  taskset -c ${CORE:-0} bash bench/anomaly_table.sh vae /work/anom32/out 3 "0 1 2" \
  --data.name=mnist --data.data_dir=/work/shared/data/mnist
