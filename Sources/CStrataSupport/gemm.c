// Strata's float32 GEMM for x86-64 CPUs with AVX-512: C = alpha·op(A)·op(B) + beta·C, row-major,
// single-threaded (the CPU backend splits work across threads itself).
//
// Why not OpenBLAS alone: on plain GEMMs this kernel is level with OpenBLAS 0.3.21's AVX-512 ones
// (200-240 GFLOP/s per core on the networks' shapes, of a 260 GFLOP/s peak on Zen 5; see
// tools/bench-gemm), but OpenBLAS's speed depends on which kernels it picks (OPENBLAS_CORETYPE;
// its AVX2 ones run at half the speed), and a BLAS cannot do the two things below.
//
// The design is the textbook one (Goto and van de Geijn; BLIS): for each block of KC along K, op(A)
// is packed into panels of MR rows and op(B), NC columns at a time, into panels of NR columns, both
// zero-padded to full panels; a register-blocked micro-kernel multiplies one MR×KC panel by one
// KC×NR panel into MR×NR accumulators (24 of the 32 zmm registers) and masks the stores at the edges.
// The packed A panel (MR·KC floats, 12 KiB) stays in L1 while the kernel sweeps the packed B block
// (KC·NC floats, 720 KiB) from L2.
//
// Two things a BLAS cannot do, for convolutions:
// - matrices with grouped columns (strata_matrix): the planes of several NCHW images read and
//   written in place as one wide matrix, so no copies into and out of scratch;
// - B packed straight from a convolution's input (strata_sgemm_conv): the im2col matrix is never
//   stored. On the Fashion-MNIST net this took training from ~2250 to ~2570 images/s.
#include "strata_gemm.h"
#include "avx512.h"
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#include <pthread.h>

enum { MR = 8, NR = 48, KC = 384, NC = 480 };
// The packers' mask tables: windows of up to 16×16, outputs of up to 128×128 (larger: explicit im2col).
enum { STRATA_CONV_MAX_WINDOW = 256, STRATA_CONV_MAX_OUTPUT = 128 };

int strata_sgemm_supported(void) { return strata_cpu_has_avx512(); }

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

// Ap[panel][k][r] = op(A)[panel·MR + r][k0 + k] for all m rows, zero rows past m.
static void STRATA_AVX512 pack_a(int trans, const strata_matrix *a, long m, long k0, long kc, float *ap, long *offsets) {
    if (!trans) column_offsets(a, k0, kc, offsets);
    for (long i = 0; i < m; i += MR, ap += MR * kc) {
        long rows = m - i < MR ? m - i : MR;
        if (!trans) {
            const float *src = a->data + i * a->ld;
            for (long k = 0; k < kc; k++) {
                const float *s = src + offsets[k];
                for (int r = 0; r < MR; r++) ap[k * MR + r] = r < rows ? s[r * a->ld] : 0;
            }
        } else {
            long row_offsets[MR];
            column_offsets(a, i, rows, row_offsets);
            const float *src = a->data + k0 * a->ld;
            if (rows == MR && row_offsets[MR - 1] == row_offsets[0] + MR - 1) {
                for (long k = 0; k < kc; k++) memcpy(ap + k * MR, src + k * a->ld + row_offsets[0], MR * sizeof(float));
            } else {
                for (long k = 0; k < kc; k++) {
                    const float *s = src + k * a->ld;
                    for (int r = 0; r < MR; r++) ap[k * MR + r] = r < rows ? s[row_offsets[r]] : 0;
                }
            }
        }
    }
}

