/* Targets, initial relevance and the top layer (RULES.md 0 and 4): explain
 * the logit z_c, or the log-odds eta_c through a difference layer and a
 * reverse log-sum-exp pool (min-take-most). */
#include "graph/graph_impl.h"

#include <math.h>
#include <string.h>

/* eta = -log sum_k exp(-zd_k) (shifted), R_k = zd_k p_k or p_k.  R may be
 * zd itself (in place): each R_k is written after zd_k is read. */
static void lse_pool(int m, const double *zd, neon_init init, double *eta, double *R)
{
    double mn = zd[0];
    for (int k = 1; k < m; k++) mn = zd[k] < mn ? zd[k] : mn;
    double S = 0;
    for (int k = 0; k < m; k++) S += exp(-(zd[k] - mn));
    *eta = mn - log(S);
    for (int k = 0; k < m; k++) {
        const double p = exp(-(zd[k] - mn)) / S;
        R[k] = init == NEON_INIT_ONE ? p : zd[k] * p;
    }
}

neon_status neon_logodds_pool(int C, const float *z, int c, neon_init init, double *eta,
                              double *Rdiff)
{
    if (C < 2 || !z || c < 0 || c >= C || !eta || !Rdiff) return NEON_ERR_INVALID;
    /* the differences go straight into Rdiff (no stack array: C may be huge) */
    for (int k = 0, m = 0; k < C; k++)
        if (k != c) Rdiff[m++] = (double)z[c] - (double)z[k];
    lse_pool(C - 1, Rdiff, init, eta, Rdiff);
    return NEON_OK;
}

/* Log-odds head for the samples whose target is c: a temporary graph
 * input (K) -> dense (C-1 rows w_c - w_c', b_c - b_c') with the output
 * layer's rule, explained through the engine itself. */
static neon_status logodds_class(neon_graph *g, neon_node *d, int c, const int *tg, int64_t N,
                                 float *scores)
{
    neon_ctx *ctx = g->ctx;
    neon_node *in = neon_in(g, d, 0);
    const int64_t K = in->size, C = d->size;
    int64_t cnt = 0;
    for (int64_t n = 0; n < N; n++) cnt += tg[n] == c;
    if (!cnt) return NEON_OK;
    neon_status st = NEON_ERR_NOMEM;
    neon_graph *t = NULL;
    float *Wd = NEON_FALLOC(ctx, (C - 1) * K), *bd = NEON_FALLOC(ctx, C - 1);
    float *X = NEON_FALLOC(ctx, cnt * K), *Rt = NEON_FALLOC(ctx, cnt * (C - 1));
    double *zd = neon_alloc_array(ctx, (size_t)(C - 1), sizeof(double)); /* heap: C may be huge */
    neon_rules *rules = NULL;
    if (!Wd || !bd || !X || !Rt || !zd) goto done;
    for (int64_t k = 0, m = 0; k < C; k++) {
        if (k == c) continue;
        for (int64_t j = 0; j < K; j++) Wd[m * K + j] = d->lin.W[c * K + j] - d->lin.W[k * K + j];
        bd[m] = d->lin.b ? d->lin.b[c] - d->lin.b[k] : 0.0f;
        m++;
    }
    for (int64_t n = 0, r = 0; n < N; n++)
        if (tg[n] == c) memcpy(X + (r++) * K, in->out + n * K, (size_t)K * sizeof(float));
    int xi, di;
    const int64_t shp[1] = {K};
    if ((st = neon_graph_create(ctx, &t)) || (st = neon_graph_add_input(t, "a", 1, shp, &xi)) ||
        (st = neon_graph_add_dense(t, d->name, xi, C - 1, Wd, d->lin.b ? bd : NULL, &di)) ||
        (st = neon_rules_create(ctx, &rules)))
        goto done;
    if (d->rule.kind >= NEON_RULE_LRP0 && d->rule.kind <= NEON_RULE_ZBOX)
        if ((st = neon_rules_set_uniform(rules, &d->rule))) goto done;
    neon_tensor xt = {X, 2, {cnt, K}}, yt;
    if ((st = neon_graph_forward(t, &xt, &yt)) || (st = neon_graph_set_rules(t, rules))) goto done;
    const neon_init init = (neon_init)(scores[N] != 0.0f); /* stashed by the caller */
    for (int64_t n = 0, r = 0; n < N; n++) {
        if (tg[n] != c) continue;
        double eta;
        for (int64_t k = 0; k < C - 1; k++) zd[k] = yt.data[r * (C - 1) + k];
        lse_pool((int)(C - 1), zd, init, &eta, zd);
        for (int64_t k = 0; k < C - 1; k++) Rt[r * (C - 1) + k] = (float)zd[k];
        scores[n] = (float)eta;
        r++;
    }
    if ((st = neon_graph_relprop(t, Rt))) goto done;
    neon_tensor ra;
    if ((st = neon_graph_relevance(t, xi, &ra))) goto done;
    for (int64_t n = 0, r = 0; n < N; n++)
        if (tg[n] == c) {
            for (int64_t j = 0; j < K; j++) in->rel[n * K + j] += ra.data[r * K + j];
            r++;
        }
done:
    neon_rules_destroy(rules);
    neon_graph_destroy(t);
    neon_free(ctx, Wd);
    neon_free(ctx, bd);
    neon_free(ctx, X);
    neon_free(ctx, Rt);
    neon_free(ctx, zd);
    return st;
}

