/* Multi-seed relprop and the BiLRP driver: S seeds per sample in batched
 * passes == one relprop per seed (conv branches with biases, the
 * epsilon-gamma-box composite; seeds carried down to a narrow layer); the
 * driver == the formula of RULES.md 8 evaluated with per-unit passes on each
 * branch alone; batched == per sample; small passes == default; block
 * pooling; marginals; init one. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/bilrp.h"

/* The golden siamese model of RULES.md 8: phi(x) = relu(x W1) W2 (row
 * vectors: the library's weights are the transposes), y = <phi(x), phi(x')>. */
/* ---- multi-seed relprop ------------------------------------------------------ */

typedef struct conv_branch {
    float *cw, *cb, *dw, *db, *ew, *eb;
} conv_branch;

static conv_branch conv_weights(tu_rng *r)
{
    conv_branch w;
    w.cw = tu_rnd(r, 4 * 9, -0.6f, 0.6f);
    w.cb = tu_rnd(r, 4, -0.1f, 0.1f);
    w.dw = tu_rnd(r, 6 * 64, -0.3f, 0.3f);
    w.db = tu_rnd(r, 6, -0.1f, 0.1f);
    w.ew = tu_rnd(r, 5 * 6, -0.8f, 0.8f);
    w.eb = tu_rnd(r, 5, -0.1f, 0.1f);
    return w;
}

static void conv_free(conv_branch *w)
{
    free(w->cw); free(w->cb); free(w->dw); free(w->db); free(w->ew); free(w->eb);
}

/* (1,8,8) -> conv 4 3x3 p1 -> relu -> maxpool 2 -> flatten -> dense 6 ->
 * relu -> dense 5 (biases everywhere) */
static int conv_branch_add(neon_graph *g, const char *p, int id, const conv_branch *w)
{
    char n[32];
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    neon_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    const int64_t flat[1] = {64};
    snprintf(n, sizeof n, "%s_conv", p);
    assert_int_equal(neon_graph_add_conv2d(g, n, id, 4, &cp, w->cw, w->cb, &id), NEON_OK);
    snprintf(n, sizeof n, "%s_relu1", p);
    assert_int_equal(neon_graph_add_relu(g, n, id, &id), NEON_OK);
    snprintf(n, sizeof n, "%s_pool", p);
    assert_int_equal(neon_graph_add_maxpool2d(g, n, id, &pp, &id), NEON_OK);
    snprintf(n, sizeof n, "%s_flat", p);
    assert_int_equal(neon_graph_add_reshape(g, n, id, 1, flat, &id), NEON_OK);
    return tu_mlp_branch(g, p, id, 6, 5, w->dw, w->db, w->ew, w->eb);
}

static void set_composite(neon_ctx *ctx, neon_graph *g)
{
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    assert_int_equal(neon_rules_set_composite(rs, "epsilon-gamma-box"), NEON_OK);
    assert_int_equal(neon_rules_set_bounds(rs, -1, 1), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
    neon_rules_destroy(rs);
}

/* Matcher of two conv branches (different weights) joined by a product and
 * a sum; *fa / *fb receive the factor nodes. */
static neon_graph *conv_matcher(neon_ctx *ctx, const conv_branch *wa, const conv_branch *wb,
                                int *fa, int *fb)
{
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, y, p, o;
    const int64_t shp[3] = {1, 8, 8};
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &x), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "y", 3, shp, &y), NEON_OK);
    *fa = conv_branch_add(g, "a", x, wa);
    *fb = conv_branch_add(g, "b", y, wb);
    assert_int_equal(neon_graph_add_product(g, "prod", *fa, *fb, &p), NEON_OK);
    assert_int_equal(neon_graph_add_reduce_sum(g, "sum", p, 0, NULL, 1, &o), NEON_OK);
    set_composite(ctx, g);
    return g;
}

/* One branch alone as a single-input graph (the independent reference). */
static neon_graph *branch_graph(neon_ctx *ctx, const conv_branch *w)
{
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x;
    const int64_t shp[3] = {1, 8, 8};
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &x), NEON_OK);
    conv_branch_add(g, "a", x, w);
    set_composite(ctx, g);
    return g;
}

/* S seeds per sample in one batched pass == one neon_graph_relprop per
 * seed on the branch alone == S calls with one seed each. */
