#!/usr/bin/env bash
# Trains the shipped one-class SVM: Fashion-MNIST class 1 (Trouser), all
# 6000 training images, pixels/255 in [0, 1], RBF kernel, nu 0.1, gamma 0.05,
# through `neon fit ocsvm` (libsvm's svm_train; deterministic: two runs give
# byte-identical files).  Then writes the small test set the README job
# explains: 8 t10k trousers and one t10k image of each other class.
# Usage: bash models/make_ocsvm.sh [path/to/neon]      (default: build/neon)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
neon="${1:-$here/build/neon}"
F=/usr/share/datasets/fashion-mnist
"$neon" fit ocsvm --data "$F/train-images-idx3-ubyte.gz" --labels "$F/train-labels-idx1-ubyte.gz" \
  --class 1 --scale 1/255 --nu 0.1 --gamma 0.05 --output "$here/models/fmnist_ocsvm.libsvm"
/usr/bin/python3 - "$here/models" "$F" <<'PY'
import gzip, sys
import numpy as np
out, F = sys.argv[1], sys.argv[2]
with gzip.open(F + "/t10k-images-idx3-ubyte.gz") as f:
    X = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
with gzip.open(F + "/t10k-labels-idx1-ubyte.gz") as f:
    y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
idx = list(np.flatnonzero(y == 1)[:8]) + [int(np.flatnonzero(y == c)[0]) for c in range(10) if c != 1]
np.save(out + "/fmnist_ocsvm.input.npy", X[idx].astype(np.float32) / 255)
np.save(out + "/fmnist_ocsvm.labels.npy", y[idx])
print("wrote", out + "/fmnist_ocsvm.input.npy", "(%d images: labels %s)" % (len(idx), list(y[idx])))
PY
