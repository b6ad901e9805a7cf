/* libFuzzer target: libsvm one-class model files (neon_ocsvm_load: our own
 * file check, then libsvm's svm_load_model), which read from a path: the
 * bytes go to a memfd.  A loaded model is neuralized and explained on a
 * small batch, and its libsvm decision values are computed. */
#include "fuzz_explain.h"

#include "neonlrp/neuralize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    int fd = fz_memfile(data, size, path, sizeof path);
    neon_ctx *ctx = fz_ctx();
    neon_ocsvm *m = NULL;
    neon_status st = neon_ocsvm_load(ctx, path, &m);
    fz_check_msg(ctx, st);
    if (st == NEON_OK) {
        if (!m || neon_ocsvm_num_sv(m) < 1) abort();
        const int64_t D = neon_ocsvm_dim(m);
        if (D >= 1 && D <= 4096 && neon_ocsvm_num_sv(m) <= 4096) {
            neon_graph *g = NULL;
            st = neon_ocsvm_graph(ctx, m, 0, NULL, &g);
            fz_check_msg(ctx, st);
            if (st == NEON_OK) fz_explain(ctx, g, fz_hash(data, size));
            neon_graph_destroy(g);
            float x[2 * 4096] = {0};
            for (int64_t i = 0; i < 2 * D; i++) x[i] = (float)(i % 7) * 0.25f - 0.5f;
            neon_tensor X = {x, 2, {2, D}};
            double dec[2];
            st = neon_ocsvm_decision(ctx, m, &X, dec);
            fz_check_msg(ctx, st);
        }
    } else if (m) {
        abort();
    }
    neon_ocsvm_destroy(m);
    neon_ctx_destroy(ctx);
    close(fd);
    return 0;
}
