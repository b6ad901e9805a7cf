#!/usr/bin/env bash
# No partial output, end to end: every kind of file the CLI writes (npy
# relevance, PNG heatmaps and pair pictures, k-means and libsvm models,
# eval CSV and plot)
# fails midway under a file size limit (ulimit -f, SIGXFSZ ignored so the
# write returns EFBIG) and must leave the earlier file of that name byte
# for byte, no temporary file, a one-line error and a non-zero exit.  And
# an output path that names an input is refused before anything runs.
# usage: bash faults.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cnn="$src/models/fmnist_cnn.onnx"; X="$src/datasets/fmnist_sample.npy"
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# fail_write NAME FILE BLOCKS -- neon args...: FILE holds old bytes; the run
# may write at most BLOCKS KiB per file.
fail_write() {
  local name="$1" file="$2" blocks="$3"; shift 4
  mkdir -p "$(dirname "$file")"
  printf 'precious earlier %s\n' "$name" > "$file"
  cp "$file" "$tmp/orig"
  # stdout to /dev/null and stderr through a pipe: the limit applies to regular files only
  ( trap '' XFSZ; ulimit -f "$blocks"; exec "$neon" "$@" 2>&1 >/dev/null ) | cat >"$tmp/err"
  local rc=${PIPESTATUS[0]}
  if [ $rc -eq 0 ]; then bad "$name: exit 0 although the write failed"; return; fi
  if [ $rc -gt 128 ]; then bad "$name: killed by signal $((rc - 128))"; return; fi
  if ! cmp -s "$file" "$tmp/orig"; then bad "$name: the earlier file changed"; return; fi
  if ls -a "$(dirname "$file")" | grep -q '\.tmp'; then bad "$name: temporary file left behind"; return; fi
  if [ "$(grep -c . "$tmp/err")" -gt 2 ]; then bad "$name: long error: $(cat "$tmp/err")"; return; fi
  if ! grep -qiE "write|File too large|libsvm could not" "$tmp/err"; then
    bad "$name: error does not say the write failed: $(cat "$tmp/err")"; return
  fi
  ok
}

# relevance .npy (200 KB), stopped after 16 KiB
fail_write "explain --output" "$tmp/R.npy" 16 -- explain "$cnn" --input "$X" --output "$tmp/R.npy" --quiet
# heatmaps: the first PNG stops after 1 KiB
fail_write "explain --heatmap" "$tmp/hm/sample_00000.png" 1 -- explain "$cnn" --input "$X" \
  --heatmap "$tmp/hm" --quiet
# pair pictures of a matcher (~30 KB each; its x_/y_ heatmaps, ~2 KB, fit), stopped after 8 KiB
if [ -f "$src/models/fmnist_matcher.onnx" ]; then
  fail_write "explain pairs --heatmap" "$tmp/pairs/pairs_00000.png" 8 -- explain \
    "$src/models/fmnist_matcher.onnx" --input "$src/models/fmnist_matcher.x.npy" \
    --input2 "$src/models/fmnist_matcher.y.npy" --heatmap "$tmp/pairs" --quiet
fi
# k-means model (3 x 784 centroids: 9.5 KB), stopped after 4 KiB
fail_write "fit kmeans" "$tmp/m.neonkm" 4 -- fit kmeans --data "$X" -k 3 --seed 1 --n-init 1 \
  --output "$tmp/m.neonkm"
# libsvm model (libsvm's own writer), stopped after 4 KiB
if "$neon" fit ocsvm --help 2>&1 | grep -q -- "--nu"; then
  fail_write "fit ocsvm" "$tmp/m.libsvm" 4 -- fit ocsvm --data "$X" --nu 0.5 --gamma 0.02 \
    --output "$tmp/m.libsvm"
fi
# eval's CSV (no byte may be written) and plot (stopped after 1 KiB)
fail_write "eval --csv" "$tmp/e.csv" 0 -- eval "$cnn" --input "$X" --limit 4 --steps 4 \
  --methods random --quiet --csv "$tmp/e.csv"
fail_write "eval --plot" "$tmp/e.png" 1 -- eval "$cnn" --input "$X" --limit 4 --steps 4 \
  --methods random --quiet --plot "$tmp/e.png"

# the same commands without the limit do write (so the cases above failed for the limit)
"$neon" explain "$cnn" --input "$X" --output "$tmp/R.npy" --quiet >/dev/null 2>&1 \
  && [ "$(stat -c %s "$tmp/R.npy")" -eq "$(stat -c %s "$X")" ] && ok || bad "explain without a limit"
"$neon" fit kmeans --data "$X" -k 3 --seed 1 --n-init 1 --output "$tmp/m.neonkm" >/dev/null 2>&1 \
  && [ "$(head -c 8 "$tmp/m.neonkm")" = "NEONKM01" ] && ok || bad "fit kmeans without a limit"

# an output that names an input (also through another path) is refused, input intact
cp "$X" "$tmp/X.npy"
cp "$X" "$tmp/X.orig"
ln -s "$tmp/X.npy" "$tmp/link.npy"
for out in "$tmp/X.npy" "$tmp/link.npy" "$tmp/../$(basename "$tmp")/X.npy"; do
  "$neon" explain "$cnn" --input "$tmp/X.npy" --output "$out" --quiet >/dev/null 2>"$tmp/err" \
    && bad "output $out over the input accepted" \
    || { grep -q "input" "$tmp/err" && cmp -s "$tmp/X.npy" "$tmp/X.orig" && ok \
         || bad "output over input: $(cat "$tmp/err")"; }
done
"$neon" fit kmeans --data "$tmp/X.npy" -k 3 --output "$tmp/X.npy" >/dev/null 2>"$tmp/err" \
  && bad "fit kmeans over its data accepted" || { cmp -s "$tmp/X.npy" "$tmp/X.orig" && ok || bad "data changed"; }

echo "faults.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
