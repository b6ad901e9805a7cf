/* Rule assignment: named composites (zennit 0.5), a uniform rule, per-node
 * overrides, and their resolution onto a graph (RULES.md 3). */
#include "graph/graph_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef enum { COMP_NONE = 0, COMP_EGB, COMP_EP, COMP_EPF, COMP_EAB, COMP_EABF } comp_id;

static const char *const comp_names[] = {"", "epsilon-gamma-box", "epsilon-plus",
                                         "epsilon-plus-flat", "epsilon-alpha2-beta1",
                                         "epsilon-alpha2-beta1-flat"};
#define N_COMP 6

typedef struct override {
    char *node;
    neon_rule rule;
} override;

struct neon_rules {
    neon_ctx *ctx;
    comp_id comp;
    int has_uniform;
    neon_rule uniform;
    float epsilon, gamma;  /* < 0: defaults */
    int n_bounds;          /* -1: none set */
    float low, high;
    float lows[NEON_MAX_BOUND_CHANNELS], highs[NEON_MAX_BOUND_CHANNELS];
    neon_rule_kind maxpool;
    override *ov;
    int n_ov;
};

neon_status neon_rules_create(neon_ctx *ctx, neon_rules **out)
{
    if (!ctx || !out) return NEON_ERR_INVALID;
    neon_rules *r = neon_calloc(ctx, 1, sizeof *r);
    if (!r) return NEON_ERR_NOMEM;
    r->ctx = ctx;
    r->epsilon = r->gamma = -1.0f;
    r->n_bounds = -1;
    r->maxpool = NEON_RULE_WTA;
    *out = r;
    return NEON_OK;
}

void neon_rules_destroy(neon_rules *r)
{
    if (!r) return;
    for (int i = 0; i < r->n_ov; i++) neon_free(r->ctx, r->ov[i].node);
    neon_free(r->ctx, r->ov);
    neon_free(r->ctx, r);
}

neon_status neon_rules_set_composite(neon_rules *r, const char *name)
{
    if (!r) return NEON_ERR_INVALID;
    for (int i = 1; i < N_COMP; i++)
        if (name && !strcmp(name, comp_names[i])) {
            r->comp = (comp_id)i;
            r->has_uniform = 0;
            return NEON_OK;
        }
    return neon_fail(r->ctx, NEON_ERR_INVALID,
                     "unknown composite '%s'; known composites: epsilon-gamma-box, epsilon-plus, "
                     "epsilon-plus-flat, epsilon-alpha2-beta1, epsilon-alpha2-beta1-flat",
                     name ? name : "");
}

neon_status neon_rules_set_uniform(neon_rules *r, const neon_rule *rule)
{
    if (!r || !rule) return NEON_ERR_INVALID;
    if (rule->kind < NEON_RULE_LRP0 || rule->kind > NEON_RULE_ZBOX)
        return neon_fail(r->ctx, NEON_ERR_INVALID,
                         "rule %s cannot be used as the uniform rule of linear layers",
                         neon_rule_name(rule->kind));
    if (rule->kind != NEON_RULE_ZBOX) NEON_TRY(neon_rule_check(r->ctx, rule));
    r->uniform = *rule;
    r->has_uniform = 1;
    r->comp = COMP_NONE;
    return NEON_OK;
}

neon_status neon_rules_set_params(neon_rules *r, float epsilon, float gamma)
{
    if (!r) return NEON_ERR_INVALID;
    if (epsilon >= 0 && !isfinite(epsilon))
        return neon_fail(r->ctx, NEON_ERR_INVALID, "epsilon must be finite");
    if (gamma >= 0 && !isfinite(gamma))
        return neon_fail(r->ctx, NEON_ERR_INVALID, "gamma must be finite");
    r->epsilon = epsilon;
    r->gamma = gamma;
    return NEON_OK;
}

neon_status neon_rules_set_bounds(neon_rules *r, float low, float high)
{
    if (!r) return NEON_ERR_INVALID;
    if (!isfinite(low) || !isfinite(high) || low > high)
        return neon_fail(r->ctx, NEON_ERR_INVALID, "bounds need finite low <= high, got [%g, %g]",
                         (double)low, (double)high);
    r->n_bounds = 0;
    r->low = low;
    r->high = high;
    return NEON_OK;
}

