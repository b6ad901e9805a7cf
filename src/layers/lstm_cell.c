/* lstm_cell: the recurrence of one LSTM direction, with its own relprop
 * (signal-take-all through the gates, RULES.md 7; include/neonlrp/lstm.h
 * has the formulas and the contract with the input projection).
 *
 * Per sample: input X (T, 4H) = W x_t (gate rows i, o, f, c), output
 * h (T, H).  Parameters kept in the node's lin block for `neon info`
 * (the node is not a linear kind): lin.W = R (4H, H), lin.b = bias (4H).
 *
 * aux per sample (the engine's contract: sample slots may be copied), per
 * step t four H-vectors: FC = f_t c_{t-1}, IG = i_t g_t, C = c_t and
 * Z = z_c (g's whole pre-activation): aux (N, T, 4, H).
 * Workspace: G (N, 4H) gate pre-activations of the current step (forward),
 * or Rc, Rh, S, tmp (N, H) (relprop); plus h0 R^T (4H). */
#include "layers.h"
#include "blas.h"
#include "neonlrp/lstm.h"

#include <math.h>
#include <string.h>

typedef struct cell_params {
    int64_t H, T;
    int reverse;
    float eps;
    float *h0, *c0;   /* (H) or NULL */
} cell_params;

static inline float stab(float z, float e) { return z >= 0.0f ? z + e : z - e; }
static inline float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

static neon_status cell_infer(neon_graph *g, neon_node *nd)
{
    cell_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    char lb[128], sb[96];
    if (in->ndim != 2 || in->shape[1] != 4 * p->H)
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "lstm_cell %s: input must be (T, 4H) = (T, %lld), got %s",
                         neon_node_label(nd, lb, sizeof lb), (long long)(4 * p->H),
                         neon_shape_str(in->ndim, in->shape, sb, sizeof sb));
    p->T = in->shape[0];
    nd->ndim = 2;
    nd->shape[0] = p->T;
    nd->shape[1] = p->H;
    return NEON_OK;
}

static size_t cell_aux(const neon_node *nd)
{
    const cell_params *p = nd->params;
    return (size_t)(4 * p->T * p->H);
}

static size_t cell_ws(const neon_node *nd, int64_t N)
{
    const cell_params *p = nd->params;
    return (size_t)(4 * N * p->H + 4 * p->H);
}

/* step s of the processing order -> time index */
static inline int64_t time_of(const cell_params *p, int64_t s)
{
    return p->reverse ? p->T - 1 - s : s;
}

static neon_status cell_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const cell_params *p = nd->params;
    const int64_t H = p->H, T = p->T, H4 = 4 * H;
    const float *X = neon_in(g, nd, 0)->out, *R = nd->lin.W, *b = nd->lin.b;
    float *G = g->ws, *h0R = G + N * H4;
    if (p->h0) /* h0R (1, 4H) = h0 (1, H) . R^T (H, 4H) */
        neon_sgemm(0, 1, 1, H4, H, 1.0f, p->h0, H, R, H, 0.0f, h0R, H4);
    for (int64_t s = 0; s < T; s++) {
        const int64_t t = time_of(p, s), tp = p->reverse ? t + 1 : t - 1;
        for (int64_t n = 0; n < N; n++) {
            const float *xr = X + (n * T + t) * H4;
            float *gr = G + n * H4;
            for (int64_t k = 0; k < H4; k++)
                gr[k] = xr[k] + (b ? b[k] : 0.0f) + (s == 0 && p->h0 ? h0R[k] : 0.0f);
        }
        /* G (N, 4H) += h_{t-1} (N, H; rows T*H apart in out) . R^T (H, 4H) */
        if (s > 0) neon_sgemm(0, 1, N, H4, H, 1.0f, nd->out + tp * H, T * H, R, H, 1.0f, G, H4);
        for (int64_t n = 0; n < N; n++) {
            const float *gr = G + n * H4;
            float *h = nd->out + (n * T + t) * H;
            float *FC = nd->aux + (n * T + t) * H4, *IG = FC + H, *C = IG + H, *Z = C + H;
            const float *Cp = nd->aux + (n * T + tp) * H4 + 2 * H; /* c_{t-1} when s > 0 */
            for (int64_t j = 0; j < H; j++) {
                const float i = sigm(gr[j]), og = sigm(gr[H + j]), f = sigm(gr[2 * H + j]);
                const float zc = gr[3 * H + j], gg = tanhf(zc);
                const float cp = s > 0 ? Cp[j] : (p->c0 ? p->c0[j] : 0.0f);
                FC[j] = f * cp;
                IG[j] = i * gg;
                C[j] = FC[j] + IG[j];
                Z[j] = zc;
                h[j] = og * tanhf(C[j]);
            }
        }
    }
    return NEON_OK;
}

/* The stabilizer the input node's own z-rule divides by (see lstm.h), or
 * -1 when the input is not a linear kind (then it gets the plain share). */
static float input_stab(const neon_node *in)
{
    if (!in->is_linear) return -1.0f;
    if (in->rule.kind == NEON_RULE_EPSILON) return in->rule.epsilon;
    return in->rule.stabilizer > 0 ? in->rule.stabilizer : NEON_DEFAULT_STABILIZER;
}

