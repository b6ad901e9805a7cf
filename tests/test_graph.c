/* Graph-level properties: LRP-0 == gradient x input, batched == per-sample,
 * BN folding, residual/concat conservation, the log-odds head, and the
 * error paths of the explain API. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/rules.h"

/* x(1,8,8) -> conv 4 3x3 p1 -> relu -> maxpool 2 -> conv 6 3x3 p1 -> relu
 *  -> avgpool 2 -> flatten -> dense 5 -> relu -> dense 3 */
static neon_graph *small_cnn(neon_ctx *ctx, tu_rng *r, int with_bn)
{
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int id;
    const int64_t shp[3] = {1, 8, 8};
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &id), NEON_OK);
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    float *w1 = tu_rnd(r, 4 * 9, -0.6f, 0.6f), *b1 = tu_rnd(r, 4, -0.1f, 0.1f);
    float *w2 = tu_rnd(r, 6 * 4 * 9, -0.4f, 0.4f), *b2 = tu_rnd(r, 6, -0.1f, 0.1f);
    float *w3 = tu_rnd(r, 5 * 24, -0.5f, 0.5f), *b3 = tu_rnd(r, 5, -0.1f, 0.1f);
    float *w4 = tu_rnd(r, 3 * 5, -1, 1), *b4 = tu_rnd(r, 3, -0.1f, 0.1f);
    assert_int_equal(neon_graph_add_conv2d(g, "conv1", id, 4, &cp, w1, b1, &id), NEON_OK);
    if (with_bn) {
        float sc[4] = {1.2f, 0.8f, 1.0f, 0.5f}, bi[4] = {0.1f, -0.1f, 0, 0.2f};
        float mu[4] = {0.05f, -0.02f, 0.1f, 0}, va[4] = {0.9f, 1.1f, 0.5f, 2.0f};
        assert_int_equal(neon_graph_add_batchnorm(g, "bn1", id, sc, bi, mu, va, 1e-5f, &id), NEON_OK);
    }
    assert_int_equal(neon_graph_add_relu(g, "relu1", id, &id), NEON_OK);
    neon_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    assert_int_equal(neon_graph_add_maxpool2d(g, "pool1", id, &pp, &id), NEON_OK);
    assert_int_equal(neon_graph_add_conv2d(g, "conv2", id, 6, &cp, w2, b2, &id), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "relu2", id, &id), NEON_OK);
    assert_int_equal(neon_graph_add_avgpool2d(g, "pool2", id, &pp, &id), NEON_OK);
    const int64_t flat[1] = {24};
    assert_int_equal(neon_graph_add_reshape(g, "flatten", id, 1, flat, &id), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "fc1", id, 5, w3, b3, &id), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "relu3", id, &id), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "fc2", id, 3, w4, b4, &id), NEON_OK);
    free(w1); free(b1); free(w2); free(b2); free(w3); free(b3); free(w4); free(b4);
    return g;
}

static double f_of(neon_graph *g, const float *x, int target)
{
    neon_tensor xt = {(float *)x, 4, {1, 1, 8, 8}}, y;
    assert_int_equal(neon_graph_forward(g, &xt, &y), NEON_OK);
    return y.data[target];
}

static void test_lrp0_is_gradient_x_input(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 5);
    neon_graph *g = small_cnn(ctx, &r, 0);
    tu_set_uniform(ctx, g, NEON_RULE_LRP0);
    float x[64], R[64], xp[64];
    tu_fill(&r, x, 64, 0.0f, 1.0f);
    neon_tensor xt = {x, 4, {1, 1, 8, 8}}, Rt = {R, 4, {1, 1, 8, 8}};
    const int target = 1;
    neon_explain_opts o = {NEON_INIT_VALUE, NEON_HEAD_LOGIT}; /* R_out = f(x) */
    neon_explain_result res;
    assert_int_equal(neon_graph_explain(g, &xt, &target, &o, &Rt, &res), NEON_OK);
    const double h = 1e-3;
    int checked = 0;
    for (int i = 0; i < 64; i++) {
        memcpy(xp, x, sizeof x);
        xp[i] = x[i] + (float)h;
        double fp = f_of(g, xp, target);
        xp[i] = x[i] - (float)h;
        double fm = f_of(g, xp, target);
        double gx = x[i] * (fp - fm) / (2 * h);
        if (fabs(gx - R[i]) > 2e-3 + 2e-2 * fabs(gx))
            fail_msg("pixel %d: LRP-0 %.6g vs gradient x input %.6g", i, (double)R[i], gx);
        checked++;
    }
    assert_int_equal(checked, 64);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

