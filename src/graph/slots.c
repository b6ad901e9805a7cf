/* Re-arranging the cached batch for multi-seed relprop: grow the buffers
 * while keeping the last forward, save the cached samples of some nodes,
 * and load saved samples into any sample slots (one forward serving many
 * virtual samples).  These are memcpy passes over activations: cheap next
 * to the relprop they feed, and far cheaper than forwards. */
#include "graph_impl.h"

#include <string.h>

/* Grows p to n floats, keeping the contents. */
static neon_status grow(neon_ctx *ctx, float **p, int64_t n)
{
    float *q = neon_realloc(ctx, *p, (size_t)n * sizeof(float));
    if (!q) return NEON_ERR_NOMEM;
    *p = q;
    return NEON_OK;
}

static size_t aux_of(const neon_node *nd) { return nd->ops->aux_size ? nd->ops->aux_size(nd) : 0; }

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
        if (!neon_mul_ok(nd->size, N, &n) || !neon_mul_ok((int64_t)aux_of(nd), N, &na)) {
            st = neon_fail(ctx, NEON_ERR_NOMEM, "a batch of %lld is too large for node '%s'",
                           (long long)N, nd->name);
            break;
        }
        if (!nd->out_is_view) st = grow(ctx, &nd->out, n);
        if (st == NEON_OK) st = grow(ctx, &nd->rel, n);
        if (st == NEON_OK && na) st = grow(ctx, &nd->aux, na);
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

int64_t neon_graph_cache_floats(const neon_graph *g, const char *mask)
{
    int64_t f = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const neon_node *nd = &g->nodes[i];
        if (mask && !mask[i]) continue;
        f += (nd->out_is_view ? 0 : nd->size) + (int64_t)aux_of(nd);
    }
    return f;
}

/* Saved layout: node by node (increasing id), out (N, size) then aux (N, aux). */
void neon_graph_cache_save(const neon_graph *g, const char *mask, int64_t N, float *dst)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const neon_node *nd = &g->nodes[i];
        if (mask && !mask[i]) continue;
        const int64_t a = (int64_t)aux_of(nd);
        if (!nd->out_is_view) {
            memcpy(dst, nd->out, (size_t)(N * nd->size) * sizeof(float));
            dst += N * nd->size;
        }
        if (a) {
            memcpy(dst, nd->aux, (size_t)(N * a) * sizeof(float));
            dst += N * a;
        }
    }
}

void neon_graph_cache_load(neon_graph *g, const char *mask, const char *only, int64_t V,
                           const int64_t *src, const float *saved, int64_t N, int64_t *held)
{
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        if (mask && !mask[i]) continue;
        const int64_t a = (int64_t)aux_of(nd);
        float *bufs[2] = {nd->out_is_view ? NULL : nd->out, a ? nd->aux : NULL};
        const int64_t per[2] = {nd->size, a};
        for (int b = 0; b < 2; b++) {
            if (!bufs[b]) continue;
            for (int64_t v = 0; (!only || only[i]) && v < V; v++) {
                const int64_t s = src ? src[v] : v;
                if (held && held[v] == s) continue;
                memcpy(bufs[b] + v * per[b], saved + s * per[b], (size_t)per[b] * sizeof(float));
            }
            saved += N * per[b];
        }
    }
    for (int64_t v = 0; held && v < V; v++) held[v] = src ? src[v] : v;
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
