#!/usr/bin/env bash
# End-to-end tests of `neon eval` (region perturbation): the summary table,
# CSV and PNG outputs, identical results for any thread count and either
# parallel mode, every model kind that ships, IDX input, and bad usage
# (one-line error, non-zero exit, no output file left behind).
# usage: bash eval.sh NEON_BINARY SOURCE_DIR
set -u
neon="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
model="$src/models/fmnist_cnn.onnx"; X="$src/datasets/fmnist_sample.npy"
pass=0; fail=0
ok()  { pass=$((pass+1)); }
bad() { echo "FAIL: $*"; fail=$((fail+1)); }

# rows of the summary table (non-comment lines) without the time column
table() { grep -v '^#' "$1" | awk '{$NF=""; print}'; }

common=(--limit 12 --steps 10 --region 4 --seed 3 --quiet
        --methods composite:epsilon-gamma-box,gradxinput,random,occlusion:2)
"$neon" eval "$model" --input "$X" "${common[@]}" --threads 1 --csv "$tmp/a.csv" --plot "$tmp/a.png" \
  >"$tmp/o1" 2>"$tmp/e1" || bad "eval failed: $(cat "$tmp/e1")"
[ "$(grep -vc '^#' "$tmp/o1")" -eq 4 ] && ok || bad "expected 4 method rows: $(cat "$tmp/o1")"
grep -q '^# gradxinput: .*engine' "$tmp/o1" && ok || bad "gradxinput note missing"
grep -q 'L=10 steps, noise U\[0, 1\], seed 3' "$tmp/o1" && ok || bad "protocol line: $(head -1 "$tmp/o1")"
[ "$(grep -c ',morf,\|,lerf,\|,random,' "$tmp/a.csv")" -eq $((4 * 3 * 11)) ] && ok || bad "CSV rows"
head -2 "$tmp/a.csv" | grep -q '^method,order,step,fraction,mean_score,mean_drop$' && ok || bad "CSV header"
[ "$(head -c 4 "$tmp/a.png" | tail -c 3)" = "PNG" ] && ok || bad "plot is not a PNG"
[ "$(stat -c %s "$tmp/a.png")" -gt 5000 ] && ok || bad "plot too small"
for mode in "--threads 2 --parallel samples" "--threads 3 --parallel samples" "--threads 2 --parallel blas"; do
  # shellcheck disable=SC2086
  "$neon" eval "$model" --input "$X" "${common[@]}" $mode --csv "$tmp/b.csv" >"$tmp/o2" 2>&1 \
    || bad "eval $mode failed: $(cat "$tmp/o2")"
  cmp -s "$tmp/a.csv" "$tmp/b.csv" && ok || bad "CSV differs with $mode"
  [ "$(table "$tmp/o1")" = "$(table "$tmp/o2")" ] && ok || bad "table differs with $mode"
done
# neon explain (BLAS threads) gives the same bytes for any --threads
for t in 1 2; do
  "$neon" explain "$model" --input "$X" --composite epsilon-gamma-box --low 0 --high 1 --threads $t \
    --output "$tmp/R$t.npy" --quiet >/dev/null 2>&1 || bad "explain --threads $t failed"
done
cmp -s "$tmp/R1.npy" "$tmp/R2.npy" && ok || bad "explain: R differs between --threads 1 and 2"
# the seed matters (noise, random order, random relevance)
"$neon" eval "$model" --input "$X" --limit 12 --steps 10 --seed 4 --quiet --methods random --csv "$tmp/c.csv" \
  >/dev/null 2>&1 || bad "seed 4 failed"
cmp -s <(grep random "$tmp/a.csv") <(grep random "$tmp/c.csv") && bad "seed has no effect" || ok
"$neon" eval --help | grep -q -- "--methods" && ok || bad "eval --help"
"$neon" --help | grep -q "eval MODEL" && ok || bad "neon --help lists eval"

# other model kinds, where they ship
svm="$src/models/fmnist_ocsvm.libsvm"
if [ -f "$svm" ] && "$neon" eval "$svm" --input "$src/models/fmnist_ocsvm.input.npy" --limit 4 --steps 6 \
     --methods lrp,gradxinput,occlusion:4 --quiet >"$tmp/o3" 2>"$tmp/e3"; then
  grep -q '^# gradxinput: .*central differences' "$tmp/o3" && ok || bad "ocsvm: gradxinput note"
  [ "$(grep -vc '^#' "$tmp/o3")" -eq 3 ] && ok || bad "ocsvm: rows"
elif [ -f "$svm" ] && ! grep -q "without libsvm" "$tmp/e3"; then
  bad "ocsvm eval failed: $(cat "$tmp/e3")"
