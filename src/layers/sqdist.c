/* Squared-distance layer for neuralized kernel models (one-class SVM,
 * RULES.md 6): per sample, h_j = ||x - u_j||^2 + off_j for M points u_j.
 *
 * Both passes are GEMMs on centred coordinates: with c the mean of the
 * u_j (per feature, computed in double), v = x - c and w_j = u_j - c,
 *     d_j = ||v||^2 + ||w_j||^2 - 2 v.w_j                       (forward)
 *     R_i = v_i^2 S - 2 v_i (W^T s)_i + (W2^T s)_i,  S = sum_j s_j  (relprop)
 * with s_j = R_j / stab(d_j) and W2 = W o W.  Centring removes the offset
 * the data shares with the u_j (pixels in [0, 255], a far outlier's common
 * shift stays in v only), so the expansion's cancellation is bounded by the
 * spread of the u_j, not by their magnitude.  Pairs (sample, j) where x is
 * close to u_j relative to the terms (d_j < ||v||^2 + ||w_j||^2 over
 * SQDIST_EXACT_DIV) are cancellation-prone: their d_j is recomputed
 * exactly per element (double accumulation) and their relevance is taken
 * out of the GEMM and added per element.  Consequences, tested:
 *   - x == u_j gives d_j == 0 exactly and no relevance from that pair;
 *   - a coordinate where x equals every u_j (so c_i == x_i exactly: the
 *     mean of equal floats, in double, is that float) gets R_i == 0 exactly;
 *   - elsewhere the GEMM path's relative error on d_j and on sum_i R_i is
 *     at most about 2 (D + 2) eps_float SQDIST_EXACT_DIV (worst case;
 *     typically far less), so sum_i R_i = sum_j R_j d_j / stab(d_j).
 * Relevance ignores the offsets: R_i = sum_j R_j (x_i - u_ji)^2 / stab(d_j). */
#include "layers.h"
#include "blas.h"
#include "neonlrp/neuralize.h"

#include <math.h>
#include <string.h>

#define SQDIST_EXACT_DIV 16.0

typedef struct sqdist_params {
    int64_t M, D;
    float *WW;    /* (M, 2D): row j = [w_j | w_j o w_j], w_j = u_j - c */
    float *c;     /* (D) centre */
    double *ww;   /* (M) ||w_j||^2 */
    float *off;   /* (M) offsets */
    int has_off;
} sqdist_params;

/* aux per sample: d (M) without offsets, then ||v||^2 (1) */
static size_t sqdist_aux_size(const neon_node *nd)
{
    const sqdist_params *p = nd->params;
    return (size_t)p->M + 1;
}

/* forward: V (N, D); relprop: V (N, D), s (N, M), AB (N, 2D), S (N) */
static size_t sqdist_workspace(const neon_node *nd, int64_t N)
{
    const sqdist_params *p = nd->params;
    return (size_t)N * (size_t)(3 * p->D + p->M + 1);
}

static neon_status sqdist_infer(neon_graph *g, neon_node *nd)
{
    const sqdist_params *p = nd->params;
    const neon_node *in = neon_in(g, nd, 0);
    if (in->size != p->D) {
        char lb[96], sb[96];
        return neon_fail(g->ctx, NEON_ERR_SHAPE,
                         "sqdist %s: points have %lld features, the input %s has %lld",
                         neon_node_label(nd, lb, sizeof lb), (long long)p->D,
                         neon_shape_str(in->ndim, in->shape, sb, sizeof sb), (long long)in->size);
    }
    nd->ndim = 1;
    nd->shape[0] = p->M;
    return NEON_OK;
}

/* v (D) = x - c; returns ||v||^2 accumulated in double */
static double centre(const sqdist_params *p, const float *x, float *v)
{
    double s = 0;
    for (int64_t i = 0; i < p->D; i++) {
        v[i] = x[i] - p->c[i];
        s += (double)v[i] * v[i];
    }
    return s;
}

static int cancellation_prone(double d, double vv, double ww)
{
    return d * SQDIST_EXACT_DIV < vv + ww;
}

