/* libFuzzer target: IDX parser (neon_idx_parse; plain and gzip).  A hash of
 * the input picks the scale so both conversion paths run. */
#include "fuzz_util.h"

#include <math.h>

#include "neonlrp/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211u;
    const float scale = h & 1 ? 1.0f / 255.0f : 0.0f;
    neon_ctx *ctx = fz_ctx();
    neon_tensor t;
    neon_status st = neon_idx_parse(ctx, data, size, "fuzz.idx", scale, &t);
    fz_check_msg(ctx, st);
    if (st == NEON_OK) {
        int64_t n = neon_tensor_numel(&t);
        if (n < 0 || t.ndim < 0 || t.ndim > NEON_MAX_DIMS || (n > 0 && !t.data)) abort();
        volatile float acc = 0;
        for (int64_t i = 0; i < n; i++) acc += isnan(t.data[i]) ? 0.0f : 1.0f;
        (void)acc;
    } else if (t.data || t.ndim) {
        abort();
    }
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
    return 0;
}
