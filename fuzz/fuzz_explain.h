/* Shared by the fuzz targets that produce a graph: forward + rules +
 * relprop on a small deterministic batch when the graph is small enough to
 * run quickly.  `sel` (a hash of the input) picks the composite, the head
 * and the maxpool rule so that every combination gets exercised. */
#ifndef NEON_FUZZ_EXPLAIN_H
#define NEON_FUZZ_EXPLAIN_H

#include "fuzz_util.h"

#include <math.h>
#include <string.h>

#include "neonlrp/graph.h"
#include "neonlrp/io.h"
#include "neonlrp/rules.h"

#define FZ_MAX_FLOATS (1 << 20)   /* activations + relevance per sample, all nodes */
#define FZ_MAX_FLOPS (INT64_C(1) << 26)

static inline int64_t neon_find_nonfinite_fz(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return i;
    return -1;
}

static inline uint64_t fz_hash(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211u;
    return h;
}

/* Whether forward/relprop of N samples stays small (no other checks: the
 * library must validate everything else itself). */
static inline int fz_small(const neon_graph *g, int64_t N)
{
    int64_t total = 0;
    for (int i = 0; i < neon_graph_num_nodes(g); i++) {
        neon_node_info info;
        if (neon_graph_node_info(g, i, &info) != NEON_OK) abort();
        int64_t n = 1;
        for (int d = 0; d < info.ndim; d++) {
            if (info.shape[d] <= 0 || n > FZ_MAX_FLOATS / info.shape[d]) return 0;
            n *= info.shape[d];
        }
        total += 3 * n;
        if (total > FZ_MAX_FLOATS / N) return 0;
    }
    int64_t f = neon_graph_flops(g);
    return f >= 0 && f <= FZ_MAX_FLOPS / N;
}

static inline void fz_explain(neon_ctx *ctx, neon_graph *g, uint64_t sel)
{
    static const char *const comps[] = {"epsilon-plus", "epsilon-gamma-box", "epsilon-plus-flat",
                                        "epsilon-alpha2-beta1", "epsilon-alpha2-beta1-flat"};
    const int64_t N = 2;
    const int n_in = neon_graph_num_inputs(g);
    if (n_in < 1 || n_in > 4 || !fz_small(g, N)) return;
    neon_tensor xs[4], Rs[4];
    memset(xs, 0, sizeof xs);
    memset(Rs, 0, sizeof Rs);
    neon_rules *rules = NULL;
    for (int k = 0; k < n_in; k++) {
        neon_node_info info;
        if (neon_graph_node_info(g, neon_graph_input_id(g, k), &info) != NEON_OK) abort();
        int64_t shape[NEON_MAX_DIMS] = {N};
        for (int d = 0; d < info.ndim; d++) shape[d + 1] = info.shape[d];
        if (neon_tensor_alloc(ctx, &xs[k], info.ndim + 1, shape) != NEON_OK ||
            neon_tensor_alloc(ctx, &Rs[k], info.ndim + 1, shape) != NEON_OK)
            goto done;
        const int64_t n = neon_tensor_numel(&xs[k]);
        uint64_t s = sel | 1;
        for (int64_t i = 0; i < n; i++) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            xs[k].data[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
        }
    }
    if (neon_rules_create(ctx, &rules) != NEON_OK) abort();
    if (neon_rules_set_composite(rules, comps[sel % 5]) != NEON_OK) abort();
    if (neon_rules_set_bounds(rules, -1.0f, 1.0f) != NEON_OK) abort();
    if ((sel >> 3) & 1) neon_rules_set_maxpool(rules, NEON_RULE_SUMPOOL);
    neon_tensor y;
    neon_status st = neon_graph_forward_n(g, n_in, xs, &y);
    fz_check_msg(ctx, st);
    if (st != NEON_OK) goto done;
    st = neon_graph_set_rules(g, rules);
    fz_check_msg(ctx, st);
    if (st != NEON_OK) goto done;
    neon_explain_opts opts = {(neon_init)((sel >> 4) & 1), (neon_head)((sel >> 5) & 1)};
    neon_explain_result res[2];
    st = neon_graph_explain_n(g, n_in, xs, NULL, &opts, Rs, res);
    fz_check_msg(ctx, st);
    if (st == NEON_OK) {
        /* relevance is finite, or the call failed naming the node */
        for (int k = 0; k < n_in; k++)
            if (neon_find_nonfinite_fz(Rs[k].data, neon_tensor_numel(&Rs[k])) >= 0) abort();
    }
done:
    neon_rules_destroy(rules);
    for (int k = 0; k < n_in; k++) {
        neon_tensor_free(ctx, &xs[k]);
        neon_tensor_free(ctx, &Rs[k]);
    }
}

#endif
