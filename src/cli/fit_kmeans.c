/* `neon fit kmeans --data X.npy -k K --output MODEL`: k-means++ seeding,
 * Lloyd iterations by GEMM, n_init restarts, optional PCA front end;
 * writes the NEONKM01 model (atomically, only when everything succeeded). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "neonlrp/neuralize.h"

static const cli_opt fit_opts[] = {
    {"data", "X", "training data (N, ...): .npy, or an IDX file (plain or .gz; Fashion-MNIST)", 0},
    {"k", "K", "number of clusters, 2 <= K <= N (also -k K)", 0},
    {"output", "MODEL", "model file to write (NEONKM01 format)", 0},
    {"seed", "S", "seed of the k-means++ initialisation (default 0)", 0},
    {"n-init", "N", "restarts; the lowest inertia wins (default 10)", 0},
    {"max-iter", "M", "Lloyd iterations per restart (default 300)", 0},
    {"tol", "T", "stop when the centres move less than T x the mean feature variance (1e-4)", 0},
    {"pca", "P", "cluster the projection on the P leading principal components", 0},
    {"scale", "S", "multiply the data by S (default 1; 1/255 for IDX files)", 0},
    {"quiet", NULL, "no notices on stderr", 0},
    {"help", NULL, "this help", 0},
};
#define N_FIT_OPTS ((int)(sizeof fit_opts / sizeof fit_opts[0]))

static void log_to_stderr(neon_log_level lvl, const char *msg, void *user)
{
    (void)user;
    fprintf(stderr, "neon: %s%s\n", lvl == NEON_LOG_WARN ? "warning: " : "", msg);
}

static int int_opt(const cli_args *a, const char *name, long lo, long hi, long *v)
{
    const char *s = cli_get(a, name);
    if (s && (!cli_int(s, v) || *v < lo || *v > hi))
        return cli_error(CLI_USAGE, "--%s: expected an integer in %ld..%ld, got '%s'", name, lo, hi, s);
    return CLI_OK;
}

/* .npy by its magic, anything else as IDX */
static int read_data(neon_ctx *ctx, const char *path, const cli_args *a, neon_tensor *X)
{
    unsigned char magic[6] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return cli_error(CLI_ERR, "%s: cannot open", path);
    const size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    const int npy = got == 6 && !memcmp(magic, "\x93NUMPY", 6);
    float scale = npy ? 1.0f : 1.0f / 255.0f;
    const char *ss = cli_get(a, "scale");
    if (ss && !cli_float(ss, &scale)) return cli_error(CLI_USAGE, "--scale: '%s' is not a number", ss);
    neon_status st = npy ? neon_npy_read(ctx, path, X) : neon_idx_read(ctx, path, scale, X);
    if (st) return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
    if (npy && scale != 1.0f)
        for (int64_t i = 0, n = neon_tensor_numel(X); i < n; i++) X->data[i] *= scale;
    if (X->ndim < 2) {
        neon_tensor_free(ctx, X);
        return cli_error(CLI_ERR, "%s: expected samples (N, D...), got a %d-d array", path, X->ndim);
    }
    return CLI_OK;
}

int cmd_fit_kmeans(int argc, char **argv)
{
    /* the shared parser knows long options only: "-k" -> "--k" */
    char **av = malloc((size_t)(argc + 1) * sizeof *av);
    if (!av) return cli_error(CLI_ERR, "out of memory");
    for (int i = 0; i < argc; i++) av[i] = !strcmp(argv[i], "-k") ? (char *)"--k" : argv[i];
    cli_args a;
    char err[256];
    const int perr = cli_parse(argc, av, fit_opts, N_FIT_OPTS, &a, err, sizeof err);
    free(av);
    if (perr) return cli_error(CLI_USAGE, "fit kmeans: %s", err);
    if (cli_has(&a, "help")) {
        printf("usage: neon fit kmeans --data X.npy -k K --output MODEL [options]\n\n"
               "Fits k-means (k-means++ seeding, Lloyd iterations, restarts) and writes a model\n"
               "that `neon explain` neuralizes (NEON): why does each point belong to its cluster?\n"
               "Prints the inertia, the iterations and the default beta (1 / mean f_c).\n\n"
               "options:\n");
        cli_print_opts(stdout, fit_opts, N_FIT_OPTS);
        return CLI_OK;
    }
    if (a.n_pos) return cli_error(CLI_USAGE, "fit kmeans: unexpected argument '%s'", a.pos[0]);
    const char *data = cli_get(&a, "data"), *out = cli_get(&a, "output");
    if (!data || !out || !cli_get(&a, "k"))
        return cli_error(CLI_USAGE, "fit kmeans: --data, -k and --output are required");
    long k = 0, seed = 0, n_init = 10, max_iter = 300, pca = 0;
    float tol = 1e-4f;
    int code;
    if ((code = int_opt(&a, "k", 2, 1L << 30, &k)) || (code = int_opt(&a, "seed", 0, 0x7fffffffL, &seed)) ||
        (code = int_opt(&a, "n-init", 1, 100000, &n_init)) ||
        (code = int_opt(&a, "max-iter", 1, 100000000, &max_iter)) ||
        (code = int_opt(&a, "pca", 1, 1L << 30, &pca)))
        return code;
    if (cli_get(&a, "tol") && (!cli_float(cli_get(&a, "tol"), &tol) || tol < 0))
        return cli_error(CLI_USAGE, "--tol: expected a number >= 0");
    const char *ins[1] = {data};
    if (cli_check_distinct(out, ins, 1)) return CLI_USAGE;

    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return cli_error(CLI_ERR, "out of memory");
    if (!cli_has(&a, "quiet")) neon_ctx_set_log(ctx, log_to_stderr, NEON_LOG_INFO, NULL);
    neon_tensor X = {0};
    neon_kmeans *km = NULL;
    if ((code = read_data(ctx, data, &a, &X))) goto out;
    neon_kmeans_fit_opts o = {.k = (int)k, .n_init = (int)n_init, .max_iter = (int)max_iter,
                              .tol = tol == 0 ? -1.0f : tol, .seed = (uint64_t)seed, .pca = (int)pca};
    if (neon_kmeans_fit(ctx, &X, &o, &km)) {
        code = cli_error(CLI_ERR, "%s: %s", data, neon_errmsg(ctx));
        goto out;
    }
    if (neon_kmeans_save(ctx, km, out)) {
        code = cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        goto out;
    }
    const int64_t N = X.shape[0], D = neon_kmeans_dim(km);
    printf("k-means: K=%ld clusters, N=%lld samples, D=%lld features", k, (long long)N, (long long)D);
    if (pca) printf(", PCA to %ld components", pca);
    printf("\nrestarts %ld (seed %ld): best inertia %.9g after %d Lloyd iterations\n", n_init, seed,
           neon_kmeans_inertia(km), neon_kmeans_iterations(km));
    printf("beta %.9g (= 1 / mean f_c over the training data, stored in the model)\n",
           (double)neon_kmeans_beta(km));
    printf("wrote %s\n", out);
out:
    neon_kmeans_destroy(km);
    neon_tensor_free(ctx, &X);
    neon_ctx_destroy(ctx);
    return code;
}
