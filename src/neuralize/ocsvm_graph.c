/* One-class SVM -> graph (NEON, RULES.md 6), the outlier threshold, and
 * decisions that always agree with libsvm.
 *
 * With abar_j = a_j / sum a, d_j = ||x - u_j||^2 and h_j = d_j + off_j,
 * off_j = -log(abar_j) / gamma >= 0:
 *     o(x) = -(1/gamma) log sum_j abar_j exp(-gamma d_j) = softmin_gamma(h)
 *     dec(x) = sum_j a_j exp(-gamma d_j) - rho = sum a exp(-gamma o(x)) - rho
 * so dec < 0  <=>  o(x) > t = -(1/gamma) log(rho / sum a)  (rho > 0).
 * The graph: input -> sqdist (points u_j, offsets off_j) -> soft minpool
 * (beta = gamma, log-sum-exp shifted: far outliers give a finite score
 * >= min_j d_j, never exp underflow). */
#include "ocsvm_impl.h"

#include <float.h>
#include <math.h>
#include <string.h>

neon_status neon_ocsvm_derive(neon_ocsvm *m, const char *what)
{
    neon_ctx *ctx = m->ctx;
    const int64_t M = m->M, dim = m->dim;
    if (!(m->gamma > 0) || !isfinite(m->gamma) || !isfinite(m->rho))
        return neon_fail(ctx, NEON_ERR_FORMAT, "%s: gamma %g / rho %g: need gamma > 0 and a "
                         "finite rho", what, m->gamma, m->rho);
    double sum = 0;
    for (int64_t j = 0; j < M; j++) {
        if (!(m->coef[j] > 0) || !isfinite(m->coef[j]))
            return neon_fail(ctx, NEON_ERR_FORMAT, "%s: support vector %lld has coefficient %g: "
                             "one-class coefficients must be > 0", what, (long long)j, m->coef[j]);
        sum += m->coef[j];
    }
    m->coef_sum = sum;
    m->threshold = m->rho > 0 ? -log(m->rho / sum) / m->gamma : INFINITY;
    m->max_off = 0;
    for (int64_t j = 0; j < M; j++) {
        const double off = -log(m->coef[j] / sum) / m->gamma;
        if (off > m->max_off) m->max_off = off;
    }
    neon_free(ctx, m->centre);
    m->centre = neon_calloc(ctx, (size_t)(dim ? dim : 1), sizeof(double));
    if (!m->centre) return NEON_ERR_NOMEM;
    for (int64_t k = 0; k < m->sv_start[M]; k++) m->centre[m->sv_idx[k]] += m->sv_val[k];
    double cc = 0;
    for (int64_t i = 0; i < dim; i++) {
        m->centre[i] /= (double)M;
        cc += m->centre[i] * m->centre[i];
    }
    m->max_ww = 0;
    for (int64_t j = 0; j < M; j++) {
        double ww = cc;
        for (int64_t k = m->sv_start[j]; k < m->sv_start[j + 1]; k++) {
            const double c = m->centre[m->sv_idx[k]], t = m->sv_val[k] - c;
            ww += t * t - c * c;
        }
        if (ww > m->max_ww) m->max_ww = ww;
    }
    return NEON_OK;
}

int64_t neon_ocsvm_num_sv(const neon_ocsvm *m) { return m ? m->M : 0; }
int64_t neon_ocsvm_dim(const neon_ocsvm *m) { return m ? m->dim : 0; }
double neon_ocsvm_gamma(const neon_ocsvm *m) { return m ? m->gamma : 0; }
double neon_ocsvm_rho(const neon_ocsvm *m) { return m ? m->rho : 0; }
double neon_ocsvm_coef_sum(const neon_ocsvm *m) { return m ? m->coef_sum : 0; }
double neon_ocsvm_threshold(const neon_ocsvm *m) { return m ? m->threshold : 0; }

/* D = numel of the per-sample shape; checks it covers the SV indices. */
static neon_status feature_count(neon_ctx *ctx, const neon_ocsvm *m, int ndim,
                                 const int64_t *shape, int64_t *D)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0 || !neon_mul_ok(n, shape[i], &n))
            return neon_fail(ctx, NEON_ERR_SHAPE, "ocsvm: bad input shape");
    int64_t maxi = 0;
    for (int64_t k = 0; k < m->sv_start[m->M]; k++)
        if (m->sv_idx[k] + 1 > maxi) maxi = m->sv_idx[k] + 1;
    if (n < maxi || n < m->dim) {
        char sb[96];
        return neon_fail(ctx, NEON_ERR_SHAPE,
                         "ocsvm: the data has %lld features per sample (shape %s), the model "
                         "needs %lld (its support vectors use feature %lld)",
                         (long long)n, neon_shape_str(ndim, shape, sb, sizeof sb),
                         (long long)(m->dim > maxi ? m->dim : maxi), (long long)maxi);
    }
    *D = n;
    return NEON_OK;
}

