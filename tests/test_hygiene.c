/* Library hygiene: independent contexts explaining in parallel threads
 * give bit-identical results to a sequential run, and allocation failures
 * anywhere in a whole explain (npy read, graph build through the API,
 * forward, rules, relprop; k-means and one-class SVM models from files)
 * return NEON_ERR_NOMEM without crashing or leaking: the allocator hook
 * fails the n-th allocation, for every n up to the total. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neonlrp/graph.h"
#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/onnx.h"
#include "neonlrp/rules.h"

/* ---- parallel contexts ----------------------------------------------------------- */

#define N_THREADS 4
#define N_REPEAT 2

typedef struct job {
    const char *model, *input;
    float *R;           /* out: relevance of the whole batch */
    int64_t numel;
    neon_explain_result res[64];
    neon_status st;
    char msg[256];
} job;

/* Everything on its own context: load, rules, explain (twice, so the
 * second pass reuses the planned buffers). */
static void *explain_job(void *arg)
{
    job *j = arg;
    neon_ctx *ctx = NULL;
    neon_graph *g = NULL;
    neon_rules *rules = NULL;
    neon_tensor X = {0}, R = {0};
    neon_status st = neon_ctx_create(&ctx, NULL);
    if (st == NEON_OK) st = neon_onnx_load(ctx, j->model, &g);
    if (st == NEON_OK) st = neon_npy_read(ctx, j->input, &X);
    if (st == NEON_OK) st = neon_tensor_alloc(ctx, &R, X.ndim, X.shape);
    if (st == NEON_OK) st = neon_rules_create(ctx, &rules);
    if (st == NEON_OK) st = neon_rules_set_composite(rules, "epsilon-gamma-box");
    if (st == NEON_OK) st = neon_rules_set_bounds(rules, 0.0f, 1.0f);
    if (st == NEON_OK && X.shape[0] > 64) st = NEON_ERR_SHAPE;
    for (int rep = 0; st == NEON_OK && rep < N_REPEAT; rep++) {
        neon_tensor y;
        st = neon_graph_forward(g, &X, &y);
        if (st == NEON_OK) st = neon_graph_set_rules(g, rules);
        if (st == NEON_OK) st = neon_graph_explain(g, &X, NULL, NULL, &R, j->res);
    }
    if (st == NEON_OK) {
        j->numel = neon_tensor_numel(&R);
        j->R = malloc((size_t)j->numel * sizeof(float));
        if (j->R) memcpy(j->R, R.data, (size_t)j->numel * sizeof(float));
        else st = NEON_ERR_NOMEM;
    }
    j->st = st;
    snprintf(j->msg, sizeof j->msg, "%s", ctx ? neon_errmsg(ctx) : "no context");
    neon_rules_destroy(rules);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &R);
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
    return NULL;
}

static void test_parallel_contexts(void **state)
{
    (void)state;
    char model[1024], input[1024];
    tu_src_path(model, sizeof model, "models/fmnist_cnn.onnx");
    tu_src_path(input, sizeof input, "models/fmnist_cnn.input.npy");
    if (access(model, R_OK) != 0) skip();
    job ref = {model, input, NULL, 0, {{0}}, NEON_OK, ""};
    explain_job(&ref); /* sequential reference */
    if (ref.st != NEON_OK) print_error("%s\n", ref.msg);
    assert_int_equal(ref.st, NEON_OK);
    job jobs[N_THREADS];
    pthread_t th[N_THREADS];
    for (int t = 0; t < N_THREADS; t++) {
        jobs[t] = (job){model, input, NULL, 0, {{0}}, NEON_OK, ""};
        assert_int_equal(pthread_create(&th[t], NULL, explain_job, &jobs[t]), 0);
    }
    for (int t = 0; t < N_THREADS; t++) assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < N_THREADS; t++) {
        if (jobs[t].st != NEON_OK) print_error("thread %d: %s\n", t, jobs[t].msg);
        assert_int_equal(jobs[t].st, NEON_OK);
        assert_int_equal(jobs[t].numel, ref.numel);
        /* bit-identical: same bytes, not just close */
        assert_memory_equal(jobs[t].R, ref.R, (size_t)ref.numel * sizeof(float));
        assert_memory_equal(jobs[t].res, ref.res, sizeof ref.res);
        free(jobs[t].R);
    }
    free(ref.R);
}

