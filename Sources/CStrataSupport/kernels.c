#include "strata_kernels.h"
#include "avx512.h"
#include "strata_gemm.h"
#include <math.h>
#include <string.h>

/* On x86-64, hot loops are compiled twice, for AVX2 and for the baseline, and the loader picks one
   (GNU ifunc), so the binary still runs on any x86-64 machine. */
#if defined(__x86_64__) && defined(__linux__)
#define STRATA_VECTOR __attribute__((target_clones("avx2", "default")))
#else
#define STRATA_VECTOR
#endif

STRATA_VECTOR void strata_relu_f32(const float *x, float *y, long n) {
    /* x < 0 ? 0 : x, so NaN passes through as IEEE arithmetic (and PyTorch) would have it. */
    for (long i = 0; i < n; i++) y[i] = x[i] < 0.0f ? 0.0f : x[i];
}

STRATA_VECTOR void strata_relu_backward_f32(const float *dy, const float *y, float *dx, long n) {
    /* Both loads unconditional, so the select vectorises. */
    for (long i = 0; i < n; i++) { float g = dy[i]; dx[i] = y[i] <= 0.0f ? 0.0f : g; }
}

STRATA_VECTOR void strata_bias_activation_f32(float *row, float bias, long n, int relu) {
    if (relu) {
        for (long i = 0; i < n; i++) { float v = row[i] + bias; row[i] = v < 0.0f ? 0.0f : v; }
    } else if (bias != 0.0f) {
        for (long i = 0; i < n; i++) row[i] += bias;
    }
}

STRATA_VECTOR float strata_sum_f32(const float *x, long n) {
    // Eight partial sums: vectorisable without -ffast-math, and more accurate than one.
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    long i = 0;
    for (; i + 8 <= n; i += 8) for (int j = 0; j < 8; j++) s[j] += x[i + j];
    float total = 0;
    for (; i < n; i++) total += x[i];
    for (int j = 0; j < 8; j++) total += s[j];
    return total;
}

STRATA_VECTOR void strata_multiply_f32(const float *x, const float *m, float *y, long n) {
    for (long i = 0; i < n; i++) y[i] = x[i] * m[i];
}

STRATA_VECTOR void strata_sgd_f32(float *restrict w, const float *restrict g, float *restrict v, long n, float lr, float momentum, float decay) {
    for (long i = 0; i < n; i++) {
        float step = momentum * v[i] - decay * w[i] - lr * g[i];
        v[i] = step;
        w[i] += step;
    }
}

void strata_im2col_plane_f32(const float *restrict plane, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                             int oh, int ow, float *restrict col, long row_stride) {
    for (int i = 0; i < kh; i++) {
        for (int j = 0; j < kw; j++) {
            for (int oy = 0; oy < oh; oy++) {
                float *out = col + oy * ow;
                int iy = oy * sh - ph + i;
                if (iy < 0 || iy >= h) { memset(out, 0, sizeof(float) * ow); continue; }
                const float *line = plane + (long)iy * w;
                int x0 = j - pw;
                if (sw == 1) {
                    int lo = x0 < 0 ? -x0 : 0;
                    int hi = w - x0 < ow ? w - x0 : ow;
                    if (lo > ow) lo = ow;
                    if (hi < lo) hi = lo;
                    if (lo > 0) memset(out, 0, sizeof(float) * lo);
                    if (hi > lo) memcpy(out + lo, line + x0 + lo, sizeof(float) * (hi - lo));
                    if (hi < ow) memset(out + hi, 0, sizeof(float) * (ow - hi));
                } else {
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * sw + x0;
                        out[ox] = (ix >= 0 && ix < w) ? line[ix] : 0.0f;
                    }
                }
            }
            col += row_stride;
        }
    }
}

STRATA_VECTOR void strata_col2im_plane_f32(const float *restrict col, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                             int oh, int ow, float *restrict plane, long row_stride) {
    for (int i = 0; i < kh; i++) {
        for (int j = 0; j < kw; j++) {
            for (int oy = 0; oy < oh; oy++) {
                int iy = oy * sh - ph + i;
                if (iy < 0 || iy >= h) continue;
                float *line = plane + (long)iy * w;
                const float *src = col + oy * ow;
                int x0 = j - pw;
                if (sw == 1) {
                    int lo = x0 < 0 ? -x0 : 0;
                    int hi = w - x0 < ow ? w - x0 : ow;
                    for (int ox = lo; ox < hi; ox++) line[ox + x0] += src[ox];
                } else {
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * sw + x0;
                        if (ix >= 0 && ix < w) line[ix] += src[ox];
                    }
                }
            }
            col += row_stride;
        }
    }
}

