#ifndef STRATA_KERNELS_H
#define STRATA_KERNELS_H
// The float32 inner loops of the CPU backend, in C so that the compiler vectorises them (Swift
// left these scalar). Each loops over one plane, one row or one buffer; threading, shapes and
// the float64 reference versions stay in Swift (StrataCPU/Layers). Layout: NCHW.
#include <stdint.h>

/// y[i] = max(x[i], 0); x may equal y.
void strata_relu_f32(const float *x, float *y, long n);
/// dx[i] = y[i] <= 0 ? 0 : dy[i] (NaN passes); dx may equal dy.
void strata_relu_backward_f32(const float *dy, const float *y, float *dx, long n);
/// row[i] += bias, then max(·, 0) when relu is set.
void strata_bias_activation_f32(float *row, float bias, long n, int relu);
/// Sum of a row.
float strata_sum_f32(const float *x, long n);
/// y[i] = x[i] * m[i].
void strata_multiply_f32(const float *x, const float *m, float *y, long n);
/// SGD with momentum and weight decay: v = m·v − decay·w − lr·g; w += v (decay = weight_decay·lr).
void strata_sgd_f32(float *w, const float *g, float *v, long n, float lr, float momentum, float decay);

/// One channel plane (h, w) → columns: kh·kw rows of oh·ow values (zeros where the window is in the
/// padding), consecutive rows `row_stride` floats apart (oh·ow, or more when images share a row).
void strata_im2col_plane_f32(const float *plane, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                             int oh, int ow, float *columns, long row_stride);
/// The adjoint: adds kh·kw rows of oh·ow values back into one plane.
void strata_col2im_plane_f32(const float *columns, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                             int oh, int ow, float *plane, long row_stride);

/// Max pooling of one plane; switches[q] = index in the plane of the winner (−1 for an empty window).
/// `isa` (STRATA_ISA_*, strata_gemm.h) picks the hand-vectorised loop: AVX-512, AVX2, or portable C
/// (the compiler's vectorisation); an instruction set the CPU lacks runs the portable loop.
void strata_maxpool_plane_f32(int isa, const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                              int oh, int ow, float *y, int32_t *switches);
/// Average pooling of one plane; padding counts as zeros in the divisor.
void strata_avgpool_plane_f32(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                              int oh, int ow, float *y);
/// Its adjoint (dx is overwritten).
void strata_avgpool_backward_plane_f32(const float *dy, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                       int oh, int ow, float *dx);

/// LRN of one image (c planes of hw): y = x·(k + alpha·Σ_window x²)^−beta; scale (optional) gets the denominators.
/// work: hw floats.
void strata_lrn_forward_f32(const float *x, int c, long hw, int size, float alpha, float beta, float k,
                            float *y, float *scale, float *work);
/// Its gradient for one image. work: (c + 1)·hw floats.
void strata_lrn_backward_f32(const float *dy, const float *x, const float *y, const float *scale, int c, long hw,
                             int size, float alpha, float beta, float *dx, float *work);

#endif
