#!/usr/bin/env bash
# Posterior fidelity at epochs 1 and 5 (issue 19's check): the VAE, the default LAE and the
# plain-ALD LAE on their MNIST-5k presets, SEED (default 0), 5 epochs with every epoch's
# checkpoint kept; then `lae eval --metrics posterior` on N (default 40) evenly spaced test images
# at epochs 1 and 5 (200 draws; reference: 4 chains x 1500 + 1500 steps, dense mass matrix,
# doubled budgets for slow points). One thread on CORE (default 0).
#   bash bench/fidelity_check.sh [SEED] [CORE] [N]
# Results: results/fidelity-check/<label>-e<epoch>.json and summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SEED=${1:-0}; CORE=${2:-0}; N=${3:-40}
OUT=${OUT:-results/fidelity-check}
RUNS=${RUNS:-/tmp/fidelity-check-runs}
mkdir -p "$OUT" "$RUNS"
for spec in "vae:vae:" "lae:lae:" "lae-plain:lae:--model.mala_steps=0"; do
  IFS=: read -r label model extra <<< "$spec"
  run="$RUNS/$label-s$SEED"
  OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae train $model-mnist5k-mlp --out "$run" \
    --overwrite --train.epochs=5 --train.seed=$SEED --train.keep_checkpoints=0 \
    --train.num_threads=1 --train.progress=false --train.eval_size=100 --train.eval_k=10 \
    $extra > "$run.train.log" 2>&1
  for epoch in 1 5; do
    OMP_NUM_THREADS=1 taskset -c "$CORE" .venv/bin/lae eval "$run" --checkpoint $epoch \
      --metrics posterior --n-examples $N --posterior-samples 200 \
      --out "$OUT/$label-s$SEED-e$epoch.json" --overwrite > "$run.eval-e$epoch.log" 2>&1
  done
  echo "$label done"
done
.venv/bin/python bench/fidelity_check_summary.py "$OUT"
