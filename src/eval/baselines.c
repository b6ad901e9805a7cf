/* The relevance of every evaluated method: LRP rules through the engine,
 * and the baselines gradient x input, random relevance and occlusion. */
#include "eval_impl.h"

#include <string.h>

#include "graph/graph_impl.h"
#include "neonlrp/bilrp.h"

/* ---- gradient x input -------------------------------------------------------- */

int neon_eval_gradxinput_exact(const neon_graph *g)
{
    if (!g) return 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const neon_node *nd = &g->nodes[i];
        const neon_layer_ops *o = nd->ops;
        if (o == &neon_input_ops || o == &neon_conv2d_ops || o == &neon_relu_ops ||
            o == &neon_maxpool2d_ops || o == &neon_avgpool2d_ops || o == &neon_gavgpool_ops ||
            o == &neon_reshape_ops || o == &neon_add_ops || o == &neon_concat_ops ||
            o == &neon_pad_ops || o == &neon_batchnorm_ops)
            continue;
        if (o == &neon_dense_ops && !nd->lin.has_root) continue; /* a root point: not x*grad */
        if (o == &neon_activation_ops && o->describe) {
            char d[32];
            o->describe(nd, d, sizeof d);
            if (!strcmp(d, "identity") || !strcmp(d, "leaky_relu")) continue;
        }
        return 0;
    }
    return 1;
}

typedef struct fd_job {
    neon_graph *const *graphs;
    int n_inputs;
    const neon_tensor *xs;
    const int *targets;
    neon_head head;
    int64_t batch, per;
    float h;
    float *R;
} fd_job;

/* Central differences on every feature of input 0 of sample u, 2 * nb
 * shifted copies per forward. */
static neon_status fd_unit(void *user, int w, int64_t u)
{
    fd_job *j = user;
    neon_graph *g = j->graphs[w];
    neon_ctx *ctx = neon_graph_ctx(g);
    const int64_t per = j->per, pairs = j->batch / 2 > 0 ? j->batch / 2 : 1;
    const float *x = j->xs[0].data + u * per;
    float *X = NEON_FALLOC(ctx, 2 * pairs * per), *sc = NEON_FALLOC(ctx, 2 * pairs);
    neon_eval_ws ws = {{0}, {0}};
    neon_status st = X && sc ? NEON_OK : NEON_ERR_NOMEM;
    for (int64_t i0 = 0; st == NEON_OK && i0 < per; i0 += pairs) {
        const int64_t nb = per - i0 < pairs ? per - i0 : pairs;
        for (int64_t k = 0; k < nb; k++) {
            float *p = X + 2 * k * per, *m = p + per;
            memcpy(p, x, (size_t)per * sizeof(float));
            memcpy(m, x, (size_t)per * sizeof(float));
            p[i0 + k] += j->h;
            m[i0 + k] -= j->h;
        }
        st = neon_eval_forward(g, j->n_inputs, j->xs, X, 2 * nb, u, u, &j->targets[u], j->head,
                               sc, &ws);
        for (int64_t k = 0; st == NEON_OK && k < nb; k++) {
            const int64_t i = i0 + k;
            /* the step actually taken in float */
            const double step = (double)(x[i] + j->h) - (double)(x[i] - j->h);
            j->R[u * per + i] = (float)((double)x[i] * ((double)sc[2 * k] - sc[2 * k + 1]) / step);
        }
    }
    neon_eval_ws_free(ctx, &ws);
    neon_free(ctx, X);
    neon_free(ctx, sc);
    return st;
}

/* ---- occlusion ------------------------------------------------------------- */

typedef struct occ_job {
    neon_graph *const *graphs;
    int n_inputs;
    const neon_tensor *xs;
    const int *targets;
    const neon_eval_method *m;
    const neon_eval_opts *o;
    const neon_region_grid *grid;
    int64_t batch, per;
    float *R;
} occ_job;

