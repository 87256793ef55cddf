#!/bin/bash
# Issue 29: the learning rate 3e-4 against the preset's 1e-3 over the first 5
# epochs of MNIST-5k (done-when 2's protocol: bench/lae_chain_drift.sh, AIS 100 x 4 x 300), seeds
# 0-2, one thread on core ${CORE:-0}; a clone of the repository at ed27b69 in $CLONE, runs in $RUNS:
#   CLONE=... RUNS=... bash five_epochs.sh
cd $CLONE
export PYTHONPATH=$CLONE  # the clone's code, not an editable install elsewhere
for s in 0 1 2; do
  VARIANTS="preset= lr3e-4=--train.lr=0.0003" RUNS=$RUNS bash bench/lae_chain_drift.sh 5 $s ${CORE:-0}
done
.venv/bin/python bench/ald_adapt_gain_summary.py $RUNS $RUNS/summary
date; echo done
