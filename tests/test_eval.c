/* Region perturbation, the units: the grid and region scores, the orders,
 * the AOPC formula, a known-answer linear model where the relevant inputs
 * are known, gradient x input by the engine and by finite differences,
 * two-input graphs and a matcher (BiLRP marginals).  Whole runs, threads,
 * outputs and allocation failures: test_eval_run.c. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/eval.h"
#include "neonlrp/io.h"
#include "neonlrp/onnx.h"

static void test_grid(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    neon_region_grid g;
    const int64_t img[3] = {1, 28, 28}, rgb[3] = {3, 10, 10}, vec[1] = {784}, odd[1] = {5},
                  seq[2] = {6, 3}, deep[4] = {2, 2, 4, 4};
    assert_int_equal(neon_region_grid_make(ctx, 3, img, 4, 4, &g), NEON_OK);
    assert_true(g.c == 1 && g.h == 28 && g.w == 28 && g.ny == 7 && g.nx == 7);
    assert_int_equal(neon_region_count(&g), 49);
    assert_int_equal(neon_region_grid_make(ctx, 3, rgb, 4, 4, &g), NEON_OK);
    assert_true(g.c == 3 && g.ny == 3 && g.nx == 3); /* 4 + 4 + 2 */
    assert_int_equal(neon_region_grid_make(ctx, 1, vec, 4, 4, &g), NEON_OK);
    assert_true(g.c == 1 && g.h == 28 && g.w == 28);
    assert_int_equal(neon_region_grid_make(ctx, 1, odd, 4, 4, &g), NEON_OK);
    assert_true(g.h == 1 && g.w == 5 && g.rh == 1 && g.rw == 4 && g.nx == 2);
    assert_int_equal(neon_region_grid_make(ctx, 2, seq, 1, 3, &g), NEON_OK);
    assert_true(g.h == 6 && g.w == 3 && g.ny == 6 && g.nx == 1); /* whole time steps */
    assert_int_equal(neon_region_grid_make(ctx, 4, deep, 2, 2, &g), NEON_OK);
    assert_true(g.c == 4 && g.h == 4 && g.w == 4 && neon_region_count(&g) == 4);
    assert_int_equal(neon_region_grid_make(ctx, 3, img, 0, 4, &g), NEON_ERR_INVALID);
    /* region scores: sum over each region and all channels */
    const int64_t two[3] = {2, 4, 4};
    assert_int_equal(neon_region_grid_make(ctx, 3, two, 2, 2, &g), NEON_OK);
    float R[32];
    for (int i = 0; i < 32; i++) R[i] = (float)(i % 16) + (i >= 16 ? 100.0f : 0.0f);
    double S[4];
    neon_region_scores(&g, R, 1, S);
    /* channel 0 region (0,0): 0+1+4+5 = 10; channel 1 adds 10 + 400 */
    assert_true(S[0] == 420 && S[1] == 436 && S[2] == 484 && S[3] == 500);
    neon_ctx_destroy(ctx);
}

