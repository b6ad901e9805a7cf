#!/usr/bin/env bash
# Main-job step (called by models/run-example.sh): why does each image belong
# to its k-means cluster?  Explains the shipped K=10 Fashion-MNIST model
# (NEON: neuralized k-means, midpoint rule, soft-min pool) on the 64 sample
# images; writes relevance, per-sample heatmaps and per-cluster mean maps.
# Usage: bash models/example-kmeans.sh NEON OUT
set -euo pipefail
neon="$1"; out="$2"
m="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"; d="$m/../datasets"
echo "== k-means (K=10, Fashion-MNIST): NEON explanation of the cluster assignment =="
"$neon" explain "$m/fmnist_kmeans.neonkm" --input "$d/fmnist_sample.npy" \
  --output "$out/kmeans_relevance.npy" --heatmap "$out/kmeans_heatmaps" --quiet > "$out/kmeans.txt"
labels=(T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Boot)
classes=(9 2 1 1 6 1 4 6 5 7 4 5 7 3 4 1 2 4 8 0 2 5 7 9 1 4 6 0 9 3 8 8)  # datasets/fmnist_sample_labels.npy
printf '%-7s %-9s %8s %10s %10s\n' sample class cluster f_c sum_R
grep -v '^#' "$out/kmeans.txt" | head -12 | while read -r n c f sum; do
  printf '%-7s %-9s %8s %10s %10s\n' "$n" "${labels[${classes[$n]}]}" "$c" "$f" "$sum"
done
echo "   ... all 64 in $out/kmeans.txt; relevance in $out/kmeans_relevance.npy"
echo "   heatmaps in $out/kmeans_heatmaps/ (sample_*.png; cluster_*.png: mean relevance per cluster)"
echo "   (red: pixels that put the image closer to its centroid than to the competing ones)"
