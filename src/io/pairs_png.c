/* The links picture of a pair explanation: both images side by side, the
 * strongest positive pair relevances as red lines and the strongest negative
 * ones as blue lines between block centres, opacity growing with |R|. */
#include "core.h"
#include "neonlrp/bilrp.h"
#include "neonlrp/io.h"

#include <math.h>
#include <string.h>

#define GAP 40         /* pixels between the two images */
#define TARGET 224     /* images are upscaled to about this size */

typedef struct canvas {
    uint8_t *rgb;
    int h, w;
} canvas;

typedef struct link {
    float r;
    int64_t i, j;
} link;

/* Blends colour c with opacity a into pixel (y, x). */
static void blend(canvas *cv, int y, int x, const uint8_t c[3], float a)
{
    if (y < 0 || x < 0 || y >= cv->h || x >= cv->w) return;
    uint8_t *p = cv->rgb + ((size_t)y * cv->w + x) * 3;
    for (int k = 0; k < 3; k++) p[k] = (uint8_t)lrintf((float)p[k] * (1 - a) + (float)c[k] * a);
}

/* Bresenham line (x0, y0) -> (x1, y1), two pixels wide. */
static void line(canvas *cv, int x0, int y0, int x1, int y1, const uint8_t c[3], float a)
{
    const int dx = x1 > x0 ? x1 - x0 : x0 - x1, sx = x0 < x1 ? 1 : -1;
    const int dy = y1 > y0 ? y0 - y1 : y1 - y0, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    const int steep = -dy > dx;
    for (;;) {
        blend(cv, y0, x0, c, a);
        blend(cv, steep ? y0 : y0 + 1, steep ? x0 + 1 : x0, c, a * 0.6f);
        if (x0 == x1 && y0 == y1) break;
        const int e2 = 2 * err;
        if (e2 >= dy) {
            err += dy;
            x0 += sx;
        }
        if (e2 <= dx) {
            err += dx;
            y0 += sy;
        }
    }
}

/* Draws image (channels summed unless RGB) at x offset ox, scale s. */
static void draw_image(canvas *cv, const neon_pair_image *im, int64_t H, int64_t W, int ox, int s,
                       float lo, float hi)
{
    int64_t D = 1;
    for (int i = 0; i < im->ndim; i++) D *= im->shape[i];
    const int64_t C = D / (H * W), rgb = C == 3;
    const float span = hi > lo ? hi - lo : 1.0f;
    for (int64_t y = 0; y < H; y++)
        for (int64_t x = 0; x < W; x++) {
            float v[3] = {0, 0, 0};
            for (int64_t c = 0; c < C; c++) v[rgb ? c : 0] += im->data[(c * H + y) * W + x];
            if (!rgb) {
                v[0] /= (float)C;
                v[1] = v[2] = v[0];
            }
            uint8_t px[3];
            for (int k = 0; k < 3; k++) {
                float t = (v[k] - lo) / span;
                t = t < 0 ? 0 : t > 1 ? 1 : t;
                px[k] = (uint8_t)lrintf(40.0f + 160.0f * t); /* dimmed: lines stay visible */
            }
            for (int dy = 0; dy < s; dy++)
                for (int dx = 0; dx < s; dx++) {
                    uint8_t *p = cv->rgb + ((size_t)(y * s + dy) * cv->w + ox + x * s + dx) * 3;
                    memcpy(p, px, 3);
                }
        }
}

/* Keeps the k entries of largest sign * r in top (sorted, descending). */
static int keep_top(link *top, int n, int k, float r, int64_t i, int64_t j, float sign)
{
    const float v = sign * r;
    if (v <= 0 || (n == k && v <= sign * top[n - 1].r)) return n;
    int p = n < k ? n++ : k - 1;
    while (p > 0 && sign * top[p - 1].r < v) {
        top[p] = top[p - 1];
        p--;
    }
    top[p].r = r;
    top[p].i = i;
    top[p].j = j;
    return n;
}

/* Centre of block b on an H x W grid of blocks of `block` pixels. */
static void centre(int64_t b, int64_t H, int64_t W, int block, int s, int ox, int *x, int *y)
{
    const int64_t bw = (W + block - 1) / block, r = b / bw, c = b % bw;
    const int64_t y0 = r * block, x0 = c * block;
    const int64_t hh = H - y0 < block ? H - y0 : block, ww = W - x0 < block ? W - x0 : block;
    *y = (int)((double)(y0 + hh / 2.0) * s);
    *x = ox + (int)((double)(x0 + ww / 2.0) * s);
}

