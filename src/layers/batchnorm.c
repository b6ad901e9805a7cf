/* Inference batch norm: y = s_c x + t_c per channel (axis 0 of the sample),
 * s = scale / sqrt(var + eps), t = bias - mean s.  Folded into a preceding
 * dense/conv layer when possible; otherwise an affine (diagonal) linear
 * layer that every linear rule handles. */
#include "layers.h"

#include <math.h>
#include <string.h>

typedef struct bn_params {
    int folded;
    int64_t channels;
} bn_params;

static neon_status bn_infer(neon_graph *g, neon_node *nd)
{
    const neon_node *in = neon_in(g, nd, 0);
    char lb[96], sb[96];
    if (in->shape[0] != nd->lin.out_ch)
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "batchnorm %s: %lld channels, but the input is %s (channels first)",
                         neon_node_label(nd, lb, sizeof lb), (long long)nd->lin.out_ch,
                         neon_shape_str(in->ndim, in->shape, sb, sizeof sb));
    nd->ndim = in->ndim;
    memcpy(nd->shape, in->shape, sizeof nd->shape);
    nd->lin.out_sp = in->size / in->shape[0];
    return NEON_OK;
}

/* z (N, C, S) = w_c x (N, C, S) */
static void bn_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                     int64_t N, float *ws)
{
    (void)g;
    (void)ws;
    const float *s = nd->lin.Wt[w];
    const int64_t C = nd->lin.out_ch, S = nd->lin.out_sp;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            const int64_t o = (n * C + c) * S;
            for (int64_t i = 0; i < S; i++) z[o + i] = s[c] * x[o + i];
        }
}

static void bn_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s, float *c,
                       int64_t N, float *ws, int accumulate)
{
    (void)g;
    (void)ws;
    const float *W = nd->lin.Wt[w];
    const int64_t C = nd->lin.out_ch, S = nd->lin.out_sp;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            const int64_t o = (n * C + ch) * S;
            for (int64_t i = 0; i < S; i++)
                c[o + i] = (accumulate ? c[o + i] : 0.0f) + W[ch] * s[o + i];
        }
}

static neon_status bn_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const bn_params *p = nd->params;
    if (p->folded) return neon_forward_view(g, nd, N);
    bn_apply(g, nd, NEON_W_ORIG, neon_in(g, nd, 0)->out, nd->out, N, g->ws);
    neon_add_bias(nd->out, nd->lin.b, N, nd->lin.out_ch, nd->lin.out_sp);
    return NEON_OK;
}

static neon_status bn_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const bn_params *p = nd->params;
    return p->folded ? neon_relprop_pass(g, nd, N) : neon_linear_relprop(g, nd, N);
}

static void bn_describe(const neon_node *nd, char *buf, size_t n)
{
    const bn_params *p = nd->params;
    snprintf(buf, n, "%lld channels, %s", (long long)p->channels,
             p->folded ? "folded into its input layer" : "affine layer");
}

const neon_layer_ops neon_batchnorm_ops = {
    .name = "batchnorm",
    .infer = bn_infer,
    .forward = bn_forward,
    .relprop = bn_relprop,
    .apply = bn_apply,
    .apply_t = bn_apply_t,
    .describe = bn_describe,
};

neon_status neon_graph_add_batchnorm(neon_graph *g, const char *name, int input, const float *scale,
                                     const float *bias, const float *mean, const float *var,
                                     float eps, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (!scale || !bias || !mean || !var || !(eps >= 0))
        return neon_fail(g->ctx, NEON_ERR_INVALID,
                         "batchnorm '%s': scale, bias, mean, var and eps >= 0 are required",
                         name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_batchnorm_ops, 1, &input, &nd));
    const int64_t C = neon_in(g, nd, 0)->shape[0];
    bn_params *p = neon_calloc(g->ctx, 1, sizeof *p);
    nd->params = p;
    nd->lin.W = NEON_FALLOC(g->ctx, C);
    nd->lin.b = NEON_FALLOC(g->ctx, C);
    if (!p || !nd->lin.W || !nd->lin.b) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    neon_status st = neon_check_finite(g, nd, "scale", scale, C, 0);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "bias", bias, C, 0);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "mean", mean, C, 0);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "var", var, C, 0);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    for (int64_t c = 0; c < C; c++) {
        if (!(var[c] + eps > 0)) {
            neon_graph_discard_node(g, nd);
            return neon_fail(g->ctx, NEON_ERR_NUMERIC,
                             "batchnorm '%s': channel %lld has var + eps = %g <= 0",
                             name ? name : "", (long long)c, (double)(var[c] + eps));
        }
        float s = scale[c] / sqrtf(var[c] + eps);
        nd->lin.W[c] = s;
        nd->lin.b[c] = bias[c] - mean[c] * s;
    }
    p->channels = C;
    nd->lin.n_w = C;
    nd->lin.out_ch = C;
    nd->lin.Wt[NEON_W_ORIG] = nd->lin.W;
    nd->is_linear = 1;
    return neon_graph_commit_node(g, nd, id);
}

neon_status neon_batchnorm_try_fold(neon_graph *g, neon_node *bn, int output_id)
{
    bn_params *p = bn->params;
    neon_node *src = neon_in(g, bn, 0);
    if (p->folded || src->n_consumers != 1 || src->id == output_id || !src->lin.W ||
        (src->ops != &neon_dense_ops && src->ops != &neon_conv2d_ops) ||
        src->lin.out_ch != p->channels)
        return NEON_OK;
    const int64_t C = p->channels, per = src->lin.n_w / C;
    if (!src->lin.b) {
        src->lin.b = neon_calloc(g->ctx, (size_t)C, sizeof(float));
        if (!src->lin.b) return NEON_ERR_NOMEM;
    }
    for (int64_t c = 0; c < C; c++) {
        const float s = bn->lin.W[c];
        for (int64_t i = 0; i < per; i++) src->lin.W[c * per + i] *= s;
        src->lin.b[c] = src->lin.b[c] * s + bn->lin.b[c];
    }
    p->folded = 1;
    bn->is_linear = 0;
    bn->out_is_view = 1;
    return NEON_OK;
}
