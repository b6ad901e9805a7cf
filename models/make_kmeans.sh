#!/bin/sh
# Fits the shipped k-means model: K=10 on the 60,000 Fashion-MNIST training
# images (pixel/255 in [0, 1], flattened to 784 features), seed 0,
# 10 restarts.  Usage, from the repository root after building:
#     sh models/make_kmeans.sh [path/to/neon]
# Fashion-MNIST comes from Debian's dataset-fashion-mnist package.
set -e
NEON=${1:-build/neon}
DATA=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
"$NEON" fit kmeans --data "$DATA" -k 10 --seed 0 --n-init 10 --output models/fmnist_kmeans.neonkm
