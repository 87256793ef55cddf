#!/bin/bash
# The learned-prior presets trained and scored with the full metric set, two runs at a time, one
# thread each, after the comparison table (runs/table-priors) has finished. MNIST-5k: the presets'
# own data, 3 epochs; Fashion-MNIST: 1 epoch. Same evaluation settings as results/presets.
while pgrep -f "paper_table.py" > /dev/null; do sleep 30; done
cd /work/tablewt
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
OUT=/work/main/runs/presets-priors
EVAL="--metrics nll-ais,bdmc,elbo,iwae,mse,fd,probe --n-examples 100 --ais-chains 4 --ais-temps 500 --bdmc-n-sim 10 --k 100 --probe-train 1000"
one() {  # name preset epochs
  name=$1; preset=$2; epochs=$3
  [ -f $OUT/$name/results.json ] && return
  resume=""; [ -f $OUT/$name/config.yaml ] && resume="--resume"
  echo "$(date +%T) train $name" >> $OUT/progress.log
  python -m lae.cli train $preset --out $OUT/$name --train.epochs=$epochs --train.num_threads=1 --train.progress=false --train.eval_size=500 $resume > $OUT/$name.log 2>&1
  echo "$(date +%T) eval $name" >> $OUT/progress.log
  python -m lae.cli eval $OUT/$name $EVAL >> $OUT/$name.log 2>&1
  echo "$(date +%T) done $name" >> $OUT/progress.log
}
export -f one; export OUT EVAL
for m in latent-ebm flow-prior lae-ebm lae-flow infovae; do
  echo "$m-fmnist $m-fashion-mnist-mlp 1"; echo "$m-mnist5k $m-mnist5k-mlp 3"
done | xargs -P 2 -L 1 bash -c 'one "$@"' _
