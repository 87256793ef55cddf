#!/bin/bash
# The new presets trained and scored with the full metric set, one at a time, one thread (the
# comparison table runs beside it). MNIST-5k: the presets' own data, 3 epochs; Fashion-MNIST:
# 1 epoch, the short-run models at K = 5 steps as in the table; then the VAE / plain-LAE
# reproduction check on full MNIST (seed 0, the table's settings).
cd /work/tablewt
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
OUT=/work/main/runs/presets
EVAL="--metrics nll-ais,bdmc,elbo,iwae,langevin-bound,mse,fd,probe --n-examples 100 --ais-chains 4 --ais-temps 500 --bdmc-n-sim 10 --k 100 --probe-train 1000"
one() {  # name preset epochs extra...
  name=$1; preset=$2; epochs=$3; shift 3
  [ -f $OUT/$name/results.json ] && return
  echo "$(date +%T) train $name" >> $OUT/progress.log
  python -m lae.cli train $preset --out $OUT/$name --train.epochs=$epochs --train.num_threads=1 --train.progress=false "$@" > $OUT/$name.log 2>&1
  echo "$(date +%T) eval $name" >> $OUT/progress.log
  python -m lae.cli eval $OUT/$name $EVAL >> $OUT/$name.log 2>&1
  echo "$(date +%T) done $name" >> $OUT/progress.log
}
# reproduction: the same commands as results/table-mnist's seed-0 VAE and LAE (plain ALD)
TABLE="--metrics nll-ais,bdmc,elbo,iwae,mse --k 1000 --n-examples 100 --ais-chains 4 --ais-temps 1000 --bdmc-n-sim 20 --data-dir /work/shared/data/mnist"
for m in vae lae; do
  name=repro-$m-seed0
  [ -f $OUT/$name/results.json ] && continue
  extra=""; [ $m = lae ] && extra="--model.mala_steps=0"
  echo "$(date +%T) train $name" >> $OUT/progress.log
  python -m lae.cli train $m-mnist5k-mlp --out $OUT/$name --data.name=mnist --train.epochs=3 --train.seed=0 --train.num_threads=1 --train.progress=false --train.eval_size=500 --data-dir /work/shared/data/mnist $extra > $OUT/$name.log 2>&1
  python -m lae.cli eval $OUT/$name $TABLE >> $OUT/$name.log 2>&1
  echo "$(date +%T) done $name" >> $OUT/progress.log
done

one abp-fmnist abp-fashion-mnist-mlp 1 --train.eval_size=500
one lae-2layer-fmnist lae-2layer-fashion-mnist-mlp 1 --train.eval_size=500
one shortrun-2layer-fmnist shortrun-2layer-fashion-mnist-mlp 1 --train.eval_size=500 --model.n_steps=5
one shortrun-fmnist shortrun-fashion-mnist-mlp 1 --train.eval_size=500 --model.n_steps=5
