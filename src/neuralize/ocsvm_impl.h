/* Internal: the one-class SVM model shared by src/neuralize/ocsvm*.c.
 * Only ocsvm.c includes libsvm's svm.h; the rest sees our own copy of the
 * support vectors (CSR) and coefficients. */
#ifndef NEON_OCSVM_IMPL_H
#define NEON_OCSVM_IMPL_H

/* Highest feature index a model may use: the graph stores the support
 * vectors densely (n_sv x D floats), so a sparse file naming feature 10^9
 * would ask for gigabytes; 2^24 features x 500 SVs is already 32 GB. */
#define NEON_OCSVM_MAX_FEATURES (1 << 24)

#include "core.h"
#include "neonlrp/neuralize.h"

struct svm_model;

struct neon_ocsvm {
    neon_ctx *ctx;
    struct svm_model *svm;   /* libsvm's model, for svm_predict_values / svm_save_model */
    void *sv_space;          /* fitted models: our compact copy of the SV nodes */
    int64_t M;               /* support vectors */
    int64_t dim;             /* highest feature index (1-based) in the SVs, or fitted D */
    double gamma, rho, coef_sum, threshold;
    double *coef;            /* (M) a_j > 0 */
    int64_t *sv_start;       /* (M + 1) CSR row starts */
    int32_t *sv_idx;         /* 0-based feature indices, increasing per row */
    float *sv_val;
    double *centre;          /* (dim) mean of the SVs per feature */
    double max_ww;           /* max_j ||u_j - centre||^2 */
    double max_off;          /* max_j -log(abar_j) / gamma */
};

/* What the file check found (ocsvm_file.c). */
typedef struct neon_ocsvm_file_info {
    int64_t total_sv;
    int64_t max_index;       /* highest feature index (1-based); 0 if every SV is empty */
    double gamma, rho;
} neon_ocsvm_file_info;

/* Checks a libsvm model file well enough that svm_load_model will read
 * exactly what it says (libsvm itself accepts truncated SV sections and
 * prints to stderr on bad headers).  NEON_ERR_FORMAT naming the file and
 * line; NEON_ERR_UNSUPPORTED for other svm types / kernels; NEON_ERR_IO. */
neon_status neon_ocsvm_check_file(neon_ctx *ctx, const char *path, neon_ocsvm_file_info *info);

/* Fills centre, max_ww, max_off, threshold and coef_sum from the CSR
 * arrays, coef, gamma and rho (ocsvm_graph.c).  Checks a_j > 0. */
neon_status neon_ocsvm_derive(neon_ocsvm *m, const char *what);

/* svm_predict_values on one dense row x (D values) (ocsvm.c). */
double neon_ocsvm_decision_row(const neon_ocsvm *m, const float *x, int64_t D, void *nodes);
/* Scratch for neon_ocsvm_decision_row: D + 1 libsvm nodes (ocsvm.c). */
void *neon_ocsvm_nodes_alloc(neon_ctx *ctx, int64_t D);

#endif
