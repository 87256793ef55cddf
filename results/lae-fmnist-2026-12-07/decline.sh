#!/bin/bash
# Issue 29: is the LAE preset's rising validation AIS on full Fashion-MNIST
# (per-epoch AIS 1 x 500: 3.802 at epoch 4, 3.899 at epoch 10) real, and is it overfitting?
# The epoch-4 (best) and epoch-10 checkpoints of $RUN
# (copied to $OUT), scored by AIS 4 x 1000 on the same 200 validation images (the
# per-epoch ones) and on 200 training images, then paired: python bench/paired.py A B --key nll_ais_bpd
# CLONE: a clone of the repository at c1cd610 (the run's code); RUN: the table's LAE run; OUT: where the two
# checkpoints were copied and the results go; one thread on core ${CORE:-0}
cd $CLONE
export PYTHONPATH=$CLONE OMP_NUM_THREADS=1
R=$RUN
for split in val train; do for e in 4 10; do
  out=$OUT/lae-e$e-$split-ais.json
  [ -f $out ] || taskset -c ${CORE:-0} .venv/bin/python -m lae.cli eval $R --checkpoint $OUT/lae-e$e.pt \
    --split $split --metrics nll-ais --n-examples 200 --ais-chains 4 --ais-temps 1000 --out $out \
    > $OUT/lae-e$e-$split.log 2>&1
done; done
for split in val train; do
  .venv/bin/python bench/paired.py $OUT/lae-e10-$split-ais.json $OUT/lae-e4-$split-ais.json --key nll_ais_bpd
done
date; echo done