static void explain_cfg(neon_ctx *ctx, neon_graph *g, const char *comp, neon_head head,
                        const float *x, int64_t N, const int *tg, float *R, neon_explain_result *res)
{
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    assert_int_equal(neon_rules_set_composite(rs, comp), NEON_OK);
    assert_int_equal(neon_rules_set_bounds(rs, 0.0f, 1.0f), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
    neon_rules_destroy(rs);
    neon_tensor xt = {(float *)x, 4, {N, 1, 8, 8}}, Rt = {R, 4, {N, 1, 8, 8}};
    neon_explain_opts o = {NEON_INIT_VALUE, head};
    assert_int_equal(neon_graph_explain(g, &xt, tg, &o, &Rt, res), NEON_OK);
}

static void test_batched_equals_per_sample(void **s)
{
    (void)s;
    const char *comps[] = {"epsilon-gamma-box", "epsilon-plus", "epsilon-plus-flat",
                           "epsilon-alpha2-beta1", "epsilon-alpha2-beta1-flat"};
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 9);
    neon_graph *g = small_cnn(ctx, &r, 1);
    enum { N = 5 };
    float x[N * 64], Rb[N * 64], R1[64];
    tu_fill(&r, x, N * 64, 0.0f, 1.0f);
    int tg[N] = {0, 1, 2, NEON_TARGET_ARGMAX, 1};
    for (int head = 0; head < 2; head++)
        for (size_t c = 0; c < 5; c++) {
            neon_explain_result rb[N], r1;
            explain_cfg(ctx, g, comps[c], (neon_head)head, x, N, tg, Rb, rb);
            for (int n = 0; n < N; n++) {
                explain_cfg(ctx, g, comps[c], (neon_head)head, x + 64 * n, 1, &tg[n], R1, &r1);
                char what[96];
                snprintf(what, sizeof what, "%s head %d sample %d", comps[c], head, n);
                tu_assert_close(Rb + 64 * n, R1, 64, 1e-6, 1e-4, what);
                assert_int_equal(rb[n].target, r1.target);
                assert_true(fabsf(rb[n].score - r1.score) <= 1e-5f * (1 + fabsf(r1.score)));
            }
        }
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

static void test_bn_folding_keeps_forward(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r1, r2;
    tu_seed(&r1, 3);
    tu_seed(&r2, 3);
    neon_graph *gb = small_cnn(ctx, &r1, 1);
    /* reference: same weights, BN applied by hand after conv1 of an unfolded copy */
    neon_graph *ga = small_cnn(ctx, &r2, 0);
    float x[2 * 64];
    tu_fill(&r1, x, 128, 0.0f, 1.0f);
    neon_tensor xt = {x, 4, {2, 1, 8, 8}}, ya, yb;
    assert_int_equal(neon_graph_forward(ga, &xt, &ya), NEON_OK);
    neon_tensor c1;
    assert_int_equal(neon_graph_activation(ga, neon_graph_find(ga, "conv1"), &c1), NEON_OK);
    float sc[4] = {1.2f, 0.8f, 1.0f, 0.5f}, bi[4] = {0.1f, -0.1f, 0, 0.2f};
    float mu[4] = {0.05f, -0.02f, 0.1f, 0}, va[4] = {0.9f, 1.1f, 0.5f, 2.0f};
    float expect[2 * 4 * 64];
    for (int n = 0; n < 2; n++)
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 64; i++) {
                int k = (n * 4 + c) * 64 + i;
                expect[k] = (c1.data[k] - mu[c]) / sqrtf(va[c] + 1e-5f) * sc[c] + bi[c];
            }
    assert_int_equal(neon_graph_forward(gb, &xt, &yb), NEON_OK);
    neon_tensor bn;
    assert_int_equal(neon_graph_activation(gb, neon_graph_find(gb, "bn1"), &bn), NEON_OK);
    tu_assert_close(bn.data, expect, 2 * 4 * 64, 1e-5, 1e-5, "folded BN output");
    neon_node_info info;
    assert_int_equal(neon_graph_node_info(gb, neon_graph_find(gb, "bn1"), &info), NEON_OK);
    assert_non_null(strstr(info.detail, "folded"));
    neon_graph_destroy(ga);
    neon_graph_destroy(gb);
    neon_ctx_destroy(ctx);
}

