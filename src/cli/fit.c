/* `neon fit KIND ...`: dispatch to the model kinds that can be fitted. */
#include "cli.h"

#include <string.h>

int cmd_fit(int argc, char **argv)
{
    if (argc < 1 || !strcmp(argv[0], "--help") || !strcmp(argv[0], "-h")) {
        FILE *f = argc < 1 ? stderr : stdout;
        fprintf(f, "usage: neon fit kmeans --data X.npy -k K --output MODEL [options]\n"
                   "       neon fit ocsvm --data X.npy --nu NU --gamma G --output M.libsvm\n"
                   "`neon fit KIND --help` describes the options.\n");
        return argc < 1 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[0], "kmeans")) return cmd_fit_kmeans(argc - 1, argv + 1);
    if (!strcmp(argv[0], "ocsvm")) return cmd_fit_ocsvm(argc - 1, argv + 1);
    return cli_error(CLI_USAGE, "fit: unknown model kind '%s' (kmeans, ocsvm)", argv[0]);
}
