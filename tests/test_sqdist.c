/* The squared-distance layer and the NEON one-class graph built from it
 * (sqdist -> soft minpool, RULES.md 6), against naive double references:
 * golden vectors, conservation, batched == per-sample, exact zeros where x
 * equals a point or a coordinate of every point, far outliers. */
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/neuralize.h"
#include "neonlrp/rules.h"

#define STAB 1e-6

typedef struct oc {
    neon_ctx *ctx;
    neon_graph *g;
    int x, dist, pool;
} oc;

/* input (D) -> sqdist (U, -log(abar)/gamma) -> softmin_gamma */
static void oc_build(oc *o, int64_t M, int64_t D, const float *U, const double *abar, double gamma)
{
    o->ctx = tu_ctx();
    float *off = malloc((size_t)M * sizeof *off);
    for (int64_t j = 0; j < M; j++) off[j] = (float)(-log(abar[j]) / gamma);
    assert_int_equal(neon_graph_create(o->ctx, &o->g), NEON_OK);
    assert_int_equal(neon_graph_add_input(o->g, "x", 1, &D, &o->x), NEON_OK);
    assert_int_equal(neon_graph_add_sqdist(o->g, "dist", o->x, M, U, off, &o->dist), NEON_OK);
    assert_int_equal(neon_graph_add_minpool(o->g, "pool", o->dist, 1, M, (float)gamma, 1, 0, &o->pool),
                     NEON_OK);
    free(off);
}

static void oc_free(oc *o)
{
    neon_graph_destroy(o->g);
    neon_ctx_destroy(o->ctx);
}

static void oc_explain(oc *o, const float *X, int64_t N, int64_t D, float *R, neon_explain_result *res)
{
    neon_tensor x = {(float *)X, 2, {N, D}}, r = {R, 2, {N, D}};
    assert_int_equal(neon_graph_explain(o->g, &x, NULL, NULL, &r, res), NEON_OK);
}

/* naive reference in double: o(x), R (RULES.md 6 with the stabilizer), min d */
static double naive(int64_t M, int64_t D, const float *U, const double *abar, double gamma,
                    const float *x, double *R, double *min_d)
{
    double *d = malloc((size_t)M * sizeof *d), *h = malloc((size_t)M * sizeof *h), hmin = INFINITY;
    *min_d = INFINITY;
    for (int64_t j = 0; j < M; j++) {
        d[j] = 0;
        for (int64_t i = 0; i < D; i++) d[j] += ((double)x[i] - U[j * D + i]) * ((double)x[i] - U[j * D + i]);
        h[j] = d[j] - log(abar[j]) / gamma;
        hmin = h[j] < hmin ? h[j] : hmin;
        *min_d = d[j] < *min_d ? d[j] : *min_d;
    }
    double S = 0;
    for (int64_t j = 0; j < M; j++) S += exp(-gamma * (h[j] - hmin));
    const double o = hmin - log(S) / gamma;
    for (int64_t i = 0; i < D; i++) R[i] = 0;
    for (int64_t j = 0; j < M; j++) {
        const double Rj = exp(-gamma * (h[j] - hmin)) / S * o;
        for (int64_t i = 0; i < D; i++)
            R[i] += Rj * ((double)x[i] - U[j * D + i]) * ((double)x[i] - U[j * D + i]) / (d[j] + STAB);
    }
    free(d);
    free(h);
    return o;
}

static void test_golden(void **state)
{
    (void)state;
    const float U[] = {0, 0, 1, 0, 0, 2}, X[] = {0.5f, 0.5f, 3, -1};
    const double abar[] = {0.5, 0.3, 0.2};
    const double o_ref[] = {0.7173774215, 6.4673546285};
    const double R_ref[] = {0.3449010315, 0.3724763900, 5.1930026149, 1.2743520136};
    oc o;
    oc_build(&o, 3, 2, U, abar, 0.8);
    float R[4];
    neon_explain_result res[2];
    oc_explain(&o, X, 2, 2, R, res);
    for (int n = 0; n < 2; n++) {
        assert_true(fabs(res[n].score - o_ref[n]) <= 1e-6 * o_ref[n]);
        assert_true(fabs(res[n].relevance_sum - o_ref[n]) <= 1e-5 * o_ref[n]);
    }
    /* the golden values have no stabilizer: it takes ~2e-6 relative here */
    for (int i = 0; i < 4; i++) assert_true(fabs(R[i] - R_ref[i]) <= 5e-6 * fabs(R_ref[i]));
    oc_free(&o);
}

