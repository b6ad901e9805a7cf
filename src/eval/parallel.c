/* Sample-parallel execution for the evaluation: a small pthread pool that
 * hands out units of work to workers (one graph each), the shared forward
 * helper, and batch explanation over several graphs. */
#include "eval_impl.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

typedef struct pool_state {
    const neon_pool_job *job;
    pthread_mutex_t mu;
    int64_t next, done;
    int64_t fail_unit; /* lowest failed unit, -1 when none */
    neon_status fail_st;
    char msg[NEON_ERRMSG_MAX];
} pool_state;

typedef struct worker_arg {
    pool_state *ps;
    int w;
} worker_arg;

static void worker_loop(pool_state *ps, int w)
{
    const neon_pool_job *j = ps->job;
    for (;;) {
        pthread_mutex_lock(&ps->mu);
        if (ps->fail_unit >= 0 || ps->next >= j->n_units) {
            pthread_mutex_unlock(&ps->mu);
            return;
        }
        const int64_t u = ps->next++;
        pthread_mutex_unlock(&ps->mu);
        const neon_status st = j->fn(j->user, w, u);
        pthread_mutex_lock(&ps->mu);
        if (st != NEON_OK) {
            if (ps->fail_unit < 0 || u < ps->fail_unit) {
                ps->fail_unit = u;
                ps->fail_st = st;
                snprintf(ps->msg, sizeof ps->msg, "%s",
                         neon_errmsg(neon_graph_ctx(j->graphs[w])));
            }
        } else if (j->progress) {
            j->progress(j->stage ? j->stage : "", ++ps->done, j->n_units, j->progress_user);
        }
        pthread_mutex_unlock(&ps->mu);
    }
}

static void *worker_main(void *p)
{
    worker_arg *a = p;
    worker_loop(a->ps, a->w);
    return NULL;
}

neon_status neon_pool_run(const neon_pool_job *job)
{
    pool_state ps;
    memset(&ps, 0, sizeof ps);
    ps.job = job;
    ps.fail_unit = -1;
    if (job->n_units <= 0) return NEON_OK;
    int nw = job->n_workers < 1 ? 1 : job->n_workers;
    if (nw > job->n_units) nw = (int)job->n_units;
    if (nw > 256) nw = 256;
    if (pthread_mutex_init(&ps.mu, NULL) != 0)
        return neon_fail(neon_graph_ctx(job->graphs[0]), NEON_ERR_NOMEM, "cannot create a mutex");
    pthread_t th[256];
    worker_arg args[256];
    int started = 0;
    for (int w = 1; w < nw; w++) { /* fewer threads if the system refuses some */
        args[started] = (worker_arg){&ps, w};
        if (pthread_create(&th[started], NULL, worker_main, &args[started]) != 0) break;
        started++;
    }
    worker_loop(&ps, 0);
    for (int t = 0; t < started; t++) pthread_join(th[t], NULL);
    pthread_mutex_destroy(&ps.mu);
    if (ps.fail_unit >= 0)
        return neon_fail(neon_graph_ctx(job->graphs[0]), ps.fail_st, "%s", ps.msg);
    return NEON_OK;
}

void neon_pool_prepare(neon_graph *const *graphs, int n)
{
    if (n > 1)
        for (int w = 0; w < n; w++) neon_ctx_set_threads(neon_graph_ctx(graphs[w]), 1);
}

float neon_eval_score(const float *yrow, int64_t C, int t, neon_head head)
{
    if (head != NEON_HEAD_LOGODDS || C < 2) return yrow[t];
    /* eta_t = -log sum_{c != t} exp(-(z_t - z_c)), shifted by the minimum */
    double m = INFINITY, s = 0;
    for (int64_t c = 0; c < C; c++)
        if (c != t && (double)yrow[t] - yrow[c] < m) m = (double)yrow[t] - yrow[c];
    for (int64_t c = 0; c < C; c++)
        if (c != t) s += exp(-(((double)yrow[t] - yrow[c]) - m));
    return (float)(m - log(s));
}

neon_status neon_eval_check(neon_graph *const *graphs, int n_graphs, int n_inputs,
                            const neon_tensor *xs, int64_t *N, int64_t *per)
{
    if (!graphs || n_graphs < 1 || !graphs[0]) return NEON_ERR_INVALID;
    neon_ctx *ctx = neon_graph_ctx(graphs[0]);
    if (n_graphs > 256) return neon_fail(ctx, NEON_ERR_INVALID, "at most 256 graphs (threads)");
    for (int w = 1; w < n_graphs; w++) {
        if (!graphs[w]) return neon_fail(ctx, NEON_ERR_INVALID, "graph %d is NULL", w);
        if (neon_graph_ctx(graphs[w]) == ctx)
            return neon_fail(ctx, NEON_ERR_INVALID, "every graph of a parallel evaluation needs "
                             "its own context (graphs 0 and %d share one)", w);
    }
    if (!xs || n_inputs < 1 || n_inputs > NEON_EVAL_MAX_INPUTS ||
        n_inputs != neon_graph_num_inputs(graphs[0]))
        return neon_fail(ctx, NEON_ERR_INVALID, "the graph has %d input%s, %d given (at most %d)",
                         neon_graph_num_inputs(graphs[0]),
                         neon_graph_num_inputs(graphs[0]) == 1 ? "" : "s", n_inputs,
                         NEON_EVAL_MAX_INPUTS);
    for (int k = 0; k < n_inputs; k++) {
        neon_node_info info;
        NEON_TRY(neon_graph_node_info(graphs[0], neon_graph_input_id(graphs[0], k), &info));
        int64_t want = 1;
        for (int i = 0; i < info.ndim; i++) want *= info.shape[i];
        const int64_t n = neon_tensor_numel(&xs[k]);
        if (!xs[k].data || xs[k].ndim != info.ndim + 1 || xs[k].shape[0] < 1 ||
            n != xs[k].shape[0] * want || (k > 0 && xs[k].shape[0] != xs[0].shape[0])) {
            char a[96], b[96];
            int64_t full[NEON_MAX_DIMS] = {xs[0].ndim > 0 ? xs[0].shape[0] : 0};
            for (int i = 0; i < info.ndim && i + 1 < NEON_MAX_DIMS; i++) full[i + 1] = info.shape[i];
            return neon_fail(ctx, NEON_ERR_SHAPE, "input '%s': expected %s, got %s", info.name,
                             neon_shape_str(info.ndim + 1, full, a, sizeof a),
                             xs[k].ndim >= 0 && xs[k].ndim <= NEON_MAX_DIMS
                                 ? neon_shape_str(xs[k].ndim, xs[k].shape, b, sizeof b)
                                 : "(bad rank)");
        }
        if (k == 0) *per = want;
    }
    *N = xs[0].shape[0];
    return NEON_OK;
}

