/* neonlrp ONNX import: an ONNX model file -> a neon_graph. */
#ifndef NEONLRP_ONNX_H
#define NEONLRP_ONNX_H

#include "neonlrp/graph.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Loads an ONNX model (opsets 11-17).  Supported operators are listed in
 * neon_onnx_supported_ops(); anything else is NEON_ERR_UNSUPPORTED naming
 * the node, its op type and the supported set.  A trailing Softmax (or
 * LogSoftmax) is stripped with a notice on the context's log, so the graph
 * outputs logits.  Shape-computation subgraphs (Shape, Gather, Unsqueeze,
 * Concat, ConstantOfShape, ...) are evaluated at load time with the batch
 * axis kept symbolic.  Truncated or corrupt files are NEON_ERR_FORMAT
 * naming the file. */
neon_status neon_onnx_load(neon_ctx *ctx, const char *path, neon_graph **out);
/* Same from memory; name is used in messages (fuzzers, embedded models). */
neon_status neon_onnx_parse(neon_ctx *ctx, const void *buf, size_t len, const char *name,
                            neon_graph **out);
/* Comma-separated list of the supported operator types. */
const char *neon_onnx_supported_ops(void);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_ONNX_H */
