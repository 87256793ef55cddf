#!/bin/bash
# Issue 29: the frozen-Phi LAE (run_frozen.sh) resumed to convergence with the table's early
# stopping (patience 10 on the per-epoch AIS 1 x 500 of 200 validation images), then scored at
# its best epoch for a paired comparison with the VAE seed 0 (bench/paired.py). Code: the clone /work/full29b at e1d7c7d.
while pgrep -f "out /work/phi29/lae-phifrozen-seed0 " > /dev/null; do sleep 20; done
cd /work/full29b
export OMP_NUM_THREADS=1
taskset -c 1 .venv/bin/lae train lae-mnist5k-mlp --resume --out /work/phi29/lae-phifrozen-seed0 \
  --data-dir /work/shared/data/mnist --train.epochs=300 >> /work/phi29/lae-phifrozen-seed0.log 2>&1
# scored like results/converged-full-2026-12-06/gap/run.sh scored the VAE and the preset LAE
# (AIS 2 x 500, 200 evenly spaced images of each split; code with per-example values: the
# clone /work/anom32/lae at d267faf)
for s in test train; do
  PYTHONPATH=/work/anom32/lae taskset -c 1 /work/main/.venv/bin/lae eval \
    /work/phi29/lae-phifrozen-seed0 --checkpoint best --split $s --metrics nll-ais \
    --n-examples 200 --ais-chains 2 --ais-temps 500 --data-dir /work/shared/data/mnist \
    --out /work/phi29/frozen-best-$s.json > /work/phi29/frozen-best-$s.log 2>&1
done
