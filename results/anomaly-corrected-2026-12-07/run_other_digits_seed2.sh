#!/bin/bash
# Issue 32: the third seed (2) of the complexity score on held-out digits 0 2 3 6 8, as
# run_other_digits.sh otherwise (into the same OUT, so the summary pools seeds 0-2); code: a clone
# of the repository at 19de7b7 with its .venv.
#   CLONE=/path/to/clone OUT=/path/to/out-ten MNIST_DIR=/path/to/mnist bash run_other_digits_seed2.sh
cd $CLONE && git log --oneline -1
export PYTHONPATH=$CLONE OMP_NUM_THREADS=1
LAE=".venv/bin/python -m lae.cli" SCORES="complexity" K=20 DIGITS="0 2 3 6 8" \
  ANOMALY_FLAGS="--n-examples 5000" \
  taskset -c 1 bash bench/anomaly_table.sh vae $OUT 3 "2" \
  --data.name=mnist --data.data_dir=$MNIST_DIR
date; echo done
