/* NEON for k-means (Kauffmann et al.; RULES.md 5): the model object, the
 * plain nearest-centroid assignment, the default stiffness and the graph
 * builder.  The neuralized model is an ordinary graph (kmeans_disc ->
 * minpool; a PCA front end is folded into the discriminant layer's
 * centroids, see neuralize.h): no propagation code lives here. */
#include "kmeans_impl.h"
#include "blas.h"

#include <math.h>
#include <string.h>

/* ---- model object ----------------------------------------------------------- */

neon_status neon_km_alloc(neon_ctx *ctx, int64_t K, int64_t D, int64_t P, neon_kmeans **out)
{
    *out = NULL;
    const int64_t Dc = P ? P : D;
    int64_t nmu, ncomp, ng;
    if (K < 2 || D < 1 || P < 0 || P > D || !neon_mul_ok(K, Dc, &nmu) || !neon_mul_ok(P, D, &ncomp) ||
        !neon_mul_ok(K, D, &ng))
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "k-means: need K >= 2 clusters, D >= 1 features and 0 <= P <= D PCA "
                         "components; got K %lld, D %lld, P %lld",
                         (long long)K, (long long)D, (long long)P);
    neon_kmeans *km = neon_calloc(ctx, 1, sizeof *km);
    if (!km) return NEON_ERR_NOMEM;
    km->ctx = ctx;
    km->K = K;
    km->D = D;
    km->P = P;
    km->Dc = Dc;
    km->inertia = -1.0;
    km->mu = NEON_FALLOC(ctx, nmu);
    km->gmu = NEON_FALLOC(ctx, K * D);
    if (km->mu && P) {
        km->comp = NEON_FALLOC(ctx, ncomp);
        km->mean = NEON_FALLOC(ctx, D);
        km->bias = NEON_FALLOC(ctx, P);
    }
    if (!km->mu || !km->gmu || (P && (!km->comp || !km->mean || !km->bias))) {
        neon_kmeans_destroy(km);
        return NEON_ERR_NOMEM;
    }
    *out = km;
    return NEON_OK;
}

neon_status neon_km_finish(neon_kmeans *km)
{
    const int64_t K = km->K, D = km->D, P = km->P;
    if (!P) {
        memcpy(km->gmu, km->mu, (size_t)(K * D) * sizeof(float));
        return NEON_OK;
    }
    /* orthonormal rows: the fold of the projection into the graph needs U U^T = I */
    double worst = 0;
    for (int64_t a = 0; a < P; a++)
        for (int64_t b = a; b < P; b++) {
            double s = 0;
            for (int64_t j = 0; j < D; j++) s += (double)km->comp[a * D + j] * km->comp[b * D + j];
            s -= a == b;
            worst = fabs(s) > worst ? fabs(s) : worst;
        }
    if (worst > 1e-3)
        return neon_fail(km->ctx, NEON_ERR_UNSUPPORTED,
                         "k-means: the PCA components must be orthonormal rows (|U U^T - I| = %g)",
                         worst);
    for (int64_t p = 0; p < P; p++) {
        double s = 0;
        for (int64_t j = 0; j < D; j++) s += (double)km->comp[p * D + j] * km->mean[j];
        km->bias[p] = (float)-s;
    }
    for (int64_t k = 0; k < K; k++) /* nu_k = mean + U^T mu_k */
        for (int64_t j = 0; j < D; j++) {
            double s = km->mean[j];
            for (int64_t p = 0; p < P; p++) s += (double)km->comp[p * D + j] * km->mu[k * P + p];
            km->gmu[k * D + j] = (float)s;
        }
    return NEON_OK;
}

