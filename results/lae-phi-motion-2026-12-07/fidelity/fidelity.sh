#!/bin/bash
# Issue 29 done-when 1 on the candidate preset (the ALD step held at 5e-8): posterior fidelity of
# the evaluation-time sampler at epochs 1 and 5 of MNIST-5k, seeds 0-2 (epoch 5: the eta5e-8 runs
# of run.sh; epoch 1: a 1-epoch run of the same setting, the same training to the end of epoch 1);
# 20 test images, the preset's 400 warm-up steps. Core 1 after /work/phi29/after_eta.sh.
while pgrep -f after_eta.sh > /dev/null; do sleep 20; done
cd /work/main
for s in 0 1 2; do
  run=/work/eta29/runs/eta5e-8-ep1-s$s
  [ -f $run/checkpoints/last.pt ] || OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp \
    --out $run --overwrite --model.step_size=5e-8 --model.adapt_step=false --train.epochs=1 \
    --train.seed=$s --train.num_threads=1 --train.progress=false --train.eval_size=100 \
    --train.eval_k=10 --train.on_stall=warn --train.log_every=5 > $run.train.log 2>&1
  OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/lae_eval_inference.py $run --checkpoints 1 \
    --n-examples 20 --warmups 400 --out /work/eta29/eval-inference-ep1-s$s.json > $run.eval.log 2>&1
  OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/lae_eval_inference.py /work/eta29/runs/eta5e-8-s$s \
    --checkpoints 5 --n-examples 20 --warmups 400 --out /work/eta29/eval-inference-ep5-s$s.json \
    > /work/eta29/runs/eta5e-8-s$s.eval5.log 2>&1
done
