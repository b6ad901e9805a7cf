/* `neon eval MODEL --input X.npy ...`: explanation quality by region
 * perturbation (AOPC, RULES.md 9) for chosen rules / composites against
 * gradient x input, random relevance and occlusion. */
#define _POSIX_C_SOURCE 200809L
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "neonlrp/eval.h"

static const cli_opt eval_opts[] = {
    {"input", "X.npy", "inputs (N, ...): .npy, or an IDX file (e.g. t10k-images-idx3-ubyte.gz)", 0},
    {"input2", "Y.npy", "two-input models (matchers): the second inputs, held fixed", 0},
    {"limit", "N", "use only the first N samples", 0},
    {"scale", "S", "IDX input: multiply values by S (default 1/255: bytes to [0, 1])", 0},
    {"methods", "LIST",
     "comma-separated: lrp (the rule options), composite:NAME, rule:RULE, gradxinput, random, "
     "occlusion[:STRIDE[:VALUE]] (default: lrp,gradxinput,random,occlusion)", 0},
    {"region", "R|RxC", "region size (default 4: 4x4 regions)", 0},
    {"steps", "L", "perturbation steps (default: every region, at most 100)", 0},
    {"seed", "S", "seed of the noise, random orders and random relevance (default 1)", 0},
    {"csv", "F.csv", "write the mean curves as CSV", 0},
    {"plot", "F.png", "write a PNG plot of the mean curves", 0},
    {"title", "TEXT", "title of the plot", 0},
    {"target", "N|argmax", "output to explain and score (default argmax of the clean input)", 0},
    {"head", "logit|logodds", "score and explain the logit (default) or the log-odds", 0},
    {"kind", "onnx|kmeans|ocsvm", "kind of MODEL when its file does not say", 0},
    {"beta", "B", "k-means: stiffness of the soft-min pool", 0},
    {"cluster", "K",
     "k-means: score f_K of cluster K for every image (as --target; default: f_c of the cluster "
     "c the clean image is assigned to, held while it is perturbed)", 0},
    {"batch", "B", "samples per forward pass (default 64)", 0},
    {"threads", "N", "threads (default 0: all cores); results do not depend on it", 0},
    {"parallel", "MODE", "auto (default) | samples (one model per thread) | blas", 0},
    {"quiet", NULL, "no progress on stderr", 0},
    {"help", NULL, "this help", 0},
};
#define N_EVAL_OPTS ((int)(sizeof eval_opts / sizeof eval_opts[0]))
#define MAX_METHODS 16
/* auto mode: models below this many forward FLOPs per sample run one copy
 * per thread (their GEMMs are too small for BLAS threads; see README) */
#define SAMPLES_MAX_FLOPS 200000000LL

static void usage(FILE *f)
{
    fprintf(f,
            "usage: neon eval MODEL --input X.npy [--methods LIST] [--region R] [--steps L]\n"
            "                 [--seed S] [--csv F.csv] [--plot F.png] [rule options]\n\n"
            "Region perturbation (Samek et al. 2017): the input is tiled into RxR regions;\n"
            "step k replaces the k-th region (most relevant first, least relevant first, or a\n"
            "random order) with uniform noise over [--low, --high] (default: the data's min and\n"
            "max) and records the explained score.  Prints AOPC = 1/(L+1) <sum_k f(x_0)-f(x_k)>\n"
            "per method: a faithful explanation has a high MoRF AOPC and a low LeRF AOPC.\n"
            "Two-input models (matchers): the first input is perturbed, the second held fixed.\n\n"
            "options:\n");
    cli_print_opts(f, eval_opts, N_EVAL_OPTS);
    fprintf(f, "\nrule options (for lrp, and the defaults of composite:/rule: methods):\n");
    cli_print_opts(f, cli_rule_opts, cli_n_rule_opts);
}

static void progress(const char *stage, int64_t done, int64_t total, void *user)
{
    (void)user;
    fprintf(stderr, "\rneon: %-48.48s %lld/%lld  ", stage, (long long)done, (long long)total);
    if (done == total) fputc('\n', stderr);
}

