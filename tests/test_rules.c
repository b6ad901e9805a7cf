/* Every linear rule of RULES.md 1 on random small dense and conv layers
 * against a naive matrix-form reference (double precision, written from
 * the per-contribution definitions, not from the GEMM decompositions the
 * engine uses). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/rules.h"

typedef struct layer_case {
    const char *what;
    int conv;             /* 0 dense, 1 conv */
    int64_t in_shape[3];  /* (C,H,W) or (D) */
    int64_t c_out;
    neon_conv2d_params cp;
    int bias;
} layer_case;

static const layer_case cases[] = {
    {"dense 7->5", 0, {7}, 5, {0}, 1},
    {"dense 12->3 nobias", 0, {12}, 3, {0}, 0},
    {"conv 3x3 pad1", 1, {2, 5, 5}, 3, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, 1},
    {"conv 3x3 stride2 asym pad", 1, {2, 6, 7}, 4, {3, 3, 2, 2, 1, 0, 2, 1, 1, 1, 1}, 1},
    {"conv 2x3 dil2", 1, {1, 7, 7}, 2, {2, 3, 1, 1, 0, 1, 0, 1, 2, 2, 1}, 1},
    {"conv groups2", 1, {4, 5, 4}, 6, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2}, 1},
    {"conv depthwise", 1, {3, 5, 5}, 3, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 3}, 0},
    {"conv 1x1 (pointwise)", 1, {4, 3, 3}, 5, {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}, 1},
};

typedef struct built {
    neon_graph *g;
    int in_id, out_id;
    int64_t n_in, n_out;
    double *M;   /* (n_out, n_in) explicit matrix */
    double *b;   /* (n_out) */
    int *conn;   /* (n_out, n_in) tap exists */
} built;

static void build(neon_ctx *ctx, const layer_case *lc, tu_rng *rng, built *B)
{
    memset(B, 0, sizeof *B);
    assert_int_equal(neon_graph_create(ctx, &B->g), NEON_OK);
    int nd = lc->conv ? 3 : 1;
    assert_int_equal(neon_graph_add_input(B->g, "x", nd, lc->in_shape, &B->in_id), NEON_OK);
    int64_t n_in = 1;
    for (int i = 0; i < nd; i++) n_in *= lc->in_shape[i];
    int64_t nw = lc->conv ? lc->c_out * (lc->in_shape[0] / (lc->cp.groups ? lc->cp.groups : 1)) *
                                lc->cp.kernel_h * lc->cp.kernel_w
                          : lc->c_out * n_in;
    float *W = malloc((size_t)nw * sizeof *W), bias[64];
    tu_fill(rng, W, nw, -1, 1);
    tu_fill(rng, bias, lc->c_out, -0.5f, 0.5f);
    if (lc->conv)
        assert_int_equal(neon_graph_add_conv2d(B->g, "L", B->in_id, lc->c_out, &lc->cp, W,
                                               lc->bias ? bias : NULL, &B->out_id),
                         NEON_OK);
    else
        assert_int_equal(neon_graph_add_dense(B->g, "L", B->in_id, lc->c_out, W,
                                              lc->bias ? bias : NULL, &B->out_id),
                         NEON_OK);
    neon_node_info info;
    assert_int_equal(neon_graph_node_info(B->g, B->out_id, &info), NEON_OK);
    int64_t n_out = 1;
    for (int i = 0; i < info.ndim; i++) n_out *= info.shape[i];
    B->n_in = n_in;
    B->n_out = n_out;
    /* explicit matrix by probing with unit vectors (and zero for the bias) */
    B->M = calloc((size_t)(n_in * n_out), sizeof(double));
    B->b = calloc((size_t)n_out, sizeof(double));
    B->conn = calloc((size_t)(n_in * n_out), sizeof(int));
    float *X = calloc((size_t)((n_in + 1) * n_in), sizeof(float));
    for (int64_t j = 0; j < n_in; j++) X[(j + 1) * n_in + j] = 1.0f;
    neon_tensor xt = {X, nd + 1, {n_in + 1}}, yt;
    for (int i = 0; i < nd; i++) xt.shape[i + 1] = lc->in_shape[i];
    assert_int_equal(neon_graph_forward(B->g, &xt, &yt), NEON_OK);
    for (int64_t k = 0; k < n_out; k++) {
        B->b[k] = yt.data[k];
        for (int64_t j = 0; j < n_in; j++) {
            B->M[k * n_in + j] = (double)yt.data[(j + 1) * n_out + k] - yt.data[k];
            B->conn[k * n_in + j] = B->M[k * n_in + j] != 0.0;
        }
    }
    free(X);
    free(W);
}

