/* Internal helpers of the BiLRP driver (src/relprop/bilrp*.c). */
#ifndef NEON_BILRP_INTERNAL_H
#define NEON_BILRP_INTERNAL_H

#include <stdint.h>

/* Block index of every element of an input with per-sample shape (ndim,
 * shape) on its pixel grid (neon_pair_grid) pooled into block x block
 * cells; map (numel entries) may be NULL.  Returns the number of blocks. */
int64_t neon_bilrp_pool_map(int ndim, const int64_t *shape, int block, int64_t *map);

#endif
