/* k-means fitting and files: blob centres recovered, scikit-learn's
 * KMeans / PCA reproduced (tests/data/make_kmeans_fixtures.py), seeds,
 * restarts, the default beta, save/load (own format and .npy centroids)
 * and every bad input: K > N, K < 2, D mismatch, NaN, corrupt files. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"
#include "neuralize/kmeans_impl.h"

static neon_tensor load(neon_ctx *ctx, const char *rel)
{
    char p[512];
    neon_tensor t;
    assert_int_equal(neon_npy_read(ctx, tu_src_path(p, sizeof p, rel), &t), NEON_OK);
    return t;
}

/* perm[j] = index of ours matching reference centre j (nearest, must be unique) */
static double match_centres(const float *ours, const float *ref, int K, int D, int *perm)
{
    double worst = 0;
    for (int j = 0; j < K; j++) {
        double bd = INFINITY;
        for (int k = 0; k < K; k++) {
            double d = 0;
            for (int i = 0; i < D; i++) d += ((double)ours[k * D + i] - ref[j * D + i]) * ((double)ours[k * D + i] - ref[j * D + i]);
            if (d < bd) {
                bd = d;
                perm[j] = k;
            }
        }
        for (int i = 0; i < j; i++) assert_int_not_equal(perm[i], perm[j]);
        worst = sqrt(bd) > worst ? sqrt(bd) : worst;
    }
    return worst;
}

static void test_blobs(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor X = load(ctx, "tests/data/kmeans/blobs.npy"), C = load(ctx, "tests/data/kmeans/blobs_centres.npy");
    neon_kmeans_fit_opts o = {.k = 3, .seed = 1};
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_OK);
    int perm[3];
    /* 100 points of std 0.3 per blob: the mean is within ~0.1 of the centre */
    assert_true(match_centres(neon_kmeans_centroids(km), C.data, 3, 2, perm) < 0.15);
    assert_true(neon_kmeans_inertia(km) > 0 && neon_kmeans_inertia(km) < 300 * 2 * 0.09 * 1.5);
    assert_true(neon_kmeans_iterations(km) >= 1);
    /* the stored beta is 1 / mean f_c, f_c = second - first squared distance */
    double s = 0;
    const float *mu = neon_kmeans_centroids(km);
    for (int n = 0; n < 300; n++) {
        double d[3];
        for (int k = 0; k < 3; k++) {
            d[k] = 0;
            for (int i = 0; i < 2; i++) d[k] += ((double)X.data[n * 2 + i] - mu[k * 2 + i]) * ((double)X.data[n * 2 + i] - mu[k * 2 + i]);
        }
        double a = fmin(d[0], fmin(d[1], d[2])), b = INFINITY;
        for (int k = 0, seen = 0; k < 3; k++) {
            if (d[k] == a && !seen) seen = 1;
            else if (d[k] < b) b = d[k];
        }
        s += b - a;
    }
    assert_true(fabs(neon_kmeans_beta(km) * (s / 300) - 1.0) < 1e-4);
    /* same seed, same model; restarts never do worse than one run */
    neon_kmeans *km2, *km1;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km2), NEON_OK);
    assert_memory_equal(neon_kmeans_centroids(km), neon_kmeans_centroids(km2), 6 * sizeof(float));
    neon_kmeans_fit_opts o1 = {.k = 3, .seed = 1, .n_init = 1};
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o1, &km1), NEON_OK);
    assert_true(neon_kmeans_inertia(km) <= neon_kmeans_inertia(km1) + 1e-9);
    neon_kmeans_destroy(km);
    neon_kmeans_destroy(km1);
    neon_kmeans_destroy(km2);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &C);
    neon_ctx_destroy(ctx);
}

static void test_sklearn(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor X = load(ctx, "tests/data/kmeans/sk_X.npy"), C = load(ctx, "tests/data/kmeans/sk_centres.npy"),
                L = load(ctx, "tests/data/kmeans/sk_labels.npy"), I = load(ctx, "tests/data/kmeans/sk_inertia.npy");
    neon_kmeans_fit_opts o = {.k = 4, .seed = 7, .tol = 1e-6f, .max_iter = 500};
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_OK);
    int perm[4];
    assert_true(match_centres(neon_kmeans_centroids(km), C.data, 4, 5, perm) < 1e-4);
    assert_true(fabs(neon_kmeans_inertia(km) - I.data[0]) <= 1e-5 * I.data[0]);
    int lab[400];
    assert_int_equal(neon_kmeans_assign(ctx, km, &X, lab, NULL), NEON_OK);
    for (int n = 0; n < 400; n++) assert_int_equal(lab[n], perm[(int)L.data[n]]);
    /* scikit-learn's cluster_centers_ as a bare .npy model give its labels */
    neon_kmeans *sk;
    char p[512];
    assert_int_equal(neon_kmeans_load(ctx, tu_src_path(p, sizeof p, "tests/data/kmeans/sk_centres.npy"), &sk), NEON_OK);
    assert_int_equal(neon_kmeans_k(sk), 4);
    assert_int_equal(neon_kmeans_dim(sk), 5);
    assert_true(neon_kmeans_beta(sk) == 0.0f); /* none stored */
    float dist[400];
    assert_int_equal(neon_kmeans_assign(ctx, sk, &X, lab, dist), NEON_OK);
    double in = 0;
    for (int n = 0; n < 400; n++) {
        assert_int_equal(lab[n], (int)L.data[n]);
        in += dist[n];
    }
    assert_true(fabs(in - I.data[0]) <= 1e-5 * I.data[0]);
    neon_graph *g = NULL;
    assert_int_equal(neon_kmeans_graph(ctx, sk, 0, -1, 0, NULL, &g), NEON_ERR_INVALID); /* no beta */
    assert_null(g);
    neon_kmeans_destroy(sk);
    neon_kmeans_destroy(km);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &C);
    neon_tensor_free(ctx, &L);
    neon_tensor_free(ctx, &I);
    neon_ctx_destroy(ctx);
}