/* ||v - w_j||^2 per element, differences exact in double */
static double exact_d(const float *v, const float *w, int64_t D)
{
    double s = 0;
    for (int64_t i = 0; i < D; i++) {
        const double t = (double)v[i] - (double)w[i];
        s += t * t;
    }
    return s;
}

/* out (N, M) = -2 V (N, D) . W^T (D, M) + vv + ww, clamped >= 0, + off */
static neon_status sqdist_forward(neon_graph *g, neon_node *nd, int64_t N)
{
    const sqdist_params *p = nd->params;
    const int64_t M = p->M, D = p->D;
    const float *x = neon_in(g, nd, 0)->out;
    float *V = g->ws;
    for (int64_t n = 0; n < N; n++)
        nd->aux[n * (M + 1) + M] = (float)centre(p, x + n * D, V + n * D);
    neon_sgemm(0, 1, N, M, D, -2.0f, V, D, p->WW, 2 * D, 0.0f, nd->out, M);
    for (int64_t n = 0; n < N; n++) {
        const double vv = nd->aux[n * (M + 1) + M];
        float *dn = nd->aux + n * (M + 1), *hn = nd->out + n * M;
        for (int64_t j = 0; j < M; j++) {
            double d = (double)hn[j] + vv + p->ww[j];
            if (cancellation_prone(d, vv, p->ww[j])) d = exact_d(V + n * D, p->WW + j * 2 * D, D);
            if (!(d > 0)) d = 0; /* rounding below 0 */
            dn[j] = (float)d;
            hn[j] = p->has_off ? dn[j] + p->off[j] : dn[j];
        }
    }
    return NEON_OK;
}

static neon_status sqdist_relprop(neon_graph *g, neon_node *nd, int64_t N)
{
    const sqdist_params *p = nd->params;
    const int64_t M = p->M, D = p->D;
    neon_node *in = neon_in(g, nd, 0);
    const double e = nd->rule.stabilizer > 0 ? nd->rule.stabilizer : NEON_DEFAULT_STABILIZER;
    float *V = g->ws, *s = V + N * D, *AB = s + N * M, *S = AB + N * 2 * D;
    for (int64_t n = 0; n < N; n++) centre(p, in->out + n * D, V + n * D);
    /* s (N, M): GEMM pairs only; S (N) their sum */
    for (int64_t n = 0; n < N; n++) {
        const float *dn = nd->aux + n * (M + 1), *Rn = nd->rel + n * M;
        const double vv = dn[M];
        double Sn = 0;
        for (int64_t j = 0; j < M; j++) {
            double sj = 0;
            if (Rn[j] != 0.0f && !cancellation_prone(dn[j], vv, p->ww[j]))
                sj = Rn[j] / ((double)dn[j] + e); /* d >= 0: stab(d) = d + e */
            s[n * M + j] = (float)sj;
            Sn += (float)sj;
        }
        S[n] = (float)Sn;
    }
    /* AB (N, 2D) = s (N, M) . WW (M, 2D): [W^T s | W2^T s] per sample */
    neon_sgemm(0, 0, N, 2 * D, M, 1.0f, s, M, p->WW, 2 * D, 0.0f, AB, 2 * D);
    for (int64_t n = 0; n < N; n++) {
        const float *v = V + n * D, *A = AB + n * 2 * D, *B = A + D;
        float *r = in->rel + n * D;
        for (int64_t i = 0; i < D; i++) r[i] += v[i] * v[i] * S[n] - 2.0f * v[i] * A[i] + B[i];
        /* cancellation-prone pairs, per element */
        const float *dn = nd->aux + n * (M + 1), *Rn = nd->rel + n * M;
        for (int64_t j = 0; j < M; j++) {
            if (Rn[j] == 0.0f || !cancellation_prone(dn[j], dn[M], p->ww[j])) continue;
            const double sj = Rn[j] / ((double)dn[j] + e);
            const float *w = p->WW + j * 2 * D;
            for (int64_t i = 0; i < D; i++) {
                const double t = (double)v[i] - (double)w[i];
                r[i] += (float)(sj * t * t);
            }
        }
    }
    return NEON_OK;
}

