#!/usr/bin/env bash
# Anomaly detection table (data.holdout_split=zenati: train and test pooled): one model's
# *-mnist5k-mlp preset, held-out digits DIGITS (default "1 4 5 7 9"), SEEDS (default "0 1 2"),
# EPOCHS epochs, one thread, the last checkpoint (none chosen on the test set), then lae anomaly
# with each of SCORES (default "log-joint refined complexity"). With MU set, each run also gets
# its background model (the same with data.noise_fraction=MU) and the likelihood-ratio score.
# Further arguments are config overrides (full MNIST: --data.name=mnist --data.data_dir=$MNIST_DIR);
# ANOMALY_FLAGS are added to every lae anomaly call (e.g. "--n-examples 5000"); K, IWAE's k, to
# those whose estimate is IWAE (nll-iwae; complexity and likelihood-ratio of a model with a q).
# Usage: bench/anomaly_table.sh MODEL OUT_DIR [EPOCHS] [SEEDS] [--section.key=value ...]
set -euo pipefail
model=$1; out=$2; epochs=${3:-10}; seeds=${4:-0 1 2}
shift $(( $# < 4 ? $# : 4 ))
lae=${LAE:-.venv/bin/lae}
scores=${SCORES:-log-joint refined complexity}
mkdir -p "$out"
for digit in ${DIGITS:-1 4 5 7 9}; do
  for seed in $seeds; do
    run=$out/$model-d$digit-s$seed
    common=(--data.holdout_class=$digit --data.holdout_split=zenati --train.epochs=$epochs
            --train.seed=$seed --train.num_threads=1 --train.progress=false
            --train.eval_size=100 --train.eval_k=5 "$@")
    [ -f "$run/checkpoints/last.pt" ] || $lae train $model-mnist5k-mlp --out "$run" \
      --overwrite "${common[@]}" > "$run.train.log" 2>&1
    extra=()
    if [ -n "${MU:-}" ]; then
      [ -f "$run-bg/checkpoints/last.pt" ] || $lae train $model-mnist5k-mlp --out "$run-bg" \
        --overwrite --data.noise_fraction=$MU "${common[@]}" > "$run-bg.train.log" 2>&1
      extra=(likelihood-ratio)
    fi
    for score in $scores "${extra[@]}"; do
      bg=(); [ "$score" = likelihood-ratio ] && bg=(--background "$run-bg")
      k=()  # lae anomaly refuses a setting its score does not read
      case "$score:$model" in
        nll-iwae:*|complexity:vae*|complexity:hoffman|complexity:infovae|likelihood-ratio:vae*|\
        likelihood-ratio:hoffman|likelihood-ratio:infovae) [ -n "${K:-}" ] && k=(--k "$K") ;;
      esac
      # -> $run/anomaly/$score/anomaly.json and anomaly_scores.npz
      # shellcheck disable=SC2086  # ANOMALY_FLAGS is a list of flags
      OMP_NUM_THREADS=1 $lae anomaly "$run" --score $score "${bg[@]}" "${k[@]}" ${ANOMALY_FLAGS:-} \
        --overwrite \
        > "$run.anomaly-$score.log" 2>&1
    done
    echo "$model digit $digit seed $seed done"
  done
done
