/* `neon explain MATCHER --input X.npy --input2 Y.npy --output R.npy`:
 * second-order (BiLRP) explanations of a two-input model, R (N, D1, D2) or
 * (N, B1, B2) with --block; --heatmap DIR writes the marginal heatmaps of
 * x and y and a picture of the strongest pair links per pair. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/bilrp.h"

#define DEFAULT_LINKS 20

/* Adds a leading batch axis to a single sample of input k's shape. */
static void add_batch_axis(neon_graph *g, int k, neon_tensor *X)
{
    neon_node_info in;
    if (neon_graph_node_info(g, neon_graph_input_id(g, k), &in)) return;
    if (X->ndim == in.ndim && X->ndim < NEON_MAX_DIMS) {
        memmove(X->shape + 1, X->shape, (size_t)X->ndim * sizeof(int64_t));
        X->shape[0] = 1;
        X->ndim++;
    }
}

static const char *input_name(neon_graph *g, int k)
{
    neon_node_info in;
    if (neon_graph_node_info(g, neon_graph_input_id(g, k), &in)) return "?";
    return in.name;
}

/* Pictures of every pair: dir/pairs_<n>.png.  R (N, B1, B2) at `block`;
 * full-resolution R is pooled into blocks of about 1/7 of the image. */
static int write_links(neon_ctx *ctx, const char *dir, const neon_tensor *X, const neon_tensor *Y,
                       const neon_tensor *R, int block, int links, float lo, float hi)
{
    int64_t H1, W1, H2, W2;
    neon_pair_grid(X->ndim - 1, X->shape + 1, &H1, &W1);
    neon_pair_grid(Y->ndim - 1, Y->shape + 1, &H2, &W2);
    if (H1 < 2 || H2 < 2) return CLI_OK; /* not image-like */
    int pb = block;
    float *pool = NULL;
    if (block <= 1) {
        const int64_t m = H1 > W1 ? H1 : W1;
        pb = m >= 14 ? (int)((m + 6) / 7) : 1;
        pool = malloc((size_t)(neon_pair_blocks(H1, W1, pb) * neon_pair_blocks(H2, W2, pb)) *
                      sizeof *pool);
        if (!pool) return cli_error(CLI_ERR, "out of memory");
    }
    const int64_t N = X->shape[0], per1 = neon_tensor_numel(X) / N, per2 = neon_tensor_numel(Y) / N;
    const int64_t pairs = R->shape[1] * R->shape[2];
    int code = CLI_OK;
    for (int64_t n = 0; n < N && code == CLI_OK; n++) {
        const float *Rn = R->data + n * pairs;
        if (pool) {
            neon_pair_pool(Rn, H1, W1, H2, W2, pb, pool);
            Rn = pool;
        }
        neon_pair_image a = {X->data + n * per1, X->ndim - 1, X->shape + 1};
        neon_pair_image b = {Y->data + n * per2, Y->ndim - 1, Y->shape + 1};
        char path[4096];
        snprintf(path, sizeof path, "%s/pairs_%05lld.png", dir, (long long)n);
        if (neon_pairs_png(ctx, path, Rn, &a, &b, pb, links, lo, hi))
            code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    }
    free(pool);
    return code;
}

static void range_of(const neon_tensor *X, const neon_tensor *Y, float *lo, float *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    const neon_tensor *t[2] = {X, Y};
    for (int k = 0; k < 2; k++)
        for (int64_t i = 0; i < neon_tensor_numel(t[k]); i++) {
            *lo = t[k]->data[i] < *lo ? t[k]->data[i] : *lo;
            *hi = t[k]->data[i] > *hi ? t[k]->data[i] : *hi;
        }
}