/* Window start positions 0, s, 2s, ... plus the last one (n - r) so that
 * every pixel is covered. */
static int64_t positions(int64_t n, int r, int s, int64_t *pos)
{
    int64_t k = 0;
    for (int64_t p = 0; p + r <= n; p += s) pos[k++] = p;
    if (k == 0 || pos[k - 1] != n - r) pos[k++] = n - r;
    return k;
}

static neon_status occ_unit(void *user, int w, int64_t u)
{
    occ_job *j = user;
    neon_graph *g = j->graphs[w];
    neon_ctx *ctx = neon_graph_ctx(g);
    const neon_region_grid *gr = j->grid;
    const int s = j->m->stride > 0 ? j->m->stride : 1;
    const int64_t per = j->per, hw = gr->h * gr->w, B = j->batch;
    const float *x = j->xs[0].data + u * per;
    int64_t *py = neon_alloc_array(ctx, (size_t)gr->h + 1, sizeof *py);
    int64_t *px = neon_alloc_array(ctx, (size_t)gr->w + 1, sizeof *px);
    float *X = NEON_FALLOC(ctx, B * per), *sc = NEON_FALLOC(ctx, B), *fill = NEON_FALLOC(ctx, per);
    double *sum = neon_calloc(ctx, (size_t)hw, sizeof *sum);
    int32_t *cnt = neon_calloc(ctx, (size_t)hw, sizeof *cnt);
    neon_eval_ws ws = {{0}, {0}};
    neon_status st = py && px && X && sc && fill && sum && cnt ? NEON_OK : NEON_ERR_NOMEM;
    float f0 = 0;
    int64_t ny = 0, nx = 0;
    if (st == NEON_OK) {
        ny = positions(gr->h, gr->rh, s, py);
        nx = positions(gr->w, gr->rw, s, px);
        for (int64_t i = 0; i < per; i++)
            fill[i] = j->m->fill ? j->m->fill_value
                                 : (float)((double)j->o->low + ((double)j->o->high - j->o->low) *
                                           neon_hash_unit(neon_hash4(j->o->seed, NEON_STREAM_OCCLUSION,
                                                                     (uint64_t)neon_eval_sid(j->o, u),
                                                                     (uint64_t)i)));
        st = neon_eval_forward(g, j->n_inputs, j->xs, x, 1, u, u, &j->targets[u], j->o->explain.head,
                               &f0, &ws);
    }
    const int64_t W = ny * nx;
    for (int64_t w0 = 0; st == NEON_OK && w0 < W; w0 += B) {
        const int64_t nb = W - w0 < B ? W - w0 : B;
        for (int64_t k = 0; k < nb; k++) {
            float *p = X + k * per;
            memcpy(p, x, (size_t)per * sizeof(float));
            const int64_t y0 = py[(w0 + k) / nx], x0 = px[(w0 + k) % nx];
            for (int64_t c = 0; c < gr->c; c++)
                for (int64_t y = y0; y < y0 + gr->rh; y++) {
                    const int64_t off = c * hw + y * gr->w + x0;
                    memcpy(p + off, fill + off, (size_t)gr->rw * sizeof(float));
                }
        }
        st = neon_eval_forward(g, j->n_inputs, j->xs, X, nb, u, u, &j->targets[u],
                               j->o->explain.head, sc, &ws);
        for (int64_t k = 0; st == NEON_OK && k < nb; k++) {
            const int64_t y0 = py[(w0 + k) / nx], x0 = px[(w0 + k) % nx];
            const double d = (double)f0 - sc[k];
            for (int64_t y = y0; y < y0 + gr->rh; y++)
                for (int64_t xx = x0; xx < x0 + gr->rw; xx++) {
                    sum[y * gr->w + xx] += d;
                    cnt[y * gr->w + xx]++;
                }
        }
    }
    for (int64_t c = 0; st == NEON_OK && c < gr->c; c++)
        for (int64_t i = 0; i < hw; i++)
            j->R[u * per + c * hw + i] = cnt[i] ? (float)(sum[i] / cnt[i] / (double)gr->c) : 0.0f;
    neon_eval_ws_free(ctx, &ws);
    neon_free(ctx, py);
    neon_free(ctx, px);
    neon_free(ctx, X);
    neon_free(ctx, sc);
    neon_free(ctx, fill);
    neon_free(ctx, sum);
    neon_free(ctx, cnt);
    return st;
}

