#!/bin/bash
# Issue 29: the new preset's full-MNIST LAE (seed 0, the table's run, clone /work/full29c) at its
# best checkpoint, AIS 2 x 500 on the same 200 test and training images as the VAE's gap/ files,
# for paired differences. Code: /work/main at the commit printed.
cd /work/main && git log --oneline -1
for s in test train; do
  o=/work/gap29c/lae-newpreset-best-$s.json; [ -f $o ] && continue
  OMP_NUM_THREADS=1 taskset -c 1 nice -n 5 .venv/bin/lae eval /work/full29-out/mnist/presets/lae-seed0 \
    --checkpoint best --split $s --metrics nll-ais --n-examples 200 --ais-chains 2 --ais-temps 500 \
    --data-dir /work/shared/data/mnist --out $o > /work/gap29c/lae-newpreset-best-$s.log 2>&1
done
