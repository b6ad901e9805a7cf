/* LSTM explanations (RULES.md 7): the golden vectors of lstm-golden.md
 * through the ONNX importer, torch exports (one and two directions, one
 * and two layers, batch-first or time-major, heads by Gather, Slice and
 * h_n) against their torch outputs and an independent float64 reference of
 * the LRP_for_LSTM semantics (tests/data/make_lstm_fixtures.py),
 * conservation without biases, gates that receive nothing, batched ==
 * per-sample, the gather node, refused models, and the shipped model. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/io.h"
#include "neonlrp/lstm.h"
#include "neonlrp/onnx.h"
#include "neonlrp/rules.h"

static const char *fixture(char *buf, size_t n, const char *name, const char *ext)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/data/lstm/%s%s", name, ext);
    return tu_src_path(buf, n, rel);
}

static neon_graph *load(neon_ctx *ctx, const char *path)
{
    neon_graph *g = NULL;
    neon_status st = neon_onnx_load(ctx, path, &g);
    if (st != NEON_OK) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    return g;
}

/* What `neon explain` sets by default: the epsilon-plus composite, whose
 * dense layers get epsilon 1e-3 in graphs with LSTM cells (the reference
 * settings; the cells bring their own rule). */
static void reference_rules(neon_graph *g)
{
    neon_rules *r;
    neon_ctx *ctx = neon_graph_ctx(g);
    assert_int_equal(neon_rules_create(ctx, &r), NEON_OK);
    assert_int_equal(neon_rules_set_composite(r, "epsilon-plus"), NEON_OK);
    neon_status st = neon_graph_set_rules(g, r);
    if (st != NEON_OK) print_error("%s\n", neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    neon_rules_destroy(r);
}

static int find_kind(const neon_graph *g, const char *kind, int nth)
{
    neon_node_info info;
    for (int i = 0; i < neon_graph_num_nodes(g); i++) {
        assert_int_equal(neon_graph_node_info(g, i, &info), NEON_OK);
        if (!strcmp(info.kind, kind) && nth-- == 0) return i;
    }
    return -1;
}

/* ---- golden vectors -------------------------------------------------------- */

static const float golden_x[12] = {-0.6181371122f, 0.8591618149f,  0.3967405731f,
                                   0.9059547423f,  0.3031183567f,  -0.9840650051f,
                                   -0.9999902066f, 0.1332320414f,  0.9656577765f,
                                   0.8947911721f,  -0.5580522713f, -0.7509872468f};
static const double golden_s[3] = {0.1247742821, 0.1386731374, 0.0476269269};
static const double golden_R[12] = {-0.0032049423, 0.0038384694,  -0.0025137940,
                                     0.0169261510,  0.0031426616,  0.0210145896,
                                     -0.0117482975, 0.0010376793,  -0.0132830343,
                                     0.0527137136,  -0.0169035032, 0.0501037629};

static void test_golden(void **state)
{
    (void)state;
    char p[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = load(ctx, fixture(p, sizeof p, "golden", ".onnx"));
    assert_true(find_kind(g, "lstm_cell", 0) >= 0);
    const int head = find_kind(g, "dense", 0);
    assert_true(find_kind(g, "dense_seq", 0) >= 0);
    /* no rules set: the library's default for LSTM graphs is the reference */
    neon_rule hr;
    assert_int_equal(neon_graph_node_rule(g, head, &hr), NEON_OK);
    assert_int_equal(hr.kind, NEON_RULE_EPSILON);
    assert_true(hr.epsilon == 1e-3f);
    float x[24], R[24];
    memcpy(x, golden_x, sizeof golden_x);
    memcpy(x + 12, golden_x, sizeof golden_x); /* two copies: batch of 2 */
    neon_tensor xt = {x, 3, {2, 4, 3}}, rt = {R, 3, {2, 4, 3}}, y;
    int tg[2] = {0, 0};
    neon_explain_result res[2];
    assert_int_equal(neon_graph_explain(g, &xt, tg, NULL, &rt, res), NEON_OK);
    assert_int_equal(neon_graph_forward(g, &xt, &y), NEON_OK);
    double s[3], r[12], worst = 0;
    for (int k = 0; k < 3; k++) s[k] = y.data[k];
    tu_assert_closed(s, golden_s, 3, 1e-7, 0, "golden scores");
    for (int n = 0; n < 2; n++) {
        for (int k = 0; k < 12; k++) {
            r[k] = R[n * 12 + k];
            worst = fabs(r[k] - golden_R[k]) > worst ? fabs(r[k] - golden_R[k]) : worst;
        }
        tu_assert_closed(r, golden_R, 12, 1e-7, 0, "golden relevance");
    }
    print_message("golden: max |R - table| = %.3g\n", worst);
    assert_true(fabs(res[0].relevance_sum - 0.1011234559) < 1e-7);
    assert_true(fabs(res[0].score - golden_s[0]) < 1e-7);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- torch exports ------------------------------------------------------- */

static void check_export(const char *name, int n_cells)
{
    char p[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = load(ctx, fixture(p, sizeof p, name, ".onnx"));
    assert_int_equal(find_kind(g, "lstm_cell", n_cells - 1) >= 0, 1);
    assert_int_equal(find_kind(g, "lstm_cell", n_cells), -1);
    neon_tensor x = {0}, e = {0}, rr = {0}, R = {0}, y;
    assert_int_equal(neon_npy_read(ctx, fixture(p, sizeof p, name, ".input.npy"), &x), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, fixture(p, sizeof p, name, ".expected.npy"), &e), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, fixture(p, sizeof p, name, ".relevance.npy"), &rr), NEON_OK);
    neon_status st = neon_graph_forward(g, &x, &y);
    if (st != NEON_OK) print_error("%s: %s\n", name, neon_errmsg(ctx));
    assert_int_equal(st, NEON_OK);
    tu_assert_close(y.data, e.data, neon_tensor_numel(&e), 2e-6, 1e-5, name);
    reference_rules(g);
    assert_int_equal(neon_tensor_alloc(ctx, &R, x.ndim, x.shape), NEON_OK);
    int tg[3] = {0, 0, 0};
    assert_int_equal(neon_graph_explain(g, &x, tg, NULL, &R, NULL), NEON_OK);
    tu_assert_close(R.data, rr.data, neon_tensor_numel(&rr), 1e-6, 1e-4, name);
    /* batched == per-sample */
    const int64_t per = neon_tensor_numel(&x) / x.shape[0];
    for (int64_t n = 0; n < x.shape[0]; n++) {
        float r1[256];
        neon_tensor x1 = x, r1t = {r1, x.ndim, {0}};
        memcpy(r1t.shape, x.shape, sizeof r1t.shape);
        x1.data = x.data + n * per;
        x1.shape[0] = r1t.shape[0] = 1;
        assert_true(per <= 256);
        assert_int_equal(neon_graph_explain(g, &x1, tg, NULL, &r1t, NULL), NEON_OK);
        tu_assert_close(r1, R.data + n * per, per, 1e-7, 1e-5, "batched == per-sample");
    }
    neon_tensor_free(ctx, &x);
    neon_tensor_free(ctx, &e);
    neon_tensor_free(ctx, &rr);
    neon_tensor_free(ctx, &R);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* initial states h0 = c0 = 0.3 from a ConstantOfShape over the batch */
static void test_initial_state(void **s) { (void)s; check_export("init_state", 1); }
static void test_uni(void **s) { (void)s; check_export("uni", 1); }
static void test_seqfirst(void **s) { (void)s; check_export("seqfirst", 1); }
static void test_hn_nobias(void **s) { (void)s; check_export("hn_nobias", 1); }
static void test_slice_head(void **s) { (void)s; check_export("slice", 1); }
/* bidirectional: the input relevance is the sum of both directions' */
static void test_bidi(void **s) { (void)s; check_export("bidi", 2); }
static void test_bidi_two_layers(void **s) { (void)s; check_export("bidi2_last", 4); }
static void test_stacked_seqfirst(void **s) { (void)s; check_export("stack2_seqfirst", 4); }

/* ---- properties on graphs built with the API -------------------------------- */

/* x (T, F) -> LSTM (dirs) [-> gather of the last step] -> dense (C, no bias) */
static neon_graph *random_lstm(neon_ctx *ctx, int64_t T, int64_t F, int64_t H, int dirs,
                               int biases, uint64_t seed, int *proj)
{
    tu_rng r;
    tu_seed(&r, seed);
    const int64_t D = dirs, C = 3;
    float *W = malloc(sizeof(float) * (size_t)(D * 4 * H * F));
    float *Rw = malloc(sizeof(float) * (size_t)(D * 4 * H * H));
    float *B = malloc(sizeof(float) * (size_t)(D * 8 * H));
    float *Wo = malloc(sizeof(float) * (size_t)(C * D * H));
    tu_fill(&r, W, D * 4 * H * F, -0.8f, 0.8f);
    tu_fill(&r, Rw, D * 4 * H * H, -0.8f, 0.8f);
    tu_fill(&r, B, D * 8 * H, -0.5f, 0.5f);
    tu_fill(&r, Wo, C * D * H, -1.0f, 1.0f);
    neon_graph *g;
    int in, l, last, flat, out;
    const int64_t shp[2] = {T, F}, t1 = T - 1, fl = D * H;
    neon_lstm_params p = {H, dirs, 0, W, Rw, biases ? B : NULL, NULL, NULL};
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 2, shp, &in), NEON_OK);
    assert_int_equal(neon_graph_add_lstm(g, "lstm", in, &p, &l), NEON_OK);
    assert_int_equal(neon_graph_add_gather(g, "last", l, 0, 1, &t1, &last), NEON_OK);
    assert_int_equal(neon_graph_add_reshape(g, "flat", last, 1, &fl, &flat), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "head", flat, C, Wo, NULL, &out), NEON_OK);
    *proj = neon_graph_find(g, "lstm.x");
    free(W);
    free(Rw);
    free(B);
    free(Wo);
    return g;
}