/* ---- dispatch ---------------------------------------------------------------- */

/* ---- LRP ------------------------------------------------------------------------ */

/* 1 for a matcher: two inputs meeting in a product node. */
static int is_matcher(const neon_graph *g)
{
    if (g->n_inputs != 2) return 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].ops->name, "product")) return 1;
    return 0;
}

typedef struct pair_job {
    neon_graph *const *graphs;
    const neon_tensor *xs;
    const int *targets;
    neon_init init;
    int block;
    int64_t batch, N;
    float *R0;
} pair_job;

/* BiLRP on samples [u*batch, ...): R0 receives the marginal of input 0,
 * sum_j R_ij (pairs pooled into one block: only the marginals are kept). */
static neon_status pair_unit(void *user, int w, int64_t u)
{
    pair_job *j = user;
    neon_graph *g = j->graphs[w];
    neon_ctx *ctx = neon_graph_ctx(g);
    const int64_t s = u * j->batch, nb = j->N - s < j->batch ? j->N - s : j->batch;
    neon_tensor xt[2], Rm[2], Rp = {NULL, 3, {nb, 1, 1}};
    for (int k = 0; k < 2; k++) {
        xt[k] = neon_eval_slice(&j->xs[k], j->N, s, nb);
        Rm[k] = xt[k];
    }
    Rm[0].data = j->R0 + s * (neon_tensor_numel(&j->xs[0]) / j->N);
    Rm[1].data = NEON_FALLOC(ctx, neon_tensor_numel(&xt[1]));
    Rp.data = NEON_FALLOC(ctx, nb);
    neon_status st = Rm[1].data && Rp.data ? NEON_OK : NEON_ERR_NOMEM;
    const neon_bilrp_opts bo = {j->init, j->block, 0};
    if (st == NEON_OK) st = neon_graph_bilrp(g, xt, j->targets + s, &bo, &Rp, Rm, NULL);
    neon_free(ctx, Rm[1].data);
    neon_free(ctx, Rp.data);
    return st;
}

/* Explains with the graphs' current rules; R receives input 0's relevance
 * (for matchers: the BiLRP marginal of the first input). */
static neon_status explain_all(neon_graph *const *graphs, int n_graphs, int n_inputs,
                               const neon_tensor *xs, const int *targets,
                               const neon_explain_opts *eo, int64_t batch, neon_tensor *R)
{
    neon_ctx *ctx = neon_graph_ctx(graphs[0]);
    if (is_matcher(graphs[0])) {
        int block = 1;
        for (int k = 0; k < 2; k++) {
            int64_t H, W;
            neon_pair_grid(xs[k].ndim - 1, xs[k].shape + 1, &H, &W);
            block = H > block ? (int)H : block;
            block = W > block ? (int)W : block;
        }
        pair_job j = {graphs, xs, targets, eo->init, block, batch, xs[0].shape[0], R->data};
        neon_pool_job pj = {graphs, n_graphs, (j.N + batch - 1) / batch, pair_unit, &j, "bilrp",
                            NULL, NULL};
        return neon_pool_run(&pj);
    }
    neon_tensor Rs[NEON_EVAL_MAX_INPUTS];
    neon_status st = NEON_OK;
    Rs[0] = *R;
    int k = 1;
    for (; k < n_inputs && st == NEON_OK; k++)
        st = neon_tensor_alloc(ctx, &Rs[k], xs[k].ndim, xs[k].shape);
    if (st == NEON_OK)
        st = neon_explain_parallel(graphs, n_graphs, n_inputs, xs, targets, eo, batch, Rs, NULL);
    for (int i = 1; i < k; i++) neon_tensor_free(ctx, &Rs[i]);
    return st;
}

