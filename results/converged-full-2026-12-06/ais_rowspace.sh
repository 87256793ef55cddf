#!/bin/bash
# Issue 29: the row-space-noise run's last checkpoint (epoch 14) by AIS 4 x 1000 on the same 200
# test images as the preset's (1.620 at its epoch 15): its effect read with an unbiased estimator.
cd /work/full29
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python -m lae.cli eval /work/decline29/lae-rowspace-s0 \
  --checkpoint last --metrics nll-ais --n-examples 200 --ais-chains 4 --ais-temps 1000 \
  --data-dir /work/shared/data/mnist --out /work/decline29/lae-rowspace-last-ais.json
