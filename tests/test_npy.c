/* .npy reader/writer and the atomic file helper. */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include "neonlrp/io.h"
#include "io/atomic.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- fixtures: a scratch directory and an allocator that records sizes -- */


static int count_entries(void)
{
    int n = 0;
    DIR *d = opendir(tu_scratch_dir());
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

static void put_file(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static size_t get_file(const char *path, uint8_t *b, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(b, 1, cap, f);
    fclose(f);
    return n;
}

/* Builds a .npy file: version major, the header text (padded), data. */
static size_t make_npy(uint8_t *out, int major, const char *dict, const void *data, size_t dlen)
{
    size_t pre = major == 1 ? 10 : 12, dl = strlen(dict);
    size_t hl = dl + 1;
    hl += (64 - (pre + hl) % 64) % 64;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (uint8_t)major;
    out[7] = 0;
    for (size_t i = 0; i < pre - 8; i++) out[8 + i] = (uint8_t)(hl >> (8 * i));
    memcpy(out + pre, dict, dl);
    memset(out + pre + dl, ' ', hl - dl - 1);
    out[pre + hl - 1] = '\n';
    if (dlen) memcpy(out + pre + hl, data, dlen);
    return pre + hl + dlen;
}

/* ---- round trips ------------------------------------------------------- */

static void test_roundtrip_ranks(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    static const int64_t shapes[][NEON_MAX_DIMS] = {{0}, {5}, {3, 4}, {2, 3, 4}, {1, 2, 1, 3},
                                                    {2, 1, 2, 1, 2, 1, 2, 3}, {0, 7}};
    static const int ranks[] = {0, 1, 2, 3, 4, 8, 2};
    tu_rng r;
    tu_seed(&r, 7);
    for (size_t c = 0; c < sizeof ranks / sizeof ranks[0]; c++) {
        neon_tensor t, u;
        assert_int_equal(neon_tensor_alloc(ctx, &t, ranks[c], shapes[c]), NEON_OK);
        int64_t n = neon_tensor_numel(&t);
        tu_fill(&r, t.data, n, -3.0f, 3.0f);
        char p[256], name[32];
        snprintf(name, sizeof name, "rank%zu.npy", c);
        assert_int_equal(neon_npy_write(ctx, tu_scratch_path(p, sizeof p, name), &t), NEON_OK);
        assert_int_equal(neon_npy_read(ctx, p, &u), NEON_OK);
        assert_int_equal(u.ndim, t.ndim);
        for (int i = 0; i < t.ndim; i++) assert_int_equal(u.shape[i], t.shape[i]);
        if (n) assert_memory_equal(u.data, t.data, (size_t)n * sizeof(float));

        uint8_t raw[4096];
        size_t len = get_file(p, raw, sizeof raw);
        assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
        size_t hdr = len - (size_t)n * 4;
        assert_int_equal(hdr % 64, 0);
        assert_int_equal(raw[hdr - 1], '\n');
        /* the memory parser agrees */
        neon_tensor v;
        assert_int_equal(neon_npy_parse(ctx, raw, len, "mem", &v), NEON_OK);
        assert_int_equal(v.ndim, t.ndim);
        if (n) assert_memory_equal(v.data, t.data, (size_t)n * sizeof(float));
        neon_tensor_free(ctx, &t);
        neon_tensor_free(ctx, &u);
        neon_tensor_free(ctx, &v);
        assert_null(t.data);
    }
    neon_tensor_free(ctx, NULL);
    neon_ctx_destroy(ctx);
}

static void test_header_text(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    int64_t s1[1] = {3}, s0[1] = {0};
    neon_tensor t;
    char p[256];
    uint8_t raw[256];
    assert_int_equal(neon_tensor_alloc(ctx, &t, 1, s1), NEON_OK);
    assert_int_equal(neon_npy_write(ctx, tu_scratch_path(p, sizeof p, "h1.npy"), &t), NEON_OK);
    size_t len = get_file(p, raw, sizeof raw);
    assert_int_equal(len, 128 + 12); /* like numpy: 10 + 57 + 1 padded to 128 */
    assert_memory_equal(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 57);
    neon_tensor_free(ctx, &t);
    assert_int_equal(neon_tensor_alloc(ctx, &t, 0, s0), NEON_OK);
    t.data[0] = 2.5f;
    assert_int_equal(neon_npy_write(ctx, p, &t), NEON_OK);
    len = get_file(p, raw, sizeof raw);
    assert_int_equal(len, 128 + 4);
    assert_memory_equal(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 55);
    assert_memory_equal(raw + 128, "\x00\x00\x20\x40", 4); /* 2.5f little-endian */
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
}

static void put_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void test_float64_file(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const double vals[6] = {0.5, -1.25, 3.0e-3, 1e300, -1e300, 123456.789};
    uint8_t data[48], buf[512];
    for (int i = 0; i < 6; i++) {
        uint64_t b;
        memcpy(&b, &vals[i], 8);
        put_le(data + 8 * i, b, 8);
    }
    size_t n = make_npy(buf, 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", data, 48);
    char p[256];
    put_file(tu_scratch_path(p, sizeof p, "f8.npy"), buf, n);
    neon_tensor t;
    assert_int_equal(neon_npy_read(ctx, p, &t), NEON_OK);
    assert_int_equal(t.ndim, 2);
    assert_int_equal(t.shape[0], 2);
    assert_int_equal(t.shape[1], 3);
    assert_true(t.data[0] == 0.5f && t.data[1] == -1.25f && t.data[2] == (float)3.0e-3);
    assert_true(isinf(t.data[3]) && t.data[3] > 0 && isinf(t.data[4]) && t.data[4] < 0);
    assert_true(t.data[5] == (float)123456.789);
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
}

static void test_integer_dtypes(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    struct { const char *descr; int size; int64_t v[3]; } cases[] = {
        {"|u1", 1, {0, 200, 255}}, {"|i1", 1, {-128, -1, 127}}, {"<i2", 2, {-300, 0, 300}},
        {"<u2", 2, {0, 1, 65535}}, {"<i4", 4, {-70000, 5, 2000000}}, {"<u4", 4, {7, 0, 4000000}},
        {"<i8", 8, {-5, 1LL << 40, 42}}, {"<u8", 8, {3, 9, 1LL << 50}}, {"|b1", 1, {0, 1, 1}},
        {"<u1", 1, {1, 2, 3}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t data[24], buf[256];
        for (int i = 0; i < 3; i++) put_le(data + cases[c].size * i, (uint64_t)cases[c].v[i], cases[c].size);
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (3,), }", cases[c].descr);
        size_t n = make_npy(buf, 1, dict, data, 3 * (size_t)cases[c].size);
        neon_tensor t;
        assert_int_equal(neon_npy_parse(ctx, buf, n, cases[c].descr, &t), NEON_OK);
        for (int i = 0; i < 3; i++) assert_true(t.data[i] == (float)cases[c].v[i]);
        neon_tensor_free(ctx, &t);
    }
    neon_ctx_destroy(ctx);
}

static void test_header_variants(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    float d[6] = {1, 2, 3, 4, 5, 6};
    struct { int major; const char *dict; int ndim; int64_t s0, s1; } cases[] = {
        {1, "{'shape': (2, 3), 'fortran_order': False, 'descr': '<f4'}", 2, 2, 3},
        {1, "{'fortran_order': False, 'descr': '<f4', 'shape': (2, 3,), }", 2, 2, 3},
        {2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 1, 6, 0},
        {3, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 2)}", 2, 3, 2},
        {1, " {  'descr' :'<f4','fortran_order':False,'shape':(2L,3L)} ", 2, 2, 3},
        {1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 6)}\t\r", 2, 1, 6},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t buf[256];
        size_t n = make_npy(buf, cases[c].major, cases[c].dict, d, sizeof d);
        neon_tensor t;
        neon_status st = neon_npy_parse(ctx, buf, n, "variant", &t);
        if (st != NEON_OK) print_error("case %zu: %s\n", c, neon_errmsg(ctx));
        assert_int_equal(st, NEON_OK);
        assert_int_equal(t.ndim, cases[c].ndim);
        assert_int_equal(t.shape[0], cases[c].s0);
        if (t.ndim == 2) assert_int_equal(t.shape[1], cases[c].s1);
        assert_memory_equal(t.data, d, sizeof d);
        neon_tensor_free(ctx, &t);
    }
    neon_ctx_destroy(ctx);
}

/* ---- malformed files ---------------------------------------------------- */

/* Both the file reader and the memory parser must fail with `want`, name
 * the file in the message, mention `part`, and not allocate much. */
static void expect_bad(const void *buf, size_t n, neon_status want, const char *part)
{
    neon_ctx *ctx = tu_rec_ctx();
    char p[256];
    put_file(tu_scratch_path(p, sizeof p, "bad.npy"), buf, n);
    neon_tensor t;
    t.data = (float *)1;
    neon_status st = neon_npy_read(ctx, p, &t);
    if (st != want || !strstr(neon_errmsg(ctx), p) || !strstr(neon_errmsg(ctx), part))
        print_error("expected %d '%s', got %d: %s\n", (int)want, part, (int)st, neon_errmsg(ctx));
    assert_int_equal(st, want);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_non_null(strstr(neon_errmsg(ctx), part));
    assert_null(t.data);
    st = neon_npy_parse(ctx, buf, n, "memfile.npy", &t);
    assert_int_equal(st, want);
    assert_non_null(strstr(neon_errmsg(ctx), "memfile.npy"));
    assert_non_null(strstr(neon_errmsg(ctx), part));
    assert_true(tu_rec_max() < (1u << 20));
    neon_ctx_destroy(ctx);
}

static void expect_bad_dict(int major, const char *dict, size_t dlen, const char *part)
{
    uint8_t buf[1024];
    size_t n = make_npy(buf, major, dict, NULL, 0);
    uint8_t zeros[64] = {0};
    memcpy(buf + n, zeros, dlen);
    expect_bad(buf, n + dlen, NEON_ERR_FORMAT, part);
}

static void test_malformed(void **state)
{
    (void)state;
    uint8_t buf[512];
    /* bad magic, empty file, truncated preamble, header longer than the file */
    expect_bad("\x93NUMPX\x01\x00\x10\x00", 10, NEON_ERR_FORMAT, "bad magic");
    expect_bad("PK\x03\x04 zip file", 12, NEON_ERR_FORMAT, "bad magic");
    expect_bad("", 0, NEON_ERR_FORMAT, "truncated header");
    expect_bad("\x93NUMPY\x01", 7, NEON_ERR_FORMAT, "truncated header");
    expect_bad("\x93NUMPY\x02\x00\x10\x00\x00", 11, NEON_ERR_FORMAT, "truncated header");
    size_t n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "\0\0\0\0", 4);
    expect_bad(buf, 40, NEON_ERR_FORMAT, "truncated header");
    /* version */
    buf[6] = 4;
    expect_bad(buf, n, NEON_ERR_FORMAT, "version 4.0");
    /* data: truncated and trailing */
    n = make_npy(buf, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", NULL, 0);
    memset(buf + n, 0, 30);
    expect_bad(buf, n + 20, NEON_ERR_FORMAT, "truncated data");
    expect_bad(buf, n + 28, NEON_ERR_FORMAT, "unexpected bytes");
    /* dicts */
    expect_bad_dict(1, "['descr', '<f4']", 0, "not a dict");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False}", 4, "missing key 'shape'");
    expect_bad_dict(1, "{'descr': '<f4', 'shape': (1,)}", 4, "missing key 'fortran_order'");
    expect_bad_dict(1, "{'fortran_order': False, 'shape': (1,)}", 4, "missing key 'descr'");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", 4, "unexpected key 'x'");
    expect_bad_dict(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (1,)}", 4, "duplicate");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)", 4, "expected");
    expect_bad_dict(1, "{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}", 4, "bad header");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4, "True or False");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [1]}", 4, "not a tuple");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1 2)}", 8, "expected ',' or ')'");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", 4, "tuple of integers");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (a,)}", 4, "tuple of integers");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 4, "negative");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} junk", 4, "after the dict");
    expect_bad_dict(1, "{'descr': 4, 'fortran_order': False, 'shape': (1,)}", 4, "not a string");
    /* fortran order, byte order, dtypes */
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "fortran_order");
    expect_bad_dict(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4, "big-endian");
    expect_bad_dict(1, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", 8, "big-endian");
    expect_bad_dict(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8, "unsupported dtype");
    expect_bad_dict(1, "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", 8, "unsupported dtype");
    expect_bad_dict(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (1,), }", 2, "unsupported dtype");
    expect_bad_dict(1, "{'descr': '<U3', 'fortran_order': False, 'shape': (1,), }", 12, "unsupported dtype");
    expect_bad_dict(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4, "structured");
    /* sizes: huge declared shapes in a tiny file, overflow, rank */
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000000, 1000), }", 16,
                    "truncated data");
    expect_bad_dict(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (2000000000000000000,), }", 16,
                    "too large");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4), }", 16,
                    "too large");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 4,
                    "too large");
    expect_bad_dict(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
                    "rank 9");
    /* header length field larger than the file in a v2 header */
    n = make_npy(buf, 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", "\0\0\0\0", 4);
    buf[10] = 0xff; /* header length ~ 16 MB */
    expect_bad(buf, n, NEON_ERR_FORMAT, "truncated header");
}