static void test_multiseed_equals_unit_by_unit(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 21);
    conv_branch wa = conv_weights(&r), wb = conv_weights(&r);
    int fa, fb;
    neon_graph *g = conv_matcher(ctx, &wa, &wb, &fa, &fb);
    neon_graph *ref = branch_graph(ctx, &wa);
    enum { N = 3, S = 7, K = 5, D = 64 };
    float *x = tu_rnd(&r, N * D, 0, 1), *y = tu_rnd(&r, N * D, 0, 1);
    float *seeds = tu_rnd(&r, N * S * K, -1, 1), *R = malloc(N * S * D * sizeof *R);
    float *R1 = malloc(D * sizeof *R1), *Rref = malloc(N * D * sizeof *Rref), out0[N];
    neon_tensor xs[2] = {{x, 4, {N, 1, 8, 8}}, {y, 4, {N, 1, 8, 8}}}, yv;
    assert_int_equal(neon_graph_forward_n(g, 2, xs, &yv), NEON_OK);
    memcpy(out0, yv.data, sizeof out0);
    assert_int_equal(neon_graph_relprop_seeds(g, fa, S, seeds, 0, R), NEON_OK);
    /* the forward cache survives: the same activations again */
    neon_tensor act;
    assert_int_equal(neon_graph_activation(g, neon_graph_output_id(g), &act), NEON_OK);
    tu_assert_close(act.data, out0, N, 0, 0, "cache restored");
    neon_tensor xr = {x, 4, {N, 1, 8, 8}};
    assert_int_equal(neon_graph_forward(ref, &xr, NULL), NEON_OK);
    for (int k = 0; k < S; k++) {
        float Rt[N * K];
        for (int n = 0; n < N; n++) memcpy(Rt + n * K, seeds + (n * S + k) * K, K * sizeof(float));
        assert_int_equal(neon_graph_relprop(ref, Rt), NEON_OK);
        neon_tensor rv;
        assert_int_equal(neon_graph_relevance(ref, neon_graph_input_id(ref, 0), &rv), NEON_OK);
        memcpy(Rref, rv.data, N * D * sizeof(float));
        for (int n = 0; n < N; n++) {
            tu_assert_close(R + (n * S + k) * D, Rref + n * D, D, 1e-6, 1e-4, "batched vs branch");
            /* the same seed alone through the multi-seed call of a one-sample forward */
            neon_tensor x1[2] = {{x + n * D, 4, {1, 1, 8, 8}}, {y + n * D, 4, {1, 1, 8, 8}}};
            assert_int_equal(neon_graph_forward_n(g, 2, x1, NULL), NEON_OK);
            assert_int_equal(neon_graph_relprop_seeds(g, fa, 1, seeds + (n * S + k) * K, 0, R1),
                             NEON_OK);
            tu_assert_close(R + (n * S + k) * D, R1, D, 1e-6, 1e-4, "batched vs one seed");
        }
    }
    /* the other input does not depend on the x branch: zero */
    assert_int_equal(neon_graph_forward_n(g, 2, xs, NULL), NEON_OK);
    assert_int_equal(neon_graph_relprop_seeds(g, fa, S, seeds, 1, R), NEON_OK);
    for (int i = 0; i < N * S * D; i++) assert_true(R[i] == 0.0f);
    free(x); free(y); free(seeds); free(R); free(R1); free(Rref);
    conv_free(&wa);
    conv_free(&wb);
    neon_graph_destroy(g);
    neon_graph_destroy(ref);
    neon_ctx_destroy(ctx);
}

/* More seeds per sample than a layer below has units: the seeds go down to
 * the 3-unit layer, one pass per unit runs from there, and a GEMM combines
 * them; equal to one relprop per seed. */
