#!/usr/bin/env bash
# ALD conditioning fixes on full MNIST 8-bit (docs/models.md, "Why the LAE's chain did not
# sample"): each variant trained from the lae-mnist5k-mlp setting with the dataset replaced, seed 0,
# one thread; snapshots after epoch 1 and epoch $LAST scored with posterior fidelity and AIS.
# Usage: bench/ald_fix.sh VARIANT [OUT_ROOT]   (two at once on 2 cores: taskset -c 0 / -c 1)
# The lae-* variants other than lae-mala pin mala_steps=0 (the presets now default to 5).
set -euo pipefail
VARIANT=$1; ROOT=${2:-runs/ald-fix}; LAST=${LAST:-3}; SEED=${SEED:-0}
DATA_DIR=${DATA_DIR:?set DATA_DIR to the folder with the MNIST IDX files}; DATA=${DATA:-mnist}
case $VARIANT in
  vae)       PRESET=vae-mnist5k-mlp; ARGS=() ;;
  lae-plain) PRESET=lae-mnist5k-mlp; ARGS=(--model.mala_steps=0) ;;
  lae-damped) PRESET=lae-mnist5k-mlp; ARGS=(--model.mala_steps=0 --model.preconditioned=true
             --model.precond_damping=1.0 --model.precond_damping_ref=median
             --model.phi_prior_std=1.0) ;;
  lae-featnorm) PRESET=lae-mnist5k-mlp; ARGS=(--model.mala_steps=0 --model.feature_norm=batch) ;;
  lae-mala)  PRESET=lae-mnist5k-mlp; ARGS=(--model.mala_steps=5) ;;
  *) PRESET=$VARIANT; ARGS=() ;;  # any preset name
esac
RUN=$ROOT/$VARIANT-s$SEED
EVAL=(${EVAL_EXTRA:-}
      --metrics posterior,nll-ais --n-examples 100 --posterior-ref-steps 1500
      --posterior-ref-warmup 1500 --ais-chains 4 --ais-temps 500 --overwrite)
COMMON=(--data.name=$DATA --data-dir "$DATA_DIR" --train.num_threads=1 --train.seed=$SEED
        --train.eval_size=500)
lae train $PRESET --out "$RUN" --train.epochs=1 "${COMMON[@]}" "${ARGS[@]}"
lae eval "$RUN" "${EVAL[@]}" --data-dir "$DATA_DIR" --out "$RUN/results-epoch1.json"
lae train $PRESET --out "$RUN" --resume --train.epochs=$LAST --data-dir "$DATA_DIR"
lae eval "$RUN" "${EVAL[@]}" --data-dir "$DATA_DIR" --out "$RUN/results-epoch$LAST.json"
