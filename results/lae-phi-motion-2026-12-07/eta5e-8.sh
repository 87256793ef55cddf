#!/bin/bash
# Issue 29, one change to the LAE preset on full MNIST: the ALD step on Phi held at 5e-8
# (model.step_size=5e-8, model.adapt_step=false; the preset adapts it to 4e-7 - 3e-6): a slower chain on Phi;
# the table's settings, seed 0, 12 epochs (code: the clone /work/full29b at e1d7c7d)
cd /work/full29b
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/lae train lae-mnist5k-mlp --out /work/phi29/lae-eta5e-8-seed0 \
  --data.name=mnist --data-dir /work/shared/data/mnist --train.epochs=12 --train.seed=0 --train.num_threads=1 \
  --train.progress=false --data.val_size=5000 --train.patience=10 --train.eval_size=200 --train.eval_k=20 \
  --train.eval_ais_temps=500 --train.eval_ais_chains=1 --train.keep_checkpoints=1 --model.step_size=5e-8 --model.adapt_step=false \
  > /work/phi29/lae-eta5e-8-seed0.log 2>&1
