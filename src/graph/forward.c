/* Finalization (validation, batch-norm folding), buffer planning and the
 * forward pass. */
#include "graph_impl.h"
#include "layers/layers.h"
#include "blas.h"

#include <math.h>
#include <string.h>

void neon_graph_release_buffers(neon_graph *g);

neon_status neon_graph_finalize(neon_graph *g)
{
    if (!g) return NEON_ERR_INVALID;
    if (g->finalized) return NEON_OK;
    neon_ctx *ctx = g->ctx;
    if (g->n_nodes == 0 || g->n_inputs == 0)
        return neon_fail(ctx, NEON_ERR_INVALID, "graph has no %s", g->n_nodes ? "input" : "nodes");
    int out = neon_graph_output_id(g);
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        if (nd->ops == &neon_batchnorm_ops) NEON_TRY(neon_batchnorm_try_fold(g, nd, out));
    }
    g->finalized = 1;
    return NEON_OK;
}

/* Makes sure every buffer holds N samples.  Allocation happens here only,
 * never inside a layer's forward or relprop. */
static neon_status plan(neon_graph *g, int64_t N)
{
    if (N <= g->cap) return NEON_OK;
    neon_ctx *ctx = g->ctx;
    neon_graph_release_buffers(g);
    size_t ws = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        int64_t n;
        if (!neon_mul_ok(nd->size, N, &n))
            return neon_fail(ctx, NEON_ERR_NOMEM, "batch of %lld is too large for node '%s'",
                             (long long)N, nd->name);
        if (!nd->out_is_view && !(nd->out = NEON_FALLOC(ctx, n))) goto nomem;
        if (!(nd->rel = NEON_FALLOC(ctx, n))) goto nomem;
        size_t aux = nd->ops->aux_size ? nd->ops->aux_size(nd) : 0;
        if (aux && !(nd->aux = neon_alloc_array(ctx, (size_t)N * aux, sizeof(float)))) goto nomem;
        size_t w = nd->ops->workspace_size ? nd->ops->workspace_size(nd, N) : 0;
        if (nd->is_linear) w += neon_linear_workspace(nd, neon_in(g, nd, 0), N);
        if (w > ws) ws = w;
    }
    if (!(g->ws = neon_alloc_array(ctx, ws ? ws : 1, sizeof(float)))) goto nomem;
    g->ws_cap = ws;
    g->cap = N;
    return NEON_OK;
nomem:
    neon_graph_release_buffers(g);
    return NEON_ERR_NOMEM;
}

static neon_status check_input(neon_graph *g, int k, const neon_tensor *x, int64_t *N)
{
    neon_ctx *ctx = g->ctx;
    const neon_node *in = &g->nodes[g->inputs[k]];
    char want[128], got[128];
    int64_t full[NEON_MAX_DIMS];
    full[0] = x && x->ndim > 0 ? x->shape[0] : 0;
    for (int i = 0; i < in->ndim && i + 1 < NEON_MAX_DIMS; i++) full[i + 1] = in->shape[i];
    if (!x || !x->data || x->ndim != in->ndim + 1 ||
        memcmp(x->shape + 1, in->shape, (size_t)in->ndim * sizeof(int64_t)) != 0 ||
        x->shape[0] <= 0) {
        if (x && x->ndim >= 0 && x->ndim <= NEON_MAX_DIMS)
            neon_shape_str(x->ndim, x->shape, got, sizeof got);
        else
            snprintf(got, sizeof got, "(none)");
        return neon_fail(ctx, NEON_ERR_SHAPE, "input '%s': expected shape %s with N >= 1, got %s",
                         in->name, neon_shape_str(in->ndim + 1, full, want, sizeof want), got);
    }
    if (k > 0 && x->shape[0] != *N)
        return neon_fail(ctx, NEON_ERR_SHAPE, "input '%s': batch %lld differs from %lld",
                         in->name, (long long)x->shape[0], (long long)*N);
    *N = x->shape[0];
    int64_t bad = neon_find_nonfinite(x->data, x->shape[0] * in->size);
    if (bad >= 0) {
        int64_t n = bad / in->size, r = bad % in->size;
        return neon_fail(ctx, NEON_ERR_NUMERIC,
                         "input '%s': non-finite value %g at sample %lld, element %lld",
                         in->name, (double)x->data[bad], (long long)n, (long long)r);
    }
    return NEON_OK;
}

