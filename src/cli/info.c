/* `neon info MODEL`: the graph, shapes, parameters and the rule each node gets. */
#include "cli.h"

#include <string.h>

static const cli_opt info_opts[] = {
    {"help", NULL, "this help", 0},
    {"kind", "onnx|kmeans|ocsvm", "kind of MODEL when its file does not say", 0},
    {"beta", "B", "k-means: stiffness of the soft-min pool", 0},
};

int cmd_info(int argc, char **argv)
{
    cli_args a;
    char err[256];
    cli_opt all[64];
    int n_all = 0;
    for (size_t i = 0; i < sizeof info_opts / sizeof info_opts[0]; i++) all[n_all++] = info_opts[i];
    for (int i = 0; i < cli_n_rule_opts; i++) all[n_all++] = cli_rule_opts[i];
    if (cli_parse(argc, argv, all, n_all, &a, err, sizeof err))
        return cli_error(CLI_USAGE, "info: %s", err);
    if (cli_has(&a, "help")) {
        printf("usage: neon info MODEL [rule options]\n\nPrints the graph: nodes, inputs, "
               "output shapes, parameters, FLOPs and the rule\neach node gets with the given "
               "rule options.\n\nrule options:\n");
        cli_print_opts(stdout, cli_rule_opts, cli_n_rule_opts);
        return CLI_OK;
    }
    if (a.n_pos != 1) return cli_error(CLI_USAGE, "info: expected one MODEL (see neon info --help)");
    neon_ctx *ctx;
    if (neon_ctx_create(&ctx, NULL)) return cli_error(CLI_ERR, "out of memory");
    cli_model m;
    neon_rules *rs = NULL;
    int code = cli_make_rules(ctx, &a, &rs);
    if (!code) code = cli_load_model(ctx, a.pos[0], &a, NULL, &m);
    else m.g = NULL;
    if (!code && neon_graph_set_rules(m.g, rs)) code = cli_error(CLI_USAGE, "%s", neon_errmsg(ctx));
    if (!code) {
        printf("%s\n", m.desc);
        printf("%4s %-28s %-11s %-14s %-18s %10s  %-22s %s\n", "id", "name", "kind", "inputs",
               "output", "params", "rule", "detail");
        int64_t params = 0;
        for (int i = 0; i < neon_graph_num_nodes(m.g); i++) {
            neon_node_info info;
            neon_rule r;
            neon_graph_node_info(m.g, i, &info);
            neon_graph_node_rule(m.g, i, &r);
            char ins[64] = "", shp[64], rb[64];
            size_t u = 0;
            for (int k = 0; k < info.n_inputs && u < sizeof ins; k++)
                u += (size_t)snprintf(ins + u, sizeof ins - u, "%s#%d", k ? "," : "", info.inputs[k]);
            neon_shape_str(info.ndim, info.shape, shp, sizeof shp);
            params += info.n_params;
            printf("%4d %-28s %-11s %-14s %-18s %10lld  %-22s %s%s\n", i, info.name, info.kind,
                   ins[0] ? ins : "-", shp, (long long)info.n_params,
                   strcmp(info.kind, "input") ? neon_rule_str(&r, rb, sizeof rb) : "-",
                   info.detail, i == neon_graph_output_id(m.g) ? " [output]" : "");
        }
        printf("parameters: %lld, forward: %.4g MFLOP per sample\n", (long long)params,
               (double)neon_graph_flops(m.g) / 1e6);
    }
    neon_rules_destroy(rs);
    if (m.g) cli_free_model(&m);
    neon_ctx_destroy(ctx);
    return code;
}
