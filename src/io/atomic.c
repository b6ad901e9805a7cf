/* Atomic file writing: temp file next to the target, fsync, rename. */
#define _POSIX_C_SOURCE 200809L

#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *neon_io_strerror(int err, char *buf, size_t n)
{
    if (!buf || n == 0) return "";
    /* XSI strerror_r (no _GNU_SOURCE): returns 0 on success. */
    if (strerror_r(err, buf, n) != 0) snprintf(buf, n, "error %d", err);
    return buf;
}

/* The process umask without changing it (umask() would race with other
 * threads creating files): Linux reports it in /proc/self/status. */
static mode_t current_umask(void)
{
    mode_t mask = 022;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return mask;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Umask:", 6) == 0) {
            char *end = NULL;
            unsigned long v = strtoul(line + 6, &end, 8);
            if (end != line + 6) mask = (mode_t)(v & 0777);
            break;
        }
    }
    fclose(f);
    return mask;
}

static void release(neon_ctx *ctx, neon_atomic_file *af)
{
    neon_free(ctx, af->path);
    neon_free(ctx, af->tmp_path);
    memset(af, 0, sizeof *af);
}

neon_status neon_atomic_begin(neon_ctx *ctx, const char *path, neon_atomic_file *af)
{
    if (!af) return neon_fail(ctx, NEON_ERR_INVALID, "neon_atomic_begin: NULL handle");
    memset(af, 0, sizeof *af);
    if (!ctx) return NEON_ERR_INVALID;
    if (!path || !*path) return neon_fail(ctx, NEON_ERR_INVALID, "empty output path");

    size_t n = strlen(path);
    static const char suffix[] = ".tmpXXXXXX";
    af->path = neon_strdup(ctx, path);
    af->tmp_path = neon_alloc(ctx, n + sizeof suffix);
    if (!af->path || !af->tmp_path) {
        release(ctx, af);
        return NEON_ERR_NOMEM;
    }
    memcpy(af->tmp_path, path, n);
    memcpy(af->tmp_path + n, suffix, sizeof suffix);

    char eb[128];
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            release(ctx, af);
            return neon_fail(ctx, NEON_ERR_IO, "cannot write %s: is a directory", path);
        }
        af->mode = (int)(st.st_mode & 07777);
    } else {
        af->mode = (int)(0666 & ~current_umask());
    }

    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        int e = errno;
        neon_fail(ctx, NEON_ERR_IO, "cannot create %s: %s", path, neon_io_strerror(e, eb, sizeof eb));
        release(ctx, af);
        return NEON_ERR_IO;
    }
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        neon_fail(ctx, NEON_ERR_IO, "cannot create %s: %s", path, neon_io_strerror(e, eb, sizeof eb));
        release(ctx, af);
        return NEON_ERR_IO;
    }
    return NEON_OK;
}

neon_status neon_atomic_write(neon_ctx *ctx, neon_atomic_file *af, const void *buf, size_t n)
{
    if (!af || !af->fp) return neon_fail(ctx, NEON_ERR_INVALID, "write to a closed atomic file");
    if (n == 0) return NEON_OK;
    errno = 0;
    if (fwrite(buf, 1, n, af->fp) != n) {
        char eb[128];
        int e = errno ? errno : EIO;
        if (!af->err) af->err = e;
        return neon_fail(ctx, NEON_ERR_IO, "cannot write %s: %s", af->path,
                         neon_io_strerror(e, eb, sizeof eb));
    }
    return NEON_OK;
}

void neon_atomic_abort(neon_ctx *ctx, neon_atomic_file *af)
{
    if (!af || !af->tmp_path) return;
    if (af->fp) fclose(af->fp);
    unlink(af->tmp_path);
    release(ctx, af);
}

/* Best effort: makes the rename itself durable. */
static void sync_parent_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) {
        strcpy(dir, ".");
    } else {
        size_t len = (size_t)(slash - path);
        if (len == 0) len = 1; /* "/file" */
        if (len >= sizeof dir) return;
        memcpy(dir, path, len);
        dir[len] = '\0';
    }
    int fd = open(dir, O_RDONLY);
    if (fd < 0) return;
    (void)fsync(fd);
    close(fd);
}

neon_status neon_atomic_commit(neon_ctx *ctx, neon_atomic_file *af)
{
    if (!af || !af->fp || !af->tmp_path)
        return neon_fail(ctx, NEON_ERR_INVALID, "commit of a closed atomic file");
    char eb[128];
    const char *what = NULL;
    int err = 0;

    if (ferror(af->fp)) {
        what = "write failed";
        err = af->err ? af->err : EIO;
    } else if (fflush(af->fp) != 0) {
        what = "write failed";
        err = errno;
    } else if (fchmod(fileno(af->fp), (mode_t)af->mode) != 0) {
        what = "cannot set permissions";
        err = errno;
    } else if (fsync(fileno(af->fp)) != 0 && errno != EINVAL && errno != EROFS) {
        what = "fsync failed";
        err = errno;
    }
    int close_rc = fclose(af->fp);
    af->fp = NULL;
    if (!what && close_rc != 0) {
        what = "close failed";
        err = errno;
    }
    if (!what && rename(af->tmp_path, af->path) != 0) {
        what = "cannot rename temporary file into place";
        err = errno;
    }
    if (what) {
        neon_fail(ctx, NEON_ERR_IO, "cannot write %s: %s: %s", af->path, what,
                  neon_io_strerror(err, eb, sizeof eb));
        unlink(af->tmp_path);
        release(ctx, af);
        return NEON_ERR_IO;
    }
    sync_parent_dir(af->path);
    release(ctx, af);
    return NEON_OK;
}
