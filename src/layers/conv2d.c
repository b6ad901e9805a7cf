/* 2-d convolution (cross-correlation) on (C, H, W) samples.
 *
 * W is (c_out, c_in/groups, kh, kw), the bias per output channel.  A linear
 * kind: apply (z = conv(x) with a selected weight transform) and apply_t
 * (c = conv^T(s)) carry all arithmetic; forward = apply(ORIG) + bias.
 *
 * Strategy: im2col + sgemm.  Per group, the column matrix col (K, cols)
 * with K = c_in/groups * kh * kw holds the receptive field of each output
 * position; z_g (cout_g, cols) = W_g (cout_g, K) . col.  The transpose is
 * col = W_g^T . s_g followed by col2im (scatter-add).  The column buffer is
 * bounded (COL_BUDGET floats): large outputs are cut into tiles of output
 * rows (the GEMM writes straight into z with ldc = H_out*W_out); small
 * outputs batch several samples into one GEMM through a staging buffer.
 * Padding is handled by index ranges computed once per kernel column, so
 * the inner loops are plain copies.  1x1/stride-1/unpadded convs skip
 * im2col; grouped convs with one input channel per group (depthwise) use a
 * direct kernel instead of tiny GEMMs (with groups == 1 the GEMM is faster,
 * even for one input channel: measured). */
#include "layers.h"
#include "blas.h"

#include <string.h>

/* Floats of column buffer per chunk; ~2 MB keeps it in L2/L3 while the
 * GEMM still sees thousands of columns. */
#ifndef NEON_CONV_COL_BUDGET
#define NEON_CONV_COL_BUDGET (1 << 19)
#endif

typedef struct conv_params {
    int kh, kw, sh, sw, pt, pl, pb, pr, dh, dw, groups;
    int64_t c_in, h, w, c_out, ho, wo;
} conv_params;

/* Derived sizes of one layer. */
typedef struct conv_geom {
    int64_t cin_g, cout_g, K, P, in_sp;
    int direct;  /* one input channel per group: direct kernel */
    int pointwise; /* 1x1, stride 1, no padding: col == x */
} conv_geom;

/* How a batch of N is cut: nb samples per chunk (nb > 1 only when a whole
 * sample is one chunk), else rows output rows per chunk. */
typedef struct conv_plan {
    int64_t nb, rows, cols;
} conv_plan;

static conv_geom geom_of(const conv_params *p)
{
    conv_geom q;
    q.cin_g = p->c_in / p->groups;
    q.cout_g = p->c_out / p->groups;
    q.K = q.cin_g * p->kh * p->kw;
    q.P = p->ho * p->wo;
    q.in_sp = p->h * p->w;
    q.direct = q.cin_g == 1 && p->groups > 1 && p->kh * p->kw > 1;
    q.pointwise = p->kh == 1 && p->kw == 1 && p->sh == 1 && p->sw == 1 && p->pt == 0 &&
                  p->pl == 0 && p->pb == 0 && p->pr == 0;
    return q;
}

static conv_plan plan_of(const conv_params *p, const conv_geom *q, int64_t N)
{
    conv_plan c;
    const int64_t per = q->K * q->P;
    if (per <= NEON_CONV_COL_BUDGET / 2 && N > 1) {
        c.nb = NEON_CONV_COL_BUDGET / per;
        if (c.nb > N) c.nb = N;
        c.rows = p->ho;
    } else {
        c.nb = 1;
        c.rows = NEON_CONV_COL_BUDGET / (q->K * p->wo);
        if (c.rows < 1) c.rows = 1;
        if (c.rows > p->ho) c.rows = p->ho;
    }
    c.cols = c.nb * c.rows * p->wo;
    return c;
}

/* Output columns [lo, hi) whose tap at kernel column kj (offset off = kj *
 * dilation - pad) lands inside [0, W): iw = ow * s + off. */
