#!/bin/bash
# Issue 29: the Phi-held run's last checkpoint (epoch 29; its best, 19, was chosen by the biased
# per-epoch AIS) scored like its best, and its fit terms; core 1 after /work/eta29/run.sh.
while kill -0 20129 2>/dev/null; do sleep 20; done  # /work/eta29/run.sh (pid 20129)
cd /work/main
for s in test train; do
  PYTHONPATH=/work/anom32/lae OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/lae eval \
    /work/phi29/lae-phifrozen-seed0 --checkpoint last --split $s --metrics nll-ais \
    --n-examples 200 --ais-chains 2 --ais-temps 500 --data-dir /work/shared/data/mnist \
    --out /work/phi29/frozen-last-$s.json > /work/phi29/frozen-last-$s.log 2>&1
done
OMP_NUM_THREADS=1 taskset -c 1 .venv/bin/python bench/fit_terms.py /work/phi29/lae-phifrozen-seed0 \
  --checkpoint best --out /work/phi29/fit-terms-frozen-best.json > /dev/null 2>&1
