/* Shared layer helpers: pass-through relevance, views, bias broadcast. */
#include "layers.h"

neon_status neon_relprop_pass(neon_graph *g, neon_node *nd, int64_t N)
{
    neon_node *in = neon_in(g, nd, 0);
    const int64_t n = N * nd->size;
    const float *r = nd->rel;
    float *ri = in->rel;
    for (int64_t i = 0; i < n; i++) ri[i] += r[i];
    return NEON_OK;
}

neon_status neon_forward_view(neon_graph *g, neon_node *nd, int64_t N)
{
    (void)N;
    nd->out = neon_in(g, nd, 0)->out;
    return NEON_OK;
}

void neon_add_bias(float *z, const float *b, int64_t N, int64_t out_ch, int64_t out_sp)
{
    if (!b) return;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < out_ch; c++) {
            float *p = z + (n * out_ch + c) * out_sp;
            const float bc = b[c];
            for (int64_t s = 0; s < out_sp; s++) p[s] += bc;
        }
}
