#!/bin/bash
# Issue 29 scope 5, continued with the new preset (the ALD step held at 5e-8): the converged
# full-MNIST table from the clone /work/full29c (commit below; its .venv is /work/full29b's, with
# PYTHONPATH pointing at this clone). The VAE and Hoffman runs resume as they were (their
# training is unchanged); the former preset's LAE runs are in ../former-preset.
cd /work/full29c
git log --oneline -1
# (waited for /work/eta29/fidelity.sh)
PYTHONPATH=/work/full29c OMP_NUM_THREADS=1 JOBS=1 PAPER_SEEDS=0 DATA_DIR=/work/shared/data/mnist OUT=/work/full29-out \
  taskset -c 1 bash bench/converged_full.sh mnist
