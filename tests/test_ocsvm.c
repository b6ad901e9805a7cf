/* libsvm one-class SVMs: loading (svm-train and scikit-learn files), the
 * threshold and outlier decisions against svm_predict_values, the shipped
 * Fashion-MNIST model, fit/save/load, and every bad input. */
#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#ifdef NEON_WITH_LIBSVM
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"
#include "neonlrp/rules.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static char tmpdir[] = "/tmp/neon_ocsvm_XXXXXX";

static const char *tmp_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
    return buf;
}

static const char *write_file(const char *name, const char *text)
{
    static char buf[512];
    FILE *f = fopen(tmp_path(buf, sizeof buf, name), "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return buf;
}

static const char *GOLDEN = "svm_type one_class\nkernel_type rbf\ngamma 0.8\nnr_class 2\n"
                            "total_sv 3\nrho 0.5\nSV\n0.5 \n0.3 1:1 \n0.2 2:2 \n";

/* explains X with the model's graph; returns scores/relevance sums */
static void explain(neon_ctx *ctx, const neon_ocsvm *m, const neon_tensor *X, float *R,
                    neon_explain_result *res)
{
    neon_graph *g;
    assert_int_equal(neon_ocsvm_graph(ctx, m, X->ndim - 1, X->shape + 1, &g), NEON_OK);
    neon_tensor r = *X;
    r.data = R;
    if (neon_graph_explain(g, X, NULL, NULL, &r, res)) fail_msg("%s", neon_errmsg(ctx));
    neon_graph_destroy(g);
}

static void test_golden_file(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_ocsvm *m;
    assert_int_equal(neon_ocsvm_load(ctx, write_file("g.libsvm", GOLDEN), &m), NEON_OK);
    assert_int_equal(neon_ocsvm_num_sv(m), 3);
    assert_int_equal(neon_ocsvm_dim(m), 2);
    assert_true(fabs(neon_ocsvm_threshold(m) - (-log(0.5) / 0.8)) < 1e-12);
    float X[4] = {0.5f, 0.5f, 3, -1}, R[4];
    neon_tensor x = {X, 2, {2, 2}};
    neon_explain_result res[2];
    explain(ctx, m, &x, R, res);
    const double o_ref[2] = {0.7173774215, 6.4673546285};
    const double R_ref[4] = {0.3449010315, 0.3724763900, 5.1930026149, 1.2743520136};
    double dec[2];
    assert_int_equal(neon_ocsvm_decision(ctx, m, &x, dec), NEON_OK);
    for (int n = 0; n < 2; n++) {
        assert_true(fabs(res[n].score - o_ref[n]) <= 1e-6 * o_ref[n]);
        /* libsvm's decision value from the score: sum a exp(-gamma o) - rho */
        assert_true(fabs(dec[n] - (exp(-0.8 * o_ref[n]) - 0.5)) < 1e-9);
    }
    for (int i = 0; i < 4; i++) assert_true(fabs(R[i] - R_ref[i]) <= 5e-6 * R_ref[i]);
    int out[2];
    assert_int_equal(neon_ocsvm_outliers(ctx, m, &x, (float[]){res[0].score, res[1].score}, out, NULL),
                     NEON_OK);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 1);
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
}

