/* Gather: picks entries along one per-sample axis by a list of indices
 * (slices, single time steps, reversals, repeats).  Relevance is routed
 * exactly back to where each value came from (RULES.md 2); an index given
 * twice receives the sum of both copies' relevance.
 *
 * Shapes: input (outer, A, inner) per sample -> output (outer, n_idx, inner). */
#include "layers.h"
#include "neonlrp/lstm.h"

#include <string.h>

typedef struct gather_params {
    int axis;
    int64_t n_idx;
    int64_t *idx;     /* n_idx entries in [0, A) */
} gather_params;

static void dims_of(const neon_graph *g, const neon_node *nd, int64_t *outer, int64_t *A,
                    int64_t *inner)
{
    const gather_params *p = nd->params;
    const neon_node *in = &g->nodes[nd->in[0]];
    *outer = *inner = 1;
    for (int d = 0; d < p->axis; d++) *outer *= in->shape[d];
    for (int d = p->axis + 1; d < in->ndim; d++) *inner *= in->shape[d];
    *A = in->shape[p->axis];
}

static neon_status gather_infer(neon_graph *g, neon_node *nd)
{
    const gather_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    nd->ndim = in->ndim;
    memcpy(nd->shape, in->shape, sizeof nd->shape);
    nd->shape[p->axis] = p->n_idx;
    return NEON_OK;
}

/* out (N, outer, n_idx, inner) = in (N, outer, A, inner)[.., idx, ..] */
static neon_status gather_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const gather_params *p = nd->params;
    int64_t outer, A, inner;
    dims_of(g, nd, &outer, &A, &inner);
    const float *x = neon_in(g, nd, 0)->out;
    float *y = nd->out;
    for (int64_t o = 0; o < N * outer; o++)
        for (int64_t j = 0; j < p->n_idx; j++, y += inner)
            memcpy(y, x + (o * A + p->idx[j]) * inner, (size_t)inner * sizeof(float));
    return NEON_OK;
}

static neon_status gather_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const gather_params *p = nd->params;
    int64_t outer, A, inner;
    dims_of(g, nd, &outer, &A, &inner);
    float *rx = neon_in(g, nd, 0)->rel;
    const float *r = nd->rel;
    for (int64_t o = 0; o < N * outer; o++)
        for (int64_t j = 0; j < p->n_idx; j++, r += inner) {
            float *d = rx + (o * A + p->idx[j]) * inner;
            for (int64_t k = 0; k < inner; k++) d[k] += r[k];
        }
    return NEON_OK;
}

static void gather_destroy(neon_ctx *ctx, neon_node *nd)
{
    gather_params *p = nd->params;
    if (p) neon_free(ctx, p->idx);
}

static void gather_describe(const neon_node *nd, char *buf, size_t n)
{
    const gather_params *p = nd->params;
    int used = snprintf(buf, n, "axis %d, %lld ind%s", p->axis, (long long)p->n_idx,
                        p->n_idx == 1 ? "ex" : "ices");
    if (p->n_idx == 1 && used > 0 && (size_t)used < n)
        snprintf(buf + used, n - (size_t)used, " (%lld)", (long long)p->idx[0]);
}

const neon_layer_ops neon_gather_ops = {
    .name = "gather",
    .infer = gather_infer,
    .forward = gather_forward,
    .relprop = gather_relprop,
    .destroy = gather_destroy,
    .describe = gather_describe,
};

neon_status neon_graph_add_gather(neon_graph *g, const char *name, int input, int axis,
                                  int64_t n_idx, const int64_t *idx, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_gather_ops, 1, &input, &nd));
    const neon_node *in = neon_in(g, nd, 0);
    char lb[128];
    neon_status st = NEON_OK;
    if (axis < 0 || axis >= in->ndim || n_idx < 1 || !idx)
        st = neon_fail(g->ctx, NEON_ERR_INVALID,
                       "gather %s: need 0 <= axis < %d and at least one index (axis %d, %lld "
                       "indices)", neon_node_label(nd, lb, sizeof lb), in->ndim, axis,
                       (long long)n_idx);
    for (int64_t j = 0; st == NEON_OK && j < n_idx; j++)
        if (idx[j] < 0 || idx[j] >= in->shape[axis])
            st = neon_fail(g->ctx, NEON_ERR_SHAPE,
                           "gather %s: index %lld is out of range for axis %d of size %lld",
                           neon_node_label(nd, lb, sizeof lb), (long long)idx[j], axis,
                           (long long)in->shape[axis]);
    gather_params *p = NULL;
    if (st == NEON_OK) {
        p = neon_calloc(g->ctx, 1, sizeof *p);
        if (p) p->idx = neon_alloc_array(g->ctx, (size_t)n_idx, sizeof(int64_t));
        if (!p || !p->idx) st = NEON_ERR_NOMEM;
    }
    if (p) nd->params = p; /* freed with the node */
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    p->axis = axis;
    p->n_idx = n_idx;
    memcpy(p->idx, idx, (size_t)n_idx * sizeof(int64_t));
    return neon_graph_commit_node(g, nd, id);
}
