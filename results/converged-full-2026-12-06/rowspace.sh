#!/bin/bash
# Issue 29: the LAE preset declines on full MNIST after epoch 5 (val AIS 1.924 -> 2.03 bits/dim by
# epoch 14, /work/full29-out/mnist/presets/lae-seed0) while its features' Gram matrix loses
# conditioning (gram_condition 1.7e5 -> 2.7e7, feature_rank_fraction 1 -> 0.63) and |Phi| grows
# linearly (2.4 -> 10.5). One change: the chain's noise projected on the row space of the
# batch's features (model.row_space_noise=true), so that Phi stops random-walking in the
# directions no batch constrains (a first try, the preconditioner, blew |Phi| up to 1e4 in 3
# epochs: lae-precond-median-s0.log). Same seed, data, early stopping and per-epoch scoring as bench/converged_full.sh.
# Clone /work/full29 @ d9ca630.
cd /work/full29
run=/work/decline29/lae-rowspace-s0
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python -m lae.cli train lae-mnist5k-mlp --out $run \
  --data.name=mnist --data-dir /work/shared/data/mnist --train.epochs=14 --train.seed=0 \
  --train.num_threads=1 --train.progress=false --data.val_size=5000 --train.patience=10 \
  --train.eval_size=200 --train.eval_k=20 --train.eval_ais_temps=40 --train.eval_ais_chains=1 \
  --train.keep_checkpoints=1 --model.row_space_noise=true \
  > $run.log 2>&1
