/* Shared benchmark helpers: wall clock, peak memory, deterministic data. */
#ifndef NEON_BENCHUTIL_H
#define NEON_BENCHUTIL_H

#include <stdint.h>

double bu_now(void);              /* seconds, monotonic */
double bu_peak_rss_mb(void);      /* peak resident set size of this process */
void bu_fill(float *x, int64_t n, float lo, float hi, uint64_t seed);
/* Raw OpenBLAS sgemm throughput (GFLOP/s) on an n x n x n product. */
double bu_sgemm_gflops(int n);

#endif
