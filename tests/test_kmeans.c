/* NEON for k-means (RULES.md 5): the golden vectors, the kmeans_disc layer
 * (one cluster c per sample: assigned or fixed) against a naive
 * matrix-form reference (forward, apply, apply_t, the midpoint rule),
 * exact conservation, assignment == nearest centroid on 10^4 points, the
 * signs of f_k (graphs with a fixed cluster), the beta limits, the PCA
 * front end, batched == chunked, and rule restrictions. */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_impl.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/rules.h"
#include "neuralize/kmeans_impl.h"

/* ---- naive references (double) ---------------------------------------------------- */

/* h_ck = ||x - mu_k||^2 - ||x - mu_c||^2 */
static double naive_h(const float *mu, int64_t D, const float *x, int64_t c, int64_t k)
{
    double dk = 0, dc = 0;
    for (int64_t i = 0; i < D; i++) {
        dk += ((double)x[i] - mu[k * D + i]) * ((double)x[i] - mu[k * D + i]);
        dc += ((double)x[i] - mu[c * D + i]) * ((double)x[i] - mu[c * D + i]);
    }
    return dk - dc;
}

static int64_t naive_nearest(const float *mu, int64_t K, int64_t D, const float *x, double *dmin)
{
    int64_t b = 0;
    double bd = INFINITY;
    for (int64_t k = 0; k < K; k++) {
        double d = 0;
        for (int64_t i = 0; i < D; i++) d += ((double)x[i] - mu[k * D + i]) * ((double)x[i] - mu[k * D + i]);
        if (d < bd) {
            bd = d;
            b = k;
        }
    }
    if (dmin) *dmin = bd;
    return b;
}

/* Pool relevance Rk (K, diagonal 0) and input relevance Ri (D) of target c
 * by the definitions: f_c = min_k h_ck, R_k = softmin_beta(h_c.)_k f_c,
 * R_i = sum_k w_ck,i (x_i - m_ck,i) / stab(h_ck) R_k.  Returns f_c. */
static double naive_explain(const float *mu, int64_t K, int64_t D, const float *x, int64_t c,
                            double beta, double *Rk, double *Ri)
{
    double f = INFINITY, S = 0;
    for (int64_t k = 0; k < K; k++)
        if (k != c && naive_h(mu, D, x, c, k) < f) f = naive_h(mu, D, x, c, k);
    for (int64_t k = 0; k < K; k++)
        if (k != c) S += exp(-beta * (naive_h(mu, D, x, c, k) - f));
    for (int64_t i = 0; i < D; i++) Ri[i] = 0;
    for (int64_t k = 0; k < K; k++) {
        Rk[k] = k == c ? 0 : exp(-beta * (naive_h(mu, D, x, c, k) - f)) / S * f;
        if (k == c) continue;
        const double h = naive_h(mu, D, x, c, k), st = h >= 0 ? h + 1e-6 : h - 1e-6;
        for (int64_t i = 0; i < D; i++) {
            const double w = 2.0 * ((double)mu[c * D + i] - mu[k * D + i]);
            const double m = 0.5 * ((double)mu[c * D + i] + mu[k * D + i]);
            Ri[i] += w * (x[i] - m) / st * Rk[k];
        }
    }
    return f;
}

static neon_graph *graph_of(neon_ctx *ctx, const float *mu, int64_t K, int64_t D, float beta,
                            int cluster, neon_kmeans **kmo)
{
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_create(ctx, K, D, mu, D, NULL, NULL, &km), NEON_OK);
    neon_graph *g;
    assert_int_equal(neon_kmeans_graph(ctx, km, beta, cluster, 0, NULL, &g), NEON_OK);
    if (kmo) *kmo = km;
    else neon_kmeans_destroy(km);
    return g;
}

/* the cluster of each sample of the last forward */
static void clusters_of(neon_graph *g, int *cl)
{
    assert_int_equal(neon_graph_kmeans_clusters(g, -1, cl), NEON_OK);
}

/* ---- golden vectors ------------------------------------------------------------------- */

