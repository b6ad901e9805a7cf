/* libFuzzer target: the k-means model reader (neon_kmeans_load: "NEONKM01"
 * files and bare .npy centroids), which reads from a path: the bytes go to
 * a memfd.  The NEONKM01 CRC would stop nearly every mutation at the
 * checksum, so for 3 inputs in 4 (chosen by a hash of the input) the
 * harness first resizes the data to the length the header announces
 * (when small) and writes the correct CRC; the rest test the raw bytes.
 * A loaded model is neuralized and explained on a small batch. */
#include "fuzz_explain.h"

#include <zlib.h>

#include "neonlrp/neuralize.h"

static uint32_t rd32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint64_t sel = fz_hash(data, size);
    uint8_t *buf = NULL;
    if ((sel & 3) != 0 && size >= 48 && !memcmp(data, "NEONKM01", 8)) {
        uint64_t K = rd32(data + 8), D = rd32(data + 12), P = rd32(data + 16);
        uint64_t want = size;
        if (K * (P ? P : D) + P * D + (P ? D : 0) < (1u << 18))
            want = 48 + 4 * (K * (P ? P : D) + P * D + (P ? D : 0)) + 4;
        if (!(buf = calloc(want, 1))) abort();
        memcpy(buf, data, want < size ? want : size);
        const uint32_t crc = (uint32_t)crc32_z(crc32(0L, Z_NULL, 0), buf, want - 4);
        for (int i = 0; i < 4; i++) buf[want - 4 + i] = (uint8_t)(crc >> (8 * i));
        data = buf;
        size = want;
    }
    char path[64];
    int fd = fz_memfile(data, size, path, sizeof path);
    neon_ctx *ctx = fz_ctx();
    neon_kmeans *km = NULL;
    neon_status st = neon_kmeans_load(ctx, path, &km);
    fz_check_msg(ctx, st);
    if (st == NEON_OK) {
        if (!km || neon_kmeans_k(km) < 2) abort();
        neon_graph *g = NULL;
        float beta = neon_kmeans_beta(km) > 0 ? 0.0f : 1.0f;
        st = neon_kmeans_graph(ctx, km, beta, -1, 0, NULL, &g);
        fz_check_msg(ctx, st);
        if (st == NEON_OK) fz_explain(ctx, g, sel >> 2);
        neon_graph_destroy(g);
    } else if (km) {
        abort();
    }
    neon_kmeans_destroy(km);
    neon_ctx_destroy(ctx);
    close(fd);
    free(buf);
    return 0;
}
