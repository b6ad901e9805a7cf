/* The evaluation's CSV output. */
#include "eval_impl.h"

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