neon_status neon_kmeans_create(neon_ctx *ctx, int64_t K, int64_t Dc, const float *centroids,
                               int64_t D, const float *components, const float *mean,
                               neon_kmeans **out)
{
    if (!ctx || !out || !centroids) return NEON_ERR_INVALID;
    *out = NULL;
    if ((components != NULL) != (mean != NULL))
        return neon_fail(ctx, NEON_ERR_INVALID, "k-means: PCA needs both components and mean");
    if (!components && D != Dc)
        return neon_fail(ctx, NEON_ERR_SHAPE,
                         "k-means: centroids have %lld features but D is %lld (no PCA)",
                         (long long)Dc, (long long)D);
    const int64_t P = components ? Dc : 0;
    neon_kmeans *km;
    NEON_TRY(neon_km_alloc(ctx, K, D, P, &km));
    memcpy(km->mu, centroids, (size_t)(K * Dc) * sizeof(float));
    if (P) {
        memcpy(km->comp, components, (size_t)(P * D) * sizeof(float));
        memcpy(km->mean, mean, (size_t)D * sizeof(float));
    }
    if (neon_find_nonfinite(km->mu, K * Dc) >= 0 ||
        (P && (neon_find_nonfinite(km->comp, P * D) >= 0 || neon_find_nonfinite(km->mean, D) >= 0))) {
        neon_kmeans_destroy(km);
        return neon_fail(ctx, NEON_ERR_NUMERIC, "k-means: non-finite centroid or PCA value");
    }
    neon_status st = neon_km_finish(km);
    if (st != NEON_OK) {
        neon_kmeans_destroy(km);
        return st;
    }
    *out = km;
    return NEON_OK;
}

void neon_kmeans_destroy(neon_kmeans *km)
{
    if (!km) return;
    neon_ctx *ctx = km->ctx;
    neon_free(ctx, km->mu);
    neon_free(ctx, km->comp);
    neon_free(ctx, km->mean);
    neon_free(ctx, km->bias);
    neon_free(ctx, km->gmu);
    neon_free(ctx, km);
}

int64_t neon_kmeans_k(const neon_kmeans *km) { return km ? km->K : 0; }
int64_t neon_kmeans_dim(const neon_kmeans *km) { return km ? km->D : 0; }
int64_t neon_kmeans_pca_dim(const neon_kmeans *km) { return km ? km->P : 0; }
const float *neon_kmeans_centroids(const neon_kmeans *km) { return km ? km->mu : NULL; }
const float *neon_kmeans_input_centroids(const neon_kmeans *km) { return km ? km->gmu : NULL; }
float neon_kmeans_beta(const neon_kmeans *km) { return km ? km->beta : 0.0f; }
double neon_kmeans_inertia(const neon_kmeans *km) { return km ? km->inertia : -1.0; }
int neon_kmeans_iterations(const neon_kmeans *km) { return km ? km->n_iter : 0; }

neon_status neon_kmeans_set_beta(neon_kmeans *km, float beta)
{
    if (!km) return NEON_ERR_INVALID;
    if (!(beta > 0) || !isfinite(beta))
        return neon_fail(km->ctx, NEON_ERR_INVALID, "k-means: beta must be > 0 and finite, got %g",
                         (double)beta);
    km->beta = beta;
    return NEON_OK;
}

/* ---- nearest-centroid scan ------------------------------------------------------ */

void neon_km_geo_update(const float *mu, km_geo *geo, double *o)
{
    const int64_t K = geo->K, Dc = geo->Dc;
    for (int64_t i = 0; i < Dc; i++) o[i] = 0;
    for (int64_t k = 0; k < K; k++)
        for (int64_t i = 0; i < Dc; i++) o[i] += mu[k * Dc + i];
    for (int64_t i = 0; i < Dc; i++) o[i] /= (double)K;
    for (int64_t k = 0; k < K; k++) {
        double ck = 0;
        for (int64_t i = 0; i < Dc; i++) {
            const double d = (double)mu[k * Dc + i] - o[i];
            geo->mus[k * Dc + i] = (float)d;
            ck += d * d + 2.0 * o[i] * d;
        }
        geo->c[k] = (float)ck;
    }
}

neon_status neon_km_geo_make(neon_ctx *ctx, const float *mu, int64_t K, int64_t Dc, km_geo *geo)
{
    geo->K = K;
    geo->Dc = Dc;
    geo->mus = NEON_FALLOC(ctx, K * Dc);
    geo->c = NEON_FALLOC(ctx, K);
    double *o = neon_alloc_array(ctx, (size_t)Dc, sizeof *o);
    if (!geo->mus || !geo->c || !o) {
        neon_free(ctx, o);
        neon_km_geo_free(ctx, geo);
        return NEON_ERR_NOMEM;
    }
    neon_km_geo_update(mu, geo, o);
    neon_free(ctx, o);
    return NEON_OK;
}

