/* PNG heatmaps and RGB images: size, colours, layout, errors (read back with libpng). */
#define _POSIX_C_SOURCE 200809L

#include "testutil.h"

#include "neonlrp/io.h"

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>


static int count_entries(void)
{
    int n = 0;
    DIR *d = opendir(tu_scratch_dir());
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Reads an RGB8 PNG with libpng's simplified API; caller frees. */
typedef struct { int w, h; uint8_t *px; } rgb_image;

static rgb_image read_png(const char *path)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    assert_true(png_image_begin_read_from_file(&img, path));
    /* the file itself must be 8-bit RGB without alpha */
    assert_int_equal(img.format, PNG_FORMAT_RGB);
    img.format = PNG_FORMAT_RGB;
    rgb_image out = {(int)img.width, (int)img.height, malloc(PNG_IMAGE_SIZE(img))};
    assert_non_null(out.px);
    assert_true(png_image_finish_read(&img, NULL, out.px, 0, NULL));
    return out;
}

static const uint8_t *px(const rgb_image *im, int x, int y)
{
    return im->px + 3 * ((size_t)y * (size_t)im->w + (size_t)x);
}

static void assert_px(const rgb_image *im, int x, int y, int r, int g, int b)
{
    const uint8_t *p = px(im, x, y);
    if (p[0] != r || p[1] != g || p[2] != b)
        print_error("pixel (%d, %d) = (%d, %d, %d), expected (%d, %d, %d)\n", x, y, p[0], p[1], p[2], r, g, b);
    assert_true(p[0] == r && p[1] == g && p[2] == b);
}

static void test_heatmap_colours(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    /* 2 x 3: zero, +max, -max / +half, -half, tiny positive (5e-5 of the scale) */
    const float R[6] = {0.0f, 2.0f, -2.0f, 1.0f, -1.0f, 0.0001f};
    char p[256];
    assert_int_equal(neon_heatmap_png(ctx, tu_scratch_path(p, sizeof p, "h.png"), R, 2, 3, NULL, 0, 0, 0, NULL), NEON_OK);
    rgb_image im = read_png(p);
    assert_int_equal(im.w, 3);
    assert_int_equal(im.h, 2);
    assert_px(&im, 0, 0, 255, 255, 255); /* zero: white */
    assert_px(&im, 1, 0, 255, 0, 0);     /* positive: red */
    assert_px(&im, 2, 0, 0, 0, 255);     /* negative: blue */
    assert_px(&im, 0, 1, 255, 128, 128); /* half: 255 * 0.5 rounded */
    assert_px(&im, 1, 1, 128, 128, 255);
    assert_px(&im, 2, 1, 255, 255, 255); /* rounds to white */
    free(im.px);
    neon_ctx_destroy(ctx);
}

static void test_heatmap_opts(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const float R[4] = {10.0f, -10.0f, 0.25f, -0.25f};
    char p[256];
    /* explicit vmax with clipping, gamma 0.5 (0.25 -> 0.5), scale 3 */
    neon_heatmap_opts o = {1.0f, 3, 0.5f};
    assert_int_equal(neon_heatmap_png(ctx, tu_scratch_path(p, sizeof p, "o.png"), R, 2, 2, NULL, 0, 0, 0, &o), NEON_OK);
    rgb_image im = read_png(p);
    assert_int_equal(im.w, 6);
    assert_int_equal(im.h, 6);
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 3; x++) {
            assert_px(&im, x, y, 255, 0, 0);
            assert_px(&im, 3 + x, y, 0, 0, 255);
            assert_px(&im, x, 3 + y, 255, 128, 128);
            assert_px(&im, 3 + x, 3 + y, 128, 128, 255);
        }
    free(im.px);
    /* all zero: white everywhere (no division by zero) */
    const float Z[4] = {0, 0, 0, 0};
    neon_heatmap_opts d = {0, 0, 0};
    assert_int_equal(neon_heatmap_png(ctx, p, Z, 1, 4, NULL, 0, 0, 0, &d), NEON_OK);
    im = read_png(p);
    assert_int_equal(im.w, 4);
    assert_int_equal(im.h, 1);
    for (int x = 0; x < 4; x++) assert_px(&im, x, 0, 255, 255, 255);
    free(im.px);
    neon_ctx_destroy(ctx);
}

