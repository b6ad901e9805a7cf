/* BiLRP (RULES.md 8; Eberle et al. 2020): second-order relevance of a
 * matcher over pairs (i, j) of features of its two inputs.
 *
 * Per chunk of samples:
 *   1. forward; the read-out above the product node is explained with the
 *      ordinary rules (the engine walks the nodes above it): R_k per unit;
 *   2. every active unit k (R_k, phi_k, psi_k all non-zero) of every sample
 *      becomes one slot of a multi-seed relprop per branch, seeded with
 *      phi_k / stab(phi_k) at unit k: ONE batched pass per branch, each slot
 *      giving R^{phi_k}(x) / stab(phi_k) (LRP is linear in its seed);
 *   3. the per-unit maps are block-pooled, and per sample
 *      R (B1 x B2) = A^T diag(R_k) B, one GEMM over the active units.
 * Marginals sum_j R_ij are one more single-slot pass per branch, seeded
 * with sum_k R_k (phi_k/stab(phi_k)) (sum_j B_kj) at the units (linearity). */
#include "graph/graph_impl.h"
#include "neonlrp/bilrp.h"
#include "blas.h"

#include "bilrp_internal.h"

#include <string.h>

#define BILRP_BUDGET_FLOATS (INT64_C(16) << 20) /* ~64 MB of per-slot relevance maps */

typedef struct matcher {
    int prod;       /* the product node */
    int fac[2];     /* its factor on the x side and on the y side */
    char *upper;    /* nodes above the product (the product itself excluded) */
} matcher;

/* Finds the product node joining a branch of input 0 to a branch of input 1
 * and checks that the score depends on the inputs only through it. */
static neon_status find_matcher(neon_graph *g, matcher *m)
{
    neon_ctx *ctx = g->ctx;
    const int n = g->n_nodes, o = neon_graph_output_id(g);
    char lb[128], lb2[128];
    if (g->n_inputs != 2)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "pairwise explanation needs a model with two inputs (x and y); this one "
                         "has %d", g->n_inputs);
    unsigned char *dep = neon_calloc(ctx, (size_t)n, 1);
    char *need = neon_alloc(ctx, (size_t)n);
    m->upper = neon_calloc(ctx, (size_t)n, 1);
    if (!dep || !need || !m->upper) {
        neon_free(ctx, dep);
        neon_free(ctx, need);
        return NEON_ERR_NOMEM;
    }
    dep[g->inputs[0]] = 1;
    dep[g->inputs[1]] = 2;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < g->nodes[i].n_in; k++) dep[i] |= dep[g->nodes[i].in[k]];
    neon_graph_ancestors(g, o, need);
    neon_status st = NEON_OK;
    m->prod = -1;
    for (int i = 0; i < n && st == NEON_OK; i++) {
        const neon_node *nd = &g->nodes[i];
        if (!need[i] || nd->ops != &neon_product_ops) continue;
        const int a = dep[nd->in[0]], b = dep[nd->in[1]];
        if (!((a == 1 && b == 2) || (a == 2 && b == 1))) continue;
        if (m->prod >= 0) {
            st = neon_fail(ctx, NEON_ERR_UNSUPPORTED,
                           "two product nodes, %s and %s, join the branches of the two inputs; "
                           "BiLRP supports one",
                           neon_node_label(&g->nodes[m->prod], lb, sizeof lb), neon_node_label(nd, lb2, sizeof lb2));
            break;
        }
        m->prod = i;
        m->fac[0] = a == 1 ? nd->in[0] : nd->in[1];
        m->fac[1] = a == 1 ? nd->in[1] : nd->in[0];
    }
    if (st == NEON_OK && m->prod < 0)
        st = neon_fail(ctx, NEON_ERR_INVALID,
                       "no product node joins a branch of input '%s' to a branch of input '%s' "
                       "(a matcher multiplies phi(x) and psi(y) element-wise, e.g. ONNX Mul)",
                       g->nodes[g->inputs[0]].name, g->nodes[g->inputs[1]].name);
    if (st == NEON_OK) m->upper[m->prod] = 1;
    for (int i = 0; i < n && st == NEON_OK; i++) {
        const neon_node *nd = &g->nodes[i];
        if (!need[i] || i == m->prod) continue;
        int above = 0, below = 0;
        for (int k = 0; k < nd->n_in; k++) {
            if (m->upper[nd->in[k]]) above = 1;
            else if (dep[nd->in[k]]) below = 1;
        }
        if (above && below)
            st = neon_fail(ctx, NEON_ERR_UNSUPPORTED,
                           "node %s combines the product node's output with branch values; "
                           "BiLRP needs the score to depend on the inputs only through the "
                           "product node %s",
                           neon_node_label(nd, lb, sizeof lb), neon_node_label(&g->nodes[m->prod], lb2, sizeof lb2));
        else if (!above && dep[i] == 3)
            st = neon_fail(ctx, NEON_ERR_UNSUPPORTED,
                           "node %s mixes the two inputs outside the product node %s",
                           neon_node_label(nd, lb, sizeof lb), neon_node_label(&g->nodes[m->prod], lb2, sizeof lb2));
        m->upper[i] = (char)above;
    }
    if (st == NEON_OK) m->upper[m->prod] = 0; /* walked down to it, not through it */
    neon_free(ctx, dep);
    neon_free(ctx, need);
    return st;
}

