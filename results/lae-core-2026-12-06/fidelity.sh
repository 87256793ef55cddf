#!/bin/bash
# Issue 29 scope 1-2: the preset LAE on MNIST-5k, 5 epochs, every checkpoint kept, then
# bench/lae_eval_inference.py at epochs 1 and 5 (20 test images). Commit b3c81a3 (m1/).
cd /work/runs29/m1
for s in 0 1 2; do
  run=/work/runs29/fidelity-runs/lae-s$s
  [ -f $run/checkpoints/last.pt ] || OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --out $run \
    --train.epochs=5 --train.seed=$s --train.keep_checkpoints=0 --train.num_threads=1 \
    --train.progress=false --train.eval_size=100 --train.eval_k=10 --train.on_stall=warn > $run.train.log 2>&1
  OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/lae_eval_inference.py $run --checkpoints 1,5 \
    --n-examples 20 --out /work/runs29/fidelity-runs/eval-inference-s$s.json > $run.eval.log 2>&1
done
