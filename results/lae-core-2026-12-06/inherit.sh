#!/bin/bash
# do the presets that inherit feature_norm: batch (2-layer, flow prior) lose by it? 5 epochs of MNIST-5k, seed 0, with and without; AIS 100 x 4 x 300
P=$1 C=$2
cd /work/main
for fn in batch none; do
  run=/work/runs29/inherit/$P-$fn
  OMP_NUM_THREADS=1 taskset -c $C .venv/bin/lae train $P --out $run --overwrite --model.feature_norm=$fn --train.epochs=5 \
    --train.num_threads=1 --train.progress=false --train.eval_size=100 --train.eval_k=10 --train.on_stall=warn --train.log_every=5 > $run.train.log 2>&1
  OMP_NUM_THREADS=1 taskset -c $C .venv/bin/lae eval $run --metrics nll-ais --n-examples 100 --ais-chains 4 --ais-temps 300 --overwrite > $run.eval.log 2>&1
done
