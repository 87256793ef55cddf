#!/usr/bin/env bash
# The converged comparison on full-size data, full MNIST 8-bit and full Fashion-MNIST: the VAE,
# the LAE preset, Hoffman (3 seeds) and the paper's plain ALD LAE (the lae-paper-mnist-mlp preset:
# SGD at lr 1e-4, 3 ALD transitions of step 1e-6 without MH or adaptation, raw features, no
# refinement, the paper's chain inference; data.name replaced). Early stopping on 5,000 held-out
# training images (patience 10, AIS 1 x 500 on 200 of them per epoch; IWAE for the VAE), scored at
# the best epoch: AIS (4 chains x 1000 temperatures) with BDMC, the paper's negative ELBO (the LAE
# with its hand-set q; lae eval averages 10 single-sample estimates, the paper's estimator with
# less noise), IWAE, MSE and posterior fidelity on 200 test images.
#
#   DATA_DIR=$MNIST_DIR OUT=/somewhere/outside/the/tree bash bench/converged_full.sh [mnist|fashion-mnist]
#
# The per-epoch AIS has 500 temperatures, not 40: with 40 its bias grew as the LAE trained (0.26
# bits/dim at epoch 5, 0.39 at epoch 15 against AIS 4 x 1000 on full MNIST), so the curve rose
# while the model improved and early stopping kept epoch 5 of a model still improving at 15
# (docs/findings/2026-12-06-lae-core.md, section 4).
#
# JOBS (default 2) runs that many (model, seed) pairs at once, one torch thread each; JOBS=1 under
# `taskset -c 1` leaves the other core free. SEEDS (default 0,1,2) are the seeds of the three
# presets, PAPER_SEEDS (default SEEDS) those of the paper's setting: a table sized to the hours
# it has gives the main models every seed and the paper's setting fewer (say so beside it).
# PARTS (default presets,paper) picks the tables to run: PARTS=paper runs the paper's setting
# alone (on a core of its own beside a run of the presets, with another OUT or the same).
#
# Every run keeps its checkpoints and resumes where it stopped when the script is run again
# (paper_table.py skips finished runs and resumes started ones), so it can span sessions. Sized:
# on one CPU thread a full-MNIST LAE epoch is about a minute, the runs take 30-60 epochs: about
# 15-25 hours for both data sets on 2 cores; minutes per run on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-mnist}
OUT=${OUT:?set OUT to a folder outside the work tree}/$DATA
DIR=()
[ "$DATA" = mnist ] && DIR=(--data-dir "${DATA_DIR:?set DATA_DIR to the folder with the MNIST IDX files}")
SEEDS=${SEEDS:-0,1,2}
COMMON=(--data "$DATA" "${DIR[@]}" --epochs 300 --jobs "${JOBS:-2}" --threads 1
  --set data.val_size=5000 --set train.patience=10 --set train.eval_size=200 --set train.eval_k=20
  --set train.eval_ais_temps=500 --set train.eval_ais_chains=1 --set train.keep_checkpoints=1
  --checkpoint best --metrics nll-ais,bdmc,elbo,iwae,mse,posterior --n-examples 200
  --ais-chains 4 --ais-temps 1000 --bdmc-n-sim 10 --k 100 --reference vae)
PARTS=${PARTS:-presets,paper}
[[ ,$PARTS, == *,presets,* ]] && .venv/bin/python bench/paper_table.py "${COMMON[@]}" \
  --seeds "$SEEDS" --models vae,lae,hoffman --set-for vae train.eval_ais_temps=0 \
  --out "$OUT/presets"
[[ ,$PARTS, == *,paper,* ]] || exit 0
.venv/bin/python bench/paper_table.py "${COMMON[@]}" --seeds "${PAPER_SEEDS:-$SEEDS}" --models lae \
  --preset-for lae lae-paper-mnist-mlp --out "$OUT/lae-paper"
