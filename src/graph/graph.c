/* Graph building, queries and destruction. */
#include "graph_impl.h"

#include <string.h>

neon_status neon_graph_create(neon_ctx *ctx, neon_graph **out)
{
    if (!ctx || !out) return NEON_ERR_INVALID;
    *out = NULL;
    neon_graph *g = neon_calloc(ctx, 1, sizeof *g);
    if (!g) return NEON_ERR_NOMEM;
    g->ctx = ctx;
    g->output = -1;
    *out = g;
    return NEON_OK;
}

neon_ctx *neon_graph_ctx(const neon_graph *g) { return g ? g->ctx : NULL; }

static void free_buffers(neon_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        if (!nd->out_is_view) neon_free(g->ctx, nd->out);
        neon_free(g->ctx, nd->rel);
        neon_free(g->ctx, nd->aux);
        nd->out = nd->rel = nd->aux = NULL;
    }
    neon_free(g->ctx, g->ws);
    g->ws = NULL;
    g->ws_cap = 0;
    g->cap = 0;
}

static void free_node(neon_graph *g, neon_node *nd)
{
    if (nd->ops && nd->ops->destroy) nd->ops->destroy(g->ctx, nd);
    neon_free(g->ctx, nd->params);
    neon_free(g->ctx, nd->name);
    neon_free(g->ctx, nd->in);
    for (int w = 1; w < NEON_W__COUNT; w++) neon_free(g->ctx, nd->lin.Wt[w]);
    neon_free(g->ctx, nd->lin.W);
    neon_free(g->ctx, nd->lin.b);
    memset(nd, 0, sizeof *nd);
}

void neon_graph_destroy(neon_graph *g)
{
    if (!g) return;
    free_buffers(g);
    for (int i = 0; i < g->n_nodes; i++) free_node(g, &g->nodes[i]);
    neon_free(g->ctx, g->nodes);
    neon_free(g->ctx, g->inputs);
    neon_free(g->ctx, g);
}

const char *neon_node_label(const neon_node *nd, char *buf, size_t n)
{
    snprintf(buf, n, "'%s' (%s #%d)", nd->name ? nd->name : "", nd->ops ? nd->ops->name : "?",
             nd->id);
    return buf;
}

neon_status neon_copy_floats(neon_ctx *ctx, const float *src, int64_t n, float **dst)
{
    *dst = NULL;
    if (!src) return NEON_OK;
    float *d = NEON_FALLOC(ctx, n);
    if (!d) return NEON_ERR_NOMEM;
    memcpy(d, src, (size_t)n * sizeof *d);
    *dst = d;
    return NEON_OK;
}

neon_status neon_graph_new_node(neon_graph *g, const char *name, const neon_layer_ops *ops,
                                int n_in, const int *in, neon_node **out)
{
    *out = NULL;
    if (!g) return NEON_ERR_INVALID;
    neon_ctx *ctx = g->ctx;
    if (g->finalized)
        return neon_fail(ctx, NEON_ERR_INVALID, "cannot add node '%s': graph is finalized",
                         name ? name : "");
    for (int k = 0; k < n_in; k++)
        if (!in || in[k] < 0 || in[k] >= g->n_nodes)
            return neon_fail(ctx, NEON_ERR_INVALID,
                             "node '%s' (%s): input %d refers to node %d, but the graph has %d "
                             "nodes (inputs must be added first)",
                             name ? name : "", ops->name, k, in ? in[k] : -1, g->n_nodes);
    if (g->n_nodes == g->cap_nodes) {
        int nc = g->cap_nodes ? 2 * g->cap_nodes : 16;
        neon_node *nn = neon_realloc(ctx, g->nodes, (size_t)nc * sizeof *nn);
        if (!nn) return NEON_ERR_NOMEM;
        g->nodes = nn;
        g->cap_nodes = nc;
    }
    neon_node *nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->ops = ops;
    nd->id = g->n_nodes;
    char auto_name[32];
    if (!name || !*name) {
        snprintf(auto_name, sizeof auto_name, "%s_%d", ops->name, nd->id);
        name = auto_name;
    }
    nd->name = neon_strdup(ctx, name);
    nd->n_in = n_in;
    nd->in = n_in ? neon_alloc_array(ctx, (size_t)n_in, sizeof(int)) : NULL;
    if (!nd->name || (n_in && !nd->in)) {
        neon_free(ctx, nd->name);
        neon_free(ctx, nd->in);
        return NEON_ERR_NOMEM;
    }
    if (n_in) memcpy(nd->in, in, (size_t)n_in * sizeof(int));
    g->n_nodes++; /* provisional until commit */
    *out = nd;
    return NEON_OK;
}

