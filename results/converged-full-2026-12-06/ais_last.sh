#!/bin/bash
# Issue 29: does the LAE really decline on full MNIST, or only the cheap per-epoch AIS (1 chain x 40
# temperatures) that early stopping reads? The full-MNIST LAE seed 0's last checkpoint (epoch 15)
# scored as its best (epoch 5) was by converged_full.sh: AIS 4 x 1000 on the same 200 test images.
cd /work/full29
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python -m lae.cli eval /work/full29-out/mnist/presets/lae-seed0 \
  --checkpoint last --metrics nll-ais --n-examples 200 --ais-chains 4 --ais-temps 1000 \
  --data-dir /work/shared/data/mnist --out /work/decline29/lae-seed0-last-ais.json
