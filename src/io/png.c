/* PNG output: relevance heatmaps and plain RGB images (libpng), atomic.
 *
 * Colour map: matplotlib's 'bwr', i.e. linear interpolation in sRGB from
 * blue (0, 0, 255) through white (255, 255, 255) to red (255, 0, 0):
 *   v = clip(R / vmax, -1, 1), then v = sign(v) |v|^gamma,
 *   v >= 0: (255, 255 (1 - v), 255 (1 - v))      white -> red
 *   v <  0: (255 (1 + v), 255 (1 + v), 255)      white -> blue
 * rounded to the nearest integer.  This is the map LRP heatmaps are
 * usually shown with (zero relevance is exactly white).
 *
 * libpng reports errors by longjmp; the error callback records libpng's
 * message and jumps back to encode_rows(), whose caller turns it into
 * NEON_ERR_IO, so nothing ever aborts or prints to stderr. */
#define _POSIX_C_SOURCE 200809L

#include "core.h"
#include "neonlrp/io.h"
#include "atomic.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

#define PNG_MAX_SIDE 1000000 /* libpng's default user limit */
#define HEATMAP_GAP 2        /* white pixels between image and heatmap */

typedef void (*row_fn)(void *user, int y, uint8_t *row);

typedef struct neon_png_err {
    char msg[256];
} neon_png_err;

static void on_neon_png_error(png_structp png, png_const_charp msg)
{
    neon_png_err *e = png_get_error_ptr(png);
    if (e) snprintf(e->msg, sizeof e->msg, "%s", msg ? msg : "libpng error");
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Encodes the rows into fp.  Returns 0, or -1 with e->msg set. */
static int encode_rows(FILE *fp, int width, int height, row_fn fn, void *user, uint8_t *row, neon_png_err *e)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, e, on_neon_png_error, on_png_warning);
    if (!png) {
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng writer");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(e->msg, sizeof e->msg, "cannot create the libpng info struct");
        return -1;
    }
    /* png and info are not modified after setjmp, so they survive longjmp. */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8, PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < height; y++) {
        fn(user, y, row);
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

/* Validates the size, then writes the rows produced by fn atomically. */
static neon_status write_rows_atomic(neon_ctx *ctx, const char *path, int width, int height, row_fn fn,
                                   void *user)
{
    if (width <= 0 || height <= 0 || width > PNG_MAX_SIDE || height > PNG_MAX_SIDE)
        return neon_fail(ctx, NEON_ERR_INVALID, "%s: image size %d x %d not in [1, %d]", path, width,
                         height, PNG_MAX_SIDE);
    uint8_t *row = neon_alloc_array(ctx, (size_t)width, 3);
    if (!row) return NEON_ERR_NOMEM;
    neon_atomic_file af;
    neon_status st = neon_atomic_begin(ctx, path, &af);
    if (st == NEON_OK) {
        neon_png_err e = {""};
        if (encode_rows(af.fp, width, height, fn, user, row, &e) != 0) {
            st = neon_fail(ctx, NEON_ERR_IO, "cannot write %s: libpng: %s", path, e.msg);
            neon_atomic_abort(ctx, &af);
        } else {
            st = neon_atomic_commit(ctx, &af);
        }
    }
    neon_free(ctx, row);
    return st;
}

/* ---- plain RGB ----------------------------------------------------------- */

typedef struct rgb_job {
    const uint8_t *rgb;
    int w;
} rgb_job;

static void rgb_row(void *user, int y, uint8_t *row)
{
    const rgb_job *j = user;
    memcpy(row, j->rgb + (size_t)y * (size_t)j->w * 3, (size_t)j->w * 3);
}

neon_status neon_png_write_rgb(neon_ctx *ctx, const char *path, const uint8_t *rgb, int h, int w)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!path || !rgb) return neon_fail(ctx, NEON_ERR_INVALID, "neon_png_write_rgb: NULL argument");
    rgb_job j = {rgb, w};
    return write_rows_atomic(ctx, path, w, h, rgb_row, &j);
}

/* ---- heatmaps ------------------------------------------------------------ */

typedef struct heat_job {
    const float *R, *image;
    int h, w, channels, scale;
    float vmax, gamma, img_low, img_span;
} heat_job;

static uint8_t to_u8(float x) /* x in [0, 255] after clipping */
{
    if (!(x > 0.0f)) return 0;
    if (x >= 255.0f) return 255;
    return (uint8_t)(x + 0.5f);
}

static void heat_colour(const heat_job *j, float r, uint8_t *px)
{
    float v = r / j->vmax; /* vmax > 0; a tiny vmax gives +-inf, clipped */
    if (v > 1.0f) v = 1.0f;
    if (v < -1.0f) v = -1.0f;
    float a = fabsf(v);
    if (j->gamma != 1.0f) a = powf(a, j->gamma);
    uint8_t fade = to_u8(255.0f * (1.0f - a));
    if (v >= 0.0f) {
        px[0] = 255;
        px[1] = fade;
        px[2] = fade;
    } else {
        px[0] = fade;
        px[1] = fade;
        px[2] = 255;
    }
}

