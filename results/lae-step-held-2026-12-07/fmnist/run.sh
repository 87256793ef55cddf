#!/bin/bash
# Issue 29: on full Fashion-MNIST, the ALD step held at 5e-8 (the MNIST preset's change) against
# the lae-fashion-mnist-mlp preset (step adapted toward 60% acceptance), seed 0, 8 epochs, the
# converged table's per-epoch record (5,000 held-out training images, AIS 1 x 500 on 200 of them);
# then both last checkpoints scored on the same 200 test images (AIS 2 x 500), paired.
# Code: the clone /work/fm29/lae (commit below), /work/main's venv via PYTHONPATH.
cd /work/fm29/lae && git log --oneline -1
export PYTHONPATH=/work/fm29/lae OMP_NUM_THREADS=1
LAE=/work/main/.venv/bin/lae
COMMON=(--data.val_size=5000 --train.seed=0 --train.epochs=8 --train.eval_size=200
  --train.eval_k=20 --train.eval_ais_temps=500 --train.eval_ais_chains=1 --train.keep_checkpoints=0
  --train.num_threads=1 --train.progress=false)
for v in preset held; do
  extra=(); [ $v = held ] && extra=(--model.step_size=5e-8 --model.adapt_step=false)
  [ -f /work/fm29/$v/results-ais.json ] && continue
  if [ -f /work/fm29/$v/checkpoints/last.pt ]; then
    taskset -c 0 $LAE train lae-fashion-mnist-mlp --out /work/fm29/$v --resume "${COMMON[@]}" "${extra[@]}" >> /work/fm29/$v.log 2>&1
  else
    taskset -c 0 $LAE train lae-fashion-mnist-mlp --out /work/fm29/$v "${COMMON[@]}" "${extra[@]}" > /work/fm29/$v.log 2>&1
  fi
  taskset -c 0 $LAE eval /work/fm29/$v --metrics nll-ais --n-examples 200 --ais-chains 2 --ais-temps 500 \
    --out /work/fm29/$v/results-ais.json >> /work/fm29/$v.log 2>&1
  date
done
/work/main/.venv/bin/python bench/paired.py /work/fm29/held/results-ais.json /work/fm29/preset/results-ais.json --key nll_ais_bpd
