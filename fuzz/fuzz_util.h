/* Helpers shared by the fuzz targets. */
#ifndef NEON_FUZZ_UTIL_H
#define NEON_FUZZ_UTIL_H

#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "neonlrp/neon.h"

/* A context whose log is silent and whose BLAS runs on one thread. */
static inline neon_ctx *fz_ctx(void)
{
    neon_ctx *ctx = NULL;
    if (neon_ctx_create(&ctx, NULL) != NEON_OK) abort();
    neon_ctx_set_threads(ctx, 1);
    return ctx;
}

/* For parsers that only read from a path: the bytes in an in-memory file
 * (memfd), named "/proc/self/fd/N" in path.  Returns the fd (close it). */
static inline int fz_memfile(const uint8_t *data, size_t size, char *path, size_t n)
{
    int fd = memfd_create("neon-fuzz", 0);
    if (fd < 0) abort();
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) abort();
        off += (size_t)w;
    }
    snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

/* Every error path must leave a message. */
static inline void fz_check_msg(neon_ctx *ctx, neon_status st)
{
    const char *m = neon_errmsg(ctx);
    if (st != NEON_OK && (!m || !m[0])) {
        fprintf(stderr, "status %d without a message\n", (int)st);
        abort();
    }
}

#endif