void neon_eval_ws_free(neon_ctx *ctx, neon_eval_ws *ws)
{
    for (int k = 0; k < NEON_EVAL_MAX_INPUTS; k++) neon_free(ctx, ws->buf[k]);
    memset(ws, 0, sizeof *ws);
}

neon_status neon_eval_forward(neon_graph *g, int n_inputs, const neon_tensor *xs, const float *x0,
                              int64_t nb, int64_t first, int64_t pin, const int *tg,
                              neon_head head, float *sc, neon_eval_ws *ws)
{
    neon_ctx *ctx = neon_graph_ctx(g);
    neon_tensor xt[NEON_EVAL_MAX_INPUTS];
    const int64_t N = xs[0].shape[0];
    for (int k = 0; k < n_inputs; k++) {
        xt[k] = xs[k];
        xt[k].shape[0] = nb;
        const int64_t per = neon_tensor_numel(&xs[k]) / N;
        if (k == 0) {
            xt[0].data = (float *)x0;
        } else if (pin < 0) {
            xt[k].data = xs[k].data + first * per;
        } else {
            if (ws->cap[k] < nb * per) {
                float *p = neon_realloc(ctx, ws->buf[k], (size_t)(nb * per) * sizeof(float));
                if (!p) return NEON_ERR_NOMEM;
                ws->buf[k] = p;
                ws->cap[k] = nb * per;
            }
            for (int64_t i = 0; i < nb; i++)
                memcpy(ws->buf[k] + i * per, xs[k].data + pin * per, (size_t)per * sizeof(float));
            xt[k].data = ws->buf[k];
        }
    }
    neon_tensor y;
    NEON_TRY(neon_graph_forward_n(g, n_inputs, xt, &y));
    const int64_t C = neon_tensor_numel(&y) / nb;
    for (int64_t i = 0; i < nb; i++) {
        const int t = pin >= 0 ? tg[0] : tg[i];
        if (t < 0 || t >= C)
            return neon_fail(ctx, NEON_ERR_INVALID, "target %d is out of range (%lld outputs)", t,
                             (long long)C);
        sc[i] = neon_eval_score(y.data + i * C, C, t, head);
    }
    return NEON_OK;
}

/* ---- parallel explain ------------------------------------------------------ */

typedef struct explain_job {
    neon_graph *const *graphs;
    int n_inputs;
    const neon_tensor *xs;
    const int *targets;
    const neon_explain_opts *opts;
    int64_t batch, N;
    neon_tensor *Rs;
    neon_explain_result *res;
} explain_job;

static neon_status explain_unit(void *user, int w, int64_t u)
{
    explain_job *j = user;
    const int64_t s = u * j->batch, nb = j->N - s < j->batch ? j->N - s : j->batch;
    neon_tensor xt[NEON_EVAL_MAX_INPUTS], rt[NEON_EVAL_MAX_INPUTS];
    for (int k = 0; k < j->n_inputs; k++) {
        xt[k] = neon_eval_slice(&j->xs[k], j->N, s, nb);
        rt[k] = neon_eval_slice(&j->Rs[k], j->N, s, nb);
    }
    return neon_graph_explain_n(j->graphs[w], j->n_inputs, xt, j->targets ? j->targets + s : NULL,
                                j->opts, rt, j->res ? j->res + s : NULL);
}

neon_status neon_explain_parallel(neon_graph *const *graphs, int n_graphs, int n_inputs,
                                  const neon_tensor *xs, const int *targets,
                                  const neon_explain_opts *opts, int64_t batch, neon_tensor *Rs,
                                  neon_explain_result *res)
{
    int64_t N, per;
    NEON_TRY(neon_eval_check(graphs, n_graphs, n_inputs, xs, &N, &per));
    neon_ctx *ctx = neon_graph_ctx(graphs[0]);
    if (!Rs) return neon_fail(ctx, NEON_ERR_INVALID, "explain: no relevance buffers");
    for (int k = 0; k < n_inputs; k++)
        if (!Rs[k].data || Rs[k].ndim != xs[k].ndim ||
            memcmp(Rs[k].shape, xs[k].shape, (size_t)xs[k].ndim * sizeof(int64_t)))
            return neon_fail(ctx, NEON_ERR_SHAPE,
                             "explain: relevance buffer %d must have the input's shape", k);
    if (batch <= 0) batch = 64;
    neon_pool_prepare(graphs, n_graphs);
    explain_job j = {graphs, n_inputs, xs, targets, opts, batch, N, Rs, res};
    neon_pool_job pj = {graphs, n_graphs, (N + batch - 1) / batch, explain_unit, &j,
                        "explain", NULL, NULL};
    return neon_pool_run(&pj);
}
