/* 2-d max-pooling and the pooling geometry shared with avgpool.c.
 *
 * Max-pool is not linear: it brings its own relprop.
 *  - NEON_RULE_WTA (default, also AUTO): winner takes all, ties split
 *    evenly among the positions equal to the window's max.
 *  - NEON_RULE_SUMPOOL: treated as sum-pooling with the z-rule,
 *    R_j = a_j sum_k R_k / stab(sum_{j' in window k} a_j').
 * Padded cells are absent (never a winner, never in a sum).
 *
 * Cache (nd->aux, one float slot per output value): the flat per-sample
 * input index of the first arg-max as an int32 bit pattern (memcpy, not a
 * float value), bit-negated (~idx) when the window has a tie; relprop then
 * rescans that window to split the relevance exactly. */
#include "pool.h"

#include <stdint.h>
#include <string.h>

neon_status neon_pool_params(neon_ctx *ctx, const char *kind, const char *name,
                             const neon_pool2d_params *in, pool_params *out)
{
    memset(out, 0, sizeof *out);
    if (!in) return neon_fail(ctx, NEON_ERR_INVALID, "%s '%s': no parameters", kind, name);
    if (in->kernel_h < 1 || in->kernel_w < 1 || in->stride_h < 0 || in->stride_w < 0)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "%s '%s': need kernel >= 1 and stride >= 0, got kernel %dx%d stride %dx%d",
                         kind, name, in->kernel_h, in->kernel_w, in->stride_h, in->stride_w);
    if (in->pad_top < 0 || in->pad_left < 0 || in->pad_bottom < 0 || in->pad_right < 0 ||
        in->pad_top >= in->kernel_h || in->pad_bottom >= in->kernel_h ||
        in->pad_left >= in->kernel_w || in->pad_right >= in->kernel_w)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "%s '%s': pads (%d,%d,%d,%d) must be >= 0 and smaller than the kernel "
                         "%dx%d", kind, name, in->pad_top, in->pad_left, in->pad_bottom,
                         in->pad_right, in->kernel_h, in->kernel_w);
    out->kh = in->kernel_h;
    out->kw = in->kernel_w;
    out->sh = in->stride_h ? in->stride_h : in->kernel_h;
    out->sw = in->stride_w ? in->stride_w : in->kernel_w;
    out->pt = in->pad_top;
    out->pl = in->pad_left;
    out->pb = in->pad_bottom;
    out->pr = in->pad_right;
    out->ceil_mode = in->ceil_mode != 0;
    out->count_include_pad = in->count_include_pad != 0;
    return NEON_OK;
}

/* Output extent (PyTorch / ONNX): floor or ceil of (in + pads - k) / s, + 1;
 * in ceil mode the last window must start inside the input or left pad. */
static int64_t pool_extent(int64_t in, int k, int s, int p0, int p1, int ceil_mode)
{
    const int64_t room = in + p0 + p1 - k;
    if (room < 0) return 0;
    int64_t o = (ceil_mode ? (room + s - 1) / s : room / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p0) o--;
    return o;
}

neon_status neon_pool_infer(neon_graph *g, neon_node *nd)
{
    pool_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    char lb[96], sb[96];
    neon_node_label(nd, lb, sizeof lb);
    neon_shape_str(in->ndim, in->shape, sb, sizeof sb);
    if (p->global ? in->ndim < 2 : in->ndim != 3)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "%s %s: input must be (C, H, W), got %s",
                         nd->ops->name, lb, sb);
    if (in->size > INT32_MAX)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "%s %s: input %s has more than 2^31 values",
                         nd->ops->name, lb, sb);
    p->c = in->shape[0];
    if (p->global) { /* the whole (H, W) (or any trailing extent) is one window */
        p->h = 1;
        p->w = in->size / p->c;
        p->kh = 1;
        p->kw = (int)p->w;
        p->sh = p->sw = 1;
        p->ho = p->wo = 1;
        nd->ndim = in->ndim;
        nd->shape[0] = p->c;
        for (int i = 1; i < in->ndim; i++) nd->shape[i] = 1;
    } else {
        p->h = in->shape[1];
        p->w = in->shape[2];
        p->ho = pool_extent(p->h, p->kh, p->sh, p->pt, p->pb, p->ceil_mode);
        p->wo = pool_extent(p->w, p->kw, p->sw, p->pl, p->pr, p->ceil_mode);
        if (p->ho < 1 || p->wo < 1)
            return neon_fail(g->ctx, NEON_ERR_SHAPE,
                             "%s %s: kernel %dx%d with pads (%d,%d,%d,%d) does not fit input %s",
                             nd->ops->name, lb, p->kh, p->kw, p->pt, p->pl, p->pb, p->pr, sb);
        nd->ndim = 3;
        nd->shape[0] = p->c;
        nd->shape[1] = p->ho;
        nd->shape[2] = p->wo;
    }
    if (nd->is_linear) {
        nd->lin.out_ch = p->c;
        nd->lin.out_sp = p->ho * p->wo;
    }
    return NEON_OK;
}

