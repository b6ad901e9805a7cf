/* Checks a libsvm model file before svm_load_model sees it.
 *
 * libsvm 3.24 reads the header token by token, prints to stderr on an
 * unknown keyword and, once past "SV", trusts total_sv: a truncated file
 * loads "successfully" with uninitialised support vectors, and a last line
 * without its newline makes it loop.  So we parse the whole text format
 * ourselves (the same grammar svm_save_model writes, one header item per
 * line) and only hand libsvm files that it will read exactly:
 *
 *   svm_type one_class            (else: unsupported)
 *   kernel_type rbf               (else: unsupported)
 *   gamma G                       (> 0)
 *   nr_class 2
 *   total_sv M                    (>= 1)
 *   rho R
 *   [label ..., probA ..., probB ..., nr_sv ..., degree, coef0]
 *   SV
 *   M lines: "a_j i1:v1 i2:v2 ... \n", 1 <= i1 < i2 < ..., all finite
 *   (then only whitespace)
 */
#include "ocsvm_impl.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    neon_ctx *ctx;
    const char *path;
    const char *p, *end;
    int64_t line;
} parser;

static neon_status bad(parser *ps, neon_status st, const char *what)
{
    return neon_fail(ps->ctx, st, "%s: line %lld: %s", ps->path, (long long)ps->line, what);
}

static void skip_blank(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\r')) ps->p++;
}

/* Next whitespace-separated token on the current line into buf; 0 at end of line. */
static int token(parser *ps, char *buf, size_t n)
{
    skip_blank(ps);
    size_t k = 0;
    while (ps->p < ps->end && !strchr(" \t\r\n", *ps->p)) {
        if (k + 1 < n) buf[k++] = *ps->p;
        ps->p++;
    }
    buf[k] = '\0';
    return k > 0;
}

/* Ends the current line: only blanks may remain, then a newline. */
static neon_status end_line(parser *ps)
{
    skip_blank(ps);
    if (ps->p >= ps->end)
        return bad(ps, NEON_ERR_FORMAT, "the file ends inside this line (truncated?)");
    if (*ps->p != '\n') return bad(ps, NEON_ERR_FORMAT, "unexpected text at the end of the line");
    ps->p++;
    ps->line++;
    return NEON_OK;
}

static int parse_double(const char *s, double *v)
{
    char *e;
    errno = 0;
    *v = strtod(s, &e);
    return *s && !*e && errno != ERANGE && isfinite(*v);
}

static int parse_int(const char *s, long *v)
{
    char *e;
    errno = 0;
    *v = strtol(s, &e, 10);
    return *s && !*e && errno != ERANGE && *v >= INT_MIN && *v <= INT_MAX;
}

/* n numbers after a keyword (ints when is_int). */
static neon_status values(parser *ps, const char *kw, long n, int is_int, double *first)
{
    char tok[96], msg[160];
    for (long i = 0; i < n; i++) {
        double d;
        long l;
        if (!token(ps, tok, sizeof tok) || (is_int ? !parse_int(tok, &l) : !parse_double(tok, &d))) {
            snprintf(msg, sizeof msg, "'%s' needs %ld %s value%s", kw, n,
                     is_int ? "integer" : "finite", n == 1 ? "" : "s");
            return bad(ps, NEON_ERR_FORMAT, msg);
        }
        if (i == 0 && first) *first = is_int ? (double)l : d;
    }
    return end_line(ps);
}

static const char *const svm_types[] = {"c_svc", "nu_svc", "one_class", "epsilon_svr", "nu_svr"};
static const char *const kernels[] = {"linear", "polynomial", "rbf", "sigmoid", "precomputed"};

static int lookup(const char *const *tab, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(tab[i], s)) return i;
    return -1;
}

static const char *const header_keywords[] = {"svm_type", "kernel_type", "gamma", "degree",
                                              "coef0", "nr_class", "total_sv", "rho", "label",
                                              "probA", "probB", "nr_sv"};
#define N_HEADER_KEYWORDS ((int)(sizeof header_keywords / sizeof header_keywords[0]))

