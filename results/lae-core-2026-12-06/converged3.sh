#!/bin/bash
# Issue 29 scope 3: the preset with standardised features (model.feature_norm=batch) to convergence, seed 0,
# the early stopping of converged.sh, then AIS (M = 4, K = 300, 100 test images) at its best epoch (drift3/ clone)
cd /work/runs29/drift3
run=/work/runs29/fidelity-runs/lae-fnorm-converged-s0
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --out $run --data.val_size=500 \
  --train.patience=10 --train.epochs=150 --train.eval_size=100 --train.eval_ais_temps=40 \
  --train.eval_ais_chains=1 --train.num_threads=1 --train.progress=false --train.on_stall=warn \
  --train.keep_checkpoints=1 --model.feature_norm=batch --model.eval_inference=chain --train.log_every=5 > $run.train.log 2>&1
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae eval $run --checkpoint best --metrics nll-ais,mse \
  --n-examples 100 --ais-chains 4 --ais-temps 300 --out $run-ais.json --overwrite > $run.ais.log 2>&1