static void test_missing_file(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor t;
    char p[256];
    assert_int_equal(neon_npy_read(ctx, tu_scratch_path(p, sizeof p, "nope.npy"), &t), NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_int_equal(neon_npy_read(ctx, tu_scratch_dir(), &t), NEON_ERR_IO);
    assert_int_equal(neon_npy_read(ctx, NULL, &t), NEON_ERR_INVALID);
    neon_ctx_destroy(ctx);
}

/* ---- atomic writing ------------------------------------------------------ */

static void test_write_missing_dir(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    int64_t s[1] = {4};
    neon_tensor t;
    assert_int_equal(neon_tensor_alloc(ctx, &t, 1, s), NEON_OK);
    char p[256];
    tu_scratch_path(p, sizeof p, "no/such/dir/x.npy");
    int before = count_entries();
    assert_int_equal(neon_npy_write(ctx, p, &t), NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_int_equal(count_entries(), before);
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
}

static void test_atomic_abort_keeps_old(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    const char old[] = "old contents, must survive";
    put_file(tu_scratch_path(p, sizeof p, "keep.bin"), old, sizeof old);
    int before = count_entries();

    neon_atomic_file af;
    assert_int_equal(neon_atomic_begin(ctx, p, &af), NEON_OK);
    assert_non_null(af.fp);
    assert_int_equal(count_entries(), before + 1); /* the temp file */
    assert_int_equal(neon_atomic_write(ctx, &af, "NEW DATA", 8), NEON_OK);
    fflush(af.fp);
    neon_atomic_abort(ctx, &af);
    neon_atomic_abort(ctx, &af); /* second abort: no-op */
    assert_null(af.fp);

    uint8_t got[256];
    assert_int_equal(get_file(p, got, sizeof got), sizeof old);
    assert_memory_equal(got, old, sizeof old);
    assert_int_equal(count_entries(), before);

    /* npy_write with an invalid tensor fails before touching the file */
    neon_tensor bad = {NULL, 9, {0}};
    assert_int_equal(neon_npy_write(ctx, p, &bad), NEON_ERR_INVALID);
    int64_t s[1] = {3};
    neon_tensor nodata = {NULL, 1, {0}};
    nodata.shape[0] = s[0];
    assert_int_equal(neon_npy_write(ctx, p, &nodata), NEON_ERR_INVALID);
    assert_int_equal(get_file(p, got, sizeof got), sizeof old);
    assert_memory_equal(got, old, sizeof old);
    assert_int_equal(count_entries(), before);
    neon_ctx_destroy(ctx);
}

static void test_atomic_commit_failure(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    tu_scratch_path(p, sizeof p, "becomes_dir");
    int before = count_entries();
    neon_atomic_file af;
    assert_int_equal(neon_atomic_begin(ctx, p, &af), NEON_OK);
    assert_int_equal(neon_atomic_write(ctx, &af, "x", 1), NEON_OK);
    /* something else puts a non-empty directory there: rename must fail */
    assert_int_equal(mkdir(p, 0700), 0);
    char q[300];
    snprintf(q, sizeof q, "%s/inner", p);
    put_file(q, "i", 1);
    assert_int_equal(neon_atomic_commit(ctx, &af), NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    assert_null(af.fp);
    neon_atomic_abort(ctx, &af); /* after a failed commit: no-op */
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(), before + 1); /* only the directory, no temp file */
    unlink(q);
    rmdir(p);
    /* begin on a directory fails cleanly */
    assert_int_equal(neon_atomic_begin(ctx, tu_scratch_dir(), &af), NEON_ERR_IO);
    assert_null(af.fp);
    neon_atomic_abort(ctx, &af);
    neon_ctx_destroy(ctx);
}

static void test_atomic_overwrite_mode(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    put_file(tu_scratch_path(p, sizeof p, "mode.npy"), "old", 3);
    assert_int_equal(chmod(p, 0640), 0);
    int64_t s[2] = {2, 2};
    neon_tensor t, u;
    assert_int_equal(neon_tensor_alloc(ctx, &t, 2, s), NEON_OK);
    t.data[3] = 9.0f;
    assert_int_equal(neon_npy_write(ctx, p, &t), NEON_OK);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);
    assert_int_equal(neon_npy_read(ctx, p, &u), NEON_OK);
    assert_true(u.data[3] == 9.0f);
    /* a new file gets 0666 & ~umask, not mkstemp's 0600 */
    mode_t old = umask(022);
    char q[256];
    assert_int_equal(neon_npy_write(ctx, tu_scratch_path(q, sizeof q, "fresh.npy"), &t), NEON_OK);
    umask(old);
    assert_int_equal(stat(q, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    neon_tensor_free(ctx, &t);
    neon_tensor_free(ctx, &u);
    neon_ctx_destroy(ctx);
}

/* A write that fails midway (file size limit -> EFBIG) through the real
 * writer: the old file stays byte-identical and no temp file remains. */
static void test_write_fails_midway(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    char p[256];
    const char old[] = "previous npy bytes";
    put_file(tu_scratch_path(p, sizeof p, "midway.npy"), old, sizeof old);
    int before = count_entries();
    int64_t s[2] = {256, 256}; /* 256 KiB of data */
    neon_tensor t;
    assert_int_equal(neon_tensor_alloc(ctx, &t, 2, s), NEON_OK);

    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = saved;
    lim.rlim_cur = 20000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    neon_status st = neon_npy_write(ctx, p, &t);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(st, NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    uint8_t got[256];
    assert_int_equal(get_file(p, got, sizeof got), sizeof old);
    assert_memory_equal(got, old, sizeof old);
    assert_int_equal(count_entries(), before);
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
}

static void test_tensor_alloc_invalid(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    neon_tensor t;
    int64_t neg[2] = {2, -1}, big[3] = {INT64_MAX / 2, 4, 4};
    assert_int_equal(neon_tensor_alloc(ctx, &t, 2, neg), NEON_ERR_INVALID);
    assert_null(t.data);
    assert_int_equal(neon_tensor_alloc(ctx, &t, 3, big), NEON_ERR_INVALID);
    assert_int_equal(neon_tensor_alloc(ctx, &t, NEON_MAX_DIMS + 1, big), NEON_ERR_INVALID);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_ranks),
        cmocka_unit_test(test_header_text),
        cmocka_unit_test(test_float64_file),
        cmocka_unit_test(test_integer_dtypes),
        cmocka_unit_test(test_header_variants),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_write_missing_dir),
        cmocka_unit_test(test_atomic_abort_keeps_old),
        cmocka_unit_test(test_atomic_commit_failure),
        cmocka_unit_test(test_atomic_overwrite_mode),
        cmocka_unit_test(test_write_fails_midway),
        cmocka_unit_test(test_tensor_alloc_invalid),
    };
    return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
