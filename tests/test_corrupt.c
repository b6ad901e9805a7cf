/* The truncated/corrupted-file catalogue of the model files neonlrp reads
 * besides ONNX, npy and IDX (those have theirs in test_onnx.c,
 * test_faults.c, test_npy.c and test_idx.c): the k-means "NEONKM01" format
 * (and .npy centroids) and libsvm one-class models.  One test per failure
 * mode: each file must be refused with the expected status and a message
 * naming the file and the problem, leave *out NULL, and allocate nothing
 * that outlives the call (a counting allocator checks). */
#define _POSIX_C_SOURCE 200809L /* truncate */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "neonlrp/io.h"
#include "neonlrp/neuralize.h"

/* ---- helpers ----------------------------------------------------------------- */

typedef struct counting {
    long live;
} counting;
static void *c_alloc(size_t n, void *u) { void *p = malloc(n); if (p) ((counting *)u)->live++; return p; }
static void *c_realloc(void *p, size_t n, void *u)
{
    void *q = realloc(p, n);
    if (q && !p) ((counting *)u)->live++;
    return q;
}
static void c_free(void *p, void *u) { if (p) ((counting *)u)->live--; free(p); }

static const char *tmp_name(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "corrupt_%ld_%s", (long)getpid(), name);
    return buf;
}

static void put_bytes(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

typedef neon_status (*load_fn)(neon_ctx *ctx, const char *path, void **out);

/* Loads path with a counting allocator: status want, message has every
 * needle (and the path), *out NULL, nothing leaked. */
static void expect_refused(load_fn load, const char *path, neon_status want, const char *needle,
                           const char *needle2)
{
    counting c = {0};
    neon_allocator a = {c_alloc, c_realloc, c_free, &c};
    neon_ctx *ctx;
    assert_int_equal(neon_ctx_create(&ctx, &a), NEON_OK);
    void *out = (void *)&c;
    neon_status st = load(ctx, path, &out);
    const char *msg = neon_errmsg(ctx);
    if (st != want || !strstr(msg, path) || !strstr(msg, needle) || (needle2 && !strstr(msg, needle2)))
        fail_msg("%s: status %d (want %d), message '%s' (want '%s'%s%s)", path, (int)st, (int)want,
                 msg, needle, needle2 ? ", " : "", needle2 ? needle2 : "");
    assert_null(out);
    neon_ctx_destroy(ctx);
    assert_int_equal(c.live, 1 - 1); /* the ctx itself was freed too */
    unlink(path);
}

/* ---- k-means: NEONKM01 -------------------------------------------------------------- */

static neon_status km_load(neon_ctx *ctx, const char *path, void **out)
{
    return neon_kmeans_load(ctx, path, (neon_kmeans **)out);
}

static void put32(unsigned char *b, uint32_t v) { for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i)); }
static void putf(unsigned char *b, float f) { uint32_t u; memcpy(&u, &f, 4); put32(b, u); }

/* A NEONKM01 file in memory (header fields overridable), CRC fixed up. */
typedef struct km_file {
    unsigned char *b;
    size_t n;
} km_file;

static km_file km_make(uint32_t K, uint32_t D, uint32_t P, const float *vals, size_t n_vals)
{
    km_file f;
    f.n = 48 + 4 * n_vals + 4;
    f.b = calloc(1, f.n);
    assert_non_null(f.b);
    memcpy(f.b, "NEONKM01", 8);
    put32(f.b + 8, K);
    put32(f.b + 12, D);
    put32(f.b + 16, P);
    put32(f.b + 20, 3);
    putf(f.b + 24, 0.5f);
    double inertia = 1.25;
    memcpy(f.b + 32, &inertia, 8);
    for (size_t i = 0; i < n_vals; i++) putf(f.b + 48 + 4 * i, vals[i]);
    return f;
}

static void km_crc(km_file *f)
{
    put32(f->b + f->n - 4, (uint32_t)crc32(crc32(0L, Z_NULL, 0), f->b, (uInt)(f->n - 4)));
}

/* Writes f (CRC fixed unless keep_crc) and expects the loader to refuse it. */
static void km_expect(km_file f, int fix_crc, const char *name, neon_status want, const char *needle,
                      const char *needle2)
{
    if (fix_crc) km_crc(&f);
    char p[256];
    put_bytes(tmp_name(p, sizeof p, name), f.b, f.n);
    free(f.b);
    expect_refused(km_load, p, want, needle, needle2);
}

