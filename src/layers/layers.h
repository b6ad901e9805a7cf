/* Internal helpers shared by the layer files. */
#ifndef NEON_LAYERS_H
#define NEON_LAYERS_H

#include "graph/graph_impl.h"

/* Folds a batch-norm node into the dense/conv node feeding it when that
 * node has no other consumer and is not the explained output; the BN node
 * then passes values and relevance through.  No-op otherwise. */
neon_status neon_batchnorm_try_fold(neon_graph *g, neon_node *bn, int output_id);

/* Relevance passes unchanged: in.rel += nd.rel (same numel). */
neon_status neon_relprop_pass(neon_graph *g, neon_node *nd, int64_t N);
/* out = in.out (view), for reshape/identity kinds. */
neon_status neon_forward_view(neon_graph *g, neon_node *nd, int64_t N);

/* Builders' weight check: NEON_ERR_NUMERIC naming the node's kind and name,
 * `what` ("weight", "bias", ...) and the position of the first NaN/Inf in
 * x[0..n) (as [i / row, i % row] when row > 0); NEON_OK when all finite or
 * x is NULL. */
neon_status neon_check_finite(neon_graph *g, const neon_node *nd, const char *what, const float *x,
                              int64_t n, int64_t row);

/* Adds bias b[c] to z laid out (N, out_ch, out_sp). */
void neon_add_bias(float *z, const float *b, int64_t N, int64_t out_ch, int64_t out_sp);

#endif
