/* Pairwise matching (RULES.md 8): the golden vector (built and imported),
 * the product-neuron rule by hand, Hessian x Product by finite differences
 * and conservation, the ONNX path (Mul + ReduceSum / Gemm) against torch,
 * and the error cases (branch sizes that do not match, a missing second
 * input, ...).  Multi-seed relprop and the driver: test_multiseed.c. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/bilrp.h"
#include "neonlrp/io.h"
#include "neonlrp/onnx.h"

/* The golden siamese model of RULES.md 8: phi(x) = relu(x W1) W2 (row
 * vectors: the library's weights are the transposes), y = <phi(x), phi(x')>. */
static neon_graph *golden_graph(neon_ctx *ctx)
{
    const float W1t[4] = {1, 0.5f, -0.5f, 1}; /* W1 = [[1,-0.5],[0.5,1]] */
    const float W2t[4] = {1, -0.3f, 0.2f, 0.8f}; /* W2 = [[1,0.2],[-0.3,0.8]] */
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, y, a, b, p, s;
    const int64_t shp[1] = {2};
    assert_int_equal(neon_graph_add_input(g, "x", 1, shp, &x), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x2", 1, shp, &y), NEON_OK);
    a = tu_mlp_branch(g, "a", x, 2, 2, W1t, NULL, W2t, NULL);
    b = tu_mlp_branch(g, "b", y, 2, 2, W1t, NULL, W2t, NULL);
    assert_int_equal(neon_graph_add_product(g, "prod", a, b, &p), NEON_OK);
    assert_int_equal(neon_graph_add_reduce_sum(g, "sum", p, 0, NULL, 1, &s), NEON_OK);
    return g;
}

static void check_golden(neon_ctx *ctx, neon_graph *g)
{
    float x[2] = {1, 2}, x2[2] = {1, 0.3f}, R[4], Rx[2], Ry[2];
    neon_tensor xs[2] = {{x, 2, {1, 2}}, {x2, 2, {1, 2}}};
    neon_tensor Rt = {R, 3, {1, 2, 2}}, Rm[2] = {{Rx, 2, {1, 2}}, {Ry, 2, {1, 2}}};
    neon_explain_result res;
    tu_set_uniform(ctx, g, NEON_RULE_LRP0);
    int64_t D1, D2;
    assert_int_equal(neon_graph_bilrp_dims(g, 0, &D1, &D2), NEON_OK);
    assert_true(D1 == 2 && D2 == 2);
    neon_status st = neon_graph_bilrp(g, xs, NULL, NULL, &Rt, Rm, &res);
    if (st) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    const float want[4] = {1.11f, 0.1665f, 0.76f, 0.114f};
    tu_assert_close(R, want, 4, 1e-5, 1e-5, "golden R");
    assert_true(fabsf(res.score - 2.1505f) < 1e-5f);
    /* the stabilizer (1e-6) absorbs 1.3e-5 here (float64 reference: 2.150487) */
    assert_true(fabsf(res.relevance_sum - 2.150487f) < 2e-6f);
    const float mx[2] = {1.11f + 0.1665f, 0.76f + 0.114f}, my[2] = {1.11f + 0.76f, 0.1665f + 0.114f};
    tu_assert_close(Rx, mx, 2, 1e-5, 1e-5, "golden marginal x");
    tu_assert_close(Ry, my, 2, 1e-5, 1e-5, "golden marginal x'");
}

static void test_golden(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = golden_graph(ctx);
    check_golden(ctx, g);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* Same model exported as ONNX (MatMul, Relu, MatMul per branch, Mul,
 * ReduceSum keepdims): the importer's graph gives the same numbers. */
static void test_golden_onnx(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    char path[1024];
    neon_graph *g;
    neon_status st = neon_onnx_load(ctx, tu_src_path(path, sizeof path,
                                                      "tests/data/onnx/matcher_golden.onnx"), &g);
    if (st) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    check_golden(ctx, g);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* a_k = relu(x.w_k) relu(y.v_k), score = 1 a_1 + 2 a_2 (dense read-out):
 * R_ij = sum_k (x_i w_ik)(y_j v_jk) / z_k R_k = sum_k c_k x_i w_ik y_j v_jk.
 * x = (1, 2), y = (3, 1), w_1 = (1, 1), w_2 = (2, 0.5), v_1 = (1, 0),
 * v_2 = (0.5, 2): z = (3 * 3, 3 * 3.5), score 9 + 21 = 30,
 * k=1: (1, 2) (3, 0)^T = [[3, 0], [6, 0]]; k=2: 2 (2, 1) (1.5, 2)^T =
 * [[6, 8], [3, 4]]; R = [[9, 8], [9, 4]]. */
static void test_product_neuron_by_hand(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, y, a, b, p, o;
    const int64_t shp[1] = {2};
    const float Wx[4] = {1, 1, 2, 0.5f}, Wy[4] = {1, 0, 0.5f, 2}, c[2] = {1, 2};
    assert_int_equal(neon_graph_add_input(g, "x", 1, shp, &x), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "y", 1, shp, &y), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "w", x, 2, Wx, NULL, &a), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "rw", a, &a), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "v", y, 2, Wy, NULL, &b), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "rv", b, &b), NEON_OK);
    assert_int_equal(neon_graph_add_product(g, "prod", a, b, &p), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "readout", p, 1, c, NULL, &o), NEON_OK);
    tu_set_uniform(ctx, g, NEON_RULE_LRP0);
    float xv[2] = {1, 2}, yv[2] = {3, 1}, R[4];
    neon_tensor xs[2] = {{xv, 2, {1, 2}}, {yv, 2, {1, 2}}}, Rt = {R, 3, {1, 2, 2}};
    neon_explain_result res;
    assert_int_equal(neon_graph_bilrp(g, xs, NULL, NULL, &Rt, NULL, &res), NEON_OK);
    const float want[4] = {9, 8, 9, 4};
    tu_assert_close(R, want, 4, 1e-5, 1e-5, "product-neuron rule");
    assert_true(fabsf(res.score - 30.0f) < 1e-4f && fabsf(res.relevance_sum - 30.0f) < 1e-4f);
    /* a unit with a negative pre-activation (x.w_2 < 0) passes nothing */
    xv[1] = -1.0f; /* x.w = (0, 1.5): unit 1 off */
    assert_int_equal(neon_graph_bilrp(g, xs, NULL, NULL, &Rt, NULL, &res), NEON_OK);
    /* k=2 only: 2 (2, -0.5) (1.5, 2)^T */
    const float want2[4] = {6, 8, -1.5f, -2};
    tu_assert_close(R, want2, 4, 1e-5, 1e-5, "product-neuron rule, one unit off");
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- Hessian x Product ------------------------------------------------------- */

