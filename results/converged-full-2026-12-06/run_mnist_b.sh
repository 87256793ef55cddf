#!/bin/bash
# Issue 29 scope 5, restarted: the converged full-MNIST table with early stopping on AIS 1 x 500
# (clone /work/full29b @ e1d7c7d). The VAE seed 0 (IWAE early stopping, unchanged) is kept; the
# LAE seed 0 stopped on AIS 1 x 40 is in set-aside/lae-seed0-ais40.
cd /work/full29b
OMP_NUM_THREADS=1 JOBS=1 DATA_DIR=/work/shared/data/mnist OUT=/work/full29-out taskset -c 1 bash bench/converged_full.sh mnist
