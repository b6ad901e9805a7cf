#!/usr/bin/env bash
# The main job: builds neon and explains the shipped example models on the
# shipped data, writing relevance (.npy) and heatmaps (PNG) under out/.
# Usage: bash models/run-example.sh [out-dir]      (default: out)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/out}"
build="$here/build"
bash "$here/tests/install-deps.sh"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNEON_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target neon >/dev/null
neon="$build/neon"
mkdir -p "$out"
m="$here/models"; d="$here/datasets"

echo "== 1. CNN on Fashion-MNIST: epsilon-gamma-box composite, predicted class =="
"$neon" explain "$m/fmnist_cnn.onnx" --input "$d/fmnist_sample.npy" --output "$out/cnn_relevance.npy" \
  --composite epsilon-gamma-box --low 0 --high 1 --heatmap "$out/cnn_heatmaps" > "$out/cnn.txt"
head -11 "$out/cnn.txt"
echo "   ... relevance in $out/cnn_relevance.npy, heatmaps in $out/cnn_heatmaps/"
echo "== 1b. same images, log-odds of the predicted class =="
"$neon" explain "$m/fmnist_cnn.onnx" --input "$d/fmnist_sample.npy" --output "$out/cnn_logodds.npy" \
  --composite epsilon-gamma-box --low 0 --high 1 --head logodds --heatmap "$out/cnn_logodds_heatmaps" > "$out/cnn_logodds.txt"
head -6 "$out/cnn_logodds.txt"
for kind in kmeans ocsvm lstm matcher; do
  [ -x "$m/example-$kind.sh" ] && bash "$m/example-$kind.sh" "$neon" "$out"
done
echo "done: outputs in $out"
