/* Region perturbation, whole runs: bit-identical results for any number
 * of threads (graphs), CSV and plot output, the error paths, and
 * allocation failures anywhere in a run (NEON_ERR_NOMEM, nothing leaked). */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/eval.h"
#include "neonlrp/io.h"

static neon_graph *small_cnn(neon_ctx *ctx, uint64_t seed)
{
    tu_rng r;
    tu_seed(&r, seed);
    float w1[36], b1[4], w2[3 * 64], b2[3];
    tu_fill(&r, w1, 36, -0.6f, 0.6f);
    tu_fill(&r, b1, 4, -0.1f, 0.1f);
    tu_fill(&r, w2, 3 * 64, -0.5f, 0.5f);
    tu_fill(&r, b2, 3, -0.1f, 0.1f);
    neon_graph *g;
    int id;
    const int64_t shp[3] = {1, 8, 8}, flat[1] = {64};
    neon_conv2d_params cp = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    neon_pool2d_params pp = {2, 2, 2, 2, 0, 0, 0, 0, 0, 0};
    assert_int_equal(neon_graph_create(ctx, &g), NEON_OK);
    assert_int_equal(neon_graph_add_input(g, "x", 3, shp, &id), NEON_OK);
    assert_int_equal(neon_graph_add_conv2d(g, "conv", id, 4, &cp, w1, b1, &id), NEON_OK);
    assert_int_equal(neon_graph_add_relu(g, "relu", id, &id), NEON_OK);
    assert_int_equal(neon_graph_add_maxpool2d(g, "pool", id, &pp, &id), NEON_OK);
    assert_int_equal(neon_graph_add_reshape(g, "flat", id, 1, flat, &id), NEON_OK);
    assert_int_equal(neon_graph_add_dense(g, "fc", id, 3, w2, b2, &id), NEON_OK);
    return g;
}

/* 19 random images (or the subset ids[0..n_ids), with those global ids). */
static neon_eval_result *run_cnn_ids(int n_graphs, int64_t batch, neon_head head,
                                     const int64_t *ids, int n_ids)
{
    neon_ctx *ctx[3];
    neon_graph *gs[3];
    for (int w = 0; w < n_graphs; w++) {
        ctx[w] = tu_ctx();
        gs[w] = small_cnn(ctx[w], 21);
        neon_ctx_set_threads(ctx[w], 1);
    }
    enum { N = 19 };
    float x[N * 64], xs[N * 64];
    tu_rng r;
    tu_seed(&r, 8);
    tu_fill(&r, x, N * 64, 0.0f, 1.0f);
    for (int i = 0; ids && i < n_ids; i++) memcpy(xs + 64 * i, x + 64 * ids[i], 64 * sizeof(float));
    neon_tensor xt = {ids ? xs : x, 4, {ids ? n_ids : N, 1, 8, 8}};
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx[0], &rs), NEON_OK);
    assert_int_equal(neon_rules_set_composite(rs, "epsilon-gamma-box"), NEON_OK);
    assert_int_equal(neon_rules_set_bounds(rs, 0, 1), NEON_OK);
    neon_eval_method m[4] = {{"egb", NEON_EVAL_LRP, rs, 0, 0, 0},
                             {"gradxinput", NEON_EVAL_GRADXINPUT, NULL, 0, 0, 0},
                             {"random", NEON_EVAL_RANDOM, NULL, 0, 0, 0},
                             {"occlusion", NEON_EVAL_OCCLUSION, NULL, 2, 1, 0.0f}};
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    o.region_h = o.region_w = 3; /* partial regions at the border */
    o.steps = 7;
    o.seed = 5;
    o.batch = batch;
    o.explain.head = head;
    o.low = 0;
    o.high = 1;
    o.sample_ids = ids;
    neon_eval_result *res = NULL;
    assert_int_equal(neon_eval_run(gs, n_graphs, 1, &xt, m, 4, &o, &res), NEON_OK);
    neon_rules_destroy(rs);
    for (int w = 0; w < n_graphs; w++) neon_graph_destroy(gs[w]);
    for (int w = 1; w < n_graphs; w++) neon_ctx_destroy(ctx[w]);
    res->ctx = ctx[0]; /* keep the allocator's ctx alive: freed by the caller */
    return res;
}

static neon_eval_result *run_cnn(int n_graphs, int64_t batch, neon_head head)
{
    return run_cnn_ids(n_graphs, batch, head, NULL, 0);
}

static void same_results(const neon_eval_result *a, const neon_eval_result *b)
{
    assert_int_equal(a->n_methods, b->n_methods);
    assert_int_equal(a->steps, b->steps);
    for (int i = 0; i < a->n_methods; i++)
        for (int o = 0; o < 3; o++) {
            assert_memory_equal(&a->methods[i].aopc[o], &b->methods[i].aopc[o], sizeof(double));
            assert_memory_equal(a->methods[i].curve[o], b->methods[i].curve[o],
                                (size_t)(a->steps + 1) * sizeof(float));
        }
}