void neon_pool_describe(const neon_node *nd, char *buf, size_t n)
{
    const pool_params *p = nd->params;
    if (p->global) {
        snprintf(buf, n, "%lld channels, window %lld", (long long)p->c, (long long)p->w);
        return;
    }
    snprintf(buf, n, "kernel %dx%d, stride %dx%d, pads (%d,%d,%d,%d)%s%s", p->kh, p->kw, p->sh,
             p->sw, p->pt, p->pl, p->pb, p->pr, p->ceil_mode ? ", ceil" : "",
             nd->ops == &neon_avgpool2d_ops
                 ? (p->count_include_pad ? ", count_include_pad" : ", exclude pad")
                 : "");
}

neon_status neon_pool_add(neon_graph *g, const char *name, int input, const neon_layer_ops *ops,
                          const pool_params *pp, int linear, int *id)
{
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, ops, 1, &input, &nd));
    pool_params *p = neon_alloc(g->ctx, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    *p = *pp;
    nd->params = p;
    nd->is_linear = linear; /* weightless: lin.W = lin.b = NULL */
    return neon_graph_commit_node(g, nd, id);
}

/* ---- max-pool -------------------------------------------------------------- */

static inline void put_idx(float *slot, int32_t v) { memcpy(slot, &v, sizeof v); }
static inline int32_t get_idx(const float *slot)
{
    int32_t v;
    memcpy(&v, slot, sizeof v);
    return v;
}

/* Max of a full 2x2 window at r (row stride w): first arg-max offset and
 * whether the max occurs more than once (the common case, unrolled). */
static inline float max2x2(const float *r, int64_t w, int64_t *best, int *tie)
{
    const float a = r[0], b = r[1], c = r[w], d = r[w + 1];
    const float m1 = b > a ? b : a, m2 = d > c ? d : c, m = m2 > m1 ? m2 : m1;
    /* bit i set: tap i equals the max; the lowest set bit is the first */
    const unsigned eq = (unsigned)(a == m) | (unsigned)(b == m) << 1 | (unsigned)(c == m) << 2 |
                        (unsigned)(d == m) << 3;
    const unsigned first = eq & (0u - eq);
    *best = (first >> 1 & 1) + (first >> 2 & 1) * w + (first >> 3 & 1) * (w + 1);
    *tie = (eq & (eq - 1)) != 0;
    return m;
}

/* y (N, C, Ho, Wo) = max over windows of x (N, C, H, W); aux = arg-max.
 * Branch-free: a max pass, then a reverse pass picking the first arg-max
 * and counting the positions equal to the max. */
static neon_status maxpool_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const pool_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    const int64_t sp = p->h * p->w, osp = p->ho * p->wo;
    const int k22 = p->kh == 2 && p->kw == 2;
    for (int64_t nc = 0; nc < N * p->c; nc++) {
        const int64_t c = nc % p->c;
        const float *x = in->out + nc * sp;
        float *y = nd->out + nc * osp, *aux = nd->aux + nc * osp;
        for (int64_t oh = 0; oh < p->ho; oh++)
            for (int64_t ow = 0; ow < p->wo; ow++) {
                const pool_win v = neon_pool_window(p, oh, ow);
                const int64_t k = oh * p->wo + ow;
                int64_t best = 0;
                int tie;
                float m;
                if (k22 && v.h1 - v.h0 == 2 && v.w1 - v.w0 == 2) {
                    m = max2x2(x + v.h0 * p->w + v.w0, p->w, &best, &tie);
                    best += v.h0 * p->w + v.w0;
                } else {
                    m = x[v.h0 * p->w + v.w0];
                    for (int64_t ih = v.h0; ih < v.h1; ih++)
                        for (int64_t iw = v.w0; iw < v.w1; iw++) {
                            const float a = x[ih * p->w + iw];
                            m = a > m ? a : m;
                        }
                    int cnt = 0;
                    for (int64_t ih = v.h1 - 1; ih >= v.h0; ih--)
                        for (int64_t iw = v.w1 - 1; iw >= v.w0; iw--) {
                            const int eq = x[ih * p->w + iw] == m;
                            best = eq ? ih * p->w + iw : best;
                            cnt += eq;
                        }
                    tie = cnt > 1;
                }
                y[k] = m;
                const int32_t idx = (int32_t)(c * sp + best);
                put_idx(aux + k, tie ? ~idx : idx);
            }
    }
    return NEON_OK;
}

