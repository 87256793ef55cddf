#!/bin/bash
# Findings section 5: the posterior fidelity of the converged full-MNIST LAE's training chain and
# evaluation chain (seed 0, best epoch 13), 40 evenly spaced test images (code: main at 158d8cb).
for mode in chain mala; do
OMP_NUM_THREADS=1 taskset -c 0 lae eval $OUT/mnist/presets/lae-seed0 --checkpoint best \
  --metrics posterior --n-examples 40 --set model.eval_inference=$mode --data-dir $MNIST_DIR \
  --out lae-best-test-posterior-$mode.json
done
