/* One-class SVM: explaining a point (forward + relprop through the NEON
 * graph) vs libsvm predicting it (svm_predict_values), on the same points.
 * Model: the shipped Fashion-MNIST Trouser model (653 support vectors,
 * D = 784).  Points: the first N t10k images (random pixels when the data
 * set is not installed).  Prints a Markdown table; target: explain <= 2x
 * libsvm per point.
 *
 * usage: bench_ocsvm [--n N] [--batch B] [--threads T] [--model M.libsvm] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "blas.h"
#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/rules.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != NEON_OK) {                                                                      \
            fprintf(stderr, "bench_ocsvm: %s: %s\n", #x, neon_errmsg(ctx));                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define T10K "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

#ifndef NEON_WITH_LIBSVM
int main(void)
{
    puts("bench_ocsvm: neonlrp was built without libsvm (NEON_WITH_LIBSVM=OFF)");
    return 0;
}
#else
int main(int argc, char **argv)
{
    long N = 10000, batch = 256, threads = 1;
    const char *model = NEON_SOURCE_DIR "/models/fmnist_ocsvm.libsvm";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) N = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--model")) model = argv[i + 1];
        else {
            fprintf(stderr, "usage: bench_ocsvm [--n N] [--batch B] [--threads T] [--model M]\n");
            return 2;
        }
    }
    if (N < 1 || batch < 1) return 2;
    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return 1;
    neon_blas_set_threads((int)threads);
    neon_ocsvm *m;
    CHECK(neon_ocsvm_load(ctx, model, &m));
    const int64_t D = 784;
    float *X = malloc((size_t)(N * D) * sizeof *X), *R = malloc((size_t)(N * D) * sizeof *R);
    double *dec = malloc((size_t)N * sizeof *dec);
    neon_explain_result *res = malloc((size_t)N * sizeof *res);
    const char *points = "random pixels in [0, 1]";
    neon_tensor t10k = {0};
    if (access(T10K, R_OK) == 0 && neon_idx_read(ctx, T10K, 1.0f / 255, &t10k) == NEON_OK) {
        const int64_t have = t10k.shape[0];
        for (long n = 0; n < N; n++)
            memcpy(X + n * D, t10k.data + (n % have) * D, (size_t)D * sizeof *X);
        points = "t10k images";
        neon_tensor_free(ctx, &t10k);
    } else
        bu_fill(X, N * D, 0, 1, 7);

    /* libsvm: svm_predict_values per point (dense -> sparse row included) */
    neon_tensor x = {X, 2, {N, D}};
    double t0 = bu_now();
    CHECK(neon_ocsvm_decision(ctx, m, &x, dec));
    const double t_svm = bu_now() - t0;

    /* NEON: graph forward + relprop, batches of B */
    neon_graph *g;
    CHECK(neon_ocsvm_graph(ctx, m, 1, &D, &g));
    double t_fwd = 0, t_exp = 0;
    for (int pass = 0; pass < 2; pass++) {
        t0 = bu_now();
        for (long s = 0; s < N; s += batch) {
            const long nb = N - s < batch ? N - s : batch;
            neon_tensor xc = {X + s * D, 2, {nb, D}}, rc = {R + s * D, 2, {nb, D}};
            if (pass == 0) CHECK(neon_graph_forward(g, &xc, NULL));
            else CHECK(neon_graph_explain(g, &xc, NULL, NULL, &rc, res + s));
        }
        *(pass == 0 ? &t_fwd : &t_exp) = bu_now() - t0;
    }
    float *sc = malloc((size_t)N * sizeof *sc);
    int *out = malloc((size_t)N * sizeof *out);
    for (long n = 0; n < N; n++) sc[n] = res[n].score;
    int64_t checked;
    t0 = bu_now();
    CHECK(neon_ocsvm_outliers(ctx, m, &x, sc, out, &checked));
    const double t_flags = bu_now() - t0;
    long agree = 0, n_out = 0;
    for (long n = 0; n < N; n++) {
        agree += out[n] == (dec[n] < 0);
        n_out += out[n];
    }
    printf("model %s: %lld support vectors, D %lld; %ld %s; BLAS threads %ld, batch %ld\n\n",
           model, (long long)neon_ocsvm_num_sv(m), (long long)D, N, points, threads, batch);
    printf("| what | total s | us / point | points / s | vs libsvm |\n|---|---|---|---|---|\n");
    const double per = 1e6 / (double)N;
    printf("| libsvm svm_predict_values | %.3f | %.1f | %.0f | 1.00 |\n", t_svm, t_svm * per, N / t_svm);
    printf("| NEON forward (score only) | %.3f | %.1f | %.0f | %.2f |\n", t_fwd, t_fwd * per, N / t_fwd,
           t_fwd / t_svm);
    printf("| NEON explain (forward + relprop) | %.3f | %.1f | %.0f | %.2f |\n", t_exp, t_exp * per,
           N / t_exp, t_exp / t_svm);
    printf("| outlier flags (libsvm near the threshold) | %.3f | %.1f | %.0f | %.2f |\n", t_flags,
           t_flags * per, N / t_flags, t_flags / t_svm);
    printf("\noutliers %ld of %ld; flags agree with libsvm on %ld of %ld (%lld decided by libsvm)\n",
           n_out, N, agree, N, (long long)checked);
    printf("target: explain <= 2x libsvm per point: %s (%.2fx)\n",
           t_exp <= 2 * t_svm ? "met" : "NOT met", t_exp / t_svm);
    free(X), free(R), free(dec), free(res), free(sc), free(out);
    neon_graph_destroy(g);
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
    return 0;
}
#endif
