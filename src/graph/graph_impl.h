/* Internal graph representation shared by src/graph, src/layers,
 * src/relprop and the neuralizers.
 *
 * Layout: every activation is stored batch-major and C order: node output
 * for sample n starts at out + n * size.  Relevance buffers have the same
 * layout.  Relprop ADDS into the relevance buffers of a node's inputs, so
 * fan-out (one output feeding several nodes) needs no special case. */
#ifndef NEON_GRAPH_IMPL_H
#define NEON_GRAPH_IMPL_H

#include "core.h"
#include "neonlrp/graph.h"
#include "neonlrp/rules.h"

typedef struct neon_node neon_node;

/* Per-sample values of any node (absurd shapes are refused when the node is
 * added; every per-sample extent then fits BLAS's 32-bit dimensions). */
#define NEON_MAX_SAMPLE_NUMEL ((int64_t)INT32_MAX)

/* Which transform of a linear layer's weights an apply call uses. */
typedef enum neon_wsel {
    NEON_W_ORIG = 0, /* w            */
    NEON_W_POS,      /* (w)+         */
    NEON_W_SQ,       /* w^2          */
    NEON_W_ONES,     /* 1 on every tap that exists (flat rule) */
    NEON_W_NEG,      /* (w)-  (weightless kinds with positive weights: 0) */
    NEON_W_ROOT,     /* w o a0: per-output root points (kinds with has_root) */
    NEON_W__COUNT
} neon_wsel;

/* One const table per layer kind, in the kind's own file. */
typedef struct neon_layer_ops {
    const char *name;
    /* Computes nd->ndim/shape/size from the inputs and validates params. */
    neon_status (*infer)(neon_graph *g, neon_node *nd);
    /* out = f(inputs) for N samples; caches argmax etc. in nd->aux. */
    neon_status (*forward)(neon_graph *g, neon_node *nd, int64_t N);
    /* (optional) own rule: reads nd->rel, ADDS into the inputs' rel. */
    neon_status (*relprop)(neon_graph *g, neon_node *nd, int64_t N);
    /* (optional) linear kinds: z = rho(W) x, no bias.  x (N, in), z (N, out). */
    void (*apply)(neon_graph *g, const neon_node *nd, neon_wsel w, const float *x, float *z,
                  int64_t N, float *ws);
    /* (optional) linear kinds: c = rho(W)^T s.  s (N, out), c (N, in);
     * accumulate != 0 adds into c instead of overwriting. */
    void (*apply_t)(neon_graph *g, const neon_node *nd, neon_wsel w, const float *s, float *c,
                    int64_t N, float *ws, int accumulate);
    /* (optional) c (+)= rho1(W)^T s1 + rho2(W)^T s2 in one pass (e.g. one
     * col2im for both); without it the engine calls apply_t twice. */
    void (*apply_t2)(neon_graph *g, const neon_node *nd, neon_wsel w1, const float *s1,
                     neon_wsel w2, const float *s2, float *c, int64_t N, float *ws, int accumulate);
    /* (optional) floats of scratch for a batch of N (forward or relprop). */
    size_t (*workspace_size)(const neon_node *nd, int64_t N);
    /* (optional) floats of per-sample cache kept from forward (nd->aux). */
    size_t (*aux_size)(const neon_node *nd);
    /* (optional) frees nd->params. */
    void (*destroy)(neon_ctx *ctx, neon_node *nd);
    /* (optional) one-line description for `neon info`. */
    void (*describe)(const neon_node *nd, char *buf, size_t n);
} neon_layer_ops;

/* Linear-kind parameters handled by the engine (weights may be absent for
 * weightless kinds such as avg-pool: they interpret every neon_wsel). */
typedef struct neon_linear {
    float *W;                 /* n_w weights, layout of the kind */
    int64_t n_w;
    float *b;                 /* bias per output channel or NULL */
    int64_t out_ch;           /* bias broadcast: out = (out_ch, out_sp) per sample */
    int64_t out_sp;
    float *Wt[NEON_W__COUNT]; /* transformed weights (Wt[NEON_W_ORIG] == W), made by set_rules */
    int has_root;             /* the kind has per-output root points a0_k: the z-rule becomes
                               * R_j = sum_k w_jk (a_j - a0_kj) R_k / stab(z_k), i.e.
                               * R = a o (W^T s) - apply_t(NEON_W_ROOT, s); z_k is the forward
                               * output (the bias cancels: w_k . a0_k = -b_k) */
} neon_linear;

struct neon_node {
    const neon_layer_ops *ops;
    char *name;
    int id;
    int n_in;
    int *in;                  /* ids of input nodes */
    int ndim;                 /* per-sample output shape */
    int64_t shape[NEON_MAX_DIMS];
    int64_t size;             /* numel per sample */
    void *params;             /* kind-specific, owned */
    int is_linear;            /* ops->apply/apply_t present and lin used */
    neon_linear lin;
    int n_consumers;
    neon_rule rule;           /* resolved by neon_graph_set_rules */
    int rule_set;
    int input_nonneg;         /* set at relprop time: all inputs >= 0 */
    /* batch buffers (capacity g->cap samples) */
    float *out;
    float *rel;
    float *aux;               /* aux_size floats per sample */
    int out_is_view;          /* out aliases another buffer (reshape/identity) */
};

