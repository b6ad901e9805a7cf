/* Pooling: max/avg/global-avg forward against naive references (strides,
 * asymmetric pads, ceil mode, count_include_pad both ways), avg-pool's
 * apply/apply_t for every weight selector, max-pool relevance
 * (winner-take-all with exact ties, the sum-pooling option by hand),
 * avg-pool relevance with the z-rule, and parameter validation. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_impl.h"
#include "neonlrp/rules.h"

typedef struct pool_case {
    const char *what;
    int64_t N, C, H, W;
    neon_pool2d_params p; /* kh kw sh sw pt pl pb pr ceil count_include_pad */
    int64_t Ho, Wo;       /* expected (PyTorch / ONNX) */
} pool_case;

static const pool_case cases[] = {
    {"2x2 default stride", 2, 2, 6, 7, {2, 2, 0, 0, 0, 0, 0, 0, 0, 0}, 3, 3},
    {"3x3 s2 pad1", 1, 3, 7, 8, {3, 3, 2, 2, 1, 1, 1, 1, 0, 0}, 4, 4},
    {"3x3 s2 ceil", 2, 2, 7, 8, {3, 3, 2, 2, 0, 0, 0, 0, 1, 0}, 3, 4},
    {"3x3 s3 pad1 ceil (window past pad)", 1, 2, 6, 6, {3, 3, 3, 3, 1, 1, 1, 1, 1, 0}, 3, 3},
    {"2x2 s2 pad1 ceil (last window dropped)", 1, 1, 5, 5, {2, 2, 2, 2, 1, 1, 1, 1, 1, 0}, 3, 3},
    {"2x3 s(1,2) asym pads", 2, 3, 5, 7, {2, 3, 1, 2, 0, 1, 1, 0, 0, 0}, 5, 3},
    {"2x3 s(1,2) asym pads ceil", 1, 2, 5, 8, {2, 3, 1, 2, 0, 1, 1, 0, 1, 0}, 5, 4},
    {"3x3 s1 pad1 overlapping", 1, 2, 5, 6, {3, 3, 1, 1, 1, 1, 1, 1, 0, 0}, 5, 6},
    {"1x1", 3, 2, 3, 4, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0}, 3, 4},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

/* Window of output (oh, ow): in-image rows [hs, he), columns [ws, we) and
 * the PyTorch divisor (cells up to the padded border when include_pad,
 * else the in-image cells). */
static double naive_window(const pool_case *c, int include_pad, int64_t oh, int64_t ow,
                           int64_t *hs, int64_t *he, int64_t *ws, int64_t *we)
{
    const neon_pool2d_params *p = &c->p;
    const int sh = p->stride_h ? p->stride_h : p->kernel_h;
    const int sw = p->stride_w ? p->stride_w : p->kernel_w;
    *hs = oh * sh - p->pad_top;
    *ws = ow * sw - p->pad_left;
    *he = *hs + p->kernel_h;
    *we = *ws + p->kernel_w;
    if (*he > c->H + p->pad_bottom) *he = c->H + p->pad_bottom;
    if (*we > c->W + p->pad_right) *we = c->W + p->pad_right;
    const int64_t padded = (*he - *hs) * (*we - *ws);
    if (*hs < 0) *hs = 0;
    if (*ws < 0) *ws = 0;
    if (*he > c->H) *he = c->H;
    if (*we > c->W) *we = c->W;
    return (double)(include_pad ? padded : (*he - *hs) * (*we - *ws));
}

/* Output (N, C, Ho, Wo): max (avg = 0) or average (avg = 1) of the window
 * over in-image cells. */
static void naive_pool(const pool_case *c, int avg, int include_pad, const float *x, float *y)
{
    for (int64_t nc = 0; nc < c->N * c->C; nc++)
        for (int64_t oh = 0; oh < c->Ho; oh++)
            for (int64_t ow = 0; ow < c->Wo; ow++) {
                int64_t hs, he, ws, we;
                const double d = naive_window(c, include_pad, oh, ow, &hs, &he, &ws, &we);
                double acc = avg ? 0.0 : -INFINITY;
                for (int64_t ih = hs; ih < he; ih++)
                    for (int64_t iw = ws; iw < we; iw++) {
                        const double v = x[(nc * c->H + ih) * c->W + iw];
                        acc = avg ? acc + v : (v > acc ? v : acc);
                    }
                y[(nc * c->Ho + oh) * c->Wo + ow] = (float)(avg ? acc / d : acc);
            }
}

