// Strata's float32 GEMM: C = alpha·op(A)·op(B) + beta·C, row-major, single-threaded (the CPU backend
// splits work across threads itself), for AVX-512, for AVX2 + FMA and in portable C (any CPU), one
// algorithm (gemm_isa.h) compiled three times; the caller picks the instruction set (strata_isa_*).
//
// Why not OpenBLAS alone: on plain GEMMs this kernel is level with OpenBLAS 0.3.21's AVX-512 ones
// (200-240 GFLOP/s per core on the networks' shapes, of a 260 GFLOP/s peak on Zen 5; see
// tools/bench-gemm), but OpenBLAS's speed depends on which kernels it picks (OPENBLAS_CORETYPE;
// its AVX2 ones run at half the speed), and a BLAS cannot do the two things below.
//
// The design is the textbook one (Goto and van de Geijn; BLIS): for each block of KC along K, op(A)
// is packed into panels of MR rows and op(B), one panel at a time, into panels of NR columns, both
// zero-padded to full panels; a register-blocked micro-kernel multiplies one MR×KC panel by one
// KC×NR panel into MR×NR accumulators and masks the stores at the edges: AVX-512 8×48 (24 of the 32
// zmm registers), AVX2 6×16 (12 of the 16 ymm registers, BLIS's Haswell shape), portable C 4×16.
// A last panel of at most 4 rows (2 or 4 on AVX2) runs a kernel of that many rows instead of
// multiplying its zero padding: 3–5% on M = 32, 64 and 128, the networks' usual filter counts; on
// AVX2 the last 7 or 8 rows run as two such panels (panel_rows), not 6 rows and 1 or 2.
// With few rows and a transposed B (the fc layers at batch 32) the product is computed transposed
// with B read in place (gemm_swapped).
// For each NR-column panel of B the kernel runs over every row panel of A: the B panel (NR·KC
// floats, 24 KiB on AVX2), packed into the same buffer each time, stays in L1 while the packed A
// block streams from L2 (no row blocking: the networks' M is at most a few hundred). A plain B (not
// transposed, not grouped) is packed by the first of those kernel calls as it reads it (and it
// fetches the next panel's lines into L2), so the packing's loads, whose rows are far apart in
// memory, overlap that call's FMAs instead of running as a pass of their own: with M = 64 that
// pass took 20–30% of the time (AVX2, Zen 4).
//
// Two things a BLAS cannot do, for convolutions:
// - matrices with grouped columns (strata_matrix): the planes of several NCHW images read and
//   written in place as one wide matrix, so no copies into and out of scratch;
// - B packed straight from a convolution's input (strata_sgemm_conv): the im2col matrix is never
//   stored. On the Fashion-MNIST net this took training from ~2250 to ~2570 images/s.
#include "strata_gemm.h"
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define STRATA_X86 1
#include <immintrin.h>
#endif

enum { KC = 384 };