static void test_golden(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const float mu[6] = {0, 0, 2, 0, 0, 3};
    float x[6] = {0.2f, 0.1f, 0.3f, 2.0f, 0.9f, 1.2f}, R[6];
    neon_graph *g = graph_of(ctx, mu, 3, 2, 1.0f, -1, NULL);
    neon_tensor xt = {x, 2, {3, 2}}, rt = {R, 2, {3, 2}};
    neon_explain_result res[3];
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
    int cl[3];
    clusters_of(g, cl);
    const int want_c[3] = {0, 2, 0};
    const double want_f[3] = {3.2, 3.0, 0.4};
    /* RULES.md 5's golden vectors are the relevance of the input features
     * R_i (for x = (0.3, 2.0): R_1 = 0.4828 R_k=1, R_2 = R_k=0 + 0.5172 R_k=1);
     * for the other two points, with axis-aligned centroids, R_i happens to
     * equal the pool relevance R_k as well. */
    const double want_Ri[3][2] = {{3.1824438425, 0.0175561565},
                                  {0.0830212203, 2.9169787788},
                                  {0.3208735546, 0.0791264445}};
    /* pool relevance R_k = p_k f_c, p = softmin_beta(h_c.) over k != c */
    const double want_R[3][2] = {{3.1824438425, 0.0175561565},
                                 {2.8280274723, 0.1719725277},
                                 {0.3208735546, 0.0791264445}};
    for (int n = 0; n < 3; n++) {
        const double got_Ri[2] = {R[2 * n], R[2 * n + 1]};
        tu_assert_closed(got_Ri, want_Ri[n], 2, 1e-6, 1e-6, "RULES.md 5 golden input relevance");
    }
    neon_tensor rel;
    assert_int_equal(neon_graph_relevance(g, neon_graph_find(g, "disc"), &rel), NEON_OK);
    assert_int_equal(rel.ndim, 2);
    assert_int_equal(rel.shape[1], 3);
    for (int n = 0; n < 3; n++) {
        assert_int_equal(cl[n], want_c[n]);
        assert_int_equal(res[n].target, 0); /* output (1): f_c */
        assert_true(fabs(res[n].score - want_f[n]) <= 1e-6 * want_f[n]);
        const float *row = rel.data + n * 3;
        assert_true(row[want_c[n]] == 0.0f);
        double got[2];
        for (int k = 0, m = 0; k < 3; k++)
            if (k != want_c[n]) got[m++] = row[k];
        tu_assert_closed(got, want_R[n], 2, 1e-7, 1e-6, "golden pool relevance");
        double Rk[3], Ri[2];
        double f = naive_explain(mu, 3, 2, x + 2 * n, want_c[n], 1.0, Rk, Ri);
        assert_true(fabs(res[n].score - f) <= 1e-6 * fabs(f));
        float rif[2] = {R[2 * n], R[2 * n + 1]};
        float ref[2] = {(float)Ri[0], (float)Ri[1]};
        tu_assert_close(rif, ref, 2, 1e-6, 1e-5, "golden input relevance");
        assert_true(fabs(res[n].relevance_sum - f) <= 2e-6 * fabs(f) + 1e-6);
    }
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- the layer against the matrix form ----------------------------------------------- */

static void test_layer_vs_naive(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 11);
    enum { K = 5, D = 7, N = 3 };
    float mu[K * D], x[N * D];
    tu_fill(&r, mu, K * D, -2, 2);
    tu_fill(&r, x, N * D, -3, 3);
    /* explicit W (K*K, D), root-weighted W o A0 (K*K, D), bias (K*K): row c*K+k */
    static double W[K * K * D], WA[K * K * D], b[K * K];
    for (int c = 0; c < K; c++)
        for (int k = 0; k < K; k++) {
            double nk = 0, nc = 0;
            for (int i = 0; i < D; i++) {
                const double w = 2.0 * ((double)mu[c * D + i] - mu[k * D + i]);
                W[(c * K + k) * D + i] = w;
                WA[(c * K + k) * D + i] = w * 0.5 * ((double)mu[c * D + i] + mu[k * D + i]);
                nk += (double)mu[k * D + i] * mu[k * D + i];
                nc += (double)mu[c * D + i] * mu[c * D + i];
            }
            b[c * K + k] = nk - nc;
            /* the bias cancels at the root: w . m = -b */
            double wm = 0;
            for (int i = 0; i < D; i++) wm += WA[(c * K + k) * D + i];
            assert_true(fabs(wm + b[c * K + k]) <= 1e-5 * (1 + fabs(b[c * K + k])));
        }
    neon_tensor xt = {x, 2, {N, D}};
    /* cluster -1 (assigned) and every fixed cluster */
    for (int t = -1; t < K; t++) {
        neon_graph *g = graph_of(ctx, mu, K, D, 1.0f, t, NULL);
        assert_int_equal(neon_graph_forward(g, &xt, NULL), NEON_OK);
        neon_node *nd = &g->nodes[neon_graph_find(g, "disc")];
        assert_true(nd->is_linear && nd->lin.has_root && nd->lin.W == NULL);
        assert_int_equal(nd->size, K);
        int cl[N];
        clusters_of(g, cl);
        double h[N * K], z[N * K], zr[N * K];
        for (int n = 0; n < N; n++) {
            if (t < 0) assert_int_equal(cl[n], naive_nearest(mu, K, D, x + n * D, NULL));
            else assert_int_equal(cl[n], t);
            for (int k = 0; k < K; k++) {
                const int o = cl[n] * K + k;
                double s = 0, sr = 0;
                for (int i = 0; i < D; i++) {
                    s += W[o * D + i] * x[n * D + i];
                    sr += WA[o * D + i] * x[n * D + i];
                }
                z[n * K + k] = s; /* 0 at k == c */
                zr[n * K + k] = sr;
                h[n * K + k] = s + b[o];
                assert_true(fabs(h[n * K + k] - naive_h(mu, D, x + n * D, cl[n], k)) < 1e-9);
            }
        }
        float got[N * K], ws[N * K + 8];
        double gotd[N * K];
        for (int n = 0; n < N; n++) {
            assert_true(nd->out[n * K + cl[n]] == FLT_MAX); /* ignored by the min-pool */
            h[n * K + cl[n]] = FLT_MAX;
        }
        for (int i = 0; i < N * K; i++) gotd[i] = nd->out[i];
        tu_assert_closed(gotd, h, N * K, 1e-4, 1e-5, "forward h_k");
        nd->ops->apply(g, nd, NEON_W_ORIG, x, got, N, ws);
        for (int i = 0; i < N * K; i++) gotd[i] = got[i];
        tu_assert_closed(gotd, z, N * K, 1e-4, 1e-5, "apply ORIG");
        nd->ops->apply(g, nd, NEON_W_ROOT, x, got, N, ws);
        for (int i = 0; i < N * K; i++) gotd[i] = got[i];
        tu_assert_closed(gotd, zr, N * K, 1e-4, 1e-5, "apply ROOT");
        /* transposes with a dense random s (column c ignored: h_c is no
         * discriminant), with and without accumulate */
        float s[N * K], c[N * D];
        tu_fill(&r, s, N * K, -1, 1);
        for (int sel = 0; sel < 2; sel++) {
            const double *M = sel ? WA : W;
            double ref[N * D], cd[N * D];
            for (int n = 0; n < N; n++)
                for (int i = 0; i < D; i++) {
                    double v = 0;
                    for (int k = 0; k < K; k++)
                        if (k != cl[n]) v += M[(cl[n] * K + k) * D + i] * s[n * K + k];
                    ref[n * D + i] = v + 1.0; /* accumulate onto ones */
                }
            for (int i = 0; i < N * D; i++) c[i] = 1.0f;
            nd->ops->apply_t(g, nd, sel ? NEON_W_ROOT : NEON_W_ORIG, s, c, N, ws, 1);
            for (int i = 0; i < N * D; i++) cd[i] = c[i];
            tu_assert_closed(cd, ref, N * D, 1e-4, 1e-5, sel ? "apply_t ROOT (acc)" : "apply_t ORIG (acc)");
            nd->ops->apply_t(g, nd, sel ? NEON_W_ROOT : NEON_W_ORIG, s, c, N, ws, 0);
            for (int i = 0; i < N * D; i++) cd[i] = c[i] + 1.0;
            tu_assert_closed(cd, ref, N * D, 1e-4, 1e-5, sel ? "apply_t ROOT" : "apply_t ORIG");
        }
        /* the whole explanation against the definitions */
        float R[N * D];
        neon_tensor rt = {R, 2, {N, D}};
        neon_explain_result res[N];
        assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
        for (int n = 0; n < N; n++) {
            double Rk[K], Ri[D];
            const double f = naive_explain(mu, K, D, x + n * D, cl[n], 1.0, Rk, Ri);
            assert_true(fabs(res[n].score - f) <= 1e-4 + 1e-5 * fabs(f));
            if (t < 0) assert_true(res[n].score >= 0.0f);
            double Rd[D];
            for (int i = 0; i < D; i++) Rd[i] = R[n * D + i];
            tu_assert_closed(Rd, Ri, D, 1e-4, 1e-4, "input relevance vs definition");
        }
        /* the output has one entry: target 0 */
        int bad_t[N] = {1, 1, 1};
        assert_int_not_equal(neon_graph_explain(g, &xt, bad_t, NULL, &rt, res), NEON_OK);
        neon_graph_destroy(g);
    }
    /* cluster out of range */
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_create(ctx, K, D, mu, D, NULL, NULL, &km), NEON_OK);
    neon_graph *gb = NULL;
    assert_int_equal(neon_kmeans_graph(ctx, km, 1.0f, K, 0, NULL, &gb), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "out of range"));
    assert_int_equal(neon_kmeans_graph(ctx, km, 1.0f, -2, 0, NULL, &gb), NEON_ERR_INVALID);
    assert_null(gb);
    neon_kmeans_destroy(km);
    neon_ctx_destroy(ctx);
}