static void tap_range(int64_t off, int s, int64_t W, int64_t wo, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t t = W - 1 - off;
    int64_t b = t < 0 ? 0 : t / s + 1;
    if (b > wo) b = wo;
    if (a > b) a = b;
    *lo = a;
    *hi = b;
}

/* col rows (ci, ki, kj) x columns of output rows [oh0, oh1), row stride ld,
 * from x (cin_g, H, W) of one sample and group. */
static void im2col(const conv_params *p, const conv_geom *q, const float *x, int64_t oh0,
                   int64_t oh1, float *col, int64_t ld)
{
    const int64_t H = p->h, W = p->w, wo = p->wo;
    for (int64_t ci = 0; ci < q->cin_g; ci++)
        for (int ki = 0; ki < p->kh; ki++)
            for (int kj = 0; kj < p->kw; kj++) {
                float *dst = col + ((ci * p->kh + ki) * p->kw + kj) * ld;
                const int64_t off = (int64_t)kj * p->dw - p->pl;
                int64_t lo, hi;
                tap_range(off, p->sw, W, wo, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++, dst += wo) {
                    const int64_t ih = oh * p->sh - p->pt + (int64_t)ki * p->dh;
                    if (ih < 0 || ih >= H) {
                        memset(dst, 0, (size_t)wo * sizeof *dst);
                        continue;
                    }
                    const float *src = x + (ci * H + ih) * W + off;
                    if (lo > 0) memset(dst, 0, (size_t)lo * sizeof *dst);
                    if (p->sw == 1)
                        memcpy(dst + lo, src + lo, (size_t)(hi - lo) * sizeof *dst);
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] = src[ow * p->sw];
                    if (hi < wo) memset(dst + hi, 0, (size_t)(wo - hi) * sizeof *dst);
                }
            }
}

/* c (cin_g, H, W) += scatter of col rows over output rows [oh0, oh1). */
static void col2im(const conv_params *p, const conv_geom *q, const float *col, int64_t ld,
                   int64_t oh0, int64_t oh1, float *c)
{
    const int64_t H = p->h, W = p->w, wo = p->wo;
    for (int64_t ci = 0; ci < q->cin_g; ci++)
        for (int ki = 0; ki < p->kh; ki++)
            for (int kj = 0; kj < p->kw; kj++) {
                const float *src = col + ((ci * p->kh + ki) * p->kw + kj) * ld;
                const int64_t off = (int64_t)kj * p->dw - p->pl;
                int64_t lo, hi;
                tap_range(off, p->sw, W, wo, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++, src += wo) {
                    const int64_t ih = oh * p->sh - p->pt + (int64_t)ki * p->dh;
                    if (ih < 0 || ih >= H) continue;
                    float *dst = c + (ci * H + ih) * W + off;
                    if (p->sw == 1)
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow] += src[ow];
                    else
                        for (int64_t ow = lo; ow < hi; ow++) dst[ow * p->sw] += src[ow];
                }
            }
}

/* Direct kernel for one input channel per group (depthwise), visiting each
 * (output channel, tap, output row) with the in-image column range:
 * tr == 0: z (cout, Ho, Wo) = conv(x (c_in, H, W));
 * tr != 0: c (c_in, H, W) += conv^T(s (cout, Ho, Wo)). */
