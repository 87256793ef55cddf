#!/bin/bash
# validation and train AIS NLL of the VAE's kept checkpoints on full Fashion-MNIST (its best epoch)
while pgrep -f converged.sh > /dev/null; do sleep 30; done
cd /work/runs29/m1
OMP_NUM_THREADS=1 taskset -c 1 /work/main/.venv/bin/python /work/main/bench/lae_decline.py /work/runs29/fmnist-vae-s0 --n 500 \
  --out /work/runs29/decline-vae-s0.json > /work/runs29/decline-vae-s0.log 2>&1