static void free_result(neon_eval_result *r)
{
    neon_ctx *ctx = r->ctx;
    neon_eval_result_destroy(r);
    neon_ctx_destroy(ctx);
}

static void test_threads_identical(void **s)
{
    (void)s;
    for (int head = 0; head < 2; head++) {
        neon_eval_result *one = run_cnn(1, 4, (neon_head)head);
        neon_eval_result *two = run_cnn(2, 4, (neon_head)head);
        neon_eval_result *three = run_cnn(3, 4, (neon_head)head);
        same_results(one, two);
        same_results(one, three);
        assert_true(one->methods[0].aopc[0] != one->methods[2].aopc[0]);
        free_result(one);
        free_result(two);
        free_result(three);
    }
}

/* Two inputs (concat -> dense): input 0 is perturbed, input 1 held fixed. */
/* Groups of samples with their global ids, merged, give the run over all. */
static void test_groups_merge(void **s)
{
    (void)s;
    const int64_t even[10] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18};
    const int64_t odd[9] = {1, 3, 5, 7, 9, 11, 13, 15, 17};
    neon_eval_result *all = run_cnn(1, 4, NEON_HEAD_LOGIT);
    neon_eval_result *parts[2] = {run_cnn_ids(1, 4, NEON_HEAD_LOGIT, even, 10),
                                  run_cnn_ids(2, 3, NEON_HEAD_LOGIT, odd, 9)};
    neon_eval_result *m = NULL;
    assert_int_equal(neon_eval_result_merge(all->ctx, parts, 2, &m), NEON_OK);
    assert_int_equal(m->n_samples, 19);
    for (int i = 0; i < m->n_methods; i++)
        for (int o = 0; o < 3; o++) {
            const double a = all->methods[i].aopc[o], b = m->methods[i].aopc[o];
            const double sa = all->methods[i].sem[o], sb = m->methods[i].sem[o];
            if (fabs(a - b) > 1e-5 * (1 + fabs(a)) || fabs(sa - sb) > 1e-5 * (1 + sa))
                fail_msg("%s order %d: AOPC %.9g vs merged %.9g, sem %.9g vs %.9g",
                         m->methods[i].name, o, a, b, sa, sb);
            tu_assert_close(m->methods[i].curve[o], all->methods[i].curve[o], m->steps + 1,
                            1e-5, 1e-5, "merged curve");
        }
    parts[1]->steps--;
    neon_eval_result *bad = NULL;
    assert_int_equal(neon_eval_result_merge(all->ctx, parts, 2, &bad), NEON_ERR_INVALID);
    parts[1]->steps++;
    neon_eval_result_destroy(m);
    free_result(all);
    free_result(parts[0]);
    free_result(parts[1]);
}

static void test_outputs_and_errors(void **s)
{
    (void)s;
    neon_eval_result *res = run_cnn(1, 64, NEON_HEAD_LOGIT);
    neon_ctx *ctx = res->ctx;
    char csv[256], png[256];
    snprintf(csv, sizeof csv, "%s/eval_test.csv", NEON_BINARY_DIR);
    snprintf(png, sizeof png, "%s/eval_test.png", NEON_BINARY_DIR);
    assert_int_equal(neon_eval_write_csv(ctx, csv, res), NEON_OK);
    FILE *f = fopen(csv, "r");
    assert_non_null(f);
    char line[512];
    int rows = 0, header = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "method,order,step,", 18)) header++;
        else if (line[0] != '#') rows++;
    }
    fclose(f);
    assert_int_equal(header, 1);
    assert_int_equal(rows, 4 * 3 * (res->steps + 1));
    assert_int_equal(neon_eval_plot_png(ctx, png, res, NULL), NEON_OK);
    unsigned char hdr[24];
    f = fopen(png, "rb");
    assert_non_null(f);
    assert_int_equal(fread(hdr, 1, 24, f), 24);
    fclose(f);
    assert_memory_equal(hdr + 1, "PNG", 3);
    assert_true(hdr[16] == 0 && hdr[17] == 0 && hdr[18] * 256 + hdr[19] == 1320);
    remove(csv);
    remove(png);
    assert_int_equal(neon_eval_write_csv(ctx, "/nonexistent-dir/x.csv", res), NEON_ERR_IO);
    assert_int_equal(neon_eval_plot_png(ctx, "/nonexistent-dir/x.png", res, "t"), NEON_ERR_IO);
    free_result(res);

    ctx = tu_ctx();
    neon_graph *g = small_cnn(ctx, 1), *gs[2] = {g, g};
    float x[2 * 64];
    for (int i = 0; i < 128; i++) x[i] = 0.25f;
    neon_tensor xt = {x, 4, {2, 1, 8, 8}};
    neon_eval_method m = {"random", NEON_EVAL_RANDOM, NULL, 0, 0, 0};
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    neon_eval_result *r = NULL;
    assert_int_equal(neon_eval_run(&g, 1, 1, &xt, &m, 1, &o, &r), NEON_ERR_INVALID); /* constant */
    assert_non_null(strstr(neon_errmsg(ctx), "constant"));
    o.high = 1;
    o.steps = 17; /* 4 regions of 4x4 */
    assert_int_equal(neon_eval_run(&g, 1, 1, &xt, &m, 1, &o, &r), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "regions"));
    o.steps = 0;
    assert_int_equal(neon_eval_run(gs, 2, 1, &xt, &m, 1, &o, &r), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "own context"));
    neon_tensor wrong = {x, 4, {2, 1, 4, 16}};
    assert_int_equal(neon_eval_run(&g, 1, 1, &wrong, &m, 1, &o, &r), NEON_ERR_SHAPE);
    const int tg[2] = {0, 3};
    o.targets = tg;
    assert_int_equal(neon_eval_run(&g, 1, 1, &xt, &m, 1, &o, &r), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "out of range"));
    assert_null(r);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
}