static void heat_row(void *user, int y, uint8_t *row)
{
    const heat_job *j = user;
    int sy = y / j->scale, x = 0;
    size_t plane = (size_t)j->h * (size_t)j->w;
    if (j->image) {
        for (int sx = 0; sx < j->w; sx++) {
            uint8_t px[3];
            for (int c = 0; c < 3; c++) {
                int ch = j->channels == 3 ? c : 0;
                float val = j->image[(size_t)ch * plane + (size_t)sy * (size_t)j->w + (size_t)sx];
                px[c] = to_u8(255.0f * (val - j->img_low) / j->img_span);
            }
            for (int k = 0; k < j->scale; k++, x++) memcpy(row + 3 * (size_t)x, px, 3);
        }
        memset(row + 3 * (size_t)x, 255, 3 * HEATMAP_GAP);
        x += HEATMAP_GAP;
    }
    for (int sx = 0; sx < j->w; sx++) {
        uint8_t px[3];
        heat_colour(j, j->R[(size_t)sy * (size_t)j->w + (size_t)sx], px);
        for (int k = 0; k < j->scale; k++, x++) memcpy(row + 3 * (size_t)x, px, 3);
    }
}

neon_status neon_heatmap_png(neon_ctx *ctx, const char *path, const float *R, int h, int w,
                             const float *image, int channels, float img_low, float img_high,
                             const neon_heatmap_opts *opts)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!path || !R) return neon_fail(ctx, NEON_ERR_INVALID, "neon_heatmap_png: NULL argument");
    neon_heatmap_opts o = {0.0f, 1, 1.0f};
    if (opts) o = *opts;
    if (o.scale == 0) o.scale = 1;
    if (o.gamma == 0.0f) o.gamma = 1.0f;
    if (h <= 0 || w <= 0 || h > PNG_MAX_SIDE || w > PNG_MAX_SIDE)
        return neon_fail(ctx, NEON_ERR_INVALID, "%s: heatmap size %d x %d is invalid", path, h, w);
    if (o.scale < 0 || o.scale > PNG_MAX_SIDE)
        return neon_fail(ctx, NEON_ERR_INVALID, "%s: heatmap scale %d is invalid", path, o.scale);
    if (!(o.gamma > 0.0f) || !isfinite(o.gamma) || !isfinite(o.vmax))
        return neon_fail(ctx, NEON_ERR_INVALID, "%s: heatmap gamma %g / vmax %g is invalid", path,
                         (double)o.gamma, (double)o.vmax);
    int64_t n = (int64_t)h * w, bad;
    if ((bad = neon_find_nonfinite(R, n)) >= 0)
        return neon_fail(ctx, NEON_ERR_NUMERIC, "%s: relevance at (%lld, %lld) is %g", path,
                         (long long)(bad / w), (long long)(bad % w), (double)R[bad]);
    if (image) {
        if (channels != 1 && channels != 3)
            return neon_fail(ctx, NEON_ERR_INVALID, "%s: image must have 1 or 3 channels, not %d", path, channels);
        if (!(img_high > img_low) || !isfinite(img_high - img_low))
            return neon_fail(ctx, NEON_ERR_INVALID, "%s: image range [%g, %g] is empty", path,
                             (double)img_low, (double)img_high);
        if ((bad = neon_find_nonfinite(image, n * channels)) >= 0)
            return neon_fail(ctx, NEON_ERR_NUMERIC, "%s: image value %lld is %g", path, (long long)bad,
                             (double)image[bad]);
    }
    /* output size, overflow-checked */
    int64_t ow, oh;
    if (!neon_mul_ok(w, o.scale, &ow) || !neon_mul_ok(h, o.scale, &oh) ||
        (image && !neon_mul_ok(ow, 2, &ow)) || ow + (image ? HEATMAP_GAP : 0) > PNG_MAX_SIDE ||
        oh > PNG_MAX_SIDE)
        return neon_fail(ctx, NEON_ERR_INVALID, "%s: %d x %d heatmap at scale %d is too large", path, h, w,
                         o.scale);
    if (image) ow += HEATMAP_GAP;

    float vmax = o.vmax;
    if (vmax <= 0.0f) {
        vmax = 0.0f;
        for (int64_t i = 0; i < n; i++) vmax = fabsf(R[i]) > vmax ? fabsf(R[i]) : vmax;
    }
    if (vmax <= 0.0f) vmax = 1.0f; /* all zero: white */
    heat_job j = {R, image, h, w, channels, o.scale, vmax, o.gamma, img_low, img_high - img_low};
    return write_rows_atomic(ctx, path, (int)ow, (int)oh, heat_row, &j);
}