/* ---- conservation, signs, assignment ---------------------------------------------------- */

static void test_conservation(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 12);
    enum { K = 8, D = 50, N = 300 };
    float *mu = malloc(sizeof(float) * K * D), *x = malloc(sizeof(float) * N * D),
          *R = malloc(sizeof(float) * N * D);
    tu_fill(&r, mu, K * D, 0, 1);
    tu_fill(&r, x, N * D, 0, 1);
    neon_tensor xt = {x, 2, {N, D}}, rt = {R, 2, {N, D}};
    neon_explain_result res[N];
    int cl[N];
    for (int t = -1; t < K; t++) { /* assigned clusters, then every fixed one */
        neon_graph *g = graph_of(ctx, mu, K, D, 0.7f, t, NULL);
        assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
        clusters_of(g, cl);
        neon_tensor h, rel;
        assert_int_equal(neon_graph_activation(g, neon_graph_find(g, "disc"), &h), NEON_OK);
        assert_int_equal(neon_graph_relevance(g, neon_graph_find(g, "disc"), &rel), NEON_OK);
        for (int n = 0; n < N; n++) {
            if (t >= 0) assert_int_equal(cl[n], t);
            /* the pool is conservative: sum_k R_k = f_c; R_c = 0 */
            const double f = res[n].score;
            assert_true(rel.data[(int64_t)n * K + cl[n]] == 0.0f);
            assert_true(fabs(tu_sum(rel.data + (int64_t)n * K, K) - f) <= 1e-6 * (1 + fabs(f)));
            /* the layer loses only what the stabilizer absorbs: sum_k R_k e / stab(h_k),
             * at most 1e-6 for the assigned cluster (all h_ck >= f_c >= 0); for
             * other clusters an h_ck near 0 may absorb more */
            double want = 0, cond = 0, xx = 0;
            for (int k = 0; k < K; k++) {
                if (k == cl[n]) continue;
                const double hk = h.data[(int64_t)n * K + k];
                const double Rk = rel.data[(int64_t)n * K + k];
                const double sk = Rk / (hk >= 0 ? hk + 1e-6 : hk - 1e-6);
                want += sk * hk;
                cond += fabs(sk);
            }
            for (int i = 0; i < D; i++) xx += (double)x[n * D + i] * x[n * D + i];
            /* float round-off grows with sum |R_k / h_k| (large near h_ck = 0) */
            const double tol = 2e-6 + 1e-5 * fabs(f) + 1e-6 * cond * (1 + xx);
            const double s = tu_sum(R + n * D, D);
            if (fabs(s - want) > tol || (t < 0 && fabs(s - f) > 3e-6 + 1e-5 * fabs(f))) {
                print_error("sample %d cluster %d: sum R %.9g, f %.9g, expected %.9g\n", n,
                            cl[n], s, f, want);
                fail();
            }
        }
        neon_graph_destroy(g);
    }
    free(mu);
    free(x);
    free(R);
    neon_ctx_destroy(ctx);
}