int strata_isa_supported(int isa) {
    if (isa == STRATA_ISA_GENERIC) return 1;
#ifdef STRATA_X86
    // Threads may race to fill these in; they all store the same values.
    static int avx2 = -1, avx512 = -1;
    if (__atomic_load_n(&avx2, __ATOMIC_RELAXED) < 0) {
        __builtin_cpu_init();
        __atomic_store_n(&avx512, __builtin_cpu_supports("avx512f") != 0, __ATOMIC_RELAXED);
        __atomic_store_n(&avx2, __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"), __ATOMIC_RELAXED);
    }
    if (isa == STRATA_ISA_AVX2) return __atomic_load_n(&avx2, __ATOMIC_RELAXED);
    if (isa == STRATA_ISA_AVX512) return __atomic_load_n(&avx512, __ATOMIC_RELAXED);
#endif
    return 0;
}

int strata_isa_best(void) {
    return strata_isa_supported(STRATA_ISA_AVX512) ? STRATA_ISA_AVX512 : strata_isa_supported(STRATA_ISA_AVX2) ? STRATA_ISA_AVX2 : STRATA_ISA_GENERIC;
}

/// Lanes [lo, hi) of `vl` as bits (none when hi <= lo); lo below 0 and hi above vl are clipped.
static inline unsigned strata_bits(int lo, int hi, int vl) {
    if (lo < 0) lo = 0;
    if (hi > vl) hi = vl;
    return hi <= lo ? 0u : ((1u << (hi - lo)) - 1) << lo;
}

// Per-thread packing buffers, grown on demand and freed when the thread exits.
typedef struct { float *a, *b, *x; size_t na, nb, nx; } PackBuffers;
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static void free_buffers(void *p) {
    PackBuffers *b = p;
    free(b->a); free(b->b); free(b->x); free(b);
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

// Offset of column `col` of a stored matrix from the start of its row.
static inline long column_offset(const strata_matrix *x, long col) {
    return x->group ? (col / x->group) * x->group_stride + col % x->group : col;
}

// Fills offsets[0..<count] with column_offset(x, first + t).
static void column_offsets(const strata_matrix *x, long first, long count, long *offsets) {
    if (!x->group) {
        for (long t = 0; t < count; t++) offsets[t] = first + t;
        return;
    }
    long g = first / x->group, within = first % x->group;
    for (long t = 0; t < count; t++) {
        offsets[t] = g * x->group_stride + within;
        if (++within == x->group) { within = 0; g++; }
    }
}

// A convolution's input copied with its zero padding written out (ph, pw become 0), plus 16 floats
// of slack on each side: the packers then load every run of the im2col matrix with a plain
// whole-vector load. Lanes before or past a run read other input values (or the slack), never
// outside the buffer, and are blended away or overwritten like the stores' own overhang. With a
// column stride sw > 1 each padded row is split into its sw phases (columns ≡ p mod sw), stored as
// sw planes of h × ⌈w/sw⌉: the input columns of consecutive outputs, ox·sw + jj, are then
// consecutive in phase jj mod sw, so a strided convolution's runs are contiguous too. Out: h, w
// the padded height and the phase width, each channel sw·h·w floats (channels of an image
// contiguous). Costs one pass over the input, where packing reads each input value about
// kh·kw/(sh·sw) times. Returns 0, or −1 without memory.
static int padded_input(const strata_conv_input *in, PackBuffers *buffers, strata_conv_input *out) {
    const int h = in->h + 2 * in->ph, wide = in->w + 2 * in->pw, sw = in->sw, w = (wide + sw - 1) / sw;
    const long phase = (long)h * w, plane = sw * phase, count = (long)in->images * in->channels * plane;
    float *slack = grow(&buffers->x, &buffers->nx, (size_t)count + 32);
    if (!slack) return -1;
    float *x = slack + 16;
    for (long t = 0; t < 16; t++) x[-1 - t] = x[count + t] = 0;
    for (int image = 0; image < in->images; image++) {
        for (int ci = 0; ci < in->channels; ci++) {
            const float *from = in->x + image * in->image_stride + (long)ci * in->h * in->w;
            float *to = x + ((long)image * in->channels + ci) * plane;
            if (in->ph || in->pw || w * sw != wide) memset(to, 0, sizeof(float) * (size_t)plane);
            for (int y = 0; y < in->h; y++) {
                const float *row = from + (long)y * in->w;
                if (sw == 1) {
                    memcpy(to + (long)(y + in->ph) * w + in->pw, row, sizeof(float) * (size_t)in->w);
                } else {
                    for (int t = 0; t < in->w; t++) {
                        int column = t + in->pw;
                        to[(column % sw) * phase + (long)(y + in->ph) * w + column / sw] = row[t];
                    }
                }
            }
        }
    }
    *out = *in;
    out->x = x;
    out->image_stride = (long)in->channels * plane;
    out->h = h;
    out->w = w;
    out->ph = 0;
    out->pw = 0;
    return 0;
}

// Where each row kk < kc of a padded convolution input's im2col matrix, row e = k0 + kk =
// (channel, window row i, window column jj), starts in the input: window column jj is in phase
// jj mod sw, jj / sw columns along (padded_input).
static void conv_row_offsets(const strata_conv_input *in, long k0, long kc, long *offsets) {
    const long phase = (long)in->h * in->w, plane = in->sw * phase;
    const int window = in->kh * in->kw;
    int ci = (int)(k0 / window), i = (int)(k0 % window) / in->kw, jj = (int)(k0 % window) % in->kw;
    for (long kk = 0; kk < kc; kk++) {
        offsets[kk] = ci * plane + (jj % in->sw) * phase + (long)i * in->w + jj / in->sw;
        if (++jj == in->kw) { jj = 0; if (++i == in->kh) { i = 0; ci++; } }
    }
}

// The same for the transpose (stride 1): row q = k0 + kk is the position (image, oy, ox).
static void conv_position_offsets(const strata_conv_input *in, long k0, long kc, long *offsets) {
    const long positions = (long)in->oh * in->ow;
    long image = k0 / positions;
    int oy = (int)(k0 % positions) / in->ow, ox = (int)(k0 % positions) % in->ow;
    for (long kk = 0; kk < kc; kk++) {
        offsets[kk] = image * in->image_stride + (long)oy * in->w + ox;
        if (++ox == in->ow) { ox = 0; if (++oy == in->oh) { oy = 0; image++; } }
    }
}

// Where the micro-kernel reads its A panel from (gemm_isa.h: kernel_rows).
enum { A_PACKED, A_ROWS };

// Where the packed panels of op(B) come from: a stored matrix, or a convolution's input read as
// its im2col matrix (or that matrix transposed) without storing it.
typedef struct {
    int trans;
    const strata_matrix *matrix;
    const strata_conv_input *conv;
} BSource;

#ifdef STRATA_X86
// Transposes 8 rows of 8 floats in place: v[k][r] = old v[r][k] (AVX, for both vector paths'
// packing of A).
static inline __attribute__((target("avx2"), always_inline)) void transpose8(__m256 v[8]) {
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xee);
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int q = 0; q < 4; q++) {
        v[q] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x20);
        v[q + 4] = _mm256_permute2f128_ps(s[q], s[q + 4], 0x31);
    }
}