/* zero biases, zero initial states, eps -> 0: sum_i R_i = f_c(x) */
static void test_conservation(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    for (int dirs = 1; dirs <= 2; dirs++) {
        int proj;
        neon_graph *g = random_lstm(ctx, 7, 4, 5, dirs, 0, 11 + (uint64_t)dirs, &proj);
        neon_rule lrp0 = neon_rule_default(NEON_RULE_LRP0);
        lrp0.stabilizer = 1e-12f;
        neon_rules *r;
        assert_int_equal(neon_rules_create(ctx, &r), NEON_OK);
        assert_int_equal(neon_rules_set_uniform(r, &lrp0), NEON_OK);
        assert_int_equal(neon_graph_set_rules(g, r), NEON_OK);
        for (int i = 0; i < neon_graph_num_nodes(g); i++) {
            neon_node_info info;
            assert_int_equal(neon_graph_node_info(g, i, &info), NEON_OK);
            if (!strcmp(info.kind, "lstm_cell")) assert_int_equal(neon_graph_set_lstm_eps(g, i, 1e-12f), NEON_OK);
        }
        tu_rng rg;
        tu_seed(&rg, 5);
        float x[4 * 28], R[4 * 28];
        tu_fill(&rg, x, 4 * 28, -1, 1);
        neon_tensor xt = {x, 3, {4, 7, 4}}, rt = {R, 3, {4, 7, 4}};
        neon_explain_result res[4];
        assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, res), NEON_OK);
        for (int n = 0; n < 4; n++) {
            const double err = fabs(res[n].relevance_sum - res[n].score);
            if (err > 1e-4 * (1 + fabs(res[n].score)))
                print_error("dirs %d sample %d: sum %.9g, score %.9g\n", dirs, n,
                            (double)res[n].relevance_sum, (double)res[n].score);
            assert_true(err <= 1e-4 * (1 + fabs(res[n].score)));
        }
        /* gates receive nothing: the projection's i, o, f rows */
        neon_tensor rp;
        assert_int_equal(neon_graph_relevance(g, proj, &rp), NEON_OK);
        const int64_t H = 5;
        double gsum = 0;
        for (int64_t k = 0; k < 4 * 7; k++)
            for (int64_t j = 0; j < 4 * H; j++) {
                const float v = rp.data[k * 4 * H + j];
                if (j < 3 * H) assert_true(v == 0.0f);
                else gsum += fabs(v);
            }
        assert_true(gsum > 0);
        neon_rules_destroy(r);
        neon_graph_destroy(g);
    }
    neon_ctx_destroy(ctx);
}

