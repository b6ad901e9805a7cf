/* libFuzzer target: .npy parser (neon_npy_parse), then a read of every
 * element of the result so ASan sees the whole buffer. */
#include "fuzz_util.h"

#include <math.h>
#include <string.h>

#include "neonlrp/io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    neon_ctx *ctx = fz_ctx();
    neon_tensor t;
    neon_status st = neon_npy_parse(ctx, data, size, "fuzz.npy", &t);
    fz_check_msg(ctx, st);
    if (st == NEON_OK) {
        int64_t n = neon_tensor_numel(&t);
        if (n < 0 || t.ndim < 0 || t.ndim > NEON_MAX_DIMS || (n > 0 && !t.data)) abort();
        /* the data came from the file: it cannot be larger than the file */
        if ((uint64_t)n > size) abort();
        volatile float acc = 0;
        for (int64_t i = 0; i < n; i++) acc += isnan(t.data[i]) ? 0.0f : 1.0f;
        (void)acc;
    } else if (t.data || t.ndim) {
        abort(); /* on failure *out is zeroed */
    }
    neon_tensor_free(ctx, &t);
    neon_ctx_destroy(ctx);
    return 0;
}
