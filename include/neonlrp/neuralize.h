/* neonlrp NEON: neuralized models.  Each neuralizer builds a graph of
 * layers for the shared relprop engine; none carries propagation code of
 * its own.  This header also exposes the layer kinds those graphs use, so
 * that other models can be neuralized through the same API. */
#ifndef NEONLRP_NEURALIZE_H
#define NEONLRP_NEURALIZE_H

#include "neonlrp/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layer kinds for neuralized models ----------------------------------- */

/* Min-pooling over groups: input of G*M values (per sample, C order, G
 * groups of M) -> output (G).  Forward: the hard minimum over the valid
 * members (soft == 0), or the soft minimum -(1/beta) log sum exp(-beta x)
 * (soft != 0, computed with the log-sum-exp shift).  exclude_diagonal
 * (needs G == M) leaves member g out of group g.  Relevance (min-take-most):
 * R_m = p_m R_g with p = softmin_beta over the valid members; conservative. */
neon_status neon_graph_add_minpool(neon_graph *g, const char *name, int input, int64_t groups,
                                   int64_t members, float beta, int soft, int exclude_diagonal,
                                   int *id);
/* Changes the stiffness of a minpool node (e.g. once the data is known). */
neon_status neon_graph_set_minpool_beta(neon_graph *g, int id, float beta);

/* Squared distances to M points: flattened input (D) -> output (M) per
 * sample, h_j = ||x - u_j||^2 + offsets_j.  U is (M, D) row-major; offsets
 * (M) or NULL (zeros).  Computed by GEMM on coordinates centred at the mean
 * of the u_j, with an exact per-element fallback where x is close to u_j
 * (so x == u_j gives exactly 0).  Relevance (its own rule, RULES.md 6):
 * R_i = sum_j R_j (x_i - u_ji)^2 / stab(d_j), d_j = ||x - u_j||^2 without
 * the offset (the node's stabilizer, default 1e-6): conservative up to the
 * stabilizer (a sample equal to u_j keeps that point's share R_j: d_j = 0
 * leaves nothing to redistribute it by), and 0 on a coordinate where x
 * equals every u_j. */
neon_status neon_graph_add_sqdist(neon_graph *g, const char *name, int input, int64_t M,
                                  const float *U, const float *offsets, int *id);

/* K-means discriminant layer (NEON, RULES.md 5): flattened input (D) ->
 * output (K) per sample for one cluster c per sample, h_k(x) =
 * ||x - mu_k||^2 - ||x - mu_c||^2 = w_ck . x + b_ck with w_ck =
 * 2 (mu_c - mu_k), b_ck = ||mu_k||^2 - ||mu_c||^2; entry c is FLT_MAX (so a
 * following hard minpool over the K entries gives min_{k != c} h_k and
 * gives entry c a soft-min weight of exactly 0).  cluster: -1 = each
 * sample's assigned cluster (nearest centroid, lowest index on ties), or a
 * fixed k in 0..K-1 for every sample.  A weightless linear kind with the
 * root points m_ck = (mu_c + mu_k) / 2, so the engine's z-rule (lrp0 /
 * epsilon; other rules are refused) is the midpoint rule.  centroids:
 * (K, D), K >= 2. */
neon_status neon_graph_add_kmeans_disc(neon_graph *g, const char *name, int input, int64_t K,
                                       const float *centroids, int cluster, int *id);
/* The cluster c of each sample of the last forward pass (N ints) at the
 * kmeans_disc node id (-1: the graph's first kmeans_disc node). */
neon_status neon_graph_kmeans_clusters(const neon_graph *g, int id, int *clusters);

/* ---- k-means (NEON, Kauffmann et al.) ------------------------------------ */

/* A k-means model: K centroids in D input features, optionally behind a
 * PCA front end (components (P, D) and mean (D); centroids then live in
 * the P-dimensional projection).  Files: see neon_kmeans_save. */
typedef struct neon_kmeans neon_kmeans;

typedef struct neon_kmeans_fit_opts {
    int k;            /* clusters, 2 <= k <= N */
    int n_init;       /* restarts with different seeds, the lowest inertia wins (0: 10) */
    int max_iter;     /* Lloyd iterations per restart (0: 300) */
    float tol;        /* stop when the centre shift sum ||mu - mu'||^2 <= tol * mean
                       * feature variance, like scikit-learn (0: 1e-4; < 0: run max_iter) */
    uint64_t seed;    /* k-means++ seeding; same seed, same model */
    int pca;          /* 0: none; else P principal components (1 <= P <= D) */
} neon_kmeans_fit_opts;

/* Fits k-means to X (N, ...): k-means++ seeding (greedy, 2 + ln K local
 * trials, scikit-learn's scheme) and Lloyd iterations with distances by
 * GEMM; empty clusters are re-seeded with the point farthest from its
 * centre.  With pca > 0 the data is first projected on its P leading
 * principal components (eigenvectors of the covariance, LAPACK ssyevd).
 * Stores the inertia and the default beta = 1 / mean f_c over X.  K < 2,
 * K > N and non-finite data are NEON_ERR_INVALID / NEON_ERR_NUMERIC. */