/* Avg-pool as a linear map with the weights of selector w on each in-image
 * tap: tr == 0: z = A x; tr != 0: c = A^T s. */
static void naive_avg_wsel(const pool_case *c, int include_pad, neon_wsel w, const float *in,
                           float *out, int tr)
{
    if (tr) memset(out, 0, (size_t)(c->N * c->C * c->H * c->W) * sizeof *out);
    for (int64_t nc = 0; nc < c->N * c->C; nc++)
        for (int64_t oh = 0; oh < c->Ho; oh++)
            for (int64_t ow = 0; ow < c->Wo; ow++) {
                int64_t hs, he, ws, we;
                const double d = naive_window(c, include_pad, oh, ow, &hs, &he, &ws, &we);
                const double wt = w == NEON_W_ONES ? 1.0 : w == NEON_W_NEG ? 0.0
                                : w == NEON_W_SQ   ? 1.0 / (d * d) : 1.0 / d;
                const int64_t k = (nc * c->Ho + oh) * c->Wo + ow;
                double acc = 0;
                for (int64_t ih = hs; ih < he; ih++)
                    for (int64_t iw = ws; iw < we; iw++) {
                        const int64_t j = (nc * c->H + ih) * c->W + iw;
                        if (tr) out[j] += (float)(wt * in[k]);
                        else acc += wt * in[j];
                    }
                if (!tr) out[k] = (float)acc;
            }
}

typedef struct built {
    neon_ctx *ctx;
    neon_graph *g;
    int in_id, id;
} built;

static void build(const pool_case *c, int kind, int include_pad, built *B)
{
    B->ctx = tu_ctx();
    assert_int_equal(neon_graph_create(B->ctx, &B->g), NEON_OK);
    const int64_t shape[3] = {c->C, c->H, c->W};
    assert_int_equal(neon_graph_add_input(B->g, "x", 3, shape, &B->in_id), NEON_OK);
    neon_pool2d_params p = c->p;
    p.count_include_pad = include_pad;
    neon_status st = kind == 0 ? neon_graph_add_maxpool2d(B->g, "pool", B->in_id, &p, &B->id)
                     : kind == 1 ? neon_graph_add_avgpool2d(B->g, "pool", B->in_id, &p, &B->id)
                                 : neon_graph_add_global_avgpool(B->g, "pool", B->in_id, &B->id);
    if (st != NEON_OK) print_error("%s: %s\n", c->what, neon_errmsg(B->ctx));
    assert_int_equal(st, NEON_OK);
}

static void unbuild(built *B)
{
    neon_graph_destroy(B->g);
    neon_ctx_destroy(B->ctx);
}

static void check_forward(int avg, int include_pad)
{
    tu_rng rng;
    tu_seed(&rng, 21 + avg * 2 + include_pad);
    for (int t = 0; t < N_CASES; t++) {
        const pool_case *c = &cases[t];
        built B;
        build(c, avg, include_pad, &B);
        const int64_t n_in = c->N * c->C * c->H * c->W, n_out = c->N * c->C * c->Ho * c->Wo;
        float *x = malloc((size_t)n_in * sizeof *x), *ref = malloc((size_t)n_out * sizeof *ref);
        tu_fill(&rng, x, n_in, -2, -0.5f); /* negative: padding must not act as 0 */
        neon_tensor xt = {x, 4, {c->N, c->C, c->H, c->W}}, yt;
        assert_int_equal(neon_graph_forward(B.g, &xt, &yt), NEON_OK);
        if (yt.shape[2] != c->Ho || yt.shape[3] != c->Wo) {
            print_error("%s: output %lldx%lld, expected %lldx%lld\n", c->what,
                        (long long)yt.shape[2], (long long)yt.shape[3], (long long)c->Ho,
                        (long long)c->Wo);
            fail();
        }
        naive_pool(c, avg, include_pad, x, ref);
        tu_assert_close(yt.data, ref, n_out, 1e-6, 1e-5, c->what);
        free(x);
        free(ref);
        unbuild(&B);
    }
}

