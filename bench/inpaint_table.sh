#!/usr/bin/env bash
# Inpainting table: lae inpaint on trained runs, four masks, the model's inference alone
# (--steps 0) and with 100 MALA steps on the masked posterior, 100 evenly spaced test images.
# Usage: bench/inpaint_table.sh OUT_DIR RUN_DIR [RUN_DIR ...]
set -euo pipefail
out=$1; shift
lae=${LAE:-.venv/bin/lae}
for run in "$@"; do
  for mask in centre bottom pixels:0.7 patches:4:0.5; do
    for steps in 0 100; do
      OMP_NUM_THREADS=1 $lae inpaint "$run" --mask $mask --steps $steps \
        --out "$out/$(basename "$run")-steps$steps" --overwrite > /dev/null
    done
  done
  echo "$run done"
done