/* Rules of an LRP method: composite NAME or uniform rule SPEC, with the
 * shared rule options and the noise range as z^B bounds. */
static int make_rules(neon_ctx *ctx, const cli_args *a, const char *comp, const char *spec,
                      float low, float high, neon_rules **out)
{
    neon_rules *rs;
    if (neon_rules_create(ctx, &rs)) return cli_error(CLI_ERR, "out of memory");
    float eps = -1, gam = -1;
    if (cli_get(a, "epsilon") && (!cli_float(cli_get(a, "epsilon"), &eps) || eps < 0)) goto bad;
    if (cli_get(a, "gamma") && (!cli_float(cli_get(a, "gamma"), &gam) || gam < 0)) goto bad;
    if (neon_rules_set_bounds(rs, low, high)) goto lib;
    if (spec) {
        neon_rule r;
        if (neon_rule_parse(ctx, spec, &r)) goto lib;
        if (r.kind == NEON_RULE_ZBOX && r.low == 0 && r.high == 0) {
            r.low = low;
            r.high = high;
        }
        if (neon_rules_set_uniform(rs, &r)) goto lib;
    } else {
        if (neon_rules_set_composite(rs, comp) || neon_rules_set_params(rs, eps, gam)) goto lib;
    }
    const char *mp = cli_get(a, "maxpool");
    if (mp && strcmp(mp, "wta") && strcmp(mp, "sumpool")) goto bad;
    if (mp) neon_rules_set_maxpool(rs, strcmp(mp, "wta") ? NEON_RULE_SUMPOOL : NEON_RULE_WTA);
    for (int k = 0; k < cli_count(a, "rule-for"); k++) {
        const char *s = cli_get_n(a, "rule-for", k), *eq = strrchr(s, '=');
        char node[256];
        neon_rule r;
        if (!eq || eq == s || (size_t)(eq - s) >= sizeof node) goto bad;
        memcpy(node, s, (size_t)(eq - s));
        node[eq - s] = '\0';
        if (neon_rule_parse(ctx, eq + 1, &r) || neon_rules_set_node(rs, node, &r)) goto lib;
    }
    *out = rs;
    return CLI_OK;
bad:
    neon_rules_destroy(rs);
    return cli_error(CLI_USAGE, "bad rule option (--epsilon, --gamma, --maxpool or --rule-for); "
                     "see neon eval --help");
lib:
    neon_rules_destroy(rs);
    return cli_error(CLI_USAGE, "%s%s%s", comp ? comp : spec, ": ", neon_errmsg(ctx));
}

typedef struct method_set {
    int n;
    neon_eval_method m[MAX_METHODS];
    neon_rules *rules[MAX_METHODS];
    char names[MAX_METHODS][96];
} method_set;

static void free_methods(method_set *ms)
{
    for (int i = 0; i < ms->n; i++) neon_rules_destroy(ms->rules[i]);
    ms->n = 0;
}