void neon_graph_discard_node(neon_graph *g, neon_node *nd)
{
    free_node(g, nd);
    g->n_nodes--;
}

neon_status neon_graph_commit_node(neon_graph *g, neon_node *nd, int *id)
{
    neon_status st = nd->ops->infer ? nd->ops->infer(g, nd) : NEON_OK;
    if (st == NEON_OK && nd->size <= 0) {
        int64_t n = 1;
        for (int i = 0; i < nd->ndim; i++)
            if (!neon_mul_ok(n, nd->shape[i], &n)) n = -1;
        nd->size = n;
        if (n <= 0) {
            char lb[96], sb[96];
            st = neon_fail(g->ctx, NEON_ERR_SHAPE, "node %s: invalid output shape %s",
                           neon_node_label(nd, lb, sizeof lb),
                           neon_shape_str(nd->ndim, nd->shape, sb, sizeof sb));
        }
    }
    if (st == NEON_OK && nd->size > NEON_MAX_SAMPLE_NUMEL) {
        char lb[96], sb[96];
        st = neon_fail(g->ctx, NEON_ERR_SHAPE,
                       "node %s: output shape %s has %lld values per sample; at most %lld are "
                       "supported", neon_node_label(nd, lb, sizeof lb),
                       neon_shape_str(nd->ndim, nd->shape, sb, sizeof sb), (long long)nd->size,
                       (long long)NEON_MAX_SAMPLE_NUMEL);
    }
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    for (int k = 0; k < nd->n_in; k++) g->nodes[nd->in[k]].n_consumers++;
    if (id) *id = nd->id;
    return NEON_OK;
}

neon_status neon_graph_set_output(neon_graph *g, int id)
{
    if (!g) return NEON_ERR_INVALID;
    if (id < 0 || id >= g->n_nodes)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "set_output: no node %d (graph has %d)", id,
                         g->n_nodes);
    g->output = id;
    return NEON_OK;
}

int neon_graph_num_nodes(const neon_graph *g) { return g ? g->n_nodes : 0; }
int neon_graph_num_inputs(const neon_graph *g) { return g ? g->n_inputs : 0; }
int neon_graph_input_id(const neon_graph *g, int k)
{
    return g && k >= 0 && k < g->n_inputs ? g->inputs[k] : -1;
}
int neon_graph_output_id(const neon_graph *g)
{
    if (!g || g->n_nodes == 0) return -1;
    return g->output >= 0 ? g->output : g->n_nodes - 1;
}

int neon_graph_find(const neon_graph *g, const char *name)
{
    if (!g || !name) return -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0) return i;
    return -1;
}

static int64_t node_flops(const neon_graph *g, const neon_node *nd)
{
    if (!nd->is_linear || nd->n_in < 1) return 0;
    /* 2 flops per multiply-add; dense/conv: weights x output positions */
    const neon_node *in = &g->nodes[nd->in[0]];
    if (nd->lin.W && nd->lin.n_w > nd->lin.out_ch) return 2 * nd->lin.n_w * nd->lin.out_sp;
    return 2 * (nd->size > in->size ? nd->size : in->size);
}

neon_status neon_graph_node_info(const neon_graph *g, int id, neon_node_info *out)
{
    if (!g || !out) return NEON_ERR_INVALID;
    if (id < 0 || id >= g->n_nodes)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "no node %d (graph has %d)", id, g->n_nodes);
    const neon_node *nd = &g->nodes[id];
    memset(out, 0, sizeof *out);
    out->name = nd->name;
    out->kind = nd->ops->name;
    out->n_inputs = nd->n_in;
    out->inputs = nd->in;
    out->ndim = nd->ndim;
    out->shape = nd->shape;
    out->n_params = (nd->lin.W ? nd->lin.n_w : 0) + (nd->lin.b ? nd->lin.out_ch : 0);
    out->flops = node_flops(g, nd);
    if (nd->ops->describe) nd->ops->describe(nd, out->detail, sizeof out->detail);
    return NEON_OK;
}

int64_t neon_graph_flops(const neon_graph *g)
{
    int64_t f = 0;
    for (int i = 0; g && i < g->n_nodes; i++) f += node_flops(g, &g->nodes[i]);
    return f;
}

/* Buffers are (re)planned by forward.c; releasing them is shared here. */
void neon_graph_release_buffers(neon_graph *g);
void neon_graph_release_buffers(neon_graph *g) { free_buffers(g); }
