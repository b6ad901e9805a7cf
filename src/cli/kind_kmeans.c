/* Placeholder until the kmeans neuralizer lands. */
#include "cli.h"

int cli_load_kmeans(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                   cli_model *m)
{
    (void)ctx; (void)a; (void)X; (void)m;
    return cli_error(CLI_ERR, "%s: kmeans models are not supported yet", path);
}
