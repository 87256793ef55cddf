#!/bin/bash
# Issue 29 done-when 1 on the new preset (feature_norm: batch): posterior fidelity of the evaluation-time
# sampler at epochs 1 and 5 of MNIST-5k, seeds 0-2 (epoch 5: the drift4 runs; epoch 1: a 1-epoch run
# of the same setting, which is the same training to the end of epoch 1). drift3/ clone + /work/main bench script.
cd /work/runs29/drift3
for s in 0 1 2; do
  run=/work/runs29/fidelity-runs/fnorm-ep1-s$s
  [ -f $run/checkpoints/last.pt ] || OMP_NUM_THREADS=1 taskset -c 0 .venv/bin/lae train lae-mnist5k-mlp --out $run \
    --train.epochs=1 --train.seed=$s --train.num_threads=1 --train.progress=false --train.eval_size=100 \
    --train.eval_k=10 --train.on_stall=warn --train.log_every=5 --model.feature_norm=batch > $run.train.log 2>&1
  OMP_NUM_THREADS=1 taskset -c 0 /work/main/.venv/bin/python /work/main/bench/lae_eval_inference.py $run --checkpoints 1 \
    --n-examples 20 --warmups 100,200,400 --out /work/runs29/fidelity-runs/fnorm/eval-inference-ep1-s$s.json > $run.eval.log 2>&1
  OMP_NUM_THREADS=1 taskset -c 0 /work/main/.venv/bin/python /work/main/bench/lae_eval_inference.py /work/runs29/drift-runs/fnorm-s$s --checkpoints 5 \
    --n-examples 20 --warmups 100,200,400 --out /work/runs29/fidelity-runs/fnorm/eval-inference-ep5-s$s.json > $run.eval5.log 2>&1
done
