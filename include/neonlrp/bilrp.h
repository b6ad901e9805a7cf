/* neonlrp pairwise matching: second-order relevance over pairs of input
 * features (RULES.md 8; BiLRP, Eberle et al. 2020).
 *
 * A matcher is a graph with two inputs x and y, two branches phi(x) and
 * psi(y) that meet in a product node (neon_graph_add_product, ONNX Mul of
 * two activations), and a read-out above it (a linear layer, a sum, ...) to
 * the score.  Siamese models are two branches with equal weights.
 *
 * The read-out's rule gives R_k for every product unit k; each branch is
 * explained for every unit from its own value, all units at once as one
 * multi-seed relprop (neon_graph_relprop_seeds), and
 *   R_ij = sum_k R_k (R^{phi_k}_i / stab(phi_k)) (R^{psi_k}_j / stab(psi_k))
 * as one GEMM per sample.  For y = <phi(x), psi(y)> this is
 * sum_k R^k_i(x) R^k_j(y); for one-layer branches it is the product-neuron
 * rule; for bias-free ReLU branches with LRP-0 it is Hessian x Product.
 * Any rule or composite applies within each branch (a composite's "first
 * layer" is the first conv/dense of each branch).
 */
#ifndef NEONLRP_BILRP_H
#define NEONLRP_BILRP_H

#include "neonlrp/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct neon_bilrp_opts {
    neon_init init;      /* the score starts from its value (default) or from 1 */
    int block;           /* sum-pool pairs into block x block pixel blocks (0, 1: none) */
    int64_t max_batch;   /* virtual samples per backward pass (0: what stays in cache) */
} neon_bilrp_opts;

/* The pixel grid of an input with per-sample shape (ndim, shape), used for
 * block pooling and pictures: the last two axes (leading axes, e.g.
 * channels, are summed); a vector of r*r features (r >= 4) is r x r; any
 * other vector is 1 x D. */
void neon_pair_grid(int ndim, const int64_t *shape, int64_t *H, int64_t *W);
/* Number of blocks of a grid H x W pooled into block x block cells. */
int64_t neon_pair_blocks(int64_t H, int64_t W, int block);

/* Per-sample sizes (D1, D2) of the pair relevance of a matcher for the
 * given block size: the inputs' numel, or their block counts. */
neon_status neon_graph_bilrp_dims(neon_graph *g, int block, int64_t *D1, int64_t *D2);

/* Pair relevance for a batch of pairs.  xs[0] (N, x shape), xs[1] (N, y
 * shape); targets: N entries or NULL (argmax; a single score needs none).
 * R (N, D1, D2), caller-allocated (neon_graph_bilrp_dims).  Rm: NULL, or
 * two tensors with the inputs' shapes receiving the marginals
 * sum_j R_ij (x) and sum_i R_ij (y) at full resolution.  res: N or NULL
 * (relevance_sum = sum_ij R_ij).  Errors: a graph without two inputs,
 * without a product node joining a branch of x to a branch of y, a graph
 * that mixes x and y outside that node; shapes as in neon_graph_explain_n.
 * The forward cache is not kept (neon_graph_activation needs a new forward). */
neon_status neon_graph_bilrp(neon_graph *g, const neon_tensor *xs, const int *targets,
                             const neon_bilrp_opts *opts, neon_tensor *R, neon_tensor *Rm,
                             neon_explain_result *res);

/* Sum-pools one pair matrix R (H1*W1 x H2*W2, on the grids of the two
 * inputs) into block x block cells: out (B1 x B2).  Totals are kept. */
void neon_pair_pool(const float *R, int64_t H1, int64_t W1, int64_t H2, int64_t W2, int block,
                    float *out);

/* One input of a links picture: a sample's data with its per-sample shape. */
typedef struct neon_pair_image {
    const float *data;
    int ndim;
    const int64_t *shape;
} neon_pair_image;

/* Writes a PNG of both images side by side (grey, or RGB for 3 channels,
 * mapped from [img_low, img_high]) with the top_k most positive (red) and
 * top_k most negative (blue) pair links drawn as lines between block
 * centres, opacity proportional to |R|.  R is (B1 x B2) for the given block
 * size (1: pixel pairs).  Atomic like every writer. */
neon_status neon_pairs_png(neon_ctx *ctx, const char *path, const float *R,
                           const neon_pair_image *x, const neon_pair_image *y, int block,
                           int top_k, float img_low, float img_high);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_BILRP_H */