neon_status neon_graph_bilrp_dims(neon_graph *g, int block, int64_t *D1, int64_t *D2)
{
    if (!g || !D1 || !D2) return NEON_ERR_INVALID;
    if (g->n_inputs != 2)
        return neon_fail(g->ctx, NEON_ERR_INVALID,
                         "pairwise explanation needs a model with two inputs; this one has %d",
                         g->n_inputs);
    const neon_node *a = &g->nodes[g->inputs[0]], *b = &g->nodes[g->inputs[1]];
    *D1 = neon_bilrp_pool_map(a->ndim, a->shape, block, NULL);
    *D2 = neon_bilrp_pool_map(b->ndim, b->shape, block, NULL);
    return NEON_OK;
}

static inline float stab(float z, float e) { return z >= 0.0f ? z + e : z - e; }

/* Work space of one call, sized for a chunk of nc samples. */
typedef struct bilrp_ws {
    int64_t nc, K, D[2], B[2], vcap; /* vcap: slots per backward pass (0: automatic) */
    int64_t *map[2];      /* element -> block, per input */
    float *Rk;            /* (nc, K) read-out relevance per unit */
    int64_t *src, *unit;  /* per slot (at most nc K) */
    float *w, *d[2];      /* per slot: R_k, phi_k/stab, psi_k/stab */
    int64_t *off, *cnt;   /* per sample: first slot, number of slots */
    float *P[2];          /* per slot: pooled maps (slots, B1) and (slots, B2) */
    float *s[2];          /* per slot: map totals */
    float *Rbuf;          /* (slots, max D) input relevance of one multi-seed call */
    float *seeds;         /* (nc, K) marginal seeds */
    int64_t *seq;         /* 0, 1, ..., nc - 1 */
} bilrp_ws;

static void ws_free(neon_ctx *ctx, bilrp_ws *w)
{
    void *p[] = {w->map[0], w->map[1], w->Rk, w->src, w->unit, w->w, w->d[0], w->d[1],
                 w->off, w->cnt, w->P[0], w->P[1], w->s[0], w->s[1], w->Rbuf, w->seeds, w->seq};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) neon_free(ctx, p[i]);
}

static neon_status ws_alloc(neon_ctx *ctx, bilrp_ws *w)
{
    const size_t slots = (size_t)(w->nc * (w->K + 1)), nc = (size_t)w->nc;
    const int64_t Dm = w->D[0] > w->D[1] ? w->D[0] : w->D[1];
    w->Rk = NEON_FALLOC(ctx, nc * (size_t)w->K);
    w->seeds = NEON_FALLOC(ctx, nc * (size_t)w->K);
    w->src = neon_alloc_array(ctx, slots, sizeof(int64_t));
    w->unit = neon_alloc_array(ctx, slots, sizeof(int64_t));
    w->off = neon_alloc_array(ctx, nc, sizeof(int64_t));
    w->cnt = neon_alloc_array(ctx, nc, sizeof(int64_t));
    w->seq = neon_alloc_array(ctx, nc, sizeof(int64_t));
    w->w = NEON_FALLOC(ctx, slots);
    w->Rbuf = neon_alloc_array(ctx, slots, (size_t)Dm * sizeof(float));
    int ok = w->Rk && w->seeds && w->src && w->unit && w->off && w->cnt && w->seq && w->w && w->Rbuf;
    for (size_t n = 0; ok && n < nc; n++) w->seq[n] = (int64_t)n;
    for (int b = 0; b < 2 && ok; b++) {
        w->d[b] = NEON_FALLOC(ctx, slots);
        w->s[b] = NEON_FALLOC(ctx, slots);
        w->P[b] = neon_alloc_array(ctx, slots, (size_t)w->B[b] * sizeof(float));
        ok = w->d[b] && w->s[b] && w->P[b];
    }
    return ok ? NEON_OK : NEON_ERR_NOMEM;
}

