/* The perturbation curves as a PNG plot, drawn into an RGB buffer with a
 * built-in 5x7 bitmap font (no plotting dependency): axes with "nice"
 * ticks, one colour per method (MoRF solid, LeRF dashed), the random
 * order in grey, a legend, a title and axis labels. */
#include "eval_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "font5x7.h"
#include "neonlrp/io.h"

enum { PW = 1320, PH = 660, PX0 = 100, PX1 = 800, PY0 = 70, PY1 = 570, LX = 830 };

typedef struct canvas {
    uint8_t *px;
    int w, h;
} canvas;

typedef struct rgb {
    uint8_t r, g, b;
} rgb;

static const rgb BLACK = {0, 0, 0}, GRID = {228, 228, 228}, GREY = {128, 128, 128};
/* matplotlib's tab10 without its grey */
static const rgb PALETTE[9] = {{31, 119, 180}, {255, 127, 14}, {44, 160, 44},
                               {214, 39, 40},  {148, 103, 189}, {140, 86, 75},
                               {227, 119, 194}, {188, 189, 34}, {23, 190, 207}};

static void put(canvas *c, int x, int y, rgb col)
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    uint8_t *p = c->px + ((size_t)y * c->w + x) * 3;
    p[0] = col.r;
    p[1] = col.g;
    p[2] = col.b;
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, rgb col) /* inclusive */
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) put(c, x, y, col);
}

/* Bresenham with a square brush of side `thick`; dash > 0 draws `dash`
 * pixels on, dash/2 off, with the phase carried in *phase. */
