#!/usr/bin/env bash
# One (variant, seed) cell of the LAE-fix table on full MNIST 8-bit: train EPOCHS epochs from the
# lae-mnist5k-mlp / vae-mnist5k-mlp / hoffman-mnist5k-mlp setting with the dataset replaced, one
# thread, then score AIS NLL, the BDMC gap and posterior fidelity on 100 evenly spaced test images.
# Usage: bench/ald_table.sh VARIANT SEED [OUT_ROOT]   (variants as in bench/ald_fix.sh)
set -euo pipefail
VARIANT=$1; SEED=$2; ROOT=${3:-runs/ald-fix}; EPOCHS=${EPOCHS:-3}
DATA_DIR=${DATA_DIR:?set DATA_DIR to the folder with the MNIST IDX files}; DATA=${DATA:-mnist}
case $VARIANT in
  vae)       PRESET=vae-mnist5k-mlp; ARGS=() ;;
  hoffman)   PRESET=hoffman-mnist5k-mlp; ARGS=() ;;
  lae-plain) PRESET=lae-mnist5k-mlp; ARGS=(--model.mala_steps=0) ;;
  lae-mala)  PRESET=lae-mnist5k-mlp; ARGS=(--model.mala_steps=5) ;;
  lae-featnorm-mala) PRESET=lae-mnist5k-mlp; ARGS=(--model.feature_norm=batch --model.mala_steps=5) ;;
  *) echo "unknown variant $VARIANT" >&2; exit 2 ;;
esac
RUN=$ROOT/$VARIANT-s$SEED
[ -f "$RUN/checkpoints/last.pt" ] || lae train $PRESET --out "$RUN" --train.epochs=$EPOCHS \
  --data.name=$DATA --data-dir "$DATA_DIR" --train.num_threads=1 --train.seed=$SEED \
  --train.eval_size=500 "${ARGS[@]}"
lae eval "$RUN" --metrics ${METRICS:-posterior,nll-ais,bdmc} --n-examples 100 \
  --posterior-ref-steps 1500 --posterior-ref-warmup 1500 --ais-chains 4 --ais-temps 500 \
  --bdmc-n-sim 20 --data-dir "$DATA_DIR" --overwrite --out "$RUN/results-epoch$EPOCHS-table.json"
