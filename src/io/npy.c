/* .npy arrays: header dict parsing, dtype conversion to float32, writing;
 * plus neon_tensor_alloc / neon_tensor_free for the tensors readers return.
 *
 * Format (numpy NEP 1): "\x93NUMPY", major, minor, header length (uint16 LE
 * for 1.0, uint32 LE for 2.0/3.0), an ASCII (3.0: UTF-8) Python dict
 * literal {'descr': ..., 'fortran_order': ..., 'shape': (...)} padded with
 * spaces and '\n', then the raw data in C order. */
#define _POSIX_C_SOURCE 200809L

#include "core.h"
#include "neonlrp/io.h"
#include "atomic.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

/* ---- tensors ------------------------------------------------------------ */

void neon_tensor_free(neon_ctx *ctx, neon_tensor *t)
{
    if (!t) return;
    if (ctx) neon_free(ctx, t->data); /* without the ctx we cannot know the allocator */
    memset(t, 0, sizeof *t);
}

neon_status neon_tensor_alloc(neon_ctx *ctx, neon_tensor *t, int ndim, const int64_t *shape)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!t) return neon_fail(ctx, NEON_ERR_INVALID, "neon_tensor_alloc: NULL tensor");
    memset(t, 0, sizeof *t);
    if (ndim < 0 || ndim > NEON_MAX_DIMS || (ndim > 0 && !shape))
        return neon_fail(ctx, NEON_ERR_INVALID, "neon_tensor_alloc: rank %d not in [0, %d]", ndim,
                         NEON_MAX_DIMS);
    neon_tensor tmp = {NULL, ndim, {0}};
    for (int i = 0; i < ndim; i++) tmp.shape[i] = shape[i];
    int64_t n = neon_tensor_numel(&tmp);
    char sb[256];
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float))
        return neon_fail(ctx, NEON_ERR_INVALID, "neon_tensor_alloc: invalid shape %s",
                         neon_shape_str(ndim, tmp.shape, sb, sizeof sb));
    tmp.data = neon_calloc(ctx, (size_t)n, sizeof(float));
    if (!tmp.data) return NEON_ERR_NOMEM;
    *t = tmp;
    return NEON_OK;
}

/* ---- header ------------------------------------------------------------- */

typedef struct npy_info {
    char kind;      /* 'f' float, 'i' signed, 'u' unsigned, 'b' bool */
    int itemsize;   /* bytes per element */
    int ndim;
    int64_t shape[NEON_MAX_DIMS];
    int64_t numel;
    uint64_t data_off; /* preamble + header */
} npy_info;

