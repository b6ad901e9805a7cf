/* libFuzzer target: the CLI's argument parser (src/cli/args.c), its number
 * parsers, the rule options (src/cli/ruleopts.c: cli_make_rules) and the
 * library's rule parser (neon_rule_parse, neon_rules_set_*).  The input is
 * split at NUL bytes into argv strings. */
#include "fuzz_util.h"

#include <string.h>

#include "cli/cli.h"
#include "neonlrp/rules.h"

#define FZ_MAX_ARGS 64

/* The rule options plus flags, repeatable and single-valued options of the
 * kinds the commands use. */
static cli_opt g_opts[32];
static int g_n_opts;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static const cli_opt own[] = {
        {"input", "X.npy", "data", 0},      {"output", "R.npy", "relevance", 0},
        {"target", "T", "class", 1},        {"heatmaps", "DIR", "pictures", 0},
        {"quiet", NULL, "no progress", 0},  {"help", NULL, "help", 0},
        {"trace", NULL, "per-node sums", 0}, {"batch", "N", "batch size", 0},
    };
    for (int i = 0; i < cli_n_rule_opts && g_n_opts < 32; i++) g_opts[g_n_opts++] = cli_rule_opts[i];
    for (size_t i = 0; i < sizeof own / sizeof own[0] && g_n_opts < 32; i++) g_opts[g_n_opts++] = own[i];
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (!copy) abort();
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[FZ_MAX_ARGS];
    int argc = 0;
    for (size_t i = 0; i <= size && argc < FZ_MAX_ARGS;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    cli_args a;
    char err[256];
    err[0] = '\0';
    neon_ctx *ctx = fz_ctx();
    if (cli_parse(argc, argv, g_opts, g_n_opts, &a, err, sizeof err) != 0) {
        if (!err[0]) abort(); /* a failure always says why */
    } else {
        for (int k = 0; k < g_n_opts; k++) {
            const char *name = g_opts[k].name;
            const int c = cli_count(&a, name);
            if (c < 0 || c > CLI_MAX_OCC || (c > 0) != (cli_has(&a, name) != 0)) abort();
            for (int j = 0; j < c; j++) {
                const char *v = cli_get_n(&a, name, j);
                if (g_opts[k].arg && !v) abort();
                float f;
                long l;
                if (v) {
                    (void)cli_float(v, &f);
                    (void)cli_int(v, &l);
                }
            }
            (void)cli_get(&a, name);
        }
        neon_rules *rs = NULL;
        int code = cli_make_rules(ctx, &a, &rs);
        if ((code == CLI_OK) != (rs != NULL)) abort();
        neon_rules_destroy(rs);
    }
    /* every string straight into the library's rule parser */
    neon_rules *rs = NULL;
    if (neon_rules_create(ctx, &rs) != NEON_OK) abort();
    for (int i = 0; i < argc; i++) {
        neon_rule r;
        neon_status st = neon_rule_parse(ctx, argv[i], &r);
        fz_check_msg(ctx, st);
        if (st == NEON_OK) {
            char buf[128];
            neon_rule_str(&r, buf, sizeof buf);
            (void)neon_rule_check(ctx, &r);
            (void)neon_rules_set_node(rs, i + 1 < argc ? argv[i + 1] : "#0", &r);
            (void)neon_rules_set_uniform(rs, &r);
        }
        (void)neon_rules_set_composite(rs, argv[i]);
    }
    neon_rules_destroy(rs);
    neon_ctx_destroy(ctx);
    free(copy);
    return 0;
}