static neon_status header(parser *ps, neon_ocsvm_file_info *info)
{
    char kw[96], val[96], msg[256];
    int type = -1, kernel = -1;
    long nr_class = -1, total = -1;
    int have_gamma = 0, have_rho = 0;
    unsigned seen = 0; /* header keywords met so far (bit per keyword) */
    for (;;) {
        if (!token(ps, kw, sizeof kw)) {
            if (ps->p >= ps->end)
                return bad(ps, NEON_ERR_FORMAT, "the file ends before the 'SV' line (truncated?)");
            if (*ps->p == '\n') return bad(ps, NEON_ERR_FORMAT, "empty line in the header");
        }
        if (!strcmp(kw, "SV")) {
            NEON_TRY(end_line(ps));
            break;
        }
        /* libsvm keeps the last of repeated lines and leaks the earlier arrays */
        const int ki = lookup(header_keywords, N_HEADER_KEYWORDS, kw);
        if (ki >= 0 && (seen >> ki) & 1u) {
            snprintf(msg, sizeof msg, "'%s' appears twice in the header", kw);
            return bad(ps, NEON_ERR_FORMAT, msg);
        }
        if (ki >= 0) seen |= 1u << ki;
        if (!strcmp(kw, "svm_type") || !strcmp(kw, "kernel_type")) {
            const int is_type = kw[0] == 's';
            if (!token(ps, val, sizeof val)) return bad(ps, NEON_ERR_FORMAT, "missing value");
            int k = is_type ? lookup(svm_types, 5, val) : lookup(kernels, 5, val);
            if (k < 0) {
                snprintf(msg, sizeof msg, "unknown %s '%s'", kw, val);
                return bad(ps, NEON_ERR_FORMAT, msg);
            }
            if (is_type && k != 2)
                return neon_fail(ps->ctx, NEON_ERR_UNSUPPORTED,
                                 "%s: a %s model: only one-class SVMs (svm_type one_class, "
                                 "svm-train -s 2) with the rbf kernel can be neuralized",
                                 ps->path, val);
            if (!is_type && k != 2)
                return neon_fail(ps->ctx, NEON_ERR_UNSUPPORTED,
                                 "%s: kernel_type %s: only the rbf kernel (svm-train -t 2) can be "
                                 "neuralized",
                                 ps->path, val);
            *(is_type ? &type : &kernel) = k;
            NEON_TRY(end_line(ps));
        } else if (!strcmp(kw, "gamma")) {
            NEON_TRY(values(ps, kw, 1, 0, &info->gamma));
            have_gamma = 1;
        } else if (!strcmp(kw, "degree")) {
            NEON_TRY(values(ps, kw, 1, 1, NULL));
        } else if (!strcmp(kw, "coef0")) {
            NEON_TRY(values(ps, kw, 1, 0, NULL));
        } else if (!strcmp(kw, "nr_class") || !strcmp(kw, "total_sv")) {
            double v = 0;
            NEON_TRY(values(ps, kw, 1, 1, &v));
            *(kw[0] == 'n' ? &nr_class : &total) = (long)v;
        } else if (!strcmp(kw, "rho") || !strcmp(kw, "label") || !strcmp(kw, "probA") ||
                   !strcmp(kw, "probB") || !strcmp(kw, "nr_sv")) {
            if (nr_class < 0) {
                snprintf(msg, sizeof msg, "'%s' before 'nr_class'", kw);
                return bad(ps, NEON_ERR_FORMAT, msg);
            }
            const int per_class = !strcmp(kw, "label") || !strcmp(kw, "nr_sv");
            double v = NAN;
            NEON_TRY(values(ps, kw, per_class ? nr_class : nr_class * (nr_class - 1) / 2,
                            per_class, &v));
            if (!strcmp(kw, "rho")) {
                info->rho = v;
                have_rho = 1;
            }
        } else if (!strcmp(kw, "prob_density_marks")) {
            return neon_fail(ps->ctx, NEON_ERR_UNSUPPORTED,
                             "%s: line %lld: 'prob_density_marks' (a one-class model trained with "
                             "probability estimates by libsvm >= 3.25) cannot be read by this "
                             "libsvm (%s); train without -b 1",
                             ps->path, (long long)ps->line, "3.24");
        } else {
            snprintf(msg, sizeof msg, "unknown header keyword '%.60s'", kw);
            return bad(ps, NEON_ERR_FORMAT, msg);
        }
    }
    const char *missing = type < 0      ? "svm_type"
                          : kernel < 0  ? "kernel_type"
                          : !have_gamma ? "gamma"
                          : nr_class < 0 ? "nr_class"
                          : total < 0   ? "total_sv"
                          : !have_rho   ? "rho"
                                        : NULL;
    if (missing)
        return neon_fail(ps->ctx, NEON_ERR_FORMAT, "%s: the header has no '%s' line", ps->path,
                         missing);
    if (nr_class != 2)
        return neon_fail(ps->ctx, NEON_ERR_FORMAT, "%s: nr_class %ld in a one-class model (libsvm "
                         "writes 2)", ps->path, nr_class);
    if (!(info->gamma > 0))
        return neon_fail(ps->ctx, NEON_ERR_FORMAT, "%s: gamma %g: must be > 0", ps->path,
                         info->gamma);
    if (total < 1)
        return neon_fail(ps->ctx, NEON_ERR_FORMAT, "%s: total_sv %ld: the model has no support "
                         "vectors", ps->path, total);
    info->total_sv = total;
    return NEON_OK;
}

