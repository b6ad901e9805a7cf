/* neonlrp: Layer-wise Relevance Propagation and Neuralization-Propagation in C11.
 *
 * Umbrella header: status codes, the context (errors, allocator, logging,
 * threads) and the tensor view.  Every fallible call returns a neon_status;
 * the detailed message (file, node, shapes) is kept on the context and read
 * with neon_errmsg().  The library never exits or aborts on user input.
 *
 * Thread safety (tested in tests/test_hygiene.c):
 *  - A neon_ctx and everything created through it (graphs, rules, models,
 *    tensors from its allocator) belong to one thread at a time: no two
 *    threads may call into objects of the same context concurrently, not
 *    even queries (a forward caches activations in the graph; every call
 *    may record its error on the context).  Hand a context over to another
 *    thread only with the usual synchronization (mutex, thread join).
 *  - Independent contexts may be used from different threads at the same
 *    time, and give bit-identical results to a sequential run.  Nothing is
 *    shared between them but what the caller passes in read-only: input
 *    tensors, weight arrays given to builders, file names.  Those may be
 *    shared while nobody writes to them.  neonlrp has no global state.
 *  - Allocator hooks are called from the thread using their context; hooks
 *    shared by several contexts must be thread-safe themselves.
 *  - Process-wide state of the libraries underneath: OpenBLAS has one
 *    thread count for the process.  neon_ctx_set_threads(ctx, n > 0) sets
 *    it (openblas_set_num_threads) at every forward, for all threads; when
 *    explaining in several threads, leave it at 0 on every context (or give
 *    every context the same n) and choose the count with the environment,
 *    e.g. OPENBLAS_NUM_THREADS=1 when your threads already use every core.
 *    libsvm (one-class SVM models): loading and saving switch the process's
 *    C locale while they run (setlocale in svm_load_model/svm_save_model)
 *    and set libsvm's global print function; do not load or save libsvm
 *    models while other threads depend on the locale.
 */
#ifndef NEONLRP_NEON_H
#define NEONLRP_NEON_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEON_VERSION_MAJOR 0
#define NEON_VERSION_MINOR 1
#define NEON_VERSION_PATCH 0
#define NEON_VERSION_STRING "0.1.0"

typedef enum neon_status {
    NEON_OK = 0,
    NEON_ERR_NOMEM,       /* an allocation failed */
    NEON_ERR_INVALID,     /* a bad argument: unknown rule, missing bound, ... */
    NEON_ERR_SHAPE,       /* shapes do not fit together */
    NEON_ERR_IO,          /* open/read/write/rename failed */
    NEON_ERR_FORMAT,      /* a file is malformed */
    NEON_ERR_UNSUPPORTED, /* valid, but not something neonlrp handles */
    NEON_ERR_NUMERIC      /* NaN/Inf in inputs, weights or relevance */
} neon_status;

/* Short fixed name of a status ("out of memory", "invalid argument", ...). */
const char *neon_status_str(neon_status st);
const char *neon_version(void);

/* ---- context --------------------------------------------------------- */

typedef struct neon_ctx neon_ctx;

/* Allocation hooks.  All library allocations go through them. */
typedef struct neon_allocator {
    void *(*alloc)(size_t size, void *user);
    void *(*realloc)(void *ptr, size_t size, void *user);
    void (*free)(void *ptr, void *user);
    void *user;
} neon_allocator;

typedef enum neon_log_level {
    NEON_LOG_ERROR = 0,
    NEON_LOG_WARN = 1,
    NEON_LOG_INFO = 2,
    NEON_LOG_DEBUG = 3
} neon_log_level;

typedef void (*neon_log_fn)(neon_log_level level, const char *msg, void *user);

/* allocator may be NULL (malloc/realloc/free). */
neon_status neon_ctx_create(neon_ctx **out, const neon_allocator *allocator);
void neon_ctx_destroy(neon_ctx *ctx); /* NULL is a no-op */

/* The message of the last failure on this context ("" when none). */
const char *neon_errmsg(const neon_ctx *ctx);
neon_status neon_errcode(const neon_ctx *ctx);
void neon_clear_error(neon_ctx *ctx);

/* Notices and warnings (e.g. "trailing Softmax stripped").  Default: none. */
void neon_ctx_set_log(neon_ctx *ctx, neon_log_fn fn, neon_log_level max_level, void *user);
/* BLAS threads for explaining batches.  0 (the default) leaves OpenBLAS's
 * process-wide count alone (OPENBLAS_NUM_THREADS, else all cores); n > 0
 * sets it to n at every forward, for the whole process (see above). */
void neon_ctx_set_threads(neon_ctx *ctx, int n);
int neon_ctx_threads(const neon_ctx *ctx);

/* ---- tensor view ------------------------------------------------------ */

#define NEON_MAX_DIMS 8

/* A view on caller-owned float32 data in C order.  The first axis is the
 * batch wherever a batch is expected. */
typedef struct neon_tensor {
    float *data;
    int ndim;
    int64_t shape[NEON_MAX_DIMS];
} neon_tensor;

/* Number of elements (1 for ndim == 0); -1 on overflow or negative dims. */
int64_t neon_tensor_numel(const neon_tensor *t);
/* Writes e.g. "(32, 1, 28, 28)" into buf; returns buf. */
char *neon_shape_str(int ndim, const int64_t *shape, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_NEON_H */
