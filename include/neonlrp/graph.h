/* neonlrp graphs: a DAG of layers that runs forward and propagates
 * relevance backward.
 *
 * Nodes are added in topological order (a node names only earlier nodes as
 * inputs), so a graph built through this API can never contain a cycle.
 * Shapes given to the builders are per sample (no batch axis); the batch
 * size is chosen at each forward call.  A node may hold at most 2^31 - 1
 * values per sample: larger (or overflowing) shapes are NEON_ERR_SHAPE
 * naming the node.  Builders copy the weights they are
 * given.  Node ids are small non-negative integers returned through *id.
 */
#ifndef NEONLRP_GRAPH_H
#define NEONLRP_GRAPH_H

#include "neonlrp/neon.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct neon_graph neon_graph;

neon_status neon_graph_create(neon_ctx *ctx, neon_graph **out);
void neon_graph_destroy(neon_graph *g); /* NULL is a no-op */
neon_ctx *neon_graph_ctx(const neon_graph *g);

/* ---- builders ---------------------------------------------------------- */

/* A graph input with per-sample shape (e.g. {1, 28, 28}). */
neon_status neon_graph_add_input(neon_graph *g, const char *name, int ndim, const int64_t *shape,
                                 int *id);

/* y = W x + b over the flattened input; W is (n_out, n_in) row-major, b is
 * (n_out) or NULL.  Output shape (n_out). */
neon_status neon_graph_add_dense(neon_graph *g, const char *name, int input, int64_t n_out,
                                 const float *W, const float *b, int *id);

typedef struct neon_conv2d_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w;       /* 0 means 1 */
    int pad_top, pad_left, pad_bottom, pad_right;
    int dilation_h, dilation_w;   /* 0 means 1 */
    int groups;                   /* 0 means 1; == c_in and c_out for depthwise */
} neon_conv2d_params;

/* 2-d convolution (cross-correlation, like every framework) on (C, H, W)
 * input; W is (c_out, c_in/groups, kernel_h, kernel_w), b is (c_out) or NULL. */
neon_status neon_graph_add_conv2d(neon_graph *g, const char *name, int input, int64_t c_out,
                                  const neon_conv2d_params *p, const float *W, const float *b,
                                  int *id);

typedef struct neon_pool2d_params {
    int kernel_h, kernel_w;
    int stride_h, stride_w;       /* 0 means the kernel size */
    int pad_top, pad_left, pad_bottom, pad_right;
    int ceil_mode;
    int count_include_pad;        /* avg-pool only */
} neon_pool2d_params;

neon_status neon_graph_add_maxpool2d(neon_graph *g, const char *name, int input,
                                     const neon_pool2d_params *p, int *id);
neon_status neon_graph_add_avgpool2d(neon_graph *g, const char *name, int input,
                                     const neon_pool2d_params *p, int *id);
/* (C, H, W) -> (C, 1, 1) */
neon_status neon_graph_add_global_avgpool(neon_graph *g, const char *name, int input, int *id);

neon_status neon_graph_add_relu(neon_graph *g, const char *name, int input, int *id);

/* Element-wise activations through which relevance passes unchanged.
 * Those with f(0) != 0 or that do not preserve the sign produce a warning
 * when rules are set (their heatmaps are hard to read). */
typedef enum neon_activation {
    NEON_ACT_IDENTITY = 0, /* also Dropout in inference */
    NEON_ACT_SIGMOID,
    NEON_ACT_TANH,
    NEON_ACT_LEAKY_RELU,   /* param: negative slope */
    NEON_ACT_ELU,          /* param: alpha */
    NEON_ACT_SOFTPLUS
} neon_activation;
neon_status neon_graph_add_activation(neon_graph *g, const char *name, int input,
                                      neon_activation act, float param, int *id);

/* Inference batch norm over axis 0 of the per-sample shape (channels):
 * y = scale (x - mean) / sqrt(var + eps) + bias.  neon_graph_finalize()
 * folds it into a preceding dense/conv layer whose output feeds only this
 * node; otherwise it stays an affine (diagonal) linear layer. */
