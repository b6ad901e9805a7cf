/* `neon fit ocsvm`: trains a one-class SVM (RBF kernel) with libsvm and
 * writes the libsvm model file atomically. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef NEON_WITH_LIBSVM
#include "neonlrp/neuralize.h"

static const cli_opt fit_opts[] = {
    {"data", "X", "training data (N, features...): .npy, or IDX (gzip or plain) as in Fashion-MNIST", 0},
    {"nu", "NU", "upper bound on the fraction of training outliers, in (0, 1] (required)", 0},
    {"gamma", "G", "RBF kernel width: k(x, u) = exp(-G ||x - u||^2), > 0 (required)", 0},
    {"output", "M.libsvm", "model file to write (libsvm text format; atomic)", 0},
    {"scale", "S", "multiply the data by S (e.g. 1/255 for IDX image bytes; default 1)", 0},
    {"labels", "L", "labels (N) (.npy or IDX), to train on one class only (with --class)", 0},
    {"class", "C", "keep the samples whose label is C", 0},
    {"limit", "N", "keep the first N samples (after --class)", 0},
    {"quiet", NULL, "print nothing on success", 0},
    {"help", NULL, "this help", 0},
};
#define N_FIT_OPTS ((int)(sizeof fit_opts / sizeof fit_opts[0]))

static void usage(FILE *f)
{
    fprintf(f, "usage: neon fit ocsvm --data X --nu NU --gamma G --output M.libsvm [options]\n\n"
               "Trains a one-class SVM with the RBF kernel (libsvm's svm-train -s 2 -t 2) on X\n"
               "and writes it in libsvm's model format, ready for `neon explain`.\n\noptions:\n");
    cli_print_opts(f, fit_opts, N_FIT_OPTS);
}

/* A positive finite number, also written as a fraction "A/B". */
static int parse_pos(const char *s, double *out)
{
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end == '/') {
        const char *q = end + 1;
        double b = strtod(q, &end);
        if (end == q || b == 0) return 0;
        v /= b;
    }
    if (errno || *end || !isfinite(v) || !(v > 0)) return 0;
    *out = v;
    return 1;
}

static int is_npy(const char *path)
{
    FILE *f = fopen(path, "rb");
    char m[6] = {0};
    int r = f && fread(m, 1, 6, f) == 6 && !memcmp(m, "\x93NUMPY", 6);
    if (f) fclose(f);
    return r;
}

static neon_status read_any(neon_ctx *ctx, const char *path, neon_tensor *t)
{
    return is_npy(path) ? neon_npy_read(ctx, path, t) : neon_idx_read(ctx, path, 0.0f, t);
}

/* Keeps the rows of X whose label is cls (when labels given), then the first limit. */
static int select_rows(neon_tensor *X, const neon_tensor *L, long cls, long limit, const char *lp)
{
    const int64_t N = X->shape[0], per = N ? neon_tensor_numel(X) / N : 0;
    int64_t k = 0;
    if (L) {
        if (neon_tensor_numel(L) != N)
            return cli_error(CLI_USAGE, "%s: %lld labels for %lld samples", lp,
                             (long long)neon_tensor_numel(L), (long long)N);
        for (int64_t n = 0; n < N; n++)
            if (L->data[n] == (float)cls) {
                if (k != n) memmove(X->data + k * per, X->data + n * per, (size_t)per * sizeof(float));
                k++;
            }
        if (!k) return cli_error(CLI_USAGE, "%s: no sample has label %ld", lp, cls);
    } else
        k = N;
    if (limit > 0 && k > limit) k = limit;
    X->shape[0] = k;
    return CLI_OK;
}

int cmd_fit_ocsvm(int argc, char **argv)
{
    cli_args a;
    char err[256];
    if (cli_parse(argc, argv, fit_opts, N_FIT_OPTS, &a, err, sizeof err))
        return cli_error(CLI_USAGE, "fit ocsvm: %s", err);
    if (cli_has(&a, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (a.n_pos) return cli_error(CLI_USAGE, "fit ocsvm: unexpected argument '%s'", a.pos[0]);
    const char *data = cli_get(&a, "data"), *out = cli_get(&a, "output"), *lp = cli_get(&a, "labels");
    double nu = 0, gamma = 0, scale = 1;
    long cls = 0, limit = 0;
    if (!data || !out) return cli_error(CLI_USAGE, "fit ocsvm: --data and --output are required");
    if (!cli_get(&a, "nu") || !parse_pos(cli_get(&a, "nu"), &nu) || nu > 1)
        return cli_error(CLI_USAGE, "--nu: expected a number in (0, 1]");
    if (!cli_get(&a, "gamma") || !parse_pos(cli_get(&a, "gamma"), &gamma))
        return cli_error(CLI_USAGE, "--gamma: expected a number > 0");
    if (cli_get(&a, "scale") && !parse_pos(cli_get(&a, "scale"), &scale))
        return cli_error(CLI_USAGE, "--scale: expected a number > 0 (or A/B)");
    if (!lp != !cli_get(&a, "class"))
        return cli_error(CLI_USAGE, "fit ocsvm: --labels and --class go together");
    if (cli_get(&a, "class") && !cli_int(cli_get(&a, "class"), &cls))
        return cli_error(CLI_USAGE, "--class: expected an integer label");
    if (cli_get(&a, "limit") && (!cli_int(cli_get(&a, "limit"), &limit) || limit < 1))
        return cli_error(CLI_USAGE, "--limit: expected an integer >= 1");
    const char *ins[2] = {data, lp};
    if (cli_check_distinct(out, ins, 2)) return CLI_USAGE;

    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return cli_error(CLI_ERR, "out of memory");
    neon_tensor X = {0}, L = {0};
    neon_ocsvm *m = NULL;
    int code = CLI_OK;
    if (read_any(ctx, data, &X) || (lp && read_any(ctx, lp, &L))) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto done;
    }
    if (X.ndim < 2 || X.shape[0] < 1) {
        code = cli_error(CLI_USAGE, "%s: expected samples (N, features...), got %d dimension%s", data,
                         X.ndim, X.ndim == 1 ? "" : "s");
        goto done;
    }
    if ((code = select_rows(&X, lp ? &L : NULL, cls, limit, lp))) goto done;
    if (scale != 1)
        for (int64_t i = 0; i < neon_tensor_numel(&X); i++) X.data[i] = (float)(X.data[i] * scale);
    if (neon_ocsvm_fit(ctx, &X, nu, gamma, &m) || neon_ocsvm_save(ctx, m, out)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto done;
    }
    if (!cli_has(&a, "quiet"))
        printf("one-class SVM (rbf, gamma %g, nu %g) on %lld samples of %lld features: "
               "%lld support vectors, rho %.9g, score threshold %.9g\nwrote %s\n",
               gamma, nu, (long long)X.shape[0], (long long)neon_ocsvm_dim(m),
               (long long)neon_ocsvm_num_sv(m), neon_ocsvm_rho(m), neon_ocsvm_threshold(m), out);
done:
    neon_ocsvm_destroy(m);
    neon_tensor_free(ctx, &X);
    neon_tensor_free(ctx, &L);
    neon_ctx_destroy(ctx);
    return code;
}

#else /* !NEON_WITH_LIBSVM */

int cmd_fit_ocsvm(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return cli_error(CLI_ERR, "fit ocsvm: this neon was built without libsvm (NEON_WITH_LIBSVM=OFF)");
}

#endif
