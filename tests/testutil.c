#define _POSIX_C_SOURCE 200809L
#include "testutil.h"

#include <dirent.h>
#include <string.h>
#include <unistd.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void tu_seed(tu_rng *r, uint64_t seed) { r->s = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull; if (!r->s) r->s = 1; }

static uint64_t next(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

double tu_uniform(tu_rng *r) { return (double)(next(r) >> 11) * (1.0 / 9007199254740992.0); }
float tu_rangef(tu_rng *r, float lo, float hi) { return lo + (hi - lo) * (float)tu_uniform(r); }

double tu_normal(tu_rng *r)
{
    double u1 = tu_uniform(r), u2 = tu_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void tu_fill(tu_rng *r, float *x, int64_t n, float lo, float hi)
{
    for (int64_t i = 0; i < n; i++) x[i] = tu_rangef(r, lo, hi);
}

void tu_assert_closed(const double *a, const double *b, int64_t n, double atol, double rtol,
                      const char *what)
{
    double worst = 0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs(a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(e <= worst)) { worst = e; wi = i; }
        if (isnan(a[i]) != isnan(b[i])) { worst = INFINITY; wi = i; break; }
    }
    if (worst > 1.0) {
        print_error("%s: element %lld: got %.9g, expected %.9g (error ratio %.3g)\n", what,
                    (long long)wi, a[wi], b[wi], worst);
        fail();
    }
}

void tu_assert_close(const float *a, const float *b, int64_t n, double atol, double rtol,
                     const char *what)
{
    double worst = 0;
    int64_t wi = -1;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]) / (atol + rtol * fabs((double)b[i]));
        if (!(e <= worst)) { worst = e; wi = i; }
    }
    if (worst > 1.0) {
        print_error("%s: element %lld: got %.9g, expected %.9g (error ratio %.3g)\n", what,
                    (long long)wi, (double)a[wi], (double)b[wi], worst);
        fail();
    }
}

double tu_sum(const float *x, int64_t n)
{
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

static void *cnt_alloc(size_t size, void *user)
{
    tu_counting *c = user;
    if (++c->calls == c->fail_at) return NULL;
    void *p = malloc(size);
    if (p) c->live++;
    return p;
}

static void *cnt_realloc(void *p, size_t size, void *user)
{
    tu_counting *c = user;
    if (++c->calls == c->fail_at) return NULL;
    void *q = realloc(p, size);
    if (q && !p) c->live++;
    return q;
}

static void cnt_free(void *p, void *user)
{
    tu_counting *c = user;
    if (p) c->live--;
    free(p);
}

neon_allocator tu_counting_allocator(tu_counting *c)
{
    neon_allocator a = {cnt_alloc, cnt_realloc, cnt_free, c};
    return a;
}

neon_ctx *tu_ctx(void)
{
    neon_ctx *ctx = NULL;
    assert_int_equal(neon_ctx_create(&ctx, NULL), NEON_OK);
    return ctx;
}

const char *tu_src_path(char *buf, size_t n, const char *rel)
{
    snprintf(buf, n, "%s/%s", NEON_SOURCE_DIR, rel);
    return buf;
}

/* ---- scratch directory -------------------------------------------------- */

static char g_scratch[64];

int tu_scratch_setup(void **state)
{
    (void)state;
    snprintf(g_scratch, sizeof g_scratch, "/tmp/neon_test_XXXXXX");
    return mkdtemp(g_scratch) ? 0 : -1;
}

int tu_scratch_teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_scratch);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            snprintf(p, sizeof p, "%s/%s", g_scratch, e->d_name);
            if (rmdir(p) != 0) unlink(p);
        }
        closedir(d);
    }
    rmdir(g_scratch);
    return 0;
}

const char *tu_scratch_dir(void) { return g_scratch; }

const char *tu_scratch_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", g_scratch, name);
    return buf;
}

/* ---- recording allocator ------------------------------------------------ */

static size_t g_rec_max;

static void *rec_alloc(size_t n, void *u)
{
    (void)u;
    if (n > g_rec_max) g_rec_max = n;
    return malloc(n);
}

static void *rec_realloc(void *p, size_t n, void *u)
{
    (void)u;
    if (n > g_rec_max) g_rec_max = n;
    return realloc(p, n);
}

static void rec_free(void *p, void *u)
{
    (void)u;
    free(p);
}

neon_ctx *tu_rec_ctx(void)
{
    neon_allocator a = {rec_alloc, rec_realloc, rec_free, NULL};
    neon_ctx *ctx = NULL;
    assert_int_equal(neon_ctx_create(&ctx, &a), NEON_OK);
    g_rec_max = 0;
    return ctx;
}

size_t tu_rec_max(void) { return g_rec_max; }

/* ---- graph helpers ------------------------------------------------------ */

float *tu_rnd(tu_rng *r, int64_t n, float lo, float hi)
{
    float *p = malloc((size_t)n * sizeof *p);
    assert_non_null(p);
    tu_fill(r, p, n, lo, hi);
    return p;
}

void tu_set_uniform(neon_ctx *ctx, neon_graph *g, neon_rule_kind k)
{
    neon_rules *rs;
    assert_int_equal(neon_rules_create(ctx, &rs), NEON_OK);
    neon_rule r = neon_rule_default(k);
    assert_int_equal(neon_rules_set_uniform(rs, &r), NEON_OK);
    assert_int_equal(neon_graph_set_rules(g, rs), NEON_OK);
    neon_rules_destroy(rs);
}

int tu_mlp_branch(neon_graph *g, const char *p, int id, int64_t H, int64_t K, const float *W1,
                  const float *b1, const float *W2, const float *b2)
{
    char n[32];
    snprintf(n, sizeof n, "%s_fc1", p);
    assert_int_equal(neon_graph_add_dense(g, n, id, H, W1, b1, &id), NEON_OK);
    snprintf(n, sizeof n, "%s_relu", p);
    assert_int_equal(neon_graph_add_relu(g, n, id, &id), NEON_OK);
    snprintf(n, sizeof n, "%s_fc2", p);
    assert_int_equal(neon_graph_add_dense(g, n, id, K, W2, b2, &id), NEON_OK);
    return id;
}
