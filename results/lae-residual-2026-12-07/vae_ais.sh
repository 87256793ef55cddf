#!/bin/bash
# Issue 29: the table's VAE rows (results written before lae eval kept per-example values) scored
# again by the table's AIS (4 x 1000, seed 0, 200 evenly spaced test images, best checkpoint),
# per example, for paired differences with the LAE and Hoffman rows. Code: a clone of the
# repository at 19de7b7 with its .venv, in $CLONE. Usage:
#   CLONE=... TABLE=OUT/mnist/presets (bench/converged_full.sh's) OUT=... MNIST_DIR=... bash vae_ais.sh
cd $CLONE && git log --oneline -1
export PYTHONPATH=$CLONE
P=$TABLE
for s in ${SEEDS:-0 1}; do
  o=$OUT/vae-seed$s-ais.json; [ -f $o ] && continue
  OMP_NUM_THREADS=1 taskset -c 1 $CLONE/.venv/bin/python -m lae.cli eval $P/vae-seed$s --checkpoint best --metrics nll-ais \
    --n-examples 200 --ais-chains 4 --ais-temps 1000 --data-dir $MNIST_DIR --out $o \
    > ${o%.json}.log 2>&1
done
date; echo done
