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
 * stabilizer, and 0 on a coordinate where x equals every u_j. */
neon_status neon_graph_add_sqdist(neon_graph *g, const char *name, int input, int64_t M,
                                  const float *U, const float *offsets, int *id);


/* ---- one-class SVM (NEON, Kauffmann, Mueller, Montavon) ------------------- */

/* A libsvm one-class SVM with the RBF kernel: support vectors u_j,
 * coefficients a_j > 0, rho, gamma; libsvm's decision value is
 * sum_j a_j exp(-gamma ||x - u_j||^2) - rho (< 0: outlier).  Available
 * when neonlrp is built with libsvm (NEON_WITH_LIBSVM); libsvm prints
 * nothing through these calls.
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
