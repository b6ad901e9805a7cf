#!/usr/bin/env bash
# Main-job step (called by models/run-example.sh): which parts of two
# Fashion-MNIST images make a siamese matcher call them the same kind of
# garment?  BiLRP (second-order relevance over pairs of 4x4 pixel blocks)
# for 8 t10k pairs; writes the pair relevance, the marginal heatmaps of both
# images and pictures of the strongest links under OUT.
# Usage: bash models/example-matcher.sh NEON OUT
set -euo pipefail
neon="$1"; out="$2"
m="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
echo "== siamese matcher <phi(x), phi(y)> (embedding 64): BiLRP pair explanations =="
"$neon" explain "$m/fmnist_matcher.onnx" --input "$m/fmnist_matcher.x.npy" \
  --input2 "$m/fmnist_matcher.y.npy" --composite epsilon-gamma-box --low 0 --high 1 --block 4 \
  --output "$out/matcher_relevance.npy" --heatmap "$out/matcher_pictures" --links 16 --quiet \
  > "$out/matcher.txt"
labels=(T-shirt Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Boot)
first=(0 1 2 3 4 5 6 7); second=(0 0 2 9 4 2 6 6)   # classes of the shipped pairs
threshold=0.394804                                 # from train_fmnist_matcher.py
printf '%-5s %-9s %-9s %9s %-6s %9s\n' pair x y score match sum_R
grep -v '^#' "$out/matcher.txt" | while read -r n target score sum; do
  match=$(awk -v s="$score" -v t="$threshold" 'BEGIN { print (s > t) ? "yes" : "no" }')
  printf '%-5s %-9s %-9s %9s %-6s %9s\n' "$n" "${labels[${first[$n]}]}" "${labels[${second[$n]}]}" \
    "$score" "$match" "$sum"
done
echo "   ... pair relevance (8, 49, 49) over 4x4-pixel blocks in $out/matcher_relevance.npy"
echo "   ... $out/matcher_pictures/: x_*.png, y_*.png (marginal heatmaps), pairs_*.png"
echo "       (red lines: block pairs that make the images match, blue: that speak against it)"
