/* Multi-seed relprop: explain one node of the graph from many seed vectors
 * per sample with batched backward passes over "virtual samples".  After a
 * forward of N samples the cached activations of the node's ancestors are
 * copied into sample slots (slot v holds sample src[v]), every slot gets its
 * own seed, and the engine walks the ancestors on V slots at once: each
 * linear layer runs one GEMM of V rows instead of V GEMMs of one row.
 *
 * Two refinements keep the cost down:
 *   - passes of at most vcap slots, so that a pass's activations and
 *     relevance stay in cache (large virtual batches of a conv branch are
 *     memory-bound);
 *   - when a sample has more seeds than some node of the single-input chain
 *     below `node` has units (e.g. 512 embedding units above a dense layer
 *     of 128), the seeds are propagated down to that node only, one pass per
 *     unit of it is made from there, and the input relevance of every seed
 *     is a GEMM of the two (LRP is linear in its seed for a fixed forward).
 * Afterwards the cache of the N samples is put back, so further calls
 * (other nodes, other seeds) reuse the same forward.  Used by BiLRP. */
#include "graph/graph_impl.h"
#include "blas.h"

#include <string.h>

#define SLOT_CACHE_FLOATS (INT64_C(1) << 18) /* ~1 MB of activations + relevance per pass */

/* Passes of at most this many slots: what fits the cache budget. */
static int64_t auto_vcap(const neon_graph *g, const char *mask)
{
    int64_t per = 1;
    for (int i = 0; i < g->n_nodes; i++) {
        const neon_node *nd = &g->nodes[i];
        if (!mask[i]) continue;
        per += 2 * nd->size + (nd->ops->aux_size ? (int64_t)nd->ops->aux_size(nd) : 0);
        if (nd->is_linear) per += 2 * nd->size + 2 * neon_in((neon_graph *)g, nd, 0)->size;
    }
    const int64_t v = SLOT_CACHE_FLOATS / per;
    return v < 1 ? 1 : v;
}

/* What passes share: the saved cache, the slots' current samples. */
typedef struct slot_state {
    const char *mask;   /* ancestors of the seeded node: the saved nodes */
    const float *saved; /* their cache of the N samples */
    int64_t vcap;       /* slots per pass */
    int64_t *held;      /* (vcap) sample held by each slot for all of mask, -1: mixed */
} slot_state;

/* Runs V slots in passes of at most vcap: slot v <- saved sample src[v]
 * for the nodes of `load` (all of mask, or the chain above a cut), seeds
 * at node, walk over `walk` from node, then the relevance of out_node into
 * R.  The caller restores the cache. */
static neon_status passes(neon_graph *g, slot_state *ss, int node, const char *load,
                          const char *walk, int64_t V, const int64_t *src, const float *seeds,
                          const float *diag, const int64_t *unit, float *R, int out_node)
{
    const char *mask = ss->mask;
    const float *saved = ss->saved;
    const int64_t vcap = ss->vcap;
    const int full = load == mask;
    neon_node *nd = &g->nodes[node];
    const neon_node *out = &g->nodes[out_node];
    const int in_mask = mask[out_node];
    NEON_TRY(neon_graph_reserve(g, vcap));
    for (int64_t v0 = 0; v0 < V; v0 += vcap) {
        const int64_t n = V - v0 < vcap ? V - v0 : vcap;
        neon_graph_cache_load(g, mask, full ? NULL : load, n, src + v0, saved, g->N,
                              full ? ss->held : NULL);
        for (int64_t v = 0; !full && v < n; v++) ss->held[v] = -1; /* partly loaded */
        const int64_t N = g->N;
        g->N = n;
        for (int i = 0; i < g->n_nodes; i++)
            if (load[i]) memset(g->nodes[i].rel, 0, (size_t)(n * g->nodes[i].size) * sizeof(float));
        if (seeds) {
            memcpy(nd->rel, seeds + v0 * nd->size, (size_t)(n * nd->size) * sizeof(float));
        } else {
            for (int64_t v = 0; v < n; v++) nd->rel[v * nd->size + unit[v0 + v]] = diag[v0 + v];
        }
        neon_status st = neon_relprop_walk_mask(g, node, walk);
        g->N = N;
        if (st != NEON_OK) return st;
        float *r = R + v0 * out->size;
        if (in_mask) memcpy(r, out->rel, (size_t)(n * out->size) * sizeof(float));
        else memset(r, 0, (size_t)(n * out->size) * sizeof(float));
    }
    return NEON_OK;
}

/* The narrowest node of the single-input chain from node down (not a graph
 * input), through which all of node's relevance flows; -1 if none. */
static int narrowest(const neon_graph *g, int node)
{
    int best = -1;
    for (int c = node;;) {
        const neon_node *nd = &g->nodes[c];
        if (nd->ops == &neon_input_ops) break;
        if (best < 0 || nd->size < g->nodes[best].size) best = c;
        if (nd->n_in != 1) break;
        c = nd->in[0];
    }
    return best;
}

