/* Multi-seed relprop: explain one node of the graph from many seed vectors
 * per sample in ONE batched backward pass.  After a forward of N samples the
 * cached activations of the node's ancestors are copied into V >= N sample
 * slots (slot v holds sample src[v]), every slot gets its own seed, and the
 * engine walks the ancestors once on V samples: each linear layer does one
 * GEMM of V rows instead of V GEMMs of one row.  Afterwards the cache of the
 * N samples is put back, so further calls (other nodes, other seeds) reuse
 * the same forward.  Used by BiLRP (one seed per embedding unit). */
#include "graph/graph_impl.h"

#include <string.h>

neon_status neon_relprop_multi(neon_graph *g, int node, int64_t V, const int64_t *src,
                               const float *seeds, const float *diag, const int64_t *unit, int k,
                               float *R)
{
    if (!g || !src || !R || (!seeds && (!diag || !unit))) return NEON_ERR_INVALID;
    neon_ctx *ctx = g->ctx;
    const int64_t N = g->N;
    if (N == 0) return neon_fail(ctx, NEON_ERR_INVALID, "relprop: run a forward pass first");
    if (node < 0 || node >= g->n_nodes)
        return neon_fail(ctx, NEON_ERR_INVALID, "relprop seeds: no node %d (graph has %d)", node,
                         g->n_nodes);
    if (k < 0 || k >= g->n_inputs)
        return neon_fail(ctx, NEON_ERR_INVALID, "relprop seeds: no input %d (graph has %d)", k,
                         g->n_inputs);
    if (V < N || src[0] != 0 || src[V - 1] != N - 1)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "relprop seeds: every one of the %lld samples needs a slot", (long long)N);
    for (int64_t v = 1; v < V; v++)
        if (src[v] - src[v - 1] < 0 || src[v] - src[v - 1] > 1)
            return neon_fail(ctx, NEON_ERR_INVALID,
                             "relprop seeds: slots must list the samples in order");
    neon_node *nd = &g->nodes[node];
    for (int64_t v = 0; !seeds && v < V; v++)
        if (unit[v] < 0 || unit[v] >= nd->size)
            return neon_fail(ctx, NEON_ERR_INVALID, "relprop seeds: unit %lld of slot %lld is out "
                             "of range (node has %lld)", (long long)unit[v], (long long)v,
                             (long long)nd->size);
    if (!g->rules_set) NEON_TRY(neon_graph_set_rules(g, NULL));
    char *mask = neon_alloc(ctx, (size_t)g->n_nodes);
    int64_t *back = neon_alloc_array(ctx, (size_t)N, sizeof *back);
    neon_status st = mask && back ? NEON_OK : NEON_ERR_NOMEM;
    if (st == NEON_OK) st = neon_graph_reserve(g, V);
    if (st != NEON_OK) goto done;
    neon_graph_ancestors(g, node, mask);
    for (int64_t v = V - 1; v >= 0; v--) back[src[v]] = v; /* first slot of each sample */
    neon_graph_gather(g, mask, V, src);
    g->N = V;
    for (int i = 0; i < g->n_nodes; i++)
        if (mask[i]) memset(g->nodes[i].rel, 0, (size_t)(V * g->nodes[i].size) * sizeof(float));
    if (seeds) {
        memcpy(nd->rel, seeds, (size_t)(V * nd->size) * sizeof(float));
    } else {
        for (int64_t v = 0; v < V; v++) nd->rel[v * nd->size + unit[v]] = diag[v];
    }
    st = neon_relprop_walk_mask(g, node, mask);
    const neon_node *in = &g->nodes[g->inputs[k]];
    if (st == NEON_OK && mask[in->id])
        memcpy(R, in->rel, (size_t)(V * in->size) * sizeof(float));
    else if (st == NEON_OK)
        memset(R, 0, (size_t)(V * in->size) * sizeof(float));
    neon_graph_gather(g, mask, N, back); /* the N cached samples again */
    g->N = N;
    g->relprop_done = 0;
done:
    neon_free(ctx, mask);
    neon_free(ctx, back);
    return st;
}

neon_status neon_graph_relprop_seeds(neon_graph *g, int node, int64_t S, const float *seeds, int k,
                                     float *R)
{
    if (!g || !seeds || !R) return NEON_ERR_INVALID;
    if (S < 1) return neon_fail(g->ctx, NEON_ERR_INVALID, "relprop seeds: S = %lld", (long long)S);
    int64_t V;
    if (g->N == 0) return neon_fail(g->ctx, NEON_ERR_INVALID, "relprop: run a forward pass first");
    if (!neon_mul_ok(g->N, S, &V))
        return neon_fail(g->ctx, NEON_ERR_NOMEM, "relprop seeds: %lld x %lld slots overflow",
                         (long long)g->N, (long long)S);
    int64_t *src = neon_alloc_array(g->ctx, (size_t)V, sizeof *src);
    if (!src) return NEON_ERR_NOMEM;
    for (int64_t v = 0; v < V; v++) src[v] = v / S;
    neon_status st = neon_relprop_multi(g, node, V, src, seeds, NULL, NULL, k, R);
    neon_free(g->ctx, src);
    return st;
}