static void test_assignment_and_signs(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 13);
    enum { K = 10, D = 20, N = 10000 };
    float *mu = malloc(sizeof(float) * K * D), *x = malloc(sizeof(float) * N * D);
    float *fa = malloc(sizeof(float) * N);
    tu_fill(&r, mu, K * D, -1, 1);
    for (int i = 0; i < N * D; i++) x[i] = (float)(1.5 * tu_normal(&r)) + 100.0f * (i % D == 0);
    for (int i = 0; i < K; i++) mu[i * D] += 100.0f; /* far from the origin: numerical care */
    neon_kmeans *km;
    neon_graph *g = graph_of(ctx, mu, K, D, 1.0f, -1, &km);
    neon_tensor xt = {x, 2, {N, D}}, y;
    assert_int_equal(neon_graph_forward(g, &xt, &y), NEON_OK);
    assert_int_equal(y.ndim, 2);
    assert_int_equal(y.shape[1], 1);
    memcpy(fa, y.data, sizeof(float) * N);
    int *lab = malloc(sizeof(int) * N), *cl = malloc(sizeof(int) * N);
    clusters_of(g, cl);
    assert_int_equal(neon_kmeans_assign(ctx, km, &xt, lab, NULL), NEON_OK);
    int mism = 0;
    for (int n = 0; n < N; n++) {
        assert_int_equal(cl[n], lab[n]); /* the graph's cluster == the plain assignment */
        assert_true(fa[n] >= 0.0f);
        double dmin;
        const int64_t c = naive_nearest(mu, K, D, x + n * D, &dmin);
        if (c != cl[n]) { /* only an exact-arithmetic near tie may differ */
            mism++;
            assert_true(fabs(naive_h(mu, D, x + n * D, cl[n], c)) < 1e-3);
        }
    }
    assert_true(mism <= 2);
    /* every cluster k through a graph with k fixed: f_k >= 0 for the
     * assigned one (== the assigned graph's output), <= 0 for the others */
    for (int k = 0; k < K; k++) {
        neon_graph *gk;
        assert_int_equal(neon_kmeans_graph(ctx, km, 1.0f, k, 0, NULL, &gk), NEON_OK);
        assert_int_equal(neon_graph_forward(gk, &xt, &y), NEON_OK);
        for (int n = 0; n < N; n++) {
            const float f = y.data[n];
            if (k == lab[n]) {
                assert_true(f >= 0.0f);
                assert_true(f == fa[n]);
            } else
                assert_true(f <= 0.0f);
            if (n % 7) continue; /* the naive check on a subset (K^2 D per sample) */
            double fk = INFINITY; /* f_k = min_k' h_kk' */
            for (int j = 0; j < K; j++)
                if (j != k && naive_h(mu, D, x + n * D, k, j) < fk) fk = naive_h(mu, D, x + n * D, k, j);
            assert_true(fabs(f - fk) <= 2e-3 + 1e-5 * fabs(fk));
        }
        neon_graph_destroy(gk);
    }
    free(lab);
    free(cl);
    free(fa);
    neon_graph_destroy(g);
    neon_kmeans_destroy(km);
    free(mu);
    free(x);
    neon_ctx_destroy(ctx);
}