static void test_orders(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    const int64_t shp[2] = {2, 3};
    neon_region_grid g;
    assert_int_equal(neon_region_grid_make(ctx, 2, shp, 1, 1, &g), NEON_OK);
    const double S[12] = {0.5, -1, 3, 0, 0, 2, /* sample 1: all tied */ 1, 1, 1, 1, 1, 1};
    int32_t o[12], o2[12];
    assert_int_equal(neon_region_order(ctx, &g, S, 2, 0, NEON_ORDER_MORF, 7, o), NEON_OK);
    assert_true(o[0] == 2 && o[1] == 5 && o[2] == 0 && o[5] == 1);
    assert_true((o[3] == 3 && o[4] == 4) || (o[3] == 4 && o[4] == 3));
    assert_int_equal(neon_region_order(ctx, &g, S, 2, 0, NEON_ORDER_LERF, 7, o2), NEON_OK);
    assert_true(o2[0] == 1 && o2[3] == 0 && o2[4] == 5 && o2[5] == 2);
    /* ties: a permutation, the same for the same seed, seeded (not index order) */
    int seen[6] = {0}, differs = 0;
    for (int i = 0; i < 6; i++) seen[o[6 + i]]++;
    for (int i = 0; i < 6; i++) assert_int_equal(seen[i], 1);
    for (uint64_t seed = 0; seed < 8; seed++) {
        assert_int_equal(neon_region_order(ctx, &g, S, 2, 0, NEON_ORDER_MORF, seed, o2), NEON_OK);
        for (int i = 0; i < 6; i++) differs += o2[6 + i] != i;
    }
    assert_true(differs > 0);
    /* random order: a permutation that depends on the seed and on the sample */
    int32_t r1[12], r2[12];
    assert_int_equal(neon_region_order(ctx, &g, NULL, 2, 0, NEON_ORDER_RANDOM, 1, r1), NEON_OK);
    assert_int_equal(neon_region_order(ctx, &g, NULL, 2, 0, NEON_ORDER_RANDOM, 1, r2), NEON_OK);
    assert_memory_equal(r1, r2, sizeof r1);
    int d = 0;
    for (uint64_t seed = 2; seed < 6; seed++) {
        assert_int_equal(neon_region_order(ctx, &g, NULL, 2, 0, NEON_ORDER_RANDOM, seed, r2), NEON_OK);
        d += memcmp(r1, r2, sizeof r1) != 0;
    }
    assert_true(d > 0);
    int seen2[6] = {0};
    for (int i = 0; i < 6; i++) seen2[r1[i]]++;
    for (int i = 0; i < 6; i++) assert_int_equal(seen2[i], 1);
    const double bad[6] = {0, NAN, 0, 0, 0, 0};
    assert_int_equal(neon_region_order(ctx, &g, bad, 1, 0, NEON_ORDER_MORF, 1, o), NEON_ERR_NUMERIC);
    /* noise: in range, deterministic, independent of anything but (seed, n, i) */
    for (int i = 0; i < 100; i++) {
        const float v = neon_perturb_noise(3, 5, i, -2.0f, 1.0f);
        assert_true(v >= -2.0f && v <= 1.0f);
        assert_true(v == neon_perturb_noise(3, 5, i, -2.0f, 1.0f));
    }
    assert_true(neon_perturb_noise(3, 5, 0, 0, 1) != neon_perturb_noise(4, 5, 0, 0, 1));
    neon_ctx_destroy(ctx);
}

static void test_aopc_formula(void **s)
{
    (void)s;
    /* f(x_k) for 2 samples, L = 2: drops (0, 1, 3) and (0, 0, 3) */
    const float c[6] = {5, 4, 2, 3, 3, 0};
    double sem;
    const double a = neon_aopc(c, 2, 2, &sem);
    assert_true(fabs(a - 7.0 / 6.0) < 1e-12);   /* mean of 4/3 and 1 */
    assert_true(fabs(sem - 1.0 / 6.0) < 1e-12); /* sd sqrt(1/18), / sqrt(2) */
    assert_true(neon_aopc(c, 1, 2, &sem) == 4.0 / 3.0 && sem == 0);
}

/* f(x) = act(w . x + b) on (1, 8, 8); w non-zero on three 2x2 regions only. */
static neon_graph *linear_model(neon_ctx *ctx, int sigmoid, float *w)
{
    memset(w, 0, 64 * sizeof *w);
    const int rel[3][2] = {{0, 0}, {2, 4}, {6, 2}}; /* region (row, col) of 2x2 regions */
    const float wt[3] = {3.0f, 2.0f, 1.0f};
    for (int k = 0; k < 3; k++)
        for (int dy = 0; dy < 2; dy++)
            for (int dx = 0; dx < 2; dx++) w[(rel[k][0] + dy) * 8 + rel[k][1] + dx] = wt[k];
    neon_graph *g;
    int id;
    const int64_t shp[3] = {1, 8, 8};
    const float b = 0.5f;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &id), NEON_OK);
    const int64_t flat[1] = {64};
    assert_int_equal(neon_graph_add_reshape(g, "flat", id, 1, flat, &id), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "fc", id, 1, w, &b, &id), NEON_OK);
    if (sigmoid)
        assert_int_equal(neon_graph_add_activation(g, "sig", id, NEON_ACT_SIGMOID, 0, &id), NEON_OK);
    return g;
}