void neon_km_geo_free(neon_ctx *ctx, km_geo *geo)
{
    neon_free(ctx, geo->mus);
    neon_free(ctx, geo->c);
    geo->mus = geo->c = NULL;
}

/* e (n, K) = c - 2 z mu'^T (the kmeans_disc forward's GEMM), then per row
 * the lowest e and the gap to the second lowest. */
void neon_km_scan(const km_geo *geo, const float *z, int64_t n, float *e, int *lab, float *best,
                  float *gap)
{
    const int64_t K = geo->K, Dc = geo->Dc;
    neon_sgemm(0, 1, n, K, Dc, -2.0f, z, Dc, geo->mus, Dc, 0.0f, e, K);
    for (int64_t i = 0; i < n; i++) {
        float *ei = e + i * K;
        int c = 0;
        for (int64_t k = 0; k < K; k++) {
            ei[k] += geo->c[k];
            if (ei[k] < ei[c]) c = (int)k;
        }
        float second = INFINITY;
        for (int64_t k = 0; k < K; k++) {
            const float h = ei[k] - ei[c]; /* h_ck as the graph computes it */
            if (k != c && h < second) second = h;
        }
        if (lab) lab[i] = c;
        if (best) best[i] = ei[c];
        if (gap) gap[i] = second;
    }
}

void neon_km_project(const neon_kmeans *km, const float *x, int64_t n, float *z)
{
    neon_sgemm(0, 1, n, km->P, km->D, 1.0f, x, km->D, km->comp, km->D, 0.0f, z, km->P);
    for (int64_t i = 0; i < n; i++)
        for (int64_t p = 0; p < km->P; p++) z[i * km->P + p] += km->bias[p];
}

/* Checks X (N, ...) against the model: numel per sample D, N >= 1, finite. */
static neon_status check_data(neon_ctx *ctx, const neon_kmeans *km, const neon_tensor *X,
                              int64_t *N)
{
    if (!X || !X->data || X->ndim < 1 || X->ndim > NEON_MAX_DIMS || X->shape[0] < 1)
        return neon_fail(ctx, NEON_ERR_SHAPE, "k-means: data must be (N, ...) with N >= 1");
    const int64_t numel = neon_tensor_numel(X);
    char sb[128];
    if (numel < 0 || numel / X->shape[0] != km->D || numel % X->shape[0])
        return neon_fail(ctx, NEON_ERR_SHAPE,
                         "k-means: the model has %lld features per sample, the data %s has %lld",
                         (long long)km->D, neon_shape_str(X->ndim, X->shape, sb, sizeof sb),
                         (long long)(numel / X->shape[0]));
    const int64_t bad = neon_find_nonfinite(X->data, numel);
    if (bad >= 0)
        return neon_fail(ctx, NEON_ERR_NUMERIC,
                         "k-means: non-finite value %g in the data at sample %lld, feature %lld",
                         (double)X->data[bad], (long long)(bad / km->D), (long long)(bad % km->D));
    *N = X->shape[0];
    return NEON_OK;
}

/* Streams X through the scan (input space, the graph's centroids) in
 * chunks; lab/best/gap index the whole batch. */
static neon_status scan_all(neon_ctx *ctx, const neon_kmeans *km, const neon_tensor *X, int *lab,
                            float *best, float *gap)
{
    int64_t N;
    NEON_TRY(check_data(ctx, km, X, &N));
    const int64_t ch = N < NEON_KM_CHUNK ? N : NEON_KM_CHUNK;
    km_geo geo;
    NEON_TRY(neon_km_geo_make(ctx, km->gmu, km->K, km->D, &geo));
    float *e = NEON_FALLOC(ctx, ch * km->K);
    if (!e) {
        neon_km_geo_free(ctx, &geo);
        return NEON_ERR_NOMEM;
    }
    for (int64_t s = 0; s < N; s += ch) {
        const int64_t n = N - s < ch ? N - s : ch;
        neon_km_scan(&geo, X->data + s * km->D, n, e, lab ? lab + s : NULL, best ? best + s : NULL,
                     gap ? gap + s : NULL);
    }
    neon_free(ctx, e);
    neon_km_geo_free(ctx, &geo);
    return NEON_OK;
}

