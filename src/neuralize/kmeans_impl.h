/* Internal: the k-means model object shared by kmeans.c (model, graph,
 * assignment), kmeans_fit.c (k-means++, Lloyd, PCA) and kmeans_io.c (files). */
#ifndef NEON_KMEANS_IMPL_H
#define NEON_KMEANS_IMPL_H

#include "core.h"
#include "neonlrp/neuralize.h"

struct neon_kmeans {
    neon_ctx *ctx;
    int64_t K, D, P, Dc; /* Dc = P ? P : D: the space the centroids live in */
    float *mu;           /* (K, Dc) */
    float *comp;         /* (P, D) PCA components or NULL */
    float *mean;         /* (D) data mean or NULL */
    float *bias;         /* (P) -comp . mean (the projection's bias) or NULL */
    float *gmu;          /* (K, D) input-space centroids: mu, or mean + comp^T mu (the graph's) */
    float beta;          /* 0: none stored */
    double inertia;      /* -1: unknown */
    int n_iter;
    uint64_t n_fit;
};

/* Rows of X handled per GEMM when streaming (memory ~ rows x (K + P)). */
#define NEON_KM_CHUNK 4096

/* Centroid geometry for the nearest-centroid scan, computed exactly like
 * the kmeans_disc layer: mus = mu - o (o = mean of the centroids) and
 * c_k = ||mu'_k||^2 + 2 o . mu'_k, so that e_k = c_k - 2 z . mu'_k equals
 * ||z - mu_k||^2 - ||z||^2 and the argmin matches the graph's assigned cluster. */
typedef struct km_geo {
    int64_t K, Dc;
    float *mus; /* (K, Dc) */
    float *c;   /* (K) */
} km_geo;

neon_status neon_km_geo_make(neon_ctx *ctx, const float *mu, int64_t K, int64_t Dc, km_geo *geo);
void neon_km_geo_update(const float *mu, km_geo *geo, double *o_scratch);
void neon_km_geo_free(neon_ctx *ctx, km_geo *geo);

/* For n rows z (n, Dc): e (n, K) scratch; writes the nearest centroid
 * (lowest index on ties), best e (e_c) and the gap to the second best
 * (= f_c, the neuralized logit of the assigned cluster); any output may be
 * NULL. */
void neon_km_scan(const km_geo *geo, const float *z, int64_t n, float *e, int *lab, float *best,
                  float *gap);

/* Projection z (n, P) = x (n, D) comp^T + bias, exactly as the graph's
 * dense layer computes it. */
void neon_km_project(const neon_kmeans *km, const float *x, int64_t n, float *z);

/* Allocates an empty model (arrays allocated, contents unset). */
neon_status neon_km_alloc(neon_ctx *ctx, int64_t K, int64_t D, int64_t P, neon_kmeans **out);
/* Derived arrays after mu/comp/mean are set: the projection bias and the
 * input-space centroids; checks that PCA components are orthonormal. */
neon_status neon_km_finish(neon_kmeans *km);

#endif /* NEON_KMEANS_IMPL_H */
