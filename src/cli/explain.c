/* `neon explain MODEL --input X.npy --output R.npy ...` */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const cli_opt explain_opts[] = {
    {"input", "X.npy", "inputs (N, ...) as the model expects (float32/float64 .npy)", 0},
    {"output", "R.npy", "relevance, same shape as X (written only if everything succeeded)", 0},
    {"input2", "Y.npy", "second inputs of a two-input model (a matcher): pair relevance (N, D1, D2)", 0},
    {"block", "K", "pairs: sum-pool the pair relevance into K x K pixel blocks", 0},
    {"links", "K", "pairs: strongest links of each sign drawn per pair with --heatmap (20)", 0},
    {"target", "N|argmax", "class to explain (default argmax: the predicted class)", 0},
    {"init", "value|one", "start from the explained value (default) or from 1", 0},
    {"head", "logit|logodds", "explain the logit (default) or the log-odds of the class", 0},
    {"heatmap", "DIR", "write one PNG heatmap per sample into DIR", 0},
    {"kind", "onnx|kmeans|ocsvm", "kind of MODEL when its file does not say (bare centroids .npy)", 0},
    {"beta", "B", "k-means: stiffness of the soft-min pool (default: 1 / mean f_c)", 0},
    {"cluster", "K", "k-means: explain cluster K instead of the assigned one (as --target)", 0},
    {"batch", "B", "samples per pass (default 64)", 0},
    {"threads", "N", "BLAS threads (default: all cores)", 0},
    {"trace", NULL, "print per-node relevance sums for the first sample (stderr)", 0},
    {"quiet", NULL, "no progress or notices on stderr", 0},
    {"help", NULL, "this help", 0},
};
#define N_EXPLAIN_OPTS ((int)(sizeof explain_opts / sizeof explain_opts[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: neon explain MODEL --input X.npy [--output R.npy] [options]\n\n"
               "Explains the model's prediction for every sample of X with LRP and prints one\n"
               "line per sample: index, target, explained score, sum of relevance.\n"
               "MODEL: an ONNX network (.onnx), a k-means model (neon fit kmeans, or centroids\n"
               "(K, D) .npy with --kind kmeans), or a libsvm one-class SVM model.\n\noptions:\n");
    cli_print_opts(f, explain_opts, N_EXPLAIN_OPTS);
    fprintf(f, "\nrule options:\n");
    cli_print_opts(f, cli_rule_opts, cli_n_rule_opts);
}

static void log_to_stderr(neon_log_level lvl, const char *msg, void *user)
{
    (void)user;
    fprintf(stderr, "neon: %s%s\n", lvl == NEON_LOG_WARN ? "warning: " : "", msg);
}

/* Sum of node id's relevance for sample 0. */
static double rel_sum0(neon_graph *g, int id)
{
    neon_tensor rel;
    if (neon_graph_relevance(g, id, &rel)) return 0;
    int64_t per = 1;
    for (int k = 1; k < rel.ndim; k++) per *= rel.shape[k];
    double s = 0;
    for (int64_t k = 0; k < per; k++) s += rel.data[k];
    return s;
}

/* Per-node relevance of sample 0 and what each node absorbed (its
 * relevance minus what reached its inputs; shown where every input feeds
 * only this node, so that the difference is this node's alone). */