/* the projection's rule does not change the result: the cell compensates
 * the stabilizer the projection divides by (lstm.h) */
static void test_projection_rule_invariance(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    int proj;
    neon_graph *g = random_lstm(ctx, 6, 3, 4, 1, 1, 21, &proj);
    float x[2 * 18], R1[2 * 18], R2[2 * 18];
    tu_rng rg;
    tu_seed(&rg, 9);
    tu_fill(&rg, x, 36, -1, 1);
    neon_tensor xt = {x, 3, {2, 6, 3}}, r1 = {R1, 3, {2, 6, 3}}, r2 = {R2, 3, {2, 6, 3}};
    neon_rules *r;
    assert_int_equal(neon_rules_create(ctx, &r), NEON_OK);
    neon_rule e = neon_rule_default(NEON_RULE_EPSILON);
    e.epsilon = 1e-3f;
    assert_int_equal(neon_rules_set_uniform(r, &e), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, r), NEON_OK);
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &r1, NULL), NEON_OK);
    e.epsilon = 0.25f;
    assert_int_equal(neon_rules_set_node(r, "lstm.x", &e), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, r), NEON_OK);
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &r2, NULL), NEON_OK);
    tu_assert_close(R2, R1, 36, 1e-7, 1e-5, "projection epsilon");
    neon_rules_destroy(r);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* gather: forward picks, relprop routes (repeats add up), naive check */