/* One support vector line: "coef idx:val ...". */
static neon_status sv_line(parser *ps, neon_ocsvm_file_info *info)
{
    char tok[128], msg[200];
    double a;
    if (!token(ps, tok, sizeof tok)) {
        if (ps->p >= ps->end)
            return bad(ps, NEON_ERR_FORMAT, "the file ends inside this line (truncated?)");
        return bad(ps, NEON_ERR_FORMAT, "empty support vector line (expected 'coef idx:val ...')");
    }
    if (!parse_double(tok, &a)) {
        snprintf(msg, sizeof msg, "bad coefficient '%.40s'", tok);
        return bad(ps, NEON_ERR_FORMAT, msg);
    }
    long last = 0;
    while (token(ps, tok, sizeof tok)) {
        char *colon = strchr(tok, ':');
        long idx;
        double v;
        if (colon) *colon = '\0';
        if (!colon || !parse_int(tok, &idx) || !parse_double(colon + 1, &v)) {
            if (colon) *colon = ':';
            snprintf(msg, sizeof msg, "bad feature '%.40s' (expected index:value, finite value)",
                     tok);
            return bad(ps, NEON_ERR_FORMAT, msg);
        }
        if (idx <= last) {
            snprintf(msg, sizeof msg, "feature index %ld after %ld: indices must be >= 1 and "
                     "increasing", idx, last);
            return bad(ps, NEON_ERR_FORMAT, msg);
        }
        last = idx;
    }
    if (last > info->max_index) info->max_index = last;
    return end_line(ps);
}

neon_status neon_ocsvm_check_file(neon_ctx *ctx, const char *path, neon_ocsvm_file_info *info)
{
    memset(info, 0, sizeof *info);
    FILE *f = fopen(path, "rb");
    if (!f) return neon_fail(ctx, NEON_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = neon_alloc(ctx, cap);
    neon_status st = buf ? NEON_OK : NEON_ERR_NOMEM;
    while (st == NEON_OK) {
        if (len == cap) {
            char *nb = neon_realloc(ctx, buf, cap * 2);
            if (!nb) {
                st = NEON_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            if (ferror(f)) st = neon_fail(ctx, NEON_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st == NEON_OK && memchr(buf, '\0', len))
        st = neon_fail(ctx, NEON_ERR_FORMAT, "%s: not a libsvm model (binary data)", path);
    parser ps = {ctx, path, buf, buf + len, 1};
    if (st == NEON_OK) st = header(&ps, info);
    for (int64_t j = 0; st == NEON_OK && j < info->total_sv; j++) {
        if (ps.p >= ps.end) {
            st = neon_fail(ctx, NEON_ERR_FORMAT, "%s: only %lld of the %lld support vectors "
                           "(total_sv) are present (truncated?)",
                           path, (long long)j, (long long)info->total_sv);
            break;
        }
        st = sv_line(&ps, info);
    }
    if (st == NEON_OK) {
        while (ps.p < ps.end && strchr(" \t\r\n", *ps.p)) ps.line += *ps.p++ == '\n';
        if (ps.p < ps.end)
            st = neon_fail(ctx, NEON_ERR_FORMAT, "%s: line %lld: data after the %lld support "
                           "vectors announced by total_sv", path, (long long)ps.line,
                           (long long)info->total_sv);
    }
    neon_free(ctx, buf);
    return st;
}