/* Explains branch b for all T slots (one multi-seed relprop): pooled maps
 * into P[b], their totals into s[b]. */
static neon_status branch_pass(neon_graph *g, const matcher *m, bilrp_ws *w, int b, int64_t T)
{
    const int64_t D = w->D[b], B = w->B[b];
    NEON_TRY(neon_relprop_multi(g, m->fac[b], T, w->src, NULL, w->d[b], w->unit, b, w->vcap,
                                w->Rbuf));
    for (int64_t v = 0; v < T; v++) {
        const float *r = w->Rbuf + v * D;
        float *p = w->P[b] + v * B;
        memset(p, 0, (size_t)B * sizeof *p);
        double tot = 0;
        for (int64_t i = 0; i < D; i++) {
            p[w->map[b][i]] += r[i];
            tot += r[i];
        }
        w->s[b][v] = (float)tot;
    }
    return NEON_OK;
}

/* Marginal of branch b: one slot per sample, seeded with the sum over its
 * units of R_k d_b,k s_other,k at unit k.  out (N, D_b). */
static neon_status marginal(neon_graph *g, const matcher *m, bilrp_ws *w, int b, int64_t N,
                            float *out)
{
    memset(w->seeds, 0, (size_t)(N * w->K) * sizeof(float));
    for (int64_t n = 0; n < N; n++)
        for (int64_t v = w->off[n]; v < w->off[n] + w->cnt[n]; v++)
            w->seeds[n * w->K + w->unit[v]] += w->w[v] * w->d[b][v] * w->s[1 - b][v];
    return neon_relprop_multi(g, m->fac[b], N, w->seq, w->seeds, NULL, NULL, b, w->vcap, out);
}

/* Read-out relevance R_k (N, K) at the product node: the output seeded at
 * each sample's target, walked down through the nodes above the product. */
static neon_status upper_pass(neon_graph *g, const matcher *m, const int *tg, const float *sc,
                              neon_init init, float *Rk)
{
    const int64_t N = g->N;
    const int o = neon_graph_output_id(g);
    neon_node *on = &g->nodes[o], *pn = &g->nodes[m->prod];
    for (int i = 0; i < g->n_nodes; i++)
        if (m->upper[i] || i == m->prod)
            memset(g->nodes[i].rel, 0, (size_t)(N * g->nodes[i].size) * sizeof(float));
    for (int64_t n = 0; n < N; n++) on->rel[n * on->size + tg[n]] = init == NEON_INIT_ONE ? 1.0f : sc[n];
    NEON_TRY(neon_relprop_walk_mask(g, o, m->upper));
    g->relprop_done = 0;
    memcpy(Rk, pn->rel, (size_t)(N * pn->size) * sizeof(float));
    return NEON_OK;
}

/* Targets (argmax by default) and explained scores of the chunk. */
static neon_status targets_of(neon_graph *g, const neon_tensor *y, const int *targets, int64_t s0,
                              int *tg, float *sc)
{
    const int64_t N = g->N, C = g->nodes[neon_graph_output_id(g)].size;
    for (int64_t n = 0; n < N; n++) {
        int t = targets ? targets[s0 + n] : NEON_TARGET_ARGMAX;
        const float *yn = y->data + n * C;
        if (t == NEON_TARGET_ARGMAX) {
            t = 0;
            for (int64_t k = 1; k < C; k++)
                if (yn[k] > yn[t]) t = (int)k;
        }
        if (t < 0 || t >= C)
            return neon_fail(g->ctx, NEON_ERR_INVALID,
                             "target %d of sample %lld is out of range: the model has %lld "
                             "output%s (0..%lld)",
                             t, (long long)(s0 + n), (long long)C, C == 1 ? "" : "s",
                             (long long)(C - 1));
        tg[n] = t;
        sc[n] = yn[t];
    }
    return NEON_OK;
}