/* Winner takes all: R_in[argmax] += R (ties: R / count to each). */
static void maxpool_wta(const pool_params *p, const float *x, const float *y, const float *aux,
                        const float *R, float *Rin)
{
    const int64_t sp = p->h * p->w;
    for (int64_t c = 0; c < p->c; c++)
        for (int64_t oh = 0; oh < p->ho; oh++)
            for (int64_t ow = 0; ow < p->wo; ow++) {
                const int64_t k = (c * p->ho + oh) * p->wo + ow;
                const int32_t idx = get_idx(aux + k);
                if (idx >= 0) {
                    Rin[idx] += R[k];
                    continue;
                }
                const pool_win v = neon_pool_window(p, oh, ow);
                const float *xc = x + c * sp;
                float *rc = Rin + c * sp;
                int cnt = 0;
                for (int64_t ih = v.h0; ih < v.h1; ih++)
                    for (int64_t iw = v.w0; iw < v.w1; iw++) cnt += xc[ih * p->w + iw] == y[k];
                const float share = R[k] / (float)cnt;
                for (int64_t ih = v.h0; ih < v.h1; ih++)
                    for (int64_t iw = v.w0; iw < v.w1; iw++)
                        if (xc[ih * p->w + iw] == y[k]) rc[ih * p->w + iw] += share;
            }
}

/* Sum-pooling z-rule: R_in[j] += a_j R_k / stab(sum of the window). */
static void maxpool_sum(const pool_params *p, float e, const float *x, const float *R, float *Rin)
{
    const int64_t sp = p->h * p->w;
    for (int64_t c = 0; c < p->c; c++) {
        const float *xc = x + c * sp;
        float *rc = Rin + c * sp;
        for (int64_t oh = 0; oh < p->ho; oh++)
            for (int64_t ow = 0; ow < p->wo; ow++) {
                const pool_win v = neon_pool_window(p, oh, ow);
                float z = 0.0f;
                for (int64_t ih = v.h0; ih < v.h1; ih++)
                    for (int64_t iw = v.w0; iw < v.w1; iw++) z += xc[ih * p->w + iw];
                const float s = R[(c * p->ho + oh) * p->wo + ow] / (z >= 0.0f ? z + e : z - e);
                for (int64_t ih = v.h0; ih < v.h1; ih++)
                    for (int64_t iw = v.w0; iw < v.w1; iw++)
                        rc[ih * p->w + iw] += xc[ih * p->w + iw] * s;
            }
    }
}

static neon_status maxpool_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const pool_params *p = nd->params;
    neon_node *in = neon_in(g, nd, 0);
    const neon_rule_kind k = nd->rule.kind;
    if (k != NEON_RULE_AUTO && k != NEON_RULE_WTA && k != NEON_RULE_SUMPOOL) {
        char lb[96];
        return neon_fail(g->ctx, NEON_ERR_INVALID,
                         "maxpool2d %s: rule '%s' does not apply (use wta or sumpool)",
                         neon_node_label(nd, lb, sizeof lb), neon_rule_name(k));
    }
    const float e = nd->rule.stabilizer > 0 ? nd->rule.stabilizer : NEON_DEFAULT_STABILIZER;
    for (int64_t n = 0; n < N; n++) {
        const float *x = in->out + n * in->size, *R = nd->rel + n * nd->size;
        float *Rin = in->rel + n * in->size;
        if (k == NEON_RULE_SUMPOOL)
            maxpool_sum(p, e, x, R, Rin);
        else
            maxpool_wta(p, x, nd->out + n * nd->size, nd->aux + n * nd->size, R, Rin);
    }
    return NEON_OK;
}

static size_t maxpool_aux(const neon_node *nd) { return (size_t)nd->size; }

const neon_layer_ops neon_maxpool2d_ops = {
    .name = "maxpool2d",
    .infer = neon_pool_infer,
    .forward = maxpool_forward,
    .relprop = maxpool_relprop,
    .aux_size = maxpool_aux,
    .describe = neon_pool_describe,
};

neon_status neon_graph_add_maxpool2d(neon_graph *g, const char *name, int input,
                                     const neon_pool2d_params *p, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    pool_params pp;
    NEON_TRY(neon_pool_params(g->ctx, "maxpool2d", name ? name : "", p, &pp));
    pp.count_include_pad = 0;
    return neon_pool_add(g, name, input, &neon_maxpool2d_ops, &pp, 0, id);
}