/* 3 centroids in 2-d, no PCA: a valid file to damage. */
static const float KM_MU[6] = {0, 0, 1, 1, 2, 0};
/* 2 centroids in a 1-d projection of 2-d data: mu (2), components (1 x 2), mean (2). */
static const float KM_PCA[6] = {0, 1, 0.6f, 0.8f, 0.5f, -0.5f};

static void test_km_valid_files_load(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    km_file f = km_make(3, 2, 0, KM_MU, 6);
    km_crc(&f);
    put_bytes(tmp_name(p, sizeof p, "ok.neonkm"), f.b, f.n);
    neon_kmeans *km = NULL;
    assert_int_equal(neon_kmeans_load(ctx, p, &km), NEON_OK);
    assert_int_equal(neon_kmeans_k(km), 3);
    neon_kmeans_destroy(km);
    free(f.b);
    f = km_make(2, 2, 1, KM_PCA, 6);
    km_crc(&f);
    put_bytes(p, f.b, f.n);
    assert_int_equal(neon_kmeans_load(ctx, p, &km), NEON_OK);
    assert_int_equal(neon_kmeans_pca_dim(km), 1);
    neon_kmeans_destroy(km);
    free(f.b);
    unlink(p);
    neon_ctx_destroy(ctx);
}

static void test_km_empty_file(void **state)
{
    (void)state;
    char p[256];
    put_bytes(tmp_name(p, sizeof p, "empty.neonkm"), "", 0);
    expect_refused(km_load, p, NEON_ERR_FORMAT, "not a k-means model", NULL);
}

static void test_km_magic_only(void **state)
{
    (void)state;
    char p[256];
    put_bytes(tmp_name(p, sizeof p, "magic.neonkm"), "NEONKM01", 8);
    expect_refused(km_load, p, NEON_ERR_FORMAT, "truncated header", NULL);
}

static void test_km_zero_features(void **state)
{
    (void)state;
    km_expect(km_make(3, 0, 0, NULL, 0), 1, "d0.neonkm", NEON_ERR_FORMAT, "bad sizes", "D 0");
}

static void test_km_sizes_overflow(void **state)
{
    (void)state;
    km_expect(km_make(0xffffffffu, 0xffffffffu, 0xffffffffu, KM_MU, 6), 1, "ovf.neonkm",
              NEON_ERR_FORMAT, "announces", NULL);
}

static void test_km_data_missing(void **state)
{
    (void)state; /* header says 3 x 2, data for 2 x 2 (CRC right for what is there) */
    km_expect(km_make(3, 2, 0, KM_MU, 4), 1, "short.neonkm", NEON_ERR_FORMAT, "announces", NULL);
}

static void test_km_crc_trailer_damaged(void **state)
{
    (void)state;
    km_file f = km_make(3, 2, 0, KM_MU, 6);
    km_crc(&f);
    f.b[f.n - 1] ^= 0x80;
    km_expect(f, 0, "crc.neonkm", NEON_ERR_FORMAT, "checksum", NULL);
}

static void test_km_reserved_field(void **state)
{
    (void)state;
    km_file f = km_make(3, 2, 0, KM_MU, 6);
    put32(f.b + 28, 7);
    km_expect(f, 1, "reserved.neonkm", NEON_ERR_FORMAT, "reserved", NULL);
}

static void test_km_bad_beta(void **state)
{
    (void)state;
    km_file f = km_make(3, 2, 0, KM_MU, 6);
    putf(f.b + 24, NAN);
    km_expect(f, 1, "beta.neonkm", NEON_ERR_FORMAT, "bad beta", NULL);
}

static void test_km_bad_inertia(void **state)
{
    (void)state;
    km_file f = km_make(3, 2, 0, KM_MU, 6);
    double in = -2.0;
    memcpy(f.b + 32, &in, 8);
    km_expect(f, 1, "inertia.neonkm", NEON_ERR_FORMAT, "inertia", NULL);
}

static void test_km_nan_centroid(void **state)
{
    (void)state;
    float mu[6];
    memcpy(mu, KM_MU, sizeof mu);
    mu[3] = INFINITY;
    km_expect(km_make(3, 2, 0, mu, 6), 1, "inf.neonkm", NEON_ERR_FORMAT, "non-finite", NULL);
}