// ---- AVX-512 ----
#define PORTABLE 0
#define ISA(name) name##_avx512
#define TARGET __attribute__((target("avx512f")))
#define MR 8
#define NR 48
#define SWAP_M 48
#define EDGE_SMALL 0
#define EDGE_LARGE 4
#define SPLIT_EDGE 0
#define VL 16
#define vec __m512
#define V_ZERO() _mm512_setzero_ps()
#define V_SET1(x) _mm512_set1_ps(x)
#define V_LOAD(p) _mm512_load_ps(p)
#define V_LOADU(p) _mm512_loadu_ps(p)
#define V_STORE(p, v) _mm512_store_ps(p, v)
#define V_STOREU(p, v) _mm512_storeu_ps(p, v)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_FMADD(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_MASKZ_LOADU(bits, p) _mm512_maskz_loadu_ps((__mmask16)(bits), p)
#define V_MASK_STOREU(bits, p, v) _mm512_mask_storeu_ps(p, (__mmask16)(bits), v)
#define vmask __mmask16
#define V_MASK(bits) ((__mmask16)(bits))
#define V_BLEND_LOADU(acc, mask, p) _mm512_mask_loadu_ps(acc, mask, p)

static inline void TARGET transpose_block_avx512(const float *in, long ld, long rows, float *out) {
    __m512 r[16], t[16];
    for (int c = 0; c < 16; c++) r[c] = c < rows ? _mm512_loadu_ps(in + c * ld) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
        r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xee);
        r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xee);
    }
    for (int i = 0; i < 16; i += 8) {
        for (int q = 0; q < 4; q++) {
            t[i + q] = _mm512_shuffle_f32x4(r[i + q], r[i + q + 4], 0x88);
            t[i + q + 4] = _mm512_shuffle_f32x4(r[i + q], r[i + q + 4], 0xdd);
        }
    }
    for (int q = 0; q < 8; q++) {
        r[q] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0x88);
        r[q + 8] = _mm512_shuffle_f32x4(t[q], t[q + 8], 0xdd);
    }
    for (int k = 0; k < 16; k++) _mm512_store_ps(out + k * NR, r[k]);
}
#include "gemm_isa.h"

// ---- AVX2 + FMA ----
#define PORTABLE 0
#define ISA(name) name##_avx2
#define TARGET __attribute__((target("avx2,fma")))
#define MR 6
#define NR 16
#define SWAP_M 32
#define EDGE_SMALL 2
#define EDGE_LARGE 4
#define SPLIT_EDGE 1
#define VL 8
#define vec __m256
#define V_ZERO() _mm256_setzero_ps()
#define V_SET1(x) _mm256_set1_ps(x)
#define V_LOAD(p) _mm256_load_ps(p)
#define V_LOADU(p) _mm256_loadu_ps(p)
#define V_STORE(p, v) _mm256_store_ps(p, v)
#define V_STOREU(p, v) _mm256_storeu_ps(p, v)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_FMADD(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_MASKZ_LOADU(bits, p) _mm256_maskload_ps(p, mask_avx2(bits))
#define V_MASK_STOREU(bits, p, v) _mm256_maskstore_ps(p, mask_avx2(bits), v)
#define vmask __m256
#define V_MASK(bits) _mm256_castsi256_ps(mask_avx2(bits))
#define V_BLEND_LOADU(acc, mask, p) _mm256_blendv_ps(acc, _mm256_loadu_ps(p), mask)

// Lane i of the mask is all ones where bit i of `bits` is set (masked loads do not read other lanes).
static inline __m256i TARGET mask_avx2(unsigned bits) {
    const __m256i lane_bits = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), lane_bits), lane_bits);
}

static inline void TARGET transpose_block_avx2(const float *in, long ld, long rows, float *out) {
    __m256 r[8];
    for (int c = 0; c < 8; c++) r[c] = c < rows ? _mm256_loadu_ps(in + c * ld) : _mm256_setzero_ps();
    transpose8(r);
    for (int k = 0; k < 8; k++) _mm256_storeu_ps(out + k * NR, r[k]);
}
#include "gemm_isa.h"
#endif

