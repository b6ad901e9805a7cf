/* Regions of the perturbation protocol: the grid, region relevance, the
 * MoRF / LeRF / random orders, the noise, and AOPC. */
#include "eval_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

neon_status neon_region_grid_make(neon_ctx *ctx, int ndim, const int64_t *shape, int rh, int rw,
                                  neon_region_grid *out)
{
    if (!out || (ndim > 0 && !shape) || ndim < 0 || ndim >= NEON_MAX_DIMS)
        return neon_fail(ctx, NEON_ERR_INVALID, "region grid: bad shape");
    if (rh < 1 || rw < 1)
        return neon_fail(ctx, NEON_ERR_INVALID, "region size must be >= 1, got %dx%d", rh, rw);
    int64_t c = 1, h = 1, w = 1;
    for (int i = 0; i < ndim; i++)
        if (shape[i] < 1) return neon_fail(ctx, NEON_ERR_SHAPE, "region grid: empty input");
    if (ndim >= 3) {
        for (int i = 0; i < ndim - 2; i++)
            if (!neon_mul_ok(c, shape[i], &c)) return neon_fail(ctx, NEON_ERR_SHAPE, "too large");
        h = shape[ndim - 2];
        w = shape[ndim - 1];
    } else if (ndim == 2) {
        h = shape[0];
        w = shape[1];
    } else if (ndim == 1) {
        const int64_t s = (int64_t)llround(sqrt((double)shape[0]));
        if (s >= 4 && s * s == shape[0]) h = w = s;
        else w = shape[0];
    }
    out->c = c;
    out->h = h;
    out->w = w;
    out->rh = rh < h ? rh : (int)h;
    out->rw = rw < w ? rw : (int)w;
    out->ny = (h + out->rh - 1) / out->rh;
    out->nx = (w + out->rw - 1) / out->rw;
    return NEON_OK;
}

void neon_region_scores(const neon_region_grid *g, const float *R, int64_t N, double *S)
{
    const int64_t nr = neon_region_count(g), hw = g->h * g->w;
    for (int64_t n = 0; n < N; n++) {
        double *s = S + n * nr;
        memset(s, 0, (size_t)nr * sizeof *s);
        const float *r = R + n * g->c * hw;
        for (int64_t ch = 0; ch < g->c; ch++)
            for (int64_t y = 0; y < g->h; y++) {
                const float *row = r + ch * hw + y * g->w;
                double *srow = s + (y / g->rh) * g->nx;
                for (int64_t x = 0; x < g->w; x++) srow[x / g->rw] += row[x];
            }
    }
}

typedef struct keyed {
    double s;
    uint64_t tie;
    int32_t r;
} keyed;

static int cmp_desc(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->s != y->s) return x->s > y->s ? -1 : 1;
    return x->tie < y->tie ? -1 : x->tie > y->tie;
}

static int cmp_asc(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? -1 : 1;
    return x->tie < y->tie ? -1 : x->tie > y->tie;
}

neon_status neon_region_order(neon_ctx *ctx, const neon_region_grid *g, const double *S, int64_t N,
                              int64_t first, neon_perturb_order order, uint64_t seed,
                              int32_t *out)
{
    const int64_t nr = neon_region_count(g);
    if (nr > INT32_MAX) return neon_fail(ctx, NEON_ERR_INVALID, "too many regions");
    if (order == NEON_ORDER_RANDOM) {
        for (int64_t n = 0; n < N; n++) {
            int32_t *o = out + n * nr;
            for (int64_t i = 0; i < nr; i++) o[i] = (int32_t)i;
            for (int64_t i = nr - 1; i > 0; i--) { /* Fisher-Yates */
                const double u = neon_hash_unit(
                    neon_hash4(seed, NEON_STREAM_ORDER, (uint64_t)(first + n), (uint64_t)i));
                int64_t j = (int64_t)(u * (double)(i + 1));
                if (j > i) j = i;
                const int32_t t = o[i];
                o[i] = o[j];
                o[j] = t;
            }
        }
        return NEON_OK;
    }
    if (order != NEON_ORDER_MORF && order != NEON_ORDER_LERF)
        return neon_fail(ctx, NEON_ERR_INVALID, "unknown perturbation order %d", (int)order);
    if (!S) return neon_fail(ctx, NEON_ERR_INVALID, "region order: no region scores");
    keyed *k = neon_alloc_array(ctx, (size_t)nr, sizeof *k);
    if (!k) return NEON_ERR_NOMEM;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t i = 0; i < nr; i++) {
            const double s = S[n * nr + i];
            if (!isfinite(s)) {
                neon_free(ctx, k);
                return neon_fail(ctx, NEON_ERR_NUMERIC,
                                 "region order: non-finite relevance in sample %lld",
                                 (long long)(first + n));
            }
            k[i] = (keyed){s, neon_hash4(seed, NEON_STREAM_TIES, (uint64_t)(first + n), (uint64_t)i),
                           (int32_t)i};
        }
        qsort(k, (size_t)nr, sizeof *k, order == NEON_ORDER_MORF ? cmp_desc : cmp_asc);
        for (int64_t i = 0; i < nr; i++) out[n * nr + i] = k[i].r;
    }
    neon_free(ctx, k);
    return NEON_OK;
}

float neon_perturb_noise(uint64_t seed, int64_t n, int64_t i, float low, float high)
{
    const double u = neon_hash_unit(neon_hash4(seed, NEON_STREAM_NOISE, (uint64_t)n, (uint64_t)i));
    return (float)((double)low + ((double)high - (double)low) * u);
}

double neon_aopc(const float *curves, int64_t N, int L, double *sem)
{
    if (sem) *sem = 0;
    if (N <= 0 || L < 0 || !curves) return 0;
    double mean = 0, m2 = 0;
    for (int64_t n = 0; n < N; n++) { /* Welford over the per-sample AOPCs */
        const float *c = curves + n * (L + 1);
        double a = 0;
        for (int k = 0; k <= L; k++) a += (double)c[0] - (double)c[k];
        a /= (double)(L + 1);
        const double d = a - mean;
        mean += d / (double)(n + 1);
        m2 += d * (a - mean);
    }
    if (sem && N > 1) *sem = sqrt(m2 / (double)(N - 1) / (double)N);
    return mean;
}
