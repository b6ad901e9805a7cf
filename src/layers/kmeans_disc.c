/* K-means discriminant layer (NEON, RULES.md 5): a weightless linear kind
 *
 *     h_ck(x) = w_ck . x + b_ck,  w_ck = 2 (mu_c - mu_k),  b_ck = ||mu_k||^2 - ||mu_c||^2,
 *
 * i.e. ||x - mu_k||^2 - ||x - mu_c||^2, laid out (K, K) per sample (row c =
 * the cluster explained, column k = the competitor; the diagonal is 0).
 * Root points m_ck = (mu_c + mu_k) / 2 (w_ck . m_ck = -b_ck), so the
 * engine's z-rule R = a o (W^T s) - (W o A0)^T s is the midpoint rule.
 *
 * Everything is O(N K D + N K^2): all h_ck come from the single GEMM
 * G = x mu^T (N, K), never from K^2 separate dot products, and the
 * transposed ops reduce s (N, K, K) to its row sums minus column sums
 * r (N, K) before one GEMM with mu (or mu o mu).
 *
 * Numerical care: the GEMM uses the centroids shifted by their mean o
 * (mu' = mu - o), and h_ck = e_k - e_c with e_k = c_k - 2 x . mu'_k,
 * c_k = ||mu'_k||^2 + 2 o . mu'_k (double).  This is exactly h_ck in real
 * arithmetic, never forms ||x||^2, and its round-off scales with the
 * spread of the centroids instead of their distance from the origin. */
#include "layers.h"
#include "blas.h"
#include "neonlrp/neuralize.h"

#include <string.h>

typedef struct disc_params {
    int64_t K, D;
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
    nd->ndim = 2;
    nd->shape[0] = p->K;
    nd->shape[1] = p->K;
    return NEON_OK;
}

/* floats of scratch: G (N, K) */
static size_t disc_workspace(const neon_node *nd, int64_t N)
{
    const disc_params *p = nd->params;
    return (size_t)(N * p->K);
}

/* out (N, K, K): h_ck = e_k - e_c, e (N, K) = c - 2 x mu'^T */
static neon_status disc_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const disc_params *p = nd->params;
    const int64_t K = p->K, D = p->D;
    float *e = g->ws; /* (N, K) */
    neon_sgemm(0, 1, N, K, D, -2.0f, neon_in(g, nd, 0)->out, D, p->mus, D, 0.0f, e, K);
    for (int64_t n = 0; n < N; n++) {
        float *en = e + n * K, *h = nd->out + n * K * K;
        for (int64_t k = 0; k < K; k++) en[k] += p->c[k];
        for (int64_t c = 0; c < K; c++)
            for (int64_t k = 0; k < K; k++) h[c * K + k] = en[k] - en[c];
    }
    return NEON_OK;
}

/* z (N, K, K) = rho(W) x (no bias).  ORIG: 2 (G_c - G_k), G = x mu'^T
 * (= x mu^T up to a per-sample constant that cancels).  ROOT: Q_c - Q_k,
 * Q = x (mu o mu - o o o)^T.  Other selectors do not apply to a kind with root
 * points (the generic rules refuse them first): z = 0. */
static void disc_apply(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                       int64_t N, float *ws)
{
    (void)g;
    const disc_params *p = nd->params;
    const int64_t K = p->K, D = p->D;
    if (w != NEON_W_ORIG && w != NEON_W_ROOT) {
        memset(z, 0, (size_t)(N * K * K) * sizeof(float));
        return;
    }
    const float scale = w == NEON_W_ORIG ? 2.0f : 1.0f;
    neon_sgemm(0, 1, N, K, D, scale, x, D, w == NEON_W_ORIG ? p->mus : p->mu2, D, 0.0f, ws, K);
    for (int64_t n = 0; n < N; n++) {
        const float *gn = ws + n * K;
        float *zn = z + n * K * K;
        for (int64_t c = 0; c < K; c++)
            for (int64_t k = 0; k < K; k++) zn[c * K + k] = gn[c] - gn[k];
    }
}

/* c (N, D) (+)= rho(W)^T s, s (N, K, K):
 *   sum_{c,k} s_ck (v_c - v_k) = sum_j (rowsum_j(s) - colsum_j(s)) v_j
 * with v = 2 mu' (ORIG; equal to 2 mu since the r_j sum to 0) or
 * mu o mu - o o o (ROOT; likewise): r (N, K) then one (N, K) x (K, D) GEMM. */
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
        const float *sn = s + n * K * K;
        float *rn = r + n * K;
        for (int64_t j = 0; j < K; j++) rn[j] = 0.0f;
        for (int64_t a = 0; a < K; a++) {
            const float *row = sn + a * K;
            float acc[8] = {0}; /* 8 lanes: the row sum vectorizes */
            int64_t b = 0;
            for (; b + 8 <= K; b += 8)
                for (int l = 0; l < 8; l++) {
                    acc[l] += row[b + l];
                    rn[b + l] -= row[b + l];
                }
            float rs = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for (; b < K; b++) {
                rs += row[b];
                rn[b] -= row[b];
            }
            rn[a] += rs;
        }
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
    snprintf(buf, n, "h_ck = ||x-mu_k||^2 - ||x-mu_c||^2, %lld centroids x %lld, midpoint roots",
             (long long)p->K, (long long)p->D);
}

const neon_layer_ops neon_kmeans_disc_ops = {
    .name = "kmeans_disc",
    .infer = disc_infer,
    .forward = disc_forward,
    .apply = disc_apply,
    .apply_t = disc_apply_t,
    .workspace_size = disc_workspace,
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
                                       const float *centroids, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (K < 2 || !centroids)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "kmeans_disc '%s': need K >= 2 centroids, got %lld",
                         name ? name : "", (long long)K);
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &neon_kmeans_disc_ops, 1, &input, &nd));
    const int64_t D = neon_in(g, nd, 0)->size;
    int64_t n, kk;
    neon_status st = neon_mul_ok(K, K, &kk) && neon_mul_ok(K, D, &n)
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
    nd->params = p;
    nd->is_linear = 1;
    nd->lin.W = NULL;     /* weightless: the kind interprets the selectors */
    nd->lin.b = NULL;     /* the bias b_ck lives in the forward (and cancels in the rule) */
    nd->lin.out_ch = 1;   /* no bias to broadcast: one channel of K*K positions keeps the */
    nd->lin.out_sp = K * K; /* generic rules' inner loops long (vectorized) */
    nd->lin.has_root = 1;
    return neon_graph_commit_node(g, nd, id);
}