static void test_heatmap_with_grey_image(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const int h = 2, w = 3, s = 2;
    const float R[6] = {1, 0, -1, 0, 0, 0};
    const float img[6] = {-1.0f, 0.0f, 1.0f, 3.0f, -5.0f, 0.5f}; /* range [-1, 1], clipped */
    neon_heatmap_opts o = {0, s, 0};
    char p[256];
    assert_int_equal(neon_heatmap_png(ctx, tu_scratch_path(p, sizeof p, "g.png"), R, h, w, img, 1, -1.0f, 1.0f, &o), NEON_OK);
    rgb_image im = read_png(p);
    assert_int_equal(im.w, 2 * w * s + 2);
    assert_int_equal(im.h, h * s);
    const int grey[6] = {0, 128, 255, 255, 0, 191};
    for (int y = 0; y < h * s; y++) {
        for (int x = 0; x < w * s; x++) {
            int g = grey[(y / s) * w + x / s];
            assert_px(&im, x, y, g, g, g);
        }
        assert_px(&im, w * s, y, 255, 255, 255); /* the 2-pixel gap */
        assert_px(&im, w * s + 1, y, 255, 255, 255);
    }
    int x0 = w * s + 2;
    assert_px(&im, x0, 0, 255, 0, 0);
    assert_px(&im, x0 + 1, 1, 255, 0, 0);
    assert_px(&im, x0 + 2, 0, 255, 255, 255);
    assert_px(&im, x0 + 5, 1, 0, 0, 255);
    assert_px(&im, x0 + 5, 3, 255, 255, 255);
    free(im.px);
    neon_ctx_destroy(ctx);
}

static void test_heatmap_with_rgb_image(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const float R[2] = {-1, 1};
    /* 3 x 1 x 2, channel-first, values in [0, 255] */
    const float img[6] = {255, 0, /* red */ 0, 255, /* green */ 0, 51 /* blue */};
    char p[256];
    assert_int_equal(neon_heatmap_png(ctx, tu_scratch_path(p, sizeof p, "c.png"), R, 1, 2, img, 3, 0.0f, 255.0f, NULL), NEON_OK);
    rgb_image im = read_png(p);
    assert_int_equal(im.w, 2 * 2 + 2);
    assert_int_equal(im.h, 1);
    assert_px(&im, 0, 0, 255, 0, 0);
    assert_px(&im, 1, 0, 0, 255, 51);
    assert_px(&im, 2, 0, 255, 255, 255);
    assert_px(&im, 3, 0, 255, 255, 255);
    assert_px(&im, 4, 0, 0, 0, 255);
    assert_px(&im, 5, 0, 255, 0, 0);
    free(im.px);
    neon_ctx_destroy(ctx);
}

static void test_rgb_roundtrip(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const int h = 5, w = 7;
    uint8_t rgb[5 * 7 * 3];
    tu_rng r;
    tu_seed(&r, 11);
    for (size_t i = 0; i < sizeof rgb; i++) rgb[i] = (uint8_t)(tu_uniform(&r) * 256);
    char p[256];
    assert_int_equal(neon_png_write_rgb(ctx, tu_scratch_path(p, sizeof p, "rgb.png"), rgb, h, w), NEON_OK);
    rgb_image im = read_png(p);
    assert_int_equal(im.w, w);
    assert_int_equal(im.h, h);
    assert_memory_equal(im.px, rgb, sizeof rgb);
    free(im.px);
    neon_ctx_destroy(ctx);
}

