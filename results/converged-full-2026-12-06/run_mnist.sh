#!/bin/bash
# Issue 29 scope 5: the converged full-MNIST table, one run at a time on core 1 (clone /work/full29 @ d9ca630)
cd /work/full29
OMP_NUM_THREADS=1 JOBS=1 DATA_DIR=/work/shared/data/mnist OUT=/work/full29-out taskset -c 1 bash bench/converged_full.sh mnist