int cli_explain_pairs(neon_ctx *ctx, const cli_args *a, neon_graph *g, neon_tensor *X, long target,
                      long batch, neon_init init)
{
    const char *xin = cli_get(a, "input"), *yin = cli_get(a, "input2"), *rout = cli_get(a, "output");
    const int ni = neon_graph_num_inputs(g), quiet = cli_has(a, "quiet");
    if (ni != 2)
        return cli_error(CLI_USAGE, "--input2 is given, but the model has %d input%s; pairwise "
                         "explanations need a model with two inputs", ni, ni == 1 ? "" : "s");
    if (!yin)
        return cli_error(CLI_USAGE, "the model has two inputs ('%s' and '%s'): give the second "
                         "with --input2 Y.npy", input_name(g, 0), input_name(g, 1));
    const char *head = cli_get(a, "head");
    if (head && strcmp(head, "logit"))
        return cli_error(CLI_USAGE, "--head %s does not apply to pairwise explanations", head);
    long block = 0, links = DEFAULT_LINKS;
    if (cli_get(a, "block") && (!cli_int(cli_get(a, "block"), &block) || block < 1 || block > 4096))
        return cli_error(CLI_USAGE, "--block: expected an integer from 1 to 4096");
    if (cli_get(a, "links") && (!cli_int(cli_get(a, "links"), &links) || links < 0 || links > 10000))
        return cli_error(CLI_USAGE, "--links: expected an integer from 0 to 10000");
    const char *ins[1] = {yin};
    if (cli_check_distinct(rout, ins, 1)) return CLI_USAGE;
    neon_tensor Y = {0}, R = {0}, Rm[2] = {{0}, {0}};
    neon_explain_result *res = NULL;
    int *tg = NULL, code = CLI_OK;
    if (neon_npy_read(ctx, yin, &Y)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    add_batch_axis(g, 1, &Y);
    const int64_t N = X->ndim > 0 ? X->shape[0] : 0;
    if (Y.ndim < 1 || Y.shape[0] != N) {
        code = cli_error(CLI_ERR, "%s has %lld pairs' first inputs but %s has %lld second inputs",
                         xin, (long long)N, yin, (long long)(Y.ndim ? Y.shape[0] : 0));
        goto out;
    }
    int64_t D1, D2;
    if (neon_graph_bilrp_dims(g, (int)block, &D1, &D2)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    const int64_t shape[3] = {N, D1, D2};
    const int pics = cli_get(a, "heatmap") != NULL;
    if (neon_tensor_alloc(ctx, &R, 3, shape) ||
        (pics && (neon_tensor_alloc(ctx, &Rm[0], X->ndim, X->shape) ||
                  neon_tensor_alloc(ctx, &Rm[1], Y.ndim, Y.shape)))) {
        code = cli_error(CLI_ERR, "%s (pair relevance of %lld x %lld x %lld; try --block or "
                         "fewer pairs)", neon_errmsg(ctx), (long long)N, (long long)D1,
                         (long long)D2);
        goto out;
    }
    res = calloc((size_t)(N ? N : 1), sizeof *res);
    tg = malloc((size_t)(N ? N : 1) * sizeof *tg);
    if (!res || !tg) {
        code = cli_error(CLI_ERR, "out of memory");
        goto out;
    }
    for (int64_t n = 0; n < N; n++) tg[n] = (int)target;
    const neon_bilrp_opts opts = {init, (int)block, 0};
    const int64_t px = N ? neon_tensor_numel(X) / N : 0, py = N ? neon_tensor_numel(&Y) / N : 0;
    for (int64_t s = 0; s < N; s += batch) {
        const int64_t nb = N - s < batch ? N - s : batch;
        neon_tensor xs[2] = {*X, Y}, rc = R, mc[2] = {Rm[0], Rm[1]};
        xs[0].data += s * px;
        xs[1].data += s * py;
        rc.data += s * D1 * D2;
        xs[0].shape[0] = xs[1].shape[0] = rc.shape[0] = nb;
        for (int k = 0; pics && k < 2; k++) {
            mc[k].data += s * (k ? py : px);
            mc[k].shape[0] = nb;
        }
        if (neon_graph_bilrp(g, xs, tg + s, &opts, &rc, pics ? mc : NULL, res + s)) {
            code = cli_error(CLI_ERR, "%s: %s", xin, neon_errmsg(ctx));
            if (N > 1) fprintf(stderr, "neon: (in the batch of pairs %lld..%lld)\n",
                               (long long)s, (long long)(s + nb - 1));
            goto out;
        }
        if (!quiet && N > batch)
            fprintf(stderr, "\rneon: explained %lld/%lld pairs", (long long)(s + nb), (long long)N);
    }
    if (!quiet && N > batch) fputc('\n', stderr);
    printf("# pair target score relevance_sum\n");
    for (int64_t n = 0; n < N; n++)
        printf("%lld %d %.7g %.7g\n", (long long)n, res[n].target, (double)res[n].score,
               (double)res[n].relevance_sum);
    if (rout && neon_npy_write(ctx, rout, &R)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    if (pics) {
        const char *dir = cli_get(a, "heatmap");
        float lo, hi;
        if (cli_get(a, "low")) {
            cli_float(cli_get(a, "low"), &lo);
            cli_float(cli_get(a, "high"), &hi);
        } else {
            range_of(X, &Y, &lo, &hi);
        }
        code = cli_write_heatmaps(ctx, dir, "x", X, &Rm[0], lo, hi, quiet);
        if (code == CLI_OK) code = cli_write_heatmaps(ctx, dir, "y", &Y, &Rm[1], lo, hi, quiet);
        if (code == CLI_OK)
            code = write_links(ctx, dir, X, &Y, &R, (int)block, (int)links, lo, hi);
    }
out:
    free(res);
    free(tg);
    neon_tensor_free(ctx, &Y);
    neon_tensor_free(ctx, &R);
    neon_tensor_free(ctx, &Rm[0]);
    neon_tensor_free(ctx, &Rm[1]);
    return code;
}
