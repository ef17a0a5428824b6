// Local response normalisation across channels: lrn_forward, lrn_backward.
// Constants (-D): N, C, HW (plane size), SIZE (the window), ALPHA, BETA, K (floats with an f suffix),
// BETA_IS_075 (1 when BETA is 0.75: s^−β as 1/√s·√(1/√s), as the CPU computes it).
// Shapes: x, y, scale (N, C, H, W); scale = K + ALPHA·Σ_{j=c−HALF..c+HALF} x_j².
// Global ids: one per element, (n·C + c)·HW + q.

#define HALF (SIZE / 2)

inline float negative_power(const float s) {
#if BETA_IS_075
    const float r = 1.0f / sqrt(s);
    return r * sqrt(r);
#else
    return pow(s, -BETA);
#endif
}

__kernel void lrn_forward(__global const float *x, __global float *y, __global float *scale, const int hasScale) {
    const int id = get_global_id(0);
    if (id >= N * C * HW) return;
    const int q = id % HW, c = (id / HW) % C, n = id / (HW * C);
    float sum = 0.0f;
    for (int j = max(0, c - HALF); j <= min(C - 1, c + HALF); j++) { const float v = x[(n * C + j) * HW + q]; sum += v * v; }
    const float s = K + ALPHA * sum;
    if (hasScale) scale[id] = s;
    y[id] = x[id] * negative_power(s);
}

// dx[i] = dy[i]·s[i]^−β − 2αβ·x[i]·Σ_{j in window(i)} dy[j]·y[j]/s[j] (the window is symmetric).
__kernel void lrn_backward(__global const float *dy, __global const float *x, __global const float *y, __global const float *scale,
                           __global float *dx) {
    const int id = get_global_id(0);
    if (id >= N * C * HW) return;
    const int q = id % HW, c = (id / HW) % C, n = id / (HW * C);
    float sum = 0.0f;
    for (int j = max(0, c - HALF); j <= min(C - 1, c + HALF); j++) {
        const int k = (n * C + j) * HW + q;
        sum += dy[k] * y[k] / scale[k];
    }
    dx[id] = dy[id] * negative_power(scale[id]) - 2.0f * ALPHA * BETA * x[id] * sum;
}