static void unbuild(built *B)
{
    neon_graph_destroy(B->g);
    free(B->M);
    free(B->b);
    free(B->conn);
}

static double dstab(double z, double e) { return z >= 0 ? z + e : z - e; }
static double pos(double v) { return v > 0 ? v : 0; }
static double neg(double v) { return v < 0 ? v : 0; }

/* Naive reference for one sample: a (n_in), R (n_out) -> out (n_in). */
static void naive(const built *B, const neon_rule *r, const float *a, const float *R, double *out,
                  const double *lo, const double *hi)
{
    const int64_t I = B->n_in, K = B->n_out;
    const double e = r->kind == NEON_RULE_EPSILON ? r->epsilon : r->stabilizer;
    memset(out, 0, (size_t)I * sizeof *out);
    for (int64_t k = 0; k < K; k++) {
        const double *w = B->M + k * I;
        const double b = r->zero_bias ? 0.0 : B->b[k];
        double z = 0, zp = 0, zn = 0, zo = 0;
        switch (r->kind) {
        case NEON_RULE_LRP0:
        case NEON_RULE_EPSILON:
            for (int64_t j = 0; j < I; j++) z += a[j] * w[j];
            z += b;
            for (int64_t j = 0; j < I; j++) out[j] += a[j] * w[j] / dstab(z, e) * R[k];
            break;
        case NEON_RULE_ZPLUS:
        case NEON_RULE_ALPHABETA: {
            const double al = r->kind == NEON_RULE_ZPLUS ? 1 : r->alpha;
            const double be = r->kind == NEON_RULE_ZPLUS ? 0 : r->beta;
            for (int64_t j = 0; j < I; j++) {
                zp += pos(a[j] * w[j]);
                zn += neg(a[j] * w[j]);
            }
            zp += pos(b);
            zn += neg(b);
            for (int64_t j = 0; j < I; j++)
                out[j] += (al * pos(a[j] * w[j]) / dstab(zp, e) -
                           be * neg(a[j] * w[j]) / dstab(zn, e)) * R[k];
            break;
        }
        case NEON_RULE_GAMMA: {
            const double g = r->gamma;
            for (int64_t j = 0; j < I; j++) zo += a[j] * w[j];
            zo += b;
            /* contributions with w_g+ on a+ and w_g- on a- (pos units),
             * w_g- on a+ and w_g+ on a- (neg units) */
            for (int64_t j = 0; j < I; j++) {
                const double wp = w[j] + g * pos(w[j]), wn = w[j] + g * neg(w[j]);
                zp += pos(a[j]) * wp + neg(a[j]) * wn;
                zn += pos(a[j]) * wn + neg(a[j]) * wp;
            }
            zp += b + g * pos(b);
            zn += b + g * neg(b);
            for (int64_t j = 0; j < I; j++) {
                const double wp = w[j] + g * pos(w[j]), wn = w[j] + g * neg(w[j]);
                if (zo > 0) out[j] += (pos(a[j]) * wp + neg(a[j]) * wn) / dstab(zp, e) * R[k];
                if (zo < 0) out[j] += (pos(a[j]) * wn + neg(a[j]) * wp) / dstab(zn, e) * R[k];
            }
            break;
        }
        case NEON_RULE_FLAT: {
            double n = 0;
            for (int64_t j = 0; j < I; j++) n += B->conn[k * I + j];
            for (int64_t j = 0; j < I; j++) out[j] += B->conn[k * I + j] / dstab(n, e) * R[k];
            break;
        }
        case NEON_RULE_WSQUARE:
            for (int64_t j = 0; j < I; j++) z += w[j] * w[j];
            z += b * b;
            for (int64_t j = 0; j < I; j++) out[j] += w[j] * w[j] / dstab(z, e) * R[k];
            break;
        case NEON_RULE_ZBOX:
            for (int64_t j = 0; j < I; j++) z += a[j] * w[j] - lo[j] * pos(w[j]) - hi[j] * neg(w[j]);
            for (int64_t j = 0; j < I; j++)
                out[j] += (a[j] * w[j] - lo[j] * pos(w[j]) - hi[j] * neg(w[j])) / dstab(z, e) * R[k];
            break;
        default: fail_msg("rule %d not in the reference", r->kind);
        }
    }
}

