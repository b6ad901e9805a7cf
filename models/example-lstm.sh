#!/usr/bin/env bash
# The LSTM part of the main job (called by models/run-example.sh): the row
# LSTM reads each Fashion-MNIST image as 28 steps of 28 pixels; neon explains
# its prediction with the LSTM rules of RULES.md 7 (the reference settings
# are the default for LSTM graphs) and draws the (T, F) relevance in image
# layout.
# Usage: bash models/example-lstm.sh NEON_BINARY OUT_DIR
set -euo pipefail
neon="$1"; out="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
mkdir -p "$out"
echo "== LSTM on Fashion-MNIST rows (T=28 steps of F=28 pixels): predicted class =="
"$neon" explain "$here/models/fmnist_lstm.onnx" --input "$here/datasets/fmnist_sample_rows.npy" \
  --output "$out/lstm_relevance.npy" --heatmap "$out/lstm_heatmaps" > "$out/lstm.txt"
head -6 "$out/lstm.txt"
echo "   ... relevance (64, 28, 28) in $out/lstm_relevance.npy, heatmaps in $out/lstm_heatmaps/"
