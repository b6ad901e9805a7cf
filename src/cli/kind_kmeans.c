/* k-means models for `neon explain` / `neon eval` / `neon info`: a
 * NEONKM01 file (neon fit kmeans) or bare centroids (K, D) as .npy (--kind
 * kmeans), neuralized into the shared graph: output (1), the logit f_c of
 * the explained cluster c (--cluster K / --target K: c = K for every
 * sample; default: each sample's assigned cluster).  Per-sample lines:
 * sample cluster f_c relevance_sum.  With --heatmap, one mean-relevance
 * picture per explained cluster (DIR/cluster_<k>.png) besides the
 * per-sample maps. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "neonlrp/neuralize.h"

typedef struct km_cli {
    neon_kmeans *km;
    float beta;
    int cluster;           /* -1: each sample's assigned cluster */
    neon_ctx *ctx;
    const neon_tensor *X;  /* the data given at load (may be NULL) */
    int *labels;           /* the explained cluster of each sample of X, made on first use */
    int64_t n_labels;
} km_cli;

static void km_free(void *p)
{
    km_cli *k = p;
    if (!k) return;
    neon_kmeans_destroy(k->km);
    free(k->labels);
    free(k);
}

/* The explained cluster of sample n of the data given at load: the fixed
 * one, or its assigned cluster (computed once for the whole data; the
 * graph computes the same, see neon_kmeans_assign); -1 if unknown. */
static int km_label(const cli_model *m, int64_t n)
{
    km_cli *k = m->priv;
    if (k->cluster >= 0) return k->cluster;
    if (!k->labels && k->X && k->X->data) {
        const int64_t D = neon_kmeans_dim(k->km), N = neon_tensor_numel(k->X) / D;
        neon_tensor x1 = {k->X->data, 2, {N, D}};
        if (N > 0 && (k->labels = malloc((size_t)N * sizeof *k->labels))) {
            if (neon_kmeans_assign(k->ctx, k->km, &x1, k->labels, NULL) != NEON_OK) {
                free(k->labels);
                k->labels = NULL;
            } else
                k->n_labels = N;
        }
    }
    return k->labels && n < k->n_labels ? k->labels[n] : -1;
}

static void km_line(const cli_model *m, int64_t n, const neon_explain_result *r, FILE *f)
{
    fprintf(f, "%lld %d %.7g %.7g\n", (long long)n, km_label(m, n), (double)r->score,
            (double)r->relevance_sum);
}

/* Image layout of one sample of X: (1, H, W), (H, W), or a square vector. */
static int image_hw(const neon_tensor *X, int *h, int *w)
{
    const int d = X->ndim - 1;
    const int64_t *s = X->shape + 1;
    if (d == 3 && s[0] == 1) { *h = (int)s[1]; *w = (int)s[2]; return 1; }
    if (d == 2) { *h = (int)s[0]; *w = (int)s[1]; return 1; }
    if (d == 1) {
        int64_t r = (int64_t)sqrt((double)s[0]);
        while (r * r > s[0]) r--;
        while ((r + 1) * (r + 1) <= s[0]) r++;
        if (r * r == s[0] && r >= 4) { *h = *w = (int)r; return 1; }
    }
    return 0;
}

/* DIR/cluster_<k>.png: mean relevance over the samples explained for
 * cluster k, drawn beside their mean image. */
