/* libsvm one-class SVM models for `neon explain` / `neon info`: the file
 * is recognised by its "svm_type" first line (model.c); the graph takes
 * its feature count from the data to explain (libsvm files do not store
 * it).  Per-sample line: index, outlier score o(x), threshold, outlier
 * yes/no (always libsvm's decision), sum of relevance. */
#include "cli.h"

#ifdef NEON_WITH_LIBSVM
#include <stdlib.h>

#include "neonlrp/neuralize.h"

typedef struct ocsvm_priv {
    neon_ctx *ctx;
    neon_ocsvm *svm;
    const neon_tensor *X; /* the data being explained (owned by the caller) */
} ocsvm_priv;

static void free_priv(void *p)
{
    ocsvm_priv *pv = p;
    if (!pv) return;
    neon_ocsvm_destroy(pv->svm);
    free(pv);
}

static void line(const cli_model *m, int64_t n, const neon_explain_result *r, FILE *f)
{
    const ocsvm_priv *pv = m->priv;
    const double t = neon_ocsvm_threshold(pv->svm);
    const char *flag = r->score > t ? "yes" : "no";
    if (pv->X && pv->X->ndim >= 2 && n < pv->X->shape[0]) {
        neon_tensor one = *pv->X;
        const int64_t per = neon_tensor_numel(pv->X) / pv->X->shape[0];
        one.data += n * per;
        one.shape[0] = 1;
        int out;
        flag = neon_ocsvm_outliers(pv->ctx, pv->svm, &one, &r->score, &out, NULL) ? "?"
               : out                                                               ? "yes"
                                                                                   : "no";
    }
    fprintf(f, "%lld %.7g %.7g %s %.7g\n", (long long)n, (double)r->score, t, flag,
            (double)r->relevance_sum);
}

int cli_load_ocsvm(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                   cli_model *m)
{
    (void)a;
    ocsvm_priv *pv = calloc(1, sizeof *pv);
    if (!pv) return cli_error(CLI_ERR, "out of memory");
    pv->ctx = ctx;
    pv->X = X;
    m->priv = pv;
    m->free_priv = free_priv;
    m->kind = MODEL_OCSVM;
    if (neon_ocsvm_load(ctx, path, &pv->svm)) return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    /* per-sample shape from the data: (N, ...) or one sample (D) */
    int ndim = 0;
    const int64_t *shape = NULL;
    if (X && X->ndim == 1) {
        ndim = 1;
        shape = X->shape;
    } else if (X && X->ndim >= 2) {
        ndim = X->ndim - 1;
        shape = X->shape + 1;
    }
    if (neon_ocsvm_graph(ctx, pv->svm, ndim, shape, &m->g)) {
        if (X) return cli_error(CLI_ERR, "%s: %s", path, neon_errmsg(ctx));
        return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    }
    snprintf(m->desc, sizeof m->desc,
             "one-class SVM %s: %lld support vectors, rbf gamma %g, rho %g; outlier when the "
             "score o(x) > %.7g",
             path, (long long)neon_ocsvm_num_sv(pv->svm), neon_ocsvm_gamma(pv->svm),
             neon_ocsvm_rho(pv->svm), neon_ocsvm_threshold(pv->svm));
    m->header = "# sample score threshold outlier relevance_sum";
    m->line = line;
    return CLI_OK;
}

#else /* !NEON_WITH_LIBSVM */

int cli_load_ocsvm(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                   cli_model *m)
{
    (void)ctx;
    (void)a;
    (void)X;
    (void)m;
    return cli_error(CLI_ERR, "%s: a libsvm model, but this neon was built without libsvm "
                     "(NEON_WITH_LIBSVM=OFF)", path);
}

#endif
