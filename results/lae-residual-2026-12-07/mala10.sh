#!/bin/bash
# Issue 29, one change to the Phi-held LAE on full MNIST (results/lae-phi-motion-2026-12-07/
# frozen.sh: model.step_size=1e-12, adapt off; best epoch 19): 10 MALA refinement steps per
# training step instead of 2 (model.mala_steps=10), the table's settings, seed 0, 20 epochs.
# (The first try, the held-step preset with 10 MALA steps, stalled: its ALD chain stopped
# accepting at step 180 of epoch 1 and the stall guard stopped it; lae-mala10-stepheld-stalled.)
# Then AIS 2 x 500 on the same 200 test and training images as
# results/lae-step-held-2026-12-07/mnist/gap.sh, for paired differences.
# Code: a clone of the repository at c268419 (the table's code) with its .venv, in $CLONE.
#   CLONE=... OUT=... MNIST_DIR=... bash mala10.sh
cd $CLONE && git log --oneline -1
export OMP_NUM_THREADS=1 PYTHONPATH=$CLONE
O=$OUT
PY=$CLONE/.venv/bin/python
T="taskset -c ${CORE:-0}"
if [ -d $O/lae-mala10-seed0 ]; then RES=--resume; else RES=; fi
$T $PY -m lae.cli train lae-mnist5k-mlp $RES --out $O/lae-mala10-seed0 \
  --data.name=mnist --data-dir $MNIST_DIR --train.epochs=20 --train.seed=0 --train.num_threads=1 \
  --train.progress=false --data.val_size=5000 --train.patience=10 --train.eval_size=200 --train.eval_k=20 \
  --train.eval_ais_temps=500 --train.eval_ais_chains=1 --train.keep_checkpoints=1 \
  --model.step_size=1e-12 --model.adapt_step=false --model.mala_steps=10 >> $O/lae-mala10-seed0.log 2>&1
for c in best last; do for s in test train; do
  o=$O/mala10-$c-$s.json; [ -f $o ] && continue
  $T $PY -m lae.cli eval $O/lae-mala10-seed0 --checkpoint $c --split $s --metrics nll-ais --n-examples 200 \
    --ais-chains 2 --ais-temps 500 --data-dir $MNIST_DIR --out $o > $O/mala10-$c-$s.log 2>&1
done; done
date; echo done
