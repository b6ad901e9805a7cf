/* Single rules: defaults, names, parsing, parameter checks, printing. */
#include "graph/graph_impl.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const rule_names[NEON_RULE__COUNT] = {
    "auto", "lrp0", "epsilon", "gamma", "zplus", "alphabeta", "flat", "wsquare", "zbox",
    "pass", "wta", "sumpool"};

const char *neon_rule_name(neon_rule_kind kind)
{
    return (int)kind >= 0 && kind < NEON_RULE__COUNT ? rule_names[kind] : "unknown";
}

neon_rule neon_rule_default(neon_rule_kind kind)
{
    neon_rule r;
    memset(&r, 0, sizeof r);
    r.kind = kind;
    r.epsilon = 1e-6f;
    r.gamma = 0.25f;
    r.alpha = kind == NEON_RULE_ALPHABETA ? 2.0f : 1.0f;
    r.beta = kind == NEON_RULE_ALPHABETA ? 1.0f : 0.0f;
    r.stabilizer = NEON_DEFAULT_STABILIZER;
    r.low = NAN;
    r.high = NAN;
    return r;
}

static int parse_float(const char *s, float *out)
{
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return 0;
    *out = (float)v;
    return 1;
}

neon_status neon_rule_parse(neon_ctx *ctx, const char *spec, neon_rule *out)
{
    char buf[128];
    if (!spec || strlen(spec) >= sizeof buf)
        return neon_fail(ctx, NEON_ERR_INVALID, "rule name missing or too long");
    strcpy(buf, spec);
    char *args[4] = {0};
    int nargs = 0;
    char *colon = strchr(buf, ':');
    if (colon) {
        *colon = '\0';
        char *p = colon + 1;
        while (p && nargs < 4) {
            args[nargs++] = p;
            p = strchr(p, ':');
            if (p) *p++ = '\0';
        }
    }
    const char *name = buf;
    neon_rule_kind k = NEON_RULE_AUTO;
    if (!strcmp(name, "alpha2beta1") || !strcmp(name, "alpha2-beta1")) k = NEON_RULE_ALPHABETA;
    else if (!strcmp(name, "alpha1beta0") || !strcmp(name, "z+")) k = NEON_RULE_ZPLUS;
    else if (!strcmp(name, "w2") || !strcmp(name, "w^2")) k = NEON_RULE_WSQUARE;
    else if (!strcmp(name, "zb") || !strcmp(name, "z^B")) k = NEON_RULE_ZBOX;
    else if (!strcmp(name, "eps")) k = NEON_RULE_EPSILON;
    else
        for (int i = 1; i < NEON_RULE__COUNT; i++)
            if (!strcmp(name, rule_names[i])) k = (neon_rule_kind)i;
    if (k == NEON_RULE_AUTO)
        return neon_fail(ctx, NEON_ERR_INVALID,
                         "unknown rule '%s'; known rules: lrp0, epsilon[:E], gamma[:G], zplus, "
                         "alphabeta[:A:B], flat, wsquare, zbox:L:H, pass, wta, sumpool",
                         spec);
    neon_rule r = neon_rule_default(k);
    int want = k == NEON_RULE_EPSILON || k == NEON_RULE_GAMMA ? 1
             : k == NEON_RULE_ALPHABETA || k == NEON_RULE_ZBOX ? 2 : 0;
    if (nargs > want)
        return neon_fail(ctx, NEON_ERR_INVALID, "rule '%s': %s takes %d parameter%s", spec,
                         rule_names[k], want, want == 1 ? "" : "s");
    float v[2] = {0, 0};
    for (int i = 0; i < nargs; i++)
        if (!parse_float(args[i], &v[i]))
            return neon_fail(ctx, NEON_ERR_INVALID, "rule '%s': '%s' is not a finite number", spec,
                             args[i]);
    if (nargs >= 1) {
        if (k == NEON_RULE_EPSILON) r.epsilon = v[0];
        if (k == NEON_RULE_GAMMA) r.gamma = v[0];
    }
    if (nargs == 1 && want == 2)
        return neon_fail(ctx, NEON_ERR_INVALID, "rule '%s': %s takes 2 parameters", spec,
                         rule_names[k]);
    if (nargs == 2 && k == NEON_RULE_ALPHABETA) { r.alpha = v[0]; r.beta = v[1]; }
    if (nargs == 2 && k == NEON_RULE_ZBOX) { r.low = v[0]; r.high = v[1]; }
    NEON_TRY(neon_rule_check(ctx, &r));
    *out = r;
    return NEON_OK;
}