/* ---- beta limits ------------------------------------------------------------------------- */

static void pool_row(neon_graph *g, int n, int K, float *row)
{
    neon_tensor rel;
    assert_int_equal(neon_graph_relevance(g, neon_graph_find(g, "disc"), &rel), NEON_OK);
    memcpy(row, rel.data + (int64_t)n * K, sizeof(float) * K);
}

static void test_beta_limits(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 14);
    enum { K = 6, D = 4, N = 5 };
    float mu[K * D], x[N * D], R[N * D], row[K];
    tu_fill(&r, mu, K * D, -2, 2);
    tu_fill(&r, x, N * D, -2, 2);
    neon_tensor xt = {x, 2, {N, D}}, rt = {R, 2, {N, D}};
    neon_explain_result res[N];
    int cl[N];
    /* beta -> 0: equal shares f_c / (K-1) */
    neon_graph *g = graph_of(ctx, mu, K, D, 1e-9f, -1, NULL);
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
    clusters_of(g, cl);
    for (int n = 0; n < N; n++) {
        pool_row(g, n, K, row);
        for (int k = 0; k < K; k++) {
            const double want = k == cl[n] ? 0.0 : res[n].score / (K - 1);
            assert_true(fabs(row[k] - want) <= 1e-6 + 1e-5 * fabs(want));
        }
    }
    /* large beta: all to the nearest competitor */
    assert_int_equal(neon_graph_set_minpool_beta(g, neon_graph_find(g, "pool"), 1e4f), NEON_OK);
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
    clusters_of(g, cl);
    for (int n = 0; n < N; n++) {
        const int c = cl[n];
        int kn = -1;
        for (int k = 0; k < K; k++)
            if (k != c && (kn < 0 || naive_h(mu, D, x + n * D, c, k) < naive_h(mu, D, x + n * D, c, kn)))
                kn = k;
        pool_row(g, n, K, row);
        for (int k = 0; k < K; k++) {
            const double want = k == kn ? res[n].score : 0.0;
            assert_true(fabs(row[k] - want) <= 1e-6 + 1e-5 * fabs(want));
        }
        assert_true(fabs(tu_sum(R + n * D, D) - res[n].score) <= 1e-5 + 1e-5 * res[n].score);
    }
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- PCA front end ------------------------------------------------------------------------ */

