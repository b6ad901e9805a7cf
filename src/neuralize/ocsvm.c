/* One-class SVMs through libsvm: load, fit, save, decision values.  The
 * only file of neonlrp that includes libsvm's svm.h.
 *
 * libsvm conventions (svm.cpp, 3.24; checked against svm_predict_values in
 * tests/test_ocsvm.c): a one-class model has nr_class 2, one row of
 * coefficients sv_coef[0][j] = alpha_j > 0 (the dual variables, sum = nu l)
 * and one rho; svm_predict_values returns
 * dec = sum_j sv_coef_j exp(-gamma ||x - u_j||^2) - rho, and svm_predict
 * labels x +1 when dec > 0, else -1.  Support vectors are sparse lists of
 * (1-based index, value) terminated by index -1; missing features are 0.
 * libsvm prints through svm_set_print_string_function (training); we set a
 * no-op printer before every call that could print. */
#include "ocsvm_impl.h"

#include <math.h>
#include <string.h>
#include <svm.h>

#include "io/atomic.h"

static void quiet(const char *s) { (void)s; }

/* Copies libsvm's model into our arrays (CSR, coefficients) and derives
 * the rest. */
static neon_status extract(neon_ocsvm *m, const char *what)
{
    neon_ctx *ctx = m->ctx;
    const struct svm_model *s = m->svm;
    const int64_t M = s->l;
    int64_t nnz = 0, maxi = 0;
    for (int64_t j = 0; j < M; j++)
        for (const struct svm_node *p = s->SV[j]; p->index != -1; p++) {
            nnz++;
            if (p->index > maxi) maxi = p->index;
        }
    m->M = M;
    m->gamma = s->param.gamma;
    m->rho = s->rho[0];
    m->coef = neon_alloc_array(ctx, (size_t)M, sizeof(double));
    m->sv_start = neon_alloc_array(ctx, (size_t)M + 1, sizeof(int64_t));
    m->sv_idx = neon_alloc_array(ctx, (size_t)(nnz ? nnz : 1), sizeof(int32_t));
    m->sv_val = NEON_FALLOC(ctx, nnz ? nnz : 1);
    if (!m->coef || !m->sv_start || !m->sv_idx || !m->sv_val) return NEON_ERR_NOMEM;
    int64_t k = 0;
    for (int64_t j = 0; j < M; j++) {
        m->coef[j] = s->sv_coef[0][j];
        m->sv_start[j] = k;
        for (const struct svm_node *p = s->SV[j]; p->index != -1; p++, k++) {
            m->sv_idx[k] = p->index - 1;
            m->sv_val[k] = (float)p->value;
            if (!isfinite(m->sv_val[k]))
                return neon_fail(ctx, NEON_ERR_NUMERIC, "%s: support vector %lld, feature %d: "
                                 "value %g is not a finite float", what, (long long)j, p->index,
                                 p->value);
        }
    }
    m->sv_start[M] = k;
    if (maxi > NEON_OCSVM_MAX_FEATURES)
        return neon_fail(ctx, NEON_ERR_UNSUPPORTED,
                         "%s: feature index %lld exceeds the supported %d features (the "
                         "neuralized model holds the support vectors densely)",
                         what, (long long)maxi, NEON_OCSVM_MAX_FEATURES);
    if (m->dim < maxi) m->dim = maxi;
    return neon_ocsvm_derive(m, what);
}

static neon_status new_model(neon_ctx *ctx, neon_ocsvm **out)
{
    *out = neon_calloc(ctx, 1, sizeof **out);
    if (!*out) return NEON_ERR_NOMEM;
    (*out)->ctx = ctx;
    return NEON_OK;
}

neon_status neon_ocsvm_load(neon_ctx *ctx, const char *path, neon_ocsvm **out)
{
    if (!ctx || !path || !out) return NEON_ERR_INVALID;
    *out = NULL;
    neon_ocsvm_file_info info;
    NEON_TRY(neon_ocsvm_check_file(ctx, path, &info));
    neon_ocsvm *m;
    NEON_TRY(new_model(ctx, &m));
    svm_set_print_string_function(quiet);
    m->svm = svm_load_model(path);
    neon_status st = NEON_OK;
    if (!m->svm)
        st = neon_fail(ctx, NEON_ERR_FORMAT, "%s: libsvm could not read the model", path);
    else if (svm_get_svm_type(m->svm) != ONE_CLASS || m->svm->param.kernel_type != RBF ||
             m->svm->l != info.total_sv || m->svm->nr_class != 2)
        st = neon_fail(ctx, NEON_ERR_FORMAT, "%s: libsvm read something else than the file "
                       "says (did it change while loading?)", path);
    if (st == NEON_OK) st = extract(m, path);
    if (st != NEON_OK) {
        neon_ocsvm_destroy(m);
        return st;
    }
    *out = m;
    return NEON_OK;
}

/* libsvm's training model points into the problem; give it its own
 * compact copy of the support vectors so the problem can go. */
static neon_status keep_svs(neon_ocsvm *m)
{
    struct svm_model *s = m->svm;
    int64_t n = 0;
    for (int j = 0; j < s->l; j++)
        for (const struct svm_node *p = s->SV[j];; p++) {
            n++;
            if (p->index == -1) break;
        }
    struct svm_node *space = neon_alloc_array(m->ctx, (size_t)(n ? n : 1), sizeof *space);
    if (!space) return NEON_ERR_NOMEM;
    int64_t k = 0;
    for (int j = 0; j < s->l; j++) {
        const struct svm_node *p = s->SV[j];
        s->SV[j] = space + k;
        do space[k++] = *p; while ((p++)->index != -1);
    }
    m->sv_space = space;
    return NEON_OK;
}

