// Convolution: conv_forward, conv_backward_data, conv_backward_filter (each a blocked GEMM from
// gemm.cl with the column matrix gathered from the tensors: implicit im2col) and conv_backward_bias.
// Constants (-D): N (batch), C, H, W (input), F, OH, OW (output), KH, KW, SH, SW, PH, PW, G (groups);
// the tile constants of gemm.cl; SPLIT (conv_backward_filter's depth slices, default 1).
// Shapes: x (N, C, H, W); weight (F, C/G, KH, KW); bias (F); y (N, F, OH, OW).
// Launches (global = tiles × work-group): conv_forward (⌈N·OH·OW/TN⌉, ⌈F/G/TM⌉, G) tiles;
// conv_backward_data (⌈N·H·W/TN⌉, ⌈C/G/TM⌉, G); conv_backward_filter (⌈C/G·KH·KW/TN⌉, ⌈F/G/TM⌉, G·SPLIT),
// writing SPLIT partial sums that sum_slices (elementwise.cl) adds when SPLIT > 1;
// conv_backward_bias: one work-group of RED items per filter.

#define CG (C / G)
#define FG (F / G)
#define P (OH * OW)
#define KK (KH * KW)
#ifndef SPLIT
#define SPLIT 1
#endif

// Column j = (image n, output position) of group g's column matrix, row k = (channel, ky, kx).
inline float im2col(__global const float *x, const int g, const int k, const int j) {
    const int c = k / KK, r = k % KK, ky = r / KW, kx = r % KW;
    const int n = j / P, p = j % P, oy = p / OW, ox = p % OW;
    const int iy = oy * SH - PH + ky, ix = ox * SW - PW + kx;
    return (iy >= 0 && iy < H && ix >= 0 && ix < W) ? x[((n * C + g * CG + c) * H + iy) * W + ix] : 0.0f;
}

// Forward: y[f][j] = Σ_k w[f][k] · im2col(x)[k][j] (+ bias, ReLU), per group.
#define GEMM_NAME conv_forward
#define GEMM_ARGS __global const float *x, __global const float *w, __global const float *bias, __global float *y, \
                  const int hasBias, const int relu
#define GM FG
#define GN (N * P)
#define GK (CG * KK)
#define A_ALONG_K 1
#define B_ALONG_N 1
#define GEMM_SPLIT 1
#define LOAD_A(g, m, k) w[((g) * FG + (m)) * GK + (k)]
#define LOAD_B(g, k, j) im2col(x, g, k, j)
#define STORE(g, s, m, j, v) { const int f_ = (g) * FG + (m); const float o_ = (v) + (hasBias ? bias[f_] : 0.0f); \
                               y[((j) / P * F + f_) * P + (j) % P] = (relu && o_ < 0.0f) ? 0.0f : o_; }
#include "gemm.cl"

// The data gradient, gathered rather than scattered (no col2im, no atomics): for input element
// (c, j = (n, iy, ix)), dx = Σ over (f, ky, kx) of w[f][c][ky][kx] · dy[n][f][ty/SH][tx/SW] where
// ty = iy + PH − ky (and tx) is a multiple of the stride inside the output. A strided convolution's
// column holds zeros where that fails (3 of 4 at stride 2).
inline float dy_gather(__global const float *dy, const int g, const int k, const int j) {
    const int f = k / KK, r = k % KK, ky = r / KW, kx = r % KW;
    const int n = j / (H * W), q = j % (H * W), iy = q / W, ix = q % W;
    const int ty = iy + PH - ky, tx = ix + PW - kx;
    if (ty < 0 || tx < 0 || ty % SH != 0 || tx % SW != 0 || ty / SH >= OH || tx / SW >= OW) return 0.0f;
    return dy[((n * F + g * FG + f) * OH + ty / SH) * OW + tx / SW];
}

#define GEMM_NAME conv_backward_data
#define GEMM_ARGS __global const float *dy, __global const float *w, __global float *dx
#define GM CG
#define GN (N * H * W)
#define GK (FG * KK)
#define A_ALONG_K 1
#define B_ALONG_N 1
#define GEMM_SPLIT 1
#define LOAD_A(g, c, k) w[(((g) * FG + (k) / KK) * CG + (c)) * KK + (k) % KK]
#define LOAD_B(g, k, j) dy_gather(dy, g, k, j)
#define STORE(g, s, c, j, v) dx[((j) / (H * W) * C + (g) * CG + (c)) * (H * W) + (j) % (H * W)] = (v)
#include "gemm.cl"

// The filter gradient: dw[f][k] = Σ_j dy[f][j] · im2col(x)[k][j], the depth j running over images
// and positions, split into SPLIT slices (partial sums in dw[s][g][f][k]) when the output alone has
// too few tiles to fill the device.
#define GEMM_NAME conv_backward_filter
#define GEMM_ARGS __global const float *dy, __global const float *x, __global float *dw
#define GM FG
#define GN (CG * KK)
#define GK (N * P)
#define A_ALONG_K 1
#define B_ALONG_N 0
#define GEMM_SPLIT SPLIT
#define LOAD_A(g, f, j) dy[((j) / P * F + (g) * FG + (f)) * P + (j) % P]
#define LOAD_B(g, j, k) im2col(x, g, k, j)
#define STORE(g, s, f, k, v) dw[(((s) * G + (g)) * FG + (f)) * GN + (k)] = (v)
#include "gemm.cl"

// The bias gradient: db[f] = Σ over images and positions of dy; a work-group per filter adds in a
// fixed order (each item a strided partial sum, then a tree), so results repeat run to run.
#ifndef RED
#define RED 64
#endif
__kernel __attribute__((reqd_work_group_size(RED, 1, 1)))
void conv_backward_bias(__global const float *dy, __global float *db) {
    const int f = get_group_id(0), t = get_local_id(0);
    __local float part[RED];
    float s = 0.0f;
    for (int n = 0; n < N; n++)
        for (int q = t; q < P; q += RED) s += dy[(n * F + f) * P + q];
    part[t] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = RED / 2; h > 0; h >>= 1) {
        if (t < h) part[t] += part[t + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) db[f] = part[0];
}