static int parse_methods(neon_ctx *ctx, const cli_args *a, float low, float high, method_set *ms)
{
    const char *list = cli_get(a, "methods");
    char buf[1024], lrp[96];
    if (cli_get(a, "rule")) snprintf(lrp, sizeof lrp, "rule:%s", cli_get(a, "rule"));
    else snprintf(lrp, sizeof lrp, "composite:%s", cli_get(a, "composite") ? cli_get(a, "composite")
                                                                           : "epsilon-plus");
    snprintf(buf, sizeof buf, "%s", list ? list : "lrp,gradxinput,random,occlusion");
    memset(ms, 0, sizeof *ms);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (ms->n == MAX_METHODS) return cli_error(CLI_USAGE, "--methods: at most %d", MAX_METHODS);
        const char *t = !strcmp(tok, "lrp") ? lrp : tok;
        neon_eval_method *m = &ms->m[ms->n];
        snprintf(ms->names[ms->n], sizeof ms->names[0], "%s", t);
        m->name = ms->names[ms->n];
        int code = CLI_OK;
        if (!strncmp(t, "composite:", 10)) {
            m->kind = NEON_EVAL_LRP;
            code = make_rules(ctx, a, t + 10, NULL, low, high, &ms->rules[ms->n]);
        } else if (!strncmp(t, "rule:", 5)) {
            m->kind = NEON_EVAL_LRP;
            code = make_rules(ctx, a, NULL, t + 5, low, high, &ms->rules[ms->n]);
        } else if (!strcmp(t, "gradxinput")) {
            m->kind = NEON_EVAL_GRADXINPUT;
        } else if (!strcmp(t, "random")) {
            m->kind = NEON_EVAL_RANDOM;
        } else if (!strncmp(t, "occlusion", 9) && (t[9] == '\0' || t[9] == ':')) {
            m->kind = NEON_EVAL_OCCLUSION;
            long s = 1;
            char sb[64];
            snprintf(sb, sizeof sb, "%s", t[9] ? t + 10 : "1");
            char *colon = strchr(sb, ':');
            if (colon) *colon = '\0';
            if (!cli_int(sb, &s) || s < 1 || s > 4096)
                return cli_error(CLI_USAGE, "--methods: occlusion stride must be 1..4096 in '%s'", t);
            m->stride = (int)s;
            if (colon && strcmp(colon + 1, "noise")) {
                if (!cli_float(colon + 1, &m->fill_value))
                    return cli_error(CLI_USAGE, "--methods: occlusion fill must be a number or "
                                     "'noise' in '%s'", t);
                m->fill = 1;
            }
        } else {
            return cli_error(CLI_USAGE, "--methods: unknown method '%s' (lrp, composite:NAME, "
                             "rule:RULE, gradxinput, random, occlusion[:S[:V]])", t);
        }
        ms->m[ms->n].rules = ms->rules[ms->n];
        ms->n++;
        if (code) return code;
    }
    if (!ms->n) return cli_error(CLI_USAGE, "--methods: empty list");
    return CLI_OK;
}

/* Reads .npy or IDX input, keeps the first `limit` samples. */
static int read_input(neon_ctx *ctx, const char *path, const cli_args *a, neon_tensor *X)
{
    unsigned char mg[4] = {0};
    FILE *f = fopen(path, "rb");
    if (f) {
        if (fread(mg, 1, 4, f) != 4) mg[0] = 0xff;
        fclose(f);
    }
    const int idx = (mg[0] == 0x1f && mg[1] == 0x8b) || (mg[0] == 0 && mg[1] == 0 && mg[2] >= 8);
    float scale = 1.0f / 255.0f;
    if (cli_get(a, "scale") && !cli_float(cli_get(a, "scale"), &scale))
        return cli_error(CLI_USAGE, "--scale: '%s' is not a number", cli_get(a, "scale"));
    if (idx ? neon_idx_read(ctx, path, scale, X) : neon_npy_read(ctx, path, X))
        return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    long lim = 0;
    if (cli_get(a, "limit") && (!cli_int(cli_get(a, "limit"), &lim) || lim < 1))
        return cli_error(CLI_USAGE, "--limit: expected an integer >= 1");
    if (lim && X->ndim >= 1 && X->shape[0] > lim) X->shape[0] = lim;
    return CLI_OK;
}

/* X as the graph's input: adds a batch axis to a single sample, or views
 * (N, ...) with the graph's per-sample shape when the sizes agree. */
static int fit_input(neon_graph *g, int k, neon_tensor *X)
{
    neon_node_info in;
    if (neon_graph_node_info(g, neon_graph_input_id(g, k), &in)) return CLI_OK;
    int64_t per = 1;
    for (int i = 0; i < in.ndim; i++) per *= in.shape[i];
    const int64_t n = neon_tensor_numel(X);
    if (X->ndim == in.ndim && n == per && X->ndim < NEON_MAX_DIMS) {
        memmove(X->shape + 1, X->shape, (size_t)X->ndim * sizeof(int64_t));
        X->shape[0] = 1;
        X->ndim++;
    } else if (X->ndim >= 1 && X->shape[0] > 0 && n == X->shape[0] * per) {
        X->ndim = in.ndim + 1;
        memcpy(X->shape + 1, in.shape, (size_t)in.ndim * sizeof(int64_t));
    }
    return CLI_OK; /* a mismatch is reported by the library with both shapes */
}

