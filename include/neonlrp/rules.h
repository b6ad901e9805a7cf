/* neonlrp relevance rules, composites, and the explain call.
 * The numbers every rule produces are specified in RULES.md (shipped in the
 * docs); names follow zennit where zennit has the rule. */
#ifndef NEONLRP_RULES_H
#define NEONLRP_RULES_H

#include "neonlrp/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum neon_rule_kind {
    NEON_RULE_AUTO = 0,    /* whatever the composite / defaults give */
    NEON_RULE_LRP0,        /* z-rule with the stabilizer only */
    NEON_RULE_EPSILON,
    NEON_RULE_GAMMA,       /* generalized gamma (zennit Gamma) */
    NEON_RULE_ZPLUS,       /* alpha1-beta0 */
    NEON_RULE_ALPHABETA,
    NEON_RULE_FLAT,
    NEON_RULE_WSQUARE,
    NEON_RULE_ZBOX,        /* z^B: needs bounds */
    NEON_RULE_PASS,        /* relevance passes unchanged (activations, reshape) */
    NEON_RULE_WTA,         /* max-pool: winner takes all (ties split evenly) */
    NEON_RULE_SUMPOOL,     /* max-pool treated as sum-pooling with the z-rule */
    NEON_RULE__COUNT
} neon_rule_kind;

#define NEON_DEFAULT_STABILIZER 1e-6f
#define NEON_MAX_BOUND_CHANNELS 64

typedef struct neon_rule {
    neon_rule_kind kind;
    float epsilon;      /* LRP-epsilon's parameter */
    float gamma;        /* LRP-gamma's parameter */
    float alpha, beta;  /* alpha-beta: alpha - beta == 1, beta >= 0 */
    float stabilizer;   /* added as e*sgn(z), sgn(0)=+1; 0 means the default 1e-6 */
    int zero_bias;      /* treat b = 0 in the rule's own forward */
    /* z^B bounds: scalars when n_bounds == 0, else per input channel. */
    int n_bounds;
    float low, high;
    float lows[NEON_MAX_BOUND_CHANNELS], highs[NEON_MAX_BOUND_CHANNELS];
} neon_rule;

/* A rule of the given kind with the documented defaults: epsilon 1e-6,
 * gamma 0.25, alpha-beta 2/1 (z+ is 1/0), stabilizer 1e-6, no bounds. */
neon_rule neon_rule_default(neon_rule_kind kind);
const char *neon_rule_name(neon_rule_kind kind);
/* Parses "lrp0", "epsilon[:E]", "gamma[:G]", "zplus", "alphabeta[:A:B]",
 * "alpha2beta1", "flat", "wsquare" (or "w2"), "zbox[:L:H]", "pass", "wta",
 * "sumpool".  An unknown name is NEON_ERR_INVALID listing the known ones. */
neon_status neon_rule_parse(neon_ctx *ctx, const char *spec, neon_rule *out);
/* Checks parameters (alpha-beta constraint, z^B bounds present and l <= h,
 * epsilon/gamma >= 0 and finite).  Message names the rule. */
neon_status neon_rule_check(neon_ctx *ctx, const neon_rule *r);

/* ---- rule assignment ---------------------------------------------------- */

typedef struct neon_rules neon_rules;

neon_status neon_rules_create(neon_ctx *ctx, neon_rules **out);
void neon_rules_destroy(neon_rules *r);

/* Named composites (zennit 0.5): "epsilon-gamma-box", "epsilon-plus",
 * "epsilon-plus-flat", "epsilon-alpha2-beta1", "epsilon-alpha2-beta1-flat".
 * Unknown names are NEON_ERR_INVALID listing the known ones. */
neon_status neon_rules_set_composite(neon_rules *r, const char *name);
/* One rule for every weighted linear layer (dense, conv, standalone BN). */
neon_status neon_rules_set_uniform(neon_rules *r, const neon_rule *rule);
/* Overrides of the composite's parameters (epsilon of the dense layers,
 * gamma of the conv layers); values < 0 leave the default. */
neon_status neon_rules_set_params(neon_rules *r, float epsilon, float gamma);
/* z^B bounds for the composite / uniform zbox rule. */
neon_status neon_rules_set_bounds(neon_rules *r, float low, float high);
neon_status neon_rules_set_bounds_channels(neon_rules *r, int n, const float *low,
                                           const float *high);
