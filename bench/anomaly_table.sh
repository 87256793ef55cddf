#!/usr/bin/env bash
# Anomaly detection table (data.holdout_split=zenati: train and test pooled): one model's
# *-mnist5k-mlp preset, held-out digits 1/4/5/7/9, SEEDS (default "0 1 2"), EPOCHS epochs, one
# thread, then lae anomaly with the log-joint and refined scores. Further arguments are config
# overrides (full MNIST: --data.name=mnist --data.data_dir=$MNIST_DIR).
# Usage: bench/anomaly_table.sh MODEL OUT_DIR [EPOCHS] [SEEDS] [--section.key=value ...]
set -euo pipefail
model=$1; out=$2; epochs=${3:-10}; seeds=${4:-0 1 2}
shift $(( $# < 4 ? $# : 4 ))
lae=${LAE:-.venv/bin/lae}
for digit in 1 4 5 7 9; do
  for seed in $seeds; do
    run=$out/$model-d$digit-s$seed
    $lae train $model-mnist5k-mlp --out "$run" --overwrite --data.holdout_class=$digit \
      --data.holdout_split=zenati --train.epochs=$epochs --train.seed=$seed \
      --train.num_threads=1 --train.progress=false --train.eval_size=100 --train.eval_k=5 \
      "$@" > "$run.train.log" 2>&1
    for score in log-joint refined; do
      # -> $run/anomaly/$score/anomaly.json and anomaly_scores.npz
      OMP_NUM_THREADS=1 $lae anomaly "$run" --score $score --overwrite > /dev/null 2>&1
    done
    echo "$model digit $digit seed $seed done"
  done
done
