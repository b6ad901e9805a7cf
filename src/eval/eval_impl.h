/* Internal helpers of src/eval: counter-based random numbers, the worker
 * pool, the explained score of a forward output. */
#ifndef NEON_EVAL_IMPL_H
#define NEON_EVAL_IMPL_H

#include "core.h"
#include "neonlrp/eval.h"
#include "neonlrp/io.h"

/* Random streams (mixed into every hash so streams never overlap). */
enum {
    NEON_STREAM_NOISE = 1,     /* perturbation noise */
    NEON_STREAM_TIES = 2,      /* tie-breaking keys of the region orders */
    NEON_STREAM_ORDER = 3,     /* random region orders */
    NEON_STREAM_RELEVANCE = 4, /* the random-relevance baseline */
    NEON_STREAM_OCCLUSION = 5  /* occlusion fill noise */
};

/* splitmix64 finalizer over (seed, stream, a, b): a stateless generator. */
static inline uint64_t neon_hash4(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull;
    z ^= (stream + 1) * 0xD1B54A32D192ED03ull;
    z ^= (a + 0x632BE59BD9B4E019ull) * 0x8CB92BA72F3D8DD7ull;
    z = (z ^ (z >> 31)) * 0xBF58476D1CE4E5B9ull;
    z ^= (b + 0x9E3779B97F4A7C15ull) * 0x94D049BB133111EBull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
/* Uniform in [0, 1) with 53 bits. */
static inline double neon_hash_unit(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

/* Global index of sample n for the random streams. */
/* View of samples [s, s+nb) of a batch tensor x holding N samples. */
static inline neon_tensor neon_eval_slice(const neon_tensor *x, int64_t N, int64_t s, int64_t nb)
{
    neon_tensor v = *x;
    v.data += s * (neon_tensor_numel(x) / N);
    v.shape[0] = nb;
    return v;
}

static inline int64_t neon_eval_sid(const neon_eval_opts *o, int64_t n)
{
    return o->sample_ids ? o->sample_ids[n] : n;
}

/* ---- worker pool -------------------------------------------------------- */

/* A unit of work on worker w (its graph: graphs[w]).  Returns a status;
 * its message is on graphs[w]'s context. */
typedef neon_status (*neon_unit_fn)(void *user, int w, int64_t unit);

/* Runs fn(user, w, u) for u in [0, n_units) on n_workers threads (the
 * calling thread is worker 0; n_workers == 1 runs inline, in order).
 * Units are taken in increasing order; on failure no new unit starts and
 * the failure of the lowest-numbered failed unit is returned with its
 * message copied onto ctxs[0].  progress (optional) is serialized. */
typedef struct neon_pool_job {
    neon_graph *const *graphs;
    int n_workers;
    int64_t n_units;
    neon_unit_fn fn;
    void *user;
    const char *stage; /* progress label */
    void (*progress)(const char *stage, int64_t done, int64_t total, void *user);
    void *progress_user;
} neon_pool_job;
neon_status neon_pool_run(const neon_pool_job *job);

/* Sets every graph's context to one BLAS thread when there are several
 * graphs (sample-parallel mode). */
void neon_pool_prepare(neon_graph *const *graphs, int n);

/* The explained score of sample n from a forward output y (N, C): y[t],
 * or the log-odds eta_t when head is NEON_HEAD_LOGODDS. */
float neon_eval_score(const float *yrow, int64_t C, int t, neon_head head);

/* Checks that xs match the graphs' inputs and returns N and per = numel of
 * one sample of input 0. */
neon_status neon_eval_check(neon_graph *const *graphs, int n_graphs, int n_inputs,
                            const neon_tensor *xs, int64_t *N, int64_t *per);

/* Per-worker scratch for the inputs held fixed. */
#define NEON_EVAL_MAX_INPUTS 8
typedef struct neon_eval_ws {
    float *buf[NEON_EVAL_MAX_INPUTS];
    int64_t cap[NEON_EVAL_MAX_INPUTS];
} neon_eval_ws;
void neon_eval_ws_free(neon_ctx *ctx, neon_eval_ws *ws);

/* Forward of nb copies x0 (nb, per) of input 0 with inputs 1.. taken from
 * samples [first, first + nb) of xs, or all from sample `pin` when pin >= 0
 * (finite differences / occlusion of one sample); writes the scores of the
 * targets tg[0..nb) into sc. */
neon_status neon_eval_forward(neon_graph *g, int n_inputs, const neon_tensor *xs, const float *x0,
                              int64_t nb, int64_t first, int64_t pin, const int *tg,
                              neon_head head, float *sc, neon_eval_ws *ws);

#endif
