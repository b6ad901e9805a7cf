/* LSTM layer builder: per direction a dense_seq input projection and an
 * lstm_cell recurrence (include/neonlrp/lstm.h); two directions are joined
 * into ONNX's per-sample Y layout (T, 2, H). */
#include "graph/graph_impl.h"
#include "neonlrp/lstm.h"

#include <string.h>

static neon_status add_direction(neon_graph *g, const char *name, int input,
                                 const neon_lstm_params *p, int d, int reverse, int *id)
{
    neon_ctx *ctx = g->ctx;
    const int64_t H = p->hidden, F = g->nodes[input].shape[g->nodes[input].ndim - 1];
    char nx[256], nc[256];
    snprintf(nx, sizeof nx, "%s%s.x", name, d ? ".bw" : "");
    snprintf(nc, sizeof nc, "%s%s", name, d ? ".bw" : "");
    float *b = NULL;
    if (p->B) {
        if (!(b = NEON_FALLOC(ctx, 4 * H))) return NEON_ERR_NOMEM;
        const float *B = p->B + d * 8 * H;
        for (int64_t k = 0; k < 4 * H; k++) b[k] = B[k] + B[4 * H + k];
    }
    int px;
    neon_status st = neon_graph_add_dense_seq(g, nx, input, 4 * H, p->W + d * 4 * H * F, &px);
    if (st == NEON_OK)
        st = neon_graph_add_lstm_cell(g, nc, px, H, p->R + d * 4 * H * H, b,
                                      p->h0 ? p->h0 + d * H : NULL, p->c0 ? p->c0 + d * H : NULL,
                                      reverse, id);
    neon_free(ctx, b);
    return st;
}

neon_status neon_graph_add_lstm(neon_graph *g, const char *name, int input,
                                const neon_lstm_params *p, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (!name) name = "lstm";
    if (!p || !p->W || !p->R || p->hidden < 1 || (p->directions != 1 && p->directions != 2))
        return neon_fail(g->ctx, NEON_ERR_INVALID,
                         "lstm '%s': need weights W and R, hidden >= 1 and 1 or 2 directions",
                         name);
    if (input < 0 || input >= g->n_nodes || g->nodes[input].ndim != 2) {
        char sb[96] = "(none)";
        if (input >= 0 && input < g->n_nodes)
            neon_shape_str(g->nodes[input].ndim, g->nodes[input].shape, sb, sizeof sb);
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "lstm '%s': input must be (T, F), got %s", name,
                         sb);
    }
    if (p->directions == 1) return add_direction(g, name, input, p, 0, p->reverse, id);
    int c[2], r[2];
    const int64_t T = g->nodes[input].shape[0], s3[3] = {T, 1, p->hidden};
    for (int d = 0; d < 2; d++) {
        char nr[256];
        snprintf(nr, sizeof nr, "%s%s.y", name, d ? ".bw" : "");
        NEON_TRY(add_direction(g, name, input, p, d, d, &c[d]));
        NEON_TRY(neon_graph_add_reshape(g, nr, c[d], 3, s3, &r[d]));
    }
    char ny[256];
    snprintf(ny, sizeof ny, "%s.Y", name);
    return neon_graph_add_concat(g, ny, 2, r, 1, id);
}
