/* Multi-input kinds: add (residual connections; z-rule over the summands)
 * and concat (exact routing of relevance). */
#include "layers.h"

#include <string.h>

static neon_status add_infer(neon_graph *g, neon_node *nd)
{
    const neon_node *a = neon_in(g, nd, 0);
    for (int k = 1; k < nd->n_in; k++) {
        const neon_node *b = neon_in(g, nd, k);
        if (b->ndim != a->ndim || memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int64_t))) {
            char sa[96], sb[96], lb[96];
            return neon_fail(g->ctx, NEON_ERR_SHAPE, "add %s: input 0 is %s but input %d is %s",
                             neon_node_label(nd, lb, sizeof lb),
                             neon_shape_str(a->ndim, a->shape, sa, sizeof sa), k,
                             neon_shape_str(b->ndim, b->shape, sb, sizeof sb));
        }
    }
    nd->ndim = a->ndim;
    memcpy(nd->shape, a->shape, sizeof nd->shape);
    return NEON_OK;
}

/* out (N, size) = sum_k in_k */
static neon_status add_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const int64_t n = N * nd->size;
    memcpy(nd->out, neon_in(g, nd, 0)->out, (size_t)n * sizeof(float));
    for (int k = 1; k < nd->n_in; k++) {
        const float *x = neon_in(g, nd, k)->out;
        for (int64_t i = 0; i < n; i++) nd->out[i] += x[i];
    }
    return NEON_OK;
}

/* z-rule over the summands: R_k,i = x_k,i R_i / stab(sum_k x_k,i), with the
 * sum read from the cached output. */
static neon_status add_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const float e = nd->rule.kind == NEON_RULE_EPSILON ? nd->rule.epsilon
                    : nd->rule.stabilizer > 0         ? nd->rule.stabilizer
                                                      : NEON_DEFAULT_STABILIZER;
    const int64_t n = N * nd->size;
    for (int64_t i = 0; i < n; i++) {
        float z = nd->out[i];
        float s = nd->rel[i] / (z + (z >= 0 ? e : -e));
        for (int k = 0; k < nd->n_in; k++) {
            neon_node *in = neon_in(g, nd, k);
            in->rel[i] += in->out[i] * s;
        }
    }
    return NEON_OK;
}

const neon_layer_ops neon_add_ops = {
    .name = "add",
    .infer = add_infer,
    .forward = add_forward,
    .relprop = add_relprop,
};

neon_status neon_graph_add_add(neon_graph *g, const char *name, int n, const int *inputs, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (n < 2 || !inputs)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "add '%s': needs at least 2 inputs, got %d",
                         name ? name : "", n);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_add_ops, n, inputs, &nd));
    return neon_graph_commit_node(g, nd, id);
}

/* ---- concat --------------------------------------------------------------- */

typedef struct concat_params {
    int axis;
} concat_params;

static neon_status concat_infer(neon_graph *g, neon_node *nd)
{
    const concat_params *p = nd->params;
    const neon_node *a = neon_in(g, nd, 0);
    char sa[96], sb[96], lb[96];
    if (p->axis < 0 || p->axis >= a->ndim)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "concat %s: axis %d out of range for %s",
                         neon_node_label(nd, lb, sizeof lb), p->axis,
                         neon_shape_str(a->ndim, a->shape, sa, sizeof sa));
    nd->ndim = a->ndim;
    memcpy(nd->shape, a->shape, sizeof nd->shape);
    for (int k = 1; k < nd->n_in; k++) {
        const neon_node *b = neon_in(g, nd, k);
        int ok = b->ndim == a->ndim;
        for (int i = 0; ok && i < a->ndim; i++)
            if (i != p->axis && b->shape[i] != a->shape[i]) ok = 0;
        if (!ok)
            return neon_fail(g->ctx, NEON_ERR_SHAPE,
                             "concat %s along axis %d: input 0 is %s but input %d is %s",
                             neon_node_label(nd, lb, sizeof lb), p->axis,
                             neon_shape_str(a->ndim, a->shape, sa, sizeof sa), k,
                             neon_shape_str(b->ndim, b->shape, sb, sizeof sb));
        nd->shape[p->axis] += b->shape[p->axis];
    }
    return NEON_OK;
}

/* Copies between the concatenated output and each input: rel != 0 routes
 * relevance back (adding), else copies activations forward. */
static void concat_route(neon_graph *g, neon_node *nd, int64_t N, int rel)
{
    const concat_params *p = nd->params;
    int64_t inner = 1;
    for (int i = p->axis + 1; i < nd->ndim; i++) inner *= nd->shape[i];
    int64_t outer = 1;
    for (int i = 0; i < p->axis; i++) outer *= nd->shape[i];
    outer *= N;
    const int64_t row = nd->shape[p->axis] * inner;
    int64_t off = 0;
    for (int k = 0; k < nd->n_in; k++) {
        neon_node *in = neon_in(g, nd, k);
        const int64_t len = in->shape[p->axis] * inner;
        for (int64_t o = 0; o < outer; o++) {
            if (rel) {
                float *dst = in->rel + o * len;
                const float *src = nd->rel + o * row + off;
                for (int64_t i = 0; i < len; i++) dst[i] += src[i];
            } else {
                memcpy(nd->out + o * row + off, in->out + o * len, (size_t)len * sizeof(float));
            }
        }
        off += len;
    }
}

static neon_status concat_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    concat_route(g, nd, N, 0);
    return NEON_OK;
}

static neon_status concat_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    concat_route(g, nd, N, 1);
    return NEON_OK;
}

const neon_layer_ops neon_concat_ops = {
    .name = "concat",
    .infer = concat_infer,
    .forward = concat_forward,
    .relprop = concat_relprop,
};

neon_status neon_graph_add_concat(neon_graph *g, const char *name, int n, const int *inputs,
                                  int axis, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (n < 1 || !inputs)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "concat '%s': needs inputs", name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_concat_ops, n, inputs, &nd));
    concat_params *p = neon_alloc(g->ctx, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    p->axis = axis;
    nd->params = p;
    return neon_graph_commit_node(g, nd, id);
}
