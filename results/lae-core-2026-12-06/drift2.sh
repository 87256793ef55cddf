#!/bin/bash
# after the first drift loop: the asymmetric adapter, with and without row-space noise (commit in drift2/)
while pgrep -f "runs29/drift-runs" >/dev/null || pgrep -f "lae_chain_drift.sh 5 [0-2] 0" > /dev/null; do sleep 20; done
cd /work/runs29/drift2
for s in 0 1 2; do
 RUNS=/work/runs29/drift-runs VARIANTS="fall0.3=--model.adapt_fall_gain=0.3 fall0.3-rowspace=--model.adapt_fall_gain=0.3,--model.row_space_noise=true" bash bench/lae_chain_drift.sh 5 $s 0
done