static void check_rule(const neon_rule *rule, int nonneg_input, uint64_t seed)
{
    neon_ctx *ctx = tu_ctx();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const layer_case *lc = &cases[c];
        tu_rng rng;
        tu_seed(&rng, seed + c);
        built B;
        build(ctx, lc, &rng, &B);
        const int64_t N = 3, I = B.n_in, K = B.n_out;
        float *a = malloc((size_t)(N * I) * sizeof *a), *R = malloc((size_t)(N * K) * sizeof *R);
        double *lo = malloc((size_t)I * sizeof *lo), *hi = malloc((size_t)I * sizeof *hi);
        tu_fill(&rng, a, N * I, nonneg_input ? 0.0f : -1.0f, 1.0f);
        tu_fill(&rng, R, N * K, -1.0f, 1.0f);
        neon_rule r = *rule;
        if (r.kind == NEON_RULE_ZBOX) {
            r.n_bounds = 0;
            r.low = nonneg_input ? 0.0f : -1.0f;
            r.high = 1.0f;
        }
        for (int64_t j = 0; j < I; j++) {
            lo[j] = r.low;
            hi[j] = r.high;
        }
        neon_rules *rs;
        assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
        assert_int_equal(neon_rules_set_uniform(rs, &r), NEON_OK);
        assert_int_equal(neon_graph_set_rules(B.g, rs), NEON_OK);
        neon_tensor xt = {a, lc->conv ? 4 : 2, {N}};
        for (int i = 0; i < (lc->conv ? 3 : 1); i++) xt.shape[i + 1] = lc->in_shape[i];
        assert_int_equal(neon_graph_forward(B.g, &xt, NULL), NEON_OK);
        assert_int_equal(neon_graph_relprop(B.g, R), NEON_OK);
        neon_tensor rel;
        assert_int_equal(neon_graph_relevance(B.g, B.in_id, &rel), NEON_OK);
        double *ref = malloc((size_t)I * sizeof *ref);
        for (int64_t n = 0; n < N; n++) {
            naive(&B, &r, a + n * I, R + n * K, ref, lo, hi);
            float *reff = malloc((size_t)I * sizeof *reff);
            for (int64_t j = 0; j < I; j++) reff[j] = (float)ref[j];
            char what[160];
            snprintf(what, sizeof what, "%s%s / %s%s (sample %lld)", neon_rule_name(r.kind),
                     r.zero_bias ? " zero-bias" : "", lc->what,
                     nonneg_input ? " / a>=0" : " / signed a", (long long)n);
            tu_assert_close(rel.data + n * I, reff, I, 2e-4, 2e-3, what);
            free(reff);
        }
        free(ref);
        neon_rules_destroy(rs);
        free(a);
        free(R);
        free(lo);
        free(hi);
        unbuild(&B);
    }
    neon_ctx_destroy(ctx);
}

