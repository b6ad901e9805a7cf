/* Fitting k-means: optional PCA front end (eigenvectors of the covariance
 * by LAPACKE_ssyevd), greedy k-means++ seeding, Lloyd iterations with all
 * distances from GEMMs, n_init restarts keeping the lowest inertia.
 *
 * Shapes: Z (N, Dc) the data in the clustering space (X itself, or its
 * projection on P components); mu (K, Dc). */
#include "kmeans_impl.h"
#include "blas.h"

#include <lapacke.h>
#include <math.h>
#include <string.h>

/* splitmix64: seeded, platform independent (never rand()). */
typedef struct { uint64_t s; } km_rng;
static uint64_t rng_next(km_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rng_unif(km_rng *r) { return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0); }

/* ---- PCA ------------------------------------------------------------------------ */

/* mean (D); comp (P, D): leading eigenvectors of C = Xc^T Xc / (N-1), largest
 * eigenvalue first, each with its largest-magnitude entry positive. */
static neon_status pca_fit(neon_ctx *ctx, const float *X, int64_t N, int64_t D, int64_t P,
                           float *mean, float *comp)
{
    const int64_t ch = N < NEON_KM_CHUNK ? N : NEON_KM_CHUNK;
    double *m = neon_calloc(ctx, (size_t)D, sizeof *m);
    float *C = NEON_FALLOC(ctx, D * D), *w = NEON_FALLOC(ctx, D), *xc = NEON_FALLOC(ctx, ch * D);
    neon_status st = (!m || !C || !w || !xc) ? NEON_ERR_NOMEM : NEON_OK;
    for (int64_t i = 0; st == NEON_OK && i < N; i++)
        for (int64_t j = 0; j < D; j++) m[j] += X[i * D + j];
    for (int64_t j = 0; st == NEON_OK && j < D; j++) mean[j] = (float)(m[j] / (double)N);
    /* C (D, D) = sum over chunks of Xc^T Xc, Xc = X - mean */
    for (int64_t s = 0; st == NEON_OK && s < N; s += ch) {
        const int64_t n = N - s < ch ? N - s : ch;
        for (int64_t i = 0; i < n; i++)
            for (int64_t j = 0; j < D; j++) xc[i * D + j] = X[(s + i) * D + j] - mean[j];
        neon_sgemm(1, 0, D, D, n, 1.0f / (float)(N - 1), xc, D, xc, D, s ? 1.0f : 0.0f, C, D);
    }
    if (st == NEON_OK) {
        const lapack_int info = LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)D, C,
                                               (lapack_int)D, w);
        if (info != 0)
            st = neon_fail(ctx, info < 0 ? NEON_ERR_INVALID : NEON_ERR_NUMERIC,
                           "PCA: LAPACKE_ssyevd failed (info %d)", (int)info);
    }
    if (st == NEON_OK) {
        double tot = 0, kept = 0;
        for (int64_t j = 0; j < D; j++) tot += w[j] > 0 ? w[j] : 0;
        for (int64_t p = 0; p < P; p++) { /* eigenvalues ascend: column D-1-p */
            const int64_t col = D - 1 - p;
            kept += w[col] > 0 ? w[col] : 0;
            int64_t jm = 0;
            for (int64_t j = 1; j < D; j++)
                if (fabsf(C[j * D + col]) > fabsf(C[jm * D + col])) jm = j;
            const float sg = C[jm * D + col] < 0 ? -1.0f : 1.0f;
            for (int64_t j = 0; j < D; j++) comp[p * D + j] = sg * C[j * D + col];
        }
        neon_log(ctx, NEON_LOG_INFO, "PCA: %lld of %lld components keep %.2f%% of the variance",
                 (long long)P, (long long)D, tot > 0 ? 100.0 * kept / tot : 100.0);
    }
    neon_free(ctx, m);
    neon_free(ctx, C);
    neon_free(ctx, w);
    neon_free(ctx, xc);
    return st;
}

/* ---- k-means++ -------------------------------------------------------------------- */

typedef struct km_work {
    const float *Z;
    int64_t N, Dc, K;
    double *zn;    /* (N) ||z||^2 */
    float *e;      /* (chunk, max(K, trials)) */
    float *cand;   /* (trials, Dc) */
    float *d2;     /* (N, trials) candidate distances */
    double *close; /* (N) distance to the closest chosen centre */
    double *cum;   /* (N) cumulative sums for sampling */
    int *lab;      /* (N) */
    float *best;   /* (N) */
    double *sum;   /* (K, Dc) */
    int64_t *cnt;  /* (K) */
    double *o;     /* (Dc) */
    km_geo geo;
} km_work;

