#!/bin/bash
# Issue 29 scope 1: posterior fidelity of the preset LAE at convergence on MNIST-5k, seed 0
# (early stopping on 500 held-out training images as results/converged-mnist5k, patience 10;
# then bench/lae_eval_inference.py at the best epoch). Commit b3c81a3+ (m1/).
while pgrep -f fidelity.sh > /dev/null; do sleep 30; done
cd /work/runs29/m1
run=/work/runs29/fidelity-runs/lae-converged-s0
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --out $run --data.val_size=500 \
  --train.patience=10 --train.epochs=150 --train.eval_size=100 --train.eval_ais_temps=40 \
  --train.eval_ais_chains=1 --train.num_threads=1 --train.progress=false --train.on_stall=warn \
  --train.keep_checkpoints=0 > $run.train.log 2>&1
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/lae_eval_inference.py $run --checkpoints best \
  --n-examples 20 --out /work/runs29/fidelity-runs/eval-inference-converged-s0.json > $run.eval.log 2>&1