static void test_pca_front(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 15);
    enum { N = 500, D = 30, P = 6, K = 5 };
    float *x = malloc(sizeof(float) * N * D), *R = malloc(sizeof(float) * N * D);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D; i++)
            x[n * D + i] = (float)(tu_normal(&r) * (i < P ? 3.0 : 0.3) + 2.0 * (n % K) * (i == n % D));
    neon_tensor xt = {x, 2, {N, D}}, rt = {R, 2, {N, D}};
    neon_kmeans_fit_opts o = {.k = K, .n_init = 2, .seed = 3, .pca = P};
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_fit(ctx, &xt, &o, &km), NEON_OK);
    assert_int_equal(neon_kmeans_pca_dim(km), P);
    neon_graph *g;
    assert_int_equal(neon_kmeans_graph(ctx, km, 0, -1, 0, NULL, &g), NEON_OK);
    neon_explain_result res[N];
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
    int *cl = malloc(sizeof(int) * N), *clz = malloc(sizeof(int) * N);
    clusters_of(g, cl);
    /* the same f_c from the projected data through a plain model */
    float *z = malloc(sizeof(float) * N * P), *Rz = malloc(sizeof(float) * N * P);
    for (int n = 0; n < N; n++) /* z = U (x - mean), naive */
        for (int p = 0; p < P; p++) {
            double v = 0;
            for (int i = 0; i < D; i++)
                v += (double)km->comp[p * D + i] * ((double)x[n * D + i] - km->mean[i]);
            z[n * P + p] = (float)v;
        }
    neon_graph *gz = graph_of(ctx, neon_kmeans_centroids(km), K, P, neon_kmeans_beta(km), -1, NULL);
    neon_tensor zt = {z, 2, {N, P}}, rzt = {Rz, 2, {N, P}};
    neon_explain_result rz[N];
    assert_int_equal(neon_graph_explain(gz, &zt, NULL, NULL, &rzt, rz), NEON_OK);
    clusters_of(gz, clz);
    for (int n = 0; n < N; n++) {
        assert_int_equal(cl[n], clz[n]);
        /* two float32 routes (input space vs projection): round-off ~ eps |x| |mu| */
        if (fabs(res[n].score - rz[n].score) > 1e-4 * (1 + fabs(rz[n].score))) {
            print_error("PCA sample %d: f_c %.9g (input space) != %.9g (projection)\n", n,
                        (double)res[n].score, (double)rz[n].score);
            fail();
        }
        const double s = tu_sum(R + n * D, D);
        if (fabs(s - res[n].score) > 1e-4 + 1e-4 * fabs(res[n].score)) {
            print_error("PCA sample %d: sum R %.9g != f_c %.9g\n", n, s, (double)res[n].score);
            fail();
        }
    }
    /* rules other than lrp0/epsilon are refused on root-point layers */
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    neon_rule zp = neon_rule_default(NEON_RULE_ZPLUS);
    assert_int_equal(neon_rules_set_node(rs, "disc", &zp), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_ERR_UNSUPPORTED);
    assert_non_null(strstr(neon_errmsg(ctx), "root points"));
    neon_rules_destroy(rs);
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    neon_rule ep = neon_rule_default(NEON_RULE_EPSILON);
    assert_int_equal(neon_rules_set_node(rs, "disc", &ep), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
    neon_rules_destroy(rs);
    neon_graph_destroy(gz);
    neon_graph_destroy(g);
    neon_kmeans_destroy(km);
    free(x);
    free(R);
    free(z);
    free(Rz);
    free(cl);
    free(clz);
    neon_ctx_destroy(ctx);
}

