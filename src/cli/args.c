/* A small, strict long-option parser (no globals; fuzzable). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_error(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("neon: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

static int find_opt(const cli_opt *opts, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len)) return i;
    return -1;
}

int cli_parse(int argc, char **argv, const cli_opt *opts, int n_opts, cli_args *a, char *err,
              size_t errn)
{
    memset(a, 0, sizeof *a);
    a->opts = opts;
    a->n_opts = n_opts < 64 ? n_opts : 64;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!s) continue;
        if (only_pos || s[0] != '-' || !s[1]) {
            if (a->n_pos >= 8) {
                snprintf(err, errn, "too many arguments ('%s')", s);
                return -1;
            }
            a->pos[a->n_pos++] = s;
            continue;
        }
        if (!strcmp(s, "--")) {
            only_pos = 1;
            continue;
        }
        if (s[1] != '-') {
            if (!strcmp(s, "-h")) s = "--help";
            else {
                snprintf(err, errn, "unknown option '%s' (options are long: --name)", s);
                return -1;
            }
        }
        const char *name = s + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int k = find_opt(opts, a->n_opts, name, len);
        if (k < 0) {
            snprintf(err, errn, "unknown option '--%.*s' (see --help)", (int)(len > 64 ? 64 : len),
                     name);
            return -1;
        }
        const char *val = NULL;
        if (opts[k].arg) {
            if (eq) val = eq + 1;
            else if (i + 1 < argc && argv[i + 1]) val = argv[++i];
            else {
                snprintf(err, errn, "option --%s needs a value (%s)", opts[k].name, opts[k].arg);
                return -1;
            }
        } else if (eq) {
            snprintf(err, errn, "option --%s takes no value", opts[k].name);
            return -1;
        }
        if (a->count[k] > 0 && !opts[k].repeat && opts[k].arg) {
            snprintf(err, errn, "option --%s given twice", opts[k].name);
            return -1;
        }
        if (a->count[k] >= CLI_MAX_OCC) {
            snprintf(err, errn, "option --%s given too often", opts[k].name);
            return -1;
        }
        a->val[k][a->count[k]++] = val;
    }
    return 0;
}

static int idx_of(const cli_args *a, const char *name)
{
    return find_opt(a->opts, a->n_opts, name, strlen(name));
}

const char *cli_get(const cli_args *a, const char *name)
{
    int k = idx_of(a, name);
    return k >= 0 && a->count[k] ? a->val[k][a->count[k] - 1] : NULL;
}

const char *cli_get_n(const cli_args *a, const char *name, int n)
{
    int k = idx_of(a, name);
    return k >= 0 && n < a->count[k] ? a->val[k][n] : NULL;
}

int cli_has(const cli_args *a, const char *name) { return cli_count(a, name) > 0; }

int cli_count(const cli_args *a, const char *name)
{
    int k = idx_of(a, name);
    return k >= 0 ? a->count[k] : 0;
}

void cli_print_opts(FILE *f, const cli_opt *opts, int n_opts)
{
    for (int i = 0; i < n_opts; i++) {
        char head[64];
        snprintf(head, sizeof head, "--%s%s%s", opts[i].name, opts[i].arg ? " " : "",
                 opts[i].arg ? opts[i].arg : "");
        fprintf(f, "  %-24s %s\n", head, opts[i].help);
    }
}

int cli_float(const char *s, float *out)
{
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return 0;
    *out = (float)v;
    return 1;
}

int cli_int(const char *s, long *out)
{
    if (!s || !*s) return 0;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}
