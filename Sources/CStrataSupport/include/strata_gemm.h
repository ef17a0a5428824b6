#ifndef STRATA_GEMM_H
#define STRATA_GEMM_H
// Strata's float32 GEMM (gemm.c), with what convolutions need beyond a BLAS, for three instruction
// sets. Every function takes the one to use first.

/// The instruction sets: portable C (any CPU), AVX2 + FMA, AVX-512F.
enum { STRATA_ISA_GENERIC = 0, STRATA_ISA_AVX2 = 1, STRATA_ISA_AVX512 = 2 };

/// Whether this CPU runs `isa` (portable C always).
int strata_isa_supported(int isa);
/// The fastest instruction set this CPU runs.
int strata_isa_best(void);

/// C = alpha·op(A)·op(B) + beta·C, row-major like cblas_sgemm(CblasRowMajor, ...): op(A) is m×k,
/// op(B) k×n, C m×n; C is not read when beta is 0. Single-threaded; safe to call from several
/// threads at once (each has its own packing buffers). Returns 0, or −1 when it cannot run
/// (the CPU lacks `isa`, or no memory for the packing buffers) and has written nothing.
int strata_sgemm(int isa, int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc);

/// A row-major matrix whose columns may come in groups stored apart: element (r, c) is at
/// data[r·ld + (c / group)·group_stride + c % group]. group 0: one group, a plain matrix.
/// Groups must not overlap or run backwards: group_stride >= group.
/// Example: the outputs of B images of one conv layer, read as one (filters × B·positions) matrix
/// straight from NCHW memory: ld = positions, group = positions, group_stride = filters·positions.
typedef struct {
    float *data;
    long ld, group, group_stride;
} strata_matrix;

/// strata_sgemm on matrices with grouped columns (A and B are only read).
int strata_sgemm_grouped(int isa, int trans_a, int trans_b, long m, long n, long k, float alpha, strata_matrix a,
                         strata_matrix b, float beta, strata_matrix c);

/// A convolution's input, read as its im2col matrix: row e = (channel, window row, window column)
/// of `channels`·kh·kw rows, column q = (image, oy, ox) of `images`·oh·ow columns. `x` points at
/// the first channel of the group in the first image; images are `image_stride` floats apart and
/// channels h·w. Zero outside the plane (padding ph, pw).
typedef struct {
    const float *x;
    long image_stride;
    int images, channels, h, w, kh, kw, sh, sw, ph, pw, oh, ow;
} strata_conv_input;

/// strata_sgemm_grouped with op(B) the im2col matrix of `b` (trans_b 0: k = depth rows, n = columns)
/// or its transpose (trans_b 1), packed straight from the input and never stored. Returns −1,
/// having done nothing, where it does not apply: the transpose with strides other than 1, an output
/// larger than the padded input allows, or m, n, k that do not fit `b`. Copies the input once into
/// a per-thread buffer, padding written out and, for a column stride s > 1, each row split into its
/// s column phases (that is what lets every run of the im2col matrix be one plain load).
int strata_sgemm_conv(int isa, int trans_b, long m, long n, long k, float alpha, strata_matrix a, strata_conv_input b,
                      float beta, strata_matrix c);

#endif