typedef struct hxp_model {
    int64_t D1, D2, H1, H2, K;
    float *A1, *A2, *B1, *B2, *c; /* (H1,D1) (K,H1) (H2,D2) (K,H2) (K) */
} hxp_model;

/* Naive double forward: f = sum_k c_k phi_k(x) psi_k(y). */
static double hxp_f(const hxp_model *m, const double *x, const double *y)
{
    double f = 0, h1[16], h2[16], phi[8], psi[8];
    for (int64_t h = 0; h < m->H1; h++) {
        double s = 0;
        for (int64_t i = 0; i < m->D1; i++) s += m->A1[h * m->D1 + i] * x[i];
        h1[h] = s > 0 ? s : 0;
    }
    for (int64_t h = 0; h < m->H2; h++) {
        double s = 0;
        for (int64_t j = 0; j < m->D2; j++) s += m->B1[h * m->D2 + j] * y[j];
        h2[h] = s > 0 ? s : 0;
    }
    for (int64_t k = 0; k < m->K; k++) {
        phi[k] = psi[k] = 0;
        for (int64_t h = 0; h < m->H1; h++) phi[k] += m->A2[k * m->H1 + h] * h1[h];
        for (int64_t h = 0; h < m->H2; h++) psi[k] += m->B2[k * m->H2 + h] * h2[h];
        f += m->c[k] * phi[k] * psi[k];
    }
    return f;
}

