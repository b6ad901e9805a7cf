/* Min-pooling for neuralized models (k-means, one-class SVM): hard or soft
 * minimum forward, min-take-most relevance R_m = p_m R_g with
 * p = softmin_beta over the group's valid members. */
#include "layers.h"
#include "neonlrp/neuralize.h"

#include <math.h>

/* groups of at most this many members compute each exp once (stack buffer) */
#define MINPOOL_STACK 512

typedef struct minpool_params {
    int64_t G, M;
    float beta;
    int soft, exclude_diag;
} minpool_params;

static neon_status minpool_infer(neon_graph *g, neon_node *nd)
{
    const minpool_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    char lb[96], sb[96];
    if (p->G * p->M != in->size || (p->exclude_diag && (p->G != p->M || p->M < 2)) || p->M < 1)
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "minpool %s: %lld groups of %lld%s do not fit the input %s",
                         neon_node_label(nd, lb, sizeof lb), (long long)p->G, (long long)p->M,
                         p->exclude_diag ? " (diagonal excluded: needs groups == members >= 2)" : "",
                         neon_shape_str(in->ndim, in->shape, sb, sizeof sb));
    nd->ndim = 1;
    nd->shape[0] = p->G;
    return NEON_OK;
}

/* min over x[k0..k1) (branch-free: vectorizes) */
static float span_min(const float *x, int64_t k0, int64_t k1, float m)
{
    for (int64_t k = k0; k < k1; k++) m = x[k] < m ? x[k] : m;
    return m;
}

/* min over the valid members of row x (M values) of group gi */
static double row_min(const minpool_params *p, const float *x, int64_t gi)
{
    if (!p->exclude_diag) return span_min(x, 0, p->M, INFINITY);
    return span_min(x, gi + 1, p->M, span_min(x, 0, gi, INFINITY));
}

/* out (N, G) = (soft)min over each group of in (N, G, M) */
static neon_status minpool_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const minpool_params *p = nd->params;
    const float *x = neon_in(g, nd, 0)->out;
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < p->G; gi++) {
            const float *row = x + (n * p->G + gi) * p->M;
            double m = row_min(p, row, gi);
            if (p->soft) {
                double S = 0;
                for (int64_t k = 0; k < p->M; k++)
                    if (!(p->exclude_diag && k == gi)) S += exp(-(double)p->beta * (row[k] - m));
                m -= log(S) / p->beta;
            }
            nd->out[n * p->G + gi] = (float)m;
        }
    return NEON_OK;
}

static neon_status minpool_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const minpool_params *p = nd->params;
    neon_node *in = neon_in(g, nd, 0);
    for (int64_t n = 0; n < N; n++)
        for (int64_t gi = 0; gi < p->G; gi++) {
            const float R = nd->rel[n * p->G + gi];
            if (R == 0.0f) continue;
            const float *row = in->out + (n * p->G + gi) * p->M;
            float *rr = in->rel + (n * p->G + gi) * p->M;
            const double m = row_min(p, row, gi);
            double S = 0;
            if (p->M <= MINPOOL_STACK) { /* one exp per member */
                double e[MINPOOL_STACK];
                for (int64_t k = 0; k < p->M; k++) {
                    e[k] = p->exclude_diag && k == gi ? 0.0 : exp(-(double)p->beta * (row[k] - m));
                    S += e[k];
                }
                const double q = R / S;
                for (int64_t k = 0; k < p->M; k++) rr[k] += (float)(e[k] * q);
                continue;
            }
            for (int64_t k = 0; k < p->M; k++)
                if (!(p->exclude_diag && k == gi)) S += exp(-(double)p->beta * (row[k] - m));
            for (int64_t k = 0; k < p->M; k++)
                if (!(p->exclude_diag && k == gi))
                    rr[k] += (float)(exp(-(double)p->beta * (row[k] - m)) / S * R);
        }
    return NEON_OK;
}

static void minpool_describe(const neon_node *nd, char *buf, size_t n)
{
    const minpool_params *p = nd->params;
    snprintf(buf, n, "%s-min over %lld groups of %lld%s, beta %g", p->soft ? "soft" : "hard",
             (long long)p->G, (long long)p->M, p->exclude_diag ? " (k != c)" : "",
             (double)p->beta);
}

const neon_layer_ops neon_minpool_ops = {
    .name = "minpool",
    .infer = minpool_infer,
    .forward = minpool_forward,
    .relprop = minpool_relprop,
    .describe = minpool_describe,
};

neon_status neon_graph_add_minpool(neon_graph *g, const char *name, int input, int64_t groups,
                                   int64_t members, float beta, int soft, int exclude_diagonal,
                                   int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (!(beta > 0) || !isfinite(beta))
        return neon_fail(g->ctx, NEON_ERR_INVALID, "minpool '%s': beta must be > 0, got %g",
                         name ? name : "", (double)beta);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_minpool_ops, 1, &input, &nd));
    minpool_params *p = neon_alloc(g->ctx, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    p->G = groups;
    p->M = members;
    p->beta = beta;
    p->soft = soft != 0;
    p->exclude_diag = exclude_diagonal != 0;
    nd->params = p;
    return neon_graph_commit_node(g, nd, id);
}

neon_status neon_graph_set_minpool_beta(neon_graph *g, int id, float beta)
{
    if (!g) return NEON_ERR_INVALID;
    if (id < 0 || id >= g->n_nodes || g->nodes[id].ops != &neon_minpool_ops)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "node %d is not a minpool node", id);
    if (!(beta > 0) || !isfinite(beta))
        return neon_fail(g->ctx, NEON_ERR_INVALID, "minpool beta must be > 0, got %g", (double)beta);
    ((minpool_params *)g->nodes[id].params)->beta = beta;
    return NEON_OK;
}
