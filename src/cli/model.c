/* Model loading for the CLI: recognises the kind of file and builds its
 * graph (ONNX networks; neuralized models are graphs too). */
#include "cli.h"

#include <string.h>

#include "neonlrp/onnx.h"

static cli_model_kind sniff(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return MODEL_ONNX; /* the loader reports the error */
    char buf[64] = {0};
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    if (n >= 8 && !strncmp(buf, "svm_type", 8)) return MODEL_OCSVM;
    if (n >= 8 && !strncmp(buf, "NEONKM", 6)) return MODEL_KMEANS;
    return MODEL_ONNX;
}

int cli_load_model(neon_ctx *ctx, const char *path, const cli_args *a, cli_model *m)
{
    (void)a;
    memset(m, 0, sizeof *m);
    m->kind = sniff(path);
    switch (m->kind) {
    case MODEL_ONNX:
        if (neon_onnx_load(ctx, path, &m->g)) return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        snprintf(m->desc, sizeof m->desc, "ONNX network %s (%d nodes)", path,
                 neon_graph_num_nodes(m->g));
        return CLI_OK;
    default:
        return cli_error(CLI_ERR, "%s: this kind of model is not supported by this build", path);
    }
}

void cli_free_model(cli_model *m)
{
    neon_graph_destroy(m->g);
    memset(m, 0, sizeof *m);
}