static void test_logodds_golden(void **s)
{
    (void)s;
    const float z[4] = {2.0f, 1.5f, -0.3f, 0.7f};
    double eta, R[3];
    assert_int_equal(neon_logodds_pool(4, z, 0, NEON_INIT_VALUE, &eta, R), NEON_OK);
    const double gR[3] = {0.3096688808, 0.2354644399, 0.3617723134}, geta = 0.0208955019;
    tu_assert_closed(&eta, &geta, 1, 1e-7, 1e-6, "eta");
    tu_assert_closed(R, gR, 3, 1e-7, 1e-6, "R_cc'");
    /* through a graph: identity output layer, LRP-0: input relevance sums
     * to sum R_cc' = eta + H(p) and the explained score is eta */
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int id;
    const int64_t shp[1] = {4};
    float I4[16] = {0};
    for (int i = 0; i < 4; i++) I4[i * 5] = 1;
    assert_int_equal(neon_graph_add_input(g, "z", 1, shp, &id), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "out", id, 4, I4, NULL, &id), NEON_OK);
    tu_set_uniform(ctx, g, NEON_RULE_LRP0);
    float Rin[4];
    neon_tensor xt = {(float *)z, 2, {1, 4}}, Rt = {Rin, 2, {1, 4}};
    neon_explain_opts o = {NEON_INIT_VALUE, NEON_HEAD_LOGODDS};
    neon_explain_result res;
    int t = 0;
    assert_int_equal(neon_graph_explain(g, &xt, &t, &o, &Rt, &res), NEON_OK);
    assert_true(fabs(res.score - geta) < 1e-6);
    double sumR = gR[0] + gR[1] + gR[2];
    assert_true(fabs(res.relevance_sum - sumR) < 1e-5);
    /* R_j = sum_c' z_j (d_j0 - d_jc') / z_cc' R_cc': */
    double e0 = 0, ez[3];
    for (int k = 0; k < 3; k++) {
        double zd = z[0] - z[k + 1];
        e0 += z[0] / zd * gR[k];
        ez[k] = -z[k + 1] / zd * gR[k];
    }
    assert_true(fabs(Rin[0] - e0) < 1e-5);
    for (int k = 0; k < 3; k++) assert_true(fabs(Rin[k + 1] - ez[k]) < 1e-5);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* residual add + concat + fan-out: bias-free LRP-0 conserves the logit */
static void test_residual_concat_conservation(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 17);
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, a, b, c, d, e;
    const int64_t shp[1] = {6};
    assert_int_equal(neon_graph_add_input(g, "x", 1, shp, &x), NEON_OK);
    float *W1 = tu_rnd(&r, 36, 0.05f, 1), *W2 = tu_rnd(&r, 36, 0.05f, 1), *W3 = tu_rnd(&r, 36, 0.05f, 1);
    float *W4 = tu_rnd(&r, 2 * 12, 0.05f, 1);
    assert_int_equal(neon_graph_add_dense(g, "d1", x, 6, W1, NULL, &a), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "r1", a, &a), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "d2", a, 6, W2, NULL, &b), NEON_OK);
    int ab[2] = {a, b};
    assert_int_equal(neon_graph_add_add(g, "res", 2, ab, &c), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "d3", a, 6, W3, NULL, &d), NEON_OK);
    int cd[2] = {c, d};
    assert_int_equal(neon_graph_add_concat(g, "cat", 2, cd, 0, &e), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "out", e, 2, W4, NULL, &e), NEON_OK);
    tu_set_uniform(ctx, g, NEON_RULE_LRP0);
    float xv[6], Rv[6];
    tu_fill(&r, xv, 6, 0.1f, 1.0f);
    neon_tensor xt = {xv, 2, {1, 6}}, Rt = {Rv, 2, {1, 6}};
    neon_explain_result res;
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &Rt, &res), NEON_OK);
    assert_true(fabs(res.relevance_sum - res.score) < 1e-4 * (1 + fabs(res.score)));
    free(W1); free(W2); free(W3); free(W4);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