static void direct_conv(const conv_params *p, const conv_geom *q, const float *Wt,
                        const float *src, float *dst, int tr)
{
    const int64_t H = p->h, W = p->w, wo = p->wo, taps = (int64_t)p->kh * p->kw;
    const int s = p->sw;
    if (!tr) memset(dst, 0, (size_t)(p->c_out * q->P) * sizeof *dst);
    for (int64_t co = 0; co < p->c_out; co++) {
        const int64_t xc = (co / q->cout_g) * q->in_sp, zc = co * q->P;
        for (int ki = 0; ki < p->kh; ki++)
            for (int kj = 0; kj < p->kw; kj++) {
                const float wv = Wt[co * taps + ki * p->kw + kj];
                const int64_t off = (int64_t)kj * p->dw - p->pl;
                int64_t lo, hi;
                tap_range(off, s, W, wo, &lo, &hi);
                for (int64_t oh = 0; oh < p->ho; oh++) {
                    const int64_t ih = oh * p->sh - p->pt + (int64_t)ki * p->dh;
                    if (ih < 0 || ih >= H) continue;
                    const int64_t xr = xc + ih * W + off, zr = zc + oh * wo;
                    if (tr) {
                        const float *sr = src + zr;
                        float *cr = dst + xr;
                        for (int64_t ow = lo; ow < hi; ow++) cr[ow * s] += wv * sr[ow];
                    } else {
                        const float *xp = src + xr;
                        float *zp = dst + zr;
                        for (int64_t ow = lo; ow < hi; ow++) zp[ow] += wv * xp[ow * s];
                    }
                }
            }
    }
}

static const conv_params *params_of(const neon_node *nd) { return nd->params; }

/* z (N, c_out, Ho, Wo) = conv(x (N, c_in, H, W)) with weights Wt[w], no bias. */
static void conv_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                       int64_t N, float *ws)
{
    (void)g;
    const conv_params *p = params_of(nd);
    const conv_geom q = geom_of(p);
    const float *Wt = nd->lin.Wt[w];
    const int64_t in_n = p->c_in * q.in_sp, out_n = p->c_out * q.P;
    if (q.direct) {
        for (int64_t n = 0; n < N; n++)
            direct_conv(p, &q, Wt, x + n * in_n, z + n * out_n, 0);
        return;
    }
    if (q.pointwise) { /* z_g (cout_g, P) = W_g (cout_g, cin_g) . x_g (cin_g, P) */
        for (int64_t n = 0; n < N; n++)
            for (int gi = 0; gi < p->groups; gi++)
                neon_sgemm(0, 0, q.cout_g, q.P, q.cin_g, 1.0f, Wt + gi * q.cout_g * q.K, q.K,
                           x + n * in_n + gi * q.cin_g * q.in_sp, q.P, 0.0f,
                           z + n * out_n + gi * q.cout_g * q.P, q.P);
        return;
    }
    const conv_plan c = plan_of(p, &q, N);
    float *col = ws, *stage = ws + q.K * c.cols;
    for (int64_t n0 = 0; n0 < N; n0 += c.nb) {
        const int64_t nb = N - n0 < c.nb ? N - n0 : c.nb;
        for (int gi = 0; gi < p->groups; gi++) {
            const float *Wg = Wt + gi * q.cout_g * q.K;
            const int64_t xo = gi * q.cin_g * q.in_sp, zo = gi * q.cout_g * q.P;
            if (c.nb > 1) { /* col (K, nb*P), stage (cout_g, nb*P) */
                const int64_t ld = nb * q.P;
                for (int64_t b = 0; b < nb; b++)
                    im2col(p, &q, x + (n0 + b) * in_n + xo, 0, p->ho, col + b * q.P, ld);
                neon_sgemm(0, 0, q.cout_g, ld, q.K, 1.0f, Wg, q.K, col, ld, 0.0f, stage, ld);
                for (int64_t b = 0; b < nb; b++)
                    for (int64_t co = 0; co < q.cout_g; co++)
                        memcpy(z + (n0 + b) * out_n + zo + co * q.P, stage + co * ld + b * q.P,
                               (size_t)q.P * sizeof *z);
                continue;
            }
            for (int64_t oh0 = 0; oh0 < p->ho; oh0 += c.rows) { /* col (K, rows*wo) */
                const int64_t oh1 = oh0 + c.rows < p->ho ? oh0 + c.rows : p->ho;
                const int64_t cols = (oh1 - oh0) * p->wo;
                im2col(p, &q, x + n0 * in_n + xo, oh0, oh1, col, cols);
                neon_sgemm(0, 0, q.cout_g, cols, q.K, 1.0f, Wg, q.K, col, cols, 0.0f,
                           z + n0 * out_n + zo + oh0 * p->wo, q.P);
            }
        }
    }
}

