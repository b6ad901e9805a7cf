/* conv2d: forward against a direct 7-loop convolution for many shapes
 * (strides, asymmetric padding, dilation, groups, depthwise, 1x1, batch,
 * the tiled and the batched im2col paths), apply/apply_t for every weight
 * selector against the reference and as exact transposes, parameter
 * validation, and relevance through the engine. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_impl.h"
#include "neonlrp/rules.h"

typedef struct conv_case {
    const char *what;
    int64_t N, C, H, W, c_out;
    neon_conv2d_params p; /* kh kw sh sw pt pl pb pr dh dw groups */
} conv_case;

static const conv_case cases[] = {
    {"3x3 pad1", 1, 3, 8, 9, 4, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"3x3 stride2 asym pads", 1, 2, 9, 8, 3, {3, 3, 2, 2, 0, 1, 2, 0, 1, 1, 1}},
    {"2x3 stride3", 2, 3, 10, 11, 5, {2, 3, 3, 3, 1, 0, 0, 2, 1, 1, 1}},
    {"3x2 stride (1,2) pads (2,0,1,1)", 1, 2, 7, 9, 3, {3, 2, 1, 2, 2, 0, 1, 1, 1, 1, 1}},
    {"3x3 dilation2 pad2", 1, 3, 9, 10, 4, {3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1}},
    {"3x3 dilation (2,1) stride2", 2, 2, 11, 8, 3, {3, 3, 2, 2, 1, 0, 1, 1, 2, 1, 1}},
    {"groups2", 1, 4, 7, 7, 6, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 2}},
    {"groups2 stride2 batch3", 3, 6, 8, 6, 4, {3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 2}},
    {"depthwise", 1, 4, 6, 7, 4, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4}},
    {"depthwise x2 stride2 dil2", 2, 3, 9, 9, 6, {3, 3, 2, 2, 2, 1, 2, 1, 2, 2, 3}},
    {"1 input channel", 2, 1, 7, 8, 5, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"1x1", 1, 5, 6, 7, 7, {1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}},
    {"1x1 batch3 groups", 3, 4, 5, 5, 6, {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 2}},
    {"1x1 stride2 pad1", 1, 3, 6, 7, 2, {1, 1, 2, 2, 1, 1, 1, 0, 1, 1, 1}},
    {"batch3 3x3", 3, 3, 6, 5, 4, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"5x5 kernel = input", 2, 2, 5, 5, 3, {5, 5, 1, 1, 0, 0, 0, 0, 1, 1, 1}},
    {"tiled rows (large)", 1, 16, 64, 64, 8, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
    {"tiled rows stride2 batch2", 2, 32, 130, 61, 4, {3, 3, 2, 2, 0, 1, 1, 0, 1, 1, 1}},
    {"batched chunks 2+1", 3, 8, 53, 53, 4, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
};
#define N_CASES (int)(sizeof cases / sizeof cases[0])

static int norm(int v, int dflt) { return v ? v : dflt; }

static void out_dims(const conv_case *c, int64_t *ho, int64_t *wo)
{
    const neon_conv2d_params *p = &c->p;
    const int dh = norm(p->dilation_h, 1), dw = norm(p->dilation_w, 1);
    *ho = (c->H + p->pad_top + p->pad_bottom - dh * (p->kernel_h - 1) - 1) / norm(p->stride_h, 1) + 1;
    *wo = (c->W + p->pad_left + p->pad_right - dw * (p->kernel_w - 1) - 1) / norm(p->stride_w, 1) + 1;
}

/* Direct convolution: z (N, c_out, Ho, Wo) = conv(x (N, C, H, W)), no bias.
 * tr != 0: x (+)= conv^T(z) instead (x is zeroed first). */
static void naive_conv(const conv_case *c, const float *Wt, const float *xin, float *z,
                       float *xout, int tr)
{
    const neon_conv2d_params *p = &c->p;
    const int G = norm(p->groups, 1), sh = norm(p->stride_h, 1), sw = norm(p->stride_w, 1);
    const int dh = norm(p->dilation_h, 1), dw = norm(p->dilation_w, 1);
    const int64_t cig = c->C / G, cog = c->c_out / G;
    int64_t Ho, Wo;
    out_dims(c, &Ho, &Wo);
    if (tr) memset(xout, 0, (size_t)(c->N * c->C * c->H * c->W) * sizeof *xout);
    for (int64_t n = 0; n < c->N; n++)
        for (int64_t co = 0; co < c->c_out; co++)
            for (int64_t oh = 0; oh < Ho; oh++)
                for (int64_t ow = 0; ow < Wo; ow++) {
                    double acc = 0;
                    const int64_t zi = ((n * c->c_out + co) * Ho + oh) * Wo + ow;
                    for (int64_t ci = 0; ci < cig; ci++)
                        for (int ki = 0; ki < p->kernel_h; ki++)
                            for (int kj = 0; kj < p->kernel_w; kj++) {
                                const int64_t ih = oh * sh - p->pad_top + ki * dh;
                                const int64_t iw = ow * sw - p->pad_left + kj * dw;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                const int64_t cin = (co / cog) * cig + ci;
                                const int64_t xi = ((n * c->C + cin) * c->H + ih) * c->W + iw;
                                const float w =
                                    Wt[((co * cig + ci) * p->kernel_h + ki) * p->kernel_w + kj];
                                if (tr)
                                    xout[xi] += w * z[zi];
                                else
                                    acc += (double)w * xin[xi];
                            }
                    if (!tr) z[zi] = (float)acc;
                }
}

typedef struct built {
    neon_ctx *ctx;
    neon_graph *g;
    int in_id, id;
    int64_t n_in, n_out, n_w; /* per batch / weights */
    float *x, *W, *b;
} built;

static void build(const conv_case *c, tu_rng *rng, int bias, float wlo, built *B)
{
    memset(B, 0, sizeof *B);
    B->ctx = tu_ctx();
    assert_int_equal(neon_graph_create(B->ctx, &B->g), NEON_OK);
    const int64_t shape[3] = {c->C, c->H, c->W};
    assert_int_equal(neon_graph_add_input(B->g, "x", 3, shape, &B->in_id), NEON_OK);
    int64_t Ho, Wo;
    out_dims(c, &Ho, &Wo);
    B->n_w = c->c_out * (c->C / norm(c->p.groups, 1)) * c->p.kernel_h * c->p.kernel_w;
    B->n_in = c->N * c->C * c->H * c->W;
    B->n_out = c->N * c->c_out * Ho * Wo;
    B->W = malloc((size_t)B->n_w * sizeof(float));
    B->b = malloc((size_t)c->c_out * sizeof(float));
    B->x = malloc((size_t)B->n_in * sizeof(float));
    tu_fill(rng, B->W, B->n_w, wlo, 1);
    tu_fill(rng, B->b, c->c_out, -0.5f, 0.5f);
    tu_fill(rng, B->x, B->n_in, wlo, 1);
    assert_int_equal(neon_graph_add_conv2d(B->g, "conv", B->in_id, c->c_out, &c->p, B->W,
                                           bias ? B->b : NULL, &B->id),
                     NEON_OK);
}

static void unbuild(built *B)
{
    neon_graph_destroy(B->g);
    neon_ctx_destroy(B->ctx);
    free(B->W);
    free(B->b);
    free(B->x);
}

static void test_forward(void **state)
{
    (void)state;
    tu_rng rng;
    tu_seed(&rng, 11);
    for (int t = 0; t < N_CASES; t++) {
        const conv_case *c = &cases[t];
        built B;
        build(c, &rng, 1, -1, &B);
        neon_tensor xt = {B.x, 4, {c->N, c->C, c->H, c->W}}, yt;
        assert_int_equal(neon_graph_forward(B.g, &xt, &yt), NEON_OK);
        int64_t Ho, Wo;
        out_dims(c, &Ho, &Wo);
        assert_int_equal(yt.ndim, 4);
        assert_int_equal(yt.shape[1], c->c_out);
        assert_int_equal(yt.shape[2], Ho);
        assert_int_equal(yt.shape[3], Wo);
        float *ref = malloc((size_t)B.n_out * sizeof *ref);
        naive_conv(c, B.W, B.x, ref, NULL, 0);
        for (int64_t i = 0; i < B.n_out; i++) ref[i] += B.b[(i / (Ho * Wo)) % c->c_out];
        tu_assert_close(yt.data, ref, B.n_out, 1e-5, 1e-4, c->what);
        free(ref);
        unbuild(&B);
    }
}

static void transform(const float *W, int64_t n, neon_wsel w, float *out)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = w == NEON_W_ORIG ? W[i]
                 : w == NEON_W_POS ? (W[i] > 0 ? W[i] : 0.0f)
                 : w == NEON_W_SQ  ? W[i] * W[i]
                 : w == NEON_W_NEG ? (W[i] < 0 ? W[i] : 0.0f)
                                   : 1.0f;
}

