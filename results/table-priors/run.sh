#!/bin/bash
cd /work/tablewt
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
python bench/paper_table.py --data mnist --data-dir /work/shared/data/mnist --epochs 3 \
  --models latent-ebm,lae-ebm,flow-prior,lae-flow,infovae --seeds 0,1,2 --n-examples 100 \
  --ais-chains 4 --ais-temps 1000 --bdmc-n-sim 20 --k 1000 --jobs 2 --threads 1 \
  --set train.eval_size=500 --reference vae \
  $(for m in vae lae; do for s in 0 1 2; do echo --include /work/main/results/table-mnist/$m-seed$s.json; done; done) \
  $(for s in 0 1 2; do echo --include /work/main/results/table-new/lae-mala-seed$s.json; done) \
  --out /work/main/runs/table-priors