/* Max-pool: NEON_RULE_WTA (default) or NEON_RULE_SUMPOOL. */
neon_status neon_rules_set_maxpool(neon_rules *r, neon_rule_kind kind);
/* Per-node assignment by node name, or by index written as "#12" or "12".
 * Takes precedence over composite and uniform rules. */
neon_status neon_rules_set_node(neon_rules *r, const char *node, const neon_rule *rule);

/* Resolves the rule of every node and prepares what relprop needs (cached
 * transformed weights).  Errors: a z^B rule without bounds, alpha-beta
 * with alpha - beta != 1, an override naming no node, a rule that does not
 * apply to the node's kind. */
neon_status neon_graph_set_rules(neon_graph *g, const neon_rules *r);
/* The rule a node got (kind NEON_RULE_PASS for pass-through nodes). */
neon_status neon_graph_node_rule(const neon_graph *g, int id, neon_rule *out);
/* "epsilon(1e-06)", "gamma(0.25)", "zbox[0,1]", ... */
char *neon_rule_str(const neon_rule *r, char *buf, size_t n);

/* ---- relevance propagation --------------------------------------------- */

/* Propagates R_top (N x output numel; N of the last forward) backward with
 * the rules set.  Input relevance is read with neon_graph_relevance on an
 * input node; every node's relevance is kept until the next call. */
neon_status neon_graph_relprop(neon_graph *g, const float *R_top);
neon_status neon_graph_relevance(neon_graph *g, int id, neon_tensor *view);

/* Multi-seed relprop: after a forward of N samples, propagates S seed
 * vectors per sample, seeds (N, S, numel of node), from node `node` down to
 * graph input k as batched passes over virtual samples (the cached
 * activations of the node's ancestors are copied into sample slots; only
 * the ancestors are walked; passes sized to stay in cache; when S exceeds
 * the width of a layer all the node's relevance flows through, the seeds
 * are carried down to it and one pass per unit of it suffices).  R (N, S,
 * numel of input k) receives the input relevance, equal to S separate
 * relprops.  The forward cache is kept; neon_graph_relevance is not. */
neon_status neon_graph_relprop_seeds(neon_graph *g, int node, int64_t S, const float *seeds, int k,
                                     float *R);

typedef enum neon_init { NEON_INIT_VALUE = 0, NEON_INIT_ONE = 1 } neon_init;
typedef enum neon_head { NEON_HEAD_LOGIT = 0, NEON_HEAD_LOGODDS = 1 } neon_head;

#define NEON_TARGET_ARGMAX (-1)

typedef struct neon_explain_opts {
    neon_init init;  /* start from the explained value (default) or from 1 */
    neon_head head;  /* explain the logit (default) or the log-odds */
} neon_explain_opts;

typedef struct neon_explain_result {
    int target;          /* class explained */
    float score;         /* explained value: logit z_c or log-odds eta_c */
    float relevance_sum; /* sum of input relevance */
} neon_explain_result;

/* forward + relprop for a batch.  targets: N entries (class index or
 * NEON_TARGET_ARGMAX), or NULL for argmax everywhere.  R: caller-allocated,
 * x's shape.  res: N entries or NULL.  An out-of-range target is
 * NEON_ERR_INVALID naming the sample. */
neon_status neon_graph_explain(neon_graph *g, const neon_tensor *x, const int *targets,
                               const neon_explain_opts *opts, neon_tensor *R,
                               neon_explain_result *res);
/* Same for graphs with several inputs; R[k] receives input k's relevance. */
neon_status neon_graph_explain_n(neon_graph *g, int n, const neon_tensor *xs, const int *targets,
                                 const neon_explain_opts *opts, neon_tensor *Rs,
                                 neon_explain_result *res);

/* Log-odds pool (RULES.md 4): given logits z (C >= 2), class c, writes
 * eta_c = -log sum_{c'!=c} exp(-(z_c - z_c')) and the relevance of the C-1
 * differences z_c - z_c' (c' != c, in increasing c'): min-take-most,
 * R_cc' = z_cc' p_cc' with p = softmin(z_c.) (init VALUE), or R_cc' = p_cc'
 * (init ONE).  Computed with the log-sum-exp shift. */
neon_status neon_logodds_pool(int C, const float *z, int c, neon_init init, double *eta,
                              double *Rdiff);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_RULES_H */
