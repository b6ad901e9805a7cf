/* neonlrp NEON: neuralized models.  Each neuralizer builds a graph of
 * layers for the shared relprop engine; none carries propagation code of
 * its own.  This header also exposes the layer kinds those graphs use, so
 * that other models can be neuralized through the same API. */
#ifndef NEONLRP_NEURALIZE_H
#define NEONLRP_NEURALIZE_H

#include "neonlrp/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layer kinds for neuralized models ----------------------------------- */

/* Min-pooling over groups: input of G*M values (per sample, C order, G
 * groups of M) -> output (G).  Forward: the hard minimum over the valid
 * members (soft == 0), or the soft minimum -(1/beta) log sum exp(-beta x)
 * (soft != 0, computed with the log-sum-exp shift).  exclude_diagonal
 * (needs G == M) leaves member g out of group g.  Relevance (min-take-most):
 * R_m = p_m R_g with p = softmin_beta over the valid members; conservative. */
neon_status neon_graph_add_minpool(neon_graph *g, const char *name, int input, int64_t groups,
                                   int64_t members, float beta, int soft, int exclude_diagonal,
                                   int *id);
/* Changes the stiffness of a minpool node (e.g. once the data is known). */
neon_status neon_graph_set_minpool_beta(neon_graph *g, int id, float beta);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_NEURALIZE_H */