neon_status neon_rules_set_bounds_channels(neon_rules *r, int n, const float *low, const float *high)
{
    if (!r) return NEON_ERR_INVALID;
    if (n < 1 || n > NEON_MAX_BOUND_CHANNELS || !low || !high)
        return neon_fail(r->ctx, NEON_ERR_INVALID, "per-channel bounds: 1..%d channels, got %d",
                         NEON_MAX_BOUND_CHANNELS, n);
    for (int i = 0; i < n; i++)
        if (!isfinite(low[i]) || !isfinite(high[i]) || low[i] > high[i])
            return neon_fail(r->ctx, NEON_ERR_INVALID,
                             "bounds of channel %d need finite low <= high, got [%g, %g]", i,
                             (double)low[i], (double)high[i]);
    r->n_bounds = n;
    memcpy(r->lows, low, (size_t)n * sizeof(float));
    memcpy(r->highs, high, (size_t)n * sizeof(float));
    return NEON_OK;
}

neon_status neon_rules_set_maxpool(neon_rules *r, neon_rule_kind kind)
{
    if (!r) return NEON_ERR_INVALID;
    if (kind != NEON_RULE_WTA && kind != NEON_RULE_SUMPOOL)
        return neon_fail(r->ctx, NEON_ERR_INVALID, "max-pool rule must be wta or sumpool, got %s",
                         neon_rule_name(kind));
    r->maxpool = kind;
    return NEON_OK;
}

neon_status neon_rules_set_node(neon_rules *r, const char *node, const neon_rule *rule)
{
    if (!r || !node || !rule) return NEON_ERR_INVALID;
    override *ov = neon_realloc(r->ctx, r->ov, (size_t)(r->n_ov + 1) * sizeof *ov);
    if (!ov) return NEON_ERR_NOMEM;
    r->ov = ov;
    char *dup = neon_strdup(r->ctx, node);
    if (!dup) return NEON_ERR_NOMEM;
    ov[r->n_ov].node = dup;
    ov[r->n_ov].rule = *rule;
    r->n_ov++;
    return NEON_OK;
}

/* ---- resolution ------------------------------------------------------------ */

static int is_weighted(const neon_node *nd)
{
    return nd->is_linear && nd->lin.W != NULL;
}
static int is_conv(const neon_node *nd) { return nd->ops == &neon_conv2d_ops; }
/* dense_seq (an LSTM's input projection) is a dense layer applied per step */
static int is_dense(const neon_node *nd)
{
    return nd->ops == &neon_dense_ops || !strcmp(nd->ops->name, "dense_seq");
}

static void apply_bounds(const neon_rules *r, neon_rule *rule)
{
    if (rule->kind != NEON_RULE_ZBOX || r->n_bounds < 0) return;
    if (rule->n_bounds == 0 && isfinite(rule->low) && isfinite(rule->high)) return;
    rule->n_bounds = r->n_bounds;
    rule->low = r->low;
    rule->high = r->high;
    memcpy(rule->lows, r->lows, sizeof rule->lows);
    memcpy(rule->highs, r->highs, sizeof rule->highs);
}

/* Graphs with LSTM cells default to the reference semantics of RULES.md 7
 * (include/neonlrp/lstm.h): epsilon 1e-3 on the dense layers, also when no
 * rules are set at all. */
static int has_lstm(const neon_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (!strcmp(g->nodes[i].ops->name, "lstm_cell")) return 1;
    return 0;
}

