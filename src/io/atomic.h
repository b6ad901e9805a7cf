/* Internal: atomic file writing for every neonlrp writer (npy, PNG, CSV,
 * model files, ...).
 *
 * The data goes to a temporary file created next to the target
 * ("<path>.tmpXXXXXX", same directory, hence same file system) and is
 * renamed over the target only when everything was written, flushed and
 * fsync'ed.  Readers therefore see either the complete old file or the
 * complete new one; on any failure the temporary file is removed and an
 * earlier file of that name is left untouched, byte for byte.
 *
 * Usage:
 *
 *     neon_atomic_file af;
 *     NEON_TRY(neon_atomic_begin(ctx, path, &af));
 *     fprintf(af.fp, ...);                              (or neon_atomic_write)
 *     if (something_failed) {
 *         neon_atomic_abort(ctx, &af);                  (old file untouched)
 *         return st;
 *     }
 *     return neon_atomic_commit(ctx, &af);              (checks ferror too)
 *
 * After begin succeeds, exactly one of commit / abort must be called; both
 * release everything, and calling abort after commit (or twice) is a
 * harmless no-op, so an error path may call abort unconditionally.
 * Failures are NEON_ERR_IO with a message naming the target path and the
 * system's reason.  The new file gets the permission bits of the file it
 * replaces, or 0666 & ~umask when there was none (as fopen would).
 */
#ifndef NEON_IO_ATOMIC_H
#define NEON_IO_ATOMIC_H

#include "core.h"

#include <stdio.h>

typedef struct neon_atomic_file {
    FILE *fp;       /* write here (binary mode); NULL once committed/aborted */
    char *path;     /* the target (copy, ctx-allocated) */
    char *tmp_path; /* the temporary file (ctx-allocated) */
    int mode;       /* permission bits given to the file before the rename */
    int err;        /* errno of the first failed neon_atomic_write, or 0 */
} neon_atomic_file;

/* Creates the temporary file for path.  On failure *af is zeroed (so abort
 * on it is a no-op) and nothing is left on disk. */
neon_status neon_atomic_begin(neon_ctx *ctx, const char *path, neon_atomic_file *af);

/* fwrite of n bytes; a short write is NEON_ERR_IO with the reason.  Does
 * not abort: the caller still calls abort (or commit, which will fail). */
neon_status neon_atomic_write(neon_ctx *ctx, neon_atomic_file *af, const void *buf, size_t n);

/* Flushes, fsyncs, closes and renames the temporary file into place, then
 * fsyncs the directory (best effort).  If the stream saw any error, or any
 * step fails, the temporary file is removed, the target is untouched and
 * NEON_ERR_IO is returned. */
neon_status neon_atomic_commit(neon_ctx *ctx, neon_atomic_file *af);

/* Closes and removes the temporary file; keeps the message on ctx. */
void neon_atomic_abort(neon_ctx *ctx, neon_atomic_file *af);

/* strerror(err) into buf, thread-safe; returns buf. */
const char *neon_io_strerror(int err, char *buf, size_t n);

#endif /* NEON_IO_ATOMIC_H */
