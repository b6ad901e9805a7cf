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

/* Adds bias b[c] to z laid out (N, out_ch, out_sp). */
void neon_add_bias(float *z, const float *b, int64_t N, int64_t out_ch, int64_t out_sp);

#endif