/* ---- batched == chunked; image-shaped input ------------------------------------------------ */

static void test_batches_and_shapes(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 16);
    enum { K = 4, N = 37, D = 16 };
    float mu[K * D], x[N * D], R1[N * D], R2[N * D];
    tu_fill(&r, mu, K * D, 0, 1);
    tu_fill(&r, x, N * D, 0, 1);
    neon_kmeans *km;
    neon_graph *g = graph_of(ctx, mu, K, D, 2.0f, -1, &km);
    neon_tensor xt = {x, 2, {N, D}}, rt = {R1, 2, {N, D}};
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, NULL), NEON_OK);
    for (int s = 0; s < N; s += 5) { /* chunks of 5, and a graph with image input (1, 4, 4) */
        const int n = N - s < 5 ? N - s : 5;
        neon_tensor xc = {x + s * D, 2, {n, D}}, rc = {R2 + s * D, 2, {n, D}};
        assert_int_equal(neon_graph_explain(g, &xc, NULL, NULL, &rc, NULL), NEON_OK);
    }
    tu_assert_close(R2, R1, N * D, 1e-6, 1e-5, "chunked vs batched");
    neon_graph *gi;
    const int64_t shp[3] = {1, 4, 4};
    assert_int_equal(neon_kmeans_graph(ctx, km, 2.0f, -1, 3, shp, &gi), NEON_OK);
    neon_tensor xi = {x, 4, {N, 1, 4, 4}}, ri = {R2, 4, {N, 1, 4, 4}};
    assert_int_equal(neon_graph_explain(gi, &xi, NULL, NULL, &ri, NULL), NEON_OK);
    tu_assert_close(R2, R1, N * D, 1e-6, 1e-5, "image-shaped input");
    /* wrong input sizes */
    const int64_t bad[1] = {15};
    neon_graph *gb = NULL;
    assert_int_equal(neon_kmeans_graph(ctx, km, 2.0f, -1, 1, bad, &gb), NEON_ERR_SHAPE);
    assert_null(gb);
    neon_tensor xw = {x, 2, {N / 2, 2 * D}};
    assert_int_equal(neon_graph_explain(g, &xw, NULL, NULL, &rt, NULL), NEON_ERR_SHAPE);
    neon_graph_destroy(gi);
    neon_graph_destroy(g);
    neon_kmeans_destroy(km);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_layer_vs_naive),
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_assignment_and_signs),
        cmocka_unit_test(test_beta_limits),
        cmocka_unit_test(test_pca_front),
        cmocka_unit_test(test_batches_and_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