// ---- portable C (vector extensions the compiler lowers to whatever the CPU has) ----
// The 8-float vectors stay inside this file (static functions, inlined), so the ABI note about
// passing them without AVX does not apply.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float vec8 __attribute__((vector_size(32)));
static inline vec8 g_set1(float x) { vec8 v = {x, x, x, x, x, x, x, x}; return v; }
static inline vec8 g_loadu(const float *p) { vec8 v; memcpy(&v, p, sizeof v); return v; }
static inline void g_storeu(float *p, vec8 v) { memcpy(p, &v, sizeof v); }
static inline vec8 g_maskz_loadu(unsigned bits, const float *p) {
    vec8 v = {0};
    for (int i = 0; i < 8; i++) if (bits >> i & 1) v[i] = p[i];
    return v;
}
static inline void g_mask_storeu(unsigned bits, float *p, vec8 v) {
    for (int i = 0; i < 8; i++) if (bits >> i & 1) p[i] = v[i];
}
#define PORTABLE 1
#define ISA(name) name##_generic
#define TARGET
#define MR 4
#define NR 16
#define SWAP_M 0
#define EDGE_SMALL 0
#define EDGE_LARGE 0
#define SPLIT_EDGE 0
#define VL 8
#define vec vec8
#define V_ZERO() g_set1(0)
#define V_SET1(x) g_set1(x)
#define V_LOAD(p) g_loadu(p)
#define V_LOADU(p) g_loadu(p)
#define V_STORE(p, v) g_storeu(p, v)
#define V_STOREU(p, v) g_storeu(p, v)
#define V_MUL(a, b) ((a) * (b))
#define V_FMADD(a, b, c) ((a) * (b) + (c))
#define V_MASKZ_LOADU(bits, p) g_maskz_loadu(bits, p)
#define V_MASK_STOREU(bits, p, v) g_mask_storeu(bits, p, v)
static inline void transpose_block_generic(const float *in, long ld, long rows, float *out) {
    for (int k = 0; k < 8; k++)
        for (int c = 0; c < 8; c++) out[k * NR + c] = c < rows ? in[c * ld + k] : 0;
}
#include "gemm_isa.h"
#pragma GCC diagnostic pop

static int gemm(int isa, int trans_a, long m, long n, long k, float alpha, const strata_matrix *a, BSource b,
                float beta, const strata_matrix *c) {
    if (!strata_isa_supported(isa)) return -1;
#ifdef STRATA_X86
    if (isa == STRATA_ISA_AVX512) return gemm_avx512(trans_a, m, n, k, alpha, a, b, beta, c);
    if (isa == STRATA_ISA_AVX2) return gemm_avx2(trans_a, m, n, k, alpha, a, b, beta, c);
#endif
    return gemm_generic(trans_a, m, n, k, alpha, a, b, beta, c);
}

int strata_sgemm_grouped(int isa, int trans_a, int trans_b, long m, long n, long k, float alpha, strata_matrix a,
                         strata_matrix b, float beta, strata_matrix c) {
    return gemm(isa, trans_a, m, n, k, alpha, &a, (BSource){trans_b, &b, NULL}, beta, &c);
}

int strata_sgemm_conv(int isa, int trans_b, long m, long n, long k, float alpha, strata_matrix a, strata_conv_input b,
                      float beta, strata_matrix c) {
    // Strides other than 1: forward only (the transposed packer's runs follow window columns, which
    // a stride puts in different phases).
    if (b.sh < 1 || b.sw < 1 || (trans_b && (b.sh != 1 || b.sw != 1)) || b.ph < 0 || b.pw < 0 || b.kh < 1 || b.kw < 1 ||
        b.oh < 1 || b.ow < 1 || b.oh > (b.h + 2 * b.ph - b.kh) / b.sh + 1 || b.ow > (b.w + 2 * b.pw - b.kw) / b.sw + 1) return -1;
    long depth = (long)b.channels * b.kh * b.kw, positions = (long)b.images * b.oh * b.ow;
    if (trans_b ? (k != positions || n != depth) : (k != depth || n != positions)) return -1;
    return gemm(isa, 0, m, n, k, alpha, &a, (BSource){trans_b, NULL, &b}, beta, &c);
}

int strata_sgemm(int isa, int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    return strata_sgemm_grouped(isa, trans_a, trans_b, m, n, k, alpha, (strata_matrix){(float *)a, lda, 0, 0},
                                (strata_matrix){(float *)b, ldb, 0, 0}, beta, (strata_matrix){c, ldc, 0, 0});
}
