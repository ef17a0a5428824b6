// Fully connected: fc_forward, fc_backward_data, fc_backward_filter (blocked GEMMs from gemm.cl)
// and fc_backward_bias. Constants (-D): N (batch), F (features), U (units); the tile constants.
// Shapes: x (N, F); weight (U, F); bias (U); y (N, U).
// Launches: fc_forward (⌈U/TN⌉, ⌈N/TM⌉) tiles; fc_backward_data (⌈F/TN⌉, ⌈N/TM⌉);
// fc_backward_filter (⌈F/TN⌉, ⌈U/TM⌉); fc_backward_bias one item per unit.

// y[n][u] = Σ_f x[n][f] · w[u][f] (+ bias, ReLU).
#define GEMM_NAME fc_forward
#define GEMM_ARGS __global const float *x, __global const float *w, __global const float *bias, __global float *y, \
                  const int hasBias, const int relu
#define GM N
#define GN U
#define GK F
#define A_ALONG_K 1
#define B_ALONG_N 0
#define GEMM_SPLIT 1
#define LOAD_A(g, n, f) x[(n) * F + (f)]
#define LOAD_B(g, f, u) w[(u) * F + (f)]
#define STORE(g, s, n, u, v) { const float o_ = (v) + (hasBias ? bias[u] : 0.0f); y[(n) * U + (u)] = (relu && o_ < 0.0f) ? 0.0f : o_; }
#include "gemm.cl"

// dx[n][f] = Σ_u dy[n][u] · w[u][f].
#define GEMM_NAME fc_backward_data
#define GEMM_ARGS __global const float *dy, __global const float *w, __global float *dx
#define GM N
#define GN F
#define GK U
#define A_ALONG_K 1
#define B_ALONG_N 1
#define GEMM_SPLIT 1
#define LOAD_A(g, n, u) dy[(n) * U + (u)]
#define LOAD_B(g, u, f) w[(u) * F + (f)]
#define STORE(g, s, n, f, v) dx[(n) * F + (f)] = (v)
#include "gemm.cl"

// dw[u][f] = Σ_n dy[n][u] · x[n][f].
#define GEMM_NAME fc_backward_filter
#define GEMM_ARGS __global const float *dy, __global const float *x, __global float *dw
#define GM U
#define GN F
#define GK N
#define A_ALONG_K 0
#define B_ALONG_N 1
#define GEMM_SPLIT 1
#define LOAD_A(g, u, n) dy[(n) * U + (u)]
#define LOAD_B(g, n, f) x[(n) * F + (f)]
#define STORE(g, s, u, f, v) dw[(u) * F + (f)] = (v)
#include "gemm.cl"

__kernel void fc_backward_bias(__global const float *dy, __global float *db) {
    const int u = get_global_id(0);
    if (u >= U) return;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += dy[n * U + u];
    db[u] = s;
}