static neon_status npy_bad(neon_ctx *ctx, const char *name, const char *fmt, ...) NEON_PRINTF(3, 4);
static neon_status npy_bad(neon_ctx *ctx, const char *name, const char *fmt, ...)
{
    char buf[NEON_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return neon_fail(ctx, NEON_ERR_FORMAT, "%s: %s", name, buf);
}

static const uint8_t npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

/* Checks magic + version in the first n (<= 12) bytes of a file of `total`
 * bytes; sets data_off to the header start and *hlen to its length. */
static neon_status npy_preamble(neon_ctx *ctx, const char *name, const uint8_t *p, size_t n,
                                uint64_t total, npy_info *info, uint32_t *hlen)
{
    size_t m = n < 6 ? n : 6;
    if (memcmp(p, npy_magic, m) != 0) return npy_bad(ctx, name, "bad magic (not a .npy file)");
    if (n < 10) return npy_bad(ctx, name, "truncated header (file has %zu bytes)", n);
    int major = p[6], minor = p[7];
    size_t pre;
    if (major == 1 && minor == 0) {
        pre = 10;
        *hlen = (uint32_t)p[8] | (uint32_t)p[9] << 8;
    } else if ((major == 2 || major == 3) && minor == 0) {
        if (n < 12) return npy_bad(ctx, name, "truncated header (file has %zu bytes)", n);
        pre = 12;
        *hlen = (uint32_t)p[8] | (uint32_t)p[9] << 8 | (uint32_t)p[10] << 16 | (uint32_t)p[11] << 24;
    } else {
        return npy_bad(ctx, name, "unsupported .npy format version %d.%d", major, minor);
    }
    if ((uint64_t)*hlen > total - pre)
        return npy_bad(ctx, name, "truncated header: declares %lu header bytes, file has %llu after the preamble",
                       (unsigned long)*hlen, (unsigned long long)(total - pre));
    info->data_off = pre + (uint64_t)*hlen;
    return NEON_OK;
}

/* A tiny lexer for the Python literals numpy writes. */
typedef struct lexer { const char *p, *e; } lexer;

static void lx_ws(lexer *lx)
{
    while (lx->p < lx->e && (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\n' || *lx->p == '\r'))
        lx->p++;
}

static bool lx_eat(lexer *lx, char c)
{
    lx_ws(lx);
    if (lx->p < lx->e && *lx->p == c) {
        lx->p++;
        return true;
    }
    return false;
}

static bool lx_peek(lexer *lx, char c)
{
    lx_ws(lx);
    return lx->p < lx->e && *lx->p == c;
}

/* 'text' or "text" without escapes; longer strings are truncated to cap-1. */
static bool lx_string(lexer *lx, char *out, size_t cap)
{
    lx_ws(lx);
    if (lx->p >= lx->e || (*lx->p != '\'' && *lx->p != '"')) return false;
    char q = *lx->p++;
    size_t i = 0;
    while (lx->p < lx->e && *lx->p != q) {
        if (*lx->p == '\\' || (unsigned char)*lx->p < 0x20) return false;
        if (i + 1 < cap) out[i++] = *lx->p;
        lx->p++;
    }
    if (lx->p >= lx->e) return false;
    lx->p++;
    out[i] = '\0';
    return true;
}

static bool lx_word(lexer *lx, const char *w)
{
    lx_ws(lx);
    size_t n = strlen(w);
    if ((size_t)(lx->e - lx->p) < n || memcmp(lx->p, w, n) != 0) return false;
    if (lx->p + n < lx->e) {
        char c = lx->p[n];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            return false;
    }
    lx->p += n;
    return true;
}

/* Non-negative decimal integer (Python 2 files may append 'L').
 * Returns 0 ok, -1 not a number, -2 too large. */
static int lx_uint(lexer *lx, int64_t *v)
{
    lx_ws(lx);
    if (lx->p >= lx->e || *lx->p < '0' || *lx->p > '9') return -1;
    int64_t x = 0;
    bool big = false;
    while (lx->p < lx->e && *lx->p >= '0' && *lx->p <= '9') {
        int d = *lx->p++ - '0';
        if (x > (INT64_MAX - d) / 10) big = true;
        else x = x * 10 + d;
    }
    if (lx->p < lx->e && (*lx->p == 'L' || *lx->p == 'l')) lx->p++;
    *v = x;
    return big ? -2 : 0;
}

static neon_status npy_shape(neon_ctx *ctx, const char *name, lexer *lx, npy_info *info)
{
    if (!lx_eat(lx, '(')) return npy_bad(ctx, name, "bad header: 'shape' is not a tuple");
    int nd = 0;
    while (!lx_eat(lx, ')')) {
        if (lx_peek(lx, '-')) return npy_bad(ctx, name, "bad header: negative dimension in 'shape'");
        int64_t d;
        int rc = lx_uint(lx, &d);
        if (rc == -1) return npy_bad(ctx, name, "bad header: 'shape' must be a tuple of integers");
        if (rc == -2) return npy_bad(ctx, name, "bad header: dimension %d of 'shape' is too large", nd);
        if (nd < NEON_MAX_DIMS) info->shape[nd] = d;
        nd++;
        if (lx_eat(lx, ',')) continue;
        if (lx_eat(lx, ')')) break;
        return npy_bad(ctx, name, "bad header: expected ',' or ')' in 'shape'");
    }
    if (nd > NEON_MAX_DIMS)
        return npy_bad(ctx, name, "rank %d exceeds the maximum of %d dimensions", nd, NEON_MAX_DIMS);
    info->ndim = nd;
    return NEON_OK;
}

static neon_status npy_dtype(neon_ctx *ctx, const char *name, const char *d, npy_info *info)
{
    char order = d[0];
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return npy_bad(ctx, name, "unsupported dtype '%s'", d);
    char kind = d[1];
    int size = 0;
    if (d[2] >= '1' && d[2] <= '8' && d[3] == '\0') size = d[2] - '0';
    bool ok = (kind == 'f' && (size == 4 || size == 8)) || (kind == 'b' && size == 1) ||
              ((kind == 'i' || kind == 'u') && (size == 1 || size == 2 || size == 4 || size == 8));
    if (!ok) return npy_bad(ctx, name, "unsupported dtype '%s' (supported: f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 b1)", d);
    if (size > 1 && order == '>') return npy_bad(ctx, name, "big-endian dtype '%s' is not supported", d);
    if (size > 1 && order != '<') return npy_bad(ctx, name, "dtype '%s' has no explicit byte order", d);
    info->kind = kind;
    info->itemsize = size;
    return NEON_OK;
}

/* Parses the header dict (keys in any order, trailing commas allowed). */
static neon_status npy_dict(neon_ctx *ctx, const char *name, const char *h, size_t n, npy_info *info)
{
    lexer lx = {h, h + n};
    bool have_descr = false, have_fo = false, have_shape = false, fortran = false;
    char descr[32] = "";
    if (!lx_eat(&lx, '{')) return npy_bad(ctx, name, "bad header: not a dict literal");
    while (!lx_eat(&lx, '}')) {
        char key[32];
        if (!lx_string(&lx, key, sizeof key)) return npy_bad(ctx, name, "bad header: expected a quoted key");
        if (!lx_eat(&lx, ':')) return npy_bad(ctx, name, "bad header: expected ':' after '%s'", key);
        bool dup = false;
        if (strcmp(key, "descr") == 0) {
            dup = have_descr;
            have_descr = true;
            if (lx_peek(&lx, '[')) return npy_bad(ctx, name, "structured dtypes are not supported");
            if (!lx_string(&lx, descr, sizeof descr)) return npy_bad(ctx, name, "bad header: 'descr' is not a string");
        } else if (strcmp(key, "fortran_order") == 0) {
            dup = have_fo;
            have_fo = true;
            if (lx_word(&lx, "True")) fortran = true;
            else if (lx_word(&lx, "False")) fortran = false;
            else return npy_bad(ctx, name, "bad header: 'fortran_order' is not True or False");
        } else if (strcmp(key, "shape") == 0) {
            dup = have_shape;
            have_shape = true;
            NEON_TRY(npy_shape(ctx, name, &lx, info));
        } else {
            return npy_bad(ctx, name, "bad header: unexpected key '%s'", key);
        }
        if (dup) return npy_bad(ctx, name, "bad header: duplicate key '%s'", key);
        if (lx_eat(&lx, ',')) continue;
        if (lx_eat(&lx, '}')) break;
        return npy_bad(ctx, name, "bad header: expected ',' or '}' after '%s'", key);
    }
    lx_ws(&lx);
    if (lx.p != lx.e) return npy_bad(ctx, name, "bad header: unexpected text after the dict");
    if (!have_descr) return npy_bad(ctx, name, "bad header: missing key 'descr'");
    if (!have_fo) return npy_bad(ctx, name, "bad header: missing key 'fortran_order'");
    if (!have_shape) return npy_bad(ctx, name, "bad header: missing key 'shape'");
    if (fortran) return npy_bad(ctx, name, "fortran_order True is not supported (save a C-ordered array)");
    return npy_dtype(ctx, name, descr, info);
}

/* Element count and data size against the real file length, before any
 * allocation: a tiny file never makes us allocate a huge tensor. */
static neon_status npy_sizes(neon_ctx *ctx, const char *name, npy_info *info, uint64_t total)
{
    char sb[256];
    neon_tensor tmp = {NULL, info->ndim, {0}};
    memcpy(tmp.shape, info->shape, sizeof tmp.shape);
    int64_t n = neon_tensor_numel(&tmp), bytes;
    if (n < 0 || !neon_mul_ok(n, info->itemsize, &bytes))
        return npy_bad(ctx, name, "shape %s is too large", neon_shape_str(info->ndim, info->shape, sb, sizeof sb));
    uint64_t avail = total - info->data_off;
    if ((uint64_t)bytes > avail)
        return npy_bad(ctx, name, "truncated data: shape %s needs %lld bytes, the file has %llu after the header",
                       neon_shape_str(info->ndim, info->shape, sb, sizeof sb), (long long)bytes,
                       (unsigned long long)avail);
    if ((uint64_t)bytes < avail)
        return npy_bad(ctx, name, "%llu unexpected bytes after the data of shape %s",
                       (unsigned long long)(avail - (uint64_t)bytes),
                       neon_shape_str(info->ndim, info->shape, sb, sizeof sb));
    info->numel = n;
    return NEON_OK;
}

/* ---- data --------------------------------------------------------------- */

static uint64_t le_bits(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static float f64_to_f32(double d)
{
    if (d > FLT_MAX) return INFINITY;
    if (d < -FLT_MAX) return -INFINITY;
    return (float)d;
}

static void npy_convert(float *dst, const uint8_t *src, size_t count, const npy_info *info)
{
    int sz = info->itemsize;
    size_t i;
    switch (info->kind) {
    case 'f':
        if (sz == 4) {
            for (i = 0; i < count; i++) {
                uint32_t b = (uint32_t)le_bits(src + 4 * i, 4);
                memcpy(&dst[i], &b, 4);
            }
        } else {
            for (i = 0; i < count; i++) {
                uint64_t b = le_bits(src + 8 * i, 8);
                double d;
                memcpy(&d, &b, 8);
                dst[i] = f64_to_f32(d);
            }
        }
        break;
    case 'b':
        for (i = 0; i < count; i++) dst[i] = src[i] ? 1.0f : 0.0f;
        break;
    case 'u':
        for (i = 0; i < count; i++) dst[i] = (float)le_bits(src + (size_t)sz * i, sz);
        break;
    default: /* 'i': reinterpret the two's complement bits */
        for (i = 0; i < count; i++) {
            uint64_t b = le_bits(src + (size_t)sz * i, sz);
            if (sz == 1) { uint8_t u = (uint8_t)b; int8_t s; memcpy(&s, &u, 1); dst[i] = s; }
            else if (sz == 2) { uint16_t u = (uint16_t)b; int16_t s; memcpy(&s, &u, 2); dst[i] = s; }
            else if (sz == 4) { uint32_t u = (uint32_t)b; int32_t s; memcpy(&s, &u, 4); dst[i] = (float)s; }
            else { int64_t s; memcpy(&s, &b, 8); dst[i] = (float)s; }
        }
        break;
    }
}

neon_status neon_npy_parse(neon_ctx *ctx, const void *buf, size_t len, const char *name,
                           neon_tensor *out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!out) return neon_fail(ctx, NEON_ERR_INVALID, "neon_npy_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!buf && len) return neon_fail(ctx, NEON_ERR_INVALID, "%s: NULL buffer", name);
    const uint8_t *p = buf ? buf : (const uint8_t *)"";
    npy_info info;
    memset(&info, 0, sizeof info);
    uint32_t hlen;
    NEON_TRY(npy_preamble(ctx, name, p, len < 12 ? len : 12, len, &info, &hlen));
    NEON_TRY(npy_dict(ctx, name, (const char *)p + (info.data_off - hlen), hlen, &info));
    NEON_TRY(npy_sizes(ctx, name, &info, len));
    NEON_TRY(neon_tensor_alloc(ctx, out, info.ndim, info.shape));
    npy_convert(out->data, p + info.data_off, (size_t)info.numel, &info);
    return NEON_OK;
}

/* Whole stream into memory (pipes and other non-regular files). */
static neon_status read_all(neon_ctx *ctx, const char *path, FILE *fp, uint8_t **out, size_t *len)
{
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = neon_alloc(ctx, cap);
    if (!b) return NEON_ERR_NOMEM;
    for (;;) {
        if (n == cap) {
            if (cap > SIZE_MAX / 2) break;
            uint8_t *nb = neon_realloc(ctx, b, cap * 2);
            if (!nb) { neon_free(ctx, b); return NEON_ERR_NOMEM; }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    if (ferror(fp)) {
        char eb[128];
        neon_free(ctx, b);
        return neon_fail(ctx, NEON_ERR_IO, "%s: read error: %s", path, neon_io_strerror(errno, eb, sizeof eb));
    }
    *out = b;
    *len = n;
    return NEON_OK;
}

static neon_status read_exact(neon_ctx *ctx, const char *path, FILE *fp, void *dst, size_t n)
{
    if (fread(dst, 1, n, fp) == n) return NEON_OK;
    char eb[128];
    if (ferror(fp))
        return neon_fail(ctx, NEON_ERR_IO, "%s: read error: %s", path, neon_io_strerror(errno, eb, sizeof eb));
    return neon_fail(ctx, NEON_ERR_FORMAT, "%s: file ended early (was it truncated while reading?)", path);
}

static neon_status npy_read_stream(neon_ctx *ctx, const char *path, FILE *fp, uint64_t total,
                                   neon_tensor *out)
{
    uint8_t pre[12];
    size_t n = total < 12 ? (size_t)total : 12;
    NEON_TRY(read_exact(ctx, path, fp, pre, n));
    npy_info info;
    memset(&info, 0, sizeof info);
    uint32_t hlen;
    NEON_TRY(npy_preamble(ctx, path, pre, n, total, &info, &hlen));
    char *hdr = neon_alloc(ctx, hlen ? hlen : 1);
    if (!hdr) return NEON_ERR_NOMEM;
    neon_status st = NEON_OK;
    if (fseek(fp, (long)(info.data_off - hlen), SEEK_SET) != 0)
        st = neon_fail(ctx, NEON_ERR_IO, "%s: cannot seek", path);
    if (st == NEON_OK) st = read_exact(ctx, path, fp, hdr, hlen);
    if (st == NEON_OK) st = npy_dict(ctx, path, hdr, hlen, &info);
    neon_free(ctx, hdr);
    if (st == NEON_OK) st = npy_sizes(ctx, path, &info, total);
    if (st == NEON_OK) st = neon_tensor_alloc(ctx, out, info.ndim, info.shape);
    if (st != NEON_OK) return st;

    uint8_t chunk[1 << 16]; /* a multiple of every item size */
    size_t per = sizeof chunk / (size_t)info.itemsize;
    for (size_t done = 0; done < (size_t)info.numel;) {
        size_t k = (size_t)info.numel - done < per ? (size_t)info.numel - done : per;
        st = read_exact(ctx, path, fp, chunk, k * (size_t)info.itemsize);
        if (st != NEON_OK) {
            neon_tensor_free(ctx, out);
            return st;
        }
        npy_convert(out->data + done, chunk, k, &info);
        done += k;
    }
    return NEON_OK;
}

neon_status neon_npy_read(neon_ctx *ctx, const char *path, neon_tensor *out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!out) return neon_fail(ctx, NEON_ERR_INVALID, "neon_npy_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return neon_fail(ctx, NEON_ERR_INVALID, "neon_npy_read: NULL path");
    char eb[128];
    FILE *fp = fopen(path, "rb");
    if (!fp) return neon_fail(ctx, NEON_ERR_IO, "cannot open %s: %s", path, neon_io_strerror(errno, eb, sizeof eb));
    struct stat st;
    neon_status rc;
    if (fstat(fileno(fp), &st) != 0) {
        rc = neon_fail(ctx, NEON_ERR_IO, "cannot stat %s: %s", path, neon_io_strerror(errno, eb, sizeof eb));
    } else if (S_ISDIR(st.st_mode)) {
        rc = neon_fail(ctx, NEON_ERR_IO, "cannot read %s: is a directory", path);
    } else if (S_ISREG(st.st_mode)) {
        rc = npy_read_stream(ctx, path, fp, (uint64_t)st.st_size, out);
    } else {
        uint8_t *buf = NULL;
        size_t len = 0;
        rc = read_all(ctx, path, fp, &buf, &len);
        if (rc == NEON_OK) rc = neon_npy_parse(ctx, buf, len, path, out);
        neon_free(ctx, buf);
    }
    fclose(fp);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

neon_status neon_npy_write(neon_ctx *ctx, const char *path, const neon_tensor *t)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!path || !t) return neon_fail(ctx, NEON_ERR_INVALID, "neon_npy_write: NULL argument");
    int64_t numel = neon_tensor_numel(t);
    char sb[256];
    if (numel < 0)
        return neon_fail(ctx, NEON_ERR_INVALID, "%s: cannot write a tensor of rank %d / shape %s", path,
                         t->ndim, t->ndim >= 0 && t->ndim <= NEON_MAX_DIMS
                                      ? neon_shape_str(t->ndim, t->shape, sb, sizeof sb) : "?");
    if (numel > 0 && !t->data) return neon_fail(ctx, NEON_ERR_INVALID, "%s: tensor has no data", path);

    /* header: dict + spaces + '\n', so that preamble + header is a multiple of 64 */
    char hdr[512];
    int len = snprintf(hdr, sizeof hdr, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int i = 0; i < t->ndim; i++)
        len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    len += snprintf(hdr + len, sizeof hdr - (size_t)len, "%s), }", t->ndim == 1 ? "," : "");
    size_t hl = (size_t)len + 1;
    size_t pad = (64 - (10 + hl) % 64) % 64;
    memset(hdr + len, ' ', pad);
    hdr[(size_t)len + pad] = '\n';
    hl += pad;
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hl & 0xff), (uint8_t)(hl >> 8)};

    neon_atomic_file af;
    NEON_TRY(neon_atomic_begin(ctx, path, &af));
    neon_status st = neon_atomic_write(ctx, &af, pre, sizeof pre);
    if (st == NEON_OK) st = neon_atomic_write(ctx, &af, hdr, hl);
    uint8_t chunk[1 << 14];
    for (int64_t done = 0; st == NEON_OK && done < numel;) {
        int64_t k = numel - done < (int64_t)(sizeof chunk / 4) ? numel - done : (int64_t)(sizeof chunk / 4);
        for (int64_t i = 0; i < k; i++) {
            uint32_t b;
            memcpy(&b, &t->data[done + i], 4);
            for (int j = 0; j < 4; j++) chunk[4 * i + j] = (uint8_t)(b >> (8 * j));
        }
        st = neon_atomic_write(ctx, &af, chunk, (size_t)k * 4);
        done += k;
    }
    if (st != NEON_OK) {
        neon_atomic_abort(ctx, &af);
        return st;
    }
    return neon_atomic_commit(ctx, &af);
}