/* scikit-learn's OneClassSVM exported to a libsvm file (sign conventions) */
static void test_sklearn_export(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[512];
    neon_ocsvm *m;
    neon_tensor X, ref;
    assert_int_equal(neon_ocsvm_load(ctx, tu_src_path(p, sizeof p, "tests/data/ocsvm/sk_ocsvm.libsvm"),
                                     &m), NEON_OK);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, "tests/data/ocsvm/sk_points.npy"), &X),
                     NEON_OK);
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, "tests/data/ocsvm/sk_decision.npy"),
                                   &ref), NEON_OK);
    const int64_t N = X.shape[0], D = X.shape[1];
    assert_int_equal(neon_ocsvm_dim(m), 7); /* feature 6 (index 5) is 0 everywhere, 7 is used */
    double *dec = malloc((size_t)N * sizeof *dec);
    float *R = malloc((size_t)(N * D) * sizeof *R), *sc = malloc((size_t)N * sizeof *sc);
    neon_explain_result *res = malloc((size_t)N * sizeof *res);
    int *out = malloc((size_t)N * sizeof *out);
    assert_int_equal(neon_ocsvm_decision(ctx, m, &X, dec), NEON_OK);
    explain(ctx, m, &X, R, res);
    const double g = neon_ocsvm_gamma(m), rho = neon_ocsvm_rho(m), A = neon_ocsvm_coef_sum(m);
    for (int64_t n = 0; n < N; n++) {
        sc[n] = res[n].score;
        assert_true(fabs(dec[n] - ref.data[n]) <= 1e-5 * (1 + fabs(ref.data[n])));
        /* o(x) = -(1/gamma) log((dec + rho) / sum a) where that is well conditioned */
        if (dec[n] + rho > 1e-3 * A) {
            const double o = -log((dec[n] + rho) / A) / g;
            assert_true(fabs(res[n].score - o) <= 1e-5 * (1 + fabs(o)));
        }
        /* conservative, except that a point equal to an SV (the last one) keeps
         * that SV's share: d_j = 0 leaves nothing to redistribute it by */
        if (n < N - 1)
            assert_true(fabs(res[n].relevance_sum - res[n].score) <= 2e-5 * res[n].score + 1e-6);
        else
            assert_true(res[n].relevance_sum <= res[n].score * (1 + 1e-6));
        assert_true(R[n * D + 5] == 0.0f); /* x_5 == u_5 == 0 for every SV */
    }
    assert_int_equal(neon_ocsvm_outliers(ctx, m, &X, sc, out, NULL), NEON_OK);
    for (int64_t n = 0; n < N; n++) assert_int_equal(out[n], dec[n] < 0);
    assert_true(sc[N - 1] >= 0); /* the last point is an SV */
    free(dec), free(R), free(sc), free(res), free(out);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &ref);
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
}

/* Support vectors of a libsvm model file as dense rows U (M, D) (calloc'ed),
 * and the features that are 0 in every one of them. */
static double *read_svs(const char *path, int D, int *M, int *zero)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char tok[64];
    int in_sv = 0, m = 0, cap = 1024;
    double *U = calloc((size_t)cap * D, sizeof *U);
    for (int i = 0; i < D; i++) zero[i] = 1;
    while (fscanf(f, "%63s", tok) == 1) {
        int idx;
        double v;
        if (!in_sv) in_sv = !strcmp(tok, "SV");
        else if (sscanf(tok, "%d:%lf", &idx, &v) == 2 && idx >= 1 && idx <= D) {
            U[(size_t)(m - 1) * D + idx - 1] = v;
            if (v != 0) zero[idx - 1] = 0;
        } else
            m++; /* a coefficient starts the next SV */
        assert_true(m <= cap);
    }
    fclose(f);
    *M = m;
    return U;
}

/* The shipped model on 1000 t10k images: decisions agree with libsvm on
 * every point, exact conservation, o >= min d, zero relevance where x and
 * every SV agree; far outliers stay finite and conservative. */
