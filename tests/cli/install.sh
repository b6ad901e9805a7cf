#!/usr/bin/env bash
# The installed package works for consumers: headers, static library, the
# CMake package (neonlrp::neonlrp) and the relocatable pkg-config file.
# usage: bash install.sh NEON_BINARY SOURCE_DIR
set -eu
build="$(dirname "$1")"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cat > "$tmp/consumer.c" <<'C'
#include <neonlrp/neon.h>
#include <neonlrp/rules.h>
#include <stdio.h>
int main(void)
{
    neon_ctx *ctx;
    neon_graph *g;
    int x, d;
    const int64_t shp[1] = {2};
    const float W[2] = {1, 2};
    float xv[2] = {1, 1}, R[2];
    if (neon_ctx_create(&ctx, NULL) || neon_graph_create(ctx, &g)) return 1;
    if (neon_graph_add_input(g, "x", 1, shp, &x) || neon_graph_add_dense(g, "d", x, 1, W, NULL, &d))
        return 1;
    neon_tensor xt = {xv, 2, {1, 2}}, Rt = {R, 2, {1, 2}};
    neon_explain_result r;
    if (neon_graph_explain(g, &xt, NULL, NULL, &Rt, &r)) return 1;
    printf("%g %g %g\n", r.score, R[0], R[1]);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
    return 0;
}
C
# pkg-config, relocated prefix
pc="$(find "$tmp/prefix" -name neonlrp.pc)"
export PKG_CONFIG_PATH="$(dirname "$pc")"
cc "$tmp/consumer.c" $(pkg-config --cflags --libs --static neonlrp) -o "$tmp/c1"
[ "$("$tmp/c1")" = "3 1 2" ] || { echo "pkg-config consumer: wrong output"; exit 1; }
# CMake package
mkdir "$tmp/proj"
cat > "$tmp/proj/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(neonlrp REQUIRED)
add_executable(c2 $tmp/consumer.c)
target_link_libraries(c2 neonlrp::neonlrp)
CM
cmake -S "$tmp/proj" -B "$tmp/proj/b" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/proj/b" >/dev/null
[ "$("$tmp/proj/b/c2")" = "3 1 2" ] || { echo "CMake consumer: wrong output"; exit 1; }
echo "install: 2 passed, 0 failed"