fi
km="$src/models/fmnist_kmeans.neonkm"
if [ -f "$km" ]; then
  # each image keeps the cluster of its clean version as the explained score, across threads
  "$neon" eval "$km" --input "$X" --limit 24 --steps 6 --methods lrp,gradxinput,random --quiet \
    --threads 1 >"$tmp/o4" 2>&1 && [ "$(grep -vc '^#' "$tmp/o4")" -eq 3 ] \
    && grep -q '^# k-means: each image scored by f_c of its clean cluster' "$tmp/o4" \
    && ok || bad "kmeans eval: $(cat "$tmp/o4")"
  "$neon" eval "$km" --input "$X" --limit 24 --steps 6 --methods lrp,gradxinput,random --quiet \
    --threads 2 --parallel samples >"$tmp/o4b" 2>&1 && [ "$(table "$tmp/o4")" = "$(table "$tmp/o4b")" ] \
    && ok || bad "kmeans threads: $(cat "$tmp/o4b")"
  # the NEON explanation of the clean cluster beats the random order and its LeRF
  awk '/^composite/ {exit !($2 > $6 && $6 > $4)}' "$tmp/o4" && ok || bad "kmeans AOPC order: $(cat "$tmp/o4")"
  "$neon" eval "$km" --input "$X" --limit 4 --steps 3 --cluster 3 --methods random --quiet >"$tmp/o4c" 2>&1 \
    && ! grep -q '^# k-means' "$tmp/o4c" && ok || bad "kmeans --cluster: $(cat "$tmp/o4c")"
fi
lstm="$src/models/fmnist_lstm.onnx"
if [ -f "$lstm" ]; then # rows are time steps: 2x28 regions perturb two whole rows
  "$neon" eval "$lstm" --input "$X" --limit 3 --steps 4 --region 2x28 --methods lrp,gradxinput,occlusion:7 \
    --quiet >"$tmp/o6" 2>&1 && [ "$(grep -vc '^#' "$tmp/o6")" -eq 3 ] \
    && grep -q '2x28 regions on 28x28 (14 regions' "$tmp/o6" && ok || bad "lstm eval: $(cat "$tmp/o6")"
fi
pairs="$src/tests/data/onnx/matcher_cnn" # a Siamese matcher: the first input is perturbed
"$neon" eval "$pairs.onnx" --input "$pairs.x.npy" --input2 "$pairs.y.npy" --region 2 --quiet \
  --methods rule:lrp0,gradxinput,random >"$tmp/o7" 2>&1 || bad "matcher eval: $(cat "$tmp/o7")"
# BiLRP-0's marginal is x * df/dx on this bias-free ReLU matcher: the same AOPC
awk '/^rule:lrp0/ {m=$2; l=$4} /^gradxinput/ {g=$2; h=$4}
     function d(a, b) { return a > b ? a - b : b - a }
     END {exit !(d(m, g) < 1e-4 && d(l, h) < 1e-4)}' "$tmp/o7" \
  && ok || bad "matcher: lrp0 vs gradxinput: $(cat "$tmp/o7")"
idx=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
if [ -f "$idx" ]; then
  "$neon" eval "$model" --input "$idx" --limit 4 --steps 3 --methods random --quiet >"$tmp/o5" 2>&1 \
    && grep -q '^# region perturbation: 4 samples' "$tmp/o5" && ok || bad "IDX input: $(cat "$tmp/o5")"
fi

# expect_fail NAME WANT -- args...: non-zero exit, short message, no output files
expect_fail() {
  local name="$1" want="$2"; shift 3
  rm -f "$tmp/f.csv" "$tmp/f.png"
  "$neon" "$@" --csv "$tmp/f.csv" --plot "$tmp/f.png" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  if [ $rc -eq 0 ]; then bad "$name: exit 0"; return; fi
  if ! grep -qi -- "$want" "$tmp/err"; then bad "$name: stderr lacks '$want': $(cat "$tmp/err")"; return; fi
  if [ "$(grep -c . "$tmp/err")" -gt 2 ]; then bad "$name: long error: $(cat "$tmp/err")"; return; fi
  if [ -e "$tmp/f.csv" ] || [ -e "$tmp/f.png" ]; then bad "$name: output left behind"; return; fi
  ok
}
expect_fail "unknown method" "unknown method" -- eval "$model" --input "$X" --methods lrp,saliency
expect_fail "bad composite" "unknown composite" -- eval "$model" --input "$X" --methods composite:nope --limit 2
expect_fail "too many steps" "regions" -- eval "$model" --input "$X" --steps 50 --limit 2 --quiet
expect_fail "bad region" "--region" -- eval "$model" --input "$X" --region 0
expect_fail "bad region 2" "--region" -- eval "$model" --input "$X" --region 4x
expect_fail "bad occlusion" "occlusion stride" -- eval "$model" --input "$X" --methods occlusion:0
expect_fail "bad threads" "--threads" -- eval "$model" --input "$X" --threads -1
expect_fail "bad parallel" "--parallel" -- eval "$model" --input "$X" --parallel gpu
expect_fail "low without high" "go together" -- eval "$model" --input "$X" --low 0
expect_fail "no input" "--input" -- eval "$model"
expect_fail "missing input" "nope.npy" -- eval "$model" --input "$tmp/nope.npy"
expect_fail "target out of range" "out of range" -- eval "$model" --input "$X" --target 10 --limit 2 --quiet
expect_fail "pairs without input2" "--input2" -- eval "$pairs.onnx" --input "$pairs.x.npy"
expect_fail "input2 on one input" "--input2" -- eval "$model" --input "$X" --input2 "$X"
expect_fail "wrong shape" "expected" -- eval "$model" --input "$src/models/tiny_mlp.input.npy" --quiet
rm -f "$tmp/f.csv"
"$neon" eval "$model" --input "$X" --csv "$X" >/dev/null 2>"$tmp/err" && bad "csv over the input accepted" \
  || { grep -q "refusing" "$tmp/err" && ok || bad "csv over input: $(cat "$tmp/err")"; }

echo "eval.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