static void test_known_answer_linear(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    float w[64];
    neon_graph *g = linear_model(ctx, 0, w);
    enum { N = 40 };
    float *x = malloc(N * 64 * sizeof *x);
    tu_rng r;
    tu_seed(&r, 11);
    tu_fill(&r, x, N * 64, 0.0f, 1.0f);
    for (int n = 0; n < N; n++) /* the relevant pixels are bright: noise lowers f */
        for (int i = 0; i < 64; i++)
            if (w[i] != 0) x[n * 64 + i] = 0.8f + 0.2f * x[n * 64 + i];
    neon_tensor xt = {x, 4, {N, 1, 8, 8}};
    neon_rules *eps;
    assert_int_equal(neon_rules_create(ctx, &eps), NEON_OK);
    neon_rule re = neon_rule_default(NEON_RULE_EPSILON);
    assert_int_equal(neon_rules_set_uniform(eps, &re), NEON_OK);
    neon_eval_method m[4] = {{"lrp-epsilon", NEON_EVAL_LRP, eps, 0, 0, 0},
                             {"gradxinput", NEON_EVAL_GRADXINPUT, NULL, 0, 0, 0},
                             {"random", NEON_EVAL_RANDOM, NULL, 0, 0, 0},
                             {"occlusion", NEON_EVAL_OCCLUSION, NULL, 0, 0, 0}};
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    o.region_h = o.region_w = 2;
    o.low = 0;
    o.high = 1;
    o.seed = 3;
    o.batch = 16;
    assert_true(neon_eval_gradxinput_exact(g));
    neon_eval_result *res;
    assert_int_equal(neon_eval_run(&g, 1, 1, &xt, m, 4, &o, &res), NEON_OK);
    assert_int_equal(res->steps, 16);
    assert_int_equal(res->n_samples, N);
    for (int i = 0; i < 4; i++) {
        const neon_eval_method_result *mr = &res->methods[i];
        print_message("%-12s MoRF %.4f LeRF %.4f random %.4f\n", mr->name, mr->aopc[0],
                      mr->aopc[1], mr->aopc[2]);
        assert_true(mr->curve[0][0] == mr->curve[1][0]); /* f(x_0) */
        if (i == 2) continue;
        /* MoRF drops fastest, then the random order, LeRF slowest */
        assert_true(mr->aopc[0] > mr->aopc[2] + 4 * mr->sem[2]);
        assert_true(mr->aopc[2] > mr->aopc[1] + 4 * mr->sem[2]);
        /* LRP, x * grad: the three relevant regions come first, then f is flat
         * (occlusion smears the drop over neighbouring regions) */
        for (int k = 4; i < 2 && k <= res->steps; k++)
            assert_true(fabsf(mr->curve[0][k] - mr->curve[0][3]) < 1e-4f);
    }
    /* random relevance: between the faithful methods' MoRF and LeRF */
    assert_true(res->methods[2].aopc[0] < res->methods[0].aopc[0]);
    assert_true(res->methods[2].aopc[0] > res->methods[0].aopc[1]);
    /* the engine's gradient x input equals LRP-epsilon(1e-6) here: w x */
    assert_true(fabs(res->methods[0].aopc[0] - res->methods[1].aopc[0]) < 1e-9);
    neon_eval_result_destroy(res);
    neon_rules_destroy(eps);
    free(x);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* A graph that is not piecewise linear: gradient x input by central
 * differences must match the analytic x w s(1 - s). */
static void test_gradxinput_finite_differences(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    float w[64];
    neon_graph *g = linear_model(ctx, 1, w);
    assert_false(neon_eval_gradxinput_exact(g));
    enum { N = 3 };
    float x[N * 64], R[N * 64];
    tu_rng r;
    tu_seed(&r, 4);
    tu_fill(&r, x, N * 64, -0.5f, 0.5f);
    neon_tensor xt = {x, 4, {N, 1, 8, 8}}, Rt = {R, 4, {N, 1, 8, 8}};
    neon_eval_method m = {"gradxinput", NEON_EVAL_GRADXINPUT, NULL, 0, 0, 0};
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    o.low = -1;
    o.high = 1;
    o.batch = 10; /* 5 pairs per forward, a partial last batch */
    const int tg[N] = {0, 0, 0};
    neon_region_grid grid;
    assert_int_equal(neon_region_grid_make(ctx, 3, xt.shape + 1, 2, 2, &grid), NEON_OK);
    assert_int_equal(neon_eval_relevance(&g, 1, 1, &xt, &m, tg, &o, &grid, &Rt), NEON_OK);
    for (int n = 0; n < N; n++) {
        double z = 0.5;
        for (int i = 0; i < 64; i++) z += (double)w[i] * x[n * 64 + i];
        const double sg = 1 / (1 + exp(-z));
        float want[64];
        for (int i = 0; i < 64; i++) want[i] = (float)(x[n * 64 + i] * w[i] * sg * (1 - sg));
        tu_assert_close(R + n * 64, want, 64, 2e-4, 2e-3, "finite differences");
    }
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* x(1,8,8) -> conv 4 3x3 -> relu -> maxpool 2 -> flatten -> dense 3 */
static void test_two_inputs(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    int a, b, c, d;
    const int64_t shp[1] = {16};
    float w[32];
    for (int i = 0; i < 32; i++) w[i] = i < 16 ? (float)(i % 4 == 0) : 5.0f;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 1, shp, &a), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "y", 1, shp, &b), NEON_OK);
    const int ab[2] = {a, b};
    assert_int_equal(neon_graph_add_concat(g, "cat", 2, ab, 0, &c), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "fc", c, 1, w, NULL, &d), NEON_OK);
    enum { N = 5 };
    float x[N * 16], y[N * 16];
    for (int i = 0; i < N * 16; i++) {
        x[i] = 1.0f;
        y[i] = 0.5f;
    }
    neon_tensor xs[2] = {{x, 2, {N, 16}}, {y, 2, {N, 16}}};
    neon_eval_method m = {"gradxinput", NEON_EVAL_GRADXINPUT, NULL, 0, 0, 0};
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    o.region_h = o.region_w = 1;
    o.low = -1;
    o.high = -1 + 1e-3f; /* the noise is ~ -1 */
    neon_eval_result *res;
    assert_int_equal(neon_eval_run(&g, 1, 2, xs, &m, 1, &o, &res), NEON_OK);
    /* 16 features as 4x4, 1x1 regions; MoRF hits the 4 weighted features first: -2 each */
    assert_int_equal(res->steps, 16);
    assert_true(fabsf(res->methods[0].curve[0][0] - 44.0f) < 1e-4f); /* 4 + 16 * 0.5 * 5 */
    assert_true(fabsf(res->methods[0].curve[0][4] - 36.0f) < 1e-2f);
    assert_true(fabsf(res->methods[0].curve[0][16] - 36.0f) < 1e-2f);
    assert_true(fabsf(res->methods[0].curve[1][12] - 44.0f) < 1e-4f); /* LeRF: weightless first */
    neon_eval_result_destroy(res);
    neon_tensor one = xs[0];
    assert_int_equal(neon_eval_run(&g, 1, 1, &one, &m, 1, &o, &res), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "2 inputs"));
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* A Siamese matcher (bias-free ReLU branches, score <phi(x), phi(y)>): the
 * BiLRP-0 marginal of x is x * df/dx (f is 1-homogeneous in y), so the
 * LRP method must agree with gradient x input by finite differences. */
