#!/usr/bin/env bash
# Before/after reproduction: needs a checkout of the old commit at /tmp/lae-old
#   git worktree add /tmp/lae-old fc5f098
# then: bash results/repro-sync-free/commands.sh old 0 & bash ... new 1
# $1 = old|new, $2 = core
side=$1; core=$2
pp=$([ $side = old ] && echo /tmp/lae-old || echo /work/main)
for model in lae vae; do
  run=/tmp/repro-runs/$model-$side
  OMP_NUM_THREADS=1 taskset -c $core /work/main/.venv/bin/python /work/main/bench/run_lae_from.py $pp train $model-mnist5k-mlp --out $run --overwrite \
    --train.epochs=5 --train.eval_size=100 --train.eval_k=10 --train.num_threads=1 --train.progress=false > $run.train.log 2>&1
  OMP_NUM_THREADS=1 taskset -c $core /work/main/.venv/bin/python /work/main/bench/run_lae_from.py $pp eval $run --metrics nll-ais,mse \
    --n-examples 100 --ais-chains 4 --ais-temps 300 --overwrite > $run.eval.log 2>&1
done