/* One slot per active unit (R_k, phi_k, psi_k all non-zero) of every
 * sample; inactive units contribute nothing to R. */
static int64_t make_slots(neon_graph *g, const matcher *m, bilrp_ws *w, float e)
{
    const int64_t N = g->N, K = w->K;
    const float *phi = g->nodes[m->fac[0]].out, *psi = g->nodes[m->fac[1]].out;
    int64_t T = 0;
    for (int64_t n = 0; n < N; n++) {
        w->off[n] = T;
        for (int64_t k = 0; k < K; k++) {
            const float r = w->Rk[n * K + k], a = phi[n * K + k], b = psi[n * K + k];
            if (r == 0.0f || a == 0.0f || b == 0.0f) continue;
            w->src[T] = n;
            w->unit[T] = k;
            w->w[T] = r;
            w->d[0][T] = a / stab(a, e);
            w->d[1][T] = b / stab(b, e);
            T++;
        }
        w->cnt[n] = T - w->off[n];
    }
    return T;
}

static neon_status check_out(neon_graph *g, const neon_tensor *xs, const neon_tensor *R,
                             const neon_tensor *Rm, int64_t N, int64_t B1, int64_t B2)
{
    char want[96], got[96];
    const int64_t ws[3] = {N, B1, B2};
    if (!R || !R->data || R->ndim != 3 || R->shape[0] != N || R->shape[1] != B1 ||
        R->shape[2] != B2)
        return neon_fail(g->ctx, NEON_ERR_SHAPE, "bilrp: pair relevance must be %s, got %s",
                         neon_shape_str(3, ws, want, sizeof want),
                         R && R->ndim >= 0 && R->ndim <= NEON_MAX_DIMS
                             ? neon_shape_str(R->ndim, R->shape, got, sizeof got) : "(none)");
    for (int k = 0; Rm && k < 2; k++)
        if (!Rm[k].data || Rm[k].ndim != xs[k].ndim ||
            memcmp(Rm[k].shape, xs[k].shape, (size_t)xs[k].ndim * sizeof(int64_t)))
            return neon_fail(g->ctx, NEON_ERR_SHAPE,
                             "bilrp: marginal %d must have the shape of input %d", k, k);
    return NEON_OK;
}