static void print_table(const neon_eval_result *r, const method_set *ms, int exact,
                        const char *note)
{
    const neon_region_grid *g = &r->grid;
    printf("# region perturbation: %lld samples, %dx%d regions on %lldx%lld (%lld regions, %lld "
           "channel%s), L=%d steps, noise U[%g, %g], seed %llu, score: %s; %.1f s\n",
           (long long)r->n_samples, g->rh, g->rw, (long long)g->h, (long long)g->w,
           (long long)neon_region_count(g), (long long)g->c, g->c == 1 ? "" : "s", r->steps,
           (double)r->low, (double)r->high, (unsigned long long)r->seed,
           r->head == NEON_HEAD_LOGODDS ? "log-odds of the target" : "target output", r->seconds);
    if (note && *note) printf("%s\n", note);
    for (int i = 0; i < ms->n; i++)
        if (ms->m[i].kind == NEON_EVAL_GRADXINPUT)
            printf("# gradxinput: %s\n", exact ? "x * df/dx by the engine (uniform LRP-0 == "
                                                 "gradient x input on this piecewise-linear graph)"
                                               : "x * df/dx by central differences on every "
                                                 "feature (step 1e-3 (high - low))");
    printf("# %-34s %10s %8s %10s %8s %10s %10s %8s\n", "method", "MoRF_AOPC", "sem",
           "LeRF_AOPC", "sem", "random", "MoRF-LeRF", "time_s");
    for (int i = 0; i < r->n_methods; i++) {
        const neon_eval_method_result *m = &r->methods[i];
        printf("%-36s %10.5g %8.3g %10.5g %8.3g %10.5g %10.5g %8.2f\n", m->name, m->aopc[0],
               m->sem[0], m->aopc[1], m->sem[1], m->aopc[2], m->aopc[0] - m->aopc[1], m->seconds);
    }
}