neon_status neon_kmeans_assign(neon_ctx *ctx, const neon_kmeans *km, const neon_tensor *X,
                               int *labels, float *dist)
{
    if (!ctx || !km || !labels) return NEON_ERR_INVALID;
    NEON_TRY(scan_all(ctx, km, X, labels, dist, NULL));
    if (dist) { /* ||z - mu_c||^2 exactly (in double), not from the expansion */
        const int64_t N = X->shape[0], Dc = km->Dc;
        float *z = km->P ? NEON_FALLOC(ctx, km->P) : NULL;
        if (km->P && !z) return NEON_ERR_NOMEM;
        for (int64_t i = 0; i < N; i++) {
            const float *zi = X->data + i * km->D;
            if (km->P) {
                neon_km_project(km, zi, 1, z);
                zi = z;
            }
            const float *m = km->mu + (int64_t)labels[i] * Dc;
            double d = 0;
            for (int64_t j = 0; j < Dc; j++) d += ((double)zi[j] - m[j]) * ((double)zi[j] - m[j]);
            dist[i] = (float)d;
        }
        neon_free(ctx, z);
    }
    return NEON_OK;
}

neon_status neon_kmeans_default_beta(neon_ctx *ctx, const neon_kmeans *km, const neon_tensor *X,
                                     float *beta)
{
    if (!ctx || !km || !beta) return NEON_ERR_INVALID;
    int64_t N;
    NEON_TRY(check_data(ctx, km, X, &N));
    float *gap = NEON_FALLOC(ctx, N);
    if (!gap) return NEON_ERR_NOMEM;
    neon_status st = scan_all(ctx, km, X, NULL, NULL, gap);
    double s = 0;
    for (int64_t i = 0; st == NEON_OK && i < N; i++) s += gap[i];
    neon_free(ctx, gap);
    NEON_TRY(st);
    const double mean = s / (double)N, b = 1.0 / mean;
    if (!(mean > 0) || !isfinite(b) || b > 3e38)
        return neon_fail(ctx, NEON_ERR_NUMERIC,
                         "k-means: mean f_c over the %lld samples is %g: no default beta (every "
                         "point lies on a cluster boundary); pass one",
                         (long long)N, mean);
    *beta = (float)b;
    return NEON_OK;
}

/* ---- the neuralized graph ------------------------------------------------------- */

neon_status neon_kmeans_graph(neon_ctx *ctx, const neon_kmeans *km, float beta, int cluster,
                              int in_ndim, const int64_t *in_shape, neon_graph **out)
{
    if (!ctx || !km || !out) return NEON_ERR_INVALID;
    *out = NULL;
    if (!(beta > 0)) beta = km->beta;
    if (!(beta > 0) || !isfinite(beta))
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "k-means: no beta (the model stores none): pass one, e.g. from "
                         "neon_kmeans_default_beta on the data");
    if (cluster < -1 || cluster >= km->K)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "k-means: cluster %d out of range (-1 = assigned, or 0..%lld)", cluster,
                         (long long)km->K - 1);
    int64_t dflt[1] = {km->D};
    if (in_ndim == 0) {
        in_ndim = 1;
        in_shape = dflt;
    }
    int64_t numel = 1;
    for (int i = 0; in_shape && i < in_ndim && i < NEON_MAX_DIMS; i++)
        if (!neon_mul_ok(numel, in_shape[i], &numel)) numel = -1;
    if (in_ndim < 1 || in_ndim >= NEON_MAX_DIMS || !in_shape || numel != km->D)
        return neon_fail(ctx, NEON_ERR_SHAPE,
                         "k-means: the input shape must hold the model's %lld features",
                         (long long)km->D);
    neon_graph *g;
    NEON_TRY(neon_graph_create(ctx, &g));
    int x, d, id;
    neon_status st = neon_graph_add_input(g, "x", in_ndim, in_shape, &x);
    if (st == NEON_OK) st = neon_graph_add_kmeans_disc(g, "disc", x, km->K, km->gmu, cluster, &d);
    if (st == NEON_OK) st = neon_graph_add_minpool(g, "pool", d, 1, km->K, beta, 0, 0, &id);
    if (st == NEON_OK) st = neon_graph_finalize(g);
    if (st != NEON_OK) {
        neon_graph_destroy(g);
        return st;
    }
    *out = g;
    return NEON_OK;
}
