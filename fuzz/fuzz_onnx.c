/* libFuzzer target: ONNX import from memory (neon_onnx_parse), the node
 * descriptions, and, when the graph is small, forward + rules + relprop on
 * a batch of 2 (fuzz_explain.h). */
#include "fuzz_explain.h"

#include "neonlrp/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    neon_ctx *ctx = fz_ctx();
    neon_graph *g = NULL;
    neon_status st = neon_onnx_parse(ctx, data, size, "fuzz.onnx", &g);
    fz_check_msg(ctx, st);
    if (st == NEON_OK) {
        if (!g) abort();
        for (int i = 0; i < neon_graph_num_nodes(g); i++) {
            neon_node_info info;
            if (neon_graph_node_info(g, i, &info) != NEON_OK) abort();
        }
        fz_explain(ctx, g, fz_hash(data, size));
    } else if (g) {
        abort();
    }
    neon_graph_destroy(g);
    neon_ctx_destroy(ctx);
    return 0;
}
