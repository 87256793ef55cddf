#!/bin/bash
# Issue 29: the generalisation gap of the converged full-MNIST VAE and LAE (seed 0), AIS 2 x 500
# on 200 evenly spaced images of the training split and of the test split, best and last checkpoints.
# Code: /work/main (commit with lae eval --split train). CORE=0|1
cd /work/main
for m in vae lae; do for c in best last; do for s in train test; do
  o=/work/gap29/$m-$c-$s.json; [ -f $o ] && continue
  OMP_NUM_THREADS=1 taskset -c ${CORE:-0} .venv/bin/lae eval /work/full29-out/mnist/presets/$m-seed0 \
    --checkpoint $c --split $s --metrics nll-ais --n-examples 200 --ais-chains 2 --ais-temps 500 \
    --data-dir /work/shared/data/mnist --out $o > /work/gap29/$m-$c-$s.log 2>&1
done; done; done
