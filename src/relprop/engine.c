/* The relprop engine: walks the graph backwards from the explained output,
 * each node redistributing its relevance onto its inputs (RULES.md 1-2). */
#include "graph/graph_impl.h"

#include <string.h>

neon_status neon_relprop_begin(neon_graph *g)
{
    if (!g) return NEON_ERR_INVALID;
    if (g->N == 0) return neon_fail(g->ctx, NEON_ERR_INVALID, "relprop: run a forward pass first");
    if (!g->rules_set) NEON_TRY(neon_graph_set_rules(g, NULL));
    for (int i = 0; i < g->n_nodes; i++)
        memset(g->nodes[i].rel, 0, (size_t)(g->N * g->nodes[i].size) * sizeof(float));
    g->relprop_done = 0;
    return NEON_OK;
}

neon_status neon_relprop_walk(neon_graph *g, int top) { return neon_relprop_walk_mask(g, top, NULL); }

neon_status neon_relprop_walk_mask(neon_graph *g, int top, const char *mask)
{
    neon_ctx *ctx = g->ctx;
    const int64_t N = g->N;
    for (int i = top; i >= 0; i--) {
        neon_node *nd = &g->nodes[i];
        if (nd->ops == &neon_input_ops || (mask && !mask[i])) continue;
        int64_t bad = neon_find_nonfinite(nd->rel, N * nd->size);
        if (bad >= 0) {
            char lb[128];
            return neon_fail(ctx, NEON_ERR_NUMERIC,
                             "relprop: relevance at the output of node %s became non-finite "
                             "(sample %lld)",
                             neon_node_label(nd, lb, sizeof lb), (long long)(bad / nd->size));
        }
        neon_status st = nd->ops->relprop ? nd->ops->relprop(g, nd, N)
                         : nd->is_linear   ? neon_linear_relprop(g, nd, N)
                                           : NEON_OK;
        if (st != NEON_OK) return st;
    }
    for (int k = 0; k < g->n_inputs; k++) {
        neon_node *in = &g->nodes[g->inputs[k]];
        if (mask && !mask[in->id]) continue;
        int64_t bad = neon_find_nonfinite(in->rel, N * in->size);
        if (bad >= 0) {
            char lb[128];
            return neon_fail(ctx, NEON_ERR_NUMERIC,
                             "relprop: relevance of input %s became non-finite (sample %lld)",
                             neon_node_label(in, lb, sizeof lb), (long long)(bad / in->size));
        }
    }
    g->relprop_done = 1;
    return NEON_OK;
}

neon_status neon_graph_relprop(neon_graph *g, const float *R_top)
{
    if (!g || !R_top) return NEON_ERR_INVALID;
    NEON_TRY(neon_relprop_begin(g));
    const int o = neon_graph_output_id(g);
    neon_node *on = &g->nodes[o];
    memcpy(on->rel, R_top, (size_t)(g->N * on->size) * sizeof(float));
    return neon_relprop_walk(g, o);
}
