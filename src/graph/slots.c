/* Re-arranging the cached batch for multi-seed relprop: grow the buffers
 * while keeping the last forward, and copy cached samples into other sample
 * slots (tiling one forward over many virtual samples).  These are memcpy
 * passes over activations: cheap next to the GEMMs of the relprop they feed,
 * and far cheaper than running the forward again for every copy. */
#include "graph_impl.h"

#include <string.h>

/* Grows p (n_old floats used) to n floats, keeping the contents. */
static neon_status grow(neon_ctx *ctx, float **p, int64_t n)
{
    float *q = neon_realloc(ctx, *p, (size_t)n * sizeof(float));
    if (!q) return NEON_ERR_NOMEM;
    *p = q;
    return NEON_OK;
}

neon_status neon_graph_reserve(neon_graph *g, int64_t N)
{
    if (!g) return NEON_ERR_INVALID;
    if (N <= g->cap) return NEON_OK;
    neon_ctx *ctx = g->ctx;
    neon_status st = NEON_OK;
    size_t ws = 0;
    for (int i = 0; i < g->n_nodes && st == NEON_OK; i++) {
        neon_node *nd = &g->nodes[i];
        int64_t n, na;
        const size_t aux = nd->ops->aux_size ? nd->ops->aux_size(nd) : 0;
        if (!neon_mul_ok(nd->size, N, &n) || !neon_mul_ok((int64_t)aux, N, &na)) {
            st = neon_fail(ctx, NEON_ERR_NOMEM, "a batch of %lld is too large for node '%s'",
                           (long long)N, nd->name);
            break;
        }
        if (!nd->out_is_view) st = grow(ctx, &nd->out, n);
        if (st == NEON_OK) st = grow(ctx, &nd->rel, n);
        if (st == NEON_OK && aux) st = grow(ctx, &nd->aux, na);
        size_t w = nd->ops->workspace_size ? nd->ops->workspace_size(nd, N) : 0;
        if (nd->is_linear) w += neon_linear_workspace(nd, neon_in(g, nd, 0), N);
        if (w > ws) ws = w;
    }
    /* views alias their input's (possibly moved) buffer */
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        if (nd->out_is_view && nd->n_in > 0) nd->out = neon_in(g, nd, 0)->out;
    }
    if (st != NEON_OK) return st; /* every buffer still holds at least g->cap samples */
    if (ws > g->ws_cap) {
        float *w = neon_alloc_array(ctx, ws, sizeof(float));
        if (!w) return NEON_ERR_NOMEM;
        neon_free(ctx, g->ws);
        g->ws = w;
        g->ws_cap = ws;
    }
    g->cap = N;
    return NEON_OK;
}

/* Copies slot s to slot v of a buffer with `per` floats per sample. */
static inline void copy_slot(float *buf, int64_t per, int64_t v, int64_t s)
{
    memcpy(buf + v * per, buf + s * per, (size_t)per * sizeof(float));
}

/* In place with src non-decreasing.  Pass 1 fills the slots that take a
 * later sample (src[v] > v) in increasing v: a pending read src[u] (u > v)
 * is >= src[v] > v, and a slot u taking slot v from the left would need
 * src[u] = v < src[v] with u > v, against monotonicity.  Pass 2 fills the
 * slots that take an earlier sample (src[v] < v) in decreasing v: pending
 * reads src[u] (u < v) are <= src[v] < v, and slot src[v] was never written
 * (src[src[v]] <= src[v], and pass-2 writes so far were to slots > v). */
static void gather_buf(float *buf, int64_t per, int64_t V, const int64_t *src)
{
    if (!buf || per == 0) return;
    for (int64_t v = 0; v < V; v++)
        if (src[v] > v) copy_slot(buf, per, v, src[v]);
    for (int64_t v = V - 1; v >= 0; v--)
        if (src[v] < v) copy_slot(buf, per, v, src[v]);
}

void neon_graph_gather(neon_graph *g, const char *mask, int64_t V, const int64_t *src)
{
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        if (mask && !mask[i]) continue;
        if (!nd->out_is_view) gather_buf(nd->out, nd->size, V, src);
        const size_t aux = nd->ops->aux_size ? nd->ops->aux_size(nd) : 0;
        if (aux) gather_buf(nd->aux, (int64_t)aux, V, src);
    }
}

void neon_graph_ancestors(const neon_graph *g, int id, char *mask)
{
    memset(mask, 0, (size_t)g->n_nodes);
    mask[id] = 1;
    for (int i = id; i >= 0; i--) {
        if (!mask[i]) continue;
        const neon_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_in; k++) mask[nd->in[k]] = 1;
    }
}