static void sqdist_destroy(neon_ctx *ctx, neon_node *nd)
{
    sqdist_params *p = nd->params;
    if (!p) return;
    neon_free(ctx, p->WW);
    neon_free(ctx, p->c);
    neon_free(ctx, p->ww);
    neon_free(ctx, p->off);
}

static void sqdist_describe(const neon_node *nd, char *buf, size_t n)
{
    const sqdist_params *p = nd->params;
    snprintf(buf, n, "||x - u_j||^2%s to %lld points of %lld features",
             p->has_off ? " + offset_j" : "", (long long)p->M, (long long)p->D);
}

static const neon_layer_ops sqdist_ops = {
    .name = "sqdist",
    .infer = sqdist_infer,
    .forward = sqdist_forward,
    .relprop = sqdist_relprop,
    .workspace_size = sqdist_workspace,
    .aux_size = sqdist_aux_size,
    .destroy = sqdist_destroy,
    .describe = sqdist_describe,
};

/* Centre, centred points and their norms from U (M, D). */
static neon_status sqdist_prepare(neon_ctx *ctx, sqdist_params *p, const float *U,
                                  const float *off, const char *name)
{
    const int64_t M = p->M, D = p->D;
    int64_t n2;
    if (!neon_mul_ok(M, 2 * D, &n2))
        return neon_fail(ctx, NEON_ERR_SHAPE, "sqdist '%s': %lld x %lld points overflow", name,
                         (long long)M, (long long)D);
    if (neon_find_nonfinite(U, M * D) >= 0 || (off && neon_find_nonfinite(off, M) >= 0))
        return neon_fail(ctx, NEON_ERR_NUMERIC, "sqdist '%s': non-finite point or offset", name);
    p->WW = NEON_FALLOC(ctx, n2);
    p->c = NEON_FALLOC(ctx, D);
    p->ww = neon_alloc_array(ctx, (size_t)M, sizeof(double));
    p->off = NEON_FALLOC(ctx, M);
    if (!p->WW || !p->c || !p->ww || !p->off) return NEON_ERR_NOMEM;
    for (int64_t i = 0; i < D; i++) {
        double s = 0;
        for (int64_t j = 0; j < M; j++) s += U[j * D + i];
        p->c[i] = (float)(s / (double)M);
    }
    for (int64_t j = 0; j < M; j++) {
        float *w = p->WW + j * 2 * D;
        double s = 0;
        for (int64_t i = 0; i < D; i++) {
            w[i] = U[j * D + i] - p->c[i];
            w[D + i] = w[i] * w[i];
            s += (double)w[i] * w[i];
        }
        p->ww[j] = s;
        p->off[j] = off ? off[j] : 0.0f;
    }
    p->has_off = off != NULL;
    return NEON_OK;
}

neon_status neon_graph_add_sqdist(neon_graph *g, const char *name, int input, int64_t M,
                                  const float *U, const float *offsets, int *id)
{
    if (!g) return NEON_ERR_INVALID;
    if (M < 1 || !U)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "sqdist '%s': need M >= 1 points",
                         name ? name : "");
    neon_node *nd;
    NEON_TRY(neon_graph_new_node(g, name, &sqdist_ops, 1, &input, &nd));
    sqdist_params *p = neon_calloc(g->ctx, 1, sizeof *p);
    if (!p) {
        neon_graph_discard_node(g, nd);
        return NEON_ERR_NOMEM;
    }
    nd->params = p;
    p->M = M;
    p->D = neon_in(g, nd, 0)->size;
    int64_t n_u;
    neon_status st = neon_mul_ok(M, p->D, &n_u) ? neon_check_finite(g, nd, "point", U, n_u, p->D)
                                                : NEON_OK; /* overflow: sqdist_prepare says so */
    if (st == NEON_OK) st = neon_check_finite(g, nd, "offset", offsets, M, 0);
    if (st == NEON_OK) st = sqdist_prepare(g->ctx, p, U, offsets, nd->name);
    if (st != NEON_OK) {
        neon_graph_discard_node(g, nd);
        return st;
    }
    return neon_graph_commit_node(g, nd, id);
}