/* The part of a window [start, start + size) inside [0, limit): [*lo, *hi), empty when *lo >= *hi. */
static inline void clip_window(int start, int size, int limit, int *lo, int *hi) {
    *lo = start < 0 ? 0 : start;
    *hi = start + size > limit ? limit : start + size;
}

STRATA_VECTOR void strata_maxpool_plane_f32(int isa, const float *restrict x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                              int oh, int ow, float *restrict y, int32_t *restrict switches) {
    if (isa == STRATA_ISA_AVX512 && strata_isa_supported(isa) && strata_maxpool_plane_avx512(x, h, w, kh, kw, sh, sw, ph, pw, oh, ow, y, switches) == 0) return;
    if (isa == STRATA_ISA_AVX2 && strata_isa_supported(isa) && strata_maxpool_plane_avx2(x, h, w, kh, kw, sh, sw, ph, pw, oh, ow, y, switches) == 0) return;
    for (int oy = 0; oy < oh; oy++) {
        int ys, ye;
        clip_window(oy * sh - ph, kh, h, &ys, &ye);
        for (int ox = 0; ox < ow; ox++) {
            int xs, xe;
            clip_window(ox * sw - pw, kw, w, &xs, &xe);
            if (ys >= ye || xs >= xe) { y[oy * ow + ox] = 0.0f; switches[oy * ow + ox] = -1; continue; }
            /* Branch-free: the first element seeds the maximum, then selects (cmov), first winner kept on
               ties. A NaN wins over any number and the first NaN stays, as in PyTorch. */
            int32_t at = ys * w + xs;
            float best = x[at];
            for (int iy = ys; iy < ye; iy++) {
                const float *line = x + (long)iy * w;
                for (int ix = xs; ix < xe; ix++) {
                    float v = line[ix];
                    int better = !(v <= best) & (best == best);
                    best = better ? v : best;
                    at = better ? iy * w + ix : at;
                }
            }
            y[oy * ow + ox] = best;
            switches[oy * ow + ox] = at;
        }
    }
}

static inline int pool_area(int oy, int ox, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw) {
    int ys = oy * sh - ph, xs = ox * sw - pw;
    int ye = ys + kh < h + ph ? ys + kh : h + ph;
    int xe = xs + kw < w + pw ? xs + kw : w + pw;
    int a = (ye - ys) * (xe - xs);
    return a > 0 ? a : 1;
}

STRATA_VECTOR void strata_avgpool_plane_f32(const float *restrict x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                              int oh, int ow, float *restrict y) {
    for (int oy = 0; oy < oh; oy++) {
        int ys, ye;
        clip_window(oy * sh - ph, kh, h, &ys, &ye);
        for (int ox = 0; ox < ow; ox++) {
            int xs, xe;
            clip_window(ox * sw - pw, kw, w, &xs, &xe);
            float sum = 0;
            for (int iy = ys; iy < ye; iy++) for (int ix = xs; ix < xe; ix++) sum += x[(long)iy * w + ix];
            y[oy * ow + ox] = sum / (float)pool_area(oy, ox, h, w, kh, kw, sh, sw, ph, pw);
        }
    }
}

STRATA_VECTOR void strata_avgpool_backward_plane_f32(const float *restrict dy, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                       int oh, int ow, float *restrict dx) {
    memset(dx, 0, sizeof(float) * (long)h * w);
    for (int oy = 0; oy < oh; oy++) {
        int ys, ye;
        clip_window(oy * sh - ph, kh, h, &ys, &ye);
        for (int ox = 0; ox < ow; ox++) {
            int xs, xe;
            clip_window(ox * sw - pw, kw, w, &xs, &xe);
            float g = dy[oy * ow + ox] / (float)pool_area(oy, ox, h, w, kh, kw, sh, sw, ph, pw);
            for (int iy = ys; iy < ye; iy++) for (int ix = xs; ix < xe; ix++) dx[(long)iy * w + ix] += g;
        }
    }
}

