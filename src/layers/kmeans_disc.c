/* K-means discriminant layer (NEON, RULES.md 5): a weightless linear kind
 *
 *     h_k(x) = w_ck . x + b_ck,  w_ck = 2 (mu_c - mu_k),  b_ck = ||mu_k||^2 - ||mu_c||^2,
 *
 * i.e. ||x - mu_k||^2 - ||x - mu_c||^2, laid out (K) per sample for ONE
 * cluster c per sample: the node's parameter `cluster` (-1: each sample's
 * assigned cluster argmin_k ||x - mu_k||^2, the lowest index on ties; k >= 0:
 * cluster k for every sample).  c is cached per sample in aux.  Entry c is
 * not a discriminant: it is set to FLT_MAX (finite: no non-finite scan ever
 * trips on it), so the following hard min-pool gives f_c = min_{k != c} h_k
 * exactly and its soft-min weight exp(-beta (FLT_MAX - f_c)) is exactly 0;
 * its relevance stays 0 and the transposed ops ignore that column anyway.
 * Root points m_ck = (mu_c + mu_k) / 2 (w_ck . m_ck = -b_ck), so the
 * engine's z-rule R = a o (W^T s) - (W o A0)^T s is the midpoint rule.
 *
 * Everything is O(N K D) in one GEMM plus O(N K) element-wise:
 *   forward  e = c - 2 x mu'^T (N, K), h_k = e_k - e_c;
 *   apply    z_k = G_c - G_k, G = 2 x mu'^T (ORIG) or x (mu o mu)'^T (ROOT);
 *   apply_t  sum_k s_k (v_c - v_k) = r v with r_k = -s_k (k != c),
 *            r_c = sum_{k != c} s_k: one (N, K) x (K, D) GEMM.
 *
 * Numerical care: the GEMM uses the centroids shifted by their mean o
 * (mu' = mu - o), and h_k = e_k - e_c with e_k = c_k - 2 x . mu'_k,
 * c_k = ||mu'_k||^2 + 2 o . mu'_k (double).  This is exactly h_ck in real
 * arithmetic, never forms ||x||^2, and its round-off scales with the
 * spread of the centroids instead of their distance from the origin. */
#include "layers.h"
#include "blas.h"
#include "neonlrp/neuralize.h"

#include <float.h>
#include <string.h>

typedef struct disc_params {
    int64_t K, D;
    int64_t cluster; /* -1: each sample's assigned cluster; else fixed */
    float *mus;  /* (K, D) mu - o, o = mean of the centroids */
    float *mu2;  /* (K, D) mu o mu - o o o (root weights: w_ck o m_ck = mu_c^2 - mu_k^2,
                  * the o o o terms cancel; smaller values, less round-off) */
    float *c;    /* (K) ||mu'_k||^2 + 2 o . mu'_k */
} disc_params;

static neon_status disc_infer(neon_graph *g, neon_node *nd)
{
    const disc_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    if (in->size != p->D) {
        char lb[96], sb[96];
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "kmeans_disc %s: centroids have %lld features, the input %s has %lld",
                         neon_node_label(nd, lb, sizeof lb), (long long)p->D,
                         neon_shape_str(in->ndim, in->shape, sb, sizeof sb), (long long)in->size);
    }
    nd->ndim = 1;
    nd->shape[0] = p->K;
    return NEON_OK;
}

/* floats of scratch: G or r (N, K) */
static size_t disc_workspace(const neon_node *nd, int64_t N)
{
    const disc_params *p = nd->params;
    return (size_t)(N * p->K);
}

/* one float per sample: the cluster c */
static size_t disc_aux(const neon_node *nd)
{
    (void)nd;
    return 1;
}

/* out (N, K): e = c - 2 x mu'^T computed in place, then h_k = e_k - e_c,
 * h_c = FLT_MAX */
static neon_status disc_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const disc_params *p = nd->params;
    const int64_t K = p->K, D = p->D;
    neon_sgemm(0, 1, N, K, D, -2.0f, neon_in(g, nd, 0)->out, D, p->mus, D, 0.0f, nd->out, K);
    for (int64_t n = 0; n < N; n++) {
        float *h = nd->out + n * K;
        for (int64_t k = 0; k < K; k++) h[k] += p->c[k];
        int64_t c = p->cluster;
        if (c < 0) {
            c = 0;
            for (int64_t k = 1; k < K; k++)
                if (h[k] < h[c]) c = k;
        }
        const float ec = h[c];
        for (int64_t k = 0; k < K; k++) h[k] -= ec;
        h[c] = FLT_MAX;
        nd->aux[n] = (float)c;
    }
    return NEON_OK;
}