/* The rule a node gets from the composite / uniform setting. */
static neon_rule base_rule(const neon_rules *r, const neon_node *nd, int first, int lstm)
{
    const float eps = r && r->epsilon >= 0 ? r->epsilon : lstm ? 1e-3f : 1e-6f;
    const float gam = r && r->gamma >= 0 ? r->gamma : 0.25f;
    neon_rule out = neon_rule_default(NEON_RULE_LRP0);
    if (nd->ops == &neon_maxpool2d_ops) return neon_rule_default(r ? r->maxpool : NEON_RULE_WTA);
    if (!nd->is_linear) {
        /* add: z-rule with the stabilizer; everything else routes or passes */
        return neon_rule_default(nd->ops == &neon_add_ops || nd->ops->relprop == NULL
                                     ? NEON_RULE_LRP0 : NEON_RULE_PASS);
    }
    if (!is_weighted(nd)) return out; /* avg-pool: z-rule */
    if (!r || (r->comp == COMP_NONE && !r->has_uniform)) {
        if (!lstm) return out;
        out = neon_rule_default(NEON_RULE_EPSILON);
        out.epsilon = eps;
        return out;
    }
    if (r->has_uniform) {
        out = r->uniform;
        return out;
    }
    if (is_dense(nd) || (!is_conv(nd) && !is_dense(nd))) {
        /* dense (and standalone affine BN): epsilon; flat first layer */
        if (first && (r->comp == COMP_EPF || r->comp == COMP_EABF))
            return neon_rule_default(NEON_RULE_FLAT);
        out = neon_rule_default(NEON_RULE_EPSILON);
        out.epsilon = eps;
        return out;
    }
    switch (r->comp) {
    case COMP_EGB:
        if (first) return neon_rule_default(NEON_RULE_ZBOX);
        out = neon_rule_default(NEON_RULE_GAMMA);
        out.gamma = gam;
        return out;
    case COMP_EP: return neon_rule_default(NEON_RULE_ZPLUS);
    case COMP_EPF: return neon_rule_default(first ? NEON_RULE_FLAT : NEON_RULE_ZPLUS);
    case COMP_EAB: return neon_rule_default(NEON_RULE_ALPHABETA);
    case COMP_EABF: return neon_rule_default(first ? NEON_RULE_FLAT : NEON_RULE_ALPHABETA);
    default: return out;
    }
}

static int find_node(const neon_graph *g, const char *spec)
{
    int id = neon_graph_find(g, spec);
    if (id >= 0) return id;
    const char *p = spec[0] == '#' ? spec + 1 : spec;
    char *end;
    long v = strtol(p, &end, 10);
    if (*p && !*end && v >= 0 && v < g->n_nodes) return (int)v;
    return -1;
}

static int rule_fits(const neon_node *nd, neon_rule_kind k)
{
    if (k >= NEON_RULE_LRP0 && k <= NEON_RULE_ZBOX)
        return nd->is_linear || ((nd->ops == &neon_add_ops) && k <= NEON_RULE_EPSILON);
    if (k == NEON_RULE_WTA || k == NEON_RULE_SUMPOOL) return nd->ops == &neon_maxpool2d_ops;
    if (k == NEON_RULE_PASS) return !nd->is_linear && nd->ops->relprop != NULL;
    return 0;
}

int neon_activation_sign_preserving(const neon_node *nd);

/* Materialises the weight transforms a rule needs. */
static neon_status prepare_weights(neon_graph *g, neon_node *nd)
{
    if (!is_weighted(nd)) return NEON_OK;
    const neon_rule_kind k = nd->rule.kind;
    int need[NEON_W__COUNT] = {0};
    need[NEON_W_POS] = k == NEON_RULE_GAMMA || k == NEON_RULE_ZPLUS ||
                       k == NEON_RULE_ALPHABETA || k == NEON_RULE_ZBOX;
    need[NEON_W_SQ] = k == NEON_RULE_WSQUARE;
    need[NEON_W_ONES] = k == NEON_RULE_FLAT;
    need[NEON_W_NEG] = k == NEON_RULE_ZPLUS || k == NEON_RULE_ALPHABETA;
    for (int w = 1; w < NEON_W__COUNT; w++) {
        if (!need[w] || nd->lin.Wt[w]) continue;
        float *t = NEON_FALLOC(g->ctx, nd->lin.n_w);
        if (!t) return NEON_ERR_NOMEM;
        for (int64_t i = 0; i < nd->lin.n_w; i++) {
            const float v = nd->lin.W[i];
            t[i] = w == NEON_W_POS ? (v > 0 ? v : 0.0f)
                 : w == NEON_W_NEG ? (v < 0 ? v : 0.0f)
                 : w == NEON_W_SQ  ? v * v
                                   : 1.0f;
        }
        nd->lin.Wt[w] = t;
    }
    return NEON_OK;
}

/* first[i] = 1 for the first conv/dense (topological order) that depends
 * on each graph input: every branch of a multi-input graph (e.g. the two
 * branches of a matcher) has its own first layer.  reach: n_nodes scratch. */
static void first_layers(const neon_graph *g, char *first, char *reach)
{
    for (int k = 0; k < g->n_inputs; k++) {
        memset(reach, 0, (size_t)g->n_nodes);
        reach[g->inputs[k]] = 1;
        int found = 0;
        for (int i = 0; i < g->n_nodes && !found; i++) {
            const neon_node *nd = &g->nodes[i];
            for (int j = 0; j < nd->n_in; j++) reach[i] |= reach[nd->in[j]];
            if (reach[i] && (is_conv(nd) || is_dense(nd))) first[i] = found = 1;
        }
    }
}