neon_status neon_ocsvm_graph(neon_ctx *ctx, const neon_ocsvm *m, int in_ndim,
                             const int64_t *in_shape, neon_graph **out)
{
    if (!ctx || !m || !out || (in_ndim > 0 && !in_shape) || in_ndim < 0 ||
        in_ndim >= NEON_MAX_DIMS)
        return NEON_ERR_INVALID;
    *out = NULL;
    int64_t dflt[1] = {m->dim}, D;
    if (in_ndim == 0) {
        in_ndim = 1;
        in_shape = dflt;
    }
    NEON_TRY(feature_count(ctx, m, in_ndim, in_shape, &D));
    const int64_t M = m->M;
    int64_t n;
    if (!neon_mul_ok(M, D, &n))
        return neon_fail(ctx, NEON_ERR_SHAPE, "ocsvm: %lld x %lld support vectors overflow",
                         (long long)M, (long long)D);
    float *U = neon_calloc(ctx, (size_t)n, sizeof(float)), *off = NEON_FALLOC(ctx, M);
    neon_graph *g = NULL;
    neon_status st = (!U || !off) ? NEON_ERR_NOMEM : NEON_OK;
    if (st == NEON_OK) {
        for (int64_t j = 0; j < M; j++) {
            for (int64_t k = m->sv_start[j]; k < m->sv_start[j + 1]; k++)
                U[j * D + m->sv_idx[k]] = m->sv_val[k];
            off[j] = (float)(-log(m->coef[j] / m->coef_sum) / m->gamma);
        }
        int xi = 0, di = 0, pi = 0;
        if (st == NEON_OK) st = neon_graph_create(ctx, &g);
        if (st == NEON_OK) st = neon_graph_add_input(g, "x", in_ndim, in_shape, &xi);
        if (st == NEON_OK) st = neon_graph_add_sqdist(g, "dist", xi, M, U, off, &di);
        if (st == NEON_OK)
            st = neon_graph_add_minpool(g, "pool", di, 1, M, (float)m->gamma, 1, 0, &pi);
        if (st == NEON_OK) st = neon_graph_set_output(g, pi);
    }
    neon_free(ctx, U);
    neon_free(ctx, off);
    if (st != NEON_OK) {
        neon_graph_destroy(g);
        return st;
    }
    *out = g;
    return NEON_OK;
}

/* N, D of X; checks the feature count and finiteness. */
static neon_status check_data(neon_ctx *ctx, const neon_ocsvm *m, const neon_tensor *X,
                              int64_t *N, int64_t *D)
{
    if (!X || !X->data || X->ndim < 2 || X->shape[0] < 1)
        return neon_fail(ctx, NEON_ERR_SHAPE, "ocsvm: data must be (N, features...) with N >= 1");
    *N = X->shape[0];
    NEON_TRY(feature_count(ctx, m, X->ndim - 1, X->shape + 1, D));
    int64_t bad = neon_find_nonfinite(X->data, *N * *D);
    if (bad >= 0)
        return neon_fail(ctx, NEON_ERR_NUMERIC, "ocsvm: non-finite value %g at sample %lld, "
                         "feature %lld", (double)X->data[bad], (long long)(bad / *D),
                         (long long)(bad % *D));
    return NEON_OK;
}

neon_status neon_ocsvm_decision(neon_ctx *ctx, const neon_ocsvm *m, const neon_tensor *X,
                                double *dec)
{
    if (!ctx || !m || !dec) return NEON_ERR_INVALID;
    int64_t N, D;
    NEON_TRY(check_data(ctx, m, X, &N, &D));
    void *nodes = neon_ocsvm_nodes_alloc(ctx, D);
    if (!nodes) return NEON_ERR_NOMEM;
    for (int64_t n = 0; n < N; n++) dec[n] = neon_ocsvm_decision_row(m, X->data + n * D, D, nodes);
    neon_free(ctx, nodes);
    return NEON_OK;
}

/* Bound on |o_float - o| for the graph's score of x (see sqdist.c): the
 * distance GEMM (D products in float, worst case) on centred coordinates,
 * float rounding of h and o, and beta = (float)gamma in the pool. */
static double score_tolerance(const neon_ocsvm *m, const float *x, int64_t D, double o)
{
    double vv = 0;
    for (int64_t i = 0; i < D; i++) {
        const double t = x[i] - (i < m->dim ? m->centre[i] : 0.0);
        vv += t * t;
    }
    const double e = FLT_EPSILON;
    return (double)(D + 16) * e * (vv + m->max_ww) +
           4 * e * (fabs(o) + m->max_off + (1 + log((double)m->M)) / m->gamma);
}

neon_status neon_ocsvm_outliers(neon_ctx *ctx, const neon_ocsvm *m, const neon_tensor *X,
                                const float *scores, int *outlier, int64_t *n_checked)
{
    if (!ctx || !m || !scores || !outlier) return NEON_ERR_INVALID;
    int64_t N, D, checked = 0;
    NEON_TRY(check_data(ctx, m, X, &N, &D));
    void *nodes = NULL;
    for (int64_t n = 0; n < N; n++) {
        const double o = scores[n], t = m->threshold;
        if (!isfinite(o))
            return neon_fail(ctx, NEON_ERR_NUMERIC, "ocsvm: score of sample %lld is %g",
                             (long long)n, o);
        if (isinf(t) || fabs(o - t) > score_tolerance(m, X->data + n * D, D, o)) {
            outlier[n] = o > t;
            continue;
        }
        if (!nodes && !(nodes = neon_ocsvm_nodes_alloc(ctx, D))) return NEON_ERR_NOMEM;
        outlier[n] = neon_ocsvm_decision_row(m, X->data + n * D, D, nodes) < 0;
        checked++;
    }
    neon_free(ctx, nodes);
    if (n_checked) *n_checked = checked;
    return NEON_OK;
}
