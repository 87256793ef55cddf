#!/bin/bash
# issue 32 benchmark b, clone /work/ood32 at its HEAD (see git log there)
cd /work/ood32
MNIST_DIR=/work/shared/data/mnist taskset -c 0 bash bench/anomaly_ood.sh /work/ood32-out/fmnist fashion-mnist
