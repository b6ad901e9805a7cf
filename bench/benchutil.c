#define _POSIX_C_SOURCE 200809L
#include "benchutil.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "blas.h"

double bu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bu_peak_rss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

void bu_fill(float *x, int64_t n, float lo, float hi, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        double u = (double)((s * 0x2545F4914F6CDD1Dull) >> 11) / 9007199254740992.0;
        x[i] = lo + (hi - lo) * (float)u;
    }
}

double bu_sgemm_gflops(int n)
{
    float *a = malloc((size_t)n * n * sizeof *a), *b = malloc((size_t)n * n * sizeof *b),
          *c = malloc((size_t)n * n * sizeof *c);
    bu_fill(a, (int64_t)n * n, -1, 1, 1);
    bu_fill(b, (int64_t)n * n, -1, 1, 2);
    neon_sgemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n); /* warm-up */
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t = bu_now();
        neon_sgemm(0, 0, n, n, n, 1, a, n, b, n, 0, c, n);
        t = bu_now() - t;
        if (t < best) best = t;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * (double)n / best / 1e9;
}