neon_status neon_graph_forward_n(neon_graph *g, int n, const neon_tensor *xs, neon_tensor *y)
{
    if (!g) return NEON_ERR_INVALID;
    NEON_TRY(neon_graph_finalize(g));
    neon_ctx *ctx = g->ctx;
    if (n != g->n_inputs)
        return neon_fail(ctx, NEON_ERR_INVALID, "graph has %d input%s, %d given", g->n_inputs,
                         g->n_inputs == 1 ? "" : "s", n);
    int64_t N = 0;
    for (int k = 0; k < n; k++) NEON_TRY(check_input(g, k, &xs[k], &N));
    /* OpenBLAS keeps its thread count process-wide: set it per call */
    if (ctx->threads > 0) neon_blas_set_threads(ctx->threads);
    NEON_TRY(plan(g, N));
    g->N = 0;
    g->relprop_done = 0;
    for (int k = 0; k < n; k++) {
        neon_node *in = &g->nodes[g->inputs[k]];
        memcpy(in->out, xs[k].data, (size_t)(N * in->size) * sizeof(float));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        if (nd->ops == &neon_input_ops) continue;
        neon_status st = nd->ops->forward(g, nd, N);
        if (st != NEON_OK) return st;
    }
    int o = neon_graph_output_id(g);
    neon_node *on = &g->nodes[o];
    if (neon_find_nonfinite(on->out, N * on->size) >= 0) {
        for (int i = 0; i < g->n_nodes; i++) {
            neon_node *nd = &g->nodes[i];
            int64_t bad = neon_find_nonfinite(nd->out, N * nd->size);
            if (bad >= 0) {
                char lb[128];
                return neon_fail(ctx, NEON_ERR_NUMERIC,
                                 "forward: node %s produced a non-finite value at sample %lld "
                                 "(check the model's weights)",
                                 neon_node_label(nd, lb, sizeof lb), (long long)(bad / nd->size));
            }
        }
    }
    g->N = N;
    if (y) {
        y->data = on->out;
        y->ndim = on->ndim + 1;
        y->shape[0] = N;
        memcpy(y->shape + 1, on->shape, (size_t)on->ndim * sizeof(int64_t));
    }
    return NEON_OK;
}

neon_status neon_graph_forward(neon_graph *g, const neon_tensor *x, neon_tensor *y)
{
    return neon_graph_forward_n(g, 1, x, y);
}

static neon_status view_of(neon_graph *g, int id, int rel, neon_tensor *view)
{
    if (!g || !view) return NEON_ERR_INVALID;
    if (id < 0 || id >= g->n_nodes)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "no node %d (graph has %d)", id, g->n_nodes);
    if (g->N == 0 || (rel && !g->relprop_done))
        return neon_fail(g->ctx, NEON_ERR_INVALID, "no %s has run on this graph yet",
                         rel ? "relprop" : "forward");
    const neon_node *nd = &g->nodes[id];
    view->data = rel ? nd->rel : nd->out;
    view->ndim = nd->ndim + 1;
    view->shape[0] = g->N;
    memcpy(view->shape + 1, nd->shape, (size_t)nd->ndim * sizeof(int64_t));
    return NEON_OK;
}

neon_status neon_graph_activation(neon_graph *g, int id, neon_tensor *view)
{
    return view_of(g, id, 0, view);
}

neon_status neon_graph_relevance(neon_graph *g, int id, neon_tensor *view)
{
    return view_of(g, id, 1, view);
}
