/* The evaluation's CSV output, and merging the results of groups of samples. */
#include "eval_impl.h"

#include <math.h>
#include <string.h>

#include "io/atomic.h"

neon_status neon_eval_write_csv(neon_ctx *ctx, const char *path, const neon_eval_result *r)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!path || !r) return neon_fail(ctx, NEON_ERR_INVALID, "eval csv: NULL argument");
    static const char *const orders[3] = {"morf", "lerf", "random"};
    neon_atomic_file af;
    NEON_TRY(neon_atomic_begin(ctx, path, &af));
    fprintf(af.fp, "# region perturbation: N=%lld, region %dx%d on %lldx%lld, L=%d, noise "
                   "U[%.9g, %.9g], seed %llu, score %s\n",
            (long long)r->n_samples, r->grid.rh, r->grid.rw, (long long)r->grid.h,
            (long long)r->grid.w, r->steps, (double)r->low, (double)r->high,
            (unsigned long long)r->seed, r->head == NEON_HEAD_LOGODDS ? "log-odds" : "logit");
    fprintf(af.fp, "method,order,step,fraction,mean_score,mean_drop\n");
    const double nr = (double)neon_region_count(&r->grid);
    for (int i = 0; i < r->n_methods; i++) {
        const neon_eval_method_result *m = &r->methods[i];
        for (int o = 0; o < 3; o++) {
            if (!m->curve[o]) continue;
            for (int k = 0; k <= r->steps; k++) {
                /* quote the name if it could break the row */
                const char *q = strpbrk(m->name, ",\"\n") ? "\"" : "";
                fprintf(af.fp, "%s%s%s,%s,%d,%.6g,%.9g,%.9g\n", q, m->name, q, orders[o], k,
                        k / nr, (double)m->curve[o][k],
                        (double)m->curve[o][0] - (double)m->curve[o][k]);
            }
        }
    }
    return neon_atomic_commit(ctx, &af);
}

neon_status neon_eval_result_merge(neon_ctx *ctx, neon_eval_result *const *parts, int n,
                                   neon_eval_result **out)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!parts || n < 1 || !out || !parts[0])
        return neon_fail(ctx, NEON_ERR_INVALID, "eval merge: nothing to merge");
    *out = NULL;
    const neon_eval_result *p0 = parts[0];
    int64_t N = 0;
    for (int g = 0; g < n; g++) {
        const neon_eval_result *p = parts[g];
        if (!p || p->n_methods != p0->n_methods || p->steps != p0->steps ||
            memcmp(&p->grid, &p0->grid, sizeof p->grid) || p->low != p0->low ||
            p->high != p0->high || p->seed != p0->seed || p->head != p0->head)
            return neon_fail(ctx, NEON_ERR_INVALID, "eval merge: part %d was run with other "
                             "methods, steps, regions or noise", g);
        for (int i = 0; i < p->n_methods; i++)
            if (strcmp(p->methods[i].name, p0->methods[i].name))
                return neon_fail(ctx, NEON_ERR_INVALID, "eval merge: method %d differs", i);
        N += p->n_samples;
    }
    neon_eval_result *r = neon_calloc(ctx, 1, sizeof *r);
    if (!r) return NEON_ERR_NOMEM;
    *r = *p0;
    r->ctx = ctx;
    r->n_samples = N;
    r->seconds = 0;
    r->methods = neon_calloc(ctx, (size_t)(p0->n_methods > 0 ? p0->n_methods : 1),
                             sizeof *r->methods);
    if (!r->methods) {
        neon_free(ctx, r);
        return NEON_ERR_NOMEM;
    }
    for (int g = 0; g < n; g++) r->seconds += parts[g]->seconds;
    const int L = p0->steps;
    for (int i = 0; i < p0->n_methods; i++) {
        neon_eval_method_result *m = &r->methods[i];
        snprintf(m->name, sizeof m->name, "%s", p0->methods[i].name);
        for (int g = 0; g < n; g++) m->seconds += parts[g]->methods[i].seconds;
        for (int s = 0; s < 3; s++) {
            if (!p0->methods[i].curve[s]) continue;
            if (!(m->curve[s] = neon_calloc(ctx, (size_t)L + 1, sizeof(float)))) {
                neon_eval_result_destroy(r);
                return NEON_ERR_NOMEM;
            }
            double a = 0, ss = 0;
            for (int g = 0; g < n; g++)
                a += parts[g]->methods[i].aopc[s] * (double)parts[g]->n_samples / (double)N;
            for (int g = 0; g < n; g++) { /* pooled: within-group + between-group squares */
                const neon_eval_method_result *q = &parts[g]->methods[i];
                const double ng = (double)parts[g]->n_samples, d = q->aopc[s] - a;
                ss += q->sem[s] * q->sem[s] * ng * (ng - 1) + ng * d * d;
            }
            m->aopc[s] = a;
            m->sem[s] = N > 1 ? sqrt(ss / (double)(N - 1) / (double)N) : 0;
            for (int k = 0; k <= L; k++) {
                double c = 0;
                for (int g = 0; g < n; g++)
                    c += (double)parts[g]->methods[i].curve[s][k] * (double)parts[g]->n_samples;
                m->curve[s][k] = (float)(c / (double)N);
            }
        }
    }
    *out = r;
    return NEON_OK;
}
