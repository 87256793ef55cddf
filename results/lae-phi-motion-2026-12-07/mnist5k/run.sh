#!/bin/bash
# Issue 29: the ALD step held at 5e-8 against the preset on MNIST-5k, 5 epochs, seeds 0 1 2
# (bench/lae_chain_drift.sh: freeze statistics and AIS 4 x 300 on 100 test images), from
# /work/main (the training code as at e1d7c7d; the preset variant by its overrides); core 1 after the frozen run's scoring.
while pgrep -f run_frozen_long.sh > /dev/null; do sleep 20; done
cd /work/main
for seed in 0 1 2; do
  RUNS=/work/eta29/runs VARIANTS="preset= eta5e-8=--model.step_size=5e-8,--model.adapt_step=false" \
    bash bench/lae_chain_drift.sh 5 $seed 1
done
