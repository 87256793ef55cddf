#!/bin/bash
# Issue 29 part 4: the preset LAE on full Fashion-MNIST with row_space_noise, paired with fmnist-lae-s0 (drift3/ clone)
M=$1 S=$2 C=$3 NAME=$4; shift 4
cd /work/runs29
OMP_NUM_THREADS=1 taskset -c $C drift3/.venv/bin/lae train $M-fashion-mnist-mlp --out /work/runs29/fmnist-$NAME-s$S \
  --data.val_size=1000 --train.seed=$S --train.epochs=${EPOCHS:-40} --train.eval_size=500 \
  --train.eval_ais_temps=100 --train.eval_ais_chains=2 --train.keep_checkpoints=0 \
  --train.num_threads=1 --train.progress=false --train.on_stall=warn --model.eval_inference=chain "$@"