static void test_shipped_model(void **state)
{
    (void)state;
    if (access(FMNIST "t10k-images-idx3-ubyte.gz", R_OK) != 0) {
        print_message("Fashion-MNIST not installed; skipping\n");
        skip();
    }
    neon_ctx *ctx = tu_ctx();
    char p[512];
    neon_ocsvm *m;
    neon_tensor all;
    assert_int_equal(neon_ocsvm_load(ctx, tu_src_path(p, sizeof p, "models/fmnist_ocsvm.libsvm"), &m),
                     NEON_OK);
    assert_true(neon_ocsvm_num_sv(m) >= 500);
    int zero[784], M;
    double *U = read_svs(p, 784, &M, zero);
    assert_int_equal(M, neon_ocsvm_num_sv(m));
    assert_int_equal(neon_idx_read(ctx, FMNIST "t10k-images-idx3-ubyte.gz", 1.0f / 255, &all), NEON_OK);
    enum { N = 1000, D = 784 };
    neon_tensor X = {all.data, 2, {N, D}};
    float *R = malloc(sizeof(float) * N * D), sc[N];
    double dec[N];
    int out[N], n_out = 0, float_disagree = 0;
    neon_explain_result res[N];
    explain(ctx, m, &X, R, res);
    assert_int_equal(neon_ocsvm_decision(ctx, m, &X, dec), NEON_OK);
    for (int n = 0; n < N; n++) sc[n] = res[n].score;
    int64_t checked;
    assert_int_equal(neon_ocsvm_outliers(ctx, m, &X, sc, out, &checked), NEON_OK);
    int shared_cols = 0;
    for (int n = 0; n < N; n++) {
        assert_int_equal(out[n], dec[n] < 0);
        n_out += out[n];
        float_disagree += (sc[n] > neon_ocsvm_threshold(m)) != (dec[n] < 0);
        assert_true(fabs(res[n].relevance_sum - sc[n]) <= 1e-5 * sc[n]);
        for (int i = 0; i < D; i++) {
            assert_true(R[n * D + i] >= -1e-6 * sc[n]);
            if (X.data[n * D + i] == 0 && zero[i]) { /* x_i == u_ji for every SV */
                assert_true(R[n * D + i] == 0.0f);
                shared_cols++;
            }
        }
        if (n < 200) { /* o(x) >= min_j d_j (naive, double) */
            double md = INFINITY;
            for (int j = 0; j < M; j++) {
                double d = 0;
                for (int i = 0; i < D; i++) {
                    const double t = X.data[n * D + i] - U[(size_t)j * D + i];
                    d += t * t;
                }
                md = d < md ? d : md;
            }
            assert_true(sc[n] >= md * (1 - 1e-6));
        }
        /* o(x) from libsvm's decision value */
        const double A = neon_ocsvm_coef_sum(m), g = neon_ocsvm_gamma(m);
        if (dec[n] + neon_ocsvm_rho(m) > 1e-6 * A) {
            const double o = -log((dec[n] + neon_ocsvm_rho(m)) / A) / g;
            assert_true(fabs(sc[n] - o) <= 1e-5 * o);
        }
    }
    print_message("shipped model, 1000 t10k images: %d outliers; flags == libsvm on all; "
                  "%lld near the threshold decided by libsvm; plain float score vs threshold "
                  "disagreed on %d; %d zero-relevance coordinates checked\n",
                  n_out, (long long)checked, float_disagree, shared_cols);
    assert_true(shared_cols > 5000);
    /* far outliers: x + 1e2 .. 1e3 per pixel, and 1e4 on one pixel */
    const float shifts[3] = {100, 1000, -1000};
    for (int k = 0; k < 3; k++) {
        neon_tensor F = {malloc(sizeof(float) * 4 * D), 2, {4, D}};
        for (int i = 0; i < 4 * D; i++) F.data[i] = all.data[i] + shifts[k];
        F.data[D + 300] = 1e4f;
        explain(ctx, m, &F, R, res);
        assert_int_equal(neon_ocsvm_decision(ctx, m, &F, dec), NEON_OK);
        for (int n = 0; n < 4; n++) {
            assert_true(isfinite(res[n].score) && res[n].score > 1e6);
            assert_true(fabs(res[n].relevance_sum - res[n].score) <= 1e-5 * res[n].score);
            assert_true(dec[n] < 0); /* libsvm: every kernel underflows to 0 */
            sc[n] = res[n].score;
        }
        assert_int_equal(neon_ocsvm_outliers(ctx, m, &F, sc, out, NULL), NEON_OK);
        for (int n = 0; n < 4; n++) assert_int_equal(out[n], 1);
        free(F.data);
    }
    free(R);
    free(U);
    neon_tensor_free(ctx, &all);
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
}

