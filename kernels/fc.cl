// Fully connected: fc_forward, fc_backward_data, fc_backward_filter, fc_backward_bias.
// Constants (-D): N (batch), F (features), U (units). Shapes: x (N, F); weight (U, F); bias (U); y (N, U).
// Global ids: forward n·U + u; backward_data n·F + f; backward_filter u·F + f; backward_bias u.

__kernel void fc_forward(__global const float *x, __global const float *w, __global const float *bias, __global float *y,
                         const int hasBias, const int relu) {
    const int id = get_global_id(0);
    if (id >= N * U) return;
    const int u = id % U, n = id / U;
    float s = hasBias ? bias[u] : 0.0f;
    for (int f = 0; f < F; f++) s += w[u * F + f] * x[n * F + f];
    y[id] = (relu && s < 0.0f) ? 0.0f : s;
}

__kernel void fc_backward_data(__global const float *dy, __global const float *w, __global float *dx) {
    const int id = get_global_id(0);
    if (id >= N * F) return;
    const int f = id % F, n = id / F;
    float s = 0.0f;
    for (int u = 0; u < U; u++) s += dy[n * U + u] * w[u * F + f];
    dx[id] = s;
}

__kernel void fc_backward_filter(__global const float *dy, __global const float *x, __global float *dw) {
    const int id = get_global_id(0);
    if (id >= U * F) return;
    const int f = id % F, u = id / F;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += dy[n * U + u] * x[n * F + f];
    dw[id] = s;
}

__kernel void fc_backward_bias(__global const float *dy, __global float *db) {
    const int u = get_global_id(0);
    if (u >= U) return;
    float s = 0.0f;
    for (int n = 0; n < N; n++) s += dy[n * U + u];
    db[u] = s;
}