/* z (N, K) = rho(W) x (no bias) for each sample's cached cluster c.
 * ORIG: 2 (G_c - G_k), G = x mu'^T (= x mu^T up to a per-sample constant
 * that cancels).  ROOT: Q_c - Q_k, Q = x (mu o mu - o o o)^T.  z_c = 0.
 * Other selectors do not apply to a kind with root points (the generic
 * rules refuse them first): z = 0. */
static void disc_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                       int64_t N, float *ws)
{
    (void)g;
    const disc_params *p = nd->params;
    const int64_t K = p->K, D = p->D;
    if (w != NEON_W_ORIG && w != NEON_W_ROOT) {
        memset(z, 0, (size_t)(N * K) * sizeof(float));
        return;
    }
    (void)ws;
    const float scale = w == NEON_W_ORIG ? 2.0f : 1.0f;
    neon_sgemm(0, 1, N, K, D, -scale, x, D, w == NEON_W_ORIG ? p->mus : p->mu2, D, 0.0f, z, K);
    for (int64_t n = 0; n < N; n++) { /* z holds -G: z_k = -G_k - (-G_c) */
        float *zn = z + n * K;
        const int64_t c = (int64_t)nd->aux[n];
        const float gc = zn[c];
        for (int64_t k = 0; k < K; k++) zn[k] -= gc;
        zn[c] = 0.0f;
    }
}

/* c (N, D) (+)= rho(W)^T s, s (N, K):
 *   sum_{k != c} s_k (v_c - v_k) = sum_j r_j v_j,  r_j = -s_j (j != c),
 *   r_c = sum_{k != c} s_k
 * with v = 2 mu' (ORIG; equal to 2 mu since the r_j sum to 0) or
 * mu o mu - o o o (ROOT; likewise): r (N, K), then one (N, K) x (K, D) GEMM. */
static void disc_apply_t(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s,
                         float *c, int64_t N, float *ws, int accumulate)
{
    (void)g;
    const disc_params *p = nd->params;
    const int64_t K = p->K, D = p->D;
    if (w != NEON_W_ORIG && w != NEON_W_ROOT) {
        if (!accumulate) memset(c, 0, (size_t)(N * D) * sizeof(float));
        return;
    }
    float *r = ws; /* (N, K) */
    for (int64_t n = 0; n < N; n++) {
        const float *sn = s + n * K;
        float *rn = r + n * K;
        const int64_t cl = (int64_t)nd->aux[n];
        float acc = 0.0f;
        for (int64_t k = 0; k < K; k++) {
            rn[k] = -sn[k];
            acc += sn[k];
        }
        rn[cl] = acc - sn[cl];
    }
    const float scale = w == NEON_W_ORIG ? 2.0f : 1.0f;
    neon_sgemm(0, 0, N, D, K, scale, r, K, w == NEON_W_ORIG ? p->mus : p->mu2, D,
               accumulate ? 1.0f : 0.0f, c, D);
}

static void disc_destroy(neon_ctx *ctx, neon_node *nd)
{
    disc_params *p = nd->params;
    if (!p) return;
    neon_free(ctx, p->mus);
    neon_free(ctx, p->mu2);
    neon_free(ctx, p->c);
    neon_free(ctx, p);
    nd->params = NULL;
}

static void disc_describe(const neon_node *nd, char *buf, size_t n)
{
    const disc_params *p = nd->params;
    char cl[48] = "c = each sample's assigned cluster";
    if (p->cluster >= 0) snprintf(cl, sizeof cl, "c = %lld", (long long)p->cluster);
    snprintf(buf, n, "h_k = ||x-mu_k||^2 - ||x-mu_c||^2 (%s), %lld centroids x %lld, "
             "midpoint roots", cl, (long long)p->K, (long long)p->D);
}

const neon_layer_ops neon_kmeans_disc_ops = {
    .name = "kmeans_disc",
    .infer = disc_infer,
    .forward = disc_forward,
    .apply = disc_apply,
    .apply_t = disc_apply_t,
    .workspace_size = disc_workspace,
    .aux_size = disc_aux,
    .destroy = disc_destroy,
    .describe = disc_describe,
};