/* fit -> save -> load: same model; libsvm prints nothing */
static void test_fit_save_load(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    enum { N = 200, D = 6 };
    tu_rng rng;
    tu_seed(&rng, 42);
    float data[N * D];
    for (int i = 0; i < N * D; i++) data[i] = i % 5 == 0 ? 0.0f : (float)tu_normal(&rng);
    neon_tensor X = {data, 2, {N, D}};
    neon_ocsvm *m, *m2;
    char path[512];
    fflush(stdout);
    int saved = dup(1);
    FILE *cap = fopen(tmp_path(path, sizeof path, "stdout.txt"), "w");
    dup2(fileno(cap), 1);
    neon_status st = neon_ocsvm_fit(ctx, &X, 0.2, 0.5, &m);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    fclose(cap);
    assert_int_equal(st, NEON_OK);
    cap = fopen(path, "r");
    assert_int_equal(fgetc(cap), EOF); /* svm_train's "*" and "optimization finished" silenced */
    fclose(cap);
    assert_int_equal(neon_ocsvm_dim(m), D);
    assert_true(neon_ocsvm_num_sv(m) >= 0.2 * N);
    assert_int_equal(neon_ocsvm_save(ctx, m, tmp_path(path, sizeof path, "fit.libsvm")), NEON_OK);
    assert_int_equal(neon_ocsvm_load(ctx, path, &m2), NEON_OK);
    assert_int_equal(neon_ocsvm_num_sv(m2), neon_ocsvm_num_sv(m));
    double d1[N], d2[N];
    assert_int_equal(neon_ocsvm_decision(ctx, m, &X, d1), NEON_OK);
    assert_int_equal(neon_ocsvm_decision(ctx, m2, &X, d2), NEON_OK);
    int n_out = 0;
    for (int n = 0; n < N; n++) {
        assert_true(fabs(d1[n] - d2[n]) < 1e-6);
        n_out += d1[n] < 0;
    }
    /* the margin SVs lie on the boundary (|dec| ~ libsvm's tolerance): the
     * hardest points for the outlier flags, which must still equal libsvm's */
    float R[N * D], sc[N];
    neon_explain_result res[N];
    int out[N], near = 0, float_disagree = 0;
    int64_t checked;
    explain(ctx, m2, &X, R, res);
    for (int n = 0; n < N; n++) sc[n] = res[n].score;
    assert_int_equal(neon_ocsvm_outliers(ctx, m2, &X, sc, out, &checked), NEON_OK);
    for (int n = 0; n < N; n++) {
        assert_int_equal(out[n], d2[n] < 0);
        near += fabs(d2[n]) < 1e-3 * neon_ocsvm_rho(m2);
        float_disagree += (sc[n] > neon_ocsvm_threshold(m2)) != (d2[n] < 0);
    }
    print_message("fit: %lld SVs; %d of %d training points outliers, %d within 1e-3 rho of the "
                  "boundary; flags == libsvm on all (%lld decided by libsvm, plain float score vs "
                  "threshold disagreed on %d)\n",
                  (long long)neon_ocsvm_num_sv(m), n_out, N, near, (long long)checked,
                  float_disagree);
    /* saving into a missing directory fails cleanly */
    assert_int_equal(neon_ocsvm_save(ctx, m, "/nonexistent-dir/x.libsvm"), NEON_ERR_IO);
    /* bad parameters */
    neon_ocsvm *bad = NULL;
    assert_int_equal(neon_ocsvm_fit(ctx, &X, 0, 0.5, &bad), NEON_ERR_INVALID);
    assert_int_equal(neon_ocsvm_fit(ctx, &X, 0.5, -1, &bad), NEON_ERR_INVALID);
    data[17] = NAN;
    assert_int_equal(neon_ocsvm_fit(ctx, &X, 0.5, 0.5, &bad), NEON_ERR_NUMERIC);
    assert_null(bad);
    neon_ocsvm_destroy(m);
    neon_ocsvm_destroy(m2);
    neon_ctx_destroy(ctx);
}

/* A model written by libsvm's own svm-train -s 2 (libsvm-tools), checked
 * against svm-predict's labels on its training points (the margin SVs lie
 * on the boundary) and on random points. */
