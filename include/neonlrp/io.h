/* neonlrp I/O: .npy arrays, IDX files (Fashion-MNIST), PNG heatmaps.
 *
 * Every writer is atomic: it writes to a temporary file in the target's
 * directory and renames it into place only when complete, so a failure
 * leaves any earlier file of that name untouched. */
#ifndef NEONLRP_IO_H
#define NEONLRP_IO_H

#include "neonlrp/neon.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Frees data allocated by a reader or neon_tensor_alloc (through the ctx's
 * allocator: pass the same ctx) and zeroes the view.  NULL or an empty view
 * is a no-op. */
void neon_tensor_free(neon_ctx *ctx, neon_tensor *t);
/* Allocates a zeroed float32 tensor of the given shape (rank 0..NEON_MAX_DIMS,
 * dims >= 0).  On failure *t is zeroed. */
neon_status neon_tensor_alloc(neon_ctx *ctx, neon_tensor *t, int ndim, const int64_t *shape);

/* ---- .npy ------------------------------------------------------------ */
/* Reads a version 1.0/2.0/3.0 .npy file: dtype <f4, or <f8, |b1, |i1, |u1,
 * <i2, <u2, <i4, <u4, <i8, <u8 converted to float32 (f8 beyond the float
 * range becomes +-inf), any rank 0..NEON_MAX_DIMS, C order.  Fortran order,
 * big-endian, object, structured and other dtypes, a bad magic or header
 * dict, and data sizes that disagree with the file length (checked, with
 * overflow checks, before anything is allocated) are NEON_ERR_FORMAT with a
 * message naming the file and the problem; open/read failures NEON_ERR_IO.
 * On failure *out is zeroed. */
neon_status neon_npy_read(neon_ctx *ctx, const char *path, neon_tensor *out);
/* Same from memory (name is used in messages; used by the fuzzers). */
neon_status neon_npy_parse(neon_ctx *ctx, const void *buf, size_t len, const char *name,
                           neon_tensor *out);
/* Writes float32 little-endian, C order, version 1.0 header padded (like
 * numpy) so the data starts at a multiple of 64; atomic. */
neon_status neon_npy_write(neon_ctx *ctx, const char *path, const neon_tensor *t);

/* ---- IDX (MNIST / Fashion-MNIST) -------------------------------------- */
/* Reads an IDX file, gzip-compressed or plain (ubyte, byte, short, int,
 * float, double element types), into float32.  When scale is non-zero,
 * every value is multiplied by it (1/255 maps ubyte images to [0, 1]).
 * Images come as (N, rows, cols), labels as (N,).  The declared dims must
 * match the real data length (NEON_ERR_FORMAT naming the file otherwise);
 * for gzip data a header can never make us allocate much more than the data
 * really present.  neon_idx_parse detects gzip by its magic (1f 8b). */
neon_status neon_idx_read(neon_ctx *ctx, const char *path, float scale, neon_tensor *out);
neon_status neon_idx_parse(neon_ctx *ctx, const void *buf, size_t len, const char *name,
                           float scale, neon_tensor *out);

/* ---- PNG heatmaps ------------------------------------------------------ */
typedef struct neon_heatmap_opts {
    float vmax;      /* colour scale: |R| == vmax is full colour; <= 0: max |R| of the map */
    int scale;       /* integer upscaling factor of each pixel (>= 1; 0 means 1) */
    float gamma;     /* colour gamma (0 means 1: linear) */
} neon_heatmap_opts;

/* Writes a heatmap of R (h x w, row-major) as an 8-bit RGB PNG with the
 * diverging red-white-blue map symmetric around 0 (red positive, blue
 * negative, white zero): matplotlib's 'bwr', linear in sRGB.  With
 * v = clip(R / vmax, -1, 1) and a = |v|^gamma, v >= 0 is
 * (255, 255(1-a), 255(1-a)) and v < 0 is (255(1-a), 255(1-a), 255).
 * When image is non-NULL (channels x h x w, 1 or 3 channels) it is mapped
 * from [img_low, img_high] to 0..255 (clipped) and drawn in grey/RGB to the
 * left of the heatmap with a 2-pixel white gap.  opts may be NULL.  Output
 * size: (w * scale [* 2 + 2]) x (h * scale).  Non-finite R or image values
 * are NEON_ERR_NUMERIC; write/libpng failures NEON_ERR_IO.  Atomic. */
neon_status neon_heatmap_png(neon_ctx *ctx, const char *path, const float *R, int h, int w,
                             const float *image, int channels, float img_low, float img_high,
                             const neon_heatmap_opts *opts);

/* Writes an RGB8 image (h x w x 3) as PNG; atomic.  Used by plots. */
neon_status neon_png_write_rgb(neon_ctx *ctx, const char *path, const uint8_t *rgb, int h, int w);

#ifdef __cplusplus
}
#endif
#endif /* NEONLRP_IO_H */