/* y = x · s^-beta over one plane, s = k + alpha·sum; the paper's beta = 0.75 as r·sqrt(r), r = 1/sqrt(s),
   in its own loop so that it vectorises. */
STRATA_VECTOR static void lrn_apply(const float *restrict x, const float *restrict sum, long hw, float alpha, float beta, float k,
                                    float *restrict y, float *restrict scale) {
    if (beta == 0.75f && !scale) {
        for (long q = 0; q < hw; q++) {
            float r = 1.0f / sqrtf(k + alpha * sum[q]);
            y[q] = x[q] * (r * sqrtf(r));
        }
    } else if (beta == 0.75f) {
        for (long q = 0; q < hw; q++) {
            float s = k + alpha * sum[q];
            float r = 1.0f / sqrtf(s);
            scale[q] = s;
            y[q] = x[q] * (r * sqrtf(r));
        }
    } else {
        for (long q = 0; q < hw; q++) {
            float s = k + alpha * sum[q];
            if (scale) scale[q] = s;
            y[q] = x[q] * powf(s, -beta);
        }
    }
}

STRATA_VECTOR static void add_squares(float *restrict sum, const float *restrict p, long hw, float sign) {
    for (long q = 0; q < hw; q++) sum[q] += sign * (p[q] * p[q]);
}

STRATA_VECTOR static void add_scaled(float *restrict sum, const float *restrict p, long hw, float sign) {
    for (long q = 0; q < hw; q++) sum[q] += sign * p[q];
}

void strata_lrn_forward_f32(const float *restrict x, int c, long hw, int size, float alpha, float beta, float k,
                            float *restrict y, float *restrict scale, float *restrict sum) {
    int half = size / 2;
    memset(sum, 0, sizeof(float) * hw);
    for (int j = 0; j < half && j < c; j++) add_squares(sum, x + j * hw, hw, 1.0f);
    for (int ch = 0; ch < c; ch++) {
        int in = ch + half, out = ch - half - 1;
        if (in < c) add_squares(sum, x + in * hw, hw, 1.0f);
        if (out >= 0) add_squares(sum, x + out * hw, hw, -1.0f);
        lrn_apply(x + ch * hw, sum, hw, alpha, beta, k, y + ch * hw, scale ? scale + ch * hw : 0);
    }
}

/* dx = dy·s^-beta − factor·x·sum over one plane. */
STRATA_VECTOR static void lrn_gradient(const float *restrict dy, const float *restrict x, const float *restrict scale,
                                       const float *restrict sum, long hw, float beta, float factor, float *restrict dx) {
    if (beta == 0.75f) {
        for (long q = 0; q < hw; q++) { float r = 1.0f / sqrtf(scale[q]); dx[q] = dy[q] * (r * sqrtf(r)) - factor * x[q] * sum[q]; }
    } else {
        for (long q = 0; q < hw; q++) dx[q] = dy[q] * powf(scale[q], -beta) - factor * x[q] * sum[q];
    }
}

STRATA_VECTOR static void lrn_ratio(const float *restrict dy, const float *restrict y, const float *restrict scale, long n, float *restrict t) {
    for (long q = 0; q < n; q++) t[q] = dy[q] * y[q] / scale[q];
}

void strata_lrn_backward_f32(const float *restrict dy, const float *restrict x, const float *restrict y, const float *restrict scale,
                             int c, long hw, int size, float alpha, float beta, float *restrict dx, float *restrict work) {
    int half = size / 2;
    float factor = 2.0f * alpha * beta;
    float *sum = work, *t = work + hw;
    lrn_ratio(dy, y, scale, (long)c * hw, t);
    memset(sum, 0, sizeof(float) * hw);
    for (int j = 0; j < half && j < c; j++) add_scaled(sum, t + j * hw, hw, 1.0f);
    for (int ch = 0; ch < c; ch++) {
        int in = ch + half, out = ch - half - 1;
        if (in < c) add_scaled(sum, t + in * hw, hw, 1.0f);
        if (out >= 0) add_scaled(sum, t + out * hw, hw, -1.0f);
        long o = ch * hw;
        lrn_gradient(dy + o, x + o, scale + o, sum, hw, beta, factor, dx + o);
    }
}
