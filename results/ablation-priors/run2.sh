#!/bin/bash
# (second part, after run.sh) One change at a time against the presets (runs/presets-priors/*-mnist5k are the baselines, same
# seed, data, epochs and evaluation): why latent-ebm and flow-prior trail the VAE at this budget.
while pgrep -f "ablation-priors/run.sh" > /dev/null; do sleep 30; done
cd /work/tablewt
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
OUT=/work/main/runs/ablation-priors
EVAL="--metrics nll-ais,mse --n-examples 100 --ais-chains 4 --ais-temps 500"
one() {  # name preset overrides...
  name=$1; preset=$2; shift 2
  [ -f $OUT/$name/results.json ] && return
  echo "$(date +%T) train $name" >> $OUT/progress.log
  python -m lae.cli train $preset --out $OUT/$name --train.epochs=3 --train.num_threads=1 --train.progress=false --train.eval_size=500 "$@" > $OUT/$name.log 2>&1
  python -m lae.cli eval $OUT/$name $EVAL >> $OUT/$name.log 2>&1
  echo "$(date +%T) done $name" >> $OUT/progress.log
}
export -f one; export OUT EVAL
printf '%s\n' \
  "latent-ebm-post60 latent-ebm-mnist5k-mlp --model.posterior_steps=60" \
  "flow-prior-post60 flow-prior-mnist5k-mlp --model.posterior_steps=60" \
  | xargs -P 2 -L 1 bash -c 'one "$@"' _