neon_status neon_ocsvm_fit(neon_ctx *ctx, const neon_tensor *X, double nu, double gamma,
                           neon_ocsvm **out)
{
    if (!ctx || !X || !X->data || !out) return NEON_ERR_INVALID;
    *out = NULL;
    const int64_t numel = neon_tensor_numel(X), N = X->ndim > 0 ? X->shape[0] : 0;
    if (X->ndim < 2 || N < 1 || numel <= 0 || N > INT32_MAX)
        return neon_fail(ctx, NEON_ERR_SHAPE, "ocsvm fit: data must be (N, features...) with "
                         "N >= 1");
    const int64_t D = numel / N;
    if (D > INT32_MAX - 1) return neon_fail(ctx, NEON_ERR_SHAPE, "ocsvm fit: too many features");
    if (!(nu > 0 && nu <= 1))
        return neon_fail(ctx, NEON_ERR_INVALID, "ocsvm fit: nu must be in (0, 1], got %g", nu);
    if (!(gamma > 0) || !isfinite(gamma))
        return neon_fail(ctx, NEON_ERR_INVALID, "ocsvm fit: gamma must be > 0, got %g", gamma);
    int64_t bad = neon_find_nonfinite(X->data, numel);
    if (bad >= 0)
        return neon_fail(ctx, NEON_ERR_NUMERIC, "ocsvm fit: non-finite value at sample %lld, "
                         "feature %lld", (long long)(bad / D), (long long)(bad % D));
    int64_t nnz = 0;
    for (int64_t i = 0; i < numel; i++) nnz += X->data[i] != 0.0f;
    struct svm_problem prob = {(int)N, NULL, NULL};
    struct svm_node *space = neon_alloc_array(ctx, (size_t)(nnz + N), sizeof *space);
    prob.x = neon_alloc_array(ctx, (size_t)N, sizeof *prob.x);
    prob.y = neon_alloc_array(ctx, (size_t)N, sizeof *prob.y);
    neon_ocsvm *m = NULL;
    neon_status st = (!space || !prob.x || !prob.y) ? NEON_ERR_NOMEM : new_model(ctx, &m);
    if (st == NEON_OK) {
        int64_t k = 0;
        for (int64_t n = 0; n < N; n++) {
            prob.x[n] = space + k;
            prob.y[n] = 1;
            for (int64_t i = 0; i < D; i++)
                if (X->data[n * D + i] != 0.0f)
                    space[k++] = (struct svm_node){(int)(i + 1), X->data[n * D + i]};
            space[k++].index = -1;
        }
        struct svm_parameter par;
        memset(&par, 0, sizeof par);
        par.svm_type = ONE_CLASS;
        par.kernel_type = RBF;
        par.degree = 3;
        par.gamma = gamma;
        par.cache_size = 100;
        par.eps = 1e-3;
        par.C = 1;
        par.nu = nu;
        par.p = 0.1;
        par.shrinking = 1;
        const char *why = svm_check_parameter(&prob, &par);
        if (why) st = neon_fail(ctx, NEON_ERR_INVALID, "ocsvm fit: libsvm refuses: %s", why);
        if (st == NEON_OK) {
            svm_set_print_string_function(quiet);
            m->svm = svm_train(&prob, &par);
            if (!m->svm) st = neon_fail(ctx, NEON_ERR_NOMEM, "ocsvm fit: svm_train failed");
        }
        if (st == NEON_OK) st = keep_svs(m);
        if (st == NEON_OK) {
            m->dim = D;
            st = extract(m, "ocsvm fit");
        }
    }
    neon_free(ctx, space);
    neon_free(ctx, prob.x);
    neon_free(ctx, prob.y);
    if (st != NEON_OK) {
        neon_ocsvm_destroy(m);
        return st;
    }
    *out = m;
    return NEON_OK;
}

neon_status neon_ocsvm_save(neon_ctx *ctx, const neon_ocsvm *m, const char *path)
{
    if (!ctx || !m || !path) return NEON_ERR_INVALID;
    neon_atomic_file af;
    NEON_TRY(neon_atomic_begin(ctx, path, &af));
    /* libsvm writes the temporary file by name; ours stays empty and open
     * so that commit can fsync and rename it */
    if (svm_save_model(af.tmp_path, m->svm) != 0) {
        neon_fail(ctx, NEON_ERR_IO, "%s: libsvm could not write the model", path);
        neon_atomic_abort(ctx, &af);
        return NEON_ERR_IO;
    }
    return neon_atomic_commit(ctx, &af);
}

void neon_ocsvm_destroy(neon_ocsvm *m)
{
    if (!m) return;
    neon_ctx *ctx = m->ctx;
    if (m->svm) svm_free_and_destroy_model(&m->svm);
    neon_free(ctx, m->sv_space);
    neon_free(ctx, m->coef);
    neon_free(ctx, m->sv_start);
    neon_free(ctx, m->sv_idx);
    neon_free(ctx, m->sv_val);
    neon_free(ctx, m->centre);
    neon_free(ctx, m);
}

void *neon_ocsvm_nodes_alloc(neon_ctx *ctx, int64_t D)
{
    return neon_alloc_array(ctx, (size_t)D + 1, sizeof(struct svm_node));
}

double neon_ocsvm_decision_row(const neon_ocsvm *m, const float *x, int64_t D, void *nodes)
{
    struct svm_node *nd = nodes;
    int64_t k = 0;
    for (int64_t i = 0; i < D; i++)
        if (x[i] != 0.0f) nd[k++] = (struct svm_node){(int)(i + 1), x[i]};
    nd[k].index = -1;
    double dec = 0;
    svm_predict_values(m->svm, nd, &dec);
    return dec;
}
