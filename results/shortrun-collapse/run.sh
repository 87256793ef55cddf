#!/usr/bin/env bash
# Why short-run's learned step size falls (docs/models.md, "Why the learned step falls"), and the
# learned priors in their papers' settings (docs/models.md, "Learned priors in their papers' settings").
# MNIST-5k, seed 0, one thread per run, two runs at a time (taskset -c 0 / -c 1); OUT is where the
# run folders go (about 2 GB of epoch checkpoints); eval/ and the runs' metrics.jsonl are copied here. 2026-12-06, commit after 94d9f07.
set -euo pipefail
OUT=${1:-/tmp/sr}
common="--train.seed=0 --train.keep_checkpoints=0 --train.num_threads=1 --train.eval_size=200 --train.progress=false"
# (A-D ran before model.learn_step existed, when the step was always learned.)
# A: the shared-setting preset at K = 5 with the step learned; B: the same with the paper's likelihood (Gaussian, sigma 0.3
# on [-1, 1]); C: K = 20 with the step learned (the preset until 2026-12-06); D: the paper-setting preset; V, V3: the VAEs beside them.
lae train shortrun-mnist5k-mlp --out $OUT/A --model.n_steps=5 --model.learn_step=true --train.epochs=40 $common
lae train shortrun-mnist5k-mlp --out $OUT/B --model.n_steps=5 --model.learn_step=true --data.scale=-11 --model.likelihood=gaussian '--model.likelihood_options={sigma: 0.3}' --train.epochs=40 $common
lae train shortrun-mnist5k-mlp --out $OUT/C --model.n_steps=20 --model.learn_step=true --train.epochs=40 $common
lae train shortrun-paper-mnist5k-mlp --out $OUT/D --train.epochs=30 $common
# E, F: D and C with the step held (the fix); F for 30 epochs
lae train shortrun-paper-mnist5k-mlp --out $OUT/E --model.learn_step=false --train.epochs=30 $common
lae train shortrun-mnist5k-mlp --out $OUT/F --model.n_steps=20 --model.learn_step=false --train.epochs=30 $common
lae train vae-mnist5k-mlp --out $OUT/V --train.epochs=40 $common
lae train vae-mnist5k-mlp --out $OUT/V3 --data.scale=-11 --model.likelihood=gaussian '--model.likelihood_options={sigma: 0.3}' --train.epochs=30 $common
# the posterior's curvature at every epoch checkpoint (collapse_<run>.json here)
for r in A B; do python bench/shortrun_collapse.py $OUT/$r --images 50 --out results/shortrun-collapse/collapse_$r.json; done
python bench/shortrun_collapse.py $OUT/C --images 50 --epochs 1,2,3,5,8,10,15,20,25,30,35,40 --out results/shortrun-collapse/collapse_C.json
for r in D E F; do python bench/shortrun_collapse.py $OUT/$r --images 50 --epochs 1,2,3,5,8,10,15,20,25,30 --out results/shortrun-collapse/collapse_$r.json; done
# MSE and the linear probe on all 500 test images (probe fitted on all 4,500 training codes)
for r in A B C V; do for e in 1 5 10 20 40; do
  lae eval $OUT/$r --checkpoint $e --metrics mse,probe --n-examples 0 --probe-train 0 --out $OUT/eval/${r}_$e.json
done; done
lae eval $OUT/C --checkpoint 30 --metrics mse,probe --n-examples 0 --probe-train 0 --out $OUT/eval/C_30.json
for r in D E F V3; do for e in 1 5 10 20 30; do
  lae eval $OUT/$r --checkpoint $e --metrics mse,probe --n-examples 0 --probe-train 0 --out $OUT/eval/${r}_$e.json
done; done
# AIS NLL at epoch 30 on 100 test images
for r in C F V D E V3; do
  lae eval $OUT/$r --checkpoint 30 --metrics nll-ais --n-examples 100 --ais-chains 4 --ais-temps 300 --out $OUT/eval/ais_${r}_30.json
done
# Learned priors in their papers' settings (docs/models.md), beside VAEs of the same decoder,
# latent dim and likelihood (V3 above: latent dim 8)
lae train latent-ebm-paper-mnist5k-mlp --out $OUT/L --train.epochs=30 $common
lae train flow-prior-paper-mnist5k-mlp --out $OUT/P --train.epochs=30 $common || true  # diverges at step 341
lae train flow-prior-paper-mnist5k-mlp --out $OUT/P2 --train.lr=1e-4 --train.epochs=25 $common
lae train vae-mnist5k-mlp --out $OUT/V20 --model.latent_dim=20 --data.scale=-11 --model.likelihood=gaussian '--model.likelihood_options={sigma: 0.3}' --train.epochs=30 $common
for r in L V20; do for e in 1 5 10 20 30; do
  lae eval $OUT/$r --checkpoint $e --metrics mse,probe --n-examples 0 --probe-train 0 --out $OUT/eval/${r}_$e.json
done; lae eval $OUT/$r --checkpoint 30 --metrics nll-ais --n-examples 100 --ais-chains 4 --ais-temps 300 --out $OUT/eval/ais_${r}_30.json; done
for e in 1 5; do lae eval $OUT/P --checkpoint $e --metrics mse,probe --n-examples 0 --probe-train 0 --out $OUT/eval/P_$e.json; done
for e in 1 5 10 20 25; do lae eval $OUT/P2 --checkpoint $e --metrics mse,probe --n-examples 0 --probe-train 0 --out $OUT/eval/P2_$e.json; done
lae eval $OUT/P2 --checkpoint 25 --metrics nll-ais --n-examples 100 --ais-chains 4 --ais-temps 300 --out $OUT/eval/ais_P2_25.json
# Why short-run's probe declines with eta held: the probe on infer(x), on the mean of 16 chains and
# on the posterior mode (docs/models.md); probe_codes_<run>.json here
for r in F E C V; do
  python bench/probe_codes.py $OUT/$r --epochs 5,30 --train-images 1000 --out results/shortrun-collapse/probe_codes_$r.json
done
# Why the flow prior degrades: the posterior's curvature against its fixed-step chain (curvature_<run>.json here)
python bench/posterior_curvature.py $OUT/P --images 50 --out results/shortrun-collapse/curvature_P.json
python bench/posterior_curvature.py $OUT/P2 --images 50 --epochs 1,3,5,7,10,15,20,25 --out results/shortrun-collapse/curvature_P2.json
python bench/posterior_curvature.py $OUT/L --images 50 --epochs 1,3,5,7,10,15,20,25,30 --out results/shortrun-collapse/curvature_L.json
# ... and on the converged table's seed-0 runs (results/converged-mnist5k/run.sh), best and last checkpoints
for m in flow-prior latent-ebm; do
  python bench/posterior_curvature.py ${CONV:-/tmp/conv}/mnist5k/$m-seed0 --checkpoints best,last --out results/shortrun-collapse/curvature_conv_$m.json
done
