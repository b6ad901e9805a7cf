/* Rule options shared by the commands that explain. */
#include "cli.h"

#include <string.h>

const cli_opt cli_rule_opts[] = {
    {"composite", "NAME",
     "epsilon-gamma-box | epsilon-plus (default) | epsilon-plus-flat | epsilon-alpha2-beta1 | "
     "epsilon-alpha2-beta1-flat",
     0},
    {"rule", "RULE",
     "one rule for every dense/conv layer instead: lrp0, epsilon[:E], gamma[:G], zplus, "
     "alphabeta[:A:B], flat, wsquare, zbox",
     0},
    {"rule-for", "NODE=RULE", "rule of one node (name or #index); repeatable", 1},
    {"epsilon", "E", "epsilon of the epsilon layers (default 1e-6)", 0},
    {"gamma", "G", "gamma of the gamma layers (default 0.25)", 0},
    {"low", "L", "lowest input value, for z^B (epsilon-gamma-box, zbox)", 0},
    {"high", "H", "highest input value, for z^B", 0},
    {"maxpool", "MODE", "wta (winner takes all, default) | sumpool (the chapter's option)", 0},
};
const int cli_n_rule_opts = (int)(sizeof cli_rule_opts / sizeof cli_rule_opts[0]);

int cli_make_rules(neon_ctx *ctx, const cli_args *a, neon_rules **out)
{
    *out = NULL;
    neon_rules *rs;
    if (neon_rules_create(ctx, &rs)) return cli_error(CLI_ERR, "out of memory");
    const char *comp = cli_get(a, "composite"), *rule = cli_get(a, "rule");
    const char *lo = cli_get(a, "low"), *hi = cli_get(a, "high");
    float eps = -1, gam = -1, l = 0, h = 0;
    int code = CLI_OK;
    if (comp && rule) code = cli_error(CLI_USAGE, "give --composite or --rule, not both");
    else if (cli_get(a, "epsilon") && !cli_float(cli_get(a, "epsilon"), &eps))
        code = cli_error(CLI_USAGE, "--epsilon: '%s' is not a number", cli_get(a, "epsilon"));
    else if (cli_get(a, "gamma") && !cli_float(cli_get(a, "gamma"), &gam))
        code = cli_error(CLI_USAGE, "--gamma: '%s' is not a number", cli_get(a, "gamma"));
    else if ((lo != NULL) != (hi != NULL))
        code = cli_error(CLI_USAGE, "--low and --high go together");
    else if (lo && (!cli_float(lo, &l) || !cli_float(hi, &h) || l > h))
        code = cli_error(CLI_USAGE, "--low/--high need numbers with low <= high");
    if (code) goto fail;
    if (eps < 0 && cli_get(a, "epsilon")) {
        code = cli_error(CLI_USAGE, "--epsilon must be >= 0");
        goto fail;
    }
    if (gam < 0 && cli_get(a, "gamma")) {
        code = cli_error(CLI_USAGE, "--gamma must be >= 0");
        goto fail;
    }
    if (lo && neon_rules_set_bounds(rs, l, h)) goto lib_fail;
    if (rule) {
        neon_rule r;
        if (neon_rule_parse(ctx, rule, &r)) {
            code = cli_error(CLI_USAGE, "--rule: %s", neon_errmsg(ctx));
            goto fail;
        }
        if (r.kind == NEON_RULE_EPSILON && eps >= 0) r.epsilon = eps;
        if (r.kind == NEON_RULE_GAMMA && gam >= 0) r.gamma = gam;
        if (r.kind == NEON_RULE_ZBOX && lo) {
            r.low = l;
            r.high = h;
        }
        if (neon_rules_set_uniform(rs, &r)) {
            code = cli_error(CLI_USAGE, "--rule: %s", neon_errmsg(ctx));
            goto fail;
        }
    } else {
        if (neon_rules_set_composite(rs, comp ? comp : "epsilon-plus")) {
            code = cli_error(CLI_USAGE, "--composite: %s", neon_errmsg(ctx));
            goto fail;
        }
    }
    if (neon_rules_set_params(rs, eps, gam)) goto lib_fail;
    const char *mp = cli_get(a, "maxpool");
    if (mp) {
        if (!strcmp(mp, "wta")) neon_rules_set_maxpool(rs, NEON_RULE_WTA);
        else if (!strcmp(mp, "sumpool")) neon_rules_set_maxpool(rs, NEON_RULE_SUMPOOL);
        else {
            code = cli_error(CLI_USAGE, "--maxpool: '%s' is not wta or sumpool", mp);
            goto fail;
        }
    }
    for (int k = 0; k < cli_count(a, "rule-for"); k++) {
        const char *spec = cli_get_n(a, "rule-for", k);
        const char *eq = strrchr(spec, '=');
        char node[256];
        if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof node) {
            code = cli_error(CLI_USAGE, "--rule-for: expected NODE=RULE, got '%s'", spec);
            goto fail;
        }
        memcpy(node, spec, (size_t)(eq - spec));
        node[eq - spec] = '\0';
        neon_rule r;
        if (neon_rule_parse(ctx, eq + 1, &r)) {
            code = cli_error(CLI_USAGE, "--rule-for %s: %s", node, neon_errmsg(ctx));
            goto fail;
        }
        if (neon_rules_set_node(rs, node, &r)) goto lib_fail;
    }
    *out = rs;
    return CLI_OK;
lib_fail:
    code = cli_error(CLI_USAGE, "%s", neon_errmsg(ctx));
fail:
    neon_rules_destroy(rs);
    return code;
}
