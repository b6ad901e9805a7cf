/* IDX files (MNIST / Fashion-MNIST), plain or gzip-compressed, to float32.
 *
 * Format: two zero bytes, an element type byte (0x08 ubyte, 0x09 byte,
 * 0x0B short, 0x0C int, 0x0D float, 0x0E double), the number of dimensions,
 * then each dimension as a big-endian uint32, then the data, big-endian,
 * C order.
 *
 * Sizes are validated before allocating: for plain data the declared size
 * must equal the real length; for gzip data (whose decompressed length is
 * unknown up front) it must not exceed what deflate can expand the
 * compressed bytes to, and the output grows geometrically as data really
 * arrives, so a lying header never makes us allocate far more than the
 * data that is actually there. */
#define _POSIX_C_SOURCE 200809L

#include "core.h"
#include "neonlrp/io.h"
#include "atomic.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

/* deflate cannot expand more than ~1032:1; plus slack for headers. */
#define IDX_MAX_RATIO 1040u
#define IDX_CHUNK (1u << 16)

enum { SRC_MEM, SRC_INFLATE, SRC_GZ };

typedef struct idx_src {
    int kind;
    const char *name;
    const uint8_t *mem; /* SRC_MEM, SRC_INFLATE: the input */
    size_t len, pos;
    z_stream zs;        /* SRC_INFLATE */
    bool zinit, zdone;
    gzFile gz;          /* SRC_GZ (gzread also reads plain files) */
    uint64_t limit;     /* upper bound on the decoded bytes */
    bool exact;         /* limit is the exact decoded length */
} idx_src;

