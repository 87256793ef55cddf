#!/bin/bash
# Why the short-run models' learned step sizes collapse: the same MNIST-5k run (shortrun, K = 5,
# seed 0, 12 epochs = 540 steps) with the step size learned by the Langevin bound (the preset) and
# held fixed at its start (step_lr_multiplier 1e-9: Adam's moves of the raw parameter then change
# eta by a factor of at most exp(1e-9 * 540 * 1e-3)). Waits for runs/presets/run.sh to finish.
while pgrep -f "runs/presets/run.sh" > /dev/null; do sleep 30; done
cd /work/tablewt
source /work/main/.venv/bin/activate
export OMP_NUM_THREADS=1
OUT=/work/main/runs/ablation
for v in learned fixed; do
  extra=""; [ $v = fixed ] && extra="--model.step_lr_multiplier=1e-9"
  [ -f $OUT/$v/results.json ] && continue
  echo "$(date +%T) train $v" >> $OUT/progress.log
  python -m lae.cli train shortrun-mnist5k-mlp --out $OUT/$v --model.n_steps=5 --model.step_size=0.001 --train.epochs=12 --train.seed=0 --train.num_threads=1 --train.progress=false $extra > $OUT/$v.log 2>&1
  python -m lae.cli eval $OUT/$v --metrics nll-ais,langevin-bound,mse --n-examples 100 --ais-chains 4 --ais-temps 500 >> $OUT/$v.log 2>&1
  echo "$(date +%T) done $v" >> $OUT/progress.log
done