static void test_matcher(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    char p[512];
    neon_graph *g;
    neon_tensor xs[2];
    assert_int_equal(neon_onnx_load(ctx, tu_src_path(p, sizeof p, "tests/data/onnx/matcher_cnn.onnx"), &g), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, "tests/data/onnx/matcher_cnn.x.npy"), &xs[0]), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, "tests/data/onnx/matcher_cnn.y.npy"), &xs[1]), NEON_OK);
    assert_false(neon_eval_gradxinput_exact(g));
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    neon_rule r0 = neon_rule_default(NEON_RULE_LRP0);
    assert_int_equal(neon_rules_set_uniform(rs, &r0), NEON_OK);
    neon_eval_method m[3] = {{"lrp0", NEON_EVAL_LRP, rs, 0, 0, 0},
                             {"gradxinput", NEON_EVAL_GRADXINPUT, NULL, 0, 0, 0},
                             {"occlusion", NEON_EVAL_OCCLUSION, NULL, 0, 0, 0}};
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    o.region_h = o.region_w = 2;
    o.high = 1;
    const int64_t N = xs[0].shape[0];
    const int tg[3] = {0, 0, 0};
    neon_region_grid grid;
    assert_int_equal(neon_region_grid_make(ctx, 3, xs[0].shape + 1, 2, 2, &grid), NEON_OK);
    float *R[2];
    for (int k = 0; k < 2; k++) {
        R[k] = malloc((size_t)(N * 64) * sizeof(float));
        neon_tensor Rt = {R[k], 4, {N, 1, 8, 8}};
        assert_int_equal(neon_eval_relevance(&g, 1, 2, xs, &m[k], tg, &o, &grid, &Rt), NEON_OK);
    }
    double tot = 0;
    for (int64_t i = 0; i < N * 64; i++) tot += fabs(R[0][i]);
    assert_true(tot > 1e-3);
    tu_assert_close(R[0], R[1], N * 64, 2e-4, 1e-2, "BiLRP-0 marginal vs x * df/dx");
    neon_eval_result *res;
    assert_int_equal(neon_eval_run(&g, 1, 2, xs, m, 3, &o, &res), NEON_OK);
    assert_int_equal(res->steps, 16);
    for (int i = 0; i < 3; i++)
        assert_true(res->methods[i].aopc[0] > res->methods[i].aopc[1]);
    neon_eval_result_destroy(res);
    free(R[0]);
    free(R[1]);
    neon_rules_destroy(rs);
    neon_tensor_free(ctx, &xs[0]);
    neon_tensor_free(ctx, &xs[1]);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid),
        cmocka_unit_test(test_orders),
        cmocka_unit_test(test_aopc_formula),
        cmocka_unit_test(test_known_answer_linear),
        cmocka_unit_test(test_gradxinput_finite_differences),
        cmocka_unit_test(test_two_inputs),
        cmocka_unit_test(test_matcher),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
