#!/usr/bin/env bash
# Installs the Debian 12 packages neonlrp needs to build, test and run the
# examples -- only those that are missing, so a second run needs no network.
set -euo pipefail
pkgs=(cmake make gcc pkg-config libopenblas-dev liblapacke-dev libsvm-dev libcmocka-dev
      libprotobuf-c-dev protobuf-c-compiler libpng-dev zlib1g-dev dataset-fashion-mnist
      valgrind clang libclang-rt-14-dev) # the last three: tests/run.sh's memcheck and fuzz passes
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