/* sum of x[0..n) in double, with 8 independent partial sums (vectorizes) */
static double sum_floats(const float *x, int64_t n)
{
    double p[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) p[k] += x[i + k];
    double s = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    for (; i < n; i++) s += x[i];
    return s;
}

neon_status neon_graph_explain_n(neon_graph *g, int n_in, const neon_tensor *xs, const int *targets,
                                 const neon_explain_opts *opts, neon_tensor *Rs,
                                 neon_explain_result *res)
{
    if (!g || !xs || !Rs) return NEON_ERR_INVALID;
    neon_ctx *ctx = g->ctx;
    const neon_explain_opts dflt = {NEON_INIT_VALUE, NEON_HEAD_LOGIT};
    if (!opts) opts = &dflt;
    neon_tensor y;
    NEON_TRY(neon_graph_forward_n(g, n_in, xs, &y));
    const int64_t N = g->N;
    for (int k = 0; k < n_in; k++)
        if (!Rs[k].data || Rs[k].ndim != xs[k].ndim ||
            memcmp(Rs[k].shape, xs[k].shape, (size_t)xs[k].ndim * sizeof(int64_t)))
            return neon_fail(ctx, NEON_ERR_SHAPE, "explain: relevance buffer %d must have the "
                             "input's shape", k);
    const int o = neon_graph_output_id(g);
    neon_node *on = &g->nodes[o];
    const int64_t C = on->size;
    int *tg = neon_alloc_array(ctx, (size_t)N, sizeof(int));
    float *sc = NEON_FALLOC(ctx, N + 1);
    float *Rt = NEON_FALLOC(ctx, N * C);
    neon_status st = (!tg || !sc || !Rt) ? NEON_ERR_NOMEM : NEON_OK;
    for (int64_t n = 0; st == NEON_OK && n < N; n++) {
        int t = targets ? targets[n] : NEON_TARGET_ARGMAX;
        const float *yn = y.data + n * C;
        if (t == NEON_TARGET_ARGMAX) {
            t = 0;
            for (int64_t k = 1; k < C; k++)
                if (yn[k] > yn[t]) t = (int)k;
        }
        if (t < 0 || t >= C)
            st = neon_fail(ctx, NEON_ERR_INVALID,
                           "target %d of sample %lld is out of range: the model has %lld output%s "
                           "(0..%lld)",
                           t, (long long)n, (long long)C, C == 1 ? "" : "s", (long long)(C - 1));
        else {
            tg[n] = t;
            sc[n] = yn[t];
        }
    }
    if (st == NEON_OK) st = neon_relprop_begin(g);
    if (st == NEON_OK && opts->head == NEON_HEAD_LOGODDS) {
        char lb[128];
        if (on->ops != &neon_dense_ops || C < 2)
            st = neon_fail(ctx, NEON_ERR_UNSUPPORTED,
                           "log-odds head needs a dense output layer with >= 2 classes; the output "
                           "is node %s",
                           neon_node_label(on, lb, sizeof lb));
        sc[N] = opts->init == NEON_INIT_ONE ? 1.0f : 0.0f;
        for (int c = 0; st == NEON_OK && c < C; c++) st = logodds_class(g, on, c, tg, N, sc);
        if (st == NEON_OK) st = neon_relprop_walk(g, on->id - 1);
    } else if (st == NEON_OK) {
        memset(Rt, 0, (size_t)(N * C) * sizeof(float));
        for (int64_t n = 0; n < N; n++)
            Rt[n * C + tg[n]] = opts->init == NEON_INIT_ONE ? 1.0f : sc[n];
        memcpy(on->rel, Rt, (size_t)(N * C) * sizeof(float));
        st = neon_relprop_walk(g, o);
    }
    for (int k = 0; st == NEON_OK && k < n_in; k++) {
        const neon_node *in = &g->nodes[g->inputs[k]];
        memcpy(Rs[k].data, in->rel, (size_t)(N * in->size) * sizeof(float));
    }
    for (int64_t n = 0; st == NEON_OK && res && n < N; n++) {
        double s = 0;
        for (int k = 0; k < n_in; k++) {
            const neon_node *in = &g->nodes[g->inputs[k]];
            s += sum_floats(in->rel + n * in->size, in->size);
        }
        res[n].target = tg[n];
        res[n].score = sc[n];
        res[n].relevance_sum = (float)s;
    }
    neon_free(ctx, tg);
    neon_free(ctx, sc);
    neon_free(ctx, Rt);
    return st;
}

neon_status neon_graph_explain(neon_graph *g, const neon_tensor *x, const int *targets,
                               const neon_explain_opts *opts, neon_tensor *R,
                               neon_explain_result *res)
{
    return neon_graph_explain_n(g, 1, x, targets, opts, R, res);
}