neon_status neon_kmeans_fit(neon_ctx *ctx, const neon_tensor *X, const neon_kmeans_fit_opts *opts,
                            neon_kmeans **out);
/* A model from centroids (K, Dc).  With components (P = Dc orthonormal
 * rows of D values) and mean (D) non-NULL, the centroids live in the
 * projection z = components (x - mean); otherwise D must equal Dc (pass
 * D = Dc).  Components that are not orthonormal (to 1e-3) are
 * NEON_ERR_UNSUPPORTED (the PCA front end is folded into the graph, see
 * neon_kmeans_graph). */
neon_status neon_kmeans_create(neon_ctx *ctx, int64_t K, int64_t Dc, const float *centroids,
                               int64_t D, const float *components, const float *mean,
                               neon_kmeans **out);
void neon_kmeans_destroy(neon_kmeans *km); /* NULL is a no-op */

/* Reads the model format written by neon_kmeans_save, or bare centroids
 * (K, D) as .npy (scikit-learn's cluster_centers_; no beta stored). */
neon_status neon_kmeans_load(neon_ctx *ctx, const char *path, neon_kmeans **out);
/* Writes the "NEONKM01" format (little-endian, atomic):
 *   0  char[8] "NEONKM01"       24 float32 beta (0: none stored)
 *   8  uint32  K                28 uint32  reserved (0)
 *  12  uint32  D (input)        32 float64 inertia (-1: unknown)
 *  16  uint32  P (0: no PCA)    40 uint64  number of fit samples (0: unknown)
 *  20  uint32  Lloyd iterations
 *  48  float32 centroids (K, P or D), then if P > 0: components (P, D), mean (D)
 *  end uint32  CRC-32 (zlib) of every byte before it.
 * The reader checks every size against the file length before allocating,
 * the CRC, K >= 2, P <= D and that all values are finite; PCA models whose
 * input-space centroids (K x D, not stored in the file) would exceed 2^28
 * values are NEON_ERR_UNSUPPORTED. */
neon_status neon_kmeans_save(neon_ctx *ctx, const neon_kmeans *km, const char *path);

int64_t neon_kmeans_k(const neon_kmeans *km);
int64_t neon_kmeans_dim(const neon_kmeans *km);      /* D: input features */
int64_t neon_kmeans_pca_dim(const neon_kmeans *km);  /* P, 0 without PCA */
const float *neon_kmeans_centroids(const neon_kmeans *km); /* (K, P or D) */
/* Centroids in the input space (K, D): the centroids, or with PCA the
 * back-projections mean + components^T mu_k. */
const float *neon_kmeans_input_centroids(const neon_kmeans *km);
float neon_kmeans_beta(const neon_kmeans *km);       /* 0 when none is stored */
neon_status neon_kmeans_set_beta(neon_kmeans *km, float beta);
double neon_kmeans_inertia(const neon_kmeans *km);   /* -1 when unknown */
int neon_kmeans_iterations(const neon_kmeans *km);

/* Nearest centroid of every sample of X (N, ...): labels (N) and, when
 * dist is non-NULL, the squared distance to it (N; in the projection for
 * PCA models).  Computed exactly as the graph does (its cluster -1).  Streams
 * X in chunks (memory independent of N). */
neon_status neon_kmeans_assign(neon_ctx *ctx, const neon_kmeans *km, const neon_tensor *X,
                               int *labels, float *dist);
/* beta = 1 / mean over X of f_c(x) (c the assigned cluster): the default
 * stiffness.  A zero mean (every point on a boundary) is NEON_ERR_NUMERIC. */
neon_status neon_kmeans_default_beta(neon_ctx *ctx, const neon_kmeans *km, const neon_tensor *X,
                                     float *beta);

/* The neuralized model: input "x" -> kmeans_disc "disc" (K) -> hard
 * minpool "pool" (1 group of K; soft-min relevance with stiffness beta).
 * Output (1): the neuralized logit f_c(x) = min_{k != c} h_ck(x) of the
 * explained cluster c: cluster -1 = each sample's assigned cluster (then
 * f_c >= 0), or a fixed k in 0..K-1 (f_k <= 0 for samples not assigned to
 * k).  Explain with target 0 (or NEON_TARGET_ARGMAX): sum_i R_i = f_c(x).
 * The cluster of each sample: neon_graph_kmeans_clusters(g, -1, ...) after
 * a forward pass.
 * A PCA front end is folded into the discriminant layer: with orthonormal
 * components U, h_ck(U (x - mean)) equals h_ck computed in the input space
 * with the back-projected centroids nu_k = mean + U^T mu_k, and the
 * midpoint rule there is the midpoint rule in the projection with its
 * root point carried through the (linear) projection.  Relevance lands on
 * the D original features, exactly conservative; no division by the
 * projection coordinates (which cross zero) ever happens.
 * beta <= 0 takes the model's stored beta (NEON_ERR_INVALID when it has
 * none).  in_ndim / in_shape give the per-sample input shape (numel D;
 * e.g. {1, 28, 28}); in_ndim 0 means (D). */
