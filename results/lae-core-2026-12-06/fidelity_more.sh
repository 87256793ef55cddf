#!/bin/bash
# longer warm-up (800) and thinning 4 for the seed whose spread sat nearest the band's edge (s1)
cd /work/main
for t in 4; do
OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/python bench/lae_eval_inference.py /work/runs29/fidelity-runs/lae-s1 \
  --checkpoints 1,5 --n-examples 20 --warmups 400,800 --thin $t \
  --out /work/runs29/fidelity-runs/more/eval-inference-thin$t-s1.json > /work/runs29/fidelity-runs/more-thin$t-s1.log 2>&1
done