neon_status neon_graph_set_rules(neon_graph *g, const neon_rules *r)
{
    if (!g) return NEON_ERR_INVALID;
    NEON_TRY(neon_graph_finalize(g));
    neon_ctx *ctx = g->ctx;
    char *first = neon_calloc(ctx, 2 * (size_t)g->n_nodes, 1);
    neon_rule *res = first ? neon_alloc_array(ctx, (size_t)g->n_nodes, sizeof *res) : NULL;
    if (!res) {
        neon_free(ctx, first);
        return NEON_ERR_NOMEM;
    }
    first_layers(g, first, first + g->n_nodes);
    neon_status st = NEON_OK;
    const int lstm = has_lstm(g);
    for (int i = 0; i < g->n_nodes; i++) {
        neon_node *nd = &g->nodes[i];
        res[i] = base_rule(r, nd, first[i], lstm);
        if (r) apply_bounds(r, &res[i]);
    }
    neon_free(ctx, first);
    for (int k = 0; r && k < r->n_ov && st == NEON_OK; k++) {
        int id = find_node(g, r->ov[k].node);
        if (id < 0) {
            st = neon_fail(ctx, NEON_ERR_INVALID, "rule for node '%s': no such node (name or #index)",
                           r->ov[k].node);
            break;
        }
        char lb[128];
        if (!rule_fits(&g->nodes[id], r->ov[k].rule.kind)) {
            st = neon_fail(ctx, NEON_ERR_INVALID, "rule %s does not apply to node %s",
                           neon_rule_name(r->ov[k].rule.kind),
                           neon_node_label(&g->nodes[id], lb, sizeof lb));
            break;
        }
        res[id] = r->ov[k].rule;
        apply_bounds(r, &res[id]);
    }
    for (int i = 0; i < g->n_nodes && st == NEON_OK; i++) {
        neon_node *nd = &g->nodes[i];
        char lb[128];
        st = neon_rule_check(ctx, &res[i]);
        if (st != NEON_OK) {
            neon_errmsg_prefix(ctx, "node %s", neon_node_label(nd, lb, sizeof lb));
            break;
        }
        if (res[i].kind == NEON_RULE_ZBOX && res[i].n_bounds > 0 && nd->n_in > 0 &&
            neon_in(g, nd, 0)->shape[0] != res[i].n_bounds) {
            char sb[96];
            const neon_node *in = neon_in(g, nd, 0);
            st = neon_fail(ctx, NEON_ERR_SHAPE,
                           "node %s: %d per-channel bounds, but its input %s has %lld channels",
                           neon_node_label(nd, lb, sizeof lb), res[i].n_bounds,
                           neon_shape_str(in->ndim, in->shape, sb, sizeof sb),
                           (long long)in->shape[0]);
        }
    }
    if (st == NEON_OK) {
        for (int i = 0; i < g->n_nodes && st == NEON_OK; i++) {
            neon_node *nd = &g->nodes[i];
            nd->rule = res[i];
            nd->rule_set = 1;
            st = prepare_weights(g, nd);
            if (nd->ops == &neon_activation_ops && !neon_activation_sign_preserving(nd)) {
                char lb[128];
                neon_log(ctx, NEON_LOG_WARN,
                         "node %s: activation does not satisfy f(0)=0 / preserve the sign; "
                         "relevance passes through it unchanged and heatmaps may be hard to read",
                         neon_node_label(nd, lb, sizeof lb));
            }
        }
    }
    neon_free(ctx, res);
    if (st == NEON_OK) g->rules_set = 1;
    return st;
}

neon_status neon_graph_node_rule(const neon_graph *g, int id, neon_rule *out)
{
    if (!g || !out) return NEON_ERR_INVALID;
    if (id < 0 || id >= g->n_nodes)
        return neon_fail(g->ctx, NEON_ERR_INVALID, "no node %d (graph has %d)", id, g->n_nodes);
    const neon_node *nd = &g->nodes[id];
    if (nd->ops == &neon_input_ops) {
        *out = neon_rule_default(NEON_RULE_PASS);
        return NEON_OK;
    }
    *out = nd->rule_set ? nd->rule : base_rule(NULL, nd, 0, has_lstm(g));
    return NEON_OK;
}