neon_status neon_rule_check(neon_ctx *ctx, const neon_rule *r)
{
    const char *n = neon_rule_name(r->kind);
    if ((int)r->kind < 0 || r->kind >= NEON_RULE__COUNT)
        return neon_fail(ctx, NEON_ERR_INVALID, "unknown rule kind %d", (int)r->kind);
    if (!(r->stabilizer >= 0) || !isfinite(r->stabilizer))
        return neon_fail(ctx, NEON_ERR_INVALID, "rule %s: stabilizer must be >= 0", n);
    if (r->kind == NEON_RULE_EPSILON && (!(r->epsilon >= 0) || !isfinite(r->epsilon)))
        return neon_fail(ctx, NEON_ERR_INVALID, "rule epsilon: epsilon must be finite and >= 0, got %g",
                         (double)r->epsilon);
    if (r->kind == NEON_RULE_GAMMA && (!(r->gamma >= 0) || !isfinite(r->gamma)))
        return neon_fail(ctx, NEON_ERR_INVALID, "rule gamma: gamma must be finite and >= 0, got %g",
                         (double)r->gamma);
    if (r->kind == NEON_RULE_ALPHABETA) {
        if (!isfinite(r->alpha) || !isfinite(r->beta) || r->beta < 0 ||
            fabsf(r->alpha - r->beta - 1.0f) > 1e-6f)
            return neon_fail(ctx, NEON_ERR_INVALID,
                             "rule alphabeta: needs alpha - beta = 1 and beta >= 0 (conservation), "
                             "got alpha=%g beta=%g",
                             (double)r->alpha, (double)r->beta);
    }
    if (r->kind == NEON_RULE_ZBOX) {
        if (r->n_bounds < 0 || r->n_bounds > NEON_MAX_BOUND_CHANNELS)
            return neon_fail(ctx, NEON_ERR_INVALID, "rule zbox: %d bound channels (max %d)",
                             r->n_bounds, NEON_MAX_BOUND_CHANNELS);
        int nb = r->n_bounds ? r->n_bounds : 1;
        for (int i = 0; i < nb; i++) {
            float lo = r->n_bounds ? r->lows[i] : r->low, hi = r->n_bounds ? r->highs[i] : r->high;
            if (!isfinite(lo) || !isfinite(hi))
                return neon_fail(ctx, NEON_ERR_INVALID,
                                 "rule zbox needs the input bounds (low and high; e.g. --low 0 "
                                 "--high 1 for images in [0, 1]); none given");
            if (lo > hi)
                return neon_fail(ctx, NEON_ERR_INVALID, "rule zbox: low %g > high %g", (double)lo,
                                 (double)hi);
        }
    }
    return NEON_OK;
}

char *neon_rule_str(const neon_rule *r, char *buf, size_t n)
{
    const char *nm = neon_rule_name(r->kind);
    switch (r->kind) {
    case NEON_RULE_EPSILON: snprintf(buf, n, "epsilon(%g)", (double)r->epsilon); break;
    case NEON_RULE_GAMMA: snprintf(buf, n, "gamma(%g)", (double)r->gamma); break;
    case NEON_RULE_ALPHABETA:
        snprintf(buf, n, "alphabeta(%g,%g)", (double)r->alpha, (double)r->beta);
        break;
    case NEON_RULE_ZBOX:
        if (r->n_bounds) snprintf(buf, n, "zbox[%d channel bounds]", r->n_bounds);
        else snprintf(buf, n, "zbox[%g,%g]", (double)r->low, (double)r->high);
        break;
    default: snprintf(buf, n, "%s", nm); break;
    }
    if (r->zero_bias) {
        size_t u = strlen(buf);
        if (u < n) snprintf(buf + u, n - u, ",zero-bias");
    }
    return buf;
}
