/* Constant padding.  Relevance of the padded cells is dropped (they are
 * constants, not inputs); the rest routes back exactly. */
#include "layers.h"

#include <string.h>

typedef struct pad_params {
    int64_t pads[2 * NEON_MAX_DIMS]; /* begins then ends, per-sample axes */
    float value;
} pad_params;

static neon_status pad_infer(neon_graph *g, neon_node *nd)
{
    const pad_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    nd->ndim = in->ndim;
    for (int i = 0; i < in->ndim; i++) {
        if (p->pads[i] < 0 || p->pads[in->ndim + i] < 0) {
            char lb[96];
            return neon_fail(g->ctx, NEON_ERR_UNSUPPORTED,
                             "pad %s: negative pads (cropping) on axis %d are not supported",
                             neon_node_label(nd, lb, sizeof lb), i);
        }
        nd->shape[i] = in->shape[i] + p->pads[i] + p->pads[in->ndim + i];
    }
    return NEON_OK;
}

/* Visits every input element with its output offset: rel != 0 adds output
 * relevance into the input, else copies the input into the output. */
static void pad_route(neon_graph *g, neon_node *nd, int64_t N, int rel)
{
    const pad_params *p = nd->params;
    neon_node *in = neon_in(g, nd, 0);
    const int d = in->ndim;
    const int64_t inner = in->shape[d - 1];
    int64_t rows = in->size / inner;
    int64_t idx[NEON_MAX_DIMS];
    for (int64_t n = 0; n < N; n++) {
        memset(idx, 0, sizeof idx);
        for (int64_t r = 0; r < rows; r++) {
            /* output offset of (idx[0..d-2], pads[d-1]) */
            int64_t o = 0;
            for (int i = 0; i < d - 1; i++) o = o * nd->shape[i] + idx[i] + p->pads[i];
            o = o * nd->shape[d - 1] + p->pads[d - 1];
            float *po = (rel ? nd->rel : nd->out) + n * nd->size + o;
            float *pi = (rel ? in->rel : in->out) + n * in->size + r * inner;
            if (rel)
                for (int64_t i = 0; i < inner; i++) pi[i] += po[i];
            else
                memcpy(po, pi, (size_t)inner * sizeof(float));
            for (int i = d - 2; i >= 0; i--) { /* next row index */
                if (++idx[i] < in->shape[i]) break;
                idx[i] = 0;
            }
        }
    }
}

static neon_status pad_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const pad_params *p = nd->params;
    const int64_t n = N * nd->size;
    for (int64_t i = 0; i < n; i++) nd->out[i] = p->value;
    pad_route(g, nd, N, 0);
    return NEON_OK;
}

static neon_status pad_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    pad_route(g, nd, N, 1);
    return NEON_OK;
}

static void pad_describe(const neon_node *nd, char *buf, size_t n)
{
    const pad_params *p = nd->params;
    size_t u = (size_t)snprintf(buf, n, "value %g, pads", (double)p->value);
    for (int i = 0; i < 2 * nd->ndim && u < n; i++)
        u += (size_t)snprintf(buf + u, n - u, " %lld", (long long)p->pads[i]);
}

const neon_layer_ops neon_pad_ops = {
    .name = "pad",
    .infer = pad_infer,
    .forward = pad_forward,
    .relprop = pad_relprop,
    .describe = pad_describe,
};

neon_status neon_graph_add_pad(neon_graph *g, const char *name, int input, const int64_t *pads,
                               float value, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (!pads) return neon_fail(g->ctx, NEON_ERR_INVALID, "pad '%s': no pads", name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_pad_ops, 1, &input, &nd));
    neon_status st = neon_check_finite(g, nd, "value", &value, 1, 0);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    pad_params *p = neon_calloc(g->ctx, 1, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    memcpy(p->pads, pads, 2 * (size_t)neon_in(g, nd, 0)->ndim * sizeof(int64_t));
    p->value = value;
    nd->params = p;
    return neon_graph_commit_node(g, nd, id);
}
