#ifndef STRATA_GEMM_H
#define STRATA_GEMM_H
// Strata's float32 GEMM (gemm.c): faster than Debian's OpenBLAS on CPUs with AVX-512.

/// Whether this CPU runs strata_sgemm (x86-64 with AVX-512F).
int strata_sgemm_supported(void);

/// C = alpha·op(A)·op(B) + beta·C, row-major like cblas_sgemm(CblasRowMajor, ...): op(A) is m×k,
/// op(B) k×n, C m×n; C is not read when beta is 0. Single-threaded; safe to call from several
/// threads at once (each has its own packing buffers). Returns 0, or −1 when it cannot run
/// (no AVX-512, or no memory for the packing buffers) and has written nothing.
int strata_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc);

#endif