static neon_status idx_bad(neon_ctx *ctx, const char *name, const char *fmt, ...) NEON_PRINTF(3, 4);
static neon_status idx_bad(neon_ctx *ctx, const char *name, const char *fmt, ...)
{
    char buf[NEON_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return neon_fail(ctx, NEON_ERR_FORMAT, "%s: %s", name, buf);
}

static uint64_t sat_mul(uint64_t a, uint64_t b) { return a && b > UINT64_MAX / a ? UINT64_MAX : a * b; }

static neon_status inflate_read(neon_ctx *ctx, idx_src *s, uint8_t *dst, size_t n, size_t *got)
{
    s->zs.next_out = dst;
    s->zs.avail_out = (uInt)n;
    while (s->zs.avail_out > 0 && !s->zdone) {
        if (s->zs.avail_in == 0 && s->pos < s->len) {
            size_t k = s->len - s->pos < UINT_MAX ? s->len - s->pos : UINT_MAX;
            s->zs.next_in = (Bytef *)(uintptr_t)(s->mem + s->pos);
            s->zs.avail_in = (uInt)k;
            s->pos += k;
        }
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        if (rc == Z_STREAM_END) {
            /* another gzip member follows? (gzread reads those too) */
            size_t left = s->zs.avail_in + (s->len - s->pos);
            if (left >= 2 && s->zs.next_in[0] == 0x1f && s->zs.next_in[1] == 0x8b &&
                inflateReset(&s->zs) == Z_OK)
                continue;
            s->zdone = true;
        } else if (rc == Z_BUF_ERROR && s->zs.avail_in == 0 && s->pos == s->len) {
            return idx_bad(ctx, s->name, "truncated gzip stream");
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return idx_bad(ctx, s->name, "corrupt gzip data (%s)", s->zs.msg ? s->zs.msg : "inflate failed");
        }
    }
    *got = n - s->zs.avail_out;
    return NEON_OK;
}

/* Reads up to n (<= IDX_CHUNK) bytes; *got < n only at the end of the data. */
static neon_status src_read(neon_ctx *ctx, idx_src *s, void *dst, size_t n, size_t *got)
{
    *got = 0;
    if (s->kind == SRC_MEM) {
        size_t k = s->len - s->pos < n ? s->len - s->pos : n;
        if (k) memcpy(dst, s->mem + s->pos, k);
        s->pos += k;
        *got = k;
        return NEON_OK;
    }
    if (s->kind == SRC_INFLATE) return inflate_read(ctx, s, dst, n, got);
    int r = gzread(s->gz, dst, (unsigned)n);
    if (r > 0) *got = (size_t)r;
    if ((size_t)*got < n) {
        int err = Z_OK;
        const char *msg = gzerror(s->gz, &err);
        char eb[128];
        if (err == Z_ERRNO)
            return neon_fail(ctx, NEON_ERR_IO, "%s: read error: %s", s->name, neon_io_strerror(errno, eb, sizeof eb));
        if (err == Z_BUF_ERROR) return idx_bad(ctx, s->name, "truncated gzip stream");
        size_t nl = strlen(s->name);
        if (msg && strncmp(msg, s->name, nl) == 0 && msg[nl] == ':') msg += nl + (msg[nl + 1] == ' ' ? 2 : 1);
        if (err != Z_OK) return idx_bad(ctx, s->name, "corrupt gzip data (%s)", msg ? msg : "?");
        if (r < 0) return idx_bad(ctx, s->name, "read failed");
    }
    return NEON_OK;
}

static void src_close(idx_src *s)
{
    if (s->zinit) inflateEnd(&s->zs);
    if (s->gz) gzclose(s->gz);
    s->zinit = false;
    s->gz = NULL;
}

static uint64_t be_bits(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

static void idx_convert(float *dst, const uint8_t *src, size_t count, int type, float scale)
{
    size_t i;
    switch (type) {
    case 0x08:
        for (i = 0; i < count; i++) dst[i] = src[i];
        break;
    case 0x09:
        for (i = 0; i < count; i++) { int8_t s; memcpy(&s, &src[i], 1); dst[i] = s; }
        break;
    case 0x0B:
        for (i = 0; i < count; i++) { uint16_t u = (uint16_t)be_bits(src + 2 * i, 2); int16_t s; memcpy(&s, &u, 2); dst[i] = s; }
        break;
    case 0x0C:
        for (i = 0; i < count; i++) { uint32_t u = (uint32_t)be_bits(src + 4 * i, 4); int32_t s; memcpy(&s, &u, 4); dst[i] = (float)s; }
        break;
    case 0x0D:
        for (i = 0; i < count; i++) { uint32_t u = (uint32_t)be_bits(src + 4 * i, 4); memcpy(&dst[i], &u, 4); }
        break;
    default: /* 0x0E */
        for (i = 0; i < count; i++) {
            uint64_t u = be_bits(src + 8 * i, 8);
            double d;
            memcpy(&d, &u, 8);
            dst[i] = d > FLT_MAX ? INFINITY : d < -FLT_MAX ? -INFINITY : (float)d;
        }
        break;
    }
    if (scale != 0.0f && scale != 1.0f)
        for (i = 0; i < count; i++) dst[i] *= scale;
}

static int idx_itemsize(int type)
{
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

static neon_status idx_decode(neon_ctx *ctx, idx_src *s, float scale, neon_tensor *out)
{
    const char *name = s->name;
    uint8_t hdr[4 + 4 * NEON_MAX_DIMS];
    size_t got;
    NEON_TRY(src_read(ctx, s, hdr, 4, &got));
    if (got >= 2 && (hdr[0] != 0 || hdr[1] != 0))
        return idx_bad(ctx, name, "bad magic %02x %02x (not an IDX file)", hdr[0], hdr[1]);
    if (got < 4) return idx_bad(ctx, name, "truncated header (%zu bytes)", got);
    int type = hdr[2], nd = hdr[3], isz = idx_itemsize(type);
    if (!isz) return idx_bad(ctx, name, "unknown IDX element type 0x%02x", type);
    if (nd > NEON_MAX_DIMS)
        return idx_bad(ctx, name, "rank %d exceeds the maximum of %d dimensions", nd, NEON_MAX_DIMS);
    NEON_TRY(src_read(ctx, s, hdr + 4, 4 * (size_t)nd, &got));
    if (got < 4 * (size_t)nd)
        return idx_bad(ctx, name, "truncated header: %d dimensions declared, file ends inside them", nd);

    int64_t shape[NEON_MAX_DIMS];
    int64_t numel = 1, bytes;
    for (int i = 0; i < nd; i++) {
        shape[i] = (int64_t)be_bits(hdr + 4 + 4 * i, 4);
        if (!neon_mul_ok(numel, shape[i], &numel)) numel = -1;
    }
    char sb[256];
    if (numel < 0 || !neon_mul_ok(numel, isz, &bytes) || (uint64_t)numel > SIZE_MAX / sizeof(float))
        return idx_bad(ctx, name, "shape %s is too large", neon_shape_str(nd, shape, sb, sizeof sb));
    uint64_t hbytes = 4 + 4 * (uint64_t)nd;
    uint64_t avail = s->limit > hbytes ? s->limit - hbytes : 0;
    if ((uint64_t)bytes > avail) {
        if (s->exact)
            return idx_bad(ctx, name, "truncated data: shape %s needs %lld bytes, the file has %llu after the header",
                           neon_shape_str(nd, shape, sb, sizeof sb), (long long)bytes, (unsigned long long)avail);
        return idx_bad(ctx, name, "shape %s needs %lld bytes, more than the compressed data can hold",
                       neon_shape_str(nd, shape, sb, sizeof sb), (long long)bytes);
    }
    if (s->exact && (uint64_t)bytes < avail)
        return idx_bad(ctx, name, "%llu unexpected bytes after the data of shape %s",
                       (unsigned long long)(avail - (uint64_t)bytes), neon_shape_str(nd, shape, sb, sizeof sb));

    /* exact: allocate all; compressed: grow as data really arrives */
    size_t n = (size_t)numel;
    size_t cap = s->exact || n < (1u << 20) ? n : (1u << 20);
    float *data = NEON_FALLOC(ctx, cap ? cap : 1);
    if (!data) return NEON_ERR_NOMEM;
    uint8_t *chunk = neon_alloc(ctx, IDX_CHUNK);
    if (!chunk) {
        neon_free(ctx, data);
        return NEON_ERR_NOMEM;
    }
    neon_status st = NEON_OK;
    size_t per = IDX_CHUNK / (size_t)isz, done = 0;
    while (done < n) {
        if (done == cap) {
            size_t ncap = cap > n / 2 ? n : cap * 2;
            float *nd2 = neon_realloc(ctx, data, ncap * sizeof(float));
            if (!nd2) { st = NEON_ERR_NOMEM; break; }
            data = nd2;
            cap = ncap;
        }
        size_t k = cap - done < per ? cap - done : per;
        st = src_read(ctx, s, chunk, k * (size_t)isz, &got);
        if (st != NEON_OK) break;
        if (got < k * (size_t)isz) {
            st = idx_bad(ctx, name, "truncated data: shape %s needs %lld bytes, only %llu present",
                         neon_shape_str(nd, shape, sb, sizeof sb), (long long)bytes,
                         (unsigned long long)(done * (size_t)isz + got));
            break;
        }
        idx_convert(data + done, chunk, k, type, scale);
        done += k;
    }
    if (st == NEON_OK && !s->exact) {
        st = src_read(ctx, s, chunk, 1, &got);
        if (st == NEON_OK && got)
            st = idx_bad(ctx, name, "unexpected bytes after the data of shape %s", neon_shape_str(nd, shape, sb, sizeof sb));
    }
    neon_free(ctx, chunk);
    if (st != NEON_OK) {
        neon_free(ctx, data);
        return st;
    }
    out->data = data;
    out->ndim = nd;
    for (int i = 0; i < nd; i++) out->shape[i] = shape[i];
    return NEON_OK;
}

neon_status neon_idx_parse(neon_ctx *ctx, const void *buf, size_t len, const char *name,
                           float scale, neon_tensor *out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!out) return neon_fail(ctx, NEON_ERR_INVALID, "neon_idx_parse: NULL output");
    memset(out, 0, sizeof *out);
    if (!name) name = "<memory>";
    if (!buf && len) return neon_fail(ctx, NEON_ERR_INVALID, "%s: NULL buffer", name);
    idx_src s;
    memset(&s, 0, sizeof s);
    s.name = name;
    s.mem = buf ? buf : (const uint8_t *)"";
    s.len = len;
    if (len >= 2 && s.mem[0] == 0x1f && s.mem[1] == 0x8b) {
        s.kind = SRC_INFLATE;
        if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK)
            return neon_fail(ctx, NEON_ERR_NOMEM, "%s: cannot initialise zlib", name);
        s.zinit = true;
        s.limit = sat_mul(len, IDX_MAX_RATIO);
    } else {
        s.kind = SRC_MEM;
        s.limit = len;
        s.exact = true;
    }
    neon_status st = idx_decode(ctx, &s, scale, out);
    src_close(&s);
    return st;
}

neon_status neon_idx_read(neon_ctx *ctx, const char *path, float scale, neon_tensor *out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!out) return neon_fail(ctx, NEON_ERR_INVALID, "neon_idx_read: NULL output");
    memset(out, 0, sizeof *out);
    if (!path) return neon_fail(ctx, NEON_ERR_INVALID, "neon_idx_read: NULL path");
    char eb[128];
    struct stat st;
    if (stat(path, &st) != 0)
        return neon_fail(ctx, NEON_ERR_IO, "cannot open %s: %s", path, neon_io_strerror(errno, eb, sizeof eb));
    if (S_ISDIR(st.st_mode)) return neon_fail(ctx, NEON_ERR_IO, "cannot read %s: is a directory", path);
    idx_src s;
    memset(&s, 0, sizeof s);
    s.kind = SRC_GZ;
    s.name = path;
    errno = 0;
    s.gz = gzopen(path, "rb");
    if (!s.gz)
        return neon_fail(ctx, errno ? NEON_ERR_IO : NEON_ERR_NOMEM, "cannot open %s: %s", path,
                         errno ? neon_io_strerror(errno, eb, sizeof eb) : "out of memory");
    gzbuffer(s.gz, IDX_CHUNK);
    bool regular = S_ISREG(st.st_mode);
    if (regular && gzdirect(s.gz)) { /* plain file: its size is the exact length */
        s.limit = (uint64_t)st.st_size;
        s.exact = true;
    } else {
        s.limit = regular ? sat_mul((uint64_t)st.st_size, IDX_MAX_RATIO) : UINT64_MAX;
    }
    neon_status rc = idx_decode(ctx, &s, scale, out);
    src_close(&s);
    return rc;
}
