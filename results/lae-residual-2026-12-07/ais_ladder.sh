#!/bin/bash
# Issue 29: is part of the LAE's AIS deficit against the VAE the estimator's? AIS with 1000, 4000
# and 16000 temperatures (2 chains) on the same 50 evenly spaced test images, at the best
# checkpoints of the converged full-MNIST table's VAE, LAE (new preset) and Hoffman, seed 0; the
# paired LAE - VAE difference per K. Code: a clone of the
# repository at 19de7b7 with its .venv, in $CLONE. Usage:
#   CLONE=... TABLE=OUT/mnist/presets (bench/converged_full.sh's) OUT=... MNIST_DIR=... bash ais_ladder.sh
cd $CLONE && git log --oneline -1
export PYTHONPATH=$CLONE OMP_NUM_THREADS=1
P=$TABLE
for k in 1000 4000 16000; do for m in vae lae hoffman; do
  o=$OUT/$m-seed0-k$k.json; [ -f $o ] && continue
  taskset -c ${CORE:-1} $CLONE/.venv/bin/python -m lae.cli eval $P/$m-seed0 --checkpoint best --metrics nll-ais \
    --n-examples 50 --ais-chains 2 --ais-temps $k --data-dir $MNIST_DIR --out $o > ${o%.json}.log 2>&1
done; done
date; echo done
