/* BiLRP vs single LRP passes on 28x28 pairs, for embedding sizes m = 32 ...
 * 512, with two siamese matchers (random weights, so every embedding unit
 * is active):
 *   cnn: conv 16 -> pool -> conv 32 -> pool -> dense 128 -> dense m
 *   mlp: dense 512 -> dense 256 -> dense m
 * on each image, then product and sum; epsilon-gamma-box composite.
 *
 * "single" is one first-order LRP explanation of the same pair (forward +
 * relprop through both branches).  BiLRP needs, per branch, the relevance
 * map of every embedding unit: m seeds, propagated as multi-seed relprops.
 * The last columns compare BiLRP with one single pass and with m of them.
 * Times are CPU time of this process with one BLAS thread (the same as wall
 * time on an idle core, and not inflated by other load on the machine).
 *
 * usage: bench_bilrp [--quick] [--reps R] [--pairs N] */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"
#include "blas.h"
#include "neonlrp/bilrp.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != NEON_OK) {                                                                      \
            fprintf(stderr, "bench_bilrp: %s: %s\n", #x, neon_errmsg(ctx));                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct weights {
    float *c1, *c2, *d1, *d2;
} weights;

static weights make_weights(int64_t m)
{
    weights w;
    w.c1 = malloc(16 * 9 * sizeof(float));
    w.c2 = malloc(32 * 16 * 9 * sizeof(float));
    w.d1 = malloc(128 * 1568 * sizeof(float));
    w.d2 = malloc((size_t)m * 128 * sizeof(float));
    bu_fill(w.c1, 16 * 9, -0.5f, 0.5f, 1);
    bu_fill(w.c2, 32 * 16 * 9, -0.12f, 0.12f, 2);
    bu_fill(w.d1, 128 * 1568, -0.03f, 0.03f, 3);
    bu_fill(w.d2, m * 128, -0.1f, 0.1f, 4);
    return w;
}

static int branch(neon_ctx *ctx, neon_graph *g, const char *p, int id, int64_t m, const weights *w)
{
    char n[32];
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    neon_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    const int64_t flat[1] = {1568};
    snprintf(n, sizeof n, "%s_conv1", p);
    CHECK(neon_graph_add_conv2d(g, n, id, 16, &cp, w->c1, NULL, &id));
    CHECK(neon_graph_add_relu(g, NULL, id, &id));
    CHECK(neon_graph_add_maxpool2d(g, NULL, id, &pp, &id));
    snprintf(n, sizeof n, "%s_conv2", p);
    CHECK(neon_graph_add_conv2d(g, n, id, 32, &cp, w->c2, NULL, &id));
    CHECK(neon_graph_add_relu(g, NULL, id, &id));
    CHECK(neon_graph_add_maxpool2d(g, NULL, id, &pp, &id));
    CHECK(neon_graph_add_reshape(g, NULL, id, 1, flat, &id));
    CHECK(neon_graph_add_dense(g, NULL, id, 128, w->d1, NULL, &id));
    CHECK(neon_graph_add_relu(g, NULL, id, &id));
    CHECK(neon_graph_add_dense(g, NULL, id, m, w->d2, NULL, &id));
    return id;
}

static int mlp_branch(neon_ctx *ctx, neon_graph *g, int id, int64_t m, const float *W1,
                      const float *W2, const float *W3)
{
    const int64_t flat[1] = {784};
    CHECK(neon_graph_add_reshape(g, NULL, id, 1, flat, &id));
    CHECK(neon_graph_add_dense(g, NULL, id, 512, W1, NULL, &id));
    CHECK(neon_graph_add_relu(g, NULL, id, &id));
    CHECK(neon_graph_add_dense(g, NULL, id, 256, W2, NULL, &id));
    CHECK(neon_graph_add_relu(g, NULL, id, &id));
    CHECK(neon_graph_add_dense(g, NULL, id, m, W3, NULL, &id));
    return id;
}

static neon_graph *matcher(neon_ctx *ctx, int64_t m, int mlp, int *fac)
{
    weights w = make_weights(m);
    float *W1 = NULL, *W2 = NULL, *W3 = NULL;
    if (mlp) {
        W1 = malloc(512 * 784 * sizeof(float));
        W2 = malloc(256 * 512 * sizeof(float));
        W3 = malloc((size_t)m * 256 * sizeof(float));
        bu_fill(W1, 512 * 784, -0.06f, 0.06f, 5);
        bu_fill(W2, 256 * 512, -0.08f, 0.08f, 6);
        bu_fill(W3, m * 256, -0.1f, 0.1f, 7);
    }
    neon_graph *g;
    CHECK(neon_graph_create(ctx, &g));
    int x, y, p, s;
    const int64_t shp[3] = {1, 28, 28};
    CHECK(neon_graph_add_input(g, "x", 3, shp, &x));
    CHECK(neon_graph_add_input(g, "y", 3, shp, &y));
    int a = mlp ? mlp_branch(ctx, g, x, m, W1, W2, W3) : branch(ctx, g, "a", x, m, &w);
    int b = mlp ? mlp_branch(ctx, g, y, m, W1, W2, W3) : branch(ctx, g, "b", y, m, &w);
    fac[0] = a;
    fac[1] = b;
    CHECK(neon_graph_add_product(g, "prod", a, b, &p));
    CHECK(neon_graph_add_reduce_sum(g, "score", p, 0, NULL, 1, &s));
    neon_rules *rs;
    CHECK(neon_rules_create(ctx, &rs));
    CHECK(neon_rules_set_composite(rs, "epsilon-gamma-box"));
    CHECK(neon_rules_set_bounds(rs, 0, 1));
    CHECK(neon_graph_set_rules(g, rs));
    neon_rules_destroy(rs);
    free(w.c1);
    free(w.c2);
    free(w.d1);
    free(w.d2);
    free(W1);
    free(W2);
    free(W3);
    return g;
}