static void test_multiseed_factorized(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 41);
    enum { N = 2, S = 12, D = 8 };
    float *W1 = tu_rnd(&r, 16 * D, -1, 1), *b1 = tu_rnd(&r, 16, -0.2f, 0.2f);
    float *W2 = tu_rnd(&r, 3 * 16, -1, 1), *W3 = tu_rnd(&r, 12 * 3, -1, 1), *b3 = tu_rnd(&r, 12, -0.2f, 0.2f);
    neon_graph *g;
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    int x, id;
    const int64_t shp[1] = {D};
    assert_int_equal(neon_graph_add_input(g, "x", 1, shp, &x), NEON_OK);
    id = tu_mlp_branch(g, "a", x, 16, 3, W1, b1, W2, NULL);
    assert_int_equal(neon_graph_add_relu(g, "r2", id, &id), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "top", id, 12, W3, b3, &id), NEON_OK);
    tu_set_uniform(ctx, g, NEON_RULE_EPSILON);
    float *x0 = tu_rnd(&r, N * D, -1, 1), *seeds = tu_rnd(&r, N * S * 12, -1, 1);
    float R[N * S * D], Rt[N * 12];
    neon_tensor xt = {x0, 2, {N, D}};
    assert_int_equal(neon_graph_forward(g, &xt, NULL), NEON_OK);
    assert_int_equal(neon_graph_relprop_seeds(g, id, S, seeds, 0, R), NEON_OK);
    for (int k = 0; k < S; k++) {
        for (int n = 0; n < N; n++) memcpy(Rt + n * 12, seeds + (n * S + k) * 12, 12 * sizeof(float));
        assert_int_equal(neon_graph_relprop(g, Rt), NEON_OK);
        neon_tensor rv;
        assert_int_equal(neon_graph_relevance(g, x, &rv), NEON_OK);
        for (int n = 0; n < N; n++)
            tu_assert_close(R + (n * S + k) * D, rv.data + n * D, D, 1e-5, 1e-4, "factorized");
    }
    free(W1); free(b1); free(W2); free(W3); free(b3); free(x0); free(seeds);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- the BiLRP driver ---------------------------------------------------------- */

static float stabf(float z) { return z >= 0 ? z + 1e-6f : z - 1e-6f; }

/* BiLRP of the conv matcher == the formula of RULES.md 8 evaluated with
 * one ordinary relprop per unit on each branch alone; batched == per
 * sample; small virtual batches (units split into groups) == default;
 * pooled == pooling of the full matrix; marginals == row/column sums. */