static void rule_both(neon_rule_kind k, float p1, float p2)
{
    neon_rule r = neon_rule_default(k);
    if (k == NEON_RULE_EPSILON) r.epsilon = p1;
    if (k == NEON_RULE_GAMMA) r.gamma = p1;
    if (k == NEON_RULE_ALPHABETA) {
        r.alpha = p1;
        r.beta = p2;
    }
    check_rule(&r, 1, 11);
    check_rule(&r, 0, 23);
    r.zero_bias = 1;
    check_rule(&r, 0, 37);
}

static void test_lrp0(void **s) { (void)s; rule_both(NEON_RULE_LRP0, 0, 0); }
static void test_epsilon(void **s) { (void)s; rule_both(NEON_RULE_EPSILON, 0.3f, 0); }
static void test_gamma(void **s) { (void)s; rule_both(NEON_RULE_GAMMA, 0.25f, 0); }
static void test_gamma_large(void **s) { (void)s; rule_both(NEON_RULE_GAMMA, 4.0f, 0); }
static void test_zplus(void **s) { (void)s; rule_both(NEON_RULE_ZPLUS, 0, 0); }
static void test_alphabeta(void **s) { (void)s; rule_both(NEON_RULE_ALPHABETA, 2, 1); }
static void test_alphabeta3(void **s) { (void)s; rule_both(NEON_RULE_ALPHABETA, 3, 2); }
static void test_flat(void **s) { (void)s; rule_both(NEON_RULE_FLAT, 0, 0); }
static void test_wsquare(void **s) { (void)s; rule_both(NEON_RULE_WSQUARE, 0, 0); }
static void test_zbox(void **s) { (void)s; rule_both(NEON_RULE_ZBOX, 0, 0); }

/* Bias-free conserving rules: sum_j R_j == sum_k R_k (per sample). */
static void test_conservation(void **s)
{
    (void)s;
    const neon_rule_kind kinds[] = {NEON_RULE_LRP0, NEON_RULE_ZPLUS, NEON_RULE_ALPHABETA,
                                    NEON_RULE_FLAT, NEON_RULE_WSQUARE, NEON_RULE_ZBOX};
    neon_ctx *ctx = tu_ctx();
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            tu_rng rng;
            tu_seed(&rng, 100 + c);
            built B;
            layer_case lc = cases[c];
            lc.bias = 0;
            build(ctx, &lc, &rng, &B);
            const int64_t N = 2, I = B.n_in, K = B.n_out;
            float *a = malloc((size_t)(N * I) * sizeof *a), *R = malloc((size_t)(N * K) * sizeof *R);
            tu_fill(&rng, a, N * I, 0.05f, 1.0f); /* positive input, no zero denominators */
            tu_fill(&rng, R, N * K, 0.1f, 1.0f);
            neon_rule r = neon_rule_default(kinds[k]);
            r.low = 0.0f;
            r.high = 1.0f;
            neon_rules *rs;
            assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
            assert_int_equal(neon_rules_set_uniform(rs, &r), NEON_OK);
            assert_int_equal(neon_graph_set_rules(B.g, rs), NEON_OK);
            neon_tensor xt = {a, lc.conv ? 4 : 2, {N}};
            for (int i = 0; i < (lc.conv ? 3 : 1); i++) xt.shape[i + 1] = lc.in_shape[i];
            assert_int_equal(neon_graph_forward(B.g, &xt, NULL), NEON_OK);
            assert_int_equal(neon_graph_relprop(B.g, R), NEON_OK);
            neon_tensor rel;
            assert_int_equal(neon_graph_relevance(B.g, B.in_id, &rel), NEON_OK);
            for (int64_t n = 0; n < N; n++) {
                double top = 0, bot = tu_sum(rel.data + n * I, I);
                for (int64_t u = 0; u < K; u++) {
                    /* alpha-beta conserves per unit only where both parts exist:
                     * a unit with no negative contribution passes alpha R */
                    int has_pos = 0, has_neg = 0;
                    for (int64_t j = 0; j < I; j++) {
                        double p = a[n * I + j] * B.M[u * I + j];
                        has_pos |= p > 0;
                        has_neg |= p < 0;
                    }
                    double f = kinds[k] == NEON_RULE_ALPHABETA ? 2.0 * has_pos - 1.0 * has_neg
                             : kinds[k] == NEON_RULE_ZPLUS   ? has_pos : 1.0;
                    top += f * R[n * K + u];
                }
                /* z^B and alpha-beta may see units with z ~ 0 absorb: allow 1e-3 */
                if (fabs(top - bot) > 1e-3 * (1 + fabs(top)))
                    fail_msg("%s on %s: sum R_in %.7g != sum R_out %.7g", neon_rule_name(kinds[k]),
                             lc.what, bot, top);
            }
            neon_rules_destroy(rs);
            free(a);
            free(R);
            unbuild(&B);
        }
    neon_ctx_destroy(ctx);
}