/* random model vs the naive reference; batched == per-sample */
static void random_case(uint64_t seed, int64_t M, int64_t D, int64_t N, float lo, float hi,
                        float shift)
{
    tu_rng rng;
    tu_seed(&rng, seed);
    float *U = malloc((size_t)(M * D) * sizeof *U), *X = malloc((size_t)(N * D) * sizeof *X);
    float *R = malloc((size_t)(N * D) * sizeof *R), *R1 = malloc((size_t)D * sizeof *R1);
    double *abar = malloc((size_t)M * sizeof *abar), *Rn = malloc((size_t)D * sizeof *Rn), s = 0;
    neon_explain_result *res = malloc((size_t)N * sizeof *res), r1;
    tu_fill(&rng, U, M * D, lo, hi);
    for (int64_t j = 0; j < M; j++) s += abar[j] = 0.05 + tu_uniform(&rng);
    for (int64_t j = 0; j < M; j++) abar[j] /= s;
    tu_fill(&rng, X, N * D, lo - 0.2f * (hi - lo), hi + 0.2f * (hi - lo));
    for (int64_t i = 0; i < N * D; i++) X[i] += shift;
    const double gamma = 2.0 / (D * (hi - lo) * (hi - lo) / 6.0);
    oc o;
    oc_build(&o, M, D, U, abar, gamma);
    oc_explain(&o, X, N, D, R, res);
    for (int64_t n = 0; n < N; n++) {
        double md, ref = naive(M, D, U, abar, gamma, X + n * D, Rn, &md);
        assert_true(isfinite(res[n].score));
        assert_true(fabs(res[n].score - ref) <= 2e-6 * ref + 1e-6);
        assert_true(res[n].score >= md * (1 - 1e-6));                 /* o(x) >= min_j d_j */
        assert_true(fabs(tu_sum(R + n * D, D) - res[n].score) <= 2e-5 * res[n].score);
        double scale = 0;
        for (int64_t i = 0; i < D; i++) scale = Rn[i] > scale ? Rn[i] : scale;
        for (int64_t i = 0; i < D; i++) {
            assert_true(fabs(R[n * D + i] - Rn[i]) <= 1e-4 * scale + 1e-5 * fabs(Rn[i]));
            assert_true(R[n * D + i] >= -1e-5 * scale);
        }
        oc_explain(&o, X + n * D, 1, D, R1, &r1); /* per sample */
        tu_assert_close(R1, R + n * D, D, 1e-5 * scale, 1e-5, "per-sample vs batched");
    }
    oc_free(&o);
    free(U), free(X), free(R), free(R1), free(abar), free(Rn), free(res);
}

static void test_random_small(void **state)
{
    (void)state;
    random_case(1, 5, 3, 7, -1, 1, 0);
    random_case(2, 37, 23, 9, 0, 1, 0);
}

static void test_random_offset_data(void **state)
{
    (void)state;
    /* pixels in [0, 255] and a shared offset of 1e3: the expansion
     * ||x||^2 + ||u||^2 - 2 x.u would lose every digit without centring */
    random_case(3, 50, 64, 6, 0, 255, 0);
    random_case(4, 50, 64, 6, 1000, 1001, 0);
}

static void test_far_outliers(void **state)
{
    (void)state;
    /* x at 1e2 .. 1e4 from data in [0, 1]: d_j ~ 1e4 .. 1e10 */
    random_case(5, 40, 16, 4, 0, 1, 100);
    random_case(6, 40, 16, 4, 0, 1, 1000);
    random_case(7, 40, 16, 4, 0, 1, 1e4f);
    random_case(8, 40, 16, 4, 0, 1, -3e4f);
}

