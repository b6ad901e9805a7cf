/* BLAS wrapper: the only file that includes cblas.h. */
#include "blas.h"

#include <cblas.h>

/* Dimensions beyond blasint (32-bit in LP64 OpenBLAS) would be truncated:
 * such products (never met with graphs of valid shapes, but a batch can be
 * large) are computed by rows of C in blocks that fit, or, when even one
 * row does not, by a plain loop. */
static int fits(int64_t v) { return v <= (int64_t)INT32_MAX; }

static void sgemm_naive(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha,
                        const float *A, int64_t lda, const float *B, int64_t ldb, float beta,
                        float *C, int64_t ldc)
{
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++)
                s += (double)(ta ? A[k * lda + i] : A[i * lda + k]) *
                     (tb ? B[j * ldb + k] : B[k * ldb + j]);
            float *c = &C[i * ldc + j];
            *c = (float)(alpha * s) + (beta == 0.0f ? 0.0f : beta * *c);
        }
}

void neon_sgemm(int ta, int tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                int64_t lda, const float *B, int64_t ldb, float beta, float *C, int64_t ldc)
{
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { /* C = beta C */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    if (!fits(N) || !fits(K) || !fits(lda) || !fits(ldb) || !fits(ldc)) {
        sgemm_naive(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int64_t rows = INT32_MAX / 2; /* row block of C (and of op(A)) */
    for (; M > rows; M -= rows, C += rows * ldc, A += ta ? rows : rows * lda)
        neon_sgemm(ta, tb, rows, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (blasint)M, (blasint)N, (blasint)K, alpha, A, (blasint)lda, B, (blasint)ldb, beta,
                C, (blasint)ldc);
}

void neon_blas_set_threads(int n)
{
    if (n > 0) openblas_set_num_threads(n);
}

int neon_blas_get_threads(void) { return openblas_get_num_threads(); }
