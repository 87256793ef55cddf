#!/bin/bash
# Issue 29, one change to the LAE preset on full MNIST: a N(0, 0.05^2) prior on Phi's entries
# (model.phi_prior_std=0.05), bounding Phi's random walk in the directions no batch constrains;
# the table's settings, seed 0, 12 epochs (code: the clone /work/full29b at e1d7c7d)
cd /work/full29b
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/lae train lae-mnist5k-mlp --out /work/phi29/lae-phiprior05-seed0 \
  --data.name=mnist --data-dir /work/shared/data/mnist --train.epochs=12 --train.seed=0 --train.num_threads=1 \
  --train.progress=false --data.val_size=5000 --train.patience=10 --train.eval_size=200 --train.eval_k=20 \
  --train.eval_ais_temps=500 --train.eval_ais_chains=1 --train.keep_checkpoints=1 --model.phi_prior_std=0.05 \
  > /work/phi29/lae-phiprior05-seed0.log 2>&1
