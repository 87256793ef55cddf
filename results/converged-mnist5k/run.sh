#!/usr/bin/env bash
# The converged comparison on MNIST-5k (docs/evaluation.md, "Converged comparison on MNIST-5k").
# 2026-12-06, from commit 707dea3 on; 2 CPU cores, one thread per run, two runs at a time.
# 1. every model x seeds 0-2 with early stopping on 500 held-out training images (patience 5):
cd /work/main && .venv/bin/python bench/paper_table.py --data mnist5k \
  --models vae,lae,shortrun,latent-ebm,flow-prior --seeds 0,1,2 --epochs 150 --jobs 2 --threads 1 \
  --set data.val_size=500 --set train.patience=5 --set train.eval_size=100 --set train.eval_k=20 \
  --set train.eval_ais_temps=40 --set train.eval_ais_chains=1 --set train.keep_checkpoints=1 \
  --set-for vae train.eval_ais_temps=0 \
  --set-for shortrun train.epochs=30 --set-for latent-ebm train.epochs=30 --set-for flow-prior train.epochs=30 \
  --checkpoint best --metrics nll-ais,bdmc,mse,probe --n-examples 200 --ais-chains 4 --ais-temps 300 \
  --bdmc-n-sim 10 --k 100 --reference vae --out ${OUT:-/tmp/conv}/mnist5k

# 2. runs that early stopping ended, resumed with patience 10 and scored again
cd /work/main
OUT=${OUT:-/tmp/conv}/mnist5k
E="--checkpoint best --metrics nll-ais,bdmc,mse,probe --k 100 --n-examples 200 --ais-chains 4 --ais-temps 300 --bdmc-n-sim 10"
while true; do
  did=0
  for run in $OUT/*-seed*/; do
    run=${run%/}
    [ -f $run/results.json ] || continue
    [ -f $run/p10.done ] && continue
    if grep -q 'early stop' $OUT/$(basename $run).log; then
      cp $run/results.json $run/results_p5.json
      rm $run/results.json
      OMP_NUM_THREADS=1 .venv/bin/lae train x --out $run --resume --train.patience=10 --train.num_threads=1 >> $run.p10.log 2>&1
      OMP_NUM_THREADS=1 .venv/bin/lae eval $run $E >> $run.p10.log 2>&1
    fi
    touch $run/p10.done; did=1
  done
  if [ $did = 0 ]; then
    pgrep -f paper_table.py > /dev/null || break
    sleep 30
  fi
done
echo all done

# 3. one change against flow-prior seed 0 (docs/models.md): the posterior chain's eta halved, K doubled
S="--data.name=mnist5k --train.epochs=30 --train.seed=0 --train.num_threads=1 --train.progress=false --data.val_size=500 --train.patience=5 --train.eval_size=100 --train.eval_k=20 --train.eval_ais_temps=40 --train.eval_ais_chains=1 --train.keep_checkpoints=1"
lae train flow-prior-mnist5k-mlp --out $OUT/../flow-prior-halfeta $S --model.posterior_step_size=0.0025 --model.posterior_steps=40
lae eval $OUT/../flow-prior-halfeta $E
python bench/posterior_curvature.py $OUT/../flow-prior-halfeta --checkpoints best,last --out results/converged-mnist5k/one-change/curv_flow-prior.json

# 4. the FD-classifier of every run's best checkpoint (500 samples against the 500 test images),
# added to its results.json (run after step 2 has scored the run)
for run in $OUT/*-seed*/; do
  lae eval ${run%/} --checkpoint best --metrics fd --n-examples 500
done

# 5. the table (docs/evaluation.md) and the files here
python bench/converged_summary.py $OUT --out-file results/converged-mnist5k/table.md
for d in $OUT/*-seed*/; do n=$(basename $d)
  cp $d/results.json results/converged-mnist5k/$n.json
  [ -f $d/results_p5.json ] && cp $d/results_p5.json results/converged-mnist5k/$n-p5.json
  cp $d/metrics.jsonl results/converged-mnist5k/$n-metrics.jsonl
done