static void test_bilrp_driver(void **s)
{
    (void)s;
    neon_ctx *ctx = tu_ctx();
    tu_rng r;
    tu_seed(&r, 31);
    conv_branch wa = conv_weights(&r), wb = conv_weights(&r);
    int fa, fb;
    neon_graph *g = conv_matcher(ctx, &wa, &wb, &fa, &fb);
    neon_graph *ga = branch_graph(ctx, &wa), *gb = branch_graph(ctx, &wb);
    enum { N = 3, K = 5, D = 64 };
    float *x = tu_rnd(&r, N * D, 0, 1), *y = tu_rnd(&r, N * D, 0, 1);
    float *R = malloc(N * D * D * sizeof *R), *R2 = malloc(N * D * D * sizeof *R);
    float *Rx = malloc(N * D * sizeof *Rx), *Ry = malloc(N * D * sizeof *Ry);
    neon_tensor xs[2] = {{x, 4, {N, 1, 8, 8}}, {y, 4, {N, 1, 8, 8}}};
    neon_tensor Rt = {R, 3, {N, D, D}}, Rm[2] = {{Rx, 4, {N, 1, 8, 8}}, {Ry, 4, {N, 1, 8, 8}}};
    neon_explain_result res[N];
    neon_status st = neon_graph_bilrp(g, xs, NULL, NULL, &Rt, Rm, res);
    if (st) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    for (int n = 0; n < N; n++) {
        neon_tensor x1 = {x + n * D, 4, {1, 1, 8, 8}}, y1 = {y + n * D, 4, {1, 1, 8, 8}}, pa, pb;
        assert_int_equal(neon_graph_forward(ga, &x1, &pa), NEON_OK);
        assert_int_equal(neon_graph_forward(gb, &y1, &pb), NEON_OK);
        float phi[K], psi[K], score = 0;
        memcpy(phi, pa.data, sizeof phi);
        memcpy(psi, pb.data, sizeof psi);
        for (int k = 0; k < K; k++) score += phi[k] * psi[k];
        assert_true(fabsf(res[n].score - score) < 1e-5f * (1 + fabsf(score)));
        double want[D * D] = {0}, got[D * D];
        for (int k = 0; k < K; k++) {
            const float Rk = phi[k] * psi[k] * score / stabf(score); /* sum: z-rule */
            float sa[K] = {0}, sb[K] = {0}, RA[D], RB[D];
            sa[k] = phi[k];
            sb[k] = psi[k];
            neon_tensor v;
            assert_int_equal(neon_graph_relprop(ga, sa), NEON_OK);
            assert_int_equal(neon_graph_relevance(ga, 0, &v), NEON_OK);
            memcpy(RA, v.data, sizeof RA);
            assert_int_equal(neon_graph_relprop(gb, sb), NEON_OK);
            assert_int_equal(neon_graph_relevance(gb, 0, &v), NEON_OK);
            memcpy(RB, v.data, sizeof RB);
            for (int i = 0; i < D; i++)
                for (int j = 0; j < D; j++)
                    want[i * D + j] += (double)Rk * (RA[i] / stabf(phi[k])) * (RB[j] / stabf(psi[k]));
        }
        double tot = 0, mx[D] = {0}, my[D] = {0}, gx[D], gy[D];
        for (int i = 0; i < D * D; i++) {
            got[i] = R[n * D * D + i];
            tot += got[i];
            mx[i / D] += got[i];
            my[i % D] += got[i];
        }
        tu_assert_closed(got, want, D * D, 1e-6, 1e-3, "BiLRP vs per-unit passes");
        assert_true(fabs(tot - res[n].relevance_sum) < 1e-4);
        for (int i = 0; i < D; i++) {
            gx[i] = Rx[n * D + i];
            gy[i] = Ry[n * D + i];
        }
        tu_assert_closed(gx, mx, D, 1e-6, 1e-3, "marginal x");
        tu_assert_closed(gy, my, D, 1e-6, 1e-3, "marginal y");
    }
    /* per sample == batched; virtual batches of 2 (units split) == default */
    for (int n = 0; n < N; n++) {
        neon_tensor x1[2] = {{x + n * D, 4, {1, 1, 8, 8}}, {y + n * D, 4, {1, 1, 8, 8}}};
        neon_tensor R1 = {R2, 3, {1, D, D}};
        assert_int_equal(neon_graph_bilrp(g, x1, NULL, NULL, &R1, NULL, NULL), NEON_OK);
        tu_assert_close(R2, R + n * D * D, D * D, 1e-6, 1e-4, "per sample vs batched");
    }
    neon_bilrp_opts o = {NEON_INIT_VALUE, 0, 2};
    neon_tensor Rt2 = {R2, 3, {N, D, D}};
    assert_int_equal(neon_graph_bilrp(g, xs, NULL, &o, &Rt2, NULL, NULL), NEON_OK);
    tu_assert_close(R2, R, N * D * D, 1e-6, 1e-4, "max_batch 2 vs default");
    /* blocks of 3x3 pixels: 8x8 -> 3x3 grid */
    int64_t B1, B2;
    assert_int_equal(neon_graph_bilrp_dims(g, 3, &B1, &B2), NEON_OK);
    assert_true(B1 == 9 && B2 == 9);
    o.block = 3;
    o.max_batch = 0;
    neon_tensor Rp = {R2, 3, {N, 9, 9}};
    assert_int_equal(neon_graph_bilrp(g, xs, NULL, &o, &Rp, NULL, NULL), NEON_OK);
    for (int n = 0; n < N; n++) {
        float pooled[81];
        neon_pair_pool(R + n * D * D, 8, 8, 8, 8, 3, pooled);
        tu_assert_close(R2 + n * 81, pooled, 81, 1e-5, 1e-4, "pooled pairs");
        assert_true(fabs(tu_sum(pooled, 81) - tu_sum(R + n * D * D, D * D)) < 1e-4);
    }
    /* init one: R scales by 1 / score */
    o.block = 0;
    o.init = NEON_INIT_ONE;
    neon_explain_result r1[N];
    assert_int_equal(neon_graph_bilrp(g, xs, NULL, &o, &Rt2, NULL, r1), NEON_OK);
    for (int n = 0; n < N; n++)
        for (int i = 0; i < D * D; i += 37)
            assert_true(fabsf(R2[n * D * D + i] * res[n].score - R[n * D * D + i]) <
                        1e-4f * (1e-3f + fabsf(R[n * D * D + i])) + 1e-7f);
    free(x); free(y); free(R); free(R2); free(Rx); free(Ry);
    conv_free(&wa);
    conv_free(&wb);
    neon_graph_destroy(g);
    neon_graph_destroy(ga);
    neon_graph_destroy(gb);
    neon_ctx_destroy(ctx);
}