neon_status neon_graph_bilrp(neon_graph *g, const neon_tensor *xs, const int *targets,
                             const neon_bilrp_opts *opts, neon_tensor *R, neon_tensor *Rm,
                             neon_explain_result *res)
{
    if (!g || !xs) return NEON_ERR_INVALID;
    neon_ctx *ctx = g->ctx;
    const neon_bilrp_opts dflt = {NEON_INIT_VALUE, 0, 0};
    if (!opts) opts = &dflt;
    NEON_TRY(neon_graph_finalize(g));
    matcher m = {-1, {-1, -1}, NULL};
    bilrp_ws w;
    memset(&w, 0, sizeof w);
    int *tg = NULL;
    float *sc = NULL;
    neon_status st = find_matcher(g, &m);
    const neon_node *in[2] = {&g->nodes[g->inputs[0]], g->n_inputs > 1 ? &g->nodes[g->inputs[1]] : NULL};
    int64_t N = xs[0].ndim > 0 ? xs[0].shape[0] : 0;
    for (int k = 0; st == NEON_OK && k < 2; k++) {
        const neon_tensor *x = &xs[k];
        if (!x->data || x->ndim != in[k]->ndim + 1 || x->shape[0] != N || N < 1 ||
            memcmp(x->shape + 1, in[k]->shape, (size_t)in[k]->ndim * sizeof(int64_t)))
            st = neon_graph_forward_n(g, 2, xs, NULL); /* reports the shape error */
        if (st == NEON_OK && (x->ndim != in[k]->ndim + 1 || x->shape[0] != N))
            st = neon_fail(ctx, NEON_ERR_SHAPE, "bilrp: input %d does not fit the model", k);
    }
    if (st == NEON_OK && !g->rules_set) st = neon_graph_set_rules(g, NULL);
    if (st != NEON_OK) goto done;
    const neon_node *pn = &g->nodes[m.prod];
    const float e = pn->rule.stabilizer > 0 ? pn->rule.stabilizer : NEON_DEFAULT_STABILIZER;
    w.K = pn->size;
    for (int k = 0; k < 2; k++) {
        w.D[k] = in[k]->size;
        w.B[k] = neon_bilrp_pool_map(in[k]->ndim, in[k]->shape, opts->block, NULL);
    }
    if ((st = check_out(g, xs, R, Rm, N, w.B[0], w.B[1]))) goto done;
    /* samples per chunk: the per-slot maps of a chunk within the budget */
    const int64_t Dm = w.D[0] > w.D[1] ? w.D[0] : w.D[1];
    w.nc = BILRP_BUDGET_FLOATS / ((w.K + 1) * (Dm + w.B[0] + w.B[1] + 8));
    w.nc = w.nc < 1 ? 1 : w.nc > N ? N : w.nc;
    w.vcap = opts->max_batch > 0 ? opts->max_batch : 0;
    tg = neon_alloc_array(ctx, (size_t)w.nc, sizeof *tg);
    sc = NEON_FALLOC(ctx, w.nc);
    for (int k = 0; k < 2; k++) {
        w.map[k] = neon_alloc_array(ctx, (size_t)w.D[k], sizeof(int64_t));
        if (w.map[k]) neon_bilrp_pool_map(in[k]->ndim, in[k]->shape, opts->block, w.map[k]);
    }
    if (!tg || !sc || !w.map[0] || !w.map[1] || (st = ws_alloc(ctx, &w))) {
        st = NEON_ERR_NOMEM;
        goto done;
    }
    const int64_t B1 = w.B[0], B2 = w.B[1];
    for (int64_t s0 = 0; s0 < N && st == NEON_OK; s0 += w.nc) {
        const int64_t nc = N - s0 < w.nc ? N - s0 : w.nc;
        neon_tensor xc[2] = {xs[0], xs[1]}, y;
        for (int k = 0; k < 2; k++) {
            xc[k].data = xs[k].data + s0 * w.D[k];
            xc[k].shape[0] = nc;
        }
        if ((st = neon_graph_forward_n(g, 2, xc, &y))) break;
        if ((st = targets_of(g, &y, targets, s0, tg, sc))) break;
        if ((st = upper_pass(g, &m, tg, sc, opts->init, w.Rk))) break;
        const int64_t T = make_slots(g, &m, &w, e);
        if (T && ((st = branch_pass(g, &m, &w, 0, T)) || (st = branch_pass(g, &m, &w, 1, T))))
            break;
        /* R_n (B1 x B2) = A_n^T diag(R_k) B_n over the sample's active slots */
        for (int64_t n = 0; n < nc; n++) {
            float *Rn = R->data + (s0 + n) * B1 * B2;
            const int64_t o = w.off[n], c = w.cnt[n];
            if (!c) {
                memset(Rn, 0, (size_t)(B1 * B2) * sizeof *Rn);
                continue;
            }
            for (int64_t v = o; v < o + c; v++) {
                float *a = w.P[0] + v * B1;
                for (int64_t i = 0; i < B1; i++) a[i] *= w.w[v];
            }
            neon_sgemm(1, 0, B1, B2, c, 1.0f, w.P[0] + o * B1, B1, w.P[1] + o * B2, B2, 0.0f, Rn,
                       B2);
        }
        for (int k = 0; Rm && k < 2 && st == NEON_OK; k++)
            st = marginal(g, &m, &w, k, nc, Rm[k].data + s0 * w.D[k]);
        for (int64_t n = 0; st == NEON_OK && n < nc; n++) {
            const float *Rn = R->data + (s0 + n) * B1 * B2;
            const int64_t bad = neon_find_nonfinite(Rn, B1 * B2);
            if (bad >= 0) {
                st = neon_fail(ctx, NEON_ERR_NUMERIC,
                               "bilrp: pair relevance of sample %lld became non-finite",
                               (long long)(s0 + n));
                break;
            }
            if (!res) continue;
            double s = 0;
            for (int64_t i = 0; i < B1 * B2; i++) s += Rn[i];
            res[s0 + n].target = tg[n];
            res[s0 + n].score = sc[n];
            res[s0 + n].relevance_sum = (float)s;
        }
    }
done:
    ws_free(ctx, &w);
    neon_free(ctx, m.upper);
    neon_free(ctx, tg);
    neon_free(ctx, sc);
    return st;
}
