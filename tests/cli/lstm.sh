#!/usr/bin/env bash
# End-to-end tests of `neon explain` / `neon info` on LSTMs: the shipped
# Fashion-MNIST row LSTM (X of shape (N, T, F), heatmaps in image layout),
# the golden model of docs/lstm-golden.md through the CLI's defaults (the
# reference settings), and refused inputs (one-line errors, no output left).
# usage: bash lstm.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
model="$src/models/fmnist_lstm.onnx"; X="$src/datasets/fmnist_sample_rows.npy"
fx="$src/tests/data/lstm"
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# make_npy FILE SHAPE-TUPLE NBYTES: a float32 v1.0 .npy of zeros
make_npy() {
  local f="$1" shape="$2" n="$3"
  local dict="{'descr': '<f4', 'fortran_order': False, 'shape': $shape, }"
  local total=$(( 10 + ${#dict} + 1 )); local pad=$(( (64 - total % 64) % 64 ))
  local hl=$(( ${#dict} + pad + 1 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))";
    printf '%s' "$dict"; printf "%${pad}s" ''; printf '\n'; head -c "$n" /dev/zero; } > "$f"
}

expect_fail() {
  local name="$1" want="$2"; shift 3
  rm -f "$tmp/R.npy"
  "$neon" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if ! grep -qi -- "$want" "$tmp/err"; then bad "$name: stderr lacks '$want': $(cat "$tmp/err")"; return; fi
  if [ "$(grep -c . "$tmp/err")" -gt 2 ]; then bad "$name: long error: $(cat "$tmp/err")"; return; fi
  if [ -e "$tmp/R.npy" ]; then bad "$name: output file left behind"; return; fi
  ok
}

# --- the shipped model ------------------------------------------------------
"$neon" explain "$model" --input "$X" --output "$tmp/R.npy" --heatmap "$tmp/hm" >"$tmp/out" 2>"$tmp/err" \
  || bad "explain failed: $(cat "$tmp/err")"
[ "$(grep -vc '^#' "$tmp/out")" -eq 64 ] && ok || bad "expected 64 sample lines"
[ "$(stat -c %s "$tmp/R.npy")" -eq "$(stat -c %s "$X")" ] && ok || bad "R.npy size differs from X"
[ "$(ls "$tmp/hm" | wc -l)" -eq 64 ] && ok || bad "expected 64 heatmaps"
# (T, F) = (28, 28) drawn in image layout: a PNG 28 rows high at scale 4 (IHDR height 112)
[ "$(head -c 24 "$tmp/hm/sample_00000.png" | od -An -tx1 | tr -d ' \n' | cut -c1-16,41-48)" = "89504e470d0a1a0a00000070" ] \
  && ok || bad "heatmap is not a 112-pixel-high PNG"
# sample 0 (an ankle boot) is class 9; batches of 5 give the same lines
awk '!/^#/ && $1 == 0 {exit !($2 == 9)}' "$tmp/out" && ok || bad "sample 0 is not class 9"
"$neon" explain "$model" --input "$X" --batch 5 > "$tmp/out5" 2>/dev/null && cmp -s "$tmp/out" "$tmp/out5" && ok \
  || bad "--batch 5 changes the results"
"$neon" info "$model" > "$tmp/info" 2>&1 && grep -q "lstm_cell" "$tmp/info" && grep -q "dense_seq" "$tmp/info" \
  && grep -q "epsilon(0.001)" "$tmp/info" && ok || bad "info: $(cat "$tmp/info")"

# the input projection is the first dense layer: -flat composites give it the flat rule
"$neon" info "$model" --composite epsilon-plus-flat 2>&1 | grep -q "dense_seq .* flat " && ok || bad "flat on dense_seq"
"$neon" explain "$model" --input "$src/models/fmnist_lstm.input.npy" --composite epsilon-plus-flat >/dev/null 2>&1 \
  && ok || bad "epsilon-plus-flat explain"

# --- golden vectors through the CLI's defaults ----------------------------------
"$neon" explain "$fx/golden.onnx" --input "$fx/golden.input.npy" --target 0 > "$tmp/g" 2>&1 || bad "golden: $(cat "$tmp/g")"
grep -q "^0 0 0.1247743 0.1011235$" "$tmp/g" && ok || bad "golden score/sum: $(cat "$tmp/g")"

# --- bad input ----------------------------------------------------------------
make_npy "$tmp/T27.npy" '(2, 27, 28)' $((2 * 27 * 28 * 4))
expect_fail "sequence length" "expected shape (2, 28, 28)" -- explain "$model" --input "$tmp/T27.npy" --output "$tmp/R.npy"
expect_fail "image layout input" "expected shape" -- explain "$model" --input "$src/datasets/fmnist_sample.npy" --output "$tmp/R.npy"
expect_fail "clip" "'lstm_clip' (op LSTM): attribute 'clip'" -- explain "$fx/bad_clip.onnx" --input "$fx/golden.input.npy" --output "$tmp/R.npy"
expect_fail "activations" "'lstm_act' (op LSTM): activations" -- explain "$fx/bad_act.onnx" --input "$fx/golden.input.npy" --output "$tmp/R.npy"
expect_fail "peepholes" "'lstm_peep' (op LSTM): peephole" -- explain "$fx/bad_peephole.onnx" --input "$fx/golden.input.npy" --output "$tmp/R.npy"
expect_fail "sequence_lens" "'lstm_lens' (op LSTM): sequence_lens" -- explain "$fx/bad_seqlen.onnx" --input "$fx/golden.input.npy" --output "$tmp/R.npy"

echo "cli lstm: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
