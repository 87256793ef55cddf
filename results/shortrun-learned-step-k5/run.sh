#!/bin/bash
# Issue 33, scope 1: the learned step of short-run inference at K = 5 on full MNIST 8-bit,
# 3 epochs, seed 0, one thread each (2026-12-06/07, commits 5bad0c0 and after). Each run's
# metrics.jsonl is kept here as <run>-metrics.jsonl; summary.py prints the table in docs/models.md.
# The two Gauss-Newton runs were stopped by hand after 360 and 140 steps (7x slower than the
# plain chain; their step curves are what they show).
set -euo pipefail
run() { V=$1; shift; OMP_NUM_THREADS=1 lae train "$@" --out $OUT/$V --data.name=mnist \
  --data-dir $MNIST_DIR --train.epochs=3 --train.eval_size=500 --train.on_stall=warn \
  --train.num_threads=1 --train.seed=0 --train.progress=false; }
SR=(shortrun-mnist5k-mlp --model.n_steps=5)
run vae vae-mnist5k-mlp
run plain-held "${SR[@]}"                                   # the preset: eta held at 1e-3
run plain-learned "${SR[@]}" --model.learn_step=true        # the paper's learned step
run plain-start "${SR[@]}" --model.learn_step=true --model.first_reverse_start=true
run perstep-start "${SR[@]}" --model.learn_step=true --model.first_reverse_start=true \
  --model.per_step=true
run gn-s0.05 "${SR[@]}" --model.learn_step=true --model.metric=gauss-newton --model.step_size=0.05
run gn-start "${SR[@]}" --model.learn_step=true --model.metric=gauss-newton --model.step_size=0.05 \
  --model.first_reverse_start=true
