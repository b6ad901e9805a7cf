/* Placeholder until the kmeans neuralizer lands. */
#include "cli.h"

int cmd_fit_kmeans(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error(CLI_ERR, "fit kmeans: not supported yet");
}