static neon_status disc_params_make(neon_ctx *ctx, int64_t K, int64_t D, const float *mu,
                                    disc_params **out)
{
    int64_t n;
    if (!neon_mul_ok(K, D, &n)) return neon_fail(ctx, NEON_ERR_SHAPE, "kmeans_disc: K x D overflows");
    disc_params *p = neon_calloc(ctx, 1, sizeof *p);
    if (!p) return NEON_ERR_NOMEM;
    p->K = K;
    p->D = D;
    p->mus = NEON_FALLOC(ctx, n);
    p->mu2 = NEON_FALLOC(ctx, n);
    p->c = NEON_FALLOC(ctx, K);
    double *o = neon_calloc(ctx, (size_t)D, sizeof *o);
    neon_status st = (!p->mus || !p->mu2 || !p->c || !o) ? NEON_ERR_NOMEM : NEON_OK;
    if (st == NEON_OK) {
        for (int64_t k = 0; k < K; k++)
            for (int64_t i = 0; i < D; i++) o[i] += mu[k * D + i];
        for (int64_t i = 0; i < D; i++) o[i] /= (double)K;
        for (int64_t k = 0; k < K; k++) {
            double ck = 0;
            for (int64_t i = 0; i < D; i++) {
                const double d = (double)mu[k * D + i] - o[i];
                p->mus[k * D + i] = (float)d;
                p->mu2[k * D + i] = (float)(d * d + 2.0 * o[i] * d); /* m^2 - o^2 */
                ck += d * d + 2.0 * o[i] * d;
            }
            p->c[k] = (float)ck;
        }
    }
    neon_free(ctx, o);
    if (st != NEON_OK) {
        neon_free(ctx, p->mus);
        neon_free(ctx, p->mu2);
        neon_free(ctx, p->c);
        neon_free(ctx, p);
        return st;
    }
    *out = p;
    return NEON_OK;
}

neon_status neon_graph_add_kmeans_disc(neon_graph *g, const char *name, int input, int64_t K,
                                       const float *centroids, int cluster, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (K < 2 || !centroids)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "kmeans_disc '%s': need K >= 2 centroids, got %lld",
                         name ? name : "", (long long)K);
    if (cluster < -1 || cluster >= K)
        return neon_fail(g->ctx, NEON_ERR_INVALID,
                         "kmeans_disc '%s': cluster %d out of range (-1 = assigned, or 0..%lld)",
                         name ? name : "", cluster, (long long)K - 1);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_kmeans_disc_ops, 1, &input, &nd));
    const int64_t D = neon_in(g, nd, 0)->size;
    int64_t n;
    neon_status st = neon_mul_ok(K, D, &n)
                         ? NEON_OK
                         : neon_fail(g->ctx, NEON_ERR_SHAPE, "kmeans_disc '%s': %lld centroids of "
                                     "%lld features overflow", nd->name, (long long)K, (long long)D);
    if (st == NEON_OK) st = neon_check_finite(g, nd, "centroid", centroids, n, D);
    disc_params *p = NULL;
    if (st == NEON_OK) st = disc_params_make(g->ctx, K, D, centroids, &p);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    p->cluster = cluster;
    nd->params = p;
    nd->is_linear = 1;
    nd->lin.W = NULL;     /* weightless: the kind interprets the selectors */
    nd->lin.b = NULL;     /* the bias b_ck lives in the forward (and cancels in the rule) */
    nd->lin.out_ch = 1;   /* no bias to broadcast: one channel of K positions keeps the */
    nd->lin.out_sp = K;   /* generic rules' inner loops long (vectorized) */
    nd->lin.has_root = 1;
    return neon_graph_commit_node(g, nd, id);
}

neon_status neon_graph_kmeans_clusters(const neon_graph *g, int id, int *clusters)
{
    if (!g || !clusters) return NEON_ERR_INVALID;
    if (id < 0)
        for (int i = 0; i < g->n_nodes && id < 0; i++)
            if (g->nodes[i].ops == &neon_kmeans_disc_ops) id = i;
    if (id < 0 || id >= g->n_nodes || g->nodes[id].ops != &neon_kmeans_disc_ops)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "node %d is not a kmeans_disc node", id);
    if (g->N < 1)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "kmeans clusters: no forward pass yet");
    const neon_node *nd = &g->nodes[id];
    for (int64_t n = 0; n < g->N; n++) clusters[n] = (int)nd->aux[n];
    return NEON_OK;
}
