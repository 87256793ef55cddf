#!/bin/bash
# Issue 33, scope 3: the converged comparison on MNIST-5k re-trained (the first one's checkpoints
# are gone) and scored under both reconstruction protocols, from the clone /work/conv33/lae at
# the commit printed below (its venv: /work/main's, PYTHONPATH the clone). One job, one thread,
# core ${CORE:-0}. Resumable: run again (paper_table skips finished runs, resumes started ones).
set -uo pipefail
cd /work/conv33/lae && git log --oneline -1
export PYTHONPATH=/work/conv33/lae OMP_NUM_THREADS=1
PY=/work/main/.venv/bin/python
TS="taskset -c ${CORE:-0}"
O=/work/conv33/out
# early stopping as the first table's second pass (patience 10), AIS 1 x 40 per epoch on 100
# validation images (IWAE for the VAE); scored at the best epoch on 200 test images
COMMON=(--data mnist5k --seeds 0,1,2 --epochs 150 --jobs 1 --threads 1
  --set data.val_size=500 --set train.patience=10 --set train.eval_size=100 --set train.eval_k=20
  --set train.eval_ais_temps=40 --set train.eval_ais_chains=1 --set train.keep_checkpoints=1
  --set-for vae train.eval_ais_temps=0 --set-for infovae train.eval_ais_temps=0
  --checkpoint best --metrics nll-ais,bdmc,mse,probe --n-examples 200 --ais-chains 4
  --ais-temps 300 --bdmc-n-sim 10 --k 100 --reference vae)
CAP30=(--set-for shortrun train.epochs=30 --set-for latent-ebm train.epochs=30 --set-for flow-prior train.epochs=30)
# 1. the shared presets (short-run: K = 20, step held)
$TS $PY bench/paper_table.py "${COMMON[@]}" "${CAP30[@]}" --models vae,shortrun,latent-ebm,flow-prior --out $O/presets
# 2. short-run with the learned step at K = 5 (learn_step, per_step, first_reverse_start: the
#    variant that kept its step on full MNIST, docs/models.md)
$TS $PY bench/paper_table.py "${COMMON[@]}" "${CAP30[@]}" --models shortrun --out $O/shortrun-k5-learned \
  --set model.n_steps=5 --set model.learn_step=true --set model.per_step=true --set model.first_reverse_start=true
# 3. the other reconstruction protocols on every run's best checkpoint: the posterior mode (500
#    backtracking steps from infer(x)) and the papers' noise-free chain (400 steps from a prior
#    draw, short-run's 20 x its training steps; step 1e-3)
for run in $O/*/*-seed?; do
  for proto in "mode" "noise-free --mse-start prior --mse-steps 400"; do
    key=mse_${proto%% *}; key=${key//-/_}
    grep -q "\"${key}_per_pixel_01\"" $run/results.json 2>/dev/null && continue
    $TS $PY -m lae.cli eval $run --checkpoint best --metrics mse --mse-inference $proto \
      --n-examples 200 >> $run.protocols.log 2>&1
  done
done
# 4. InfoVAE's small-data claim: the VAE and InfoVAE trained on 500, 2,000 and 4,000 of MNIST-5k's
#    training images (the rest of the 4,500 is the validation split that stops them)
for n in 500 2000 4000; do
  $TS $PY bench/paper_table.py "${COMMON[@]}" --models vae,infovae --set data.val_size=$((4500 - n)) --out $O/small-$n
done
date; echo done
# (small-2000's infovae-seed1 was stopped at epoch 102 by a machine restart; phase 3's protocol
# loop, run again on resuming, then wrote a results.json into it, which paper_table took for a
# finished run. The file was moved aside and phase 4's command for n = 2000 run again: the run
# resumed at epoch 102 and stopped early at 112. paper_table now counts a run finished only once
# it is in timings.json.)
