/* The context: status + message, allocator hooks, logging, thread count. */
#include "core.h"

#include <stdlib.h>
#include <string.h>
#include <math.h>

static void *default_alloc(size_t size, void *user) { (void)user; return malloc(size); }
static void *default_realloc(void *p, size_t size, void *user) { (void)user; return realloc(p, size); }
static void default_free(void *p, void *user) { (void)user; free(p); }

const char *neon_version(void) { return NEON_VERSION_STRING; }

const char *neon_status_str(neon_status st)
{
    switch (st) {
    case NEON_OK: return "ok";
    case NEON_ERR_NOMEM: return "out of memory";
    case NEON_ERR_INVALID: return "invalid argument";
    case NEON_ERR_SHAPE: return "shape mismatch";
    case NEON_ERR_IO: return "I/O error";
    case NEON_ERR_FORMAT: return "malformed file";
    case NEON_ERR_UNSUPPORTED: return "unsupported";
    case NEON_ERR_NUMERIC: return "non-finite number";
    }
    return "unknown status";
}

neon_status neon_ctx_create(neon_ctx **out, const neon_allocator *allocator)
{
    if (!out) return NEON_ERR_INVALID;
    *out = NULL;
    neon_allocator a = {default_alloc, default_realloc, default_free, NULL};
    if (allocator) {
        if (!allocator->alloc || !allocator->realloc || !allocator->free) return NEON_ERR_INVALID;
        a = *allocator;
    }
    neon_ctx *ctx = a.alloc(sizeof *ctx, a.user);
    if (!ctx) return NEON_ERR_NOMEM;
    memset(ctx, 0, sizeof *ctx);
    ctx->alloc = a;
    ctx->log_max = NEON_LOG_WARN;
    *out = ctx;
    return NEON_OK;
}

void neon_ctx_destroy(neon_ctx *ctx)
{
    if (!ctx) return;
    ctx->alloc.free(ctx, ctx->alloc.user);
}

const char *neon_errmsg(const neon_ctx *ctx) { return ctx ? ctx->msg : "no context"; }
neon_status neon_errcode(const neon_ctx *ctx) { return ctx ? ctx->last : NEON_ERR_INVALID; }
void neon_clear_error(neon_ctx *ctx)
{
    if (!ctx) return;
    ctx->last = NEON_OK;
    ctx->msg[0] = '\0';
}

void neon_ctx_set_log(neon_ctx *ctx, neon_log_fn fn, neon_log_level max_level, void *user)
{
    if (!ctx) return;
    ctx->log_fn = fn;
    ctx->log_max = max_level;
    ctx->log_user = user;
}

void neon_ctx_set_threads(neon_ctx *ctx, int n)
{
    if (ctx) ctx->threads = n < 0 ? 0 : n;
}
int neon_ctx_threads(const neon_ctx *ctx) { return ctx ? ctx->threads : 0; }

neon_status neon_fail(neon_ctx *ctx, neon_status st, const char *fmt, ...)
{
    if (!ctx) return st;
    ctx->last = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    return st;
}

void neon_errmsg_prefix(neon_ctx *ctx, const char *fmt, ...)
{
    if (!ctx) return;
    char old[NEON_ERRMSG_MAX];
    memcpy(old, ctx->msg, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(ctx->msg, sizeof ctx->msg, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    size_t used = (size_t)n < sizeof ctx->msg ? (size_t)n : sizeof ctx->msg - 1;
    size_t room = sizeof ctx->msg - used;
    if (room > 2) {
        memcpy(ctx->msg + used, ": ", 2);
        used += 2;
        room -= 2;
        size_t ol = strlen(old);
        if (ol >= room) ol = room - 1;
        memcpy(ctx->msg + used, old, ol);
        ctx->msg[used + ol] = '\0';
    }
}

void neon_log(neon_ctx *ctx, neon_log_level lvl, const char *fmt, ...)
{
    if (!ctx || !ctx->log_fn || lvl > ctx->log_max) return;
    char buf[NEON_ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ctx->log_fn(lvl, buf, ctx->log_user);
}

void *neon_alloc(neon_ctx *ctx, size_t size)
{
    if (size == 0) size = 1;
    void *p = ctx->alloc.alloc(size, ctx->alloc.user);
    if (!p) neon_fail(ctx, NEON_ERR_NOMEM, "out of memory (requesting %zu bytes)", size);
    return p;
}

void *neon_alloc_array(neon_ctx *ctx, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        neon_fail(ctx, NEON_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    return neon_alloc(ctx, n * size);
}

void *neon_calloc(neon_ctx *ctx, size_t n, size_t size)
{
    void *p = neon_alloc_array(ctx, n, size);
    if (p && n && size) memset(p, 0, n * size);
    return p;
}

void *neon_realloc(neon_ctx *ctx, void *p, size_t size)
{
    if (size == 0) size = 1;
    void *q = ctx->alloc.realloc(p, size, ctx->alloc.user);
    if (!q) neon_fail(ctx, NEON_ERR_NOMEM, "out of memory (requesting %zu bytes)", size);
    return q;
}

void neon_free(neon_ctx *ctx, void *p)
{
    if (p) ctx->alloc.free(p, ctx->alloc.user);
}

char *neon_strdup(neon_ctx *ctx, const char *s)
{
    if (!s) s = "";
    size_t n = strlen(s) + 1;
    char *d = neon_alloc(ctx, n);
    if (d) memcpy(d, s, n);
    return d;
}

bool neon_mul_ok(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0) return false;
    if (a != 0 && b > INT64_MAX / a) return false;
    *out = a * b;
    return true;
}

/* Blocks are screened with a branch-free OR over the exponent bits (the
 * compiler vectorizes it); only a block that has a NaN/Inf is scanned. */
int64_t neon_find_nonfinite(const float *x, int64_t n)
{
    enum { BLOCK = 1024 };
    for (int64_t b = 0; b < n; b += BLOCK) {
        const int64_t e = b + BLOCK < n ? b + BLOCK : n;
        uint32_t hit = 0;
        for (int64_t i = b; i < e; i++) {
            uint32_t u;
            memcpy(&u, &x[i], sizeof u);
            hit |= (uint32_t)((u & 0x7f800000u) == 0x7f800000u);
        }
        if (hit)
            for (int64_t i = b; i < e; i++)
                if (!isfinite(x[i])) return i;
    }
    return -1;
}
