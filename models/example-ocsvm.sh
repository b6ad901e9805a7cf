#!/usr/bin/env bash
# Main-job step (called by models/run-example.sh): why are images of other
# Fashion-MNIST classes anomalies for a one-class SVM trained on trousers?
# Explains the shipped model on 8 t10k trousers and one image of each other
# class; writes relevance and heatmaps under OUT.
# Usage: bash models/example-ocsvm.sh NEON OUT
set -euo pipefail
neon="$1"; out="$2"
m="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
echo "== one-class SVM (Trouser, 653 SVs): NEON explanation of the outlier score =="
"$neon" explain "$m/fmnist_ocsvm.libsvm" --input "$m/fmnist_ocsvm.input.npy" \
  --output "$out/ocsvm_relevance.npy" --heatmap "$out/ocsvm_heatmaps" --quiet > "$out/ocsvm.txt"
labels=(T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Boot)
classes=(1 1 1 1 1 1 1 1 0 2 3 4 5 6 7 8 9)   # models/fmnist_ocsvm.labels.npy
printf '%-7s %-9s %9s %9s %-7s %9s\n' sample class score threshold outlier sum_R
grep -v '^#' "$out/ocsvm.txt" | while read -r n score thr outl sum; do
  printf '%-7s %-9s %9s %9s %-7s %9s\n' "$n" "${labels[${classes[$n]}]}" "$score" "$thr" "$outl" "$sum"
done
echo "   ... relevance in $out/ocsvm_relevance.npy, heatmaps in $out/ocsvm_heatmaps/"
echo "   (red: pixels whose distance to the trousers' support vectors makes the image an outlier)"