/* c (N, c_in, H, W) (+)= sum_k conv^T(s_k (N, c_out, Ho, Wo)) with weights
 * Wt[w_k], k < npair (1 or 2): the pairs share one column buffer, so the
 * second costs a GEMM with beta = 1 but no second col2im. */
static void conv_t_pairs(const neon_node *nd, int npair, const neon_wsel *w, const float *const *s,
                         float *c, int64_t N, float *ws, int accumulate)
{
    const conv_params *p = params_of(nd);
    const conv_geom q = geom_of(p);
    const int64_t in_n = p->c_in * q.in_sp, out_n = p->c_out * q.P;
    if (q.pointwise) { /* c_g (cin_g, P) (+)= W_g^T (cin_g, cout_g) . s_g (cout_g, P) */
        for (int k = 0; k < npair; k++)
            for (int64_t n = 0; n < N; n++)
                for (int gi = 0; gi < p->groups; gi++)
                    neon_sgemm(1, 0, q.cin_g, q.P, q.cout_g, 1.0f,
                               nd->lin.Wt[w[k]] + gi * q.cout_g * q.K, q.K,
                               s[k] + n * out_n + gi * q.cout_g * q.P, q.P,
                               accumulate || k ? 1.0f : 0.0f, c + n * in_n + gi * q.cin_g * q.in_sp,
                               q.P);
        return;
    }
    if (!accumulate) memset(c, 0, (size_t)(N * in_n) * sizeof *c);
    if (q.direct) {
        for (int k = 0; k < npair; k++)
            for (int64_t n = 0; n < N; n++)
                direct_conv(p, &q, nd->lin.Wt[w[k]], s[k] + n * out_n, c + n * in_n, 1);
        return;
    }
    const conv_plan pl = plan_of(p, &q, N);
    float *col = ws, *stage = ws + q.K * pl.cols;
    for (int64_t n0 = 0; n0 < N; n0 += pl.nb) {
        const int64_t nb = N - n0 < pl.nb ? N - n0 : pl.nb;
        for (int gi = 0; gi < p->groups; gi++) {
            const int64_t xo = gi * q.cin_g * q.in_sp, zo = gi * q.cout_g * q.P;
            if (pl.nb > 1) { /* stage (cout_g, nb*P), col (K, nb*P) = sum_k W_k^T . stage_k */
                const int64_t ld = nb * q.P;
                for (int k = 0; k < npair; k++) {
                    for (int64_t b = 0; b < nb; b++)
                        for (int64_t co = 0; co < q.cout_g; co++)
                            memcpy(stage + co * ld + b * q.P,
                                   s[k] + (n0 + b) * out_n + zo + co * q.P,
                                   (size_t)q.P * sizeof(float));
                    neon_sgemm(1, 0, q.K, ld, q.cout_g, 1.0f, nd->lin.Wt[w[k]] + gi * q.cout_g * q.K,
                               q.K, stage, ld, k ? 1.0f : 0.0f, col, ld);
                }
                for (int64_t b = 0; b < nb; b++)
                    col2im(p, &q, col + b * q.P, ld, 0, p->ho, c + (n0 + b) * in_n + xo);
                continue;
            }
            for (int64_t oh0 = 0; oh0 < p->ho; oh0 += pl.rows) {
                const int64_t oh1 = oh0 + pl.rows < p->ho ? oh0 + pl.rows : p->ho;
                const int64_t cols = (oh1 - oh0) * p->wo;
                for (int k = 0; k < npair; k++)
                    neon_sgemm(1, 0, q.K, cols, q.cout_g, 1.0f,
                               nd->lin.Wt[w[k]] + gi * q.cout_g * q.K, q.K,
                               s[k] + n0 * out_n + zo + oh0 * p->wo, q.P, k ? 1.0f : 0.0f, col,
                               cols);
                col2im(p, &q, col, cols, oh0, oh1, c + n0 * in_n + xo);
            }
        }
    }
}

