#!/bin/bash
# Issue 29: the LAE preset declines on full MNIST after epoch 5 (val AIS 1.924 -> 2.03 bits/dim by
# epoch 14, /work/full29-out/mnist/presets/lae-seed0) while its features' Gram matrix loses
# conditioning (gram_condition 1.7e5 -> 2.7e7, feature_rank_fraction 1 -> 0.63). One change:
# the row-space preconditioner with the bounded (median) damping, which whitens G's spectrum for
# the chain. Same seed, data, early stopping and per-epoch scoring as bench/converged_full.sh.
# Clone /work/full29 @ d9ca630.
cd /work/full29
run=/work/decline29/lae-precond-median-s0
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python -m lae.cli train lae-mnist5k-mlp --out $run \
  --data.name=mnist --data-dir /work/shared/data/mnist --train.epochs=14 --train.seed=0 \
  --train.num_threads=1 --train.progress=false --data.val_size=5000 --train.patience=10 \
  --train.eval_size=200 --train.eval_k=20 --train.eval_ais_temps=40 --train.eval_ais_chains=1 \
  --train.keep_checkpoints=1 --model.preconditioned=true --model.precond_damping_ref=median \
  > $run.log 2>&1