static void test_errors(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 1);
    neon_graph *g = small_cnn(ctx, &r, 0);
    float x[64], R[64];
    tu_fill(&r, x, 64, 0, 1);
    neon_tensor xt = {x, 4, {1, 1, 8, 8}}, Rt = {R, 4, {1, 1, 8, 8}};
    int t = 3;
    assert_int_equal(neon_graph_explain(g, &xt, &t, NULL, &Rt, NULL), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "out of range"));
    x[10] = NAN;
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &Rt, NULL), NEON_ERR_NUMERIC);
    assert_non_null(strstr(neon_errmsg(ctx), "element 10"));
    x[10] = 0.5f;
    neon_tensor bad = {x, 4, {1, 1, 8, 7}};
    assert_int_equal(neon_graph_explain(g, &bad, NULL, NULL, &Rt, NULL), NEON_ERR_SHAPE);
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    assert_int_equal(neon_rules_set_composite(rs, "epsilon-gamma-bx"), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "epsilon-gamma-box"));
    assert_int_equal(neon_rules_set_composite(rs, "epsilon-gamma-box"), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_ERR_INVALID); /* no bounds */
    assert_non_null(strstr(neon_errmsg(ctx), "conv1"));
    assert_non_null(strstr(neon_errmsg(ctx), "bounds"));
    neon_rule ru;
    assert_int_equal(neon_rule_parse(ctx, "alphabeta:2:2", &ru), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "alpha - beta = 1"));
    assert_int_equal(neon_rule_parse(ctx, "gamme", &ru), NEON_ERR_INVALID);
    assert_int_equal(neon_rule_parse(ctx, "epsilon:0.25", &ru), NEON_OK);
    assert_true(ru.kind == NEON_RULE_EPSILON && fabsf(ru.epsilon - 0.25f) < 1e-7f);
    assert_int_equal(neon_rules_set_node(rs, "nope", &ru), NEON_OK);
    assert_int_equal(neon_rules_set_bounds(rs, 0, 1), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "nope"));
    neon_rules_destroy(rs);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* RULES.md 3: the rule each node of conv1 - conv2 - fc1 - fc2 gets from
 * each composite (first layer = conv1). */
static void test_composite_table(void **s)
{
    (void)s;
    static const struct {
        const char *name;
        neon_rule_kind first, conv, dense;
    } rows[] = {
        {"epsilon-gamma-box", NEON_RULE_ZBOX, NEON_RULE_GAMMA, NEON_RULE_EPSILON},
        {"epsilon-plus", NEON_RULE_ZPLUS, NEON_RULE_ZPLUS, NEON_RULE_EPSILON},
        {"epsilon-plus-flat", NEON_RULE_FLAT, NEON_RULE_ZPLUS, NEON_RULE_EPSILON},
        {"epsilon-alpha2-beta1", NEON_RULE_ALPHABETA, NEON_RULE_ALPHABETA, NEON_RULE_EPSILON},
        {"epsilon-alpha2-beta1-flat", NEON_RULE_FLAT, NEON_RULE_ALPHABETA, NEON_RULE_EPSILON},
    };
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 2);
    neon_graph *g = small_cnn(ctx, &r, 0);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        neon_rules *rs;
        assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
        assert_int_equal(neon_rules_set_composite(rs, rows[i].name), NEON_OK);
        assert_int_equal(neon_rules_set_bounds(rs, 0.0f, 1.0f), NEON_OK);
        assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
        neon_rules_destroy(rs);
        const struct {
            const char *node;
            neon_rule_kind want;
        } cells[] = {{"conv1", rows[i].first}, {"conv2", rows[i].conv}, {"fc1", rows[i].dense},
                     {"fc2", rows[i].dense}, {"pool2", NEON_RULE_LRP0}, {"pool1", NEON_RULE_WTA}};
        for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
            neon_rule got;
            assert_int_equal(neon_graph_node_rule(g, neon_graph_find(g, cells[c].node), &got),
                             NEON_OK);
            if (got.kind != cells[c].want)
                fail_msg("%s: node %s got %s, expected %s", rows[i].name, cells[c].node,
                         neon_rule_name(got.kind), neon_rule_name(cells[c].want));
            if (got.kind == NEON_RULE_ALPHABETA) assert_true(got.alpha == 2.0f && got.beta == 1.0f);
            if (got.kind == NEON_RULE_GAMMA) assert_true(got.gamma == 0.25f);
            if (got.kind == NEON_RULE_EPSILON) assert_true(got.epsilon == 1e-6f);
        }
    }
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lrp0_is_gradient_x_input),
        cmocka_unit_test(test_batched_equals_per_sample),
        cmocka_unit_test(test_bn_folding_keeps_forward),
        cmocka_unit_test(test_logodds_golden),
        cmocka_unit_test(test_residual_concat_conservation),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_composite_table),
    };
    return cmocka_run_group_tests_name("graph", tests, NULL, NULL);
}
