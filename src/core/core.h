/* Internal core: the context, errors, allocation, small helpers.
 * Not installed; every library source includes it. */
#ifndef NEON_CORE_H
#define NEON_CORE_H

#include "neonlrp/neon.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

#define NEON_ERRMSG_MAX 1024

struct neon_ctx {
    neon_allocator alloc;
    neon_status last;
    char msg[NEON_ERRMSG_MAX];
    neon_log_fn log_fn;
    neon_log_level log_max;
    void *log_user;
    int threads;
};

#if defined(__GNUC__)
#define NEON_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define NEON_PRINTF(a, b)
#endif

/* Records status + formatted message on ctx and returns the status, so that
 * `return neon_fail(ctx, NEON_ERR_SHAPE, "...", ...);` reads naturally.
 * ctx may be NULL (message dropped). */
neon_status neon_fail(neon_ctx *ctx, neon_status st, const char *fmt, ...) NEON_PRINTF(3, 4);
/* Prepends "prefix: " to the current message (e.g. the file name). */
void neon_errmsg_prefix(neon_ctx *ctx, const char *fmt, ...) NEON_PRINTF(2, 3);
void neon_log(neon_ctx *ctx, neon_log_level lvl, const char *fmt, ...) NEON_PRINTF(3, 4);

/* Allocation through the context's hooks.  neon_alloc* set NEON_ERR_NOMEM
 * with a message on failure and return NULL.  Sizes are checked for
 * overflow: neon_alloc_array(ctx, n, size). */
void *neon_alloc(neon_ctx *ctx, size_t size);
void *neon_calloc(neon_ctx *ctx, size_t n, size_t size);
void *neon_alloc_array(neon_ctx *ctx, size_t n, size_t size);
void *neon_realloc(neon_ctx *ctx, void *p, size_t size);
void neon_free(neon_ctx *ctx, void *p);
char *neon_strdup(neon_ctx *ctx, const char *s);
/* Floats, 64-byte aligned is not required by BLAS; plain arrays. */
#define NEON_FALLOC(ctx, n) ((float *)neon_alloc_array((ctx), (size_t)(n), sizeof(float)))

/* a*b with overflow check; returns false on overflow or negative input. */
bool neon_mul_ok(int64_t a, int64_t b, int64_t *out);

#define NEON_TRY(expr)                                                         \
    do {                                                                       \
        neon_status neon_try_st_ = (expr);                                     \
        if (neon_try_st_ != NEON_OK) return neon_try_st_;                      \
    } while (0)

/* Index of the first non-finite value in x[0..n), or -1. */
int64_t neon_find_nonfinite(const float *x, int64_t n);

#endif /* NEON_CORE_H */