static double dot(const float *a, const float *b, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* apply / apply_t for every selector: against the reference, as exact
 * transposes (<apply(x), s> == <x, apply_t(s)>), and the accumulate flag. */
static void test_apply_wsel(void **state)
{
    (void)state;
    tu_rng rng;
    tu_seed(&rng, 12);
    for (int t = 0; t < N_CASES; t++) {
        const conv_case *c = &cases[t];
        built B;
        build(c, &rng, 0, -1, &B);
        neon_tensor xt = {B.x, 4, {c->N, c->C, c->H, c->W}};
        assert_int_equal(neon_graph_forward(B.g, &xt, NULL), NEON_OK); /* finalizes */
        neon_node *nd = &B.g->nodes[B.id];
        const size_t wsz = nd->ops->workspace_size(nd, c->N);
        float *ws = malloc((wsz + 1) * sizeof *ws);
        float *Wsel[NEON_W__COUNT];
        float *z = malloc((size_t)B.n_out * sizeof *z), *zr = malloc((size_t)B.n_out * sizeof *zr);
        float *s = malloc((size_t)B.n_out * sizeof *s);
        float *cb = malloc((size_t)B.n_in * sizeof *cb), *cr = malloc((size_t)B.n_in * sizeof *cr);
        tu_fill(&rng, s, B.n_out, -1, 1);
        for (int w = 0; w < NEON_W__COUNT; w++) {
            Wsel[w] = malloc((size_t)B.n_w * sizeof(float));
            transform(B.W, B.n_w, (neon_wsel)w, Wsel[w]);
            if (w) nd->lin.Wt[w] = Wsel[w];
        }
        for (int w = 0; w < NEON_W__COUNT; w++) {
            char what[128];
            snprintf(what, sizeof what, "%s, wsel %d", c->what, w);
            nd->ops->apply(B.g, nd, (neon_wsel)w, B.x, z, c->N, ws);
            naive_conv(c, Wsel[w], B.x, zr, NULL, 0);
            tu_assert_close(z, zr, B.n_out, 1e-5, 1e-4, what);
            for (int64_t i = 0; i < B.n_in; i++) cb[i] = 123.0f; /* overwritten */
            nd->ops->apply_t(B.g, nd, (neon_wsel)w, s, cb, c->N, ws, 0);
            naive_conv(c, Wsel[w], NULL, s, cr, 1);
            tu_assert_close(cb, cr, B.n_in, 1e-5, 1e-4, what);
            const double lhs = dot(z, s, B.n_out), rhs = dot(B.x, cb, B.n_in);
            if (fabs(lhs - rhs) > 1e-4 * (1 + fabs(lhs))) {
                print_error("%s: <Ax,s> = %.9g but <x,A^T s> = %.9g\n", what, lhs, rhs);
                fail();
            }
            /* accumulate: c = 1 + A^T s */
            for (int64_t i = 0; i < B.n_in; i++) cb[i] = 1.0f;
            nd->ops->apply_t(B.g, nd, (neon_wsel)w, s, cb, c->N, ws, 1);
            for (int64_t i = 0; i < B.n_in; i++) cr[i] += 1.0f;
            tu_assert_close(cb, cr, B.n_in, 1e-5, 1e-4, what);
        }
        for (int w = 1; w < NEON_W__COUNT; w++) nd->lin.Wt[w] = NULL;
        for (int w = 0; w < NEON_W__COUNT; w++) free(Wsel[w]);
        free(ws);
        free(z);
        free(zr);
        free(s);
        free(cb);
        free(cr);
        unbuild(&B);
    }
}

/* ONES counts only taps inside the image: a 3x3 pad-1 conv of ones gives
 * 4 in corners, 6 on edges, 9 inside (per input channel). */
static void test_ones_counts_taps(void **state)
{
    (void)state;
    const conv_case c = {"ones", 1, 2, 4, 5, 1, {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}};
    tu_rng rng;
    tu_seed(&rng, 13);
    built B;
    build(&c, &rng, 0, -1, &B);
    assert_int_equal(neon_graph_finalize(B.g), NEON_OK);
    neon_node *nd = &B.g->nodes[B.id];
    float ones_w[18], x[40], z[20], ws[4096];
    for (int i = 0; i < 18; i++) ones_w[i] = 1.0f;
    for (int i = 0; i < 40; i++) x[i] = 1.0f;
    assert_true(nd->ops->workspace_size(nd, 1) <= 4096);
    nd->lin.Wt[NEON_W_ONES] = ones_w;
    nd->ops->apply(B.g, nd, NEON_W_ONES, x, z, 1, ws);
    nd->lin.Wt[NEON_W_ONES] = NULL;
    const float expect[20] = {8, 12, 12, 12, 8, 12, 18, 18, 18, 12,
                              12, 18, 18, 18, 12, 8, 12, 12, 12, 8};
    tu_assert_close(z, expect, 20, 0, 1e-6, "ones taps");
    unbuild(&B);
}

static void expect_fail(neon_status st, neon_status want, neon_ctx *ctx, const char *needle)
{
    assert_int_equal(st, want);
    if (!strstr(neon_errmsg(ctx), needle)) {
        print_error("message '%s' lacks '%s'\n", neon_errmsg(ctx), needle);
        fail();
    }
}

static void test_errors(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    const int64_t shape[3] = {4, 5, 5}, flat[1] = {100};
    int in, in1, id;
    assert_int_equal(neon_graph_add_input(g, "x", 3, shape, &in), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "v", 1, flat, &in1), NEON_OK);
    float W[4 * 4 * 7 * 7] = {0};
    neon_conv2d_params p = {3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 3};
    expect_fail(neon_graph_add_conv2d(g, "c_groups", in, 6, &p, W, NULL, &id), NEON_ERR_INVALID,
                ctx, "c_groups");
    assert_non_null(strstr(neon_errmsg(ctx), "groups 3"));
    p.groups = 2;
    expect_fail(neon_graph_add_conv2d(g, "c_gout", in, 3, &p, W, NULL, &id), NEON_ERR_INVALID,
                ctx, "c_gout");
    p = (neon_conv2d_params){7, 7, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    expect_fail(neon_graph_add_conv2d(g, "c_big", in, 2, &p, W, NULL, &id), NEON_ERR_SHAPE, ctx,
                "c_big");
    assert_non_null(strstr(neon_errmsg(ctx), "(4, 5, 5)"));
    p = (neon_conv2d_params){3, 3, 1, 1, 0, 0, 0, 0, 3, 3, 1}; /* span 7 > 5 */
    expect_fail(neon_graph_add_conv2d(g, "c_dil", in, 2, &p, W, NULL, &id), NEON_ERR_SHAPE, ctx,
                "c_dil");
    p = (neon_conv2d_params){0, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    expect_fail(neon_graph_add_conv2d(g, "c_k0", in, 2, &p, W, NULL, &id), NEON_ERR_INVALID, ctx,
                "c_k0");
    p = (neon_conv2d_params){3, 3, 1, 1, -1, 0, 0, 0, 1, 1, 1};
    expect_fail(neon_graph_add_conv2d(g, "c_pad", in, 2, &p, W, NULL, &id), NEON_ERR_INVALID, ctx,
                "c_pad");
    p = (neon_conv2d_params){3, 3, 1, 1, 0, 0, 0, 0, 1, 1, 1};
    expect_fail(neon_graph_add_conv2d(g, "c_nw", in, 2, &p, NULL, NULL, &id), NEON_ERR_INVALID,
                ctx, "c_nw");
    expect_fail(neon_graph_add_conv2d(g, "c_flat", in1, 2, &p, W, NULL, &id), NEON_ERR_SHAPE, ctx,
                "c_flat");
    /* the graph is unchanged by the failures; a valid node still works */
    assert_int_equal(neon_graph_num_nodes(g), 2);
    p.stride_h = 2;
    p.pad_top = 1;
    assert_int_equal(neon_graph_add_conv2d(g, "ok", in, 2, &p, W, W, &id), NEON_OK);
    neon_node_info info;
    assert_int_equal(neon_graph_node_info(g, id, &info), NEON_OK);
    assert_string_equal(info.kind, "conv2d");
    assert_non_null(strstr(info.detail, "kernel 3x3"));
    assert_non_null(strstr(info.detail, "stride 2x1"));
    assert_non_null(strstr(info.detail, "pads (1,0,0,0)"));
    assert_int_equal(info.shape[1], 2);
    assert_int_equal(info.shape[2], 3);
    assert_int_equal(info.n_params, 2 * 4 * 9 + 2);
    assert_int_equal(info.flops, 2 * (2 * 4 * 9) * 6);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Relevance through the engine: LRP-0 on a bias-free conv conserves, and
 * flat gives R_j = sum_k R_k / n_k over the taps that exist. */
static void test_relprop(void **state)
{
    (void)state;
    tu_rng rng;
    tu_seed(&rng, 14);
    const conv_case c = {"relprop", 3, 4, 9, 8, 6, {3, 3, 2, 1, 1, 2, 0, 1, 1, 2, 2}};
    built B;
    build(&c, &rng, 0, 0.05f, &B); /* positive: z bounded away from 0 */
    neon_tensor xt = {B.x, 4, {c.N, c.C, c.H, c.W}};
    assert_int_equal(neon_graph_forward(B.g, &xt, NULL), NEON_OK);
    float *R = malloc((size_t)B.n_out * sizeof *R);
    tu_fill(&rng, R, B.n_out, 0, 1);
    neon_rules *rules;
    assert_int_equal(neon_rules_create(B.ctx, &rules), NEON_OK);
    neon_rule r0 = neon_rule_default(NEON_RULE_LRP0);
    r0.stabilizer = 1e-9f;
    assert_int_equal(neon_rules_set_uniform(rules, &r0), NEON_OK);
    assert_int_equal(neon_graph_set_rules(B.g, rules), NEON_OK);
    assert_int_equal(neon_graph_relprop(B.g, R), NEON_OK);
    neon_tensor rv;
    assert_int_equal(neon_graph_relevance(B.g, B.in_id, &rv), NEON_OK);
    const int64_t per_in = B.n_in / c.N, per_out = B.n_out / c.N;
    for (int64_t n = 0; n < c.N; n++) {
        const double a = tu_sum(rv.data + n * per_in, per_in), e = tu_sum(R + n * per_out, per_out);
        assert_true(fabs(a - e) < 1e-3 * (1 + fabs(e)));
    }
    /* flat: R_j = sum_k R_k / n_k, n_k = in-image taps of output k */
    neon_rule rf = neon_rule_default(NEON_RULE_FLAT);
    rf.stabilizer = 1e-9f;
    assert_int_equal(neon_rules_set_uniform(rules, &rf), NEON_OK);
    assert_int_equal(neon_graph_set_rules(B.g, rules), NEON_OK);
    assert_int_equal(neon_graph_relprop(B.g, R), NEON_OK);
    assert_int_equal(neon_graph_relevance(B.g, B.in_id, &rv), NEON_OK);
    float *ones = malloc((size_t)B.n_w * sizeof *ones), *xo = malloc((size_t)B.n_in * sizeof *xo);
    float *nk = malloc((size_t)B.n_out * sizeof *nk), *ref = malloc((size_t)B.n_in * sizeof *ref);
    for (int64_t i = 0; i < B.n_w; i++) ones[i] = 1.0f;
    for (int64_t i = 0; i < B.n_in; i++) xo[i] = 1.0f;
    naive_conv(&c, ones, xo, nk, NULL, 0);
    for (int64_t i = 0; i < B.n_out; i++) nk[i] = R[i] / nk[i];
    naive_conv(&c, ones, NULL, nk, ref, 1);
    tu_assert_close(rv.data, ref, B.n_in, 1e-6, 1e-4, "flat");
    neon_rules_destroy(rules);
    free(R);
    free(ones);
    free(xo);
    free(nk);
    free(ref);
    unbuild(&B);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),        cmocka_unit_test(test_apply_wsel),
        cmocka_unit_test(test_ones_counts_taps), cmocka_unit_test(test_errors),
        cmocka_unit_test(test_relprop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