/* ---- failing allocator ------------------------------------------------------------ */

typedef tu_counting counting;

/* One whole job on a context with the counting allocator. */
typedef neon_status (*pipeline_fn)(neon_ctx *ctx, const void *arg);

/* Runs fn on a fresh context whose allocator fails call fail_at. */
static neon_status run_counted(pipeline_fn fn, const void *arg, long fail_at, counting *c)
{
    *c = (counting){0, 0, fail_at};
    neon_allocator a = tu_counting_allocator(c);
    neon_ctx *ctx = NULL;
    neon_status st = neon_ctx_create(&ctx, &a);
    if (st != NEON_OK) {
        assert_null(ctx);
        return st;
    }
    st = fn(ctx, arg);
    if (st == NEON_ERR_NOMEM) assert_int_equal(neon_errcode(ctx), NEON_ERR_NOMEM);
    if (st != NEON_OK) assert_true(neon_errmsg(ctx)[0] != '\0');
    neon_ctx_destroy(ctx);
    return st;
}

/* The sweep: count the allocations of a clean run, then fail each one. */
static void sweep(pipeline_fn fn, const void *arg, const char *what)
{
    counting c;
    assert_int_equal(run_counted(fn, arg, 0, &c), NEON_OK);
    assert_int_equal(c.live, 0);
    const long total = c.calls;
    assert_true(total > 2);
    for (long n = 1; n <= total + 1; n++) {
        neon_status st = run_counted(fn, arg, n, &c);
        if (n <= total && st != NEON_ERR_NOMEM)
            print_error("%s: allocation %ld of %ld failed, status %d\n", what, n, total, (int)st);
        assert_int_equal(st, n <= total ? NEON_ERR_NOMEM : NEON_OK);
        if (c.live != 0) print_error("%s: allocation %ld failed: %ld blocks leaked\n", what, n, c.live);
        assert_int_equal(c.live, 0);
    }
    print_message("%s: %ld allocations, each failed once\n", what, total);
}

typedef struct explain_arg {
    const char *npy;    /* (N, 1, 8, 8) input */
    neon_head head;
    const char *composite;
} explain_arg;

/* npy read -> a small CNN built through the API (conv, batch norm that
 * folds, relu, max-pool, flatten, dense, relu, residual add, dense) ->
 * forward -> rules -> explain (forward + relprop). */
