#!/usr/bin/env bash
# The cheapest LAE that still samples: the default LAE (2 ALD transitions + m per-point MALA
# steps) at m = 5, 3, 2, 1, 0 on MNIST-5k, same seed and epochs; per variant the training
# seconds (steps only, from metrics.jsonl), posterior fidelity against long-run MALA, and the
# AIS NLL in bits/dim on the same test images. One thread, one core.
#   bash bench/lae_refinement.sh [EPOCHS] [CORE]
# Results: results/lae-refinement/m<m>/results.json and summary.json.
# VARIANTS="5:30 3:37 2:41" gives each m its own epochs (equal compute: epochs in inverse
# proportion to the FLOPs per step); OUT, RUNS and SEED (default 0) may be set too.
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-10}
CORE=${2:-0}
OUT=${OUT:-results/lae-refinement}
RUNS=${RUNS:-/tmp/lae-refinement-runs}
VARIANTS=${VARIANTS:-"5:$EPOCHS 3:$EPOCHS 2:$EPOCHS 1:$EPOCHS 0:$EPOCHS"}
SEED=${SEED:-0}
mkdir -p "$OUT" "$RUNS"
for variant in $VARIANTS; do
  m=${variant%%:*}; EPOCHS=${variant##*:}
  run="$RUNS/m$m"
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae train lae-mnist5k-mlp --out "$run" --overwrite \
    --model.mala_steps=$m --train.epochs=$EPOCHS --train.eval_size=100 --train.eval_k=10 \
    --train.num_threads=1 --train.progress=false --train.seed=$SEED > "$run.train.log" 2>&1
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae eval "$run" --metrics posterior,nll-ais \
    --n-examples 100 --ais-chains 4 --ais-temps 300 --posterior-samples 100 --overwrite \
    > "$run.eval.log" 2>&1
  mkdir -p "$OUT/m$m"
  cp "$run/results.json" "$run/config.yaml" "$OUT/m$m/"
done
.venv/bin/python bench/lae_refinement_summary.py "$RUNS" "$OUT"
