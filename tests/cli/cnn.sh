#!/usr/bin/env bash
# End-to-end tests of `neon explain` / `neon info` on the shipped CNN: the
# happy path and every malformed-input case (one-line error, non-zero exit,
# no output file left behind).
# usage: bash cnn.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
model="$src/models/fmnist_cnn.onnx"; X="$src/datasets/fmnist_sample.npy"
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

# expect_fail NAME EXPECTED-SUBSTRING -- neon args...   (output must not appear)
expect_fail() {
  local name="$1" want="$2"; shift 3
  rm -f "$tmp/R.npy"
  "$neon" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if ! grep -qi -- "$want" "$tmp/err"; then bad "$name: stderr lacks '$want': $(cat "$tmp/err")"; return; fi
  if [ "$(grep -c . "$tmp/err")" -gt 2 ]; then bad "$name: long error: $(cat "$tmp/err")"; return; fi
  if [ -e "$tmp/R.npy" ]; then bad "$name: output file left behind"; return; fi
  if ls "$tmp" | grep -q '\.tmp'; then bad "$name: temporary file left behind"; return; fi
  ok
}

# --- happy path -----------------------------------------------------------
"$neon" explain "$model" --input "$X" --output "$tmp/R.npy" --composite epsilon-gamma-box \
  --low 0 --high 1 --heatmap "$tmp/hm" >"$tmp/out" 2>"$tmp/err" || bad "explain failed: $(cat "$tmp/err")"
[ "$(grep -vc '^#' "$tmp/out")" -eq 64 ] && ok || bad "expected 64 sample lines"
[ -s "$tmp/R.npy" ] && ok || bad "no R.npy"
[ "$(ls "$tmp/hm" | wc -l)" -eq 64 ] && ok || bad "expected 64 heatmaps"
# R.npy has X's shape: same file size as X (float32 both)
[ "$(stat -c %s "$tmp/R.npy")" -eq "$(stat -c %s "$X")" ] && ok || bad "R.npy size differs from X"
# class of sample 0 is 9 (ankle boot) and the explicit target works
"$neon" explain "$model" --input "$X" --target 3 --rule epsilon:0.1 > "$tmp/out" 2>&1 || bad "target 3 failed"
awk '!/^#/ && $2 != 3 {e=1} END {exit e}' "$tmp/out" && ok || bad "--target 3 not honoured"
"$neon" explain "$model" --input "$X" --head logodds --rule-for '#12=epsilon:0.01' > "$tmp/out" 2>&1 && ok || bad "logodds: $(cat "$tmp/out")"
"$neon" info "$model" --composite epsilon-alpha2-beta1-flat > "$tmp/out" 2>&1 && grep -q "alphabeta(2,1)" "$tmp/out" \
  && grep -q "flat" "$tmp/out" && ok || bad "info: $(cat "$tmp/out")"
"$neon" explain --help | grep -q -- "--composite" && ok || bad "explain --help"
# an existing output file survives a failing run byte for byte
echo "precious" > "$tmp/keep.npy"
"$neon" explain "$model" --input "$X" --output "$tmp/keep.npy" --target 10 >/dev/null 2>&1
[ "$(cat "$tmp/keep.npy")" = "precious" ] && ok || bad "failed run clobbered an existing output"

# --- bad input --------------------------------------------------------------
head -c 200000 "$model" > "$tmp/trunc.onnx"
expect_fail "truncated onnx" "trunc.onnx" -- explain "$tmp/trunc.onnx" --input "$X" --output "$tmp/R.npy"
head -c 4096 /dev/urandom > "$tmp/rand.onnx"
expect_fail "corrupt onnx" "rand.onnx" -- explain "$tmp/rand.onnx" --input "$X" --output "$tmp/R.npy"
expect_fail "missing model" "nope.onnx" -- explain "$tmp/nope.onnx" --input "$X" --output "$tmp/R.npy"
make_npy "$tmp/cplx.npy" '<c8' '(1, 1, 28, 28)' ''
expect_fail "npy dtype" "cplx.npy" -- explain "$model" --input "$tmp/cplx.npy" --output "$tmp/R.npy"
make_npy "$tmp/shape.npy" '<f4' '(2, 3)' '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0'
expect_fail "npy shape" "shape" -- explain "$model" --input "$tmp/shape.npy" --output "$tmp/R.npy"
printf 'NOTNUMPY' > "$tmp/hdr.npy"
expect_fail "npy header" "hdr.npy" -- explain "$model" --input "$tmp/hdr.npy" --output "$tmp/R.npy"
make_npy "$tmp/short.npy" '<f4' '(1, 1, 28, 28)' '\0\0\0\0'
expect_fail "npy truncated data" "short.npy" -- explain "$model" --input "$tmp/short.npy" --output "$tmp/R.npy"
nan=""; for i in $(seq 784); do nan="$nan\\x00\\x00\\xc0\\x7f"; done
make_npy "$tmp/nan.npy" '<f4' '(1, 1, 28, 28)' "$nan"
expect_fail "NaN input" "non-finite" -- explain "$model" --input "$tmp/nan.npy" --output "$tmp/R.npy"
inf=""; for i in $(seq 784); do inf="$inf\\x00\\x00\\x80\\x7f"; done
make_npy "$tmp/inf.npy" '<f4' '(1, 1, 28, 28)' "$inf"
expect_fail "Inf input" "non-finite" -- explain "$model" --input "$tmp/inf.npy" --output "$tmp/R.npy"
expect_fail "unknown rule" "unknown rule" -- explain "$model" --input "$X" --output "$tmp/R.npy" --rule gamme
expect_fail "unknown composite" "unknown composite" -- explain "$model" --input "$X" --output "$tmp/R.npy" --composite epsilon-gama-box
expect_fail "zbox without bounds" "bounds" -- explain "$model" --input "$X" --output "$tmp/R.npy" --composite epsilon-gamma-box
expect_fail "alpha-beta not conserving" "alpha - beta = 1" -- explain "$model" --input "$X" --output "$tmp/R.npy" --rule alphabeta:2:2
expect_fail "target out of range" "out of range" -- explain "$model" --input "$X" --output "$tmp/R.npy" --target 10
expect_fail "bad target" "target" -- explain "$model" --input "$X" --output "$tmp/R.npy" --target cat
expect_fail "unknown option" "unknown option" -- explain "$model" --input "$X" --output "$tmp/R.npy" --colour red
expect_fail "no input" "--input" -- explain "$model" --output "$tmp/R.npy"
expect_fail "rule for unknown node" "nosuchnode" -- explain "$model" --input "$X" --output "$tmp/R.npy" --rule-for nosuchnode=lrp0
cp "$X" "$tmp/X.npy"
expect_fail "output is the input" "refusing" -- explain "$model" --input "$tmp/X.npy" --output "$tmp/X.npy"
cmp -s "$X" "$tmp/X.npy" && ok || bad "input was modified"
expect_fail "unwritable output" "nodir" -- explain "$model" --input "$X" --output "$tmp/nodir/R.npy"

echo "cli cnn: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
