#!/usr/bin/env bash
# End-to-end tests of `neon fit kmeans` and `neon explain` on k-means models:
# fitting (npy, PCA, seeds), explaining the shipped Fashion-MNIST model with
# heatmaps and per-cluster maps, bare scikit-learn centroids, --cluster,
# and every bad input (one-line error, non-zero exit, no output file).
# usage: bash kmeans.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
d="$src/tests/data/kmeans"; shipped="$src/models/fmnist_kmeans.neonkm"; S="$src/datasets/fmnist_sample.npy"
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# expect_fail NAME EXPECTED-SUBSTRING OUTPUT-FILE -- neon args...   (OUTPUT-FILE must not appear)
expect_fail() {
  local name="$1" want="$2" outf="$3"; shift 4
  rm -f "$outf"
  "$neon" "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if ! grep -qi -- "$want" "$tmp/err"; then bad "$name: stderr lacks '$want': $(cat "$tmp/err")"; return; fi
  if [ "$(grep -c . "$tmp/err")" -gt 2 ]; then bad "$name: long error: $(cat "$tmp/err")"; return; fi
  if [ -e "$outf" ]; then bad "$name: output file left behind"; return; fi
  if ls "$tmp" | grep -q '\.tmp'; then bad "$name: temporary file left behind"; return; fi
  ok
}

# sum_ok FILE: every sample line has |relevance_sum - f_c| <= 1e-4 (1 + |f_c|)
sum_ok() { awk '!/^#/ { e = $4 - $3; if (e < 0) e = -e; a = $3 < 0 ? -$3 : $3; if (e > 1e-4 * (1 + a)) bad = 1 } END { exit bad }' "$1"; }

# --- fit ------------------------------------------------------------------------
"$neon" fit kmeans --data "$d/blobs.npy" -k 3 --seed 1 --output "$tmp/m.neonkm" >"$tmp/out" 2>"$tmp/err" \
  || bad "fit failed: $(cat "$tmp/err")"
grep -q "inertia" "$tmp/out" && grep -q "beta" "$tmp/out" && ok || bad "fit output: $(cat "$tmp/out")"
[ "$(head -c 8 "$tmp/m.neonkm")" = "NEONKM01" ] && ok || bad "model magic"
"$neon" fit kmeans --data "$d/blobs.npy" --k 3 --seed 1 --output "$tmp/m2.neonkm" >/dev/null 2>&1 \
  && cmp -s "$tmp/m.neonkm" "$tmp/m2.neonkm" && ok || bad "same seed (--k form) gave a different model"
"$neon" fit kmeans --data "$d/blobs.npy" -k 3 --seed 2 --n-init 1 --max-iter 50 --output "$tmp/m3.neonkm" >/dev/null 2>&1 \
  && ok || bad "fit with --n-init/--max-iter"

# --- explain a fitted model --------------------------------------------------------
"$neon" explain "$tmp/m.neonkm" --input "$d/blobs.npy" --output "$tmp/R.npy" >"$tmp/out" 2>"$tmp/err" \
  || bad "explain failed: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -q "cluster f_c relevance_sum" && ok || bad "header: $(head -1 "$tmp/out")"
[ "$(grep -vc '^#' "$tmp/out")" -eq 300 ] && ok || bad "expected 300 sample lines"
sum_ok "$tmp/out" && ok || bad "relevance sums differ from f_c"
awk '!/^#/ && $3 < 0 { e = 1 } END { exit e }' "$tmp/out" && ok || bad "f_c < 0 for an assigned cluster"
[ "$(stat -c %s "$tmp/R.npy")" -eq "$(stat -c %s "$d/blobs.npy")" ] && ok || bad "R.npy size differs from X"
"$neon" explain "$tmp/m.neonkm" --input "$d/blobs.npy" --cluster 1 >"$tmp/out" 2>/dev/null || bad "--cluster 1 failed"
awk '!/^#/ && $2 != 1 { e = 1 } END { exit e }' "$tmp/out" && sum_ok "$tmp/out" && ok || bad "--cluster 1 not honoured"
awk '!/^#/ && $3 > 0 { n++ } END { exit !(n > 50 && n < 250) }' "$tmp/out" && ok || bad "--cluster 1: f_k signs"
# PCA front end: relevance still sums to f_c on the original features
"$neon" fit kmeans --data "$d/pca_X.npy" -k 3 --pca 2 --output "$tmp/p.neonkm" >"$tmp/out" 2>"$tmp/err" \
  && grep -q "PCA" "$tmp/out" && ok || bad "fit --pca: $(cat "$tmp/err")"
"$neon" explain "$tmp/p.neonkm" --input "$d/pca_X.npy" --output "$tmp/R.npy" >"$tmp/out" 2>/dev/null \
  && sum_ok "$tmp/out" && ok || bad "PCA explain: $(head -3 "$tmp/out")"
"$neon" info "$tmp/p.neonkm" >"$tmp/out" 2>&1 && grep -q "PCA front end 8 -> 2" "$tmp/out" && ok || bad "info PCA: $(cat "$tmp/out")"

# --- bare scikit-learn centroids --------------------------------------------------------
"$neon" explain --kind kmeans "$d/sk_centres.npy" --input "$d/sk_X.npy" --output "$tmp/R.npy" >"$tmp/out" 2>"$tmp/err" \
  || bad "centroids explain: $(cat "$tmp/err")"
