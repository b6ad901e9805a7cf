/* Pairwise-matching kinds (RULES.md 8): the element-wise product of two
 * branches, and the sum over per-sample axes (the read-out of a dot-product
 * similarity <phi(x), psi(y)> = ReduceSum(phi(x) * psi(y))).
 *
 * product: a = u o v for two inputs of equal shape.  Its relevance is
 * second order (over pairs of features) and is computed by the BiLRP driver
 * (src/relprop/bilrp.c), which never walks this node.  In an ordinary
 * first-order pass each factor receives the node's whole relevance: that is
 * the marginal of the pair relevance (sum_j R_ij over the other input) when
 * the other branch conserves, so each input's heatmap sums to the score.
 *
 * reduce_sum: z = sum of x over the given axes; a weightless linear kind
 * (all weights 1, no bias) on which the generic rules run: the z-rule
 * R_j = x_j R_k / stab(z_k) by default. */
#include "layers.h"

#include <string.h>

/* ---- product ---------------------------------------------------------------- */

static neon_status product_infer(neon_graph *g, neon_node *nd)
{
    const neon_node *a = neon_in(g, nd, 0), *b = neon_in(g, nd, 1);
    if (a->ndim != b->ndim || memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof(int64_t))) {
        char sa[96], sb[96], lb[96];
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "product %s: the two factors must have the same shape, got %s and %s "
                         "(branch output sizes do not match)",
                         neon_node_label(nd, lb, sizeof lb),
                         neon_shape_str(a->ndim, a->shape, sa, sizeof sa),
                         neon_shape_str(b->ndim, b->shape, sb, sizeof sb));
    }
    nd->ndim = a->ndim;
    memcpy(nd->shape, a->shape, sizeof nd->shape);
    return NEON_OK;
}

/* out (N, size) = u (N, size) o v (N, size) */
static neon_status product_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const float *u = neon_in(g, nd, 0)->out, *v = neon_in(g, nd, 1)->out;
    const int64_t n = N * nd->size;
    for (int64_t i = 0; i < n; i++) nd->out[i] = u[i] * v[i];
    return NEON_OK;
}

/* First-order pass: each factor gets the whole relevance (the marginal). */
static neon_status product_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const int64_t n = N * nd->size;
    for (int k = 0; k < 2; k++) {
        float *r = neon_in(g, nd, k)->rel;
        for (int64_t i = 0; i < n; i++) r[i] += nd->rel[i];
    }
    return NEON_OK;
}

const neon_layer_ops neon_product_ops = {
    .name = "product",
    .infer = product_infer,
    .forward = product_forward,
    .relprop = product_relprop,
};

neon_status neon_graph_add_product(neon_graph *g, const char *name, int a, int b, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    const int in[2] = {a, b};
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_product_ops, 2, in, &nd));
    return neon_graph_commit_node(g, nd, id);
}

/* ---- reduce_sum --------------------------------------------------------------- */

typedef struct rsum_params {
    int n_axes;
    int axes[NEON_MAX_DIMS];  /* per-sample axes */
    int keepdims;
    int64_t *map;             /* input element -> output element (per sample) */
} rsum_params;

static neon_status rsum_infer(neon_graph *g, neon_node *nd)
{
    rsum_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    char lb[96], sb[96];
    int red[NEON_MAX_DIMS] = {0};
    for (int k = 0; k < p->n_axes; k++) {
        if (p->axes[k] < 0 || p->axes[k] >= in->ndim || red[p->axes[k]])
            return neon_fail(g->ctx, NEON_ERR_SHAPE,
                             "reduce_sum %s: axis %d is repeated or out of range for the "
                             "per-sample shape %s",
                             neon_node_label(nd, lb, sizeof lb), p->axes[k],
                             neon_shape_str(in->ndim, in->shape, sb, sizeof sb));
        red[p->axes[k]] = 1;
    }
    nd->ndim = 0;
    for (int i = 0; i < in->ndim; i++) {
        if (!red[i]) nd->shape[nd->ndim++] = in->shape[i];
        else if (p->keepdims) nd->shape[nd->ndim++] = 1;
    }
    if (nd->ndim == 0) { /* a scalar per sample is stored as shape (1) */
        nd->ndim = 1;
        nd->shape[0] = 1;
    }
    int64_t out = 1;
    for (int i = 0; i < in->ndim; i++)
        if (!red[i]) out *= in->shape[i];
    p->map = neon_alloc_array(g->ctx, (size_t)in->size, sizeof(int64_t));
    if (!p->map) return NEON_ERR_NOMEM;
    /* map[j]: output index of input element j (C order, reduced axes dropped) */
    int64_t idx[NEON_MAX_DIMS] = {0};
    for (int64_t j = 0; j < in->size; j++) {
        int64_t o = 0;
        for (int i = 0; i < in->ndim; i++)
            if (!red[i]) o = o * in->shape[i] + idx[i];
        p->map[j] = o;
        for (int i = in->ndim - 1; i >= 0; i--) {
            if (++idx[i] < in->shape[i]) break;
            idx[i] = 0;
        }
    }
    nd->size = out;
    nd->lin.out_ch = 1;
    nd->lin.out_sp = out;
    return NEON_OK;
}