/* For bias-free ReLU branches with LRP-0 everywhere, BiLRP is Hessian x
 * Product: R_ij = x_i y_j d2f/dx_i dy_j (central finite differences of a
 * naive double forward; f is bilinear between ReLU kinks, so they are
 * exact up to round-off), and sum_ij R_ij = f. */
static void test_hessian_x_product(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 11);
    hxp_model m = {6, 4, 8, 7, 5, NULL, NULL, NULL, NULL, NULL};
    m.A1 = tu_rnd(&r, m.H1 * m.D1, -1, 1);
    m.A2 = tu_rnd(&r, m.K * m.H1, -1, 1);
    m.B1 = tu_rnd(&r, m.H2 * m.D2, -1, 1);
    m.B2 = tu_rnd(&r, m.K * m.H2, -1, 1);
    m.c = tu_rnd(&r, m.K, -1, 1);
    for (int readout = 0; readout < 2; readout++) {
        neon_graph *g;
        assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
        int x, y, a, b, p, o;
        const int64_t s1[1] = {m.D1}, s2[1] = {m.D2};
        assert_int_equal(neon_graph_add_input(g, "x", 1, s1, &x), NEON_OK);
        assert_int_equal(neon_graph_add_input(g, "y", 1, s2, &y), NEON_OK);
        a = tu_mlp_branch(g, "a", x, m.H1, m.K, m.A1, NULL, m.A2, NULL);
        b = tu_mlp_branch(g, "b", y, m.H2, m.K, m.B1, NULL, m.B2, NULL);
        assert_int_equal(neon_graph_add_product(g, "prod", a, b, &p), NEON_OK);
        const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1};
        if (readout) assert_int_equal(neon_graph_add_dense(g, "out", p, 1, m.c, NULL, &o), NEON_OK);
        else assert_int_equal(neon_graph_add_reduce_sum(g, "out", p, 0, NULL, 0, &o), NEON_OK);
        tu_set_uniform(ctx, g, NEON_RULE_LRP0);
        const float *cc = readout ? m.c : ones;
        hxp_model mm = m;
        mm.c = (float *)cc;
        for (int trial = 0; trial < 3; trial++) {
            float xv[6], yv[4], R[24];
            tu_fill(&r, xv, m.D1, -1, 1);
            tu_fill(&r, yv, m.D2, -1, 1);
            neon_tensor xs[2] = {{xv, 2, {1, m.D1}}, {yv, 2, {1, m.D2}}};
            neon_tensor Rt = {R, 3, {1, m.D1, m.D2}};
            neon_explain_result res;
            assert_int_equal(neon_graph_bilrp(g, xs, NULL, NULL, &Rt, NULL, &res), NEON_OK);
            double xd[6], yd[4], want[24], got[24];
            for (int i = 0; i < m.D1; i++) xd[i] = xv[i];
            for (int j = 0; j < m.D2; j++) yd[j] = yv[j];
            const double f0 = hxp_f(&mm, xd, yd), h = 1e-4;
            for (int i = 0; i < m.D1; i++)
                for (int j = 0; j < m.D2; j++) {
                    double f[4];
                    for (int q = 0; q < 4; q++) {
                        double xp[6], yp[4];
                        memcpy(xp, xd, sizeof xp);
                        memcpy(yp, yd, sizeof yp);
                        xp[i] += q & 1 ? -h : h;
                        yp[j] += q & 2 ? -h : h;
                        f[q] = hxp_f(&mm, xp, yp);
                    }
                    const double d2 = (f[0] - f[1] - f[2] + f[3]) / (4 * h * h);
                    want[i * m.D2 + j] = xd[i] * yd[j] * d2;
                    got[i * m.D2 + j] = R[i * m.D2 + j];
                }
            tu_assert_closed(got, want, m.D1 * m.D2, 1e-4, 1e-3, "R vs Hessian x Product");
            assert_true(fabs(res.score - f0) < 1e-5 * (1 + fabs(f0)));
            assert_true(fabs(res.relevance_sum - f0) < 1e-4 * (1 + fabs(f0)));
        }
        neon_graph_destroy(g);
    }
    free(m.A1); free(m.A2); free(m.B1); free(m.B2); free(m.c);
    neon_ctx_destroy(ctx);
}

/* ---- ONNX matchers --------------------------------------------------------------- */