static void trace(neon_graph *g)
{
    const int n = neon_graph_num_nodes(g), o = neon_graph_output_id(g);
    int consumers[4096] = {0};
    for (int i = 0; i <= o && i < 4096; i++) {
        neon_node_info info;
        if (neon_graph_node_info(g, i, &info)) continue;
        for (int k = 0; k < info.n_inputs; k++)
            if (info.inputs[k] < 4096) consumers[info.inputs[k]]++;
    }
    fprintf(stderr, "# trace of sample 0: node, kind, rule, relevance at its output, absorbed\n");
    for (int i = o; i >= 0 && i < n; i--) {
        neon_node_info info;
        neon_rule r;
        if (neon_graph_node_info(g, i, &info) || neon_graph_node_rule(g, i, &r)) continue;
        const double s = rel_sum0(g, i);
        char rb[64], ab[32] = "";
        int exclusive = info.n_inputs > 0;
        double below = 0;
        for (int k = 0; k < info.n_inputs; k++) {
            if (info.inputs[k] >= 4096 || consumers[info.inputs[k]] != 1) exclusive = 0;
            else below += rel_sum0(g, info.inputs[k]);
        }
        if (exclusive) snprintf(ab, sizeof ab, "%.6g", s - below);
        fprintf(stderr, "%4d %-32s %-10s %-18s %12.6g %12s\n", i, info.name, info.kind,
                neon_rule_str(&r, rb, sizeof rb), s, ab);
    }
}