/* x equal to a point: d_j == 0 exactly, finite relevance, no NaN */
static void test_x_is_a_point(void **state)
{
    (void)state;
    enum { M = 30, D = 40 };
    tu_rng rng;
    tu_seed(&rng, 9);
    float U[M * D], X[2 * D], R[2 * D];
    double abar[M];
    tu_fill(&rng, U, M * D, 0, 255);
    for (int j = 0; j < M; j++) abar[j] = 1.0 / M;
    memcpy(X, U + 7 * D, sizeof(float) * D);
    memcpy(X + D, U + 21 * D, sizeof(float) * D);
    oc o;
    oc_build(&o, M, D, U, abar, 1e-4);
    neon_explain_result res[2];
    oc_explain(&o, X, 2, D, R, res);
    neon_tensor h;
    assert_int_equal(neon_graph_activation(o.g, o.dist, &h), NEON_OK);
    const float off = (float)(-log(1.0 / M) / 1e-4);
    assert_true(h.data[7] == off);          /* d = 0 exactly, plus the offset */
    assert_true(h.data[M + 21] == off);
    for (int i = 0; i < 2 * D; i++) assert_true(isfinite(R[i]) && R[i] >= 0);
    for (int n = 0; n < 2; n++) assert_true(res[n].score >= 0);
    oc_free(&o);
}

/* a coordinate where x equals every point gets exactly zero relevance */
static void test_shared_coordinate_zero(void **state)
{
    (void)state;
    enum { M = 25, D = 30, N = 5 };
    tu_rng rng;
    tu_seed(&rng, 10);
    float U[M * D], X[N * D], R[N * D];
    double abar[M];
    const float vals[3] = {0.0f, 0.37f, 250.3f};
    tu_fill(&rng, U, M * D, 0, 255);
    tu_fill(&rng, X, N * D, -50, 300);
    for (int j = 0; j < M; j++) {
        abar[j] = 1.0 / M;
        for (int k = 0; k < 3; k++) U[j * D + 4 * k + 1] = vals[k];
    }
    for (int n = 0; n < N; n++)
        for (int k = 0; k < 3; k++) X[n * D + 4 * k + 1] = vals[k];
    memcpy(X + 3 * D, U, sizeof(float) * D); /* one sample is a point (exact path) */
    oc o;
    oc_build(&o, M, D, U, abar, 2e-5);
    neon_explain_result res[N];
    oc_explain(&o, X, N, D, R, res);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < 3; k++) assert_true(R[n * D + 4 * k + 1] == 0.0f);
    oc_free(&o);
}

static void test_bad_args(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    int x, id;
    const int64_t D = 3;
    float U[6] = {0, 1, 2, 3, 4, 5}, off[2] = {0, 0};
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 1, &D, &x), NEON_OK);
    assert_int_equal(neon_graph_add_sqdist(g, "d", x, 0, U, NULL, &id), NEON_ERR_INVALID);
    assert_int_equal(neon_graph_add_sqdist(g, "d", x, 2, NULL, NULL, &id), NEON_ERR_INVALID);
    U[4] = NAN;
    assert_int_equal(neon_graph_add_sqdist(g, "d", x, 2, U, off, &id), NEON_ERR_NUMERIC);
    U[4] = 4;
    off[1] = INFINITY;
    assert_int_equal(neon_graph_add_sqdist(g, "d", x, 2, U, off, &id), NEON_ERR_NUMERIC);
    assert_int_equal(neon_graph_num_nodes(g), 1);
    assert_int_equal(neon_graph_add_sqdist(g, "d", x, 2, U, NULL, &id), NEON_OK);
    float X[3] = {1, NAN, 0}, Y[3];
    neon_tensor xt = {X, 2, {1, 3}}, rt = {Y, 2, {1, 3}};
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, NULL), NEON_ERR_NUMERIC);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_random_small),
        cmocka_unit_test(test_random_offset_data),
        cmocka_unit_test(test_far_outliers),
        cmocka_unit_test(test_x_is_a_point),
        cmocka_unit_test(test_shared_coordinate_zero),
        cmocka_unit_test(test_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