/* Fixtures of tests/data/make_matcher_fixtures.py: inputs x, y (3 pairs),
 * the expected score (torch) and, for the bias-free LRP-0 ones, the
 * expected pair relevance (numpy Hessian x Product). */
static void check_onnx(const char *name, int with_R)
{
    char path[1024], rel[256];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    neon_tensor x, y, want, wantR = {0};
    snprintf(rel, sizeof rel, "tests/data/onnx/%s.onnx", name);
    neon_status st = neon_onnx_load(ctx, tu_src_path(path, sizeof path, rel), &g);
    if (st) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    snprintf(rel, sizeof rel, "tests/data/onnx/%s.x.npy", name);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(path, sizeof path, rel), &x), NEON_OK);
    snprintf(rel, sizeof rel, "tests/data/onnx/%s.y.npy", name);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(path, sizeof path, rel), &y), NEON_OK);
    snprintf(rel, sizeof rel, "tests/data/onnx/%s.expected.npy", name);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(path, sizeof path, rel), &want), NEON_OK);
    if (with_R) {
        snprintf(rel, sizeof rel, "tests/data/onnx/%s.R.npy", name);
        assert_int_equal(neon_npy_read(ctx, tu_src_path(path, sizeof path, rel), &wantR), NEON_OK);
    }
    const int64_t N = x.shape[0];
    int64_t D1, D2;
    assert_int_equal(neon_graph_bilrp_dims(g, 0, &D1, &D2), NEON_OK);
    float *R = malloc((size_t)(N * D1 * D2) * sizeof *R);
    neon_tensor xs[2] = {x, y}, Rt = {R, 3, {N, D1, D2}}, yv;
    neon_explain_result *res = calloc((size_t)N, sizeof *res);
    assert_int_equal(neon_graph_forward_n(g, 2, xs, &yv), NEON_OK);
    tu_assert_close(yv.data, want.data, neon_tensor_numel(&want), 1e-5, 1e-4, "forward vs torch");
    /* LRP-0 with a tiny stabilizer: Hessian x Product holds in the limit of
     * no stabilizer; 1e-6 would move pixels of conv outputs close to 0 */
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    neon_rule r0 = neon_rule_default(NEON_RULE_LRP0);
    r0.stabilizer = 1e-12f;
    assert_int_equal(neon_rules_set_uniform(rs, &r0), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
    neon_rules_destroy(rs);
    int *tg = malloc((size_t)N * sizeof *tg);
    for (int64_t n = 0; n < N; n++) tg[n] = 0;
    st = neon_graph_bilrp(g, xs, tg, NULL, &Rt, NULL, res);
    if (st) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    if (with_R) tu_assert_close(R, wantR.data, N * D1 * D2, 1e-5, 1e-3, "R vs numpy");
    for (int64_t n = 0; with_R && n < N; n++)
        assert_true(fabsf(res[n].relevance_sum - res[n].score) < 1e-4f * (1 + fabsf(res[n].score)));
    free(R);
    free(res);
    free(tg);
    neon_tensor_free(ctx, &x);
    neon_tensor_free(ctx, &y);
    neon_tensor_free(ctx, &want);
    neon_tensor_free(ctx, &wantR);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

static void test_onnx_dot(void **s) { (void)s; check_onnx("matcher_dot", 1); }
static void test_onnx_siamese_cnn(void **s) { (void)s; check_onnx("matcher_cnn", 1); }
static void test_onnx_readout(void **s) { (void)s; check_onnx("matcher_readout", 0); }

/* ---- errors ---------------------------------------------------------------------- */

static void expect_msg(neon_ctx *ctx, neon_status st, neon_status want, const char *needle)
{
    const char *msg = neon_errmsg(ctx);
    if (st != want || !strstr(msg, needle))
        print_error("status %d, want %d; '%s' not in: %s\n", (int)st, (int)want, needle, msg);
    assert_int_equal(st, want);
    assert_non_null(strstr(msg, needle));
}

static void test_errors(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    /* branch outputs of different sizes */
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, y, a, b, p;
    const int64_t s5[1] = {5}, s4[1] = {4};
    assert_int_equal(neon_graph_add_input(g, "x", 1, s5, &x), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "y", 1, s4, &y), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "a", x, &a), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "b", y, &b), NEON_OK);
    expect_msg(ctx, neon_graph_add_product(g, "prod", a, b, &p), NEON_ERR_SHAPE,
               "branch output sizes do not match");
    /* two inputs but no product: concat */
    const int cat[2] = {a, b};
    assert_int_equal(neon_graph_add_concat(g, "cat", 2, cat, 0, &p), NEON_OK);
    float xv[5] = {1, 2, 3, 4, 5}, yv[4] = {1, 2, 3, 4}, R[20];
    neon_tensor xs[2] = {{xv, 2, {1, 5}}, {yv, 2, {1, 4}}}, Rt = {R, 3, {1, 5, 4}};
    expect_msg(ctx, neon_graph_bilrp(g, xs, NULL, NULL, &Rt, NULL, NULL), NEON_ERR_INVALID,
               "no product node");
    neon_graph_destroy(g);
    /* the golden model: missing second input, bad output shape */
    g = golden_graph(ctx);
    float x2[2] = {1, 2}, R4[4];
    neon_tensor gx[2] = {{x2, 2, {1, 2}}, {NULL, 0, {0}}}, gR = {R4, 3, {1, 2, 2}};
    expect_msg(ctx, neon_graph_bilrp(g, gx, NULL, NULL, &gR, NULL, NULL), NEON_ERR_SHAPE,
               "input 'x2'");
    gx[1] = gx[0];
    neon_tensor badR = {R4, 3, {1, 4, 1}};
    expect_msg(ctx, neon_graph_bilrp(g, gx, NULL, NULL, &badR, NULL, NULL), NEON_ERR_SHAPE,
               "(1, 2, 2)");
    int tg = 1;
    expect_msg(ctx, neon_graph_bilrp(g, gx, &tg, NULL, &gR, NULL, NULL), NEON_ERR_INVALID,
               "out of range");
    neon_graph_destroy(g);
    /* one input only */
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 1, s5, &x), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "a", x, &a), NEON_OK);
    assert_int_equal(neon_graph_add_product(g, "sq", a, a, &p), NEON_OK);
    neon_tensor one[2] = {{xv, 2, {1, 5}}, {xv, 2, {1, 5}}}, R1 = {R, 3, {1, 5, 5}};
    expect_msg(ctx, neon_graph_bilrp(g, one, NULL, NULL, &R1, NULL, NULL), NEON_ERR_INVALID,
               "two inputs");
    neon_graph_destroy(g);
    /* the inputs mixed outside the product node */
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 1, s4, &x), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "y", 1, s4, &y), NEON_OK);
    const int xy[2] = {x, y};
    assert_int_equal(neon_graph_add_add(g, "mix", 2, xy, &a), NEON_OK);
    assert_int_equal(neon_graph_add_product(g, "prod", x, y, &p), NEON_OK);
    const int pa[2] = {p, a};
    assert_int_equal(neon_graph_add_add(g, "out", 2, pa, &b), NEON_OK);
    neon_tensor two[2] = {{yv, 2, {1, 4}}, {yv, 2, {1, 4}}}, R2 = {R, 3, {1, 4, 4}};
    expect_msg(ctx, neon_graph_bilrp(g, two, NULL, NULL, &R2, NULL, NULL), NEON_ERR_UNSUPPORTED,
               "'mix' (add #2) mixes the two inputs");
    neon_graph_destroy(g);
    /* ONNX: Mul of branch outputs with different sizes */
    char path[1024];
    g = (neon_graph *)&g;
    expect_msg(ctx, neon_onnx_load(ctx, tu_src_path(path, sizeof path,
                                                    "tests/data/onnx/matcher_bad_sizes.onnx"), &g),
               NEON_ERR_SHAPE, "Mul");
    assert_null(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_golden_onnx),
        cmocka_unit_test(test_product_neuron_by_hand),
        cmocka_unit_test(test_hessian_x_product),
        cmocka_unit_test(test_onnx_dot),
        cmocka_unit_test(test_onnx_siamese_cnn),
        cmocka_unit_test(test_onnx_readout),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
