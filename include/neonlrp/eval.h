/* neonlrp explanation quality: region perturbation (RULES.md 9, Samek et
 * al. 2017), AOPC, and the baselines an explanation is compared against
 * (gradient x input, random relevance, occlusion).
 *
 * Protocol.  The input (input 0 of the graph; further inputs, e.g. the
 * second item of a matcher, are held fixed) is laid out as (C, H, W) and
 * tiled into non-overlapping rh x rw regions (the last row/column of
 * regions is smaller when r does not divide H or W).  A region's relevance
 * is the sum of R over its pixels and all channels.  Step k replaces the
 * k-th region of an order with uniform noise over [low, high] (all
 * channels), cumulatively, and records the explained score f(x_k): the
 * same target's output as on the clean input (class logit, cluster logit,
 * outlier score, pair score), or its log-odds with NEON_HEAD_LOGODDS.
 * Orders: most relevant first (MoRF), least relevant first (LeRF), and a
 * random permutation.
 *     AOPC = 1/(L+1) < sum_{k=0..L} f(x_0) - f(x_k) >   (mean over samples)
 * A faithful explanation has a high MoRF AOPC and a low LeRF AOPC.
 *
 * Determinism.  Every random number is a hash of (seed, stream, sample
 * index, element index): the noise value of a pixel is the same for every
 * method and order (methods differ only in the order they choose), ties
 * between equally relevant regions are broken by a seeded random key, and
 * nothing depends on the batch or on the number of threads.
 *
 * Threads.  Calls take an array of n_graphs >= 1 graphs that compute the
 * same model (load it n times).  With n_graphs > 1 the work is split into
 * units (blocks of `batch` samples, or one sample for occlusion and finite
 * differences) processed by n_graphs threads, each with its own graph; the
 * contexts of those graphs are set to 1 BLAS thread.  Units never depend
 * on which thread runs them, so results are bit-identical for any
 * n_graphs.  With one graph, BLAS threads (the context's setting) do the
 * parallel work.  Every graph must have its own neon_ctx; errors are
 * reported on the first graph's context.
 */
#ifndef NEONLRP_EVAL_H
#define NEONLRP_EVAL_H

#include "neonlrp/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- regions -------------------------------------------------------------- */

typedef struct neon_region_grid {
    int64_t c, h, w;   /* layout of one sample of the perturbed input */
    int rh, rw;        /* region size (clamped to h, w) */
    int64_t ny, nx;    /* regions per column / row: ceil(h / rh), ceil(w / rw) */
} neon_region_grid;

/* Layout of a per-sample shape: (C, H, W) as is; more dims fold the
 * leading ones into C; (H, W) is C = 1; (D) is 1 x s x s when D = s^2 with
 * s >= 4 (784 -> 28 x 28, like the heatmaps), else 1 x 1 x D.  rh, rw >= 1. */
neon_status neon_region_grid_make(neon_ctx *ctx, int ndim, const int64_t *shape, int rh, int rw,
                                  neon_region_grid *out);
static inline int64_t neon_region_count(const neon_region_grid *g) { return g->ny * g->nx; }

/* S (N, regions) = sum of R (N, c*h*w) over each region and all channels. */
void neon_region_scores(const neon_region_grid *g, const float *R, int64_t N, double *S);

typedef enum neon_perturb_order {
    NEON_ORDER_MORF = 0,   /* most relevant first: decreasing region score */
    NEON_ORDER_LERF = 1,   /* least relevant first: increasing region score */
    NEON_ORDER_RANDOM = 2  /* a seeded random permutation (scores ignored) */
} neon_perturb_order;

/* order (N, regions): region indices (row-major over the grid) in the
 * order they are perturbed.  S may be NULL for NEON_ORDER_RANDOM.  first
 * is the global index of sample 0 (for the per-sample random streams). */
neon_status neon_region_order(neon_ctx *ctx, const neon_region_grid *g, const double *S, int64_t N,
                              int64_t first, neon_perturb_order order, uint64_t seed,
                              int32_t *out);

/* Uniform noise value in [low, high) of element i of sample n. */
float neon_perturb_noise(uint64_t seed, int64_t n, int64_t i, float low, float high);

/* AOPC of curves (N, L+1) holding f(x_0..x_L): the mean over samples of
 * 1/(L+1) sum_k (f(x_0) - f(x_k)); *sem (optional): its standard error. */
double neon_aopc(const float *curves, int64_t N, int L, double *sem);

/* ---- methods ---------------------------------------------------------------- */

typedef enum neon_eval_kind {
    NEON_EVAL_LRP = 0,        /* the rules given (composite, uniform rule, ...) */
    NEON_EVAL_GRADXINPUT,     /* x * df/dx, see neon_eval_gradxinput_exact */
    NEON_EVAL_RANDOM,         /* i.i.d. uniform relevance (seeded) */
    NEON_EVAL_OCCLUSION       /* score drop when a sliding patch is replaced */
} neon_eval_kind;

typedef struct neon_eval_method {
    const char *name;          /* label in tables, CSV and plots */
    neon_eval_kind kind;
    const neon_rules *rules;   /* NEON_EVAL_LRP: the rules (NULL: the graphs' current rules) */
    /* NEON_EVAL_OCCLUSION: an rh x rw patch (the region size) slides with
     * this stride (0: 1) over the input; each pixel gets the mean score
     * drop f(x) - f(x_patch) over the patches that cover it (divided
     * evenly over channels).  The patch is filled with uniform noise over
     * [low, high] from a stream independent of the evaluation's (fill 0),
     * or with the constant fill_value (fill 1). */
    int stride;
    int fill;
    float fill_value;
} neon_eval_method;

