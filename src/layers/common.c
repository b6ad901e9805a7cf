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

neon_status neon_check_finite(neon_graph *g, const neon_node *nd, const char *what, const float *x,
                              int64_t n, int64_t row)
{
    const int64_t i = x ? neon_find_nonfinite(x, n) : -1;
    if (i < 0) return NEON_OK;
    char at[64];
    if (row > 0) snprintf(at, sizeof at, "[%lld, %lld]", (long long)(i / row), (long long)(i % row));
    else snprintf(at, sizeof at, "[%lld]", (long long)i);
    return neon_fail(g->ctx, NEON_ERR_NUMERIC, "%s '%s': %s%s (element %lld of %lld) is %g",
                     nd->ops->name, nd->name, what, at, (long long)i, (long long)n, (double)x[i]);
}