neon_status neon_kmeans_graph(neon_ctx *ctx, const neon_kmeans *km, float beta, int cluster,
                              int in_ndim, const int64_t *in_shape, neon_graph **out);


/* ---- one-class SVM (NEON, Kauffmann, Mueller, Montavon) ------------------- */

/* A libsvm one-class SVM with the RBF kernel: support vectors u_j,
 * coefficients a_j > 0, rho, gamma; libsvm's decision value is
 * sum_j a_j exp(-gamma ||x - u_j||^2) - rho (< 0: outlier).  Available
 * when neonlrp is built with libsvm (NEON_WITH_LIBSVM); libsvm prints
 * nothing through these calls (load and fit set libsvm's process-wide
 * print function, svm_set_print_string_function, to a no-op).
 *
 * Feature count: libsvm files store sparse 1-based indices and omit zero
 * features, so the number of features D is not in the file.  The highest
 * index in the support vectors (neon_ocsvm_dim) is a lower bound; the
 * graph takes D from the data (neon_ocsvm_graph's shape); data with fewer
 * features than the highest index is NEON_ERR_SHAPE.  Fitted models know
 * their D. */
typedef struct neon_ocsvm neon_ocsvm;

/* Reads a libsvm model file (svm-train -s 2 -t 2, or any writer of the
 * same text format) through svm_load_model, after checking the file
 * itself: header keywords and values, total_sv lines of "coef idx:val ..."
 * with increasing indices and finite values, a final newline (a truncated
 * file is NEON_ERR_FORMAT naming the file and line).  Any svm_type other
 * than one_class, or a kernel other than rbf, is NEON_ERR_UNSUPPORTED. */
neon_status neon_ocsvm_load(neon_ctx *ctx, const char *path, neon_ocsvm **out);
/* Trains on X (N, ...) with svm_train: one_class, rbf, nu in (0, 1],
 * gamma > 0, libsvm's defaults otherwise (eps 1e-3, shrinking, 100 MB
 * cache).  Zero features are left out of the sparse problem. */
neon_status neon_ocsvm_fit(neon_ctx *ctx, const neon_tensor *X, double nu, double gamma,
                           neon_ocsvm **out);
/* Writes the model with svm_save_model, atomically (temporary file, then
 * rename; an earlier file of that name survives any failure). */
neon_status neon_ocsvm_save(neon_ctx *ctx, const neon_ocsvm *m, const char *path);
void neon_ocsvm_destroy(neon_ocsvm *m); /* NULL is a no-op */

int64_t neon_ocsvm_num_sv(const neon_ocsvm *m);
int64_t neon_ocsvm_dim(const neon_ocsvm *m);   /* fitted D, or the highest index in the SVs */
double neon_ocsvm_gamma(const neon_ocsvm *m);
double neon_ocsvm_rho(const neon_ocsvm *m);
double neon_ocsvm_coef_sum(const neon_ocsvm *m); /* sum_j a_j */
/* Outlier threshold on the score: o(x) > -(1/gamma) log(rho / sum_j a_j)
 * exactly when libsvm's decision value is < 0 (+inf when rho <= 0: no
 * point is an outlier). */
double neon_ocsvm_threshold(const neon_ocsvm *m);

/* The neuralized model (RULES.md 6): input "x" with the per-sample shape
 * (in_ndim, in_shape) (numel D; in_ndim 0 means (neon_ocsvm_dim)) ->
 * sqdist "dist" (M support vectors, offsets -log(abar_j)/gamma with
 * abar_j = a_j / sum a) -> soft minpool "pool" (beta = gamma).  Output (1):
 * the outlier score o(x) = -(1/gamma) log sum_j abar_j exp(-gamma d_j);
 * explaining target 0 gives sum_i R_i = o(x). */
neon_status neon_ocsvm_graph(neon_ctx *ctx, const neon_ocsvm *m, int in_ndim,
                             const int64_t *in_shape, neon_graph **out);

/* libsvm's svm_predict_values for every sample of X (N, ...): dec (N). */
neon_status neon_ocsvm_decision(neon_ctx *ctx, const neon_ocsvm *m, const neon_tensor *X,
                                double *dec);
/* Outlier flags (N) from the scores (N) the graph computed for X: score >
 * threshold, except where the score is within its float error bound of
 * the threshold: those samples are decided by svm_predict_values, so the
 * flags always equal libsvm's decision < 0.  n_checked (optional) receives
 * how many samples needed libsvm. */
neon_status neon_ocsvm_outliers(neon_ctx *ctx, const neon_ocsvm *m, const neon_tensor *X,
                                const float *scores, int *outlier, int64_t *n_checked);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_NEURALIZE_H */
