#!/bin/bash
# after drift3: is the batch's shared motion what makes a moving chain worse? The fast adapter
# with standardised features (model.feature_norm=batch: the batch's shared direction removed)
while pgrep -f "drift2.sh" >/dev/null; do sleep 20; done
cd /work/runs29/drift3
for s in 0 1 2; do
 RUNS=/work/runs29/drift-runs VARIANTS="fnorm=--model.feature_norm=batch gain0.3-fnorm=--model.adapt_gain=0.3,--model.feature_norm=batch" bash bench/lae_chain_drift.sh 5 $s 0
done
