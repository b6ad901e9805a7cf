#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (-fsanitize=fuzzer,address,undefined)
# and runs each for SECONDS seconds, `jobs` targets at a time (default: the
# number of cores), on a corpus made from the shipped models and the test
# fixtures (fuzz/corpus/<target>/, not committed; grows between runs).
#
# Usage: bash fuzz/run.sh [SECONDS] [target ...]      (default 60 s, all targets)
# Env:   NEON_FUZZ_BUILD  build directory      (default: build-fuzz in the repo)
#        NEON_FUZZ_JOBS   targets run at once  (default: nproc)
#        NEON_FUZZ_ARGS   extra libFuzzer flags
# Crashes land in fuzz/artifacts/<target>-crash-*; the script exits 1 if a
# target found anything.  Logs: fuzz/logs/<target>.log.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
secs="${1:-60}"
shift || true
all=(fuzz_onnx fuzz_npy fuzz_idx fuzz_kmeans fuzz_libsvm fuzz_args)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build="${NEON_FUZZ_BUILD:-$here/build-fuzz}"
jobs="${NEON_FUZZ_JOBS:-$(nproc)}"
fz="$here/fuzz"

command -v clang >/dev/null || { echo "fuzz/run.sh: clang is needed (apt-get install clang)" >&2; exit 2; }
CC=clang cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEON_BUILD_FUZZ=ON \
  -DNEON_BUILD_TESTS=OFF -DNEON_BUILD_CLI=OFF -DNEON_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null

# ---- seed corpus: committed seeds + shipped models + test fixtures (small files only)
seed() { # seed <target> <files...>: copies the files under 64 KiB
  local t="$1"; shift
  mkdir -p "$fz/corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] && [ "$(stat -c %s "$f")" -le 65536 ] && cp -f "$f" "$fz/corpus/$t/seed-$(basename "$f")"
  done
  return 0
}
shopt -s nullglob
seed fuzz_onnx "$here"/models/*.onnx "$here"/tests/data/onnx/*.onnx "$here"/tests/data/lstm/*.onnx
seed fuzz_npy "$fz"/seeds/npy/* "$here"/models/*.npy "$here"/tests/data/*/*.npy "$here"/datasets/*.npy
seed fuzz_idx "$fz"/seeds/idx/* /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
seed fuzz_kmeans "$fz"/seeds/kmeans/* "$here"/models/*.neonkm "$here"/tests/data/kmeans/*centres*.npy
seed fuzz_libsvm "$fz"/seeds/libsvm/* "$here"/models/*.libsvm "$here"/tests/data/ocsvm/*.libsvm
seed fuzz_args "$fz"/seeds/args/*
dict_of() {
  case "$1" in
    fuzz_onnx) echo "$fz/onnx.dict" ;; fuzz_npy|fuzz_kmeans) echo "$fz/npy.dict" ;;
    fuzz_libsvm) echo "$fz/libsvm.dict" ;; fuzz_args) echo "$fz/args.dict" ;; *) echo "" ;;
  esac
}

mkdir -p "$fz/artifacts" "$fz/logs"
export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
run_one() {
  local t="$1" d
  d="$(dict_of "$t")"
  # -close_fd_mask=3: the targets' own stdout/stderr (libFuzzer and the
  # sanitizers keep reporting on a duplicate of stderr)
  "$build/fuzz/$t" "$fz/corpus/$t" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -max_len=65536 -close_fd_mask=3 -print_final_stats=1 ${d:+-dict="$d"} \
    -artifact_prefix="$fz/artifacts/$t-" ${NEON_FUZZ_ARGS:-} >"$fz/logs/$t.log" 2>&1
}
status=0
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true # a slot frees up (statuses are kept in logs/<target>.rc)
    running=$((running - 1))
  fi
  rm -f "$fz/logs/$t.rc"
  ( rc=0; run_one "$t" || rc=$?; echo "$rc" > "$fz/logs/$t.rc" ) &
  running=$((running + 1))
done
wait
for t in "${targets[@]}"; do
  log="$fz/logs/$t.log"
  if [ "$(cat "$fz/logs/$t.rc" 2>/dev/null)" = 0 ]; then r=ok; else r=FOUND; status=1; fi
  runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*' || true)
  n=$(ls "$fz/corpus/$t" | wc -l)
  printf '%-12s %-5s %ss  execs %s  cov %s  ft %s  corpus %s\n' "$t" "$r" "$secs" "${runs:-?}" \
    "${cov:-?}" "${ft:-?}" "$n"
  [ "$r" = ok ] || grep -m1 -E 'ERROR|runtime error|out-of-memory|timeout|leak' "$log" || true
done
exit $status
