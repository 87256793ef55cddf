#!/usr/bin/env bash
# Learning from corrupted data on MNIST-5k (or DATA, e.g. DATA=fashion-mnist: the
# MODEL-DATA-mlp preset): MODEL trained EPOCHS epochs on images with data.mask=MASK hidden and on
# whole images (same seed), then the recovery of the hidden values of 500 training images
# (lae inpaint --split train, 100 MALA steps on the masked posterior).
# Usage: [DATA=fashion-mnist] bench/recovery_table.sh MODEL OUT_DIR MASK [EPOCHS]
set -euo pipefail
model=$1; out=$2; mask=$3; epochs=${4:-10}
lae=${LAE:-.venv/bin/lae}
data=${DATA:-mnist5k}
common=(--train.epochs=$epochs --train.num_threads=1 --train.progress=false
        --train.eval_size=100 --train.eval_k=5)
$lae train $model-$data-mlp --out "$out/$model-masked" --overwrite --data.mask=$mask \
  "${common[@]}" > "$out/$model-masked.log" 2>&1
$lae train $model-$data-mlp --out "$out/$model-clean" --overwrite "${common[@]}" \
  > "$out/$model-clean.log" 2>&1
for run in masked clean; do
  OMP_NUM_THREADS=1 $lae inpaint "$out/$model-$run" --split train --mask $mask --steps 100 \
    --n-examples 500 --overwrite > /dev/null
done
echo "$model done"
