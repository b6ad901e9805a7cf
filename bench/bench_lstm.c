/* Forward vs relprop for LSTMs: one layer (F = 32 inputs per step) over
 * T in {28, 128, 512} steps, hidden H in {128, 512}, batch 1 and 64, with
 * a dense head (10 classes) on the last step; random weights through the C
 * API, the reference rules (the default for LSTM graphs).  Target: relprop
 * at most 3x the forward.  Also the shipped Fashion-MNIST row LSTM.
 * Prints a Markdown table.
 *
 * usage: bench_lstm [--quick] [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "blas.h"
#include "neonlrp/lstm.h"
#include "neonlrp/onnx.h"
#include "neonlrp/rules.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != NEON_OK) {                                                                      \
            fprintf(stderr, "bench_lstm: %s: %s\n", #x, neon_errmsg(ctx));                         \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static neon_graph *lstm_net(neon_ctx *ctx, int64_t T, int64_t F, int64_t H)
{
    neon_graph *g;
    int id;
    const int64_t shp[2] = {T, F}, last = T - 1, C = 10;
    float *W = malloc(sizeof(float) * (size_t)(4 * H * F)), *R = malloc(sizeof(float) * (size_t)(4 * H * H));
    float *B = malloc(sizeof(float) * (size_t)(8 * H)), *Wo = malloc(sizeof(float) * (size_t)(C * H));
    const float s = 1.0f / (float)H;
    bu_fill(W, 4 * H * F, -0.3f, 0.3f, 1);
    bu_fill(R, 4 * H * H, -2 * s, 2 * s, 2);
    bu_fill(B, 8 * H, -0.1f, 0.1f, 3);
    bu_fill(Wo, C * H, -0.2f, 0.2f, 4);
    neon_lstm_params p = {H, 1, 0, W, R, B, NULL, NULL};
    CHECK(neon_graph_create(ctx, &g));
    CHECK(neon_graph_add_input(g, "x", 2, shp, &id));
    CHECK(neon_graph_add_lstm(g, "lstm", id, &p, &id));
    CHECK(neon_graph_add_gather(g, "last", id, 0, 1, &last, &id));
    CHECK(neon_graph_add_reshape(g, "flat", id, 1, &H, &id));
    CHECK(neon_graph_add_dense(g, "head", id, C, Wo, NULL, &id));
    free(W);
    free(R);
    free(B);
    free(Wo);
    return g;
}

static void run(neon_ctx *ctx, const char *label, neon_graph *g, int64_t N, int reps)
{
    neon_node_info info;
    CHECK(neon_graph_node_info(g, neon_graph_input_id(g, 0), &info));
    neon_tensor x = {NULL, 3, {N, info.shape[0], info.shape[1]}};
    const int64_t per = info.shape[0] * info.shape[1];
    x.data = malloc((size_t)(N * per) * sizeof(float));
    bu_fill(x.data, N * per, -1, 1, 7);
    CHECK(neon_graph_set_rules(g, NULL));
    neon_tensor y;
    CHECK(neon_graph_forward(g, &x, &y)); /* warm-up + buffers */
    const int64_t C = y.shape[1];
    float *Rt = calloc((size_t)(N * C), sizeof *Rt);
    for (int64_t n = 0; n < N; n++) Rt[n * C] = y.data[n * C];
    CHECK(neon_graph_relprop(g, Rt));
    double tf = 1e30, tr = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = bu_now();
        CHECK(neon_graph_forward(g, &x, NULL));
        t = bu_now() - t;
        tf = t < tf ? t : tf;
        t = bu_now();
        CHECK(neon_graph_relprop(g, Rt));
        t = bu_now() - t;
        tr = t < tr ? t : tr;
    }
    printf("| %-26s | %5lld | %10.2f | %10.2f | %5.2f | %9.1f | %8.0f |\n", label, (long long)N,
           tf * 1e3, tr * 1e3, tr / tf, N / (tf + tr), bu_peak_rss_mb());
    fflush(stdout);
    free(Rt);
    free(x.data);
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_lstm [--quick] [--reps R]\n");
            return 2;
        }
    }
    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return 1;
    printf("OpenBLAS threads: %d, sgemm 2048^3: %.1f GFLOP/s\n\n", neon_blas_get_threads(),
           bu_sgemm_gflops(2048));
    printf("| %-26s | %5s | %10s | %10s | %5s | %9s | %8s |\n", "LSTM (F=32, reference rules)",
           "batch", "forward ms", "relprop ms", "ratio", "explain/s", "peak MB");
    printf("|%s|%s|%s|%s|%s|%s|%s|\n", "----------------------------", "-------", "------------",
           "------------", "-------", "-----------", "----------");
    neon_graph *m;
    CHECK(neon_onnx_load(ctx, NEON_SOURCE_DIR "/models/fmnist_lstm.onnx", &m));
    run(ctx, "fmnist_lstm T=28 H=128 F=28", m, 1, reps * 10);
    run(ctx, "fmnist_lstm T=28 H=128 F=28", m, 64, reps * 3);
    neon_graph_destroy(m);
    static const int64_t Ts[3] = {28, 128, 512}, Hs[2] = {128, 512}, Ns[2] = {1, 64};
    for (int ti = 0; ti < 3; ti++)
        for (int hi = 0; hi < 2; hi++) {
            if (quick && (Ts[ti] > 128 || Hs[hi] > 128)) continue;
            neon_graph *g = lstm_net(ctx, Ts[ti], 32, Hs[hi]);
            char label[64];
            snprintf(label, sizeof label, "T=%lld H=%lld", (long long)Ts[ti], (long long)Hs[hi]);
            for (int ni = 0; ni < 2; ni++) {
                const int heavy = Ts[ti] * Hs[hi] * Ns[ni] >= 64 * 128 * 512;
                run(ctx, label, g, Ns[ni], heavy ? 1 : reps);
            }
            neon_graph_destroy(g);
        }
    neon_ctx_destroy(ctx);
    return 0;
}
