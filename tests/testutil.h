/* Shared test helpers: deterministic random data, tolerant comparisons. */
#ifndef NEON_TESTUTIL_H
#define NEON_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "neonlrp/neon.h"
#include "neonlrp/rules.h"

/* xorshift64* generator; same seed -> same stream on every platform. */
typedef struct { uint64_t s; } tu_rng;
void tu_seed(tu_rng *r, uint64_t seed);
double tu_uniform(tu_rng *r);             /* [0, 1) */
float tu_rangef(tu_rng *r, float lo, float hi);
double tu_normal(tu_rng *r);
void tu_fill(tu_rng *r, float *x, int64_t n, float lo, float hi);

/* max |a-b| / (atol + rtol*|b|) <= 1 for all elements; prints the worst. */
void tu_assert_close(const float *a, const float *b, int64_t n, double atol, double rtol,
                     const char *what);
void tu_assert_closed(const double *a, const double *b, int64_t n, double atol, double rtol,
                      const char *what);
double tu_sum(const float *x, int64_t n);

/* malloc'ed array of n values uniform in [lo, hi) (caller frees). */
float *tu_rnd(tu_rng *r, int64_t n, float lo, float hi);
/* Sets one rule (with its defaults) for every linear layer of g. */
void tu_set_uniform(neon_ctx *ctx, neon_graph *g, neon_rule_kind k);
/* A branch dense(D -> H) -> relu -> dense(H -> K) from node id, named
 * "<p>_fc1", "<p>_relu", "<p>_fc2"; W1 (H, D), W2 (K, H) in the library's
 * (out, in) layout; returns the last node. */
int tu_mlp_branch(neon_graph *g, const char *p, int id, int64_t H, int64_t K, const float *W1,
                  const float *b1, const float *W2, const float *b2);

/* A counting allocator that can fail: the fail_at-th alloc/realloc call
 * (1-based; 0 = never) returns NULL; live counts the blocks not yet freed,
 * so a leak-free run ends with live == 0. */
typedef struct tu_counting {
    long live, calls, fail_at;
} tu_counting;
neon_allocator tu_counting_allocator(tu_counting *c);

/* A scratch directory for a test group (cmocka group setup/teardown):
 * created under /tmp, removed with its files (and empty subdirectories). */
int tu_scratch_setup(void **state);
int tu_scratch_teardown(void **state);
const char *tu_scratch_dir(void);
const char *tu_scratch_path(char *buf, size_t n, const char *name);

/* A context whose allocator records the largest single request since the
 * context was made (tu_rec_max): proves that a lying header allocated
 * nothing large. */
neon_ctx *tu_rec_ctx(void);
size_t tu_rec_max(void);

/* A context with the log silenced; failing creation fails the test. */
neon_ctx *tu_ctx(void);
/* Path under the source tree: tu_path(buf, "models/x.onnx"). */
const char *tu_src_path(char *buf, size_t n, const char *rel);

#endif
