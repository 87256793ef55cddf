#!/bin/bash
# Findings section 5: one change to the LAE preset, the training chain refined by 10 MALA steps
# instead of 2; the table's settings, seed 0, 8 epochs (code: /work/main at 158d8cb)
cd /work/main
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --out /work/gap29/lae-mala10-seed0 \
  --data.name=mnist --data-dir /work/shared/data/mnist --train.epochs=8 --train.seed=0 --train.num_threads=1 \
  --train.progress=false --data.val_size=5000 --train.patience=10 --train.eval_size=200 --train.eval_k=20 \
  --train.eval_ais_temps=500 --train.eval_ais_chains=1 --train.keep_checkpoints=1 --model.mala_steps=10 \
  > /work/gap29/lae-mala10-seed0.log 2>&1
# then the training chain's fidelity at epoch 3 (a copy of last.pt taken after epoch 3):
# lae eval /work/gap29/lae-mala10-seed0 --checkpoint epoch3.pt --metrics posterior --n-examples 40 \
#   --set model.eval_inference=chain --data-dir $MNIST_DIR --out mala10-epoch3-posterior-chain.json
# and at epoch 8 (the run's last.pt), and the preset's training chain at epoch 8 (the table's
# seed 1 run, a copy of its last.pt):
# lae eval /work/gap29/lae-mala10-seed0 --checkpoint last --metrics posterior --n-examples 40 \
#   --set model.eval_inference=chain --data-dir $MNIST_DIR --out mala10-epoch8-posterior-chain.json
# lae eval $OUT/mnist/presets/lae-seed1 --checkpoint preset-s1-epoch8.pt --metrics posterior \
#   --n-examples 40 --set model.eval_inference=chain --data-dir $MNIST_DIR \
#   --out preset-seed1-epoch8-posterior-chain.json