static void test_pca_sklearn(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor X = load(ctx, "tests/data/kmeans/pca_X.npy"), U = load(ctx, "tests/data/kmeans/pca_components.npy"),
                M = load(ctx, "tests/data/kmeans/pca_mean.npy");
    neon_kmeans_fit_opts o = {.k = 3, .seed = 2, .pca = 3};
    neon_kmeans *km;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_OK);
    tu_assert_close(km->mean, M.data, 8, 1e-5, 1e-5, "PCA mean");
    tu_assert_close(km->comp, U.data, 24, 2e-4, 0, "PCA components (sign: largest entry positive)");
    /* input-space centroids are the back-projections mean + U^T mu */
    for (int k = 0; k < 3; k++)
        for (int j = 0; j < 8; j++) {
            double v = km->mean[j];
            for (int p = 0; p < 3; p++) v += (double)km->comp[p * 8 + j] * km->mu[k * 3 + p];
            assert_true(fabs(neon_kmeans_input_centroids(km)[k * 8 + j] - v) < 1e-5 * (1 + fabs(v)));
        }
    /* non-orthonormal components are refused (the fold needs U U^T = I) */
    float bad[24];
    memcpy(bad, U.data, sizeof bad);
    for (int i = 0; i < 8; i++) bad[i] *= 2.0f;
    neon_kmeans *nk = NULL;
    assert_int_equal(neon_kmeans_create(ctx, 3, 3, km->mu, 8, bad, M.data, &nk), NEON_ERR_UNSUPPORTED);
    assert_null(nk);
    assert_int_equal(neon_kmeans_create(ctx, 3, 3, km->mu, 8, U.data, M.data, &nk), NEON_OK);
    neon_kmeans_destroy(nk);
    neon_kmeans_destroy(km);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &U);
    neon_tensor_free(ctx, &M);
    neon_ctx_destroy(ctx);
}

static void test_bad_fit_inputs(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    float x[12] = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};
    neon_tensor X = {x, 2, {6, 2}};
    neon_kmeans *km = NULL;
    neon_kmeans_fit_opts o = {.k = 7};
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "K <= N"));
    o.k = 1;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_ERR_INVALID);
    assert_non_null(strstr(neon_errmsg(ctx), "K >= 2"));
    o.k = 2;
    o.pca = 3;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_ERR_INVALID);
    o.pca = 0;
    x[5] = NAN;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_ERR_NUMERIC);
    assert_non_null(strstr(neon_errmsg(ctx), "sample 2, feature 1"));
    assert_null(km);
    x[5] = 2;
    o.k = 6; /* K == N: every point its own centre */
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_OK);
    assert_true(neon_kmeans_inertia(km) < 1e-12);
    /* D mismatch and NaN against a fitted model */
    float y[9] = {0, 1, 2, 3, 4, 5, 6, 7, 8};
    neon_tensor Y = {y, 2, {3, 3}};
    int lab[6];
    float beta;
    assert_int_equal(neon_kmeans_assign(ctx, km, &Y, lab, NULL), NEON_ERR_SHAPE);
    assert_non_null(strstr(neon_errmsg(ctx), "2 features"));
    assert_int_equal(neon_kmeans_default_beta(ctx, km, &Y, &beta), NEON_ERR_SHAPE);
    x[0] = INFINITY;
    assert_int_equal(neon_kmeans_assign(ctx, km, &X, lab, NULL), NEON_ERR_NUMERIC);
    x[0] = 0;
    /* every point on a boundary: no default beta */
    float two[4] = {1, 1, 1, 1}, mid[2] = {0, 0};
    neon_kmeans *sym;
    assert_int_equal(neon_kmeans_create(ctx, 2, 1, (float[]){-1, 1}, 1, NULL, NULL, &sym), NEON_OK);
    neon_tensor Z = {mid, 2, {2, 1}};
    assert_int_equal(neon_kmeans_default_beta(ctx, sym, &Z, &beta), NEON_ERR_NUMERIC);
    (void)two;
    neon_kmeans_destroy(sym);
    neon_kmeans_destroy(km);
    neon_ctx_destroy(ctx);
}

