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

int cli_load_model(neon_ctx *ctx, const char *path, const cli_args *a, const neon_tensor *X,
                   cli_model *m)
{
    memset(m, 0, sizeof *m);
    m->kind = sniff(path);
    const char *kind = cli_get(a, "kind");
    if (kind) {
        if (!strcmp(kind, "kmeans")) m->kind = MODEL_KMEANS;
        else if (!strcmp(kind, "ocsvm")) m->kind = MODEL_OCSVM;
        else if (!strcmp(kind, "onnx")) m->kind = MODEL_ONNX;
        else return cli_error(CLI_USAGE, "--kind: expected onnx, kmeans or ocsvm, got '%s'", kind);
    }
    switch (m->kind) {
    case MODEL_KMEANS: return cli_load_kmeans(ctx, path, a, X, m);
    case MODEL_OCSVM: return cli_load_ocsvm(ctx, path, a, X, m);
    case MODEL_ONNX:
        if (neon_onnx_load(ctx, path, &m->g)) return cli_error(CLI_ERR, "%s", neon_errmsg(ctx));
        snprintf(m->desc, sizeof m->desc, "ONNX network %s (%d nodes)", path,
                 neon_graph_num_nodes(m->g));
        return CLI_OK;
    }
    return cli_error(CLI_ERR, "%s: unknown kind of model", path);
}

void cli_free_model(cli_model *m)
{
    if (m->free_priv) m->free_priv(m->priv);
    neon_graph_destroy(m->g);
    memset(m, 0, sizeof *m);
}
