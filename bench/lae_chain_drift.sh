#!/usr/bin/env bash
# Why a chain on Phi that samples gave a worse model than a frozen one, and whether the chain's
# random walk in the directions the batch does not see (row_space_noise removes it) is the cause.
# The LAE preset on MNIST-5k, EPOCHS (default 5), SEED, one run per VARIANT (name=overrides,
# ';'-separated), training metrics every 5 steps, then AIS NLL (100 test images, M = 4, K = 300).
# One thread on CORE.
#   bash bench/lae_chain_drift.sh [EPOCHS] [SEED] [CORE]
# Summary: python bench/ald_adapt_gain_summary.py RUNS OUT (the same columns, plus |Phi|).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-5}; SEED=${2:-0}; CORE=${3:-0}
VARIANTS=${VARIANTS:-"preset= gain0.3=--model.adapt_gain=0.3 rowspace=--model.row_space_noise=true gain0.3-rowspace=--model.adapt_gain=0.3,--model.row_space_noise=true"}
RUNS=${RUNS:-/tmp/lae-chain-drift-runs}
mkdir -p "$RUNS"
for variant in $VARIANTS; do
  name=${variant%%=*}; overrides=${variant#*=}
  run="$RUNS/$name-s$SEED"
  [ -f "$run/results.json" ] && continue
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae train lae-mnist5k-mlp --out "$run" \
    --overwrite ${overrides//,/ } --train.epochs=$EPOCHS --train.seed=$SEED \
    --train.log_every=5 --train.num_threads=1 --train.progress=false --train.eval_size=100 \
    --train.eval_k=10 --train.on_stall=warn > "$run.train.log" 2>&1
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae eval "$run" --metrics nll-ais \
    --n-examples 100 --ais-chains 4 --ais-temps 300 --overwrite > "$run.eval.log" 2>&1
done
