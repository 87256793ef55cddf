#!/bin/bash
# Issue 29, one change to the LAE preset on full MNIST: the chain on Phi frozen at its start
# (model.step_size=1e-12, model.adapt_step=false: the ALD transitions no longer move Phi), so the
# encoder is Phi_0 [g(x; psi), 1] with psi trained by gradient descent on the same energies and
# the decoder still on the 2-MALA-refined latents; the table's settings, seed 0, 12 epochs
# (code: the clone /work/full29b at e1d7c7d)
cd /work/full29b
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --out /work/phi29/lae-phifrozen-seed0 \
  --data.name=mnist --data-dir /work/shared/data/mnist --train.epochs=12 --train.seed=0 --train.num_threads=1 \
  --train.progress=false --data.val_size=5000 --train.patience=10 --train.eval_size=200 --train.eval_k=20 \
  --train.eval_ais_temps=500 --train.eval_ais_chains=1 --train.keep_checkpoints=1 \
  --model.step_size=1e-12 --model.adapt_step=false \
  > /work/phi29/lae-phifrozen-seed0.log 2>&1