int cmd_explain(int argc, char **argv)
{
    cli_args a;
    char err[256];
    cli_opt all[64];
    int n_all = 0;
    for (int i = 0; i < N_EXPLAIN_OPTS; i++) all[n_all++] = explain_opts[i];
    for (int i = 0; i < cli_n_rule_opts; i++) all[n_all++] = cli_rule_opts[i];
    if (cli_parse(argc, argv, all, n_all, &a, err, sizeof err)) return cli_error(CLI_USAGE, "explain: %s", err);
    if (cli_has(&a, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (a.n_pos != 1) return cli_error(CLI_USAGE, "explain: expected one MODEL (see neon explain --help)");
    const char *model_path = a.pos[0], *xin = cli_get(&a, "input"), *rout = cli_get(&a, "output");
    if (!xin) return cli_error(CLI_USAGE, "explain: --input X.npy is required");
    const int quiet = cli_has(&a, "quiet");
    /* validate every option before any work */
    long target = NEON_TARGET_ARGMAX, batch = 64, threads = 0;
    const char *ts = cli_get(&a, "target");
    if (!ts) ts = cli_get(&a, "cluster");
    if (ts && strcmp(ts, "argmax") && (!cli_int(ts, &target) || target < 0))
        return cli_error(CLI_USAGE, "--target: expected a class index >= 0 or 'argmax', got '%s'", ts);
    if (cli_get(&a, "batch") && (!cli_int(cli_get(&a, "batch"), &batch) || batch < 1))
        return cli_error(CLI_USAGE, "--batch: expected an integer >= 1");
    if (cli_get(&a, "threads") && (!cli_int(cli_get(&a, "threads"), &threads) || threads < 0))
        return cli_error(CLI_USAGE, "--threads: expected an integer >= 0");
    neon_explain_opts eo = {NEON_INIT_VALUE, NEON_HEAD_LOGIT};
    const char *init = cli_get(&a, "init"), *head = cli_get(&a, "head");
    if (init && strcmp(init, "value") && strcmp(init, "one"))
        return cli_error(CLI_USAGE, "--init: expected value or one, got '%s'", init);
    if (init && !strcmp(init, "one")) eo.init = NEON_INIT_ONE;
    if (head && strcmp(head, "logit") && strcmp(head, "logodds"))
        return cli_error(CLI_USAGE, "--head: expected logit or logodds, got '%s'", head);
    if (head && !strcmp(head, "logodds")) eo.head = NEON_HEAD_LOGODDS;
    const char *ins[2] = {xin, model_path};
    if (cli_check_distinct(rout, ins, 2)) return CLI_USAGE;

    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return cli_error(CLI_ERR, "out of memory");
    if (!quiet) neon_ctx_set_log(ctx, log_to_stderr, NEON_LOG_WARN, NULL);
    neon_ctx_set_threads(ctx, (int)threads);
    int code = CLI_OK;
    cli_model m = {0};
    neon_rules *rs = NULL;
    neon_tensor X = {0}, R = {0};
    neon_explain_result *res = NULL;
    int *tg = NULL;
    if ((code = cli_make_rules(ctx, &a, &rs))) goto out;
    if (neon_npy_read(ctx, xin, &X)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    if ((code = cli_load_model(ctx, model_path, &a, &X, &m))) goto out;
    if (m.kind == MODEL_KMEANS) target = NEON_TARGET_ARGMAX; /* --cluster is in the graph: output (1) */
    neon_node_info in0;
    neon_graph_node_info(m.g, neon_graph_input_id(m.g, 0), &in0);
    if (X.ndim == in0.ndim && X.ndim < NEON_MAX_DIMS) { /* a single sample without batch axis */
        memmove(X.shape + 1, X.shape, (size_t)X.ndim * sizeof(int64_t));
        X.shape[0] = 1;
        X.ndim++;
    }
    if (neon_graph_set_rules(m.g, rs)) {
        code = cli_error(CLI_USAGE, "%s", neon_errmsg(ctx));
        goto out;
    }
    if (cli_has(&a, "input2") || neon_graph_num_inputs(m.g) == 2) { /* a matcher: pairs */
        code = cli_explain_pairs(ctx, &a, m.g, &X, target, batch, eo.init);
        goto out;
    }
    const int64_t N = X.ndim > 0 ? X.shape[0] : 0;
    if (neon_tensor_alloc(ctx, &R, X.ndim, X.shape)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    res = calloc((size_t)(N ? N : 1), sizeof *res);
    tg = malloc((size_t)(N ? N : 1) * sizeof *tg);
    if (!res || !tg) {
        code = cli_error(CLI_ERR, "out of memory");
        goto out;
    }
    for (int64_t n = 0; n < N; n++) tg[n] = (int)target;
    const int64_t per = N ? neon_tensor_numel(&X) / N : 0;
    for (int64_t s = 0; s < N; s += batch) {
        const int64_t nb = N - s < batch ? N - s : batch;
        neon_tensor xc = X, rc = R;
        xc.data = X.data + s * per;
        rc.data = R.data + s * per;
        xc.shape[0] = rc.shape[0] = nb;
        if (neon_graph_explain(m.g, &xc, tg + s, &eo, &rc, res + s)) {
            code = cli_error(CLI_ERR, "%s: %s", xin, neon_errmsg(ctx));
            if (N > 1) fprintf(stderr, "neon: (in the batch of samples %lld..%lld)\n",
                               (long long)s, (long long)(s + nb - 1));
            goto out;
        }
        if (s == 0 && cli_has(&a, "trace")) trace(m.g);
        if (!quiet && N > batch)
            fprintf(stderr, "\rneon: explained %lld/%lld", (long long)(s + nb), (long long)N);
    }
    if (!quiet && N > batch) fputc('\n', stderr);
    printf("%s\n", m.header ? m.header : "# sample target score relevance_sum");
    for (int64_t n = 0; n < N; n++) {
        if (m.line) m.line(&m, n, &res[n], stdout);
        else
            printf("%lld %d %.7g %.7g\n", (long long)n, res[n].target, (double)res[n].score,
                   (double)res[n].relevance_sum);
    }
    if (rout && neon_npy_write(ctx, rout, &R)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    if (cli_get(&a, "heatmap")) {
        float lo = INFINITY, hi = -INFINITY;
        if (cli_get(&a, "low")) {
            cli_float(cli_get(&a, "low"), &lo);
            cli_float(cli_get(&a, "high"), &hi);
        } else
            for (int64_t i = 0; i < N * per; i++) {
                lo = X.data[i] < lo ? X.data[i] : lo;
                hi = X.data[i] > hi ? X.data[i] : hi;
            }
        code = cli_write_heatmaps(ctx, cli_get(&a, "heatmap"), "sample", &X, &R, lo, hi, quiet);
    }
    if (code == CLI_OK && m.after) code = m.after(&m, ctx, &a, &X, &R, res);
out:
    free(res);
    free(tg);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &R);
    neon_rules_destroy(rs);
    cli_free_model(&m);
    neon_ctx_destroy(ctx);
    return code;
}