/* Wide layers run the rules in sample chunks (about 2M floats of input +
 * output per pass): a batch that spans several chunks equals per-sample. */
static void test_chunked_batches(void **s)
{
    (void)s;
    const neon_rule_kind kinds[] = {NEON_RULE_EPSILON, NEON_RULE_GAMMA, NEON_RULE_ALPHABETA,
                                    NEON_RULE_ZBOX, NEON_RULE_FLAT};
    neon_ctx *ctx = tu_ctx();
    tu_rng rng;
    tu_seed(&rng, 77);
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, c;
    const int64_t shp[3] = {4, 300, 300}; /* in + out = 720k floats: chunks of 2 */
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &x), NEON_OK);
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float W[4 * 4 * 9], b[4];
    tu_fill(&rng, W, 4 * 4 * 9, -1, 1);
    tu_fill(&rng, b, 4, -0.3f, 0.3f);
    assert_int_equal(neon_graph_add_conv2d(g, "conv", x, 4, &cp, W, b, &c), NEON_OK);
    const int64_t N = 3, I = 4 * 300 * 300;
    float *a = malloc((size_t)(N * I) * sizeof *a), *R = malloc((size_t)(N * I) * sizeof *R);
    float *Rb = malloc((size_t)(N * I) * sizeof *Rb);
    tu_fill(&rng, a, N * I, 0.0f, 1.0f);
    tu_fill(&rng, R, N * I, -1.0f, 1.0f);
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        neon_rule r = neon_rule_default(kinds[k]);
        r.low = 0;
        r.high = 1;
        neon_rules *rs;
        assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
        assert_int_equal(neon_rules_set_uniform(rs, &r), NEON_OK);
        assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
        neon_rules_destroy(rs);
        neon_tensor xt = {a, 4, {N, 4, 300, 300}}, rel;
        assert_int_equal(neon_graph_forward(g, &xt, NULL), NEON_OK);
        assert_int_equal(neon_graph_relprop(g, R), NEON_OK);
        assert_int_equal(neon_graph_relevance(g, x, &rel), NEON_OK);
        memcpy(Rb, rel.data, (size_t)(N * I) * sizeof *Rb);
        for (int64_t n = 0; n < N; n++) {
            neon_tensor x1 = {a + n * I, 4, {1, 4, 300, 300}};
            assert_int_equal(neon_graph_forward(g, &x1, NULL), NEON_OK);
            assert_int_equal(neon_graph_relprop(g, R + n * I), NEON_OK);
            assert_int_equal(neon_graph_relevance(g, x, &rel), NEON_OK);
            char what[64];
            snprintf(what, sizeof what, "chunked %s sample %lld", neon_rule_name(kinds[k]),
                     (long long)n);
            tu_assert_close(Rb + n * I, rel.data, I, 1e-6, 1e-5, what);
        }
    }
    free(a);
    free(R);
    free(Rb);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lrp0),       cmocka_unit_test(test_epsilon),
        cmocka_unit_test(test_gamma),      cmocka_unit_test(test_gamma_large),
        cmocka_unit_test(test_zplus),      cmocka_unit_test(test_alphabeta),
        cmocka_unit_test(test_alphabeta3), cmocka_unit_test(test_flat),
        cmocka_unit_test(test_wsquare),    cmocka_unit_test(test_zbox),
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_chunked_batches),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
