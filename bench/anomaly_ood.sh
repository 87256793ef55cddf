#!/usr/bin/env bash
# Out-of-distribution detection (issue 32, benchmark b): train on DATA (fashion-mnist, or mnist
# for the reverse pair), score DATA's test images (normal) against the other set's test images
# (anomalous). Per model of MODELS (default "vae lae"): the *-fashion-mnist-mlp preset's settings
# on DATA, EPOCHS epochs (default 7: the VAE's best validation epoch on Fashion-MNIST,
# docs/findings/2026-12-06-lae-core.md), seed SEED (default 0), one thread, the last checkpoint
# (none chosen on the test set); then its background model, the same with
# data.noise_fraction=MU (default 0.2, the middle of Ren et al.'s 0.1-0.3; not tuned). Then
# lae anomaly --against on N (default 1000) evenly spaced test images of each set with the raw
# likelihood (each model's best estimate: nll-iwae for the VAE, nll-ais for the LAE), the
# complexity score and the likelihood ratio.
# Usage: MNIST_DIR=/path/to/mnist bench/anomaly_ood.sh OUT [fashion-mnist|mnist]
set -euo pipefail
out=$1; data=${2:-fashion-mnist}
models=${MODELS:-vae lae}; epochs=${EPOCHS:-7}; seed=${SEED:-0}; mu=${MU:-0.2}; n=${N:-1000}
lae=${LAE:-.venv/bin/lae}
mnist=(--data-dir "${MNIST_DIR:?set MNIST_DIR to the folder with the MNIST IDX files}")
if [ "$data" = mnist ]; then train_dir=("${mnist[@]}"); against=(--against fashion-mnist)
else train_dir=(); against=(--against mnist --against-data-dir "$MNIST_DIR"); fi
export OMP_NUM_THREADS=1
mkdir -p "$out"
for model in $models; do
  run=$out/$model-$data-s$seed
  common=(--data.name="$data" --train.epochs="$epochs" --train.seed="$seed"
          --train.num_threads=1 --train.progress=false --train.eval_size=100 --train.eval_k=5
          --train.eval_ais_temps=0 "${train_dir[@]}")
  [ -f "$run/checkpoints/last.pt" ] || $lae train "$model-fashion-mnist-mlp" --out "$run" \
    "${common[@]}" > "$run.train.log" 2>&1
  [ -f "$run-bg/checkpoints/last.pt" ] || $lae train "$model-fashion-mnist-mlp" \
    --out "$run-bg" --data.noise_fraction="$mu" "${common[@]}" > "$run-bg.train.log" 2>&1
  raw=nll-iwae; [ "$model" = lae ] && raw=nll-ais
  for score in $raw complexity likelihood-ratio; do
    bg=(); [ "$score" = likelihood-ratio ] && bg=(--background "$run-bg")
    $lae anomaly "$run" --score $score "${bg[@]}" "${against[@]}" \
      --n-examples "$n" --overwrite > "$run.anomaly-$score.log" 2>&1
    echo "$model $data $score: $(grep -o '"auroc": [0-9.]*' "$run/anomaly/$score-vs-"*/anomaly.json)"
  done
done
