#!/usr/bin/env bash
# Why the LAE's chain on Phi freezes (acceptance 0 for tens of steps) and then accepts
# everything: the step-size adapter's gain. The LAE preset on MNIST-5k, EPOCHS (default 5),
# SEED (default 0), model.adapt_gain in GAINS (default "0.02 0.1 0.3"), training metrics logged
# every 5 steps; then AIS NLL (100 test images, M = 4, K = 300). One thread on CORE (default 0).
#   bash bench/ald_adapt_gain.sh [EPOCHS] [SEED] [CORE]
# Results: results/ald-adapt-gain/gain<g>-s<seed>.json (via the summary script).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-5}; SEED=${2:-0}; CORE=${3:-0}
GAINS=${GAINS:-"0.02 0.1 0.3"}
RUNS=${RUNS:-/tmp/ald-adapt-gain-runs}
OUT=${OUT:-results/ald-adapt-gain}
mkdir -p "$RUNS" "$OUT"
for gain in $GAINS; do
  run="$RUNS/gain$gain-s$SEED"
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae train lae-mnist5k-mlp --out "$run" \
    --overwrite --model.adapt_gain=$gain --train.epochs=$EPOCHS --train.seed=$SEED \
    --train.log_every=5 --train.num_threads=1 --train.progress=false --train.eval_size=100 \
    --train.eval_k=10 > "$run.train.log" 2>&1
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae eval "$run" --metrics nll-ais \
    --n-examples 100 --ais-chains 4 --ais-temps 300 --overwrite > "$run.eval.log" 2>&1
done
.venv/bin/python bench/ald_adapt_gain_summary.py "$RUNS" "$OUT"