static void conv_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s,
                         float *c, int64_t N, float *ws, int accumulate)
{
    (void)g;
    conv_t_pairs(nd, 1, &w, &s, c, N, ws, accumulate);
}

static void conv_apply_t2(neon_graph *g, const neon_node *nd, neon_wsel w1, const float *s1,
                          neon_wsel w2, const float *s2, float *c, int64_t N, float *ws,
                          int accumulate)
{
    (void)g;
    const neon_wsel w[2] = {w1, w2};
    const float *const s[2] = {s1, s2};
    conv_t_pairs(nd, 2, w, s, c, N, ws, accumulate);
}

static size_t conv_workspace(const neon_node *nd, int64_t N)
{
    const conv_params *p = params_of(nd);
    const conv_geom q = geom_of(p);
    if (q.direct || q.pointwise) return 0;
    const conv_plan c = plan_of(p, &q, N);
    return (size_t)(q.K * c.cols + (c.nb > 1 ? q.cout_g * c.cols : 0));
}

static neon_status conv_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    conv_apply(g, nd, NEON_W_ORIG, neon_in(g, nd, 0)->out, nd->out, N, g->ws);
    neon_add_bias(nd->out, nd->lin.b, N, nd->lin.out_ch, nd->lin.out_sp);
    return NEON_OK;
}

/* Output extent of one axis, or < 1 when the kernel does not fit. */
static int64_t out_extent(int64_t in, int k, int s, int p0, int p1, int d)
{
    const int64_t span = (int64_t)d * (k - 1) + 1, room = in + p0 + p1 - span;
    return room < 0 ? 0 : room / s + 1;
}

static neon_status conv_infer(neon_graph *g, neon_node *nd)
{
    conv_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    char lb[96], sb[96];
    neon_node_label(nd, lb, sizeof lb);
    neon_shape_str(in->ndim, in->shape, sb, sizeof sb);
    if (in->ndim != 3)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "conv2d %s: input must be (C, H, W), got %s", lb,
                         sb);
    if (in->shape[0] != p->c_in)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "conv2d %s: weights expect %lld input channels, "
                         "input is %s", lb, (long long)p->c_in, sb);
    p->h = in->shape[1];
    p->w = in->shape[2];
    p->ho = out_extent(p->h, p->kh, p->sh, p->pt, p->pb, p->dh);
    p->wo = out_extent(p->w, p->kw, p->sw, p->pl, p->pr, p->dw);
    if (p->ho < 1 || p->wo < 1)
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "conv2d %s: kernel %dx%d (dilation %dx%d) does not fit input %s with "
                         "pads (%d,%d,%d,%d): output would be %lldx%lld",
                         lb, p->kh, p->kw, p->dh, p->dw, sb, p->pt, p->pl, p->pb, p->pr,
                         (long long)p->ho, (long long)p->wo);
    nd->ndim = 3;
    nd->shape[0] = p->c_out;
    nd->shape[1] = p->ho;
    nd->shape[2] = p->wo;
    nd->lin.out_ch = p->c_out;
    nd->lin.out_sp = p->ho * p->wo;
    return NEON_OK;
}

static void conv_describe(const neon_node *nd, char *buf, size_t n)
{
    const conv_params *p = params_of(nd);
    snprintf(buf, n, "%lld -> %lld, kernel %dx%d, stride %dx%d, pads (%d,%d,%d,%d), dilation %dx%d, "
             "groups %d%s", (long long)p->c_in, (long long)p->c_out, p->kh, p->kw, p->sh, p->sw,
             p->pt, p->pl, p->pb, p->pr, p->dh, p->dw, p->groups, nd->lin.b ? ", bias" : "");
}

const neon_layer_ops neon_conv2d_ops = {
    .name = "conv2d",
    .infer = conv_infer,
    .forward = conv_forward,
    .apply = conv_apply,
    .apply_t = conv_apply_t,
    .apply_t2 = conv_apply_t2,
    .workspace_size = conv_workspace,
    .describe = conv_describe,
};