static void test_gather_node(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_graph *g;
    int in, ga;
    const int64_t shp[3] = {3, 4, 2}, idx[3] = {3, 0, 3};
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &in), NEON_OK);
    assert_int_equal(neon_graph_add_gather(g, "g", in, 1, 3, idx, &ga), NEON_OK);
    float x[2 * 24], Rt[2 * 18];
    for (int k = 0; k < 48; k++) x[k] = (float)k;
    for (int k = 0; k < 36; k++) Rt[k] = (float)(k % 5) - 1.0f;
    neon_tensor xt = {x, 4, {2, 3, 4, 2}}, y, rel;
    assert_int_equal(neon_graph_forward(g, &xt, &y), NEON_OK);
    assert_int_equal(y.shape[2], 3);
    float want[48] = {0};
    for (int n = 0; n < 2; n++)
        for (int a = 0; a < 3; a++)
            for (int j = 0; j < 3; j++)
                for (int c = 0; c < 2; c++) {
                    const int o = ((n * 3 + a) * 3 + j) * 2 + c, s = ((n * 3 + a) * 4 + (int)idx[j]) * 2 + c;
                    assert_true(y.data[o] == x[s]);
                    want[s] += Rt[o];
                }
    assert_int_equal(neon_graph_relprop(g, Rt), NEON_OK);
    assert_int_equal(neon_graph_relevance(g, in, &rel), NEON_OK);
    tu_assert_close(rel.data, want, 48, 0, 0, "gather relprop");
    const int64_t bad = 4;
    assert_int_equal(neon_graph_add_gather(g, "bad", in, 1, 1, &bad, &ga), NEON_ERR_INVALID);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- refused models, shapes ------------------------------------------------------ */

