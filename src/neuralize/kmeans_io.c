/* k-means model files: the "NEONKM01" format (layout in neuralize.h, at
 * neon_kmeans_save) and bare centroids as .npy (K, D).
 *
 * Every size announced by a header is checked, with overflow checks,
 * against the real file length before anything is allocated; a CRC-32
 * trailer catches damaged bytes anywhere. */
#include "kmeans_impl.h"
#include "io/atomic.h"
#include "neonlrp/io.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define KM_MAGIC "NEONKM01"
#define KM_HEADER 48
/* K x D limit of PCA models read from files (1 GiB of float32) */
#define KM_MAX_INPUT_CENTROIDS (INT64_C(1) << 28)

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *b)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)b[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)b[i] << (8 * i);
    return v;
}
static void put_f32(unsigned char *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    put_u32(b, u);
}
static float get_f32(const unsigned char *b)
{
    uint32_t u = get_u32(b);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* ---- writing --------------------------------------------------------------------- */

typedef struct km_writer {
    neon_atomic_file af;
    uLong crc;
    neon_status st;
} km_writer;

static void w_bytes(neon_ctx *ctx, km_writer *w, const unsigned char *b, size_t n)
{
    if (w->st != NEON_OK) return;
    w->crc = crc32_z(w->crc, b, n);
    w->st = neon_atomic_write(ctx, &w->af, b, n);
}

static void w_floats(neon_ctx *ctx, km_writer *w, const float *x, int64_t n)
{
    unsigned char buf[4096];
    for (int64_t i = 0; i < n;) {
        size_t k = 0;
        for (; k + 4 <= sizeof buf && i < n; k += 4, i++) put_f32(buf + k, x[i]);
        w_bytes(ctx, w, buf, k);
    }
}

neon_status neon_kmeans_save(neon_ctx *ctx, const neon_kmeans *km, const char *path)
{
    if (!ctx || !km || !path) return NEON_ERR_INVALID;
    if (km->K > UINT32_MAX || km->D > UINT32_MAX)
        return neon_fail(ctx, NEON_ERR_UNSUPPORTED, "%s: model too large for the format", path);
    unsigned char h[KM_HEADER] = {0};
    memcpy(h, KM_MAGIC, 8);
    put_u32(h + 8, (uint32_t)km->K);
    put_u32(h + 12, (uint32_t)km->D);
    put_u32(h + 16, (uint32_t)km->P);
    put_u32(h + 20, (uint32_t)(km->n_iter > 0 ? km->n_iter : 0));
    put_f32(h + 24, km->beta);
    double in = km->inertia;
    uint64_t bits;
    memcpy(&bits, &in, 8);
    put_u64(h + 32, bits);
    put_u64(h + 40, km->n_fit);
    km_writer w = {.crc = crc32(0L, Z_NULL, 0), .st = NEON_OK};
    NEON_TRY(neon_atomic_begin(ctx, path, &w.af));
    w_bytes(ctx, &w, h, sizeof h);
    w_floats(ctx, &w, km->mu, km->K * km->Dc);
    if (km->P) {
        w_floats(ctx, &w, km->comp, km->P * km->D);
        w_floats(ctx, &w, km->mean, km->D);
    }
    unsigned char t[4];
    put_u32(t, (uint32_t)w.crc);
    if (w.st == NEON_OK) w.st = neon_atomic_write(ctx, &w.af, t, 4);
    if (w.st != NEON_OK) {
        neon_atomic_abort(ctx, &w.af);
        return w.st;
    }
    return neon_atomic_commit(ctx, &w.af);
}

/* ---- reading ---------------------------------------------------------------------- */

static neon_status load_npy(neon_ctx *ctx, const char *path, neon_kmeans **out)
{
    neon_tensor t;
    NEON_TRY(neon_npy_read(ctx, path, &t));
    char sb[128];
    neon_status st;
    if (t.ndim != 2 || t.shape[0] < 2 || t.shape[1] < 1)
        st = neon_fail(ctx, NEON_ERR_FORMAT,
                       "%s: centroids must be a (K, D) array with K >= 2 clusters, got %s", path,
                       neon_shape_str(t.ndim, t.shape, sb, sizeof sb));
    else {
        st = neon_kmeans_create(ctx, t.shape[0], t.shape[1], t.data, t.shape[1], NULL, NULL, out);
        if (st != NEON_OK) neon_errmsg_prefix(ctx, "%s", path);
    }
    neon_tensor_free(ctx, &t);
    return st;
}

/* Parses a whole NEONKM01 file held in b (len bytes, length already checked). */
static neon_status parse(neon_ctx *ctx, const char *path, const unsigned char *b, size_t len,
                         int64_t K, int64_t D, int64_t P, neon_kmeans **out)
{
    const uint32_t crc = (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), b, len - 4);
    if (crc != get_u32(b + len - 4))
        return neon_fail(ctx, NEON_ERR_FORMAT, "%s: checksum mismatch: the file is damaged", path);
    if (get_u32(b + 28) != 0)
        return neon_fail(ctx, NEON_ERR_FORMAT, "%s: reserved header field is not 0", path);
    const float beta = get_f32(b + 24);
    double inertia;
    uint64_t bits = get_u64(b + 32);
    memcpy(&inertia, &bits, 8);
    if (!isfinite(beta) || beta < 0 || !isfinite(inertia) || (inertia < 0 && inertia != -1.0))
        return neon_fail(ctx, NEON_ERR_FORMAT, "%s: bad beta (%g) or inertia (%g)", path,
                         (double)beta, inertia);
    neon_kmeans *km;
    NEON_TRY(neon_km_alloc(ctx, K, D, P, &km));
    const unsigned char *p = b + KM_HEADER;
    for (int64_t i = 0; i < K * km->Dc; i++, p += 4) km->mu[i] = get_f32(p);
    for (int64_t i = 0; i < P * D; i++, p += 4) km->comp[i] = get_f32(p);
    for (int64_t i = 0; P && i < D; i++, p += 4) km->mean[i] = get_f32(p);
    if (neon_find_nonfinite(km->mu, K * km->Dc) >= 0 ||
        (P && (neon_find_nonfinite(km->comp, P * D) >= 0 || neon_find_nonfinite(km->mean, D) >= 0))) {
        neon_kmeans_destroy(km);
        return neon_fail(ctx, NEON_ERR_FORMAT, "%s: non-finite centroid or PCA value", path);
    }
    neon_status st = neon_km_finish(km);
    if (st != NEON_OK) {
        neon_kmeans_destroy(km);
        neon_errmsg_prefix(ctx, "%s", path);
        return st;
    }
    km->beta = beta;
    km->inertia = inertia;
    km->n_iter = (int)(get_u32(b + 20) & 0x7fffffff);
    km->n_fit = get_u64(b + 40);
    *out = km;
    return NEON_OK;
}