static void test_km_nan_pca(void **state)
{
    (void)state;
    float v[6];
    memcpy(v, KM_PCA, sizeof v);
    v[5] = NAN; /* in the mean */
    km_expect(km_make(2, 2, 1, v, 6), 1, "pcanan.neonkm", NEON_ERR_FORMAT, "non-finite", NULL);
}

static void test_km_components_not_orthonormal(void **state)
{
    (void)state;
    float v[6];
    memcpy(v, KM_PCA, sizeof v);
    v[2] = 3.0f; /* component (3, 0.8) */
    km_expect(km_make(2, 2, 1, v, 6), 1, "ortho.neonkm", NEON_ERR_UNSUPPORTED, "orthonormal", NULL);
}

/* A small PCA file whose input-space centroids would be K x D = 2^29
 * values (2 GiB): refused before any of it is allocated (found by
 * fuzz_kmeans: malloc of 8 GB from a 1 MB file). */
static void test_km_pca_huge_input_space(void **state)
{
    (void)state;
    const uint32_t K = 1u << 16, D = 1u << 13, P = 1;
    const size_t n = (size_t)K * P + (size_t)P * D + D;
    float *v = calloc(n, sizeof *v);
    assert_non_null(v);
    v[K] = 1.0f; /* component e_0 */
    km_expect(km_make(K, D, P, v, n), 1, "hugepca.neonkm", NEON_ERR_UNSUPPORTED, "exceed the limit",
              NULL);
    free(v);
}

static void test_km_npy_one_centroid(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    float c[3] = {1, 2, 3};
    neon_tensor t = {c, 2, {1, 3}};
    assert_int_equal(neon_npy_write(ctx, tmp_name(p, sizeof p, "one.npy"), &t), NEON_OK);
    neon_ctx_destroy(ctx);
    expect_refused(km_load, p, NEON_ERR_FORMAT, "K >= 2", NULL);
}

static void test_km_npy_nan_centroid(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    float c[4] = {1, 2, NAN, 3};
    neon_tensor t = {c, 2, {2, 2}};
    assert_int_equal(neon_npy_write(ctx, tmp_name(p, sizeof p, "nan.npy"), &t), NEON_OK);
    neon_ctx_destroy(ctx);
    expect_refused(km_load, p, NEON_ERR_NUMERIC, "k-means", NULL);
}

static void test_km_npy_truncated(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    float c[6] = {1, 2, 3, 4, 5, 6};
    neon_tensor t = {c, 2, {3, 2}};
    assert_int_equal(neon_npy_write(ctx, tmp_name(p, sizeof p, "trunc.npy"), &t), NEON_OK);
    neon_ctx_destroy(ctx);
    assert_int_equal(truncate(p, 64 + 20), 0);
    expect_refused(km_load, p, NEON_ERR_FORMAT, "", NULL);
}

static void test_km_directory(void **state)
{
    (void)state;
    expect_refused(km_load, ".", NEON_ERR_FORMAT, "not a k-means model", NULL);
}

/* ---- libsvm one-class models ----------------------------------------------------------- */

#ifdef NEON_WITH_LIBSVM
static neon_status svm_load(neon_ctx *ctx, const char *path, void **out)
{
    return neon_ocsvm_load(ctx, path, (neon_ocsvm **)out);
}

#define HDR "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\ntotal_sv 2\nrho 0.25\n"

static void svm_expect(const char *name, const char *text, neon_status want, const char *needle,
                       const char *needle2)
{
    char p[256];
    put_bytes(tmp_name(p, sizeof p, name), text, strlen(text));
    expect_refused(svm_load, p, want, needle, needle2);
}