// out[k·NR + c] = in[c·ld + k] for a 16×16 block (k, c < 16), rows c ≥ rows read as zeros.
static inline void STRATA_AVX512 transpose_block(const float *in, long ld, long rows, float *out) {
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

// Bp[panel][k][c] = op(B)[k0 + k][j0 + panel·NR + c] for n columns, zero columns past n.
static void STRATA_AVX512 pack_b(int trans, const strata_matrix *b, long k0, long kc, long j0, long n, float *bp, long *offsets) {
    if (trans) column_offsets(b, k0, kc, offsets);
    for (long j = 0; j < n; j += NR, bp += NR * kc) {
        long cols = n - j < NR ? n - j : NR;
        if (!trans) {
            // Runs of columns that are contiguous in memory, each copied with one memcpy per row.
            long col_offsets[NR], run_start[NR + 1], runs = 0;
            column_offsets(b, j0 + j, cols, col_offsets);
            for (long c = 0; c < cols; c++)
                if (c == 0 || col_offsets[c] != col_offsets[c - 1] + 1) run_start[runs++] = c;
            run_start[runs] = cols;
            const float *src = b->data + k0 * b->ld;
            if (runs == 1 && cols == NR) {
                for (long k = 0; k < kc; k++) {
                    const float *row = src + k * b->ld + col_offsets[0];
                    _mm512_store_ps(bp + k * NR, _mm512_loadu_ps(row));
                    _mm512_store_ps(bp + k * NR + 16, _mm512_loadu_ps(row + 16));
                    _mm512_store_ps(bp + k * NR + 32, _mm512_loadu_ps(row + 32));
                }
                continue;
            }
            for (long k = 0; k < kc; k++) {
                const float *row = src + k * b->ld;
                float *out = bp + k * NR;
                for (long r = 0; r < runs; r++) {
                    const float *from = row + col_offsets[run_start[r]];
                    for (long t = run_start[r]; t < run_start[r + 1]; t++) out[t] = *from++;
                }
                for (long t = cols; t < NR; t++) out[t] = 0;
            }
        } else {
            const float *src = b->data + (j0 + j) * b->ld;
            long k = 0;
            // Blocks of 16 k along a contiguous stretch: 16×16 transposes in registers.
            for (; k + 16 <= kc; k += 16) {
                if (offsets[k + 15] != offsets[k] + 15) break;
                for (long c = 0; c < NR; c += 16) transpose_block(src + c * b->ld + offsets[k], b->ld, cols - c, bp + k * NR + c);
            }
            for (long c = 0; c < cols; c++) {
                const float *s = src + c * b->ld;
                for (long t = k; t < kc; t++) bp[t * NR + c] = s[offsets[t]];
            }
            for (long c = cols; c < NR; c++)
                for (long t = k; t < kc; t++) bp[t * NR + c] = 0;
        }
    }
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
    __mmask16 m0 = strata_lanes(0, cols), m1 = strata_lanes(0, cols - 16), m2 = strata_lanes(0, cols - 32);
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

// Writes an MR×NR tile computed with alpha applied and beta 0 (tile, row stride NR) into C's
// grouped columns j.., applying beta.
static void STRATA_AVX512 scatter(const float *tile, const strata_matrix *c, long i, long j, int rows, int cols, float beta) {
    long offsets[NR], run_start[NR + 1], runs = 0;
    column_offsets(c, j, cols, offsets);
    for (long t = 0; t < cols; t++)
        if (t == 0 || offsets[t] != offsets[t - 1] + 1) run_start[runs++] = t;
    run_start[runs] = cols;
    for (int r = 0; r < rows; r++) {
        float *row = c->data + (i + r) * c->ld;
        const float *in = tile + r * NR;
        for (long q = 0; q < runs; q++) {
            float *out = row + offsets[run_start[q]];
            long first = run_start[q], count = run_start[q + 1] - first;
            if (beta == 0) {
                for (long t = 0; t < count; t++) out[t] = in[first + t];
            } else {
                for (long t = 0; t < count; t++) out[t] = in[first + t] + beta * out[t];
            }
        }
    }
}

// Where the packed panels of op(B) come from: a stored matrix, or a convolution's input read as
// its im2col matrix (or that matrix transposed) without storing it.
typedef struct {
    int trans;
    const strata_matrix *matrix;
    const strata_conv_input *conv;
} BSource;

static void pack_b_conv(const strata_conv_input *in, long k0, long kc, long j0, long n, float *bp);
static void pack_b_conv_transposed(const strata_conv_input *in, long k0, long kc, long j0, long n, float *bp);

static int gemm(int trans_a, long m, long n, long k, float alpha, const strata_matrix *a, BSource b,
                float beta, const strata_matrix *c) {
    if (m <= 0 || n <= 0) return 0;
    if (!strata_sgemm_supported()) return -1;
    if (k <= 0 || alpha == 0) {
        long offsets[NR];
        for (long j = 0; j < n; j += NR) {
            long cols = n - j < NR ? n - j : NR;
            column_offsets(c, j, cols, offsets);
            for (long i = 0; i < m; i++)
                for (long t = 0; t < cols; t++) {
                    float *out = c->data + i * c->ld + offsets[t];
                    *out = beta == 0 ? 0 : beta * *out;
                }
        }
        return 0;
    }
    PackBuffers *buffers = thread_buffers();
    if (!buffers) return -1;
    long offsets[KC];
    float tile[MR * NR] __attribute__((aligned(64)));
    long mp = (m + MR - 1) / MR * MR;
    for (long pc = 0; pc < k; pc += KC) {
        long kc = k - pc < KC ? k - pc : KC;
        float b0 = pc == 0 ? beta : 1;
        float *ap = grow(&buffers->a, &buffers->na, (size_t)(mp * kc));
        if (!ap) return -1;
        pack_a(trans_a, a, m, pc, kc, ap, offsets);
        for (long jc = 0; jc < n; jc += NC) {
            long nc = n - jc < NC ? n - jc : NC;
            // 16 floats of slack: the convolution packers store whole vectors past a panel's last row.
            float *bp = grow(&buffers->b, &buffers->nb, (size_t)((nc + NR - 1) / NR * NR * kc + 16));
            if (!bp) return -1;
            if (b.conv && !b.trans) pack_b_conv(b.conv, pc, kc, jc, nc, bp);
            else if (b.conv) pack_b_conv_transposed(b.conv, pc, kc, jc, nc, bp);
            else pack_b(b.trans, b.matrix, pc, kc, jc, nc, bp, offsets);
            for (long j = 0; j < nc; j += NR) {
                int cols = nc - j < NR ? (int)(nc - j) : NR;
                long first = jc + j;
                // The panel's columns are contiguous in C unless they cross a group boundary.
                int direct = !c->group || first / c->group == (first + cols - 1) / c->group;
                float *cj = c->data + column_offset(c, first);
                for (long i = 0; i < m; i += MR) {
                    int rows = m - i < MR ? (int)(m - i) : MR;
                    if (direct) {
                        kernel(kc, ap + i * kc, bp + j * kc, cj + i * c->ld, c->ld, alpha, b0, rows, cols);
                    } else {
                        kernel(kc, ap + i * kc, bp + j * kc, tile, NR, alpha, 0, rows, cols);
                        scatter(tile, c, i, first, rows, cols, b0);
                    }
                }
            }
        }
    }
    return 0;
}

int strata_sgemm_grouped(int trans_a, int trans_b, long m, long n, long k, float alpha, strata_matrix a,
                         strata_matrix b, float beta, strata_matrix c) {
    return gemm(trans_a, m, n, k, alpha, &a, (BSource){trans_b, &b, NULL}, beta, &c);
}

int strata_sgemm_conv(int trans_b, long m, long n, long k, float alpha, strata_matrix a, strata_conv_input b,
                      float beta, strata_matrix c) {
    if (b.sh != 1 || b.sw != 1 || b.kh * b.kw > STRATA_CONV_MAX_WINDOW || b.oh > STRATA_CONV_MAX_OUTPUT ||
        b.ow > STRATA_CONV_MAX_OUTPUT) return -1;
    long depth = (long)b.channels * b.kh * b.kw, positions = (long)b.images * b.oh * b.ow;
    if (trans_b ? (k != positions || n != depth) : (k != depth || n != positions)) return -1;
    return gemm(0, m, n, k, alpha, &a, (BSource){trans_b, NULL, &b}, beta, &c);
}

// Im2col, packed: Bp[panel][kk][c] = col[k0 + kk][j0 + panel·NR + c], where col's row e is
// (channel, window row i, window column jj) and its column q is (image, oy, ox). Stride 1 only.
// The NR columns of a panel fall into runs that share an image and an output row; along a run the
// input is contiguous, so each run of each row is one masked load and one store. The masks (which
// lanes are inside the plane) depend on the run and on (i, jj) only, so they are made once per
// panel. Stores are whole vectors: what they write past a run is overwritten by the next run, the
// next row or the zero padding, and the buffer has 16 floats of slack after the last row.
static void STRATA_AVX512 pack_b_conv(const strata_conv_input *in, long k0, long kc, long j0, long n, float *bp) {
    const long plane = (long)in->h * in->w, positions = (long)in->oh * in->ow;
    const int window = in->kh * in->kw;
    __mmask16 masks[STRATA_CONV_MAX_WINDOW][NR];  // [i·kw + jj][run]
    for (long jp = 0; jp < n; jp += NR, bp += NR * kc) {
        int cols = n - jp < NR ? (int)(n - jp) : NR;
        // Runs of at most 16 columns: destination column and input offset of (image, oy − ph, ox − pw).
        int run_col[NR], runs = 0;
        long run_base[NR];
        for (int c = 0; c < cols;) {
            long q = j0 + jp + c, image = q / positions, within = q % positions;
            int oy = (int)(within / in->ow), ox = (int)(within % in->ow);
            int len = in->ow - ox;
            if (len > cols - c) len = cols - c;
            if (len > 16) len = 16;
            for (int i = 0; i < in->kh; i++) {
                int iy = oy - in->ph + i;
                for (int jj = 0; jj < in->kw; jj++) {
                    int ix = ox - in->pw + jj;
                    masks[i * in->kw + jj][runs] = iy >= 0 && iy < in->h ? strata_lanes(-ix, in->w - ix) & strata_lanes(0, len) : 0;
                }
            }
            run_col[runs] = c;
            run_base[runs] = image * in->image_stride + (long)(oy - in->ph) * in->w + (ox - in->pw);
            runs++;
            c += len;
        }
        long e = k0;
        int ci = (int)(e / window), ij = (int)(e % window), i = ij / in->kw, jj = ij % in->kw;
        for (long kk = 0; kk < kc; kk++) {
            float *row = bp + kk * NR;
            const float *src = in->x + ci * plane + (long)i * in->w + jj;
            const __mmask16 *mask = masks[ij];
            for (int r = 0; r < runs; r++)
                _mm512_storeu_ps(row + run_col[r], _mm512_maskz_loadu_ps(mask[r], src + run_base[r]));
            if (cols < NR) for (int c = cols; c < NR; c += 16) _mm512_storeu_ps(row + c, _mm512_setzero_ps());
            ij++;
            if (++jj == in->kw) { jj = 0; if (++i == in->kh) { i = 0; ij = 0; ci++; } }
        }
    }
}

// The transpose: Bp[panel][kk][c] = col[j0 + panel·NR + c][k0 + kk], the GEMM's K running over
// positions and its N over col's rows. A panel's NR rows of col fall into runs of one channel and
// window row (at most kw long); along a run the input is contiguous. The masks depend on the run
// and the position (oy, ox) only, so they are made once per panel.
static void STRATA_AVX512 pack_b_conv_transposed(const strata_conv_input *in, long k0, long kc, long j0, long n, float *bp) {
    const long plane = (long)in->h * in->w, positions = (long)in->oh * in->ow;
    const int window = in->kh * in->kw;
    __mmask16 row_masks[STRATA_CONV_MAX_OUTPUT][NR], column_masks[STRATA_CONV_MAX_OUTPUT][NR];  // [oy][run], [ox][run]
    for (long jp = 0; jp < n; jp += NR, bp += NR * kc) {
        int cols = n - jp < NR ? (int)(n - jp) : NR;
        // Runs: destination column and input offset of (channel, i, jj).
        int run_col[NR], runs = 0;
        long run_base[NR];
        for (int c = 0; c < cols;) {
            long e = j0 + jp + c;
            int ci = (int)(e / window), i = (int)(e % window) / in->kw, jj = (int)(e % window) % in->kw;
            int len = in->kw - jj;
            if (len > cols - c) len = cols - c;
            if (len > 16) len = 16;
            for (int oy = 0; oy < in->oh; oy++) {
                int iy = oy - in->ph + i;
                row_masks[oy][runs] = iy >= 0 && iy < in->h ? 0xffff : 0;
            }
            for (int ox = 0; ox < in->ow; ox++) {
                int ix = ox - in->pw + jj;
                column_masks[ox][runs] = strata_lanes(-ix, in->w - ix) & strata_lanes(0, len);
            }
            run_col[runs] = c;
            run_base[runs] = ci * plane + (long)i * in->w + jj;
            runs++;
            c += len;
        }
        long q = k0;
        long image = q / positions;
        int oy = (int)(q % positions) / in->ow, ox = (int)(q % positions) % in->ow;
        for (long kk = 0; kk < kc; kk++) {
            float *row = bp + kk * NR;
            const float *src = in->x + image * in->image_stride + (long)(oy - in->ph) * in->w + (ox - in->pw);
            const __mmask16 *row_mask = row_masks[oy], *column_mask = column_masks[ox];
            for (int r = 0; r < runs; r++)
                _mm512_storeu_ps(row + run_col[r], _mm512_maskz_loadu_ps(row_mask[r] & column_mask[r], src + run_base[r]));
            if (cols < NR) for (int c = cols; c < NR; c += 16) _mm512_storeu_ps(row + c, _mm512_setzero_ps());
            if (++ox == in->ow) { ox = 0; if (++oy == in->oh) { oy = 0; image++; } }
        }
    }
}

int strata_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    return strata_sgemm_grouped(trans_a, trans_b, m, n, k, alpha, (strata_matrix){(float *)a, lda, 0, 0},
                                (strata_matrix){(float *)b, ldb, 0, 0}, beta, (strata_matrix){c, ldc, 0, 0});
}

#else

int strata_sgemm_supported(void) { return strata_cpu_has_avx512(); }
int strata_sgemm_grouped(int trans_a, int trans_b, long m, long n, long k, float alpha, strata_matrix a,
                         strata_matrix b, float beta, strata_matrix c) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)b; (void)beta; (void)c;
    return -1;
}
int strata_sgemm_conv(int trans_b, long m, long n, long k, float alpha, strata_matrix a, strata_conv_input b,
                      float beta, strata_matrix c) {
    (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)b; (void)beta; (void)c;
    return -1;
}
int strata_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc) {
    (void)trans_a; (void)trans_b; (void)m; (void)n; (void)k; (void)alpha; (void)a; (void)lda;
    (void)b; (void)ldb; (void)beta; (void)c; (void)ldc;
    return -1;
}

#endif
