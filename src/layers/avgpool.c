/* Average pooling (2-d and global): weightless linear kinds.
 *
 * z_k = sum_{j in window k} x_j / n_k, with n_k the window's cell count
 * including padding when count_include_pad (clipped to the padded input,
 * as PyTorch / ONNX), else the taps inside the image.  The generic linear
 * rules run on apply/apply_t, which interpret every neon_wsel themselves:
 * ORIG and POS -> 1/n_k, SQ -> 1/n_k^2, ONES -> 1 on in-image taps,
 * NEG -> 0 (the weights are positive).  No
 * bias (lin.b = NULL), no stored weights (lin.W = NULL). */
#include "pool.h"

#include <string.h>

/* Weight of every in-image tap of a window under a weight selector. */
static inline float tap_weight(const pool_params *p, const pool_win *v, neon_wsel w)
{
    if (w == NEON_W_ONES) return 1.0f;
    if (w == NEON_W_NEG) return 0.0f; /* all weights are positive */
    const float n =
        (float)(p->count_include_pad ? v->n_pad : (v->h1 - v->h0) * (v->w1 - v->w0));
    return w == NEON_W_SQ ? 1.0f / (n * n) : 1.0f / n;
}

/* z (N, C, Ho, Wo) = sum of x (N, C, H, W) over windows, times tap weight. */
static void avg_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                      int64_t N, float *ws)
{
    (void)g;
    (void)ws;
    const pool_params *p = nd->params;
    const int64_t sp = p->h * p->w, osp = p->ho * p->wo;
    for (int64_t nc = 0; nc < N * p->c; nc++) {
        const float *xc = x + nc * sp;
        float *zc = z + nc * osp;
        for (int64_t oh = 0; oh < p->ho; oh++)
            for (int64_t ow = 0; ow < p->wo; ow++) {
                const pool_win v = neon_pool_window(p, oh, ow);
                float acc = 0.0f;
                for (int64_t ih = v.h0; ih < v.h1; ih++) {
                    const float *row = xc + ih * p->w;
                    for (int64_t iw = v.w0; iw < v.w1; iw++) acc += row[iw];
                }
                zc[oh * p->wo + ow] = acc * tap_weight(p, &v, w);
            }
    }
}

/* c (N, C, H, W) (+)= scatter of s (N, C, Ho, Wo) over windows, times tap weight. */
static void avg_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s, float *c,
                        int64_t N, float *ws, int accumulate)
{
    (void)g;
    (void)ws;
    const pool_params *p = nd->params;
    const int64_t sp = p->h * p->w, osp = p->ho * p->wo;
    if (!accumulate) memset(c, 0, (size_t)(N * p->c * sp) * sizeof *c);
    for (int64_t nc = 0; nc < N * p->c; nc++) {
        float *cc = c + nc * sp;
        const float *sc = s + nc * osp;
        for (int64_t oh = 0; oh < p->ho; oh++)
            for (int64_t ow = 0; ow < p->wo; ow++) {
                const pool_win v = neon_pool_window(p, oh, ow);
                const float t = sc[oh * p->wo + ow] * tap_weight(p, &v, w);
                for (int64_t ih = v.h0; ih < v.h1; ih++) {
                    float *row = cc + ih * p->w;
                    for (int64_t iw = v.w0; iw < v.w1; iw++) row[iw] += t;
                }
            }
    }
}

static neon_status avg_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    avg_apply(g, nd, NEON_W_ORIG, neon_in(g, nd, 0)->out, nd->out, N, g->ws);
    return NEON_OK;
}

const neon_layer_ops neon_avgpool2d_ops = {
    .name = "avgpool2d",
    .infer = neon_pool_infer,
    .forward = avg_forward,
    .apply = avg_apply,
    .apply_t = avg_apply_t,
    .describe = neon_pool_describe,
};

const neon_layer_ops neon_gavgpool_ops = {
    .name = "global_avgpool",
    .infer = neon_pool_infer,
    .forward = avg_forward,
    .apply = avg_apply,
    .apply_t = avg_apply_t,
    .describe = neon_pool_describe,
};

neon_status neon_graph_add_avgpool2d(neon_graph *g, const char *name, int input,
                                     const neon_pool2d_params *p, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    pool_params pp;
    NEON_TRY(neon_pool_params(g->ctx, "avgpool2d", name ? name : "", p, &pp));
    return neon_pool_add(g, name, input, &neon_avgpool2d_ops, &pp, 1, id);
}

neon_status neon_graph_add_global_avgpool(neon_graph *g, const char *name, int input, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    pool_params pp;
    memset(&pp, 0, sizeof pp);
    pp.global = 1;
    return neon_pool_add(g, name, input, &neon_gavgpool_ops, &pp, 1, id);
}
