/* `neon eval` of k-means models: the explained score must stay the logit
 * f_c of the cluster c the *clean* image is assigned to while the image is
 * perturbed (a perturbed image may move to another cluster; its f_c then
 * turns negative).  The k-means graph explains either each input's own
 * assigned cluster or one fixed cluster, so the images are grouped by
 * their clean cluster, each group is evaluated with a graph fixed to that
 * cluster, and the groups' results are merged (neon_eval_result_merge);
 * the images' global indices keep the noise of a single run over all. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "neonlrp/eval.h"
#include "neonlrp/neuralize.h"

/* a with --cluster set to k (buf holds the text). */
static cli_args with_cluster(const cli_args *a, int k, char *buf, size_t n)
{
    cli_args b = *a;
    snprintf(buf, n, "%d", k);
    for (int i = 0; i < b.n_opts; i++)
        if (!strcmp(b.opts[i].name, "cluster")) {
            b.count[i] = 1;
            b.val[i][0] = buf;
        } else if (!strcmp(b.opts[i].name, "target")) {
            b.count[i] = 0;
        }
    return b;
}

/* The clean cluster of every image, from the graph that explains each
 * input's assigned cluster. */
static int clean_clusters(neon_ctx *ctx, neon_graph *g, const neon_tensor *X, int64_t batch,
                          int *cl)
{
    const int64_t N = X->shape[0], per = neon_tensor_numel(X) / N;
    for (int64_t s = 0; s < N; s += batch) {
        neon_tensor xb = *X;
        xb.data += s * per;
        xb.shape[0] = N - s < batch ? N - s : batch;
        if (neon_graph_forward(g, &xb, NULL) || neon_graph_kmeans_clusters(g, -1, cl + s))
            return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    }
    return CLI_OK;
}

int cli_eval_kmeans_groups(neon_ctx *ctx0, const char *path, const cli_args *a, cli_model *m0,
                           const neon_tensor *X, int n_workers, const neon_eval_method *methods,
                           int n_methods, const neon_eval_opts *o, int *n_groups,
                           neon_eval_result **out)
{
    *out = NULL;
    *n_groups = 0;
    const int64_t N = X->shape[0], per = neon_tensor_numel(X) / N;
    int *cl = malloc((size_t)N * sizeof *cl);
    int64_t *ids = malloc((size_t)N * sizeof *ids);
    float *xg = malloc((size_t)(N * per) * sizeof *xg);
    neon_eval_result **parts = calloc((size_t)N, sizeof *parts);
    int code = cl && ids && xg && parts ? CLI_OK : cli_error(CLI_ERR, "out of memory");
    if (!code) code = clean_clusters(ctx0, m0->g, X, o->batch > 0 ? o->batch : 64, cl);
    int K = 0;
    for (int64_t n = 0; !code && n < N; n++) K = cl[n] + 1 > K ? cl[n] + 1 : K;
    for (int k = 0; !code && k < K; k++) {
        int64_t ng = 0;
        for (int64_t n = 0; n < N; n++)
            if (cl[n] == k) {
                ids[ng] = n;
                memcpy(xg + ng * per, X->data + n * per, (size_t)per * sizeof *xg);
                ng++;
            }
        if (!ng) continue;
        char buf[32];
        const cli_args b = with_cluster(a, k, buf, sizeof buf);
        neon_ctx *ctx[256] = {ctx0};
        cli_model m[256];
        neon_graph *gs[256];
        memset(m, 0, sizeof m);
        int nm = 0;
        for (; !code && nm < n_workers; nm++) {
            if (nm > 0 && neon_ctx_create(&ctx[nm], NULL)) {
                code = cli_error(CLI_ERR, "out of memory");
                break;
            }
            if (n_workers > 1) neon_ctx_set_threads(ctx[nm], 1);
            code = cli_load_model(ctx[nm], path, &b, X, &m[nm]);
            gs[nm] = m[nm].g;
        }
        neon_tensor xt = *X;
        xt.data = xg;
        xt.shape[0] = ng;
        neon_eval_opts og = *o;
        og.targets = NULL; /* the graph's output (1) is f_k */
        og.sample_ids = ids;
        if (!code && neon_eval_run(gs, n_workers, 1, &xt, methods, n_methods, &og,
                                   &parts[*n_groups]))
            code = cli_error(CLI_ERR, "cluster %d: %s", k, neon_errmsg(ctx0));
        if (!code) (*n_groups)++;
        for (int w = 0; w <= nm && w < n_workers; w++) cli_free_model(&m[w]);
        for (int w = 1; w < n_workers; w++) neon_ctx_destroy(ctx[w]);
    }
    if (!code && neon_eval_result_merge(ctx0, parts, *n_groups, out))
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx0));
    for (int g = 0; parts && g < *n_groups; g++) neon_eval_result_destroy(parts[g]);
    free(parts);
    free(xg);
    free(ids);
    free(cl);
    return code;
}
