#!/usr/bin/env bash
# End-to-end tests of `neon fit ocsvm` and `neon explain` on libsvm one-class
# SVM models: the shipped Fashion-MNIST model, a freshly fitted one, and
# every bad input (non-zero exit, one-line message, no output file left).
# usage: bash ocsvm.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
model="$src/models/fmnist_ocsvm.libsvm"; X="$src/models/fmnist_ocsvm.input.npy"
F=/usr/share/datasets/fashion-mnist
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

if "$neon" fit ocsvm --data "$X" --nu 0.5 --gamma 0.1 --output "$tmp/m" 2>&1 | grep -q "without libsvm"; then
  echo "cli ocsvm: neon built without libsvm; skipped"; exit 0
fi

# make_npy FILE DESCR SHAPE-TUPLE DATA-BYTES(printf format): writes a v1.0 .npy
make_npy() {
  local f="$1" descr="$2" shape="$3" data="$4"
  local dict="{'descr': '$descr', 'fortran_order': False, 'shape': $shape, }"
  local total=$(( 10 + ${#dict} + 1 )); local pad=$(( (64 - total % 64) % 64 ))
  local hl=$(( ${#dict} + pad + 1 ))
  { printf '\x93NUMPY\x01\x00'; printf "\\x$(printf %02x $((hl & 255)))\\x$(printf %02x $((hl >> 8)))";
    printf '%s' "$dict"; printf "%${pad}s" ''; printf '\n'; printf "$data"; } > "$f"
}

# expect_fail NAME EXPECTED-SUBSTRING -- neon args...   (no R.npy / M.libsvm may appear)
expect_fail() {
  local name="$1" want="$2"; shift 3
  rm -f "$tmp/R.npy" "$tmp/M.libsvm"
  "$neon" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if ! grep -qi -- "$want" "$tmp/err"; then bad "$name: stderr lacks '$want': $(cat "$tmp/err")"; return; fi
  if [ "$(grep -c . "$tmp/err")" -gt 2 ]; then bad "$name: long error: $(cat "$tmp/err")"; return; fi
  if [ -e "$tmp/R.npy" ] || [ -e "$tmp/M.libsvm" ]; then bad "$name: output file left behind"; return; fi
  if ls "$tmp" | grep -q '\.tmp'; then bad "$name: temporary file left behind"; return; fi
  ok
}

# --- the shipped model ---------------------------------------------------------
"$neon" explain "$model" --input "$X" --output "$tmp/R.npy" --heatmap "$tmp/hm" >"$tmp/out" 2>"$tmp/err" \
  || bad "explain failed: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -q "^# sample score threshold outlier relevance_sum" && ok || bad "header: $(head -1 "$tmp/out")"
[ "$(grep -vc '^#' "$tmp/out")" -eq 17 ] && ok || bad "expected 17 sample lines"
[ "$(stat -c %s "$tmp/R.npy")" -eq "$(stat -c %s "$X")" ] && ok || bad "R.npy size differs from X"
[ "$(ls "$tmp/hm" | wc -l)" -eq 17 ] && ok || bad "expected 17 heatmaps"
# samples 0-7 are trousers (the trained class): inliers; 8-16 other classes: outliers
awk '!/^#/ { want = ($1 < 8) ? "no" : "yes"; if ($4 != want) e = 1 } END { exit e }' "$tmp/out" \
  && ok || bad "outlier column: $(cat "$tmp/out")"
# conservation: sum R = score; outlier iff score > threshold
awk '!/^#/ { d = $5 - $2; if (d < 0) d = -d; if (d > 1e-4 * $2) e = 1;
             if (($2 > $3) != ($4 == "yes")) e = 1 } END { exit e }' "$tmp/out" \
  && ok || bad "conservation / threshold: $(cat "$tmp/out")"
"$neon" info "$model" > "$tmp/out" 2>&1 && grep -q "sqdist" "$tmp/out" && grep -q "653 support vectors" "$tmp/out" \
  && ok || bad "info: $(cat "$tmp/out")"

# --- fit, then explain the fitted model ------------------------------------------
"$neon" fit ocsvm --data "$X" --nu 0.5 --gamma 1/20 --output "$tmp/fit.libsvm" > "$tmp/out" 2>&1 \
  && head -1 "$tmp/fit.libsvm" | grep -q "svm_type one_class" && grep -q "support vectors" "$tmp/out" \
  && ok || bad "fit npy: $(cat "$tmp/out")"
"$neon" explain "$tmp/fit.libsvm" --input "$X" > "$tmp/out" 2>&1 && [ "$(grep -vc '^#' "$tmp/out")" -eq 17 ] \
  && ok || bad "explain fitted: $(cat "$tmp/out")"
if [ -r "$F/train-images-idx3-ubyte.gz" ]; then
  "$neon" fit ocsvm --data "$F/train-images-idx3-ubyte.gz" --labels "$F/train-labels-idx1-ubyte.gz" \
    --class 7 --limit 300 --scale 1/255 --nu 0.2 --gamma 0.05 --output "$tmp/idx.libsvm" --quiet > "$tmp/out" 2>&1 \
    && [ ! -s "$tmp/out" ] && grep -q "^total_sv" "$tmp/idx.libsvm" && ok || bad "fit idx: $(cat "$tmp/out")"
fi
"$neon" fit ocsvm --help | grep -q -- "--gamma" && ok || bad "fit ocsvm --help"
# a failing fit leaves an existing model untouched
cp "$tmp/fit.libsvm" "$tmp/keep.libsvm"
"$neon" fit ocsvm --data "$X" --nu 0.5 --gamma 0 --output "$tmp/keep.libsvm" >/dev/null 2>&1
cmp -s "$tmp/fit.libsvm" "$tmp/keep.libsvm" && ok || bad "failed fit clobbered an existing model"

# --- bad models --------------------------------------------------------------------
printf 'svm_type c_svc\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 2\nrho 0.1\nlabel 1 -1\nnr_sv 1 1\nSV\n1 1:0.5 \n-1 1:-0.5 \n' > "$tmp/csvc.libsvm"
expect_fail "c_svc model" "c_svc" -- explain "$tmp/csvc.libsvm" --input "$X" --output "$tmp/R.npy"
printf 'svm_type one_class\nkernel_type polynomial\ndegree 3\ngamma 0.5\ncoef0 0\nnr_class 2\ntotal_sv 1\nrho 0.1\nSV\n1 1:1 \n' > "$tmp/poly.libsvm"
expect_fail "polynomial kernel" "rbf" -- explain "$tmp/poly.libsvm" --input "$X" --output "$tmp/R.npy"
head -c 100000 "$model" > "$tmp/trunc.libsvm"
expect_fail "truncated mid-line" "truncated" -- explain "$tmp/trunc.libsvm" --input "$X" --output "$tmp/R.npy"
head -n 300 "$model" > "$tmp/lines.libsvm"
expect_fail "missing SV lines" "only 293 of the 653" -- explain "$tmp/lines.libsvm" --input "$X" --output "$tmp/R.npy"
head -n 4 "$model" > "$tmp/hdr.libsvm"
expect_fail "header only" "hdr.libsvm" -- explain "$tmp/hdr.libsvm" --input "$X" --output "$tmp/R.npy"
expect_fail "not a libsvm model" "binary" -- explain "$src/models/fmnist_cnn.onnx" --kind ocsvm --input "$X" --output "$tmp/R.npy"

# --- bad data ------------------------------------------------------------------------
make_npy "$tmp/narrow.npy" '<f4' '(2, 10)' "$(printf '\\x00%.0s' $(seq 80))"
expect_fail "feature mismatch" "features" -- explain "$model" --input "$tmp/narrow.npy" --output "$tmp/R.npy"
nan=""; for i in $(seq 784); do nan="$nan\\x00\\x00\\xc0\\x7f"; done
make_npy "$tmp/nan.npy" '<f4' '(1, 784)' "$nan"
expect_fail "NaN input" "non-finite" -- explain "$model" --input "$tmp/nan.npy" --output "$tmp/R.npy"
expect_fail "NaN training data" "non-finite" -- fit ocsvm --data "$tmp/nan.npy" --nu 0.5 --gamma 1 --output "$tmp/M.libsvm"
expect_fail "nu out of range" "--nu" -- fit ocsvm --data "$X" --nu 1.5 --gamma 1 --output "$tmp/M.libsvm"
expect_fail "no gamma" "--gamma" -- fit ocsvm --data "$X" --nu 0.5 --output "$tmp/M.libsvm"
expect_fail "labels without class" "--class" -- fit ocsvm --data "$X" --labels "$X" --nu 0.5 --gamma 1 --output "$tmp/M.libsvm"
expect_fail "unwritable model" "nodir" -- fit ocsvm --data "$X" --nu 0.5 --gamma 1 --output "$tmp/nodir/M.libsvm"
expect_fail "unknown kind" "fit" -- fit svm --data "$X"

echo "cli ocsvm: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