static neon_status cell_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const cell_params *p = nd->params;
    const int64_t H = p->H, T = p->T, H4 = 4 * H;
    neon_node *in = neon_in(g, nd, 0);
    const float *Rg = nd->lin.W + 3 * H * H; /* g rows of R: (H, H) */
    const float e = p->eps, ein = input_stab(in);
    float *Rc = g->ws, *Rh = Rc + N * H, *S = Rh + N * H, *tmp = S + N * H;
    memset(Rc, 0, (size_t)(2 * N * H) * sizeof(float));
    for (int64_t s = T - 1; s >= 0; s--) {
        const int64_t t = time_of(p, s), tp = p->reverse ? t + 1 : t - 1;
        for (int64_t n = 0; n < N; n++) {
            const float *FC = nd->aux + (n * T + t) * H4, *IG = FC + H, *C = IG + H, *Z = C + H;
            const float *rh = nd->rel + (n * T + t) * H;
            const float *zx = in->out + (n * T + t) * H4 + 3 * H;
            float *rx = in->rel + (n * T + t) * H4 + 3 * H;
            for (int64_t j = 0; j < H; j++) {
                const int64_t r = n * H + j;
                const float rc = Rc[r] + rh[j] + Rh[r]; /* R_c[t] += R_h[t] */
                const float den = stab(C[j], e);
                Rc[r] = FC[j] / den * rc;               /* -> c_{t-1} */
                const float sg = IG[j] / den * rc / stab(Z[j], e); /* R_g / stab(z_c) */
                S[r] = sg;
                rx[j] += sg * (ein >= 0 ? stab(zx[j], ein) : zx[j]);
            }
        }
        if (s == 0) break; /* what reaches h0 and c0 is absorbed */
        /* tmp (N, H) = S (N, H) . R_g (H, H);  R_h[t-1] = h_{t-1} o tmp */
        neon_sgemm(0, 0, N, H, H, 1.0f, S, H, Rg, H, 0.0f, tmp, H);
        for (int64_t n = 0; n < N; n++) {
            const float *hp = nd->out + (n * T + tp) * H;
            for (int64_t j = 0; j < H; j++) Rh[n * H + j] = hp[j] * tmp[n * H + j];
        }
    }
    return NEON_OK;
}

static void cell_destroy(neon_ctx *ctx, neon_node *nd)
{
    cell_params *p = nd->params;
    if (!p) return;
    neon_free(ctx, p->h0);
    neon_free(ctx, p->c0);
}

static void cell_describe(const neon_node *nd, char *buf, size_t n)
{
    const cell_params *p = nd->params;
    snprintf(buf, n, "hidden %lld, %lld steps%s%s%s, eps %g", (long long)p->H, (long long)p->T,
             p->reverse ? ", reversed" : "", nd->lin.b ? ", bias" : "",
             p->h0 || p->c0 ? ", initial state" : "", (double)p->eps);
}

const neon_layer_ops neon_lstm_cell_ops = {
    .name = "lstm_cell",
    .infer = cell_infer,
    .forward = cell_forward,
    .relprop = cell_relprop,
    .workspace_size = cell_ws,
    .aux_size = cell_aux,
    .destroy = cell_destroy,
    .describe = cell_describe,
};

neon_status neon_graph_add_lstm_cell(neon_graph *g, const char *name, int input, int64_t H,
                                     const float *R, const float *b, const float *h0,
                                     const float *c0, int reverse, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (H <= 0 || H > (INT64_C(1) << 24) || !R)
        return neon_fail(g->ctx, NEON_ERR_INVALID,
                         "lstm_cell '%s': need a hidden size >= 1 and recurrent weights",
                         name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_lstm_cell_ops, 1, &input, &nd));
    cell_params *p = neon_calloc(g->ctx, 1, sizeof *p);
    neon_status st = p ? NEON_OK : NEON_ERR_NOMEM;
    nd->params = p;
    if (p) {
        p->H = H;
        p->reverse = reverse != 0;
        p->eps = NEON_LSTM_EPS;
        st = neon_copy_floats(g->ctx, h0, H, &p->h0);
        if (st == NEON_OK) st = neon_copy_floats(g->ctx, c0, H, &p->c0);
    }
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, R, 4 * H * H, &nd->lin.W);
    if (st == NEON_OK) st = neon_copy_floats(g->ctx, b, 4 * H, &nd->lin.b);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "recurrent weight", R, 4 * H * H, H);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "bias", b, 4 * H, 0);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "initial hidden state", h0, H, 0);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "initial cell state", c0, H, 0);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    nd->lin.n_w = 4 * H * H;
    nd->lin.out_ch = 4 * H;
    nd->lin.out_sp = 1;
    return neon_graph_commit_node(g, nd, id);
}

neon_status neon_graph_set_lstm_eps(neon_graph *g, int id, float eps)
{
    if (!g) return NEON_ERR_INVALID;
    if (id < 0 || id >= g->n_nodes || g->nodes[id].ops != &neon_lstm_cell_ops)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "node %d is not an lstm_cell", id);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return neon_fail(g->ctx, NEON_ERR_INVALID, "lstm epsilon must be finite and >= 0, got %g",
                         (double)eps);
    ((cell_params *)g->nodes[id].params)->eps = eps;
    return NEON_OK;
}