static neon_status explain_pipeline(neon_ctx *ctx, const void *p)
{
    const explain_arg *ea = p;
    neon_tensor X = {0}, R = {0};
    neon_graph *g = NULL;
    neon_rules *rules = NULL;
    tu_rng r;
    tu_seed(&r, 11);
    float W1[4 * 1 * 3 * 3], b1[4], sc[4], bb[4], mu[4], var[4], W2[8 * 64], b2[8], W3[8 * 8],
        W4[3 * 8], b4[3];
    tu_fill(&r, W1, 36, -1, 1);
    tu_fill(&r, b1, 4, -0.1f, 0.1f);
    tu_fill(&r, sc, 4, 0.5f, 1.5f);
    tu_fill(&r, bb, 4, -0.1f, 0.1f);
    tu_fill(&r, mu, 4, -0.1f, 0.1f);
    tu_fill(&r, var, 4, 0.5f, 1.5f);
    tu_fill(&r, W2, 8 * 64, -0.3f, 0.3f);
    tu_fill(&r, b2, 8, -0.1f, 0.1f);
    tu_fill(&r, W3, 64, -0.3f, 0.3f);
    tu_fill(&r, W4, 24, -0.3f, 0.3f);
    tu_fill(&r, b4, 3, -0.1f, 0.1f);
    const int64_t in_shape[3] = {1, 8, 8}, flat[1] = {64};
    neon_conv2d_params cp = {.kernel_h = 3, .kernel_w = 3, .pad_top = 1, .pad_left = 1,
                             .pad_bottom = 1, .pad_right = 1};
    neon_pool2d_params pp = {.kernel_h = 2, .kernel_w = 2};
    int x, c, bn, r1, mp, fl, d2, r2, d3, ad, d4;
    neon_status st = neon_npy_read(ctx, ea->npy, &X);
    if (st == NEON_OK) st = neon_tensor_alloc(ctx, &R, X.ndim, X.shape);
    if (st == NEON_OK) st = neon_graph_create(ctx, &g);
    if (st == NEON_OK) st = neon_graph_add_input(g, "x", 3, in_shape, &x);
    if (st == NEON_OK) st = neon_graph_add_conv2d(g, "conv", x, 4, &cp, W1, b1, &c);
    if (st == NEON_OK) st = neon_graph_add_batchnorm(g, "bn", c, sc, bb, mu, var, 1e-5f, &bn);
    if (st == NEON_OK) st = neon_graph_add_relu(g, "relu1", bn, &r1);
    if (st == NEON_OK) st = neon_graph_add_maxpool2d(g, "pool", r1, &pp, &mp);
    if (st == NEON_OK) st = neon_graph_add_reshape(g, "flat", mp, 1, flat, &fl);
    if (st == NEON_OK) st = neon_graph_add_dense(g, "fc1", fl, 8, W2, b2, &d2);
    if (st == NEON_OK) st = neon_graph_add_relu(g, "relu2", d2, &r2);
    if (st == NEON_OK) st = neon_graph_add_dense(g, "fc2", r2, 8, W3, NULL, &d3);
    const int add_in[2] = {d3, r2};
    if (st == NEON_OK) st = neon_graph_add_add(g, "res", 2, add_in, &ad);
    if (st == NEON_OK) st = neon_graph_add_dense(g, "out", ad, 3, W4, b4, &d4);
    if (st == NEON_OK) st = neon_rules_create(ctx, &rules);
    if (st == NEON_OK) st = neon_rules_set_composite(rules, ea->composite);
    if (st == NEON_OK) st = neon_rules_set_bounds(rules, 0.0f, 1.0f);
    neon_tensor y;
    if (st == NEON_OK) st = neon_graph_forward(g, &X, &y);
    if (st == NEON_OK) st = neon_graph_set_rules(g, rules);
    neon_explain_opts o = {NEON_INIT_VALUE, ea->head};
    neon_explain_result res[4];
    if (st == NEON_OK) st = neon_graph_explain(g, &X, NULL, &o, &R, res);
    neon_rules_destroy(rules);
    neon_graph_destroy(g);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &R);
    return st;
}

static const char *write_input(char *path, size_t n)
{
    snprintf(path, n, "hygiene_input_%ld.npy", (long)getpid());
    neon_ctx *ctx = tu_ctx();
    const int64_t s[4] = {4, 1, 8, 8};
    neon_tensor t;
    assert_int_equal(neon_tensor_alloc(ctx, &t, 4, s), NEON_OK);
    tu_rng r;
    tu_seed(&r, 3);
    tu_fill(&r, t.data, 4 * 64, 0.0f, 1.0f);
    assert_int_equal(neon_npy_write(ctx, path, &t), NEON_OK);
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
    return path;
}

static void test_alloc_sweep_explain(void **state)
{
    (void)state;
    char path[256];
    explain_arg ea = {write_input(path, sizeof path), NEON_HEAD_LOGIT, "epsilon-gamma-box"};
    sweep(explain_pipeline, &ea, "explain (logit, epsilon-gamma-box)");
    ea.head = NEON_HEAD_LOGODDS;
    ea.composite = "epsilon-alpha2-beta1-flat";
    sweep(explain_pipeline, &ea, "explain (log-odds, epsilon-alpha2-beta1-flat)");
    unlink(path);
}

/* k-means: model file -> graph -> explain of npy data. */
typedef struct km_arg {
    const char *model, *npy;
} km_arg;