/* Every weight is 1: ORIG, POS, SQ, ONES -> 1; NEG -> 0. */
static inline float rsum_weight(neon_wsel w) { return w == NEON_W_NEG ? 0.0f : 1.0f; }

/* z (N, out) = sum over the reduced axes of x (N, in) */
static void rsum_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                       int64_t N, float *ws)
{
    (void)ws;
    const rsum_params *p = nd->params;
    const int64_t ni = neon_in(g, nd, 0)->size, no = nd->size;
    const float wt = rsum_weight(w);
    memset(z, 0, (size_t)(N * no) * sizeof *z);
    for (int64_t n = 0; n < N; n++) {
        const float *xn = x + n * ni;
        float *zn = z + n * no;
        for (int64_t j = 0; j < ni; j++) zn[p->map[j]] += xn[j];
        if (wt != 1.0f)
            for (int64_t k = 0; k < no; k++) zn[k] *= wt;
    }
}

/* c (N, in) (+)= broadcast of s (N, out) over the reduced axes */
static void rsum_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s, float *c,
                         int64_t N, float *ws, int accumulate)
{
    (void)ws;
    const rsum_params *p = nd->params;
    const int64_t ni = neon_in(g, nd, 0)->size, no = nd->size;
    const float wt = rsum_weight(w);
    for (int64_t n = 0; n < N; n++) {
        const float *sn = s + n * no;
        float *cn = c + n * ni;
        for (int64_t j = 0; j < ni; j++) cn[j] = (accumulate ? cn[j] : 0.0f) + wt * sn[p->map[j]];
    }
}

static neon_status rsum_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    rsum_apply(g, nd, NEON_W_ORIG, neon_in(g, nd, 0)->out, nd->out, N, g->ws);
    return NEON_OK;
}

static void rsum_destroy(neon_ctx *ctx, neon_node *nd)
{
    rsum_params *p = nd->params;
    if (p) neon_free(ctx, p->map);
}

static void rsum_describe(const neon_node *nd, char *buf, size_t n)
{
    const rsum_params *p = nd->params;
    int k = snprintf(buf, n, "sum over axes");
    for (int i = 0; i < p->n_axes && k > 0 && (size_t)k < n; i++)
        k += snprintf(buf + k, n - (size_t)k, " %d", p->axes[i]);
    if (p->keepdims && k > 0 && (size_t)k < n) snprintf(buf + k, n - (size_t)k, ", keepdims");
}

const neon_layer_ops neon_reduce_sum_ops = {
    .name = "reduce_sum",
    .infer = rsum_infer,
    .forward = rsum_forward,
    .apply = rsum_apply,
    .apply_t = rsum_apply_t,
    .destroy = rsum_destroy,
    .describe = rsum_describe,
};

neon_status neon_graph_add_reduce_sum(neon_graph *g, const char *name, int input, int n_axes,
                                      const int *axes, int keepdims, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (n_axes < 0 || n_axes > NEON_MAX_DIMS || (n_axes > 0 && !axes))
        return neon_fail(g->ctx, NEON_ERR_INVALID, "reduce_sum '%s': %d axes", name ? name : "",
                         n_axes);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_reduce_sum_ops, 1, &input, &nd));
    rsum_params *p = neon_calloc(g->ctx, 1, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    const neon_node *in = neon_in(g, nd, 0);
    if (n_axes == 0) { /* all per-sample axes */
        p->n_axes = in->ndim;
        for (int i = 0; i < in->ndim; i++) p->axes[i] = i;
    } else {
        p->n_axes = n_axes;
        for (int i = 0; i < n_axes; i++) p->axes[i] = axes[i];
    }
    p->keepdims = keepdims != 0;
    nd->params = p;
    nd->is_linear = 1; /* weightless: lin.W = lin.b = NULL */
    return neon_graph_commit_node(g, nd, id);
}