/* d2 (N, T) = ||z||^2 - 2 z c^T + ||c||^2 (clamped at 0) for T candidate rows */
static void cand_dist(km_work *w, int64_t T)
{
    neon_sgemm(0, 1, w->N, T, w->Dc, -2.0f, w->Z, w->Dc, w->cand, w->Dc, 0.0f, w->d2, T);
    for (int64_t t = 0; t < T; t++) {
        double cn = 0;
        for (int64_t j = 0; j < w->Dc; j++) cn += (double)w->cand[t * w->Dc + j] * w->cand[t * w->Dc + j];
        for (int64_t i = 0; i < w->N; i++) {
            const double d = w->zn[i] + cn + w->d2[i * T + t];
            w->d2[i * T + t] = d > 0 ? (float)d : 0.0f;
        }
    }
}

/* index i with cum[i-1] <= u < cum[i] */
static int64_t sample_cum(const double *cum, int64_t N, double u)
{
    int64_t lo = 0, hi = N - 1;
    while (lo < hi) {
        const int64_t mid = (lo + hi) / 2;
        if (cum[mid] > u) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}

/* Greedy k-means++ (as scikit-learn): each new centre is the best of
 * 2 + floor(ln K) candidates drawn with probability ~ D^2. */
static void seed_pp(km_work *w, km_rng *r, float *mu, int64_t T)
{
    const int64_t N = w->N, Dc = w->Dc;
    int64_t first = (int64_t)(rng_unif(r) * (double)N);
    if (first >= N) first = N - 1;
    memcpy(mu, w->Z + first * Dc, (size_t)Dc * sizeof(float));
    memcpy(w->cand, mu, (size_t)Dc * sizeof(float));
    cand_dist(w, 1);
    for (int64_t i = 0; i < N; i++) w->close[i] = w->d2[i];
    for (int64_t c = 1; c < w->K; c++) {
        double pot = 0;
        for (int64_t i = 0; i < N; i++) w->cum[i] = (pot += w->close[i]);
        int64_t idx[64];
        for (int64_t t = 0; t < T; t++) {
            idx[t] = pot > 0 ? sample_cum(w->cum, N, rng_unif(r) * pot)
                             : (int64_t)(rng_unif(r) * (double)N) % N;
            memcpy(w->cand + t * Dc, w->Z + idx[t] * Dc, (size_t)Dc * sizeof(float));
        }
        cand_dist(w, T);
        int64_t bt = 0;
        double bpot = INFINITY;
        for (int64_t t = 0; t < T; t++) {
            double p = 0;
            for (int64_t i = 0; i < N; i++) {
                const double d = w->d2[i * T + t];
                p += d < w->close[i] ? d : w->close[i];
            }
            if (p < bpot) {
                bpot = p;
                bt = t;
            }
        }
        memcpy(mu + c * Dc, w->cand + bt * Dc, (size_t)Dc * sizeof(float));
        for (int64_t i = 0; i < N; i++) {
            const double d = w->d2[i * T + bt];
            if (d < w->close[i]) w->close[i] = d;
        }
    }
}

/* ---- Lloyd ------------------------------------------------------------------------- */

/* labels and squared distances (||z||^2 + e_c, clamped) for every row */
static void assign_all(km_work *w, const float *mu)
{
    neon_km_geo_update(mu, &w->geo, w->o);
    for (int64_t s = 0; s < w->N; s += NEON_KM_CHUNK) {
        const int64_t n = w->N - s < NEON_KM_CHUNK ? w->N - s : NEON_KM_CHUNK;
        neon_km_scan(&w->geo, w->Z + s * w->Dc, n, w->e, w->lab + s, w->best + s, NULL);
    }
    for (int64_t i = 0; i < w->N; i++) {
        const double d = w->zn[i] + w->best[i];
        w->best[i] = d > 0 ? (float)d : 0.0f;
    }
}

/* M-step: mu = means of the members; empty clusters take the points
 * farthest from their centres.  Returns sum ||mu - mu_old||^2. */
static double update_centres(km_work *w, float *mu)
{
    const int64_t K = w->K, Dc = w->Dc, N = w->N;
    memset(w->sum, 0, (size_t)(K * Dc) * sizeof(double));
    memset(w->cnt, 0, (size_t)K * sizeof(int64_t));
    for (int64_t i = 0; i < N; i++) {
        const int c = w->lab[i];
        w->cnt[c]++;
        for (int64_t j = 0; j < Dc; j++) w->sum[c * Dc + j] += w->Z[i * Dc + j];
    }
    for (int64_t c = 0; c < K; c++) {
        if (w->cnt[c]) continue;
        /* relocate the farthest point whose cluster keeps a member (one
         * exists: K <= N); its distance becomes 0 so it is not taken twice */
        int64_t far = -1;
        for (int64_t i = 0; i < N; i++)
            if (w->cnt[w->lab[i]] > 1 && (far < 0 || w->best[i] > w->best[far])) far = i;
        if (far < 0) continue;
        const int old = w->lab[far];
        w->cnt[old]--;
        for (int64_t j = 0; j < Dc; j++) {
            w->sum[old * Dc + j] -= w->Z[far * Dc + j];
            w->sum[c * Dc + j] = w->Z[far * Dc + j];
        }
        w->cnt[c] = 1;
        w->lab[far] = (int)c;
        w->best[far] = 0;
    }
    double shift = 0;
    for (int64_t c = 0; c < K; c++)
        for (int64_t j = 0; j < Dc; j++) {
            const double v = w->cnt[c] ? w->sum[c * Dc + j] / (double)w->cnt[c] : mu[c * Dc + j];
            shift += (v - mu[c * Dc + j]) * (v - mu[c * Dc + j]);
            mu[c * Dc + j] = (float)v;
        }
    return shift;
}

/* exact inertia (double, direct differences) for the current labels */
static double inertia_of(const km_work *w, const float *mu)
{
    double s = 0;
    for (int64_t i = 0; i < w->N; i++) {
        const float *z = w->Z + i * w->Dc, *m = mu + (int64_t)w->lab[i] * w->Dc;
        for (int64_t j = 0; j < w->Dc; j++) s += ((double)z[j] - m[j]) * ((double)z[j] - m[j]);
    }
    return s;
}

/* One restart: seeding + Lloyd; leaves final labels in w->lab. */
static double lloyd(km_work *w, km_rng *r, float *mu, int64_t T, int max_iter, double tol_abs,
                    int *iters)
{
    seed_pp(w, r, mu, T);
    int it = 0;
    while (it < max_iter) {
        assign_all(w, mu);
        it++;
        const double shift = update_centres(w, mu);
        if (shift <= tol_abs) break;
    }
    assign_all(w, mu); /* labels consistent with the final centres */
    *iters = it;
    return inertia_of(w, mu);
}

static void work_free(neon_ctx *ctx, km_work *w)
{
    neon_free(ctx, w->zn);
    neon_free(ctx, w->e);
    neon_free(ctx, w->cand);
    neon_free(ctx, w->d2);
    neon_free(ctx, w->close);
    neon_free(ctx, w->cum);
    neon_free(ctx, w->lab);
    neon_free(ctx, w->best);
    neon_free(ctx, w->sum);
    neon_free(ctx, w->cnt);
    neon_free(ctx, w->o);
    neon_km_geo_free(ctx, &w->geo);
}

neon_status neon_kmeans_fit(neon_ctx *ctx, const neon_tensor *X, const neon_kmeans_fit_opts *opts,
                            neon_kmeans **out)
{
    if (!ctx || !X || !opts || !out) return NEON_ERR_INVALID;
    *out = NULL;
    if (!X->data || X->ndim < 2 || X->ndim > NEON_MAX_DIMS || X->shape[0] < 1)
        return neon_fail(ctx, NEON_ERR_SHAPE, "k-means fit: data must be (N, D...) with N >= 1");
    const int64_t N = X->shape[0], numel = neon_tensor_numel(X);
    if (numel <= 0 || numel % N)
        return neon_fail(ctx, NEON_ERR_SHAPE, "k-means fit: data has no features");
    const int64_t D = numel / N, K = opts->k, P = opts->pca;
    if (K < 2)
        return neon_fail(ctx, NEON_ERR_INVALID, "k-means fit: need K >= 2 clusters, got %lld",
                         (long long)K);
    if (K > N)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "k-means fit: K = %lld clusters but only N = %lld samples (need K <= N)",
                         (long long)K, (long long)N);
    if (P < 0 || P > D || (P && N < 2))
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "k-means fit: PCA needs 1 <= P <= D = %lld components and N >= 2, got P %lld",
                         (long long)D, (long long)P);
    const int64_t bad = neon_find_nonfinite(X->data, numel);
    if (bad >= 0)
        return neon_fail(ctx, NEON_ERR_NUMERIC,
                         "k-means fit: non-finite value %g in the data at sample %lld, feature %lld",
                         (double)X->data[bad], (long long)(bad / D), (long long)(bad % D));
    const int n_init = opts->n_init > 0 ? opts->n_init : 10;
    const int max_iter = opts->max_iter > 0 ? opts->max_iter : 300;
    const double tol = opts->tol == 0 ? 1e-4 : opts->tol;
    int64_t T = 2 + (int64_t)log((double)K);
    if (T > 64) T = 64;

    neon_kmeans *km;
    NEON_TRY(neon_km_alloc(ctx, K, D, P, &km));
    km_work w;
    memset(&w, 0, sizeof w);
    float *Zp = NULL, *mu = NEON_FALLOC(ctx, K * km->Dc);
    neon_status st = mu ? NEON_OK : NEON_ERR_NOMEM;
    if (st == NEON_OK && P) {
        st = pca_fit(ctx, X->data, N, D, P, km->mean, km->comp);
        if (st == NEON_OK) memset(km->mu, 0, (size_t)(K * P) * sizeof(float));
        if (st == NEON_OK) st = neon_km_finish(km); /* the projection's bias */
        if (st == NEON_OK && !(Zp = NEON_FALLOC(ctx, N * P))) st = NEON_ERR_NOMEM;
        for (int64_t s = 0; st == NEON_OK && s < N; s += NEON_KM_CHUNK)
            neon_km_project(km, X->data + s * D, N - s < NEON_KM_CHUNK ? N - s : NEON_KM_CHUNK,
                            Zp + s * P);
    }
    const int64_t Dc = km->Dc, ch = N < NEON_KM_CHUNK ? N : NEON_KM_CHUNK;
    w.Z = P ? Zp : X->data;
    w.N = N;
    w.Dc = Dc;
    w.K = K;
    if (st == NEON_OK) {
        w.zn = neon_alloc_array(ctx, (size_t)N, sizeof(double));
        w.e = NEON_FALLOC(ctx, ch * K);
        w.cand = NEON_FALLOC(ctx, T * Dc);
        w.d2 = NEON_FALLOC(ctx, N * T);
        w.close = neon_alloc_array(ctx, (size_t)N, sizeof(double));
        w.cum = neon_alloc_array(ctx, (size_t)N, sizeof(double));
        w.lab = neon_alloc_array(ctx, (size_t)N, sizeof(int));
        w.best = NEON_FALLOC(ctx, N);
        w.sum = neon_alloc_array(ctx, (size_t)(K * Dc), sizeof(double));
        w.cnt = neon_alloc_array(ctx, (size_t)K, sizeof(int64_t));
        w.o = neon_alloc_array(ctx, (size_t)Dc, sizeof(double));
        if (!w.zn || !w.e || !w.cand || !w.d2 || !w.close || !w.cum || !w.lab || !w.best ||
            !w.sum || !w.cnt || !w.o)
            st = NEON_ERR_NOMEM;
        else
            st = neon_km_geo_make(ctx, mu, K, Dc, &w.geo);
    }
    if (st == NEON_OK) {
        /* tolerance relative to the data: tol * mean feature variance */
        double var = 0, *m = w.sum, *q = w.sum + Dc; /* (Dc) each; K >= 2 */
        memset(w.sum, 0, (size_t)(2 * Dc) * sizeof(double));
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < Dc; j++) m[j] += w.Z[i * Dc + j];
        for (int64_t j = 0; j < Dc; j++) m[j] /= (double)N;
        for (int64_t i = 0; i < N; i++)
            for (int64_t j = 0; j < Dc; j++) {
                const double d = w.Z[i * Dc + j] - m[j];
                q[j] += d * d;
            }
        for (int64_t j = 0; j < Dc; j++) var += q[j] / (double)N;
        const double tol_abs = tol < 0 ? -1.0 : tol * var / (double)Dc;
        for (int64_t i = 0; i < N; i++) {
            double s = 0;
            for (int64_t j = 0; j < Dc; j++) s += (double)w.Z[i * Dc + j] * w.Z[i * Dc + j];
            w.zn[i] = s;
        }
        km_rng r = {opts->seed};
        double best = INFINITY;
        for (int run = 0; run < n_init; run++) {
            int iters;
            const double in = lloyd(&w, &r, mu, T, max_iter, tol_abs, &iters);
            neon_log(ctx, NEON_LOG_DEBUG, "k-means restart %d: inertia %.9g after %d iterations",
                     run, in, iters);
            if (in < best) {
                best = in;
                memcpy(km->mu, mu, (size_t)(K * Dc) * sizeof(float));
                km->inertia = in;
                km->n_iter = iters;
            }
        }
        km->n_fit = (uint64_t)N;
        st = neon_km_finish(km);
    }
    work_free(ctx, &w);
    neon_free(ctx, mu);
    neon_free(ctx, Zp);
    if (st == NEON_OK) {
        float beta;
        st = neon_kmeans_default_beta(ctx, km, X, &beta);
        if (st == NEON_OK) km->beta = beta;
    }
    if (st != NEON_OK) {
        neon_kmeans_destroy(km);
        return st;
    }
    *out = km;
    return NEON_OK;
}
