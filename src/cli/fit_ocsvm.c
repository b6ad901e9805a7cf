/* Placeholder until the ocsvm neuralizer lands. */
#include "cli.h"

int cmd_fit_ocsvm(int argc, char **argv)
{
    (void)argc; (void)argv;
    return cli_error(CLI_ERR, "fit ocsvm: not supported yet");
}
