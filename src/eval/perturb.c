/* Region perturbation (RULES.md 9): the perturbation loop over batches of
 * perturbed copies, and the whole protocol (targets, every method's
 * relevance, MoRF / LeRF / random-order curves, AOPC). */
#define _POSIX_C_SOURCE 200809L
#include "eval_impl.h"

#include <math.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- targets and clean scores ------------------------------------------------ */

typedef struct target_job {
    neon_graph *const *graphs;
    int n_inputs;
    const neon_tensor *xs;
    const int *given;
    neon_head head;
    int64_t batch, N;
    int *tg;
    float *f0;
} target_job;

static neon_status target_unit(void *user, int w, int64_t u)
{
    target_job *j = user;
    neon_graph *g = j->graphs[w];
    neon_ctx *ctx = neon_graph_ctx(g);
    const int64_t s = u * j->batch, nb = j->N - s < j->batch ? j->N - s : j->batch;
    neon_tensor xt[NEON_EVAL_MAX_INPUTS], y;
    for (int k = 0; k < j->n_inputs; k++) xt[k] = neon_eval_slice(&j->xs[k], j->N, s, nb);
    NEON_TRY(neon_graph_forward_n(g, j->n_inputs, xt, &y));
    const int64_t C = neon_tensor_numel(&y) / nb;
    if (j->head == NEON_HEAD_LOGODDS && C < 2)
        return neon_fail(ctx, NEON_ERR_UNSUPPORTED, "the log-odds score needs >= 2 outputs, the "
                         "model has %lld", (long long)C);
    for (int64_t i = 0; i < nb; i++) {
        const float *yr = y.data + i * C;
        int t = j->given ? j->given[s + i] : NEON_TARGET_ARGMAX;
        if (t == NEON_TARGET_ARGMAX) {
            t = 0;
            for (int64_t c = 1; c < C; c++)
                if (yr[c] > yr[t]) t = (int)c;
        }
        if (t < 0 || t >= C)
            return neon_fail(ctx, NEON_ERR_INVALID, "target %d of sample %lld is out of range: the "
                             "model has %lld outputs", t, (long long)(s + i), (long long)C);
        j->tg[s + i] = t;
        j->f0[s + i] = neon_eval_score(yr, C, t, j->head);
    }
    return NEON_OK;
}

/* ---- the perturbation loop ----------------------------------------------------- */

typedef struct perturb_job {
    neon_graph *const *graphs;
    int n_inputs;
    const neon_tensor *xs;
    const neon_region_grid *grid;
    const int32_t *order; /* (N, regions) */
    const int *tg;
    const float *f0;
    neon_head head;
    uint64_t seed;
    float low, high;
    int L;
    int64_t batch, N, per;
    float *curves;        /* (N, L+1) */
    const neon_eval_opts *o;
} perturb_job;

/* Samples [u*batch, ...): step k replaces region order[k-1] of every copy
 * (all channels) with its noise, then one forward scores all copies. */
static neon_status perturb_unit(void *user, int w, int64_t u)
{
    perturb_job *j = user;
    neon_graph *g = j->graphs[w];
    neon_ctx *ctx = neon_graph_ctx(g);
    const neon_region_grid *gr = j->grid;
    const int64_t s = u * j->batch, nb = j->N - s < j->batch ? j->N - s : j->batch;
    const int64_t per = j->per, nr = neon_region_count(gr), hw = gr->h * gr->w;
    float *X = NEON_FALLOC(ctx, nb * per), *sc = NEON_FALLOC(ctx, nb);
    neon_eval_ws ws = {{0}, {0}};
    neon_status st = X && sc ? NEON_OK : NEON_ERR_NOMEM;
    if (st == NEON_OK) memcpy(X, j->xs[0].data + s * per, (size_t)(nb * per) * sizeof(float));
    for (int64_t i = 0; st == NEON_OK && i < nb; i++) j->curves[(s + i) * (j->L + 1)] = j->f0[s + i];
    for (int k = 1; st == NEON_OK && k <= j->L; k++) {
        for (int64_t i = 0; i < nb; i++) {
            const int64_t n = s + i, r = j->order[n * nr + k - 1];
            const int64_t y0 = (r / gr->nx) * gr->rh, x0 = (r % gr->nx) * gr->rw;
            const int64_t y1 = y0 + gr->rh < gr->h ? y0 + gr->rh : gr->h;
            const int64_t x1 = x0 + gr->rw < gr->w ? x0 + gr->rw : gr->w;
            float *p = X + i * per;
            for (int64_t c = 0; c < gr->c; c++)
                for (int64_t y = y0; y < y1; y++)
                    for (int64_t x = x0; x < x1; x++) {
                        const int64_t e = c * hw + y * gr->w + x;
                        p[e] = neon_perturb_noise(j->seed, neon_eval_sid(j->o, n), e, j->low,
                                                  j->high);
                    }
        }
        st = neon_eval_forward(g, j->n_inputs, j->xs, X, nb, s, -1, j->tg + s, j->head, sc, &ws);
        for (int64_t i = 0; st == NEON_OK && i < nb; i++)
            j->curves[(s + i) * (j->L + 1) + k] = sc[i];
    }
    neon_eval_ws_free(ctx, &ws);
    neon_free(ctx, X);
    neon_free(ctx, sc);
    return st;
}

