/* Time-distributed dense layer without bias: the same W applied to every
 * position of the last per-sample axis, y[t] = W x[t].  Input (T, F) ->
 * output (T, M) per sample (any leading axes; T is their product).  A
 * linear kind: the engine's generic rules apply to it.  The LSTM's input
 * projection is one (its biases live in the lstm_cell node, which adds
 * the recurrent part and completes the gate pre-activations).
 *
 * Every apply is one sgemm over N*T rows.  lin.out_ch = M, lin.out_sp = T
 * are only used for FLOP counts: without a bias the generic rules visit
 * the output linearly. */
#include "layers.h"
#include "blas.h"
#include "neonlrp/lstm.h"

#include <string.h>

static int64_t n_feat(const neon_graph *g, const neon_node *nd)
{
    const neon_node *in = &g->nodes[nd->in[0]];
    return in->shape[in->ndim - 1];
}

static neon_status dseq_infer(neon_graph *g, neon_node *nd)
{
    const neon_node *in = neon_in(g, nd, 0);
    nd->ndim = in->ndim;
    memcpy(nd->shape, in->shape, sizeof nd->shape);
    nd->shape[nd->ndim - 1] = nd->lin.n_w / in->shape[in->ndim - 1];
    nd->lin.out_ch = nd->shape[nd->ndim - 1];
    nd->lin.out_sp = in->size / in->shape[in->ndim - 1];
    return NEON_OK;
}

/* z (N*T, M) = x (N*T, F) . W^T (F, M) */
static void dseq_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                       int64_t N, float *ws)
{
    (void)ws;
    const int64_t F = n_feat(g, nd), M = nd->lin.out_ch, rows = N * nd->lin.out_sp;
    neon_sgemm(0, 1, rows, M, F, 1.0f, x, F, nd->lin.Wt[w], F, 0.0f, z, M);
}

/* c (N*T, F) (+)= s (N*T, M) . W (M, F) */
static void dseq_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s, float *c,
                         int64_t N, float *ws, int accumulate)
{
    (void)ws;
    const int64_t F = n_feat(g, nd), M = nd->lin.out_ch, rows = N * nd->lin.out_sp;
    neon_sgemm(0, 0, rows, F, M, 1.0f, s, M, nd->lin.Wt[w], F, accumulate ? 1.0f : 0.0f, c, F);
}

static neon_status dseq_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    dseq_apply(g, nd, NEON_W_ORIG, neon_in(g, nd, 0)->out, nd->out, N, g->ws);
    return NEON_OK;
}

static void dseq_describe(const neon_node *nd, char *buf, size_t n)
{
    snprintf(buf, n, "%lld -> %lld per step, %lld steps, no bias",
             (long long)(nd->lin.n_w / nd->lin.out_ch), (long long)nd->lin.out_ch,
             (long long)nd->lin.out_sp);
}

const neon_layer_ops neon_dense_seq_ops = {
    .name = "dense_seq",
    .infer = dseq_infer,
    .forward = dseq_forward,
    .apply = dseq_apply,
    .apply_t = dseq_apply_t,
    .describe = dseq_describe,
};

neon_status neon_graph_add_dense_seq(neon_graph *g, const char *name, int input, int64_t n_out,
                                     const float *W, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (n_out <= 0 || !W)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "dense_seq '%s': need n_out >= 1 and weights",
                         name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_dense_seq_ops, 1, &input, &nd));
    const neon_node *in = neon_in(g, nd, 0);
    int64_t n_w = 0;
    neon_status st = NEON_OK;
    if (in->ndim < 1 || !neon_mul_ok(in->shape[in->ndim - 1], n_out, &n_w))
        st = neon_fail(g->ctx, NEON_ERR_SHAPE, "dense_seq '%s': input needs a feature axis",
                       nd->name);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "weight", W, n_w, n_w / n_out);
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, W, n_w, &nd->lin.W);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    nd->lin.n_w = n_w;
    nd->lin.Wt[NEON_W_ORIG] = nd->lin.W;
    nd->is_linear = 1;
    return neon_graph_commit_node(g, nd, id);
}