static void test_svm_train_file(void **state)
{
    (void)state;
    if (access("/usr/bin/svm-train", X_OK) != 0 || access("/usr/bin/svm-predict", X_OK) != 0) {
        print_message("libsvm-tools not installed; skipping\n");
        skip();
    }
    enum { N = 400, D = 10 };
    tu_rng rng;
    tu_seed(&rng, 77);
    static float data[N * D];
    for (int i = 0; i < N * D; i++)
        data[i] = tu_uniform(&rng) < 0.3 ? 0.0f : (float)(tu_normal(&rng) * (i < N * D / 2 ? 1 : 3));
    char dpath[512], mpath[512], ppath[512], cmd[4096];
    FILE *f = fopen(tmp_path(dpath, sizeof dpath, "train.txt"), "w");
    for (int n = 0; n < N; n++) {
        fprintf(f, "1");
        for (int i = 0; i < D; i++)
            if (data[n * D + i] != 0) fprintf(f, " %d:%.9g", i + 1, (double)data[n * D + i]);
        fprintf(f, "\n");
    }
    fclose(f);
    tmp_path(mpath, sizeof mpath, "train.model");
    tmp_path(ppath, sizeof ppath, "pred.txt");
    /* trained on the first half only: the second half is wider, many outliers */
    snprintf(cmd, sizeof cmd, "head -n %d '%s' > '%s.half' && svm-train -q -s 2 -t 2 -g 0.3 -n 0.2 "
             "'%s.half' '%s' && svm-predict '%s' '%s' '%s' > /dev/null", N / 2, dpath, dpath, dpath,
             mpath, dpath, mpath, ppath);
    assert_int_equal(system(cmd), 0);
    neon_ctx *ctx = tu_ctx();
    neon_ocsvm *m;
    if (neon_ocsvm_load(ctx, mpath, &m)) fail_msg("%s", neon_errmsg(ctx));
    neon_tensor X = {data, 2, {N, D}};
    static float R[N * D];
    float sc[N];
    double dec[N];
    int out[N], n_out = 0;
    neon_explain_result res[N];
    int64_t checked;
    explain(ctx, m, &X, R, res);
    for (int n = 0; n < N; n++) sc[n] = res[n].score;
    assert_int_equal(neon_ocsvm_outliers(ctx, m, &X, sc, out, &checked), NEON_OK);
    assert_int_equal(neon_ocsvm_decision(ctx, m, &X, dec), NEON_OK);
    f = fopen(ppath, "r");
    for (int n = 0; n < N; n++) {
        int label;
        assert_int_equal(fscanf(f, "%d", &label), 1);
        assert_int_equal(out[n], dec[n] < 0);
        if (dec[n] != 0) assert_int_equal(out[n], label == -1); /* svm_predict: dec > 0 -> +1 */
        n_out += out[n];
        if (n >= N / 2) /* not a training point, so no SV: conservative */
            assert_true(fabs(res[n].relevance_sum - sc[n]) <= 1e-5 * sc[n] + 1e-6);
        else
            assert_true(res[n].relevance_sum <= sc[n] * (1 + 1e-5));
    }
    fclose(f);
    print_message("svm-train model: %lld SVs; %d of %d points outliers, flags == svm-predict on all "
                  "(%lld decided by libsvm)\n", (long long)neon_ocsvm_num_sv(m), n_out, N,
                  (long long)checked);
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
}

/* bad model files: status, message naming the file, no model */
static void expect_load_error(const char *name, const char *text, neon_status want, const char *msg)
{
    neon_ctx *ctx = tu_ctx();
    neon_ocsvm *m = (neon_ocsvm *)&m;
    const char *path = write_file(name, text);
    neon_status st = neon_ocsvm_load(ctx, path, &m);
    if (st != want || !strstr(neon_errmsg(ctx), msg) || !strstr(neon_errmsg(ctx), name))
        fail_msg("%s: status %d, message '%s'", name, st, neon_errmsg(ctx));
    assert_null(m);
    neon_ctx_destroy(ctx);
}

