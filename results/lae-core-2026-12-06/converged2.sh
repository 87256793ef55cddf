#!/bin/bash
# Issue 29 scope 3: does "a chain that samples gives a worse model" survive at convergence?
# The preset with model.adapt_gain=0.3 (no freeze), seed 0, the early stopping of converged.sh
# (paired with fidelity-runs/lae-converged-s0), then AIS (M = 4, K = 300, 100 test images) of both.
# started at once (2026-12-06 18:40), beside the other jobs
cd /work/runs29/drift3
run=/work/runs29/fidelity-runs/lae-gain0.3-converged-s0
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --out $run --data.val_size=500 \
  --train.patience=10 --train.epochs=150 --train.eval_size=100 --train.eval_ais_temps=40 \
  --train.eval_ais_chains=1 --train.num_threads=1 --train.progress=false --train.on_stall=warn \
  --train.keep_checkpoints=1 --model.adapt_gain=0.3 --train.log_every=5 > $run.train.log 2>&1
for r in $run /work/runs29/fidelity-runs/lae-converged-s0; do
  while [ ! -f $r/checkpoints/best.pt ] || pgrep -f "out $r " > /dev/null; do sleep 30; done
  OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae eval $r --checkpoint best --metrics nll-ais,mse \
    --n-examples 100 --ais-chains 4 --ais-temps 300 --out $r-ais.json --overwrite > $r.ais.log 2>&1
done