int cmd_eval(int argc, char **argv)
{
    cli_args a;
    char err[256];
    cli_opt all[64];
    int n_all = 0;
    for (int i = 0; i < N_EVAL_OPTS; i++) all[n_all++] = eval_opts[i];
    for (int i = 0; i < cli_n_rule_opts; i++) all[n_all++] = cli_rule_opts[i];
    if (cli_parse(argc, argv, all, n_all, &a, err, sizeof err))
        return cli_error(CLI_USAGE, "eval: %s", err);
    if (cli_has(&a, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (a.n_pos != 1) return cli_error(CLI_USAGE, "eval: expected one MODEL (see neon eval --help)");
    const char *model_path = a.pos[0], *xin = cli_get(&a, "input");
    if (!xin) return cli_error(CLI_USAGE, "eval: --input X.npy is required");
    const int quiet = cli_has(&a, "quiet");
    neon_eval_opts o;
    memset(&o, 0, sizeof o);
    o.seed = 1;
    long v, threads = 0, target = NEON_TARGET_ARGMAX;
    const char *s;
    if ((s = cli_get(&a, "region"))) {
        char rb[64], *x;
        snprintf(rb, sizeof rb, "%s", s);
        long rh, rw;
        if ((x = strchr(rb, 'x'))) *x = '\0';
        if (!cli_int(rb, &rh) || !cli_int(x ? x + 1 : rb, &rw) || rh < 1 || rw < 1 || rh > 65536 ||
            rw > 65536)
            return cli_error(CLI_USAGE, "--region: expected R or RxC (integers >= 1), got '%s'", s);
        o.region_h = (int)rh;
        o.region_w = (int)rw;
    }
    if ((s = cli_get(&a, "steps")) && (!cli_int(s, &v) || v < 1 || v > 1000000))
        return cli_error(CLI_USAGE, "--steps: expected an integer >= 1, got '%s'", s);
    o.steps = s ? (int)v : 0;
    if ((s = cli_get(&a, "seed"))) {
        char *end;
        o.seed = strtoull(s, &end, 10);
        if (!*s || *end || *s == '-') return cli_error(CLI_USAGE, "--seed: expected an integer >= 0");
    }
    if ((s = cli_get(&a, "batch")) && (!cli_int(s, &v) || v < 1))
        return cli_error(CLI_USAGE, "--batch: expected an integer >= 1");
    o.batch = s ? v : 64;
    if ((s = cli_get(&a, "threads")) && (!cli_int(s, &threads) || threads < 0 || threads > 256))
        return cli_error(CLI_USAGE, "--threads: expected an integer 0..256");
    if (!(s = cli_get(&a, "target"))) s = cli_get(&a, "cluster");
    if (s && strcmp(s, "argmax") && (!cli_int(s, &target) || target < 0))
        return cli_error(CLI_USAGE, "--target: expected a class index >= 0 or 'argmax', got '%s'", s);
    if ((s = cli_get(&a, "head")) && strcmp(s, "logit") && strcmp(s, "logodds"))
        return cli_error(CLI_USAGE, "--head: expected logit or logodds, got '%s'", s);
    o.explain.head = s && !strcmp(s, "logodds") ? NEON_HEAD_LOGODDS : NEON_HEAD_LOGIT;
    const char *par = cli_get(&a, "parallel");
    if (par && strcmp(par, "auto") && strcmp(par, "samples") && strcmp(par, "blas"))
        return cli_error(CLI_USAGE, "--parallel: expected auto, samples or blas, got '%s'", par);
    const char *lo = cli_get(&a, "low"), *hi = cli_get(&a, "high");
    if ((lo != NULL) != (hi != NULL)) return cli_error(CLI_USAGE, "--low and --high go together");
    if (lo && (!cli_float(lo, &o.low) || !cli_float(hi, &o.high) || !(o.low < o.high)))
        return cli_error(CLI_USAGE, "--low/--high need numbers with low < high");
    const char *csv = cli_get(&a, "csv"), *plot = cli_get(&a, "plot");
    const char *ins[3] = {xin, model_path, cli_get(&a, "input2")};
    if (cli_check_distinct(csv, ins, 3) || cli_check_distinct(plot, ins, 3)) return CLI_USAGE;
    if (threads == 0) threads = sysconf(_SC_NPROCESSORS_ONLN) > 0 ? sysconf(_SC_NPROCESSORS_ONLN) : 1;
    if (threads > 256) threads = 256;

    neon_ctx *ctx[256] = {0};
    cli_model m[256];
    neon_graph *gs[256];
    memset(m, 0, sizeof m);
    method_set ms;
    memset(&ms, 0, sizeof ms);
    neon_tensor xs[2] = {{0}, {0}}, *X = &xs[0];
    int *tg = NULL, n_models = 0, code = CLI_OK;
    neon_eval_result *res = NULL;
    if (neon_ctx_create(&ctx[0], NULL)) return cli_error(CLI_ERR, "out of memory");
    if ((code = read_input(ctx[0], xin, &a, X))) goto out;
    if (cli_get(&a, "input2") && (code = read_input(ctx[0], cli_get(&a, "input2"), &a, &xs[1])))
        goto out;
    if ((code = cli_load_model(ctx[0], model_path, &a, X, &m[0]))) goto out;
    if (m[0].kind == MODEL_KMEANS) target = NEON_TARGET_ARGMAX; /* --cluster is in the graph: output (1) */
    n_models = 1;
    const int n_in = neon_graph_num_inputs(m[0].g);
    if (n_in != (cli_get(&a, "input2") ? 2 : 1)) {
        code = n_in == 2 ? cli_error(CLI_USAGE, "%s has two inputs: give the second with --input2",
                                     model_path)
                         : cli_error(CLI_USAGE, "%s has %d input%s; --input2 is for two-input "
                                     "models", model_path, n_in, n_in == 1 ? "" : "s");
        goto out;
    }
    for (int k = 0; k < n_in; k++) fit_input(m[0].g, k, &xs[k]);
    const int samples = par ? !strcmp(par, "samples")
                            : neon_graph_flops(m[0].g) < SAMPLES_MAX_FLOPS;
    const int n_workers = samples ? (int)threads : 1;
    neon_ctx_set_threads(ctx[0], samples ? 1 : (int)threads);
    for (; n_models < n_workers; n_models++) { /* one model per thread */
        if (neon_ctx_create(&ctx[n_models], NULL)) {
            code = cli_error(CLI_ERR, "out of memory");
            goto out;
        }
        if ((code = cli_load_model(ctx[n_models], model_path, &a, X, &m[n_models]))) goto out;
    }
    for (int w = 0; w < n_models; w++) gs[w] = m[w].g;
    if (!(o.high > o.low)) { /* the noise range, also the z^B bounds */
        const int64_t n = neon_tensor_numel(X);
        o.low = o.high = n > 0 ? X->data[0] : 0;
        for (int64_t i = 0; i < n; i++) {
            o.low = X->data[i] < o.low ? X->data[i] : o.low;
            o.high = X->data[i] > o.high ? X->data[i] : o.high;
        }
    }
    if ((code = parse_methods(ctx[0], &a, o.low, o.high, &ms))) goto out;
    if (target != NEON_TARGET_ARGMAX) {
        const int64_t N = X->ndim ? X->shape[0] : 0;
        if (!(tg = malloc((size_t)(N ? N : 1) * sizeof *tg))) {
            code = cli_error(CLI_ERR, "out of memory");
            goto out;
        }
        for (int64_t n = 0; n < N; n++) tg[n] = (int)target;
        o.targets = tg;
    }
    if (!quiet) {
        fprintf(stderr, "neon: %s; %d thread%s (%s)\n", m[0].desc, (int)threads,
                threads == 1 ? "" : "s", samples ? "one model per thread" : "BLAS threads");
        o.progress = progress;
    }
    if (n_in == 2 && xs[1].ndim > 0 && xs[0].ndim > 0 && xs[1].shape[0] != xs[0].shape[0]) {
        code = cli_error(CLI_USAGE, "--input has %lld samples, --input2 %lld: they are pairs",
                         (long long)xs[0].shape[0], (long long)xs[1].shape[0]);
        goto out;
    }
    const int grouped = m[0].kind == MODEL_KMEANS && !cli_get(&a, "cluster") &&
                        !cli_get(&a, "target");
    int n_groups = 0;
    if (grouped) {
        if ((code = cli_eval_kmeans_groups(ctx[0], model_path, &a, &m[0], X, n_models, ms.m, ms.n,
                                           &o, &n_groups, &res)))
            goto out;
    } else if (neon_eval_run(gs, n_models, n_in, xs, ms.m, ms.n, &o, &res)) {
        code = cli_error(CLI_ERR, "%s: %s", xin, neon_errmsg(ctx[0]));
        goto out;
    }
    char note[160] = "";
    if (grouped)
        snprintf(note, sizeof note, "# k-means: each image scored by f_c of its clean cluster c "
                 "(%d clusters, one group each)", n_groups);
    print_table(res, &ms, neon_eval_gradxinput_exact(gs[0]), note);
    if (csv && neon_eval_write_csv(ctx[0], csv, res)) code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx[0]));
    if (!code && plot && neon_eval_plot_png(ctx[0], plot, res, cli_get(&a, "title")))
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx[0]));
out:
    neon_eval_result_destroy(res);
    free_methods(&ms);
    free(tg);
    for (int w = 0; w < 256; w++) {
        if (w < n_models || m[w].g || m[w].priv) cli_free_model(&m[w]);
    }
    for (int k = 0; k < 2; k++)
        if (xs[k].data) neon_tensor_free(ctx[0], &xs[k]);
    for (int w = 255; w >= 0; w--) neon_ctx_destroy(ctx[w]);
    return code;
}