neon_status neon_eval_relevance(neon_graph *const *graphs, int n_graphs, int n_inputs,
                                const neon_tensor *xs, const neon_eval_method *m,
                                const int *targets, const neon_eval_opts *o,
                                const neon_region_grid *grid, neon_tensor *R)
{
    int64_t N, per;
    NEON_TRY(neon_eval_check(graphs, n_graphs, n_inputs, xs, &N, &per));
    neon_ctx *ctx = neon_graph_ctx(graphs[0]);
    if (!m || !o || !grid || !targets || !R || !R->data || neon_tensor_numel(R) != N * per)
        return neon_fail(ctx, NEON_ERR_INVALID, "eval relevance: bad arguments");
    if (grid->c * grid->h * grid->w != per)
        return neon_fail(ctx, NEON_ERR_SHAPE, "eval relevance: the grid does not fit the input");
    const int64_t batch = o->batch > 0 ? o->batch : 64;
    neon_pool_prepare(graphs, n_graphs);
    switch (m->kind) {
    case NEON_EVAL_LRP:
        for (int w = 0; m->rules && w < n_graphs; w++) NEON_TRY(neon_graph_set_rules(graphs[w], m->rules));
        return explain_all(graphs, n_graphs, n_inputs, xs, targets, &o->explain, batch, R);
    case NEON_EVAL_GRADXINPUT: {
        if (neon_eval_gradxinput_exact(graphs[0])) {
            neon_rules *rs;
            NEON_TRY(neon_rules_create(ctx, &rs));
            neon_rule r0 = neon_rule_default(NEON_RULE_LRP0);
            neon_status st = neon_rules_set_uniform(rs, &r0);
            if (st == NEON_OK) st = neon_rules_set_maxpool(rs, NEON_RULE_WTA);
            for (int w = 0; st == NEON_OK && w < n_graphs; w++) st = neon_graph_set_rules(graphs[w], rs);
            neon_rules_destroy(rs);
            NEON_TRY(st);
            /* start from the value: the top layer's s = f / stab(f) = 1 */
            const neon_explain_opts eo = {NEON_INIT_VALUE, o->explain.head};
            return explain_all(graphs, n_graphs, n_inputs, xs, targets, &eo, batch, R);
        }
        const float span = o->high > o->low ? o->high - o->low : 1.0f;
        fd_job j = {graphs, n_inputs, xs, targets, o->explain.head, batch < 2 ? 2 : batch, per,
                    1e-3f * span, R->data};
        neon_pool_job pj = {graphs, n_graphs, N, fd_unit, &j, "gradient (finite differences)",
                            o->progress, o->progress_user};
        return neon_pool_run(&pj);
    }
    case NEON_EVAL_RANDOM:
        for (int64_t n = 0; n < N; n++)
            for (int64_t i = 0; i < per; i++)
                R->data[n * per + i] = (float)neon_hash_unit(neon_hash4(
                    o->seed, NEON_STREAM_RELEVANCE, (uint64_t)neon_eval_sid(o, n), (uint64_t)i));
        return NEON_OK;
    case NEON_EVAL_OCCLUSION: {
        occ_job j = {graphs, n_inputs, xs, targets, m, o, grid, batch, per, R->data};
        neon_pool_job pj = {graphs, n_graphs, N, occ_unit, &j, "occlusion", o->progress,
                            o->progress_user};
        return neon_pool_run(&pj);
    }
    }
    return neon_fail(ctx, NEON_ERR_INVALID, "unknown evaluation method kind %d", (int)m->kind);
}