struct neon_graph {
    neon_ctx *ctx;
    neon_node *nodes;
    int n_nodes, cap_nodes;
    int *inputs;              /* node ids of graph inputs */
    int n_inputs;
    int output;               /* explained node; -1 = last */
    int finalized;
    int rules_set;
    int relprop_done;         /* relevance buffers hold a result */
    int64_t cap;              /* batch capacity of buffers */
    int64_t N;                /* batch of the last forward */
    float *ws;                /* shared scratch */
    size_t ws_cap;            /* floats */
};

/* ---- helpers for layer files ------------------------------------------- */

/* Appends a node (copies name); on success *out points to it, with its
 * inputs recorded and checked to exist.  ops->infer is called by the
 * caller-facing builder through neon_graph_commit_node. */
neon_status neon_graph_new_node(neon_graph *g, const char *name, const neon_layer_ops *ops,
                                int n_in, const int *in, neon_node **out);
/* Runs infer; on failure removes the node again.  Sets *id. */
neon_status neon_graph_commit_node(neon_graph *g, neon_node *nd, int *id);
/* Drops a node made by neon_graph_new_node that was not committed. */
void neon_graph_discard_node(neon_graph *g, neon_node *nd);
static inline neon_node *neon_in(neon_graph *g, const neon_node *nd, int k)
{
    return &g->nodes[nd->in[k]];
}
const char *neon_node_label(const neon_node *nd, char *buf, size_t n); /* "name (kind #id)" */

/* Copies n floats into a newly allocated array (NULL src -> NULL). */
neon_status neon_copy_floats(neon_ctx *ctx, const float *src, int64_t n, float **dst);

/* Generic linear rules (src/relprop/linear.c): relprop of a linear node
 * with its resolved rule. */
neon_status neon_linear_relprop(neon_graph *g, neon_node *nd, int64_t N);
/* Extra floats of scratch the generic linear rules need for N samples. */
size_t neon_linear_workspace(const neon_node *nd, const neon_node *in, int64_t N);

/* Engine steps (src/relprop/engine.c): zero every relevance buffer (after
 * setting default rules if none were set); then walk nodes top..0 backward. */
neon_status neon_relprop_begin(neon_graph *g);
neon_status neon_relprop_walk(neon_graph *g, int top);
/* Same walk restricted to the nodes with mask[i] != 0 (mask NULL: all);
 * only the masked graph inputs are checked at the end. */
neon_status neon_relprop_walk_mask(neon_graph *g, int top, const char *mask);

/* Multi-seed support (src/graph/slots.c).  nd->aux must hold per-sample
 * data that stays valid when copied to another sample slot (offsets within
 * the sample, never pointers or batch positions).
 * reserve: grows every buffer to hold N samples, keeping the cached
 * samples of the last forward (views re-pointed).
 * cache_floats / save / load: the cached out (non-view) and aux of the
 * nodes with mask[i] != 0: floats per sample; a copy of samples 0..N-1;
 * slot v (0 <= v < V) <- saved sample src[v] (src NULL: v), for the nodes
 * of mask (the saved layout) with only[i] != 0 (only NULL: all of them);
 * held (V entries or NULL): the sample each slot holds already (-1: none),
 * skipped when equal, updated after. */
neon_status neon_graph_reserve(neon_graph *g, int64_t N);
int64_t neon_graph_cache_floats(const neon_graph *g, const char *mask);
void neon_graph_cache_save(const neon_graph *g, const char *mask, int64_t N, float *dst);
void neon_graph_cache_load(neon_graph *g, const char *mask, const char *only, int64_t V,
                           const int64_t *src, const float *saved, int64_t N, int64_t *held);
/* mask[i] = 1 for node id and every node it depends on (its ancestors). */
void neon_graph_ancestors(const neon_graph *g, int id, char *mask);
/* Multi-seed relprop (src/relprop/seeds.c) over V virtual samples: slot v
 * is cached sample src[v] (0 <= src[v] < N of the last forward) with seed
 * (node's shape) seeds + v * size, or, when seeds is NULL, diag[v] at
 * element unit[v].  Only the ancestors of node run, in passes of at most
 * vcap slots (0: sized to stay in cache).  When a sample has more slots
 * than some node of the single-input chain below node has units, the
 * passes start from that node once per unit and are combined by GEMM (LRP
 * is linear in its seed).  R (V, numel of input k) receives input k's
 * relevance.  The forward cache of the N samples is kept. */
neon_status neon_relprop_multi(neon_graph *g, int node, int64_t V, const int64_t *src,
                               const float *seeds, const float *diag, const int64_t *unit, int k,
                               int64_t vcap, float *R);

/* Kinds defined in src/layers (for identification by the engine). */
extern const neon_layer_ops neon_input_ops, neon_dense_ops, neon_conv2d_ops, neon_maxpool2d_ops,
    neon_avgpool2d_ops, neon_gavgpool_ops, neon_relu_ops, neon_activation_ops, neon_batchnorm_ops,
    neon_reshape_ops, neon_add_ops, neon_concat_ops, neon_pad_ops, neon_minpool_ops;
extern const neon_layer_ops neon_product_ops, neon_reduce_sum_ops; /* src/layers/product.c */

#endif /* NEON_GRAPH_IMPL_H */
