// Strata's float32 GEMM for x86-64 CPUs with AVX-512: C = alpha·op(A)·op(B) + beta·C, row-major,
// single-threaded (the CPU backend splits work across threads itself).
//
// Why not OpenBLAS alone: Debian's OpenBLAS 0.3.21 does not know AMD Zen 5 and runs its generic
// AVX-512 kernels at ~120 GFLOP/s per core, 45% of the core's 268 GFLOP/s (two 512-bit FMAs per
// cycle). This one reaches 200-235 GFLOP/s on the network's shapes (docs/performance.md).
//
// The design is the textbook one (Goto and van de Geijn; BLIS): for each block of KC along K, op(A)
// is packed into panels of MR rows and op(B), NC columns at a time, into panels of NR columns, both
// zero-padded to full panels; a register-blocked micro-kernel multiplies one MR×KC panel by one
// KC×NR panel into MR×NR accumulators (24 of the 32 zmm registers) and masks the stores at the edges.
// The packed A panel (MR·KC floats, 12 KiB) stays in L1 while the kernel sweeps the packed B block
// (KC·NC floats, 720 KiB) from L2.
#include "strata_gemm.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <pthread.h>

enum { MR = 8, NR = 48, KC = 384, NC = 480 };
#define STRATA_AVX512 __attribute__((target("avx512f,fma")))

int strata_sgemm_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

// Per-thread packing buffers, grown on demand and freed when the thread exits.
typedef struct { float *a, *b; size_t na, nb; } PackBuffers;
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static void free_buffers(void *p) {
    PackBuffers *b = p;
    free(b->a); free(b->b); free(b);
}
static void make_key(void) { pthread_key_create(&buffers_key, free_buffers); }
static PackBuffers *thread_buffers(void) {
    pthread_once(&buffers_once, make_key);
    PackBuffers *b = pthread_getspecific(buffers_key);
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) return NULL;
        pthread_setspecific(buffers_key, b);
    }
    return b;
}
static float *grow(float **p, size_t *have, size_t want) {
    if (*have < want) {
        free(*p);
        *p = aligned_alloc(64, (want * sizeof(float) + 63) / 64 * 64);
        *have = *p ? want : 0;
    }
    return *p;
}

// Ap[panel][k][r] = op(A)[panel·MR + r][k0 + k] for all m rows, zero rows past m.
static void pack_a(int trans, const float *a, long lda, long m, long k0, long kc, float *ap) {
    for (long i = 0; i < m; i += MR, ap += MR * kc) {
        long rows = m - i < MR ? m - i : MR;
        if (!trans) {
            const float *src = a + i * lda + k0;
            for (long k = 0; k < kc; k++)
                for (int r = 0; r < MR; r++) ap[k * MR + r] = r < rows ? src[r * lda + k] : 0;
        } else {
            const float *src = a + k0 * lda + i;
            for (long k = 0; k < kc; k++) {
                const float *s = src + k * lda;
                for (int r = 0; r < MR; r++) ap[k * MR + r] = r < rows ? s[r] : 0;
            }
        }
    }
}

// Bp[panel][k][c] = op(B)[k0 + k][j0 + panel·NR + c] for n columns, zero columns past n.
static void pack_b(int trans, const float *b, long ldb, long k0, long kc, long j0, long n, float *bp) {
    for (long j = 0; j < n; j += NR, bp += NR * kc) {
        long cols = n - j < NR ? n - j : NR;
        if (!trans) {
            const float *src = b + k0 * ldb + j0 + j;
            for (long k = 0; k < kc; k++) {
                memcpy(bp + k * NR, src + k * ldb, cols * sizeof(float));
                if (cols < NR) memset(bp + k * NR + cols, 0, (NR - cols) * sizeof(float));
            }
        } else {
            const float *src = b + (j0 + j) * ldb + k0;
            for (long c = 0; c < cols; c++) {
                const float *s = src + c * ldb;
                for (long k = 0; k < kc; k++) bp[k * NR + c] = s[k];
            }
            for (long c = cols; c < NR; c++)
                for (long k = 0; k < kc; k++) bp[k * NR + c] = 0;
        }
    }
}

static inline __mmask16 STRATA_AVX512 lanes(int valid, int first) {
    int n = valid - first;
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// C[rows × cols] = alpha·(Ap panel · Bp panel) + beta·C (C not read when beta is 0).
static void STRATA_AVX512 kernel(long kc, const float *ap, const float *bp, float *c, long ldc,
                                 float alpha, float beta, int rows, int cols) {
    __m512 acc[MR][3];
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_ps();
    for (long k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16), b2 = _mm512_load_ps(bp + 32);
#pragma clang loop unroll(full)
        for (int r = 0; r < MR; r++) {
            __m512 a = _mm512_set1_ps(ap[r]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
            acc[r][2] = _mm512_fmadd_ps(a, b2, acc[r][2]);
        }
        ap += MR;
        bp += NR;
    }
    __mmask16 m0 = lanes(cols, 0), m1 = lanes(cols, 16), m2 = lanes(cols, 32);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
#pragma clang loop unroll(full)
    for (int r = 0; r < MR; r++) {
        if (r >= rows) break;
        float *row = c + r * ldc;
        __m512 x0 = _mm512_mul_ps(va, acc[r][0]), x1 = _mm512_mul_ps(va, acc[r][1]), x2 = _mm512_mul_ps(va, acc[r][2]);
        if (beta != 0) {
            x0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, row), x0);
            x1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, row + 16), x1);
            x2 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m2, row + 32), x2);
        }
        _mm512_mask_storeu_ps(row, m0, x0);
        _mm512_mask_storeu_ps(row + 16, m1, x1);
        _mm512_mask_storeu_ps(row + 32, m2, x2);
    }
}

int strata_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    if (m <= 0 || n <= 0) return 0;
    if (k <= 0 || alpha == 0) {
        for (long i = 0; i < m; i++)
            for (long j = 0; j < n; j++) c[i * ldc + j] = beta == 0 ? 0 : beta * c[i * ldc + j];
        return 0;
    }
    PackBuffers *buffers = thread_buffers();
    if (!buffers) return -1;
    long mp = (m + MR - 1) / MR * MR;
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        float b0 = pc == 0 ? beta : 1;
        float *ap = grow(&buffers->a, &buffers->na, (size_t)(mp * kc));
        if (!ap) return -1;
        pack_a(trans_a, a, lda, m, pc, kc, ap);
        for (long jc = 0; jc < n; jc += NC) {
            long nc = n - jc < NC ? n - jc : NC;
            float *bp = grow(&buffers->b, &buffers->nb, (size_t)((nc + NR - 1) / NR * NR * kc));
            if (!bp) return -1;
            pack_b(trans_b, b, ldb, pc, kc, jc, nc, bp);
            for (long i = 0; i < m; i += MR) {
                int rows = m - i < MR ? (int)(m - i) : MR;
                for (long j = 0; j < nc; j += NR) {
                    int cols = nc - j < NR ? (int)(nc - j) : NR;
                    kernel(kc, ap + i * kc, bp + j * kc, c + i * ldc + jc + j, ldc, alpha, b0, rows, cols);
                }
            }
        }
    }
    return 0;
}

#else

int strata_sgemm_supported(void) { return 0; }
int strata_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    return -1;
}

#endif
