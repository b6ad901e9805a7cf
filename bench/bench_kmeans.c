/* k-means: explaining cluster assignments (forward + relprop through the
 * NEON graph: kmeans_disc -> minpool) vs plain nearest-centroid assignment
 * (neon_kmeans_assign: one GEMM + argmin), on the same N points, for
 * K = 10 and K = 100.  Points: the first N Fashion-MNIST t10k images (D =
 * 784; random pixels when the data set is not installed); centroids: K of
 * those images (every (N/K)-th).  Prints a Markdown table; target:
 * explaining costs at most 3x assigning.
 *
 * usage: bench_kmeans [--n N] [--batch B] [--threads T] [--reps R] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "blas.h"
#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/rules.h"

#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != NEON_OK) {                                                                      \
            fprintf(stderr, "bench_kmeans: %s: %s\n", #x, neon_errmsg(ctx));                       \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#define T10K "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

int main(int argc, char **argv)
{
    long N = 10000, batch = 256, threads = 1, reps = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--n")) N = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--batch")) batch = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--threads")) threads = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atol(argv[i + 1]);
        else {
            fprintf(stderr, "usage: bench_kmeans [--n N] [--batch B] [--threads T] [--reps R]\n");
            return 2;
        }
    }
    if (N < 100 || batch < 1 || reps < 1) return 2;
    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return 1;
    neon_ctx_set_threads(ctx, (int)threads);
    neon_blas_set_threads((int)threads);
    const int64_t D = 784;
    float *X = malloc((size_t)(N * D) * sizeof *X), *R = malloc((size_t)(N * D) * sizeof *R);
    int *lab = malloc((size_t)N * sizeof *lab), *cl = malloc((size_t)N * sizeof *cl);
    neon_explain_result *res = malloc((size_t)N * sizeof *res);
    if (!X || !R || !lab || !cl || !res) return 1;
    const char *src = "random pixels";
    neon_tensor img;
    if (neon_idx_read(ctx, T10K, 1.0f / 255.0f, &img) == NEON_OK && img.shape[0] >= N) {
        memcpy(X, img.data, (size_t)(N * D) * sizeof *X);
        neon_tensor_free(ctx, &img);
        src = "Fashion-MNIST t10k";
    } else
        bu_fill(X, N * D, 0, 1, 42);
    printf("k-means explain vs assign: N=%ld points of D=%lld (%s), batch %ld, %ld BLAS thread%s, "
           "best of %ld\n\n",
           N, (long long)D, src, batch, threads, threads == 1 ? "" : "s", reps);
    printf("| K   | assign ms | assign pts/s | explain ms | explain pts/s | ratio | max |sum R - f_c| |\n");
    printf("|-----|-----------|--------------|------------|---------------|-------|-----------------|\n");
    const int Ks[2] = {10, 100};
    for (int t = 0; t < 2; t++) {
        const int K = Ks[t];
        float *mu = malloc((size_t)(K * D) * sizeof *mu);
        for (int k = 0; k < K; k++) memcpy(mu + k * D, X + (k * (N / K)) * D, (size_t)D * sizeof *mu);
        neon_kmeans *km;
        CHECK(neon_kmeans_create(ctx, K, D, mu, D, NULL, NULL, &km));
        neon_tensor xt = {X, 2, {N, D}};
        float beta;
        CHECK(neon_kmeans_default_beta(ctx, km, &xt, &beta));
        neon_graph *g;
        CHECK(neon_kmeans_graph(ctx, km, beta, -1, 0, NULL, &g));
        CHECK(neon_kmeans_assign(ctx, km, &xt, lab, NULL)); /* warm-up */
        double ta = 1e30, te = 1e30;
        for (long r = 0; r < reps; r++) {
            double t0 = bu_now();
            CHECK(neon_kmeans_assign(ctx, km, &xt, lab, NULL));
            t0 = bu_now() - t0;
            ta = t0 < ta ? t0 : ta;
        }
        for (long r = 0; r <= reps; r++) { /* first pass plans the buffers (warm-up) */
            double t0 = bu_now();
            for (long s = 0; s < N; s += batch) {
                const long nb = N - s < batch ? N - s : batch;
                neon_tensor xc = {X + s * D, 2, {nb, D}}, rc = {R + s * D, 2, {nb, D}};
                CHECK(neon_graph_explain(g, &xc, NULL, NULL, &rc, res + s));
                CHECK(neon_graph_kmeans_clusters(g, -1, cl + s));
            }
            t0 = bu_now() - t0;
            if (r) te = t0 < te ? t0 : te;
        }
        double worst = 0;
        for (long n = 0; n < N; n++) {
            if (cl[n] != lab[n]) {
                fprintf(stderr, "bench_kmeans: sample %ld: explained cluster %d != assigned %d\n", n,
                        cl[n], lab[n]);
                return 1;
            }
            const double e = res[n].relevance_sum - res[n].score;
            worst = (e < 0 ? -e : e) > worst ? (e < 0 ? -e : e) : worst;
        }
        printf("| %-3d | %9.2f | %12.0f | %10.2f | %13.0f | %5.2f | %15.2g |\n", K, 1e3 * ta, N / ta,
               1e3 * te, N / te, te / ta, worst);
        neon_graph_destroy(g);
        neon_kmeans_destroy(km);
        free(mu);
    }
    printf("\npeak RSS %.0f MB\n", bu_peak_rss_mb());
    free(X);
    free(R);
    free(lab);
    free(cl);
    free(res);
    neon_ctx_destroy(ctx);
    return 0;
}