static neon_status check_params(neon_ctx *ctx, const char *name, int64_t c_out,
                                const neon_conv2d_params *p, const float *W)
{
    if (!p || !W)
        return neon_fail(ctx, NEON_ERR_INVALID, "conv2d '%s': parameters and weights are required",
                         name);
    if (c_out < 1 || p->kernel_h < 1 || p->kernel_w < 1)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "conv2d '%s': need c_out >= 1 and kernel >= 1, got c_out %lld, "
                         "kernel %dx%d", name, (long long)c_out, p->kernel_h, p->kernel_w);
    if (p->stride_h < 0 || p->stride_w < 0 || p->dilation_h < 0 || p->dilation_w < 0 ||
        p->groups < 0)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "conv2d '%s': negative stride (%d,%d), dilation (%d,%d) or groups %d",
                         name, p->stride_h, p->stride_w, p->dilation_h, p->dilation_w, p->groups);
    if (p->pad_top < 0 || p->pad_left < 0 || p->pad_bottom < 0 || p->pad_right < 0)
        return neon_fail(ctx, NEON_ERR_INVALID, "conv2d '%s': negative pads (%d,%d,%d,%d)", name,
                         p->pad_top, p->pad_left, p->pad_bottom, p->pad_right);
    return NEON_OK;
}

neon_status neon_graph_add_conv2d(neon_graph *g, const char *name, int input, int64_t c_out,
                                  const neon_conv2d_params *p, const float *W, const float *b,
                                  int *id)
{
    if (!g) return NEON_ERR_INVALID;
    NEON_TRY(check_params(g->ctx, name ? name : "", c_out, p, W));
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_conv2d_ops, 1, &input, &nd));
    const neon_node *in = neon_in(g, nd, 0);
    conv_params *cp = neon_calloc(g->ctx, 1, sizeof *cp);
    nd->params = cp;
    if (!cp) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    *cp = (conv_params){.kh = p->kernel_h, .kw = p->kernel_w,
                        .sh = p->stride_h ? p->stride_h : 1, .sw = p->stride_w ? p->stride_w : 1,
                        .pt = p->pad_top, .pl = p->pad_left, .pb = p->pad_bottom,
                        .pr = p->pad_right, .dh = p->dilation_h ? p->dilation_h : 1,
                        .dw = p->dilation_w ? p->dilation_w : 1, .groups = p->groups ? p->groups : 1,
                        .c_in = in->ndim >= 1 ? in->shape[0] : 0, .c_out = c_out};
    char lb[96], sb[96];
    neon_node_label(nd, lb, sizeof lb);
    neon_shape_str(in->ndim, in->shape, sb, sizeof sb);
    neon_status st = NEON_OK;
    int64_t n_w = 0;
    if (in->ndim != 3)
        st = neon_fail(g->ctx, NEON_ERR_SHAPE, "conv2d %s: input must be (C, H, W), got %s", lb,
                       sb);
    else if (cp->c_in % cp->groups || c_out % cp->groups)
        st = neon_fail(g->ctx, NEON_ERR_INVALID,
                       "conv2d %s: groups %d must divide input channels %lld and output "
                       "channels %lld (input %s)",
                       lb, cp->groups, (long long)cp->c_in, (long long)c_out, sb);
    else if (!neon_mul_ok(c_out, cp->c_in / cp->groups, &n_w) ||
             !neon_mul_ok(n_w, (int64_t)cp->kh * cp->kw, &n_w))
        st = neon_fail(g->ctx, NEON_ERR_SHAPE, "conv2d %s: weight count overflows", lb);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "weight", W, n_w, n_w / c_out);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "bias", b, c_out, 0);
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, W, n_w, &nd->lin.W);
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, b, c_out, &nd->lin.b);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    nd->lin.n_w = n_w;
    nd->lin.Wt[NEON_W_ORIG] = nd->lin.W;
    nd->is_linear = 1;
    return neon_graph_commit_node(g, nd, id);
}