grep -q "beta = .*samples being explained" "$tmp/err" && ok || bad "no notice of the batch beta: $(cat "$tmp/err")"
sum_ok "$tmp/out" && ok || bad "centroids: sums"
"$neon" explain --kind kmeans "$d/sk_centres.npy" --input "$d/sk_X.npy" --beta 0.5 >"$tmp/out" 2>"$tmp/err" \
  && ! grep -q "samples being explained" "$tmp/err" && ok || bad "--beta still computed from the batch"

# --- the shipped Fashion-MNIST model --------------------------------------------------------
if [ -f "$shipped" ]; then
  "$neon" explain "$shipped" --input "$S" --output "$tmp/R.npy" --heatmap "$tmp/hm" >"$tmp/out" 2>"$tmp/err" \
    || bad "shipped explain: $(cat "$tmp/err")"
  [ "$(grep -vc '^#' "$tmp/out")" -eq 64 ] && ok || bad "shipped: expected 64 lines"
  sum_ok "$tmp/out" && ok || bad "shipped: sums"
  [ "$(ls "$tmp/hm" | grep -c '^sample_')" -eq 64 ] && ok || bad "expected 64 sample heatmaps"
  n_clusters="$(awk '!/^#/ { c[$2] = 1 } END { print length(c) }' "$tmp/out")"
  [ "$(ls "$tmp/hm" | grep -c '^cluster_')" -eq "$n_clusters" ] && ok || bad "expected $n_clusters cluster maps"
  [ "$(stat -c %s "$tmp/R.npy")" -eq "$(stat -c %s "$S")" ] && ok || bad "shipped: R.npy size"
  "$neon" info "$shipped" >"$tmp/out" 2>&1 && grep -q "K=10 clusters, D=784" "$tmp/out" && ok || bad "info shipped"
  # corrupt copies of the shipped model
  head -c 1000 "$shipped" > "$tmp/trunc.neonkm"
  expect_fail "truncated model" "truncated or damaged" "$tmp/R.npy" -- explain "$tmp/trunc.neonkm" --input "$S" --output "$tmp/R.npy"
  cp "$shipped" "$tmp/flip.neonkm"; printf '\x7f' | dd of="$tmp/flip.neonkm" bs=1 seek=5000 conv=notrunc 2>/dev/null
  expect_fail "damaged model" "checksum" "$tmp/R.npy" -- explain "$tmp/flip.neonkm" --input "$S" --output "$tmp/R.npy"
else
  bad "shipped model $shipped missing"
fi

# --- bad input ------------------------------------------------------------------------------
expect_fail "K > N" "K <= N" "$tmp/bad.neonkm" -- fit kmeans --data "$d/blobs3d.npy" -k 50 --output "$tmp/bad.neonkm"
expect_fail "K < 2" "expected an integer in 2" "$tmp/bad.neonkm" -- fit kmeans --data "$d/blobs.npy" -k 1 --output "$tmp/bad.neonkm"
expect_fail "no -k" "required" "$tmp/bad.neonkm" -- fit kmeans --data "$d/blobs.npy" --output "$tmp/bad.neonkm"
expect_fail "NaN data (fit)" "non-finite" "$tmp/bad.neonkm" -- fit kmeans --data "$d/nan.npy" -k 2 --output "$tmp/bad.neonkm"
expect_fail "NaN data (explain)" "non-finite" "$tmp/R.npy" -- explain "$tmp/m.neonkm" --input "$d/nan.npy" --output "$tmp/R.npy"
expect_fail "D mismatch" "features per sample" "$tmp/R.npy" -- explain "$tmp/m.neonkm" --input "$d/sk_X.npy" --output "$tmp/R.npy"
expect_fail "D mismatch (centroids)" "features per sample" "$tmp/R.npy" -- explain --kind kmeans "$d/sk_centres.npy" --input "$d/blobs.npy" --output "$tmp/R.npy"
printf 'NEONKM01garbage' > "$tmp/short.neonkm"
expect_fail "short header" "truncated header" "$tmp/R.npy" -- explain "$tmp/short.neonkm" --input "$d/blobs.npy" --output "$tmp/R.npy"
printf 'hello world, not a model' > "$tmp/junk"
expect_fail "junk model" "magic" "$tmp/R.npy" -- explain --kind kmeans "$tmp/junk" --input "$d/blobs.npy" --output "$tmp/R.npy"
expect_fail "1-d centroids" "(K, D)" "$tmp/R.npy" -- explain --kind kmeans "$d/sk_inertia.npy" --input "$d/blobs.npy" --output "$tmp/R.npy"
expect_fail "bad beta" "--beta" "$tmp/R.npy" -- explain "$tmp/m.neonkm" --input "$d/blobs.npy" --beta -1 --output "$tmp/R.npy"
expect_fail "cluster out of range" "out of range" "$tmp/R.npy" -- explain "$tmp/m.neonkm" --input "$d/blobs.npy" --cluster 3 --output "$tmp/R.npy"
cp "$d/blobs.npy" "$tmp/X.npy"
expect_fail "output = input" "refusing" "$tmp/none" -- fit kmeans --data "$tmp/X.npy" -k 2 --output "$tmp/X.npy"
cmp -s "$d/blobs.npy" "$tmp/X.npy" && ok || bad "input overwritten"

echo "kmeans CLI: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
