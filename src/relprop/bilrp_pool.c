/* Pixel grids and block pooling for pair relevance (sum pooling: block
 * totals equal the totals of their pixels, so pooled pairs still sum to the
 * score). */
#include "core.h"
#include "neonlrp/bilrp.h"

#include "bilrp_internal.h"

void neon_pair_grid(int ndim, const int64_t *shape, int64_t *H, int64_t *W)
{
    if (ndim >= 2) {
        *H = shape[ndim - 2];
        *W = shape[ndim - 1];
        return;
    }
    const int64_t D = ndim == 1 ? shape[0] : 1;
    int64_t r = 1;
    while ((r + 1) * (r + 1) <= D) r++;
    if (r * r == D && r >= 4) {
        *H = *W = r;
    } else {
        *H = 1;
        *W = D;
    }
}

int64_t neon_pair_blocks(int64_t H, int64_t W, int block)
{
    if (block <= 1) return H * W;
    return ((H + block - 1) / block) * ((W + block - 1) / block);
}

/* Block of pixel p (row-major on H x W). */
static inline int64_t block_of(int64_t p, int64_t W, int block)
{
    const int64_t bw = (W + block - 1) / block;
    return (p / W / block) * bw + (p % W) / block;
}

int64_t neon_bilrp_pool_map(int ndim, const int64_t *shape, int block, int64_t *map)
{
    int64_t H, W, D = 1;
    for (int i = 0; i < ndim; i++) D *= shape[i];
    neon_pair_grid(ndim, shape, &H, &W);
    const int b = block > 1 ? block : 1;
    if (map)
        for (int64_t i = 0; i < D; i++) map[i] = block_of(i % (H * W), W, b);
    return neon_pair_blocks(H, W, b);
}

void neon_pair_pool(const float *R, int64_t H1, int64_t W1, int64_t H2, int64_t W2, int block,
                    float *out)
{
    const int b = block > 1 ? block : 1;
    const int64_t B1 = neon_pair_blocks(H1, W1, b), B2 = neon_pair_blocks(H2, W2, b);
    const int64_t D1 = H1 * W1, D2 = H2 * W2;
    for (int64_t k = 0; k < B1 * B2; k++) out[k] = 0.0f;
    for (int64_t i = 0; i < D1; i++) {
        float *row = out + block_of(i, W1, b) * B2;
        const float *r = R + i * D2;
        for (int64_t j = 0; j < D2; j++) row[block_of(j, W2, b)] += r[j];
    }
}
