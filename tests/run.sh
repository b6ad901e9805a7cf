#!/usr/bin/env bash
# Builds neonlrp and runs every test, then the fault-finding passes:
#   1. Release build (-Werror): all cmocka units + CLI end-to-end tests
#   2. ASan + UBSan build (NEON_SANITIZE, Debug) in <build>-sanitize: the
#      same tests (but the install test) under the sanitizers, leaks included
#   3. valgrind memcheck (--leak-check=full) on the Release unit tests,
#      without the few that take minutes under valgrind (ASan covers them)
#   4. every libFuzzer target for a fixed, seeded stretch (fuzz/run.sh):
#      NEON_FUZZ_RUNS inputs each (default 20000, 0 to skip), at most
#      NEON_FUZZ_SECONDS (default 120)
# Usage: bash tests/run.sh [build-dir]      (default: build)
# NEON_QUICK=1 runs step 1 only.  Suppressions (third-party code only):
# tests/sanitizers/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
jobs="$(nproc)"
bash "$here/tests/install-deps.sh"
step() { printf '\n==== %s (%ds so far)\n' "$1" "$SECONDS"; }

step "release build + tests"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNEON_WERROR=ON >/dev/null
cmake --build "$build" -j"$jobs"
ctest --test-dir "$build" --output-on-failure -j"$jobs"
[ "${NEON_QUICK:-0}" = 1 ] && exit 0

# OpenBLAS's thread pool is process-wide and lives until exit: one thread
# keeps the leak checkers' view to our own allocations.
export OPENBLAS_NUM_THREADS=1

step "ASan + UBSan build + tests"
san="$build-sanitize"
cmake -S "$here" -B "$san" -DCMAKE_BUILD_TYPE=Debug -DNEON_SANITIZE=ON -DNEON_WERROR=ON \
  -DNEON_BUILD_BENCH=OFF >/dev/null
cmake --build "$san" -j"$jobs"
# cli_install links an outside consumer against the installed (sanitized)
# static library, which needs the sanitizer runtimes it does not link.
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1" \
LSAN_OPTIONS="suppressions=$here/tests/sanitizers/lsan.supp:print_suppressions=0" \
UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
  ctest --test-dir "$san" --output-on-failure -j"$jobs" -E '^cli_install$'

step "valgrind memcheck"
if ! command -v valgrind >/dev/null; then
  echo "valgrind missing (tests/install-deps.sh installs it)" >&2
  exit 1
fi
# Over a minute each under valgrind (test_hygiene 67 s, test_ocsvm 96 s on
# the 2-core reference machine; the rest 20 s together): ASan covers them.
slow=" test_hygiene test_ocsvm "
vg_one() {
  local t="$1" log
  log="$(mktemp)"
  if (cd "$build/tests" && valgrind -q --leak-check=full --show-leak-kinds=definite,indirect \
        --errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
        --suppressions="$here/tests/sanitizers/valgrind.supp" "./$t") >"$log" 2>&1; then
    echo "valgrind $t: ok"
    rm -f "$log"
  else
    echo "valgrind $t: FAILED"
    cat "$log"
    rm -f "$log"
    return 1
  fi
}
export -f vg_one
export build here
units=()
for exe in "$build"/tests/test_*; do
  t="$(basename "$exe")"
  [ -x "$exe" ] && [ -f "$exe" ] && [[ "$slow" != *" $t "* ]] && units+=("$t")
done
printf '%s\n' "${units[@]}" | xargs -P "$jobs" -I{} bash -c 'vg_one {}'

# CI replays a fixed stretch of every target: a fixed seed and run count make
# the pass deterministic (the same inputs on every machine, checked before
# each submission), so it can only fail on a regression, never on luck.
# Longer, open-ended runs: bash fuzz/run.sh SECONDS (see fuzz/README.md).
fuzz_runs="${NEON_FUZZ_RUNS:-20000}"
if [ "$fuzz_runs" -gt 0 ]; then
  step "fuzz targets, ${fuzz_runs} runs each (seed 1)"
  if command -v clang >/dev/null; then
    NEON_FUZZ_BUILD="$build-fuzz" NEON_FUZZ_ARGS="-seed=1 -runs=$fuzz_runs" \
      bash "$here/fuzz/run.sh" "${NEON_FUZZ_SECONDS:-120}"
  else
    echo "clang missing: fuzz targets skipped (tests/install-deps.sh installs it)" >&2
    exit 1
  fi
fi
step "all passes done"