/* Curves for one order; fills the method result's slot o. */
static neon_status run_order(perturb_job *j, const neon_eval_opts *o, int n_graphs,
                             const char *stage, neon_eval_method_result *mr, int slot,
                             neon_ctx *ctx)
{
    neon_pool_job pj = {j->graphs, n_graphs, (j->N + j->batch - 1) / j->batch, perturb_unit, j,
                        stage, o->progress, o->progress_user};
    NEON_TRY(neon_pool_run(&pj));
    mr->aopc[slot] = neon_aopc(j->curves, j->N, j->L, &mr->sem[slot]);
    if (!(mr->curve[slot] = NEON_FALLOC(ctx, j->L + 1))) return NEON_ERR_NOMEM;
    for (int k = 0; k <= j->L; k++) {
        double m = 0;
        for (int64_t n = 0; n < j->N; n++) m += j->curves[n * (j->L + 1) + k];
        mr->curve[slot][k] = (float)(m / (double)j->N);
    }
    return NEON_OK;
}

void neon_eval_result_destroy(neon_eval_result *r)
{
    if (!r) return;
    for (int i = 0; r->methods && i < r->n_methods; i++)
        for (int s = 0; s < 3; s++) neon_free(r->ctx, r->methods[i].curve[s]);
    neon_free(r->ctx, r->methods);
    neon_free(r->ctx, r);
}

/* Region orders of all samples, with their global indices. */
static neon_status orders(neon_ctx *ctx, const neon_region_grid *g, const double *S, int64_t N,
                          neon_perturb_order ord, const neon_eval_opts *o, int32_t *out)
{
    if (!o->sample_ids) return neon_region_order(ctx, g, S, N, 0, ord, o->seed, out);
    const int64_t nr = neon_region_count(g);
    for (int64_t n = 0; n < N; n++)
        NEON_TRY(neon_region_order(ctx, g, S ? S + n * nr : NULL, 1, o->sample_ids[n], ord,
                                   o->seed, out + n * nr));
    return NEON_OK;
}

/* One method: relevance -> region scores -> MoRF and LeRF curves. */
static neon_status run_method(perturb_job *j, neon_graph *const *graphs, int n_graphs,
                              const neon_eval_method *m, const neon_eval_opts *o,
                              neon_eval_method_result *mr, int32_t *order)
{
    neon_ctx *ctx = neon_graph_ctx(graphs[0]);
    const int64_t nr = neon_region_count(j->grid);
    neon_tensor R = {0};
    double *S = NULL;
    neon_status st = neon_tensor_alloc(ctx, &R, j->xs[0].ndim, j->xs[0].shape);
    const double t0 = now_s();
    if (st == NEON_OK)
        st = neon_eval_relevance(graphs, n_graphs, j->n_inputs, j->xs, m, j->tg, o, j->grid, &R);
    mr->seconds = now_s() - t0;
    if (st == NEON_OK && !(S = neon_alloc_array(ctx, (size_t)(j->N * nr), sizeof *S)))
        st = NEON_ERR_NOMEM;
    if (st == NEON_OK) neon_region_scores(j->grid, R.data, j->N, S);
    static const char *const names[2] = {"MoRF", "LeRF"};
    for (int s = 0; st == NEON_OK && s < 2; s++) {
        st = orders(ctx, j->grid, S, j->N, (neon_perturb_order)s, o, order);
        char stage[160];
        snprintf(stage, sizeof stage, "%s %s", names[s], mr->name);
        if (st == NEON_OK) st = run_order(j, o, n_graphs, stage, mr, s, ctx);
    }
    if (st != NEON_OK) neon_errmsg_prefix(ctx, "method %s", mr->name);
    neon_free(ctx, S);
    neon_tensor_free(ctx, &R);
    return st;
}

