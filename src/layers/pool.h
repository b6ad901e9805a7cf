/* Shared 2-d pooling geometry (max-pool in pool.c, avg-pool in avgpool.c). */
#ifndef NEON_POOL_H
#define NEON_POOL_H

#include "layers.h"

typedef struct pool_params {
    int kh, kw, sh, sw, pt, pl, pb, pr, ceil_mode, count_include_pad;
    int global;               /* global average pool: window = whole plane */
    int64_t c, h, w, ho, wo;  /* filled by neon_pool_infer */
} pool_params;

/* One output position's window.  Taps inside the image: rows [h0, h1),
 * columns [w0, w1) (never empty).  n_pad: the window's cell count
 * including padding but clipped to the padded input (PyTorch / ONNX
 * count_include_pad divisor). */
typedef struct pool_win {
    int64_t h0, h1, w0, w1, n_pad;
} pool_win;

static inline pool_win neon_pool_window(const pool_params *p, int64_t oh, int64_t ow)
{
    pool_win v;
    const int64_t hs = oh * p->sh - p->pt, ws = ow * p->sw - p->pl;
    int64_t he = hs + p->kh, we = ws + p->kw;
    const int64_t hpe = he < p->h + p->pb ? he : p->h + p->pb;
    const int64_t wpe = we < p->w + p->pr ? we : p->w + p->pr;
    v.n_pad = (hpe - hs) * (wpe - ws);
    v.h0 = hs > 0 ? hs : 0;
    v.w0 = ws > 0 ? ws : 0;
    v.h1 = he < p->h ? he : p->h;
    v.w1 = we < p->w ? we : p->w;
    return v;
}

/* Validates the public parameters and fills pool_params (kind = "maxpool2d"
 * or "avgpool2d" for messages); no input shape needed yet. */
neon_status neon_pool_params(neon_ctx *ctx, const char *kind, const char *name,
                             const neon_pool2d_params *in, pool_params *out);
/* Shape inference: input (C, H, W) -> (C, H_out, W_out); checks that every
 * window holds at least one input cell. */
neon_status neon_pool_infer(neon_graph *g, neon_node *nd);
/* "kernel 2x2, stride 2x2, pads (0,0,0,0)[, ceil][, count_include_pad]" */
void neon_pool_describe(const neon_node *nd, char *buf, size_t n);
/* Builder shared by the pooling kinds: copies params, sets up linear-kind
 * fields when linear != 0. */
neon_status neon_pool_add(neon_graph *g, const char *name, int input, const neon_layer_ops *ops,
                          const pool_params *pp, int linear, int *id);

#endif
