#!/bin/bash
# Issue 29 part 4: long training on full Fashion-MNIST with the chain logged; commit e5349a1 (clone/).
# usage: run_fmnist.sh MODEL SEED CORE [extra overrides, e.g. --resume]
M=$1 S=$2 C=$3; shift 3
cd /work/runs29
OMP_NUM_THREADS=1 taskset -c $C clone/.venv/bin/lae train $M-fashion-mnist-mlp --out /work/runs29/fmnist-$M-s$S \
  --data.val_size=1000 --train.seed=$S --train.epochs=${EPOCHS:-40} --train.eval_size=500 \
  --train.eval_ais_temps=100 --train.eval_ais_chains=2 --train.keep_checkpoints=0 \
  --train.num_threads=1 --train.progress=false --train.on_stall=warn "$@"