/* ---- allocation failures ------------------------------------------------------ */

typedef struct fail_alloc {
    int armed;
    int64_t count, fail_at, live;
} fail_alloc;

static void *fa_alloc(size_t n, void *u)
{
    fail_alloc *f = u;
    if (f->armed && f->count++ == f->fail_at) return NULL;
    void *p = malloc(n);
    if (p) f->live++;
    return p;
}

static void *fa_realloc(void *p, size_t n, void *u)
{
    fail_alloc *f = u;
    if (f->armed && f->count++ == f->fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) f->live++;
    return q;
}

static void fa_free(void *p, void *u)
{
    fail_alloc *f = u;
    if (p) f->live--;
    free(p);
}

/* Every allocation of a whole run (targets, every method, curves, CSV,
 * plot) fails in turn: NEON_ERR_NOMEM, no crash, no leak; then it succeeds. */
static void test_allocation_failures(void **s)
{
    (void)s;
    char csv[256], png[256];
    snprintf(csv, sizeof csv, "%s/eval_nomem.csv", NEON_BINARY_DIR);
    snprintf(png, sizeof png, "%s/eval_nomem.png", NEON_BINARY_DIR);
    float x[3 * 64];
    tu_rng r;
    tu_seed(&r, 2);
    tu_fill(&r, x, 3 * 64, 0.0f, 1.0f);
    neon_tensor xt = {x, 4, {3, 1, 8, 8}};
    int done = 0;
    for (int64_t n = 0; !done && n < 100000; n++) {
        fail_alloc fa = {0, 0, n, 0};
        neon_allocator al = {fa_alloc, fa_realloc, fa_free, &fa};
        neon_ctx *ctx;
        assert_int_equal(neon_ctx_create(&ctx, &al), NEON_OK);
        neon_ctx_set_log(ctx, NULL, NEON_LOG_ERROR, NULL);
        neon_graph *g = small_cnn(ctx, 3);
        neon_rules *rs;
        assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
        assert_int_equal(neon_rules_set_composite(rs, "epsilon-gamma-box"), NEON_OK);
        assert_int_equal(neon_rules_set_bounds(rs, 0, 1), NEON_OK);
        neon_eval_method m[4] = {{"egb", NEON_EVAL_LRP, rs, 0, 0, 0},
                                 {"gradxinput", NEON_EVAL_GRADXINPUT, NULL, 0, 0, 0},
                                 {"random", NEON_EVAL_RANDOM, NULL, 0, 0, 0},
                                 {"occlusion", NEON_EVAL_OCCLUSION, NULL, 3, 0, 0}};
        neon_eval_opts o;
        memset(&o, 0, sizeof o);
        o.steps = 3;
        o.batch = 2;
        neon_eval_result *res = NULL;
        fa.armed = 1;
        neon_status st = neon_eval_run(&g, 1, 1, &xt, m, 4, &o, &res);
        if (st == NEON_OK) st = neon_eval_write_csv(ctx, csv, res);
        if (st == NEON_OK) st = neon_eval_plot_png(ctx, png, res, NULL);
        fa.armed = 0;
        if (st != NEON_OK) {
            if (st != NEON_ERR_NOMEM && st != NEON_ERR_IO) /* libpng's own allocations: IO */
                fail_msg("allocation %lld: status %d (%s)", (long long)n, (int)st, neon_errmsg(ctx));
        } else {
            done = 1;
            print_message("a run needs %lld allocations; each failure handled\n", (long long)n);
        }
        neon_eval_result_destroy(res);
        neon_rules_destroy(rs);
        neon_graph_destroy(g);
        neon_ctx_destroy(ctx);
        if (fa.live != 0) fail_msg("allocation %lld failed: %lld blocks leaked", (long long)n, (long long)fa.live);
    }
    assert_true(done);
    remove(csv);
    remove(png);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_groups_merge),
        cmocka_unit_test(test_outputs_and_errors),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