/* ---- files ------------------------------------------------------------------------------ */

static void write_bytes(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    assert_int_equal(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void test_files(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor X = load(ctx, "tests/data/kmeans/pca_X.npy");
    neon_kmeans_fit_opts o = {.k = 4, .seed = 5, .pca = 3};
    neon_kmeans *km, *rd;
    assert_int_equal(neon_kmeans_fit(ctx, &X, &o, &km), NEON_OK);
    const char *path = "kmeans_test_model.neonkm", *bad = "kmeans_test_bad.neonkm";
    assert_int_equal(neon_kmeans_save(ctx, km, path), NEON_OK);
    assert_int_equal(neon_kmeans_load(ctx, path, &rd), NEON_OK);
    assert_int_equal(neon_kmeans_k(rd), 4);
    assert_int_equal(neon_kmeans_dim(rd), 8);
    assert_int_equal(neon_kmeans_pca_dim(rd), 3);
    assert_true(neon_kmeans_beta(rd) == neon_kmeans_beta(km));
    assert_true(neon_kmeans_inertia(rd) == neon_kmeans_inertia(km));
    assert_int_equal(neon_kmeans_iterations(rd), neon_kmeans_iterations(km));
    assert_memory_equal(rd->mu, km->mu, 12 * sizeof(float));
    assert_memory_equal(rd->comp, km->comp, 24 * sizeof(float));
    assert_memory_equal(rd->mean, km->mean, 8 * sizeof(float));
    assert_memory_equal(rd->gmu, km->gmu, 32 * sizeof(float));
    neon_kmeans_destroy(rd);
    size_t n;
    unsigned char *b = read_bytes(path, &n);
    assert_int_equal(n, 48 + 4 * (12 + 24 + 8) + 4);
    assert_memory_equal(b, "NEONKM01", 8);
    struct { const char *what; size_t off; int val; size_t len; neon_status st; const char *msg; } cases[] = {
        {"truncated", 0, -1, 100, NEON_ERR_FORMAT, "announces"},
        {"short header", 0, -1, 20, NEON_ERR_FORMAT, "truncated header"},
        {"bad magic", 0, 'X', 0, NEON_ERR_FORMAT, "magic"},
        {"version", 7, '9', 0, NEON_ERR_UNSUPPORTED, "version"},
        {"flipped data byte", 60, 0x40, 0, NEON_ERR_FORMAT, "checksum"},
        {"huge K", 11, 0x7f, 0, NEON_ERR_FORMAT, "announces"},
        {"K = 1", 8, 1, 0, NEON_ERR_FORMAT, "K 1"},
        {"P > D", 16, 9, 0, NEON_ERR_FORMAT, "P 9"},
        {"trailing byte", 0, -2, 0, NEON_ERR_FORMAT, "announces"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        unsigned char *m = malloc(n + 1);
        memcpy(m, b, n);
        size_t len = cases[c].len ? cases[c].len : n;
        if (cases[c].val == -2) m[len++] = 0;
        else if (cases[c].val >= 0) m[cases[c].off] = (unsigned char)(cases[c].off == 60 ? m[60] ^ 0x40 : cases[c].val);
        write_bytes(bad, m, len);
        neon_kmeans *k2 = (neon_kmeans *)0x1;
        const neon_status st = neon_kmeans_load(ctx, bad, &k2);
        if (st != cases[c].st || !strstr(neon_errmsg(ctx), cases[c].msg)) {
            print_error("%s: status %d, message '%s'\n", cases[c].what, st, neon_errmsg(ctx));
            fail();
        }
        assert_null(k2);
        free(m);
    }
    /* valid CRC but a NaN centroid: rejected by the value check */
    neon_kmeans *nanm;
    float c4[4] = {0, 1, 2, NAN};
    assert_int_equal(neon_kmeans_create(ctx, 2, 2, c4, 2, NULL, NULL, &nanm), NEON_ERR_NUMERIC);
    /* npy centroids of the wrong rank */
    neon_tensor v = {c4, 1, {3}};
    assert_int_equal(neon_npy_write(ctx, bad, &v), NEON_OK);
    neon_kmeans *k3 = NULL;
    assert_int_equal(neon_kmeans_load(ctx, bad, &k3), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), "(K, D)"));
    assert_int_equal(neon_kmeans_load(ctx, "no/such/file.neonkm", &k3), NEON_ERR_IO);
    /* a failed save keeps no file */
    assert_int_equal(neon_kmeans_save(ctx, km, "no/such/dir/m.neonkm"), NEON_ERR_IO);
    assert_int_equal(access("no/such/dir/m.neonkm", F_OK), -1);
    free(b);
    unlink(path);
    unlink(bad);
    neon_kmeans_destroy(km);
    neon_tensor_free(ctx, &X);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blobs),
        cmocka_unit_test(test_sklearn),
        cmocka_unit_test(test_pca_sklearn),
        cmocka_unit_test(test_bad_fit_inputs),
        cmocka_unit_test(test_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