static int km_after(const cli_model *m, neon_ctx *ctx, const cli_args *a, const neon_tensor *X,
                    const neon_tensor *R, const neon_explain_result *res)
{
    (void)res;
    const char *dir = cli_get(a, "heatmap");
    int h, w;
    if (!dir || X->ndim < 2 || !image_hw(X, &h, &w)) return CLI_OK;
    const int64_t N = X->shape[0], D = (int64_t)h * w, K = neon_kmeans_k(((km_cli *)m->priv)->km);
    float lo = INFINITY, hi = -INFINITY;
    if (cli_get(a, "low") && cli_get(a, "high")) {
        cli_float(cli_get(a, "low"), &lo);
        cli_float(cli_get(a, "high"), &hi);
    } else
        for (int64_t i = 0; i < N * D; i++) {
            lo = X->data[i] < lo ? X->data[i] : lo;
            hi = X->data[i] > hi ? X->data[i] : hi;
        }
    double *sr = calloc((size_t)D, sizeof *sr), *sx = calloc((size_t)D, sizeof *sx);
    float *mr = malloc((size_t)D * sizeof *mr), *mx = malloc((size_t)D * sizeof *mx);
    int code = (!sr || !sx || !mr || !mx) ? cli_error(CLI_ERR, "out of memory") : CLI_OK;
    int written = 0;
    for (int64_t k = 0; k < K && code == CLI_OK; k++) {
        int64_t cnt = 0;
        memset(sr, 0, (size_t)D * sizeof *sr);
        memset(sx, 0, (size_t)D * sizeof *sx);
        for (int64_t n = 0; n < N; n++) {
            if (km_label(m, n) != k) continue;
            cnt++;
            for (int64_t i = 0; i < D; i++) {
                sr[i] += R->data[n * D + i];
                sx[i] += X->data[n * D + i];
            }
        }
        if (!cnt) continue;
        for (int64_t i = 0; i < D; i++) {
            mr[i] = (float)(sr[i] / (double)cnt);
            mx[i] = (float)(sx[i] / (double)cnt);
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/cluster_%02lld.png", dir, (long long)k);
        neon_heatmap_opts o = {0, h < 64 ? 4 : 1, 0};
        if (neon_heatmap_png(ctx, path, mr, h, w, mx, 1, lo, hi, &o))
            code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        else
            written++;
    }
    if (code == CLI_OK && !cli_has(a, "quiet"))
        fprintf(stderr, "neon: %d per-cluster mean-relevance maps in %s/cluster_*.png\n", written,
                dir);
    free(sr);
    free(sx);
    free(mr);
    free(mx);
    return code;
}

int cli_load_kmeans(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                    cli_model *m)
{
    neon_kmeans *km;
    if (neon_kmeans_load(ctx, path, &km)) return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    const int64_t D = neon_kmeans_dim(km), K = neon_kmeans_k(km), P = neon_kmeans_pca_dim(km);
    int code = CLI_OK, in_ndim = 0;
    const int64_t *in_shape = NULL;
    if (X && X->ndim >= 1) { /* the data must hold D features per sample */
        const int64_t numel = neon_tensor_numel(X);
        const int64_t per = X->ndim == 1 ? numel : (X->shape[0] ? numel / X->shape[0] : 0);
        char sb[128];
        if (per != D)
            code = cli_error(CLI_ERR, "%s has %lld features per sample but the data %s has %lld",
                             path, (long long)D, neon_shape_str(X->ndim, X->shape, sb, sizeof sb),
                             (long long)per);
        else if (X->ndim >= 2) { /* keep the data's per-sample shape (heatmaps) */
            in_ndim = X->ndim - 1;
            in_shape = X->shape + 1;
        }
    }
    long cluster = -1;
    const char *cs = cli_get(a, "cluster");
    if (!cs) cs = cli_get(a, "target");
    if (code == CLI_OK && cs && strcmp(cs, "argmax")) {
        if (!cli_int(cs, &cluster) || cluster < 0)
            code = cli_error(CLI_USAGE, "--cluster: expected a cluster index >= 0, got '%s'", cs);
        else if (cluster >= K)
            code = cli_error(CLI_USAGE, "--cluster %ld out of range: %s has K=%lld clusters (0..%lld)",
                             cluster, path, (long long)K, (long long)K - 1);
    }
    float beta = 0;
    const char *bs = cli_get(a, "beta"), *from = "stored in the model file";
    if (code == CLI_OK && bs) {
        if (!cli_float(bs, &beta) || !(beta > 0))
            code = cli_error(CLI_USAGE, "--beta: expected a number > 0, got '%s'", bs);
        from = "--beta";
    } else if (code == CLI_OK && neon_kmeans_beta(km) > 0) {
        beta = neon_kmeans_beta(km);
    } else if (code == CLI_OK && X) {
        neon_tensor x1 = *X;
        if (X->ndim == 1) { /* a single sample without batch axis */
            x1.ndim = 2;
            x1.shape[0] = 1;
            x1.shape[1] = X->shape[0];
        }
        if (neon_kmeans_default_beta(ctx, km, &x1, &beta))
            code = cli_error(CLI_ERR, "%s: %s", path, neon_errmsg(ctx));
        else {
            from = "1 / mean f_c over the batch being explained";
            if (!cli_has(a, "quiet"))
                fprintf(stderr,
                        "neon: %s stores no beta: beta = %g = 1 / mean f_c over the %lld samples "
                        "being explained (pass --beta to fix it)\n",
                        path, (double)beta, (long long)x1.shape[0]);
        }
    } else if (code == CLI_OK) {
        beta = 1.0f; /* neon info on bare centroids */
        from = "none stored: 1 / mean f_c of the data when explaining; 1 shown";
    }
    km_cli *priv = NULL;
    if (code == CLI_OK && !(priv = calloc(1, sizeof *priv))) code = cli_error(CLI_ERR, "out of memory");
    if (code == CLI_OK && neon_kmeans_graph(ctx, km, beta, (int)cluster, in_ndim, in_shape, &m->g))
        code = cli_error(CLI_ERR, "%s: %s", path, neon_errmsg(ctx));
    if (code != CLI_OK) {
        free(priv);
        neon_kmeans_destroy(km);
        return code;
    }
    priv->km = km;
    priv->beta = beta;
    priv->cluster = (int)cluster;
    priv->ctx = ctx;
    priv->X = X;
    m->kind = MODEL_KMEANS;
    m->priv = priv;
    m->free_priv = km_free;
    m->header = "# sample cluster f_c relevance_sum";
    m->line = km_line;
    m->after = km_after;
    char pca[64] = "";
    if (P) snprintf(pca, sizeof pca, ", PCA front end %lld -> %lld", (long long)D, (long long)P);
    snprintf(m->desc, sizeof m->desc, "k-means %s: K=%lld clusters, D=%lld features%s; beta %g (%s)",
             path, (long long)K, (long long)D, pca, (double)beta, from);
    return CLI_OK;
}