neon_status neon_pairs_png(neon_ctx *ctx, const char *path, const float *R,
                           const neon_pair_image *x, const neon_pair_image *y, int block,
                           int top_k, float img_low, float img_high)
{
    if (!ctx || !path || !R || !x || !y || !x->data || !y->data) return NEON_ERR_INVALID;
    if (top_k < 0 || top_k > 100000)
        return neon_fail(ctx, NEON_ERR_INVALID, "links picture: top_k %d out of range", top_k);
    const int b = block > 1 ? block : 1;
    int64_t H1, W1, H2, W2;
    neon_pair_grid(x->ndim, x->shape, &H1, &W1);
    neon_pair_grid(y->ndim, y->shape, &H2, &W2);
    const int64_t B1 = neon_pair_blocks(H1, W1, b), B2 = neon_pair_blocks(H2, W2, b);
    const int64_t big = H1 > W1 ? H1 : W1, big2 = H2 > W2 ? H2 : W2;
    const int64_t mx = big > big2 ? big : big2;
    const int s = mx >= TARGET ? 1 : (int)(TARGET / mx);
    const int64_t hh = (H1 > H2 ? H1 : H2) * s, ww = (W1 + W2) * s + GAP;
    if (hh > 16384 || ww > 16384)
        return neon_fail(ctx, NEON_ERR_UNSUPPORTED, "links picture: images of %lldx%lld and "
                         "%lldx%lld are too large", (long long)H1, (long long)W1, (long long)H2,
                         (long long)W2);
    const int64_t bad = neon_find_nonfinite(R, B1 * B2);
    if (bad >= 0)
        return neon_fail(ctx, NEON_ERR_NUMERIC, "links picture: non-finite relevance at pair %lld",
                         (long long)bad);
    canvas cv = {NULL, (int)hh, (int)ww};
    link *top = neon_alloc_array(ctx, 2 * (size_t)(top_k ? top_k : 1), sizeof *top);
    cv.rgb = neon_alloc_array(ctx, (size_t)(hh * ww), 3);
    if (!top || !cv.rgb) {
        neon_free(ctx, top);
        neon_free(ctx, cv.rgb);
        return NEON_ERR_NOMEM;
    }
    memset(cv.rgb, 255, (size_t)(hh * ww) * 3);
    const int ox2 = (int)(W1 * s) + GAP;
    draw_image(&cv, x, H1, W1, 0, s, img_low, img_high);
    draw_image(&cv, y, H2, W2, ox2, s, img_low, img_high);
    link *pos = top, *neg = top + (top_k ? top_k : 1);
    int np = 0, nn = 0;
    for (int64_t i = 0; i < B1 && top_k; i++)
        for (int64_t j = 0; j < B2; j++) {
            np = keep_top(pos, np, top_k, R[i * B2 + j], i, j, 1.0f);
            nn = keep_top(neg, nn, top_k, R[i * B2 + j], i, j, -1.0f);
        }
    float vmax = 0;
    if (np) vmax = pos[0].r;
    if (nn && -neg[0].r > vmax) vmax = -neg[0].r;
    static const uint8_t red[3] = {230, 20, 20}, blue[3] = {20, 80, 240};
    /* weakest first, so the strongest links end on top */
    for (int k = (np > nn ? np : nn) - 1; k >= 0; k--)
        for (int sgn = 0; sgn < 2; sgn++) {
            const link *l = sgn ? (k < nn ? &neg[k] : NULL) : (k < np ? &pos[k] : NULL);
            if (!l) continue;
            int xa, ya, xb, yb;
            centre(l->i, H1, W1, b, s, 0, &xa, &ya);
            centre(l->j, H2, W2, b, s, ox2, &xb, &yb);
            const float a = 0.25f + 0.75f * fabsf(l->r) / vmax;
            line(&cv, xa, ya, xb, yb, sgn ? blue : red, a);
        }
    neon_status st = neon_png_write_rgb(ctx, path, cv.rgb, cv.h, cv.w);
    neon_free(ctx, top);
    neon_free(ctx, cv.rgb);
    return st;
}