static void test_svm_valid_file_loads(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    const char *t = HDR "SV\n0.5 1:1 3:0.5 \n0.25 2:-1\n";
    put_bytes(tmp_name(p, sizeof p, "ok.libsvm"), t, strlen(t));
    neon_ocsvm *m = NULL;
    assert_int_equal(neon_ocsvm_load(ctx, p, &m), NEON_OK);
    assert_int_equal(neon_ocsvm_num_sv(m), 2);
    assert_int_equal(neon_ocsvm_dim(m), 3);
    neon_ocsvm_destroy(m);
    /* CRLF line endings read the same */
    const char *crlf = "svm_type one_class\r\nkernel_type rbf\r\ngamma 0.5\r\nnr_class 2\r\n"
                       "total_sv 2\r\nrho 0.25\r\nSV\r\n0.5 1:1 3:0.5 \r\n0.25 2:-1\r\n";
    put_bytes(p, crlf, strlen(crlf));
    neon_status st = neon_ocsvm_load(ctx, p, &m);
    if (st == NEON_OK) {
        assert_int_equal(neon_ocsvm_num_sv(m), 2);
        assert_int_equal(neon_ocsvm_dim(m), 3);
        assert_true(neon_ocsvm_rho(m) == 0.25);
        assert_true(neon_ocsvm_coef_sum(m) == 0.75);
        neon_ocsvm_destroy(m);
    } else {
        assert_non_null(strstr(neon_errmsg(ctx), p));
    }
    unlink(p);
    neon_ctx_destroy(ctx);
}

/* fuzz_libsvm found it: a 127-byte file naming feature 377777777 made the
 * model allocate its dense centre (3 GB) */
static void test_svm_feature_index_huge(void **state)
{
    (void)state;
    svm_expect("huge_index.libsvm", HDR "SV\n0.5 1:1 377777777:0.5\n0.25 2:-1\n",
               NEON_ERR_UNSUPPORTED, "feature index 377777777", "huge_index.libsvm");
}

static void test_svm_empty_file(void **state)
{
    (void)state;
    svm_expect("empty.libsvm", "", NEON_ERR_FORMAT, "before the 'SV' line", NULL);
}

static void test_svm_missing_header_lines(void **state)
{
    (void)state;
    static const char *const lines[6] = {"svm_type one_class\n", "kernel_type rbf\n",
                                         "gamma 0.5\n", "nr_class 2\n", "total_sv 1\n",
                                         "rho 0.25\n"};
    static const char *const names[6] = {"svm_type", "kernel_type", "gamma", "nr_class",
                                         "total_sv", "rho"};
    for (int skip_k = 0; skip_k < 6; skip_k++) {
        if (skip_k == 3) continue; /* without nr_class, rho fails earlier: next test */
        char text[512] = "";
        for (int k = 0; k < 6; k++)
            if (k != skip_k) strcat(text, lines[k]);
        strcat(text, "SV\n1 1:1\n");
        char want[64];
        snprintf(want, sizeof want, "no '%s' line", names[skip_k]);
        svm_expect("missing.libsvm", text, NEON_ERR_FORMAT, want, NULL);
    }
}

static void test_svm_rho_before_nr_class(void **state)
{
    (void)state;
    svm_expect("order.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0.5\nrho 0.25\n"
               "nr_class 2\ntotal_sv 1\nSV\n1 1:1\n", NEON_ERR_FORMAT, "before 'nr_class'", "line 4");
}

/* libsvm keeps the last of repeated header lines and leaks the arrays of
 * the earlier ones (found by fuzz_libsvm); refused before libsvm reads. */
static void test_svm_header_line_twice(void **state)
{
    (void)state;
    svm_expect("twice.libsvm", HDR "rho 0.25\nSV\n1 1:1\n1 2:1\n", NEON_ERR_FORMAT,
               "'rho' appears twice", "line 7");
    svm_expect("twice2.libsvm", "svm_type one_class\n" HDR "SV\n1 1:1\n1 2:1\n", NEON_ERR_FORMAT,
               "'svm_type' appears twice", NULL);
}

static void test_svm_nr_class(void **state)
{
    (void)state;
    svm_expect("nrclass.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 3\n"
               "total_sv 1\nrho 1 2 3\nSV\n1 1:1\n", NEON_ERR_FORMAT, "nr_class 3", NULL);
}

static void test_svm_no_support_vectors(void **state)
{
    (void)state;
    svm_expect("nosv.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\n"
               "total_sv 0\nrho 0.25\nSV\n", NEON_ERR_FORMAT, "no support vectors", NULL);
}

static void test_svm_total_sv_lies(void **state)
{
    (void)state;
    svm_expect("lies.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\n"
               "total_sv 2147483647\nrho 0.25\nSV\n1 1:1\n", NEON_ERR_FORMAT, "only 1 of the 2147483647",
               NULL);
}