static neon_status kmeans_pipeline(neon_ctx *ctx, const void *p)
{
    const km_arg *ka = p;
    neon_kmeans *km = NULL;
    neon_graph *g = NULL;
    neon_tensor X = {0}, R = {0};
    neon_status st = neon_kmeans_load(ctx, ka->model, &km);
    if (st == NEON_OK) st = neon_npy_read(ctx, ka->npy, &X);
    if (st == NEON_OK) st = neon_tensor_alloc(ctx, &R, X.ndim, X.shape);
    if (st == NEON_OK) st = neon_kmeans_graph(ctx, km, 1.0f, -1, 3, X.shape + 1, &g);
    if (st == NEON_OK) st = neon_graph_explain(g, &X, NULL, NULL, &R, NULL);
    neon_graph_destroy(g);
    neon_kmeans_destroy(km);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &R);
    return st;
}

static void test_alloc_sweep_kmeans(void **state)
{
    (void)state;
    char path[256], model[256];
    km_arg ka = {model, write_input(path, sizeof path)};
    snprintf(model, sizeof model, "hygiene_model_%ld.neonkm", (long)getpid());
    neon_ctx *ctx = tu_ctx();
    neon_tensor X;
    assert_int_equal(neon_npy_read(ctx, path, &X), NEON_OK);
    neon_kmeans_fit_opts o = {.k = 3, .seed = 1, .n_init = 1, .pca = 5};
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_OK);
    assert_int_equal(neon_kmeans_save(ctx, km, model), NEON_OK);
    neon_kmeans_destroy(km);
    neon_tensor_free(ctx, &X);
    neon_ctx_destroy(ctx);
    sweep(kmeans_pipeline, &ka, "k-means (PCA) load + explain");
    unlink(path);
    unlink(model);
}

#ifdef NEON_WITH_LIBSVM
static neon_status ocsvm_pipeline(neon_ctx *ctx, const void *p)
{
    neon_ocsvm *m = NULL;
    neon_graph *g = NULL;
    float x[2 * 3] = {0.5f, 0, 1, -1, 0.25f, 0};
    float r[6];
    neon_tensor X = {x, 2, {2, 3}}, R = {r, 2, {2, 3}};
    neon_status st = neon_ocsvm_load(ctx, p, &m);
    if (st == NEON_OK) st = neon_ocsvm_graph(ctx, m, 1, X.shape + 1, &g);
    if (st == NEON_OK) st = neon_graph_explain(g, &X, NULL, NULL, &R, NULL);
    double dec[2];
    if (st == NEON_OK) st = neon_ocsvm_decision(ctx, m, &X, dec);
    neon_graph_destroy(g);
    neon_ocsvm_destroy(m);
    return st;
}

static void test_alloc_sweep_ocsvm(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "hygiene_model_%ld.libsvm", (long)getpid());
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 3\nrho 0.25\nSV\n"
          "0.5 1:0.5 3:1 \n0.25 2:-1 \n0.25 1:1 2:1 3:0.5 \n", f);
    fclose(f);
    sweep(ocsvm_pipeline, path, "one-class SVM load + explain + decision");
    unlink(path);
}
#endif

/* IDX (gzip) read on its own: the inflate buffers go through the hook too. */
static neon_status idx_pipeline(neon_ctx *ctx, const void *p)
{
    neon_tensor t = {0};
    neon_status st = neon_idx_read(ctx, p, 1.0f / 255.0f, &t);
    neon_tensor_free(ctx, &t);
    return st;
}

static void test_alloc_sweep_idx(void **state)
{
    (void)state;
    char path[1024];
    tu_src_path(path, sizeof path, "fuzz/seeds/idx/images2.idx.gz");
    sweep(idx_pipeline, path, "IDX gzip read");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parallel_contexts),
        cmocka_unit_test(test_alloc_sweep_explain),
        cmocka_unit_test(test_alloc_sweep_kmeans),
#ifdef NEON_WITH_LIBSVM
        cmocka_unit_test(test_alloc_sweep_ocsvm),
#endif
        cmocka_unit_test(test_alloc_sweep_idx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
