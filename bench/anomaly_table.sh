#!/usr/bin/env bash
# Anomaly detection table on MNIST-5k (the pooled 5,000 images, data.holdout_split=zenati):
# one model, held-out digits 1/4/5/7/9, seeds 0-2, EPOCHS epochs, one thread, then lae anomaly
# with the log-joint and refined scores. Usage: bench/anomaly_table.sh MODEL OUT_DIR [EPOCHS]
set -euo pipefail
model=$1; out=$2; epochs=${3:-10}
lae=${LAE:-.venv/bin/lae}
for digit in 1 4 5 7 9; do
  for seed in 0 1 2; do
    run=$out/$model-d$digit-s$seed
    $lae train $model-mnist5k-mlp --out "$run" --overwrite --data.holdout_class=$digit \
      --data.holdout_split=zenati --train.epochs=$epochs --train.seed=$seed \
      --train.num_threads=1 --train.progress=false --train.eval_size=100 --train.eval_k=5 \
      > "$run.train.log" 2>&1
    for score in log-joint refined; do
      OMP_NUM_THREADS=1 $lae anomaly "$run" --score $score --out "$run/anomaly-$score.json" \
        --overwrite > /dev/null 2>&1
    done
    echo "$model digit $digit seed $seed done"
  done
done
