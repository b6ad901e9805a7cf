/* `neon`: explain machine-learning models with LRP and NEON. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
            "neon %s: explain model predictions with Layer-wise Relevance Propagation\n\n"
            "usage: neon COMMAND [arguments]\n\n"
            "commands:\n"
            "  explain MODEL --input X.npy --output R.npy   relevance of every input feature\n"
            "  info MODEL                                   the graph and the rule of each node\n"
            "  fit kmeans|ocsvm --data X.npy --output M     fit a model to explain\n"
            "  eval MODEL --input X.npy                     explanation quality (region perturbation)\n\n"
            "`neon COMMAND --help` describes each command.\n",
            neon_version());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(cmd, "--version")) {
        printf("neon %s\n", neon_version());
        return CLI_OK;
    }
    if (!strcmp(cmd, "explain")) return cmd_explain(argc - 2, argv + 2);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 2, argv + 2);
    if (!strcmp(cmd, "fit")) return cmd_fit(argc - 2, argv + 2);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 2, argv + 2);
    cli_error(CLI_USAGE, "unknown command '%s'", cmd);
    usage(stderr);
    return CLI_USAGE;
}