static void run(neon_ctx *ctx, int mlp, int64_t m, int64_t N, int reps)
{
    int fac[2];
    neon_graph *g = matcher(ctx, m, mlp, fac);
    const int64_t D = 784;
    float *x = malloc((size_t)(N * D) * sizeof(float)), *y = malloc((size_t)(N * D) * sizeof(float));
    float *Rx = malloc((size_t)(N * D) * sizeof(float)), *Ry = malloc((size_t)(N * D) * sizeof(float));
    float *R = malloc((size_t)(N * D * D) * sizeof(float));
    bu_fill(x, N * D, 0, 1, 11);
    bu_fill(y, N * D, 0, 1, 12);
    neon_tensor xs[2] = {{x, 4, {N, 1, 28, 28}}, {y, 4, {N, 1, 28, 28}}};
    neon_tensor Rs[2] = {{Rx, 4, {N, 1, 28, 28}}, {Ry, 4, {N, 1, 28, 28}}}, Rt = {R, 3, {N, D, D}};
    neon_explain_result *res = calloc((size_t)N, sizeof *res);
    CHECK(neon_graph_explain_n(g, 2, xs, NULL, NULL, Rs, NULL)); /* warm-up, buffers */
    CHECK(neon_graph_bilrp(g, xs, NULL, NULL, &Rt, NULL, res));
    double ts = 1e30, tb = 1e30;
    for (int r = 0; r < reps; r++) {
        double t = cpu_now();
        CHECK(neon_graph_explain_n(g, 2, xs, NULL, NULL, Rs, NULL));
        t = cpu_now() - t;
        ts = t < ts ? t : ts;
    }
    for (int r = 0; r < (reps + 2) / 3; r++) {
        double t = cpu_now();
        CHECK(neon_graph_bilrp(g, xs, NULL, NULL, &Rt, NULL, res));
        t = cpu_now() - t;
        tb = t < tb ? t : tb;
    }
    /* the same 2m unit-wise backward passes, one seed at a time */
    float *seed = calloc((size_t)(N * m), sizeof *seed), *Ru = malloc((size_t)(N * D) * sizeof *Ru);
    double tu = 1e30;
    for (int r = 0; r < (reps + 2) / 3; r++) {
        CHECK(neon_graph_forward_n(g, 2, xs, NULL));
        double t = cpu_now();
        for (int b = 0; b < 2; b++)
            for (int64_t k = 0; k < m; k++) {
                for (int64_t n = 0; n < N; n++) seed[n * m + k] = 1.0f;
                CHECK(neon_graph_relprop_seeds(g, fac[b], 1, seed, b, Ru));
                for (int64_t n = 0; n < N; n++) seed[n * m + k] = 0.0f;
            }
        t = cpu_now() - t;
        tu = t < tu ? t : tu;
    }
    free(seed);
    free(Ru);
    double cons = 0;
    for (int64_t n = 0; n < N; n++) cons += res[n].relevance_sum / res[n].score / (double)N;
    printf("| %-4s | %4lld | %9.2f | %9.1f | %9.1f | %8.1f | %10.3f | %9.2f | %9.4f |\n",
           mlp ? "mlp" : "cnn", (long long)m, ts * 1e3 / (double)N, tb * 1e3 / (double)N,
           tu * 1e3 / (double)N, tb / ts, tb / (ts * (double)m), tb / tu, cons);
    fflush(stdout);
    free(x); free(y); free(Rx); free(Ry); free(R); free(res);
    neon_graph_destroy(g);
}

int main(int argc, char **argv)
{
    int quick = 0, reps = 9;
    long pairs = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pairs") && i + 1 < argc) pairs = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: bench_bilrp [--quick] [--reps R] [--pairs N]\n");
            return 2;
        }
    }
    if (reps < 1 || pairs < 1) return 2;
    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return 1;
    neon_ctx_set_threads(ctx, 1);
    neon_blas_set_threads(1);
    printf("OpenBLAS threads: 1, sgemm 1024^3: %.1f GFLOP/s\n", bu_sgemm_gflops(1024));
    printf("siamese matchers on 28x28 pairs, epsilon-gamma-box, CPU ms per pair\n\n");
    printf("(single: one first-order explanation of the pair; unit-wise: the 2m branch passes\n"
           "one seed at a time after one forward; %ld pair%s per call)\n\n", pairs,
           pairs == 1 ? "" : "s");
    printf("| %-4s | %4s | %9s | %9s | %9s | %8s | %10s | %9s | %9s |\n", "net", "m", "single",
           "BiLRP", "unit-wise", "/ single", "/ m single", "/ unit-w.", "sum R / y");
    printf("|------|------|-----------|-----------|-----------|----------|------------|-----------|-----------|\n");
    static const int64_t ms[] = {32, 64, 128, 256, 512};
    for (int mlp = 0; mlp < 2; mlp++)
        for (size_t k = 0; k < sizeof ms / sizeof ms[0]; k++) {
            if (quick && ms[k] > 128) break;
            run(ctx, mlp, ms[k], pairs, quick ? 2 : reps);
        }
    neon_ctx_destroy(ctx);
    return 0;
}