neon_status neon_kmeans_load(neon_ctx *ctx, const char *path, neon_kmeans **out)
{
    if (!ctx || !path || !out) return NEON_ERR_INVALID;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return neon_fail(ctx, NEON_ERR_IO, "%s: cannot open", path);
    unsigned char h[KM_HEADER];
    size_t got = fread(h, 1, sizeof h, f);
    if (got >= 6 && !memcmp(h, "\x93NUMPY", 6)) {
        fclose(f);
        return load_npy(ctx, path, out);
    }
    neon_status st = NEON_OK;
    if (got < 8 || memcmp(h, "NEONKM", 6))
        st = neon_fail(ctx, NEON_ERR_FORMAT,
                       "%s: not a k-means model (no NEONKM magic) nor a .npy centroids file", path);
    else if (memcmp(h, KM_MAGIC, 8))
        st = neon_fail(ctx, NEON_ERR_UNSUPPORTED, "%s: k-means format version '%.2s' is not 01",
                       path, (const char *)h + 6);
    else if (got < KM_HEADER)
        st = neon_fail(ctx, NEON_ERR_FORMAT, "%s: truncated header (%zu of %d bytes)", path, got,
                       KM_HEADER);
    long flen = -1;
    if (st == NEON_OK && (fseek(f, 0, SEEK_END) != 0 || (flen = ftell(f)) < 0))
        st = neon_fail(ctx, NEON_ERR_IO, "%s: cannot determine the file size", path);
    const int64_t K = get_u32(h + 8), D = get_u32(h + 12), P = get_u32(h + 16);
    int64_t n_mu, n_comp, n = 0;
    if (st == NEON_OK && (K < 2 || D < 1 || P > D))
        st = neon_fail(ctx, NEON_ERR_FORMAT,
                       "%s: bad sizes in the header: K %lld (need >= 2), D %lld, P %lld (need <= D)",
                       path, (long long)K, (long long)D, (long long)P);
    if (st == NEON_OK) {
        const int ok = neon_mul_ok(K, P ? P : D, &n_mu) && neon_mul_ok(P, D, &n_comp) &&
                       n_mu <= INT64_MAX / 8 && n_comp <= INT64_MAX / 8;
        if (ok) n = KM_HEADER + 4 * (n_mu + n_comp + (P ? D : 0)) + 4;
        if (!ok || n != (int64_t)flen)
            st = neon_fail(ctx, NEON_ERR_FORMAT,
                           "%s: the file has %ld bytes but its header (K %lld, D %lld, P %lld) "
                           "announces %lld: truncated or damaged",
                           path, flen, (long long)K, (long long)D, (long long)P,
                           ok ? (long long)n : -1LL);
    }
    /* with PCA the file holds K x P centroids, but the model keeps K x D
     * input-space ones: bound what a small file can make us allocate */
    int64_t n_in;
    if (st == NEON_OK && P && (!neon_mul_ok(K, D, &n_in) || n_in > KM_MAX_INPUT_CENTROIDS))
        st = neon_fail(ctx, NEON_ERR_UNSUPPORTED,
                       "%s: K %lld x D %lld input-space centroids exceed the limit of %lld values "
                       "for PCA models read from files",
                       path, (long long)K, (long long)D, (long long)KM_MAX_INPUT_CENTROIDS);
    unsigned char *buf = NULL;
    if (st == NEON_OK && !(buf = neon_alloc(ctx, (size_t)n))) st = NEON_ERR_NOMEM;
    if (st == NEON_OK && (fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)n, f) != (size_t)n))
        st = neon_fail(ctx, NEON_ERR_IO, "%s: read failed", path);
    fclose(f);
    if (st == NEON_OK) st = parse(ctx, path, buf, (size_t)n, K, D, P, out);
    neon_free(ctx, buf);
    return st;
}