static void test_errors(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    float R[4] = {0, 1, 2, 3};
    const float img[4] = {0, 0, 0, 0};
    char p[256];
    tu_scratch_path(p, sizeof p, "err.png");
    int before = count_entries();
    R[2] = NAN;
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, NULL, 0, 0, 0, NULL), NEON_ERR_NUMERIC);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    R[2] = INFINITY;
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, NULL, 0, 0, 0, NULL), NEON_ERR_NUMERIC);
    R[2] = 2;
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, img, 2, 0, 1, NULL), NEON_ERR_INVALID);
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, img, 1, 1, 1, NULL), NEON_ERR_INVALID);
    assert_int_equal(neon_heatmap_png(ctx, p, R, 0, 2, NULL, 0, 0, 0, NULL), NEON_ERR_INVALID);
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, -1, NULL, 0, 0, 0, NULL), NEON_ERR_INVALID);
    neon_heatmap_opts o = {0, -2, 0};
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, NULL, 0, 0, 0, &o), NEON_ERR_INVALID);
    o.scale = 1000000;
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, NULL, 0, 0, 0, &o), NEON_ERR_INVALID);
    o.scale = 1;
    o.gamma = -1;
    assert_int_equal(neon_heatmap_png(ctx, p, R, 2, 2, NULL, 0, 0, 0, &o), NEON_ERR_INVALID);
    assert_int_equal(neon_heatmap_png(ctx, p, NULL, 2, 2, NULL, 0, 0, 0, NULL), NEON_ERR_INVALID);
    uint8_t rgb[12] = {0};
    assert_int_equal(neon_png_write_rgb(ctx, p, rgb, 0, 4), NEON_ERR_INVALID);
    assert_int_equal(neon_png_write_rgb(ctx, p, NULL, 2, 2), NEON_ERR_INVALID);
    assert_int_equal(count_entries(), before); /* nothing written, no temp files */
    /* a directory that does not exist */
    char q[256];
    tu_scratch_path(q, sizeof q, "missing/dir/h.png");
    assert_int_equal(neon_heatmap_png(ctx, q, R, 2, 2, NULL, 0, 0, 0, NULL), NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), q));
    assert_int_equal(neon_png_write_rgb(ctx, q, rgb, 2, 2), NEON_ERR_IO);
    assert_int_equal(count_entries(), before);
    neon_ctx_destroy(ctx);
}

/* A failed write over an existing PNG keeps the old file. */
static void test_failure_keeps_old(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const float R[4] = {1, -1, 0, 0.5f};
    char p[256];
    assert_int_equal(neon_heatmap_png(ctx, tu_scratch_path(p, sizeof p, "keep.png"), R, 2, 2, NULL, 0, 0, 0, NULL), NEON_OK);
    int before = count_entries();
    const float bad[4] = {1, NAN, 0, 0};
    assert_int_equal(neon_heatmap_png(ctx, p, bad, 2, 2, NULL, 0, 0, 0, NULL), NEON_ERR_NUMERIC);
    rgb_image im = read_png(p);
    assert_int_equal(im.w, 2);
    assert_px(&im, 0, 0, 255, 0, 0);
    free(im.px);
    assert_int_equal(count_entries(), before);
    neon_ctx_destroy(ctx);
}

/* libpng's own write error (file size limit -> EFBIG inside png_write_row)
 * comes back as NEON_ERR_IO through longjmp, and the old file survives. */
static void test_libpng_write_error(void **state)
{
    (void)state;
    neon_ctx *ctx = tu_ctx();
    const float small[4] = {1, -1, 0, 0.5f};
    char p[256];
    assert_int_equal(neon_heatmap_png(ctx, tu_scratch_path(p, sizeof p, "big.png"), small, 2, 2, NULL, 0, 0, 0, NULL), NEON_OK);
    int before = count_entries();
    const int n = 400;
    float *R = malloc(sizeof(float) * n * n);
    assert_non_null(R);
    tu_rng r;
    tu_seed(&r, 5);
    tu_fill(&r, R, (int64_t)n * n, -1.0f, 1.0f); /* noise: compresses badly */

    struct rlimit saved, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = saved;
    lim.rlim_cur = 30000;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    neon_status st = neon_heatmap_png(ctx, p, R, n, n, NULL, 0, 0, 0, NULL);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, prev);

    assert_int_equal(st, NEON_ERR_IO);
    assert_non_null(strstr(neon_errmsg(ctx), p));
    rgb_image im = read_png(p);
    assert_int_equal(im.w, 2);
    assert_int_equal(im.h, 2);
    free(im.px);
    assert_int_equal(count_entries(), before);
    free(R);
    neon_ctx_destroy(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heatmap_colours),
        cmocka_unit_test(test_heatmap_opts),
        cmocka_unit_test(test_heatmap_with_grey_image),
        cmocka_unit_test(test_heatmap_with_rgb_image),
        cmocka_unit_test(test_rgb_roundtrip),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_failure_keeps_old),
        cmocka_unit_test(test_libpng_write_error),
    };
    return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