static void test_maxpool_forward(void **state)
{
    (void)state;
    check_forward(0, 0);
}

static void test_avgpool_forward(void **state)
{
    (void)state;
    check_forward(1, 0);
    check_forward(1, 1);
}

static void test_global_avgpool(void **state)
{
    (void)state;
    const pool_case c = {"global", 2, 3, 4, 5, {0}, 1, 1};
    built B;
    build(&c, 2, 0, &B);
    float x[120], ref[6] = {0};
    for (int i = 0; i < 120; i++) x[i] = (float)(i % 7) - 2.5f;
    for (int i = 0; i < 120; i++) ref[i / 20] += x[i] / 20.0f;
    neon_tensor xt = {x, 4, {2, 3, 4, 5}}, yt;
    assert_int_equal(neon_graph_forward(B.g, &xt, &yt), NEON_OK);
    assert_int_equal(yt.ndim, 4);
    assert_int_equal(yt.shape[1], 3);
    assert_int_equal(yt.shape[2], 1);
    assert_int_equal(yt.shape[3], 1);
    tu_assert_close(yt.data, ref, 6, 1e-6, 1e-5, "global avg");
    unbuild(&B);
    /* (C, L) -> (C, 1) */
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    int id;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    const int64_t s2[2] = {4, 5};
    assert_int_equal(neon_graph_add_input(g, "x", 2, s2, &id), NEON_OK);
    assert_int_equal(neon_graph_add_global_avgpool(g, "gap", id, &id), NEON_OK);
    neon_tensor x2 = {x, 3, {1, 4, 5}}, y2;
    assert_int_equal(neon_graph_forward(g, &x2, &y2), NEON_OK);
    assert_int_equal(y2.ndim, 3);
    assert_int_equal(y2.shape[2], 1);
    for (int k = 0; k < 4; k++) assert_float_equal(y2.data[k], tu_sum(x + 5 * k, 5) / 5, 1e-6);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Avg-pool weight selectors: apply against the reference with the
 * selector's weights (ORIG/POS 1/n, SQ 1/n^2, ONES 1, NEG 0) and apply_t as
 * its transpose, with overwrite and accumulate. */
static void test_avgpool_wsel(void **state)
{
    (void)state;
    tu_rng rng;
    tu_seed(&rng, 31);
    for (int t = 0; t < N_CASES; t++)
        for (int inc = 0; inc < 2; inc++) {
            const pool_case *c = &cases[t];
            built B;
            build(c, 1, inc, &B);
            assert_int_equal(neon_graph_finalize(B.g), NEON_OK);
            neon_node *nd = &B.g->nodes[B.id];
            assert_true(nd->is_linear && !nd->lin.W && !nd->lin.b);
            const int64_t ni = c->N * c->C * c->H * c->W, no = c->N * c->C * c->Ho * c->Wo;
            float *x = malloc((size_t)ni * sizeof *x), *cb = malloc((size_t)ni * sizeof *x);
            float *cr = malloc((size_t)ni * sizeof *x), *z = malloc((size_t)no * sizeof *x);
            float *zr = malloc((size_t)no * sizeof *x), *s = malloc((size_t)no * sizeof *x);
            tu_fill(&rng, x, ni, -1, 1);
            tu_fill(&rng, s, no, -1, 1);
            for (int w = 0; w < NEON_W__COUNT; w++) {
                char what[160];
                snprintf(what, sizeof what, "%s, include_pad %d, wsel %d", c->what, inc, w);
                nd->ops->apply(B.g, nd, (neon_wsel)w, x, z, c->N, NULL);
                naive_avg_wsel(c, inc, (neon_wsel)w, x, zr, 0);
                tu_assert_close(z, zr, no, 1e-6, 1e-5, what);
                for (int64_t i = 0; i < ni; i++) cb[i] = 7.0f;
                nd->ops->apply_t(B.g, nd, (neon_wsel)w, s, cb, c->N, NULL, 0);
                naive_avg_wsel(c, inc, (neon_wsel)w, s, cr, 1);
                tu_assert_close(cb, cr, ni, 1e-6, 1e-5, what);
                nd->ops->apply_t(B.g, nd, (neon_wsel)w, s, cb, c->N, NULL, 1);
                for (int64_t i = 0; i < ni; i++) cr[i] *= 2;
                tu_assert_close(cb, cr, ni, 1e-6, 1e-5, what);
            }
            free(x);
            free(cb);
            free(cr);
            free(z);
            free(zr);
            free(s);
            unbuild(&B);
        }
}

/* Runs forward + relprop with the given max-pool rule (or the default
 * rules when mp == NEON_RULE_AUTO); returns the input relevance view. */
static void run_relprop(built *B, float *x, const int64_t *xshape, const float *R,
                        neon_rule_kind mp, neon_tensor *rv)
{
    neon_tensor xt = {x, 4, {xshape[0], xshape[1], xshape[2], xshape[3]}};
    assert_int_equal(neon_graph_forward(B->g, &xt, NULL), NEON_OK);
    neon_rules *rules = NULL;
    if (mp != NEON_RULE_AUTO) {
        assert_int_equal(neon_rules_create(B->ctx, &rules), NEON_OK);
        assert_int_equal(neon_rules_set_maxpool(rules, mp), NEON_OK);
    }
    assert_int_equal(neon_graph_set_rules(B->g, rules), NEON_OK);
    neon_rules_destroy(rules);
    assert_int_equal(neon_graph_relprop(B->g, R), NEON_OK);
    assert_int_equal(neon_graph_relevance(B->g, B->in_id, rv), NEON_OK);
}

/* Winner takes all on random (distinct) inputs, overlapping windows and
 * padding: each output's relevance lands on its arg-max; conservation. */
static void test_maxpool_wta(void **state)
{
    (void)state;
    tu_rng rng;
    tu_seed(&rng, 41);
    for (int t = 0; t < N_CASES; t++) {
        const pool_case *c = &cases[t];
        built B;
        build(c, 0, 0, &B);
        const int64_t ni = c->N * c->C * c->H * c->W, no = c->N * c->C * c->Ho * c->Wo;
        float *x = malloc((size_t)ni * sizeof *x), *R = malloc((size_t)no * sizeof *x);
        float *ref = calloc((size_t)ni, sizeof *x);
        tu_fill(&rng, x, ni, -1, 1);
        tu_fill(&rng, R, no, 0, 1);
        for (int64_t nc = 0; nc < c->N * c->C; nc++)
            for (int64_t oh = 0; oh < c->Ho; oh++)
                for (int64_t ow = 0; ow < c->Wo; ow++) {
                    int64_t hs, he, ws, we, best = -1;
                    naive_window(c, 0, oh, ow, &hs, &he, &ws, &we);
                    for (int64_t ih = hs; ih < he; ih++)
                        for (int64_t iw = ws; iw < we; iw++) {
                            const int64_t j = (nc * c->H + ih) * c->W + iw;
                            if (best < 0 || x[j] > x[best]) best = j;
                        }
                    ref[best] += R[(nc * c->Ho + oh) * c->Wo + ow];
                }
        const int64_t shape[4] = {c->N, c->C, c->H, c->W};
        neon_tensor rv;
        run_relprop(&B, x, shape, R, NEON_RULE_AUTO, &rv);
        tu_assert_close(rv.data, ref, ni, 1e-6, 1e-5, c->what);
        assert_true(fabs(tu_sum(rv.data, ni) - tu_sum(R, no)) < 1e-4 * (1 + tu_sum(R, no)));
        free(x);
        free(R);
        free(ref);
        unbuild(&B);
    }
}

/* Ties split evenly among the positions equal to the window's max. */
static void test_maxpool_ties(void **state)
{
    (void)state;
    const pool_case c = {"ties", 1, 1, 2, 6, {2, 2, 0, 0, 0, 0, 0, 0, 0, 0}, 1, 3};
    built B;
    build(&c, 0, 0, &B);
    float x[12] = {1, 3, 3, 0, 0, 0, /**/ 3, 2, 0, 0, 0, 0};
    const float R[3] = {1, 2, 4};
    const float ref[12] = {0, 0.5f, 2, 0, 1, 1, /**/ 0.5f, 0, 0, 0, 1, 1};
    const int64_t shape[4] = {1, 1, 2, 6};
    neon_tensor rv;
    run_relprop(&B, x, shape, R, NEON_RULE_WTA, &rv);
    tu_assert_close(rv.data, ref, 12, 1e-7, 1e-6, "ties");
    unbuild(&B);
    /* generic (non-2x2) windows: kernel 2x3, stride 3: a 3-way and a 6-way tie */
    const pool_case c3 = {"ties 2x3", 1, 1, 2, 6, {2, 3, 0, 0, 0, 0, 0, 0, 0, 0}, 1, 2};
    build(&c3, 0, 0, &B);
    const float R3[2] = {3, 6};
    const float ref3[12] = {0, 1, 1, 1, 1, 1, /**/ 1, 0, 0, 1, 1, 1};
    run_relprop(&B, x, shape, R3, NEON_RULE_WTA, &rv);
    tu_assert_close(rv.data, ref3, 12, 1e-7, 1e-6, "ties 2x3");
    unbuild(&B);
}

/* Sum-pooling option by hand: R_j = a_j sum_k R_k / stab(sum of window k),
 * padded cells absent, stab(z) = z + 1e-6 sgn(z). */
static void test_maxpool_sumpool(void **state)
{
    (void)state;
    const double e = 1e-6;
    { /* (1,1,3), kernel 1x2 stride 1: windows {1,2}, {2,3} */
        const pool_case c = {"sum", 1, 1, 1, 3, {1, 2, 1, 1, 0, 0, 0, 0, 0, 0}, 1, 2};
        built B;
        build(&c, 0, 0, &B);
        float x[3] = {1, 2, 3};
        const float R[2] = {1, 1};
        const float ref[3] = {(float)(1 / (3 + e)), (float)(2 / (3 + e) + 2 / (5 + e)),
                              (float)(3 / (5 + e))};
        const int64_t shape[4] = {1, 1, 1, 3};
        neon_tensor rv;
        run_relprop(&B, x, shape, R, NEON_RULE_SUMPOOL, &rv);
        tu_assert_close(rv.data, ref, 3, 1e-7, 1e-6, "sumpool");
        unbuild(&B);
    }
    { /* left pad 1: windows {pad, 2}, {2, -1}; then a negative window sum */
        const pool_case c = {"sum pad", 2, 1, 1, 2, {1, 2, 1, 1, 0, 1, 0, 0, 0, 0}, 1, 2};
        built B;
        build(&c, 0, 0, &B);
        float x[4] = {2, -1, -2, -1};
        const float R[4] = {1, 1, 0.5f, 2};
        const float ref[4] = {(float)(2 / (2 + e) + 2 / (1 + e)), (float)(-1 / (1 + e)),
                              (float)(-2 * 0.5 / (-2 - e) + -2 * 2 / (-3 - e)),
                              (float)(-1 * 2 / (-3 - e))};
        const int64_t shape[4] = {2, 1, 1, 2};
        neon_tensor rv;
        run_relprop(&B, x, shape, R, NEON_RULE_SUMPOOL, &rv);
        tu_assert_close(rv.data, ref, 4, 1e-7, 1e-6, "sumpool pad");
        unbuild(&B);
    }
}

/* Avg-pool under the default rules (z-rule): R_j = a_j sum_k (1/n_k) R_k /
 * stab(z_k), conservative for positive inputs, both divisor conventions. */
static void test_avgpool_relprop(void **state)
{
    (void)state;
    tu_rng rng;
    tu_seed(&rng, 51);
    for (int t = 0; t < N_CASES; t++)
        for (int inc = 0; inc < 2; inc++) {
            const pool_case *c = &cases[t];
            built B;
            build(c, 1, inc, &B);
            const int64_t ni = c->N * c->C * c->H * c->W, no = c->N * c->C * c->Ho * c->Wo;
            float *x = malloc((size_t)ni * sizeof *x), *R = malloc((size_t)no * sizeof *x);
            float *z = malloc((size_t)no * sizeof *x), *ref = malloc((size_t)ni * sizeof *x);
            tu_fill(&rng, x, ni, 0.1f, 1);
            tu_fill(&rng, R, no, 0, 1);
            naive_pool(c, 1, inc, x, z);
            for (int64_t k = 0; k < no; k++) z[k] = (float)(R[k] / (z[k] + 1e-6));
            naive_avg_wsel(c, inc, NEON_W_ORIG, z, ref, 1);
            for (int64_t j = 0; j < ni; j++) ref[j] *= x[j];
            const int64_t shape[4] = {c->N, c->C, c->H, c->W};
            neon_tensor rv;
            run_relprop(&B, x, shape, R, NEON_RULE_AUTO, &rv);
            tu_assert_close(rv.data, ref, ni, 1e-6, 1e-5, c->what);
            assert_true(fabs(tu_sum(rv.data, ni) - tu_sum(R, no)) < 1e-4 * (1 + tu_sum(R, no)));
            free(x);
            free(R);
            free(z);
            free(ref);
            unbuild(&B);
        }
}

static void expect_fail(neon_status st, neon_status want, neon_ctx *ctx, const char *needle)
{
    assert_int_equal(st, want);
    if (!strstr(neon_errmsg(ctx), needle)) {
        print_error("message '%s' lacks '%s'\n", neon_errmsg(ctx), needle);
        fail();
    }
}

static void test_errors_describe(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    const int64_t shape[3] = {2, 5, 5}, flat[1] = {10};
    int in, in1, id;
    assert_int_equal(neon_graph_add_input(g, "x", 3, shape, &in), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "v", 1, flat, &in1), NEON_OK);
    neon_pool2d_params p = {2, 2, 0, 0, 2, 0, 0, 0, 0, 0};
    expect_fail(neon_graph_add_maxpool2d(g, "p_pad", in, &p, &id), NEON_ERR_INVALID, ctx, "p_pad");
    p = (neon_pool2d_params){0, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_fail(neon_graph_add_avgpool2d(g, "p_k0", in, &p, &id), NEON_ERR_INVALID, ctx, "p_k0");
    p = (neon_pool2d_params){6, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_fail(neon_graph_add_maxpool2d(g, "p_big", in, &p, &id), NEON_ERR_SHAPE, ctx, "p_big");
    assert_non_null(strstr(neon_errmsg(ctx), "(2, 5, 5)"));
    p = (neon_pool2d_params){2, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_fail(neon_graph_add_avgpool2d(g, "p_flat", in1, &p, &id), NEON_ERR_SHAPE, ctx,
                "p_flat");
    expect_fail(neon_graph_add_global_avgpool(g, "g_flat", in1, &id), NEON_ERR_SHAPE, ctx,
                "g_flat");
    expect_fail(neon_graph_add_maxpool2d(g, "p_null", in, NULL, &id), NEON_ERR_INVALID, ctx,
                "p_null");
    assert_int_equal(neon_graph_num_nodes(g), 2);
    p = (neon_pool2d_params){3, 3, 2, 2, 1, 1, 1, 1, 1, 1};
    assert_int_equal(neon_graph_add_avgpool2d(g, "ok", in, &p, &id), NEON_OK);
    neon_node_info info;
    assert_int_equal(neon_graph_node_info(g, id, &info), NEON_OK);
    assert_string_equal(info.kind, "avgpool2d");
    assert_non_null(strstr(info.detail, "kernel 3x3, stride 2x2, pads (1,1,1,1), ceil"));
    assert_non_null(strstr(info.detail, "count_include_pad"));
    assert_int_equal(info.n_params, 0);
    p = (neon_pool2d_params){2, 2, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_int_equal(neon_graph_add_maxpool2d(g, "mp", in, &p, &id), NEON_OK);
    assert_int_equal(neon_graph_node_info(g, id, &info), NEON_OK);
    assert_string_equal(info.kind, "maxpool2d");
    assert_non_null(strstr(info.detail, "kernel 2x2, stride 2x2"));
    assert_int_equal(info.shape[1], 2);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_maxpool_forward),
        cmocka_unit_test(test_avgpool_forward),
        cmocka_unit_test(test_global_avgpool),
        cmocka_unit_test(test_avgpool_wsel),
        cmocka_unit_test(test_maxpool_wta),
        cmocka_unit_test(test_maxpool_ties),
        cmocka_unit_test(test_maxpool_sumpool),
        cmocka_unit_test(test_avgpool_relprop),
        cmocka_unit_test(test_errors_describe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