static void test_bad_files(void **state)
{
    (void)state;
    const char *csvc = "svm_type c_svc\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 2\n"
                       "rho 0.1\nlabel 1 -1\nnr_sv 1 1\nSV\n1 1:0.5 \n-1 1:-0.5 \n";
    expect_load_error("csvc.libsvm", csvc, NEON_ERR_UNSUPPORTED, "c_svc");
    expect_load_error("poly.libsvm", "svm_type one_class\nkernel_type polynomial\ndegree 3\n"
                      "gamma 0.5\ncoef0 0\nnr_class 2\ntotal_sv 1\nrho 0.1\nSV\n1 1:1 \n",
                      NEON_ERR_UNSUPPORTED, "polynomial");
    expect_load_error("nu.libsvm", "svm_type nu_svr\nkernel_type rbf\n", NEON_ERR_UNSUPPORTED, "nu_svr");
    /* truncations at every kind of place */
    const size_t len = strlen(GOLDEN);
    char buf[512];
    const size_t cuts[] = {0, 10, 19, 40, 60, 62, 70, len - 1};
    for (size_t k = 0; k < sizeof cuts / sizeof cuts[0]; k++) {
        memcpy(buf, GOLDEN, cuts[k]);
        buf[cuts[k]] = '\0';
        snprintf(buf + 400, 64, "trunc%zu.libsvm", k);
        expect_load_error(buf + 400, buf, NEON_ERR_FORMAT, "");
    }
    expect_load_error("short.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0.8\nnr_class 2\n"
                      "total_sv 3\nrho 0.5\nSV\n0.5 \n0.3 1:1 \n", NEON_ERR_FORMAT, "only 2 of the 3");
    expect_load_error("kw.libsvm", "svm_type one_class\nkernel_type rbf\nfoo 1\n", NEON_ERR_FORMAT,
                      "unknown header keyword 'foo'");
    expect_load_error("order.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 1\nnr_class 2\n"
                      "total_sv 1\nrho 0.5\nSV\n1 3:1 2:1 \n", NEON_ERR_FORMAT, "increasing");
    expect_load_error("nan.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 1\nnr_class 2\n"
                      "total_sv 1\nrho 0.5\nSV\n1 1:nan \n", NEON_ERR_FORMAT, "line 8");
    expect_load_error("coef.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 1\nnr_class 2\n"
                      "total_sv 2\nrho 0.5\nSV\n1 1:1 \n-0.5 1:2 \n", NEON_ERR_FORMAT, "must be > 0");
    expect_load_error("gamma.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0\nnr_class 2\n"
                      "total_sv 1\nrho 0.5\nSV\n1 1:1 \n", NEON_ERR_FORMAT, "gamma");
    expect_load_error("extra.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 1\nnr_class 2\n"
                      "total_sv 1\nrho 0.5\nSV\n1 1:1 \n1 1:2 \n", NEON_ERR_FORMAT, "data after");
    expect_load_error("bin.libsvm", "svm_type\x01\x02", NEON_ERR_FORMAT, "");
    neon_ctx *ctx = tu_ctx();
    neon_ocsvm *m;
    assert_int_equal(neon_ocsvm_load(ctx, tmp_path(buf, sizeof buf, "missing.libsvm"), &m), NEON_ERR_IO);
    neon_ctx_destroy(ctx);
}

/* data that does not fit the model */
static void test_bad_data(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_ocsvm *m;
    assert_int_equal(neon_ocsvm_load(ctx, write_file("g2.libsvm", GOLDEN), &m), NEON_OK);
    float X[6] = {1, 2, 3, 4, 5, 6};
    neon_tensor one_col = {X, 2, {6, 1}}, three = {X, 2, {2, 3}};
    neon_graph *g = NULL;
    double dec[6];
    const int64_t s1[1] = {1};
    assert_int_equal(neon_ocsvm_graph(ctx, m, 1, s1, &g), NEON_ERR_SHAPE);
    assert_non_null(strstr(neon_errmsg(ctx), "feature 2"));
    assert_null(g);
    assert_int_equal(neon_ocsvm_decision(ctx, m, &one_col, dec), NEON_ERR_SHAPE);
    /* more features than the SVs use is fine: they are 0 in every SV */
    float R[6];
    neon_explain_result res[2];
    explain(ctx, m, &three, R, res);
    assert_int_equal(neon_ocsvm_decision(ctx, m, &three, dec), NEON_OK);
    X[4] = NAN;
    assert_int_equal(neon_ocsvm_decision(ctx, m, &three, dec), NEON_ERR_NUMERIC);
    int out[2];
    float sc[2] = {1, 1};
    assert_int_equal(neon_ocsvm_outliers(ctx, m, &three, sc, out, NULL), NEON_ERR_NUMERIC);
    assert_int_equal(neon_ocsvm_graph(ctx, m, 0, NULL, &g), NEON_OK);
    neon_tensor two = {X, 2, {3, 2}}, rt = {R, 2, {3, 2}};
    assert_int_equal(neon_graph_explain(g, &two, NULL, NULL, &rt, NULL), NEON_ERR_NUMERIC);
    neon_graph_destroy(g);
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
}

static int setup(void **state)
{
    (void)state;
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_file),    cmocka_unit_test(test_sklearn_export),
        cmocka_unit_test(test_shipped_model),  cmocka_unit_test(test_fit_save_load),
        cmocka_unit_test(test_svm_train_file),
        cmocka_unit_test(test_bad_files),      cmocka_unit_test(test_bad_data),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}

#else /* !NEON_WITH_LIBSVM */

static void test_no_libsvm(void **state)
{
    (void)state;
    print_message("built without libsvm (NEON_WITH_LIBSVM=OFF); skipping\n");
    skip();
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_no_libsvm)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
#endif
