#!/usr/bin/env bash
# End-to-end tests of `neon explain` on matchers (two-input models): the
# shipped Fashion-MNIST matcher (scores, conservation, R shapes, pooling,
# pictures), the golden vector of RULES.md 8 through the CLI, and the bad
# inputs (missing or mismatched second input, bad options): one-line error,
# non-zero exit, no output file left behind.
# usage: bash matcher.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
m="$src/models"; model="$m/fmnist_matcher.onnx"; X="$m/fmnist_matcher.x.npy"; Y="$m/fmnist_matcher.y.npy"
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# make_npy FILE DESCR SHAPE-TUPLE DATA-BYTES(printf format): writes a v1.0 .npy
make_npy() {
  local f="$1" descr="$2" shape="$3" data="$4"
  local dict="{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
  local total=$(( 10 + ${#dict} + 1 )); local pad=$(( (64 - total % 64) % 64 ))
  local hl=$(( ${#dict} + pad + 1 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))";
    printf '%s' "$dict"; printf "%${pad}s" ''; printf '\n'; printf "$data"; } > "$f"
}
# npy_floats FILE: the float32 data of a v1.0 .npy, one value per line
npy_floats() {
  local hl; hl=$(od -A n -t u2 -j 8 -N 2 "$1" | tr -d ' ')
  od -A n -v -t f4 -j $((10 + hl)) "$1" | tr -s ' ' '\n' | grep -v '^$'
}
# little-endian float32 bytes of 1, 2 and 0.3
one='\x00\x00\x80\x3f'; two='\x00\x00\x00\x40'; p3='\x9a\x99\x99\x3e'

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

# --- the shipped matcher ----------------------------------------------------
"$neon" explain "$model" --input "$X" --input2 "$Y" --output "$tmp/R.npy" --rule lrp0 \
  --heatmap "$tmp/hm" --quiet >"$tmp/out" 2>"$tmp/err" || bad "explain failed: $(cat "$tmp/err")"
[ "$(grep -vc '^#' "$tmp/out")" -eq 8 ] && ok || bad "expected 8 pair lines: $(cat "$tmp/out")"
# scores equal the torch scores; bias-free ReLU branches + LRP-0: sum R = score
npy_floats "$m/fmnist_matcher.scores.npy" > "$tmp/want"
grep -v '^#' "$tmp/out" | paste - "$tmp/want" | awk '
  { d = $3 - $5; if (d < 0) d = -d; if (d > 1e-4 * (1 + ($5 < 0 ? -$5 : $5))) e = 1
    c = $4 - $3; if (c < 0) c = -c; if (c > 1e-3 * (1 + ($3 < 0 ? -$3 : $3))) e = 1 }
  END { exit e }' && ok || bad "scores/conservation: $(cat "$tmp/out")"
# R is (8, 784, 784) float32
n=$(npy_floats "$tmp/R.npy" | wc -l)
[ "$n" -eq $((8 * 784 * 784)) ] && ok || bad "R.npy has $n values, want $((8 * 784 * 784))"
for p in x y pairs; do
  [ "$(ls "$tmp/hm" | grep -c "^${p}_.*\.png$")" -eq 8 ] && ok || bad "expected 8 $p pictures: $(ls "$tmp/hm")"
done
# --block 4: (8, 49, 49), same totals
"$neon" explain "$model" --input "$X" --input2 "$Y" --output "$tmp/R4.npy" --rule lrp0 --block 4 \
  --quiet >"$tmp/out4" 2>"$tmp/err" || bad "block 4: $(cat "$tmp/err")"
[ "$(npy_floats "$tmp/R4.npy" | wc -l)" -eq $((8 * 49 * 49)) ] && ok || bad "R4.npy size"
paste "$tmp/out" "$tmp/out4" | grep -v '^#' | awk '{ d = $4 - $8; if (d < 0) d = -d; if (d > 1e-3) e = 1 } END { exit e }' \
  && ok || bad "block totals differ: $(paste "$tmp/out" "$tmp/out4")"
# composites apply per branch (both first layers get z^B)
"$neon" explain "$model" --input "$X" --input2 "$Y" --composite epsilon-gamma-box --low 0 --high 1 \
  --block 7 --target 0 >"$tmp/out" 2>"$tmp/err" && ok || bad "composite: $(cat "$tmp/err")"

# --- the golden vector of RULES.md 8 through the CLI ---------------------------
golden="$src/tests/data/onnx/matcher_golden.onnx"
make_npy "$tmp/gx.npy" '<f4' '(1, 2)' "$one$two"
make_npy "$tmp/gy.npy" '<f4' '(1, 2)' "$one$p3"
"$neon" explain "$golden" --input "$tmp/gx.npy" --input2 "$tmp/gy.npy" --output "$tmp/G.npy" --rule lrp0 \
  >"$tmp/out" 2>"$tmp/err" || bad "golden: $(cat "$tmp/err")"
npy_floats "$tmp/G.npy" | paste - <(printf '1.11\n0.1665\n0.76\n0.114\n') | awk '
  { d = $1 - $2; if (d < 0) d = -d; if (d > 1e-5) e = 1; n++ } END { exit e || n != 4 }' \
  && ok || bad "golden R: $(npy_floats "$tmp/G.npy" | tr '\n' ' ')"
grep -q '^0 0 2.1505' "$tmp/out" && ok || bad "golden score: $(cat "$tmp/out")"

# --- bad input --------------------------------------------------------------------
expect_fail "missing second input" "--input2" -- explain "$model" --input "$X" --output "$tmp/R.npy"
expect_fail "second input for a one-input model" "two inputs" -- explain "$m/fmnist_cnn.onnx" \
  --input "$src/datasets/fmnist_sample.npy" --input2 "$Y" --output "$tmp/R.npy"
make_npy "$tmp/y3.npy" '<f4' '(3, 1, 28, 28)' "$(printf '\\x00%.0s' $(seq $((3 * 784 * 4))))"
expect_fail "pair counts differ" "pairs" -- explain "$model" --input "$X" --input2 "$tmp/y3.npy" --output "$tmp/R.npy"
make_npy "$tmp/yshape.npy" '<f4' '(8, 4)' "$(printf '\\x00%.0s' $(seq 128))"
expect_fail "second input shape" "input 'y'" -- explain "$model" --input "$X" --input2 "$tmp/yshape.npy" --output "$tmp/R.npy"
nan=""; for i in $(seq 784); do nan="$nan\\x00\\x00\\xc0\\x7f"; done
make_npy "$tmp/ynan.npy" '<f4' '(1, 1, 28, 28)' "$nan"
make_npy "$tmp/x1.npy" '<f4' '(1, 1, 28, 28)' "$(printf '\\x00%.0s' $(seq $((784 * 4))))"
expect_fail "NaN in the second input" "input 'y': non-finite" -- explain "$model" --input "$tmp/x1.npy" --input2 "$tmp/ynan.npy" --output "$tmp/R.npy"
expect_fail "missing second file" "nope.npy" -- explain "$model" --input "$X" --input2 "$tmp/nope.npy" --output "$tmp/R.npy"
expect_fail "bad block" "--block" -- explain "$model" --input "$X" --input2 "$Y" --output "$tmp/R.npy" --block 0
expect_fail "bad links" "--links" -- explain "$model" --input "$X" --input2 "$Y" --output "$tmp/R.npy" --links -1
expect_fail "log-odds head" "does not apply" -- explain "$model" --input "$X" --input2 "$Y" --output "$tmp/R.npy" --head logodds
expect_fail "target out of range" "out of range" -- explain "$model" --input "$X" --input2 "$Y" --output "$tmp/R.npy" --target 1
expect_fail "branch sizes do not match" "Mul" -- explain "$src/tests/data/onnx/matcher_bad_sizes.onnx" \
  --input "$tmp/gx.npy" --input2 "$tmp/gy.npy" --output "$tmp/R.npy"
cp "$Y" "$tmp/Y.npy"
expect_fail "output is the second input" "refusing" -- explain "$model" --input "$X" --input2 "$tmp/Y.npy" --output "$tmp/Y.npy"
cmp -s "$Y" "$tmp/Y.npy" && ok || bad "second input was modified"

echo "cli matcher: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