static neon_status multi(neon_graph *g, slot_state *ss, int node, int64_t V, const int64_t *src,
                         const float *seeds, const float *diag, const int64_t *unit, int k,
                         float *R)
{
    const char *mask = ss->mask;
    neon_ctx *ctx = g->ctx;
    const int64_t N = g->N;
    const int in = g->inputs[k];
    const int64_t D = g->nodes[in].size;
    /* most slots of one sample (src is grouped by sample in the drivers, but
     * count generally) */
    int64_t *cnt = neon_calloc(ctx, (size_t)N, sizeof *cnt), smax = 0;
    if (!cnt) return NEON_ERR_NOMEM;
    for (int64_t v = 0; v < V; v++) cnt[src[v]]++;
    for (int64_t n = 0; n < N; n++) smax = cnt[n] > smax ? cnt[n] : smax;
    const int c = narrowest(g, node);
    neon_status st = NEON_OK;
    if (c < 0 || g->nodes[c].size >= smax || !mask[in]) {
        st = passes(g, ss, node, mask, mask, V, src, seeds, diag, unit, R, in);
        neon_free(ctx, cnt);
        return st;
    }
    /* factorized: seeds down to c (the chain above c), then one pass per unit
     * of c from c, then R(v) = R_c(v) M_src[v]  ((1, h) x (h, D)) */
    const int64_t h = g->nodes[c].size;
    char *top = neon_calloc(ctx, 2 * (size_t)g->n_nodes, 1), *load = top + g->n_nodes;
    float *Rc = NEON_FALLOC(ctx, V * h), *M = NEON_FALLOC(ctx, N * h * D), *dg = NEON_FALLOC(ctx, N * h);
    int64_t *sb = neon_alloc_array(ctx, (size_t)(N * h), sizeof *sb);
    int64_t *ub = neon_alloc_array(ctx, (size_t)(N * h), sizeof *ub);
    if (!top || !Rc || !M || !dg || !sb || !ub) st = NEON_ERR_NOMEM;
    for (int i = node; st == NEON_OK && i != c; i = g->nodes[i].in[0]) top[i] = load[i] = 1;
    if (st == NEON_OK) { /* walk the chain above c; c's own relevance is the result */
        load[c] = 1;
        st = passes(g, ss, node, load, top, V, src, seeds, diag, unit, Rc, c);
    }
    for (int64_t b = 0; st == NEON_OK && b < N * h; b++) {
        sb[b] = b / h;
        ub[b] = b % h;
        dg[b] = 1.0f;
    }
    if (st == NEON_OK)
        st = passes(g, ss, c, mask, mask, N * h, sb, NULL, dg, ub, M, in);
    /* one GEMM per run of adjacent slots of the same sample */
    for (int64_t v = 0, e; st == NEON_OK && v < V; v = e) {
        for (e = v + 1; e < V && src[e] == src[v];) e++;
        neon_sgemm(0, 0, e - v, D, h, 1.0f, Rc + v * h, h, M + src[v] * h * D, D, 0.0f, R + v * D,
                   D);
    }
    neon_free(ctx, cnt);
    neon_free(ctx, top);
    neon_free(ctx, Rc);
    neon_free(ctx, M);
    neon_free(ctx, dg);
    neon_free(ctx, sb);
    neon_free(ctx, ub);
    return st;
}

neon_status neon_relprop_multi(neon_graph *g, int node, int64_t V, const int64_t *src,
                               const float *seeds, const float *diag, const int64_t *unit, int k,
                               int64_t vcap, float *R)
{
    if (!g || !src || !R || V < 1 || (!seeds && (!diag || !unit))) return NEON_ERR_INVALID;
    neon_ctx *ctx = g->ctx;
    const int64_t N = g->N;
    if (N == 0) return neon_fail(ctx, NEON_ERR_INVALID, "relprop: run a forward pass first");
    if (node < 0 || node >= g->n_nodes)
        return neon_fail(ctx, NEON_ERR_INVALID, "relprop seeds: no node %d (graph has %d)", node,
                         g->n_nodes);
    if (k < 0 || k >= g->n_inputs)
        return neon_fail(ctx, NEON_ERR_INVALID, "relprop seeds: no input %d (graph has %d)", k,
                         g->n_inputs);
    const neon_node *nd = &g->nodes[node];
    for (int64_t v = 0; v < V; v++)
        if (src[v] < 0 || src[v] >= N || (!seeds && (unit[v] < 0 || unit[v] >= nd->size)))
            return neon_fail(ctx, NEON_ERR_INVALID,
                             "relprop seeds: slot %lld names sample %lld / unit %lld (forward "
                             "had %lld samples, node has %lld units)", (long long)v,
                             (long long)src[v], seeds ? 0LL : (long long)unit[v], (long long)N,
                             (long long)nd->size);
    if (!g->rules_set) NEON_TRY(neon_graph_set_rules(g, NULL));
    char *mask = neon_alloc(ctx, (size_t)g->n_nodes);
    if (!mask) return NEON_ERR_NOMEM;
    neon_graph_ancestors(g, node, mask);
    slot_state ss = {mask, NULL, vcap > 0 ? vcap : auto_vcap(g, mask), NULL};
    float *saved = NEON_FALLOC(ctx, N * neon_graph_cache_floats(g, mask) + 1);
    const int64_t nh = ss.vcap > N ? ss.vcap : N;
    ss.held = neon_alloc_array(ctx, (size_t)nh, sizeof *ss.held);
    neon_status st = saved && ss.held ? NEON_OK : NEON_ERR_NOMEM;
    if (st == NEON_OK) {
        neon_graph_cache_save(g, mask, N, saved);
        ss.saved = saved;
        for (int64_t v = 0; v < nh; v++) ss.held[v] = v < N ? v : -1; /* the forward's slots */
        st = multi(g, &ss, node, V, src, seeds, diag, unit, k, R);
        /* the N cached samples again */
        neon_graph_cache_load(g, mask, NULL, N, NULL, saved, N, ss.held);
    }
    g->relprop_done = 0;
    neon_free(ctx, mask);
    neon_free(ctx, saved);
    neon_free(ctx, ss.held);
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
    neon_status st = neon_relprop_multi(g, node, V, src, seeds, NULL, NULL, k, 0, R);
    neon_free(g->ctx, src);
    return st;
}