neon_status neon_graph_add_batchnorm(neon_graph *g, const char *name, int input, const float *scale,
                                     const float *bias, const float *mean, const float *var,
                                     float eps, int *id);

/* Same data, new per-sample shape (flatten = reshape to {numel}). */
neon_status neon_graph_add_reshape(neon_graph *g, const char *name, int input, int ndim,
                                   const int64_t *shape, int *id);

/* Sum of n >= 2 inputs of equal shape (residual connections). */
neon_status neon_graph_add_add(neon_graph *g, const char *name, int n, const int *inputs, int *id);
/* Concatenation along a per-sample axis. */
neon_status neon_graph_add_concat(neon_graph *g, const char *name, int n, const int *inputs,
                                  int axis, int *id);
/* Constant padding: pads[2*ndim] = begins then ends per per-sample axis
 * (ONNX order), all >= 0. */
neon_status neon_graph_add_pad(neon_graph *g, const char *name, int input, const int64_t *pads,
                               float value, int *id);

/* Element-wise product of two inputs of equal shape (pairwise matching,
 * RULES.md 8): the product layer joining the branches phi(x) and psi(y).
 * neon_graph_bilrp() explains it with second-order relevance over pairs of
 * input features; in an ordinary pass each factor receives the node's whole
 * relevance (the marginal of the pair relevance). */
neon_status neon_graph_add_product(neon_graph *g, const char *name, int a, int b, int *id);
/* Sum over n_axes per-sample axes (0 = all of them); keepdims keeps them
 * as size 1.  A sum down to a scalar has shape (1).  Weightless linear:
 * the z-rule by default. */
neon_status neon_graph_add_reduce_sum(neon_graph *g, const char *name, int input, int n_axes,
                                      const int *axes, int keepdims, int *id);

/* Marks the node whose value is explained (default: the last node added). */
neon_status neon_graph_set_output(neon_graph *g, int id);

/* Validates the graph and folds batch norms.  Called implicitly by the
 * first forward; calling it again is a no-op.  No nodes may be added after. */
neon_status neon_graph_finalize(neon_graph *g);

/* ---- queries ------------------------------------------------------------ */

typedef struct neon_node_info {
    const char *name;
    const char *kind;        /* "dense", "conv2d", "relu", ... */
    int n_inputs;
    const int *inputs;
    int ndim;                /* per-sample output shape */
    const int64_t *shape;
    int64_t n_params;        /* weights + biases */
    int64_t flops;           /* forward multiply-adds x 2 per sample (linear kinds) */
    char detail[160];        /* kernel, stride, padding, ... */
} neon_node_info;

int neon_graph_num_nodes(const neon_graph *g);
int neon_graph_num_inputs(const neon_graph *g);
int neon_graph_input_id(const neon_graph *g, int k); /* node id of the k-th input */
int neon_graph_output_id(const neon_graph *g);
int neon_graph_find(const neon_graph *g, const char *name); /* id or -1 */
neon_status neon_graph_node_info(const neon_graph *g, int id, neon_node_info *out);
/* Forward FLOPs per sample of the whole graph. */
int64_t neon_graph_flops(const neon_graph *g);

/* ---- execution ---------------------------------------------------------- */

/* Runs the graph on a batch x (N, per-sample input shape...).  Caches what
 * relprop needs.  NaN/Inf in x is NEON_ERR_NUMERIC naming the position.
 * y (optional) receives a view of the output (N, out shape...) valid until
 * the next call on this graph. */
neon_status neon_graph_forward(neon_graph *g, const neon_tensor *x, neon_tensor *y);
/* Same with several inputs, in the order they were added. */
neon_status neon_graph_forward_n(neon_graph *g, int n, const neon_tensor *xs, neon_tensor *y);

/* View of a node's cached activation (after a forward). */
neon_status neon_graph_activation(neon_graph *g, int id, neon_tensor *view);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_GRAPH_H */
