/* IDX reader: Fashion-MNIST, every element type, plain and gzip, malformed files. */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include "neonlrp/io.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#define FMNIST "/usr/share/datasets/fashion-mnist/"


static void put_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* gzip-compresses src into a malloc'ed buffer. */
static uint8_t *gzip_buf(const void *src, size_t n, size_t *outlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    assert_int_equal(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    assert_non_null(out);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
    *outlen = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

/* IDX header: magic, type, dims. Returns its length. */
static size_t idx_header(uint8_t *b, int type, int nd, const uint32_t *dims)
{
    b[0] = b[1] = 0;
    b[2] = (uint8_t)type;
    b[3] = (uint8_t)nd;
    for (int i = 0; i < nd; i++)
        for (int k = 0; k < 4; k++) b[4 + 4 * i + k] = (uint8_t)(dims[i] >> (24 - 8 * k));
    return 4 + 4 * (size_t)nd;
}

/* ---- Fashion-MNIST ------------------------------------------------------- */

static void test_fashion_mnist_t10k(void **state)
{
    (void)state;
    if (access(FMNIST "t10k-labels-idx1-ubyte.gz", R_OK) != 0) {
        print_message("Fashion-MNIST not installed (dataset-fashion-mnist); skipping\n");
        skip();
    }
    neon_ctx *ctx = tu_ctx();
    neon_tensor lab, img;
    assert_int_equal(neon_idx_read(ctx, FMNIST "t10k-labels-idx1-ubyte.gz", 0.0f, &lab), NEON_OK);
    assert_int_equal(lab.ndim, 1);
    assert_int_equal(lab.shape[0], 10000);
    const float first[10] = {9, 2, 1, 1, 6, 1, 4, 6, 5, 7}; /* ankle boot, pullover, trouser, ... */
    assert_memory_equal(lab.data, first, sizeof first);
    int count[10] = {0};
    for (int i = 0; i < 10000; i++) {
        float v = lab.data[i];
        assert_true(v >= 0 && v <= 9 && v == (float)(int)v);
        count[(int)v]++;
    }
    for (int c = 0; c < 10; c++) assert_int_equal(count[c], 1000); /* balanced test set */

    assert_int_equal(neon_idx_read(ctx, FMNIST "t10k-images-idx3-ubyte.gz", 1.0f / 255.0f, &img), NEON_OK);
    assert_int_equal(img.ndim, 3);
    assert_int_equal(img.shape[0], 10000);
    assert_int_equal(img.shape[1], 28);
    assert_int_equal(img.shape[2], 28);
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < neon_tensor_numel(&img); i++) {
        lo = img.data[i] < lo ? img.data[i] : lo;
        hi = img.data[i] > hi ? img.data[i] : hi;
    }
    assert_true(lo == 0.0f && hi == 1.0f);
    /* first image: pixel sum 33456 / 255 */
    assert_true(fabs(tu_sum(img.data, 784) - 33456.0 / 255.0) < 1e-3);
    neon_tensor_free(ctx, &lab);
    neon_tensor_free(ctx, &img);
    neon_ctx_destroy(ctx);
}

static void test_fashion_mnist_train_labels(void **state)
{
    (void)state;
    if (access(FMNIST "train-labels-idx1-ubyte.gz", R_OK) != 0) skip();
    neon_ctx *ctx = tu_ctx();
    neon_tensor lab;
    assert_int_equal(neon_idx_read(ctx, FMNIST "train-labels-idx1-ubyte.gz", 0.0f, &lab), NEON_OK);
    assert_int_equal(lab.ndim, 1);
    assert_int_equal(lab.shape[0], 60000);
    assert_true(lab.data[0] == 9.0f && lab.data[1] == 0.0f && lab.data[3] == 3.0f);
    neon_tensor_free(ctx, &lab);
    neon_ctx_destroy(ctx);
}

/* ---- element types, plain and gzip, memory and file ---------------------- */

static void check_all_sources(const uint8_t *raw, size_t n, float scale, int ndim, const uint32_t *dims,
                              const float *want, int64_t numel)
{
    neon_ctx *ctx = tu_ctx();
    size_t gzlen;
    uint8_t *gz = gzip_buf(raw, n, &gzlen);
    char pp[256], pg[256];
    put_file(tu_scratch_path(pp, sizeof pp, "plain.idx"), raw, n);
    put_file(tu_scratch_path(pg, sizeof pg, "packed.idx.gz"), gz, gzlen);
    for (int src = 0; src < 4; src++) {
        neon_tensor t;
        neon_status st = src == 0 ? neon_idx_parse(ctx, raw, n, "mem", scale, &t)
                       : src == 1 ? neon_idx_parse(ctx, gz, gzlen, "memgz", scale, &t)
                       : src == 2 ? neon_idx_read(ctx, pp, scale, &t)
                                  : neon_idx_read(ctx, pg, scale, &t);
        if (st != NEON_OK) print_error("source %d: %s\n", src, neon_errmsg(ctx));
        assert_int_equal(st, NEON_OK);
        assert_int_equal(t.ndim, ndim);
        for (int i = 0; i < ndim; i++) assert_int_equal(t.shape[i], dims[i]);
        tu_assert_close(t.data, want, numel, 0, 1e-6, "idx values");
        neon_tensor_free(ctx, &t);
    }
    free(gz);
    neon_ctx_destroy(ctx);
}

static void test_element_types(void **state)
{
    (void)state;
    uint32_t dims[2] = {2, 3};
    uint8_t b[256];
    float want[6];
    /* 0x08 ubyte, with scale */
    size_t h = idx_header(b, 0x08, 2, dims);
    const uint8_t u8[6] = {0, 1, 127, 128, 254, 255};
    memcpy(b + h, u8, 6);
    for (int i = 0; i < 6; i++) want[i] = u8[i] / 255.0f;
    check_all_sources(b, h + 6, 1.0f / 255.0f, 2, dims, want, 6);
    /* 0x09 signed byte */
    h = idx_header(b, 0x09, 2, dims);
    const uint8_t i8[6] = {0x80, 0xff, 0, 1, 0x7f, 0xfe};
    const float wi8[6] = {-128, -1, 0, 1, 127, -2};
    memcpy(b + h, i8, 6);
    check_all_sources(b, h + 6, 0.0f, 2, dims, wi8, 6);
    /* 0x0B short, big-endian */
    h = idx_header(b, 0x0B, 2, dims);
    const int16_t s16[6] = {-32768, -2, 0, 3, 300, 32767};
    for (int i = 0; i < 6; i++) {
        uint16_t u = (uint16_t)s16[i];
        b[h + 2 * i] = (uint8_t)(u >> 8);
        b[h + 2 * i + 1] = (uint8_t)u;
        want[i] = 2.0f * s16[i];
    }
    check_all_sources(b, h + 12, 2.0f, 2, dims, want, 6);
    /* 0x0C int */
    h = idx_header(b, 0x0C, 2, dims);
    const int32_t s32[6] = {-2000000000, -70000, -1, 0, 65536, 2000000000};
    for (int i = 0; i < 6; i++) {
        uint32_t u = (uint32_t)s32[i];
        for (int k = 0; k < 4; k++) b[h + 4 * i + k] = (uint8_t)(u >> (24 - 8 * k));
        want[i] = (float)s32[i];
    }
    check_all_sources(b, h + 24, 0.0f, 2, dims, want, 6);
    /* 0x0D float */
    h = idx_header(b, 0x0D, 2, dims);
    const float f32[6] = {-1.5f, 0.0f, 1e-20f, 3.25f, -7e10f, 0.1f};
    for (int i = 0; i < 6; i++) {
        uint32_t u;
        memcpy(&u, &f32[i], 4);
        for (int k = 0; k < 4; k++) b[h + 4 * i + k] = (uint8_t)(u >> (24 - 8 * k));
    }
    check_all_sources(b, h + 24, 0.0f, 2, dims, f32, 6);
    /* 0x0E double, rank 1 */
    uint32_t d1[1] = {4};
    h = idx_header(b, 0x0E, 1, d1);
    const double f64[4] = {0.125, -2.5, 1e-3, 12345.678};
    for (int i = 0; i < 4; i++) {
        uint64_t u;
        memcpy(&u, &f64[i], 8);
        for (int k = 0; k < 8; k++) b[h + 8 * i + k] = (uint8_t)(u >> (56 - 8 * k));
        want[i] = (float)f64[i];
    }
    check_all_sources(b, h + 32, 0.0f, 1, d1, want, 4);
}

/* More than the initial 1M-element capacity of the gzip path: exercises growth. */
static void test_large_gzip(void **state)
{
    (void)state;
    uint32_t dims[3] = {3000, 28, 28};
    size_t n = 16 + 3000 * 784;
    uint8_t *raw = malloc(n);
    assert_non_null(raw);
    idx_header(raw, 0x08, 3, dims);
    for (size_t i = 16; i < n; i++) raw[i] = (uint8_t)(i * 7);
    size_t gzlen;
    uint8_t *gz = gzip_buf(raw, n, &gzlen);
    neon_ctx *ctx = tu_ctx();
    neon_tensor t;
    assert_int_equal(neon_idx_parse(ctx, gz, gzlen, "big.gz", 0.0f, &t), NEON_OK);
    assert_int_equal(t.shape[0], 3000);
    for (size_t i = 0; i < n - 16; i += 997) assert_true(t.data[i] == (float)raw[16 + i]);
    assert_true(t.data[n - 17] == (float)raw[n - 1]);
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
    free(gz);
    free(raw);
}

/* ---- malformed ------------------------------------------------------------ */

/* File (plain) and memory (plain) both fail with FORMAT naming the file,
 * mentioning `part`, without big allocations; likewise when gzipped unless
 * gz_part is NULL. */
static void expect_bad(const uint8_t *raw, size_t n, const char *part, const char *gz_part)
{
    neon_ctx *ctx = tu_rec_ctx();
    char p[256];
    neon_tensor t;
    put_file(tu_scratch_path(p, sizeof p, "bad.idx"), raw, n);
    neon_status st = neon_idx_read(ctx, p, 0.0f, &t);
    if (st != NEON_ERR_FORMAT || !strstr(neon_errmsg(ctx), part))
        print_error("expected '%s', got %d: %s\n", part, (int)st, neon_errmsg(ctx));
    assert_int_equal(st, NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_non_null(strstr(neon_errmsg(ctx), part));
    assert_null(t.data);
    assert_int_equal(neon_idx_parse(ctx, raw, n, "m.idx", 0.0f, &t), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), "m.idx"));
    assert_non_null(strstr(neon_errmsg(ctx), part));
    if (gz_part) {
        size_t gzlen;
        uint8_t *gz = gzip_buf(raw, n, &gzlen);
        put_file(tu_scratch_path(p, sizeof p, "bad.idx.gz"), gz, gzlen);
        st = neon_idx_read(ctx, p, 0.0f, &t);
        if (st != NEON_ERR_FORMAT || !strstr(neon_errmsg(ctx), gz_part))
            print_error("gz: expected '%s', got %d: %s\n", gz_part, (int)st, neon_errmsg(ctx));
        assert_int_equal(st, NEON_ERR_FORMAT);
        assert_non_null(strstr(neon_errmsg(ctx), p));
        assert_non_null(strstr(neon_errmsg(ctx), gz_part));
        assert_int_equal(neon_idx_parse(ctx, gz, gzlen, "m.idx.gz", 0.0f, &t), NEON_ERR_FORMAT);
        assert_non_null(strstr(neon_errmsg(ctx), "m.idx.gz"));
        assert_non_null(strstr(neon_errmsg(ctx), gz_part));
        free(gz);
    }
    assert_true(tu_rec_max() < (8u << 20));
    neon_ctx_destroy(ctx);
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t b[512] = {0}; /* the "unexpected bytes" case reads one byte past the data */
    uint32_t dims[3] = {4, 3, 2};
    size_t h = idx_header(b, 0x08, 3, dims);
    memset(b + h, 5, 24);
    expect_bad(b, h + 20, "truncated data", "truncated data");
    expect_bad(b, h + 25, "unexpected bytes", "unexpected bytes");
    expect_bad(b, 3, "truncated header", "truncated header");
    expect_bad(b, 10, "truncated header", "truncated header");
    b[0] = 0x1f;
    b[1] = 0x8c;
    expect_bad(b, h + 24, "bad magic", "bad magic");
    b[0] = 0x50;
    b[1] = 0x4b;
    expect_bad(b, h + 24, "bad magic", "bad magic");
    h = idx_header(b, 0x0A, 3, dims);
    expect_bad(b, h + 24, "element type 0x0a", "element type 0x0a");
    uint32_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    h = idx_header(b, 0x08, 9, nine);
    expect_bad(b, h + 1, "rank 9", "rank 9");
    /* huge declared shapes in tiny files: rejected before allocating */
    uint32_t huge[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    h = idx_header(b, 0x0E, 3, huge);
    expect_bad(b, h + 16, "too large", "too large");
    uint32_t big[2] = {60000000u, 784};
    h = idx_header(b, 0x08, 2, big);
    expect_bad(b, h + 16, "truncated data", "compressed data can hold");
}

/* A plausible (not obviously impossible) lie in a gzip file: the output
 * grows only with the data really present. */
static void test_gzip_lying_header(void **state)
{
    (void)state;
    size_t n = 12 + 200000;
    uint8_t *raw = malloc(n);
    assert_non_null(raw);
    uint32_t dims[2] = {100000, 1000}; /* claims 100 MB of data */
    idx_header(raw, 0x08, 2, dims);
    tu_rng r;
    tu_seed(&r, 3);
    for (size_t i = 12; i < n; i++) raw[i] = (uint8_t)(tu_uniform(&r) * 256);
    size_t gzlen;
    uint8_t *gz = gzip_buf(raw, n, &gzlen);
    neon_ctx *ctx = tu_rec_ctx();
    neon_tensor t;
    assert_int_equal(neon_idx_parse(ctx, gz, gzlen, "liar.gz", 0.0f, &t), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), "truncated data"));
    assert_true(tu_rec_max() <= (8u << 20)); /* not 400 MB */
    free(gz);
    /* the same data with an honest header: corrupt and truncated gzip streams */
    uint32_t honest[2] = {200, 1000};
    idx_header(raw, 0x08, 2, honest);
    gz = gzip_buf(raw, n, &gzlen);
    assert_int_equal(neon_idx_parse(ctx, gz, gzlen, "honest.gz", 0.0f, &t), NEON_OK);
    neon_tensor_free(ctx, &t);
    char p[256];
    put_file(tu_scratch_path(p, sizeof p, "cut.gz"), gz, gzlen / 3);
    assert_int_equal(neon_idx_read(ctx, p, 0.0f, &t), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_non_null(strstr(neon_errmsg(ctx), "truncated gzip"));
    assert_int_equal(neon_idx_parse(ctx, gz, gzlen / 3, "cut.gz", 0.0f, &t), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), "truncated gzip"));
    gz[gzlen / 2] ^= 0x55;
    gz[gzlen / 2 + 1] ^= 0xaa;
    put_file(tu_scratch_path(p, sizeof p, "corrupt.gz"), gz, gzlen);
    assert_int_equal(neon_idx_read(ctx, p, 0.0f, &t), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_int_equal(neon_idx_parse(ctx, gz, gzlen, "corrupt.gz", 0.0f, &t), NEON_ERR_FORMAT);
    assert_non_null(strstr(neon_errmsg(ctx), "corrupt.gz"));
    assert_null(t.data);
    neon_ctx_destroy(ctx);
    free(gz);
    free(raw);
}

static void test_missing_file(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor t;
    char p[256];
    assert_int_equal(neon_idx_read(ctx, tu_scratch_path(p, sizeof p, "absent.gz"), 0.0f, &t), NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_int_equal(neon_idx_read(ctx, tu_scratch_dir(), 0.0f, &t), NEON_ERR_IO);
    assert_int_equal(neon_idx_parse(ctx, NULL, 4, "x", 0.0f, &t), NEON_ERR_INVALID);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fashion_mnist_t10k),
        cmocka_unit_test(test_fashion_mnist_train_labels),
        cmocka_unit_test(test_element_types),
        cmocka_unit_test(test_large_gzip),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_gzip_lying_header),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
