/* Dense (fully connected) layer: y = W x + b over the flattened input.
 * W is (n_out, n_in) row-major.  All arithmetic is sgemm. */
#include "layers.h"
#include "blas.h"

#include <string.h>

static neon_status dense_infer(neon_graph *g, neon_node *nd)
{
    (void)g;
    nd->ndim = 1;
    nd->shape[0] = nd->lin.out_ch;
    return NEON_OK;
}

/* z (N, n_out) = x (N, n_in) . W^T (n_in, n_out) */
static void dense_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                        int64_t N, float *ws)
{
    (void)ws;
    const int64_t n_in = neon_in(g, nd, 0)->size, n_out = nd->size;
    neon_sgemm(0, 1, N, n_out, n_in, 1.0f, x, n_in, nd->lin.Wt[w], n_in, 0.0f, z, n_out);
}

/* c (N, n_in) (+)= s (N, n_out) . W (n_out, n_in) */
static void dense_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s,
                          float *c, int64_t N, float *ws, int accumulate)
{
    (void)ws;
    const int64_t n_in = neon_in(g, nd, 0)->size, n_out = nd->size;
    neon_sgemm(0, 0, N, n_in, n_out, 1.0f, s, n_out, nd->lin.Wt[w], n_in,
               accumulate ? 1.0f : 0.0f, c, n_in);
}

static neon_status dense_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    dense_apply(g, nd, NEON_W_ORIG, neon_in(g, nd, 0)->out, nd->out, N, g->ws);
    neon_add_bias(nd->out, nd->lin.b, N, nd->lin.out_ch, 1);
    return NEON_OK;
}

static void dense_describe(const neon_node *nd, char *buf, size_t n)
{
    snprintf(buf, n, "%lld -> %lld%s", (long long)(nd->lin.n_w / nd->lin.out_ch),
             (long long)nd->lin.out_ch, nd->lin.b ? ", bias" : "");
}

const neon_layer_ops neon_dense_ops = {
    .name = "dense",
    .infer = dense_infer,
    .forward = dense_forward,
    .apply = dense_apply,
    .apply_t = dense_apply_t,
    .describe = dense_describe,
};

neon_status neon_graph_add_dense(neon_graph *g, const char *name, int input, int64_t n_out,
                                 const float *W, const float *b, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (n_out <= 0 || !W)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "dense '%s': need n_out >= 1 and weights",
                         name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_dense_ops, 1, &input, &nd));
    int64_t n_in = neon_in(g, nd, 0)->size, n_w;
    neon_status st = NEON_OK;
    if (!neon_mul_ok(n_in, n_out, &n_w))
        st = neon_fail(g->ctx, NEON_ERR_SHAPE, "dense '%s': %lld x %lld weights overflow",
                       nd->name, (long long)n_out, (long long)n_in);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "weight", W, n_w, n_in);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "bias", b, n_out, 0);
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, W, n_w, &nd->lin.W);
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, b, n_out, &nd->lin.b);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    nd->lin.n_w = n_w;
    nd->lin.Wt[NEON_W_ORIG] = nd->lin.W;
    nd->lin.out_ch = n_out;
    nd->lin.out_sp = 1;
    nd->is_linear = 1;
    return neon_graph_commit_node(g, nd, id);
}
