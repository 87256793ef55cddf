#!/bin/bash
# (run4.sh: run3.sh split into jobs, JOBS="k20:0 twolayer:0 ...", so that two cores share them)
# Issue 33, scopes 3 and 4, the rows left: short-run with the learned step at K = 20 and the
# two-layer short-run preset, on MNIST-5k with the converged comparison's settings (run.sh),
# from the clone /work/conv33/lae at the commit printed below (venv: /work/main's, PYTHONPATH the
# clone). One job, one thread, core ${CORE:-0}. Resumable: run again.
set -uo pipefail
cd /work/conv33/lae && git log --oneline -1
export PYTHONPATH=/work/conv33/lae OMP_NUM_THREADS=1
PY=/work/main/.venv/bin/python
TS="taskset -c ${CORE:-0}"
O=/work/conv33/out
COMMON=(--data mnist5k --epochs 150 --jobs 1 --threads 1
  --set data.val_size=500 --set train.patience=10 --set train.eval_size=100 --set train.eval_k=20
  --set train.eval_ais_temps=40 --set train.eval_ais_chains=1 --set train.keep_checkpoints=1
  --checkpoint best --metrics nll-ais,bdmc,mse,probe --n-examples 200 --ais-chains 4
  --ais-temps 300 --bdmc-n-sim 10 --k 100 --reference vae)
CAP30=(--set-for shortrun train.epochs=30 --set-for shortrun-2layer train.epochs=30)
protocols() {
  for run in $O/*/*-seed?; do
    [ -f $run/results.json ] || continue
    for proto in "mode" "noise-free --mse-start prior --mse-steps 400"; do
      key=mse_${proto%% *}; key=${key//-/_}
      grep -q "\"${key}_per_pixel_01\"" $run/results.json 2>/dev/null && continue
      $TS $PY -m lae.cli eval $run --checkpoint best --metrics mse --mse-inference $proto \
        --n-examples 200 >> $run.protocols.log 2>&1
    done
  done
}
LEARNED=(--set model.learn_step=true --set model.per_step=true --set model.first_reverse_start=true)
k20() {  # short-run at the preset's K = 20 with the learned step (the K = 5 row's variant)
  $TS $PY bench/paper_table.py "${COMMON[@]}" "${CAP30[@]}" --seeds $1 --models shortrun \
    --out $O/shortrun-k20-learned "${LEARNED[@]}"
}
twolayer() {  # the two-layer short-run preset (K = 20, step held)
  $TS $PY bench/paper_table.py "${COMMON[@]}" "${CAP30[@]}" --seeds $1 --models shortrun-2layer \
    --out $O/shortrun-2layer
}
# the jobs of this script's call, one after another: e.g. JOBS="k20:1 twolayer:1"
while [ -n "${WAIT_PID:-}" ] && kill -0 $WAIT_PID 2>/dev/null; do sleep 20; done
for job in $JOBS; do
  ${job%%:*} ${job##*:}
  protocols
done
date; echo done