static void line(canvas *c, int x0, int y0, int x1, int y1, rgb col, int thick, int dash,
                 int *phase)
{
    const int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
    int err = dx + dy;
    for (;;) {
        const int on = dash <= 0 || (*phase % (dash + dash / 2)) < dash;
        if (on) rect(c, x0 - thick / 2, y0 - thick / 2, x0 + (thick - 1) / 2, y0 + (thick - 1) / 2, col);
        (*phase)++;
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

/* Text at (x, y) = top-left, each font pixel drawn as s x s; vertical
 * text runs bottom to top (rotated 90 degrees counter-clockwise). */
static int text(canvas *c, int x, int y, const char *s, int sc, rgb col, int vertical)
{
    int adv = 0;
    for (; *s; s++) {
        const unsigned ch = (unsigned char)*s;
        const uint8_t *gl = neon_font5x7[ch >= 32 && ch < 127 ? ch - 32 : '?' - 32];
        for (int r = 0; r < 8; r++)
            for (int k = 0; k < 5; k++)
                if (gl[r] & (0x10 >> k)) {
                    if (!vertical) rect(c, x + adv + k * sc, y + r * sc, x + adv + k * sc + sc - 1, y + r * sc + sc - 1, col);
                    else rect(c, x + r * sc, y - adv - k * sc - sc + 1, x + r * sc + sc - 1, y - adv - k * sc, col);
                }
        adv += 6 * sc;
    }
    return adv;
}

static int text_width(const char *s, int sc) { return (int)strlen(s) * 6 * sc; }

/* Ticks at multiples of 1, 2 or 5 x 10^k covering [lo, hi], about n of them. */
static double nice_step(double lo, double hi, int n)
{
    const double raw = (hi - lo) / n, p = pow(10.0, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

static void fmt_tick(double v, double step, char *buf, size_t n)
{
    if (fabs(v) < step * 1e-6) v = 0;
    const int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    snprintf(buf, n, "%.*f", dec > 6 ? 6 : dec, v);
}

neon_status neon_eval_plot_png(neon_ctx *ctx, const char *path, const neon_eval_result *r,
                               const char *title)
{
    if (!ctx) return NEON_ERR_INVALID;
    if (!path || !r || r->steps < 1) return neon_fail(ctx, NEON_ERR_INVALID, "eval plot: nothing to plot");
    canvas c = {neon_alloc(ctx, (size_t)PW * PH * 3), PW, PH};
    if (!c.px) return NEON_ERR_NOMEM;
    memset(c.px, 255, (size_t)PW * PH * 3);
    const int L = r->steps;
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < r->n_methods; i++)
        for (int o = 0; o < 3; o++)
            for (int k = 0; r->methods[i].curve[o] && k <= L; k++) {
                const double v = r->methods[i].curve[o][k];
                if (isfinite(v)) {
                    lo = v < lo ? v : lo;
                    hi = v > hi ? v : hi;
                }
            }
    if (!(hi >= lo)) lo = 0, hi = 1;
    if (hi - lo < 1e-9 * (fabs(hi) + 1)) lo -= 0.5, hi += 0.5;
    const double ys = nice_step(lo, hi, 8);
    lo = floor(lo / ys) * ys;
    hi = ceil(hi / ys) * ys;
    const double xs = nice_step(0, L, 10);
#define MAPX(v) (PX0 + (int)lround((double)(v) / L * (PX1 - PX0)))
#define MAPY(v) (PY1 - (int)lround(((double)(v) - lo) / (hi - lo) * (PY1 - PY0)))
    char buf[160];
    /* grid, ticks, labels */
    for (double v = lo; v <= hi + ys * 1e-6; v += ys) {
        const int y = MAPY(v);
        rect(&c, PX0, y, PX1, y, GRID);
        rect(&c, PX0 - 6, y, PX0, y, BLACK);
        fmt_tick(v, ys, buf, sizeof buf);
        text(&c, PX0 - 10 - text_width(buf, 2), y - 7, buf, 2, BLACK, 0);
    }
    for (double v = 0; v <= L + xs * 1e-6; v += xs) {
        const int x = MAPX(v);
        rect(&c, x, PY0, x, PY1, GRID);
        rect(&c, x, PY1, x, PY1 + 6, BLACK);
        fmt_tick(v, xs, buf, sizeof buf);
        text(&c, x - text_width(buf, 2) / 2, PY1 + 12, buf, 2, BLACK, 0);
    }
    rect(&c, PX0, PY0, PX0 + 1, PY1, BLACK); /* axes */
    rect(&c, PX0, PY1, PX1, PY1 + 1, BLACK);
    /* curves: random order first (underneath), then LeRF, then MoRF */
    for (int o = 2; o >= 0; o--)
        for (int i = 0; i < r->n_methods; i++) {
            const float *cv = r->methods[i].curve[o];
            if (!cv || (o == 2 && i > 0)) continue; /* the random order is shared */
            const rgb col = o == 2 ? GREY : PALETTE[i % 9];
            int phase = 0;
            for (int k = 0; k < L; k++)
                line(&c, MAPX(k), MAPY(cv[k]), MAPX(k + 1), MAPY(cv[k + 1]), col, o == 0 ? 3 : 2,
                     o == 1 ? 10 : 0, &phase);
        }
    /* title and axis labels */
    if (!title) {
        snprintf(buf, sizeof buf, "Region perturbation: N=%lld, %dx%d regions, L=%d, seed %llu",
                 (long long)r->n_samples, r->grid.rh, r->grid.rw, L, (unsigned long long)r->seed);
        title = buf;
    }
    text(&c, (PX0 + PX1) / 2 - text_width(title, 2) / 2, 24, title, 2, BLACK, 0);
    const char *xl = "step k: regions replaced by noise";
    text(&c, (PX0 + PX1) / 2 - text_width(xl, 2) / 2, PY1 + 44, xl, 2, BLACK, 0);
    const char *yl = r->head == NEON_HEAD_LOGODDS ? "mean log-odds of the target f(x_k)"
                                                   : "mean explained score f(x_k)";
    text(&c, 18, (PY0 + PY1) / 2 + text_width(yl, 2) / 2, yl, 2, BLACK, 1);
    /* legend */
    int y = PY0;
    text(&c, LX, y, "method (AOPC MoRF / LeRF)", 2, BLACK, 0);
    y += 30;
    for (int i = 0; i < r->n_methods; i++) {
        const rgb col = PALETTE[i % 9];
        rect(&c, LX, y + 6, LX + 28, y + 8, col);
        char name[64];
        snprintf(name, sizeof name, "%.36s", r->methods[i].name);
        text(&c, LX + 38, y, name, 2, BLACK, 0);
        if (r->n_methods > 9) { /* no room for the AOPC line */
            y += 22;
            continue;
        }
        snprintf(name, sizeof name, "%.4g / %.4g", r->methods[i].aopc[0], r->methods[i].aopc[1]);
        text(&c, LX + 38, y + 20, name, 2, col, 0);
        y += 48;
    }
    y += 10;
    int ph = 0;
    line(&c, LX, y + 7, LX + 28, y + 7, BLACK, 3, 0, &ph);
    text(&c, LX + 38, y, "MoRF: most relevant first", 2, BLACK, 0);
    y += 24;
    ph = 0;
    line(&c, LX, y + 7, LX + 28, y + 7, BLACK, 2, 10, &ph);
    text(&c, LX + 38, y, "LeRF: least relevant first", 2, BLACK, 0);
    y += 24;
    ph = 0;
    line(&c, LX, y + 7, LX + 28, y + 7, GREY, 2, 0, &ph);
    text(&c, LX + 38, y, "random order", 2, BLACK, 0);
#undef MAPX
#undef MAPY
    neon_status st = neon_png_write_rgb(ctx, path, c.px, PH, PW);
    neon_free(ctx, c.px);
    return st;
}