/* ---- allocation failures ------------------------------------------------------------ */

typedef tu_counting counting;

/* Failing the n-th allocation of a BiLRP call (with marginals, through the
 * factorized path: 7 slots per sample above a 5-unit layer), for every n:
 * NEON_ERR_NOMEM, nothing leaked, and the graph still gives the right
 * answer afterwards. */
static void test_alloc_failures(void **s)
{
    (void)s;
    counting c = {0, 0, 0};
    neon_allocator a = tu_counting_allocator(&c);
    neon_ctx *ctx;
    assert_int_equal(neon_ctx_create(&ctx, &a), NEON_OK);
    neon_ctx_set_log(ctx, NULL, NEON_LOG_ERROR, NULL);
    tu_rng r;
    tu_seed(&r, 51);
    conv_branch wa = conv_weights(&r), wb = conv_weights(&r);
    int fa, fb;
    neon_graph *g = conv_matcher(ctx, &wa, &wb, &fa, &fb);
    enum { N = 2, D = 64, S = 7 };
    float *x = tu_rnd(&r, N * D, 0, 1), *y = tu_rnd(&r, N * D, 0, 1);
    float *R = malloc(N * D * D * sizeof *R), *Rref = malloc(N * D * D * sizeof *R);
    float *Rx = malloc(N * D * sizeof *Rx), *Ry = malloc(N * D * sizeof *Ry);
    float *seeds = tu_rnd(&r, N * S * 5, -1, 1), *Rs = malloc(N * S * D * sizeof *Rs);
    neon_tensor xs[2] = {{x, 4, {N, 1, 8, 8}}, {y, 4, {N, 1, 8, 8}}};
    neon_tensor Rt = {R, 3, {N, D, D}}, Rm[2] = {{Rx, 4, {N, 1, 8, 8}}, {Ry, 4, {N, 1, 8, 8}}};
    assert_int_equal(neon_graph_bilrp(g, xs, NULL, NULL, &Rt, Rm, NULL), NEON_OK);
    memcpy(Rref, R, N * D * D * sizeof *R);
    int ok = 0;
    for (int64_t k = 1; !ok && k < 10000; k++) {
        const int64_t live = c.live;
        c.calls = 0;
        c.fail_at = k;
        neon_status st = neon_graph_bilrp(g, xs, NULL, NULL, &Rt, Rm, NULL);
        c.fail_at = 0;
        if (st != NEON_OK) {
            if (st != NEON_ERR_NOMEM) print_error("fail at %lld: %s\n", (long long)k, neon_errmsg(ctx));
            assert_int_equal(st, NEON_ERR_NOMEM);
        } else {
            ok = 1;
        }
        assert_int_equal(c.live, live); /* all scratch freed (graph buffers kept) */
    }
    assert_true(ok);
    tu_assert_close(R, Rref, N * D * D, 0, 0, "after the failures");
    /* the public multi-seed call, factorized (S = 7 seeds above 5 units) */
    assert_int_equal(neon_graph_forward_n(g, 2, xs, NULL), NEON_OK);
    ok = 0;
    for (int64_t k = 1; !ok && k < 10000; k++) {
        const int64_t live = c.live;
        c.calls = 0;
        c.fail_at = k;
        neon_status st = neon_graph_relprop_seeds(g, fa, S, seeds, 0, Rs);
        c.fail_at = 0;
        assert_true(st == NEON_OK || st == NEON_ERR_NOMEM);
        ok = st == NEON_OK;
        assert_int_equal(c.live, live);
    }
    assert_true(ok);
    free(x); free(y); free(R); free(Rref); free(Rx); free(Ry); free(seeds); free(Rs);
    conv_free(&wa);
    conv_free(&wb);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
    assert_int_equal(c.live, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multiseed_equals_unit_by_unit),
        cmocka_unit_test(test_multiseed_factorized),
        cmocka_unit_test(test_bilrp_driver),
        cmocka_unit_test(test_alloc_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
