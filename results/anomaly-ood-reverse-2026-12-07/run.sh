#!/bin/bash
# Issue 32, the reverse out-of-distribution pair: a VAE trained on full MNIST (the converged
# table's vae-seed0, best checkpoint) scores MNIST test images (normal) against Fashion-MNIST
# test images (anomalies), 2,000 of each, evenly spaced; raw likelihood (IWAE k = 20) and the
# complexity-corrected score. Code: /work/main at the commit printed; core 1, niced.
cd /work/main && git log --oneline -1
RUN=/work/full29-out/mnist/presets/vae-seed0
for score in nll-iwae complexity; do
  o=/work/ood32r/vae-seed0-$score; [ -f $o/anomaly.json ] && continue
  OMP_NUM_THREADS=1 taskset -c 1 nice -n 5 .venv/bin/lae anomaly $RUN --checkpoint best \
    --against fashion-mnist --score $score --k 20 --n-examples 2000 --out $o > $o.log 2>&1
done
