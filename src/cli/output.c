/* Output helpers: distinct paths, directories, heatmap files. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_check_distinct(const char *out, const char *const *ins, int n_ins)
{
    struct stat so, si;
    if (!out || stat(out, &so) != 0) return CLI_OK; /* does not exist yet */
    for (int i = 0; i < n_ins; i++)
        if (ins[i] && stat(ins[i], &si) == 0 && si.st_dev == so.st_dev && si.st_ino == so.st_ino)
            return cli_error(CLI_USAGE, "output %s is the input file %s; refusing to overwrite it",
                             out, ins[i]);
    return CLI_OK;
}

int cli_mkdirs(neon_ctx *ctx, const char *dir)
{
    (void)ctx;
    char buf[4096];
    if (strlen(dir) >= sizeof buf) return cli_error(CLI_ERR, "%s: path too long", dir);
    strcpy(buf, dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return cli_error(CLI_ERR, "cannot create directory %s: %s", buf, strerror(errno));
            *p = c;
            if (!c) break;
        }
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return cli_error(CLI_ERR, "%s is not a directory", dir);
    return CLI_OK;
}

/* Image layout of one sample: (C,H,W) with C in {1,3}, (H,W), or a square
 * vector (784 -> 28x28).  Returns 0 when the data is not image-like. */
static int image_layout(const neon_tensor *X, int *c, int *h, int *w)
{
    const int d = X->ndim - 1;
    const int64_t *s = X->shape + 1;
    if (d == 3 && (s[0] == 1 || s[0] == 3)) { *c = (int)s[0]; *h = (int)s[1]; *w = (int)s[2]; return 1; }
    if (d == 3) { *c = (int)s[0]; *h = (int)s[1]; *w = (int)s[2]; return 2; } /* sum channels, no image */
    if (d == 2) { *c = 1; *h = (int)s[0]; *w = (int)s[1]; return 1; }
    if (d == 1) {
        int r = 1;
        while ((int64_t)(r + 1) * (r + 1) <= s[0]) r++;
        if ((int64_t)r * r == s[0] && r >= 4) { *c = 1; *h = r; *w = r; return 1; }
    }
    return 0;
}

int cli_write_heatmaps(neon_ctx *ctx, const char *dir, const char *prefix, const neon_tensor *X,
                       const neon_tensor *R, float img_low, float img_high, int quiet)
{
    int c, h, w;
    int lay = image_layout(X, &c, &h, &w);
    if (!lay) {
        if (!quiet) fprintf(stderr, "neon: inputs are not image-like; no heatmaps written\n");
        return CLI_OK;
    }
    if (cli_mkdirs(ctx, dir)) return CLI_ERR;
    const int64_t N = X->shape[0], per = (int64_t)c * h * w;
    float *map = malloc((size_t)h * w * sizeof *map);
    if (!map) return cli_error(CLI_ERR, "out of memory");
    int code = CLI_OK;
    for (int64_t n = 0; n < N && code == CLI_OK; n++) {
        const float *r = R->data + n * per;
        for (int i = 0; i < h * w; i++) {
            float s = 0;
            for (int k = 0; k < c; k++) s += r[(int64_t)k * h * w + i];
            map[i] = s;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s_%05lld.png", dir, prefix, (long long)n);
        neon_heatmap_opts o = {0, h < 64 ? 4 : 1, 0};
        if (neon_heatmap_png(ctx, path, map, h, w, lay == 1 ? X->data + n * per : NULL,
                             lay == 1 ? c : 0, img_low, img_high, &o))
            code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    }
    free(map);
    return code;
}