neon_status neon_eval_run(neon_graph *const *graphs, int n_graphs, int n_inputs,
                          const neon_tensor *xs, const neon_eval_method *methods, int n_methods,
                          const neon_eval_opts *opts, neon_eval_result **out)
{
    int64_t N, per;
    NEON_TRY(neon_eval_check(graphs, n_graphs, n_inputs, xs, &N, &per));
    neon_ctx *ctx = neon_graph_ctx(graphs[0]);
    if (!out || !opts || (n_methods > 0 && !methods) || n_methods < 0)
        return neon_fail(ctx, NEON_ERR_INVALID, "eval: bad arguments");
    *out = NULL;
    const double t_start = now_s();
    neon_eval_method_result rnd;
    memset(&rnd, 0, sizeof rnd);
    neon_eval_opts o = *opts;
    neon_region_grid grid;
    NEON_TRY(neon_region_grid_make(ctx, xs[0].ndim - 1, xs[0].shape + 1,
                                   o.region_h > 0 ? o.region_h : 4,
                                   o.region_w > 0 ? o.region_w : 4, &grid));
    const int64_t nr = neon_region_count(&grid);
    int L = o.steps > 0 ? o.steps : (int)(nr < 100 ? nr : 100);
    if (L > nr)
        return neon_fail(ctx, NEON_ERR_INVALID, "%d steps, but %lldx%lld input has only %lld "
                         "regions of %dx%d", L, (long long)grid.h, (long long)grid.w,
                         (long long)nr, grid.rh, grid.rw);
    if (o.batch <= 0) o.batch = 64;
    if (!(o.high > o.low)) { /* the data range */
        float lo = INFINITY, hi = -INFINITY;
        for (int64_t i = 0; i < N * per; i++) {
            lo = xs[0].data[i] < lo ? xs[0].data[i] : lo;
            hi = xs[0].data[i] > hi ? xs[0].data[i] : hi;
        }
        if (!(hi > lo))
            return neon_fail(ctx, NEON_ERR_INVALID, "the data is constant (%g): give the noise "
                             "range (low < high)", (double)lo);
        o.low = lo;
        o.high = hi;
    }
    neon_eval_result *r = neon_calloc(ctx, 1, sizeof *r);
    int *tg = neon_alloc_array(ctx, (size_t)N, sizeof *tg);
    float *f0 = NEON_FALLOC(ctx, N), *curves = NEON_FALLOC(ctx, N * (L + 1));
    int32_t *order = neon_alloc_array(ctx, (size_t)(N * nr), sizeof *order);
    neon_status st = NEON_OK;
    if (!r || !tg || !f0 || !curves || !order ||
        !(r->methods = neon_calloc(ctx, (size_t)(n_methods > 0 ? n_methods : 1),
                                   sizeof *r->methods))) {
        st = NEON_ERR_NOMEM;
        goto done;
    }
    r->ctx = ctx;
    r->n_samples = N;
    r->steps = L;
    r->grid = grid;
    r->low = o.low;
    r->high = o.high;
    r->seed = o.seed;
    r->head = o.explain.head;
    r->n_methods = n_methods;
    for (int i = 0; i < n_methods; i++)
        snprintf(r->methods[i].name, sizeof r->methods[i].name, "%s",
                 methods[i].name ? methods[i].name : "method");
    neon_pool_prepare(graphs, n_graphs);
    target_job tj = {graphs, n_inputs, xs, o.targets, o.explain.head, o.batch, N, tg, f0};
    neon_pool_job pj = {graphs, n_graphs, (N + o.batch - 1) / o.batch, target_unit, &tj,
                        "targets", NULL, NULL};
    if ((st = neon_pool_run(&pj))) goto done;
    perturb_job j = {graphs, n_inputs, xs, &grid, order, tg, f0, o.explain.head, o.seed,
                     o.low, o.high, L, o.batch, N, per, curves, &o};
    /* the random order is the same for every method: run it once */
    if ((st = orders(ctx, &grid, NULL, N, NEON_ORDER_RANDOM, &o, order)) ||
        (st = run_order(&j, &o, n_graphs, "random order", &rnd, 2, ctx)))
        goto done;
    /* methods on the graphs' own rules first, before any method changes them */
    for (int pass = 0; pass < 2 && st == NEON_OK; pass++)
        for (int i = 0; i < n_methods && st == NEON_OK; i++) {
            const int own = methods[i].kind == NEON_EVAL_LRP && !methods[i].rules;
            if (own != (pass == 0)) continue;
            neon_eval_method_result *mr = &r->methods[i];
            st = run_method(&j, graphs, n_graphs, &methods[i], &o, mr, order);
            if (st == NEON_OK && !(mr->curve[2] = NEON_FALLOC(ctx, L + 1))) st = NEON_ERR_NOMEM;
            if (st == NEON_OK) {
                memcpy(mr->curve[2], rnd.curve[2], (size_t)(L + 1) * sizeof(float));
                mr->aopc[2] = rnd.aopc[2];
                mr->sem[2] = rnd.sem[2];
            }
        }
    r->seconds = now_s() - t_start;
done:
    neon_free(ctx, rnd.curve[2]);
    neon_free(ctx, tg);
    neon_free(ctx, f0);
    neon_free(ctx, curves);
    neon_free(ctx, order);
    if (st != NEON_OK) {
        if (r) r->ctx = ctx;
        neon_eval_result_destroy(r);
        return st;
    }
    *out = r;
    return NEON_OK;
}
