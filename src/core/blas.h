/* The library's only door to BLAS (row-major sgemm and friends). */
#ifndef NEON_BLAS_H
#define NEON_BLAS_H

#include <stdint.h>

/* C (M x N) = alpha op(A) op(B) + beta C, row-major; op(A) is M x K,
 * op(B) is K x N; ta/tb != 0 transpose A/B. */
void neon_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc);
/* BLAS threads (OpenBLAS); n <= 0 leaves the library default. */
void neon_blas_set_threads(int n);
int neon_blas_get_threads(void);

#endif
