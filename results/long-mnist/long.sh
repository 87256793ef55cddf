#!/bin/bash
# Continue the seed-0 VAE and LAE of the MNIST table from 3 to 12 epochs, then score them alike.
cd /work/main
mkdir -p runs/long-mnist
date -u +%FT%TZ > runs/long-mnist/start
for m in vae lae; do
  (rm -rf runs/long-mnist/$m-seed0 && cp -r runs/table-mnist/$m-seed0 runs/long-mnist/ && rm runs/long-mnist/$m-seed0/results.json
   OMP_NUM_THREADS=1 .venv/bin/python -m lae.cli train x --out runs/long-mnist/$m-seed0 --resume --train.epochs=12 --data-dir /work/shared/data/mnist > runs/long-mnist/$m.log 2>&1
   OMP_NUM_THREADS=1 .venv/bin/python -m lae.cli eval runs/long-mnist/$m-seed0 --metrics nll-ais,bdmc,elbo,iwae,mse --k 1000 --n-examples 100 --ais-chains 4 --ais-temps 1000 --bdmc-n-sim 20 --data-dir /work/shared/data/mnist >> runs/long-mnist/$m.log 2>&1) &
done
wait
date -u +%FT%TZ >> runs/long-mnist/start