static void expect_fail(const char *name, neon_status want, const char *needle)
{
    char p[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = NULL;
    neon_status st = neon_onnx_load(ctx, fixture(p, sizeof p, name, ".onnx"), &g);
    const char *msg = neon_errmsg(ctx);
    if (st != want || !strstr(msg, needle))
        print_error("%s: status %d, message: %s\n", name, (int)st, msg);
    assert_int_equal(st, want);
    assert_null(g);
    assert_non_null(strstr(msg, needle));
    assert_non_null(strstr(msg, "(op LSTM)"));
    neon_ctx_destroy(ctx);
}

static void test_refused(void **state)
{
    (void)state;
    expect_fail("bad_clip", NEON_ERR_UNSUPPORTED, "'lstm_clip' (op LSTM): attribute 'clip'");
    expect_fail("bad_act", NEON_ERR_UNSUPPORTED, "'lstm_act' (op LSTM): activations other than");
    expect_fail("bad_forget", NEON_ERR_UNSUPPORTED, "'lstm_forget' (op LSTM): input_forget");
    expect_fail("bad_peephole", NEON_ERR_UNSUPPORTED, "'lstm_peep' (op LSTM): peephole");
    expect_fail("bad_seqlen", NEON_ERR_UNSUPPORTED, "'lstm_lens' (op LSTM): sequence_lens");
    expect_fail("bad_yc", NEON_ERR_UNSUPPORTED, "'lstm_yc' (op LSTM): output 3");
    expect_fail("bad_layout", NEON_ERR_UNSUPPORTED, "'lstm_layout' (op LSTM): layout=1");
}

/* a dynamic sequence length is refused at import, naming the axis */
static void test_dynamic_length(void **state)
{
    (void)state;
    char p[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = NULL;
    assert_int_equal(neon_onnx_load(ctx, fixture(p, sizeof p, "bad_dynamic_t", ".onnx"), &g),
                     NEON_ERR_UNSUPPORTED);
    if (!strstr(neon_errmsg(ctx), "symbolic 'T'")) print_error("%s\n", neon_errmsg(ctx));
    assert_non_null(strstr(neon_errmsg(ctx), "symbolic 'T'"));
    assert_null(g);
    neon_ctx_destroy(ctx);
}

/* an input with another sequence length: a clear shape error */
static void test_wrong_length(void **state)
{
    (void)state;
    char p[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = load(ctx, fixture(p, sizeof p, "golden", ".onnx"));
    float x[15] = {0}, R[15];
    neon_tensor xt = {x, 3, {1, 5, 3}}, rt = {R, 3, {1, 5, 3}};
    assert_int_equal(neon_graph_explain(g, &xt, NULL, NULL, &rt, NULL), NEON_ERR_SHAPE);
    if (!strstr(neon_errmsg(ctx), "expected shape (1, 4, 3)")) print_error("%s\n", neon_errmsg(ctx));
    assert_non_null(strstr(neon_errmsg(ctx), "expected shape (1, 4, 3)"));
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- allocation failures: import, forward and explain may fail anywhere --------- */

typedef tu_counting counting;

static void test_alloc_failures(void **state)
{
    (void)state;
    static const char *const names[2] = {"bidi2_last", "stack2_seqfirst"};
    for (int m = 0; m < 2; m++) {
        char path[1024];
        fixture(path, sizeof path, names[m], ".onnx");
        float x[3 * 5 * 3] = {0}, R[3 * 5 * 3];
        int saw_ok = 0;
        long k = 1;
        for (; k < 20000 && !saw_ok; k++) {
            counting c = {0, 0, 0};
            neon_allocator a = tu_counting_allocator(&c);
            neon_ctx *ctx = NULL;
            assert_int_equal(neon_ctx_create(&ctx, &a), NEON_OK);
            c.fail_at = k;
            c.calls = 0;
            neon_graph *g = NULL;
            neon_status st = neon_onnx_load(ctx, path, &g);
            if (st == NEON_OK) {
                neon_node_info info;
                assert_int_equal(neon_graph_node_info(g, neon_graph_input_id(g, 0), &info), NEON_OK);
                neon_tensor xt = {x, 3, {3, info.shape[0], info.shape[1]}}, rt = xt;
                rt.data = R;
                st = neon_graph_explain(g, &xt, NULL, NULL, &rt, NULL);
                saw_ok = st == NEON_OK;
                neon_graph_destroy(g);
            } else {
                assert_null(g);
            }
            if (!saw_ok) assert_int_equal(st, NEON_ERR_NOMEM);
            neon_ctx_destroy(ctx);
            assert_int_equal(c.live, 0); /* nothing leaked on any path */
        }
        print_message("%s: succeeded once %ld allocations could succeed\n", names[m], k - 1);
        assert_true(saw_ok);
    }
}

/* ---- the shipped model ---------------------------------------------------------- */

static void test_shipped_model(void **state)
{
    (void)state;
    char p[1024];
    neon_ctx *ctx = tu_ctx();
    neon_graph *g = load(ctx, tu_src_path(p, sizeof p, "models/fmnist_lstm.onnx"));
    neon_tensor x = {0}, e = {0}, y, R = {0};
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, "models/fmnist_lstm.input.npy"), &x), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, "models/fmnist_lstm.logits.npy"), &e), NEON_OK);
    assert_int_equal(neon_graph_forward(g, &x, &y), NEON_OK);
    tu_assert_close(y.data, e.data, neon_tensor_numel(&e), 1e-4, 1e-4, "fmnist_lstm logits");
    reference_rules(g);
    assert_int_equal(neon_tensor_alloc(ctx, &R, x.ndim, x.shape), NEON_OK);
    neon_explain_result res[16];
    assert_int_equal(neon_graph_explain(g, &x, NULL, NULL, &R, res), NEON_OK);
    for (int n = 0; n < 16; n++) assert_true(isfinite(res[n].relevance_sum));
    neon_tensor_free(ctx, &x);
    neon_tensor_free(ctx, &e);
    neon_tensor_free(ctx, &R);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_uni),
        cmocka_unit_test(test_initial_state),
        cmocka_unit_test(test_seqfirst),
        cmocka_unit_test(test_hn_nobias),
        cmocka_unit_test(test_slice_head),
        cmocka_unit_test(test_bidi),
        cmocka_unit_test(test_bidi_two_layers),
        cmocka_unit_test(test_stacked_seqfirst),
        cmocka_unit_test(test_conservation),
        cmocka_unit_test(test_projection_rule_invariance),
        cmocka_unit_test(test_gather_node),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_wrong_length),
        cmocka_unit_test(test_dynamic_length),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_shipped_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