static void test_svm_value_missing(void **state)
{
    (void)state;
    svm_expect("novalue.libsvm", "svm_type one_class\nkernel_type rbf\ngamma\n", NEON_ERR_FORMAT,
               "'gamma' needs 1 finite value", "line 3");
}

static void test_svm_last_line_cut(void **state)
{
    (void)state;
    svm_expect("cut.libsvm", HDR "SV\n0.5 1:1\n0.5 2:0.", NEON_ERR_FORMAT, "ends inside this line",
               "line 9");
}

static void test_svm_empty_sv_line(void **state)
{
    (void)state;
    svm_expect("emptysv.libsvm", HDR "SV\n0.5 1:1\n\n0.5 1:2\n", NEON_ERR_FORMAT,
               "empty support vector line", "line 9");
}

static void test_svm_bad_coefficient(void **state)
{
    (void)state;
    svm_expect("coef.libsvm", HDR "SV\nx 1:1\n1 1:1\n", NEON_ERR_FORMAT, "bad coefficient 'x'", NULL);
}

static void test_svm_feature_index_zero(void **state)
{
    (void)state;
    svm_expect("idx0.libsvm", HDR "SV\n1 0:1\n1 1:1\n", NEON_ERR_FORMAT, "indices must be >= 1", NULL);
}

static void test_svm_feature_index_overflow(void **state)
{
    (void)state;
    svm_expect("idxbig.libsvm", HDR "SV\n1 99999999999:1\n1 1:1\n", NEON_ERR_FORMAT, "bad feature",
               NULL);
}

static void test_svm_value_overflow(void **state)
{
    (void)state;
    svm_expect("valbig.libsvm", HDR "SV\n1 1:1e400\n1 1:1\n", NEON_ERR_FORMAT, "bad feature", NULL);
}

static void test_svm_value_beyond_float(void **state)
{
    (void)state; /* finite as a double, not as the float neonlrp computes with */
    svm_expect("valf.libsvm", HDR "SV\n1 1:1e300\n1 1:1\n", NEON_ERR_NUMERIC, "not a finite float",
               NULL);
}

static void test_svm_probability_marks(void **state)
{
    (void)state;
    svm_expect("prob.libsvm", "svm_type one_class\nkernel_type rbf\ngamma 0.5\nnr_class 2\n"
               "total_sv 1\nrho 0.25\nprob_density_marks 0.1 0.2\nSV\n1 1:1\n",
               NEON_ERR_UNSUPPORTED, "prob_density_marks", NULL);
}

static void test_svm_unknown_kernel(void **state)
{
    (void)state;
    svm_expect("kern.libsvm", "svm_type one_class\nkernel_type gaussian\n", NEON_ERR_FORMAT,
               "unknown kernel_type 'gaussian'", NULL);
}
#endif

#define T(f) cmocka_unit_test(f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_km_valid_files_load), T(test_km_empty_file), T(test_km_magic_only),
        T(test_km_zero_features), T(test_km_sizes_overflow), T(test_km_data_missing),
        T(test_km_crc_trailer_damaged), T(test_km_reserved_field), T(test_km_bad_beta),
        T(test_km_bad_inertia), T(test_km_nan_centroid), T(test_km_nan_pca),
        T(test_km_components_not_orthonormal), T(test_km_pca_huge_input_space),
        T(test_km_npy_one_centroid), T(test_km_npy_nan_centroid), T(test_km_npy_truncated),
        T(test_km_directory),
#ifdef NEON_WITH_LIBSVM
        T(test_svm_valid_file_loads), T(test_svm_empty_file), T(test_svm_feature_index_huge),
        T(test_svm_missing_header_lines),
        T(test_svm_rho_before_nr_class), T(test_svm_header_line_twice), T(test_svm_nr_class),
        T(test_svm_no_support_vectors), T(test_svm_total_sv_lies), T(test_svm_value_missing),
        T(test_svm_last_line_cut), T(test_svm_empty_sv_line), T(test_svm_bad_coefficient),
        T(test_svm_feature_index_zero), T(test_svm_feature_index_overflow),
        T(test_svm_value_overflow), T(test_svm_value_beyond_float), T(test_svm_probability_marks),
        T(test_svm_unknown_kernel),
#endif
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
