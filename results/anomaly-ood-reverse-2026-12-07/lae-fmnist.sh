#!/bin/bash
# Issue 32: the LAE row of Fashion-MNIST -> MNIST: the lae-fashion-mnist-mlp run with the step
# held (the preset since 2026-12-07; /work/fm29/held: seed 0, 8 epochs, 55,000 training images),
# its last checkpoint; 500 Fashion-MNIST test images (normal) against 500 MNIST test images;
# -log p(x) by AIS (1 chain x 200 temperatures); raw and complexity-corrected.
cd /work/main && git log --oneline -1
for score in nll-ais complexity; do
  o=/work/ood32r/lae-fmnist-$score; [ -f $o/anomaly.json ] && continue
  extra=(); [ $score = complexity ] && extra=(--likelihood nll-ais)
  OMP_NUM_THREADS=1 taskset -c 1 nice -n 5 .venv/bin/lae anomaly /work/fm29/held --against mnist \
    --against-data-dir /work/shared/data/mnist --score $score "${extra[@]}" --ais-chains 1 \
    --ais-temps 200 --n-examples 500 --out $o > $o.log 2>&1
done