typedef struct neon_eval_opts {
    int region_h, region_w;    /* 0: 4 */
    int steps;                 /* L, 1..regions; 0: every region, at most 100 */
    float low, high;           /* noise range; low >= high: min and max of the data */
    uint64_t seed;
    int64_t batch;             /* samples per forward (0: 64) */
    const int *targets;        /* N entries or NULL (argmax of the clean input, per sample) */
    /* N global sample indices for every random stream (noise, tie keys,
     * random orders, random relevance, occlusion fill), or NULL: 0..N-1.
     * A caller that splits a data set into groups (e.g. by k-means
     * cluster) gets the same noise per image as one run over all of it. */
    const int64_t *sample_ids;
    neon_explain_opts explain; /* head: the score is the logit or the log-odds; init */
    /* (optional) progress: called after every unit of work, serialized, from
     * any of the worker threads. */
    void (*progress)(const char *stage, int64_t done, int64_t total, void *user);
    void *progress_user;
} neon_eval_opts;

/* Relevance of input 0 by one method for xs (N, ...); R has xs[0]'s shape.
 * targets: N resolved targets (no NEON_TARGET_ARGMAX); the grid (region
 * size), low/high, seed and batch come from opts.  Sets the graphs' rules
 * for NEON_EVAL_LRP and NEON_EVAL_GRADXINPUT. */
neon_status neon_eval_relevance(neon_graph *const *graphs, int n_graphs, int n_inputs,
                                const neon_tensor *xs, const neon_eval_method *m,
                                const int *targets, const neon_eval_opts *opts,
                                const neon_region_grid *grid, neon_tensor *R);

/* 1 when gradient x input of graph g is computed exactly by the engine
 * (uniform LRP-0 with winner-takes-all max-pooling equals x * df/dx for
 * graphs made only of dense, conv, ReLU / leaky ReLU / identity, max-pool,
 * avg-pool, global avg-pool, reshape, pad, add, concat and batch norm
 * nodes, up to the 1e-6 stabilizer); 0 when it is computed by central
 * differences on every input feature (step 1e-3 (high - low), batched):
 * k-means, one-class SVMs, LSTMs, matchers and anything else. */
int neon_eval_gradxinput_exact(const neon_graph *g);

/* ---- the whole protocol ----------------------------------------------------- */

typedef struct neon_eval_method_result {
    char name[96];
    double aopc[3];            /* by neon_perturb_order: MoRF, LeRF, random order */
    double sem[3];             /* standard errors over samples */
    float *curve[3];           /* mean f(x_k), k = 0..L */
    double seconds;            /* time to compute the method's relevance */
} neon_eval_method_result;

typedef struct neon_eval_result {
    int64_t n_samples;
    int steps;                 /* L */
    neon_region_grid grid;
    float low, high;           /* the noise range used */
    uint64_t seed;
    neon_head head;
    int n_methods;
    neon_eval_method_result *methods;
    double seconds;            /* whole run */
    neon_ctx *ctx;             /* allocator of this result */
} neon_eval_result;

/* Explains xs with every method, then perturbs input 0 in MoRF and LeRF
 * order per method and in one random order (shared by all methods: its
 * AOPC is the same in every row), and reports AOPC and mean curves.
 * n_inputs: the graphs' number of inputs (xs[0..n_inputs)). */
neon_status neon_eval_run(neon_graph *const *graphs, int n_graphs, int n_inputs,
                          const neon_tensor *xs, const neon_eval_method *methods, int n_methods,
                          const neon_eval_opts *opts, neon_eval_result **out);
void neon_eval_result_destroy(neon_eval_result *r); /* NULL is a no-op */

/* Combines the results of disjoint groups of samples evaluated with the
 * same methods, steps, grid and noise range into the result over all of
 * them: curves and AOPCs weighted by group size, standard errors from the
 * pooled variance, times summed.  Allocated on ctx. */
neon_status neon_eval_result_merge(neon_ctx *ctx, neon_eval_result *const *parts, int n,
                                   neon_eval_result **out);

/* CSV of the curves (atomic): header "method,order,step,fraction,mean_score,
 * mean_drop" then one row per method, order (morf, lerf, random) and step. */
neon_status neon_eval_write_csv(neon_ctx *ctx, const char *path, const neon_eval_result *r);

/* PNG plot of the mean score curves (atomic): one colour per method, MoRF
 * solid, LeRF dashed, the random order in grey; axes, ticks, legend,
 * labels.  title may be NULL. */
neon_status neon_eval_plot_png(neon_ctx *ctx, const char *path, const neon_eval_result *r,
                               const char *title);

/* ---- parallel explanation ------------------------------------------------- */

/* neon_graph_explain_n over xs (N, ...) in blocks of `batch` samples
 * (0: 64), spread over the n_graphs graphs as described above: the result
 * is bit-identical for any n_graphs. */
neon_status neon_explain_parallel(neon_graph *const *graphs, int n_graphs, int n_inputs,
                                  const neon_tensor *xs, const int *targets,
                                  const neon_explain_opts *opts, int64_t batch, neon_tensor *Rs,
                                  neon_explain_result *res);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_EVAL_H */
