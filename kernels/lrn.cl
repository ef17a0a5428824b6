// Local response normalisation across channels: lrn_forward, lrn_backward, each one pass.
// Constants (-D): N, C, HW (plane size), SIZE (the window), ALPHA, BETA, K (the step's constants; fractions as float literals),
// BETA_IS_075 (1 when BETA is 0.75: s^−β as 1/√s·√(1/√s), as the CPU computes it).
// Shapes: x, y, scale (N, C, H, W); scale = K + ALPHA·Σ_{j=c−HALF..c+HALF} x_j².
// Global ids: one work item per (image, position), n·HW + q: it walks the channels once, keeping
// the window's terms in registers (a ring of the window's size, its slots fixed by unrolling that many channels
// at a time), so each input is read once and neighbouring items read neighbouring words. The forward
// saves the scale, which is all the backward needs besides x, y and dy.

#define HALF (SIZE / 2)
#define WIN (2 * HALF + 1)   // the window's channels (SIZE, or SIZE + 1 when SIZE is even, as on the CPU)

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
    if (id >= N * HW) return;
    const int base = (id / HW) * C * HW + id % HW;
    float ring[WIN];
    #pragma unroll
    for (int r = 0; r < WIN; r++) {
        // Slot r holds channel r − HALF (channels below 0 are zeros) until the walk replaces it.
        const int j = r - HALF;
        const float v = (j >= 0 && j < C) ? x[base + j * HW] : 0.0f;
        ring[r] = v * v;
    }
    for (int c0 = 0; c0 < C; c0 += WIN) {
        #pragma unroll
        for (int r = 0; r < WIN; r++) {
            const int c = c0 + r;
            if (c >= C) break;
            if (c > 0) {
                // Channel c + HALF enters the slot of channel c − HALF − 1, which leaves the window.
                const int j = c + HALF;
                const float v = j < C ? x[base + j * HW] : 0.0f;
                ring[(r + WIN - 1) % WIN] = v * v;
            }
            float sum = 0.0f;
            #pragma unroll
            for (int t = 0; t < WIN; t++) sum += ring[t];
            const float s = K + ALPHA * sum;
            const int at = base + c * HW;
            if (hasScale) scale[at] = s;
            y[at] = x[at] * negative_power(s);
        }
    }
}

// dx[i] = dy[i]·s[i]^−β − 2αβ·x[i]·Σ_{j in window(i)} dy[j]·y[j]/s[j] (the window is symmetric).
__kernel void lrn_backward(__global const float *dy, __global const float *x, __global const float *y, __global const float *scale,
                           __global float *dx) {
    const int id = get_global_id(0);
    if (id >= N * HW) return;
    const int base = (id / HW) * C * HW + id % HW;
    float ring[WIN];
    #pragma unroll
    for (int r = 0; r < WIN; r++) {
        const int j = r - HALF, at = base + j * HW;
        ring[r] = (j >= 0 && j < C) ? dy[at] * y[at] / scale[at] : 0.0f;
    }
    for (int c0 = 0; c0 < C; c0 += WIN) {
        #pragma unroll
        for (int r = 0; r < WIN; r++) {
            const int c = c0 + r;
            if (c >= C) break;
            if (c > 0) {
                const int j = c + HALF, at = base + j * HW;
                ring[(r + WIN - 1) % WIN] = j < C ? dy[at] * y[at] / scale[at] : 0.0f;
            }
            float sum = 0.0f;
            #pragma unroll
            for (int t = 0; t < WIN; t++) sum += ring[t];
            const int at = base + c * HW;
            dx[at] = dy[at] * negative_power(scale[at]) - 2.0f * ALPHA * BETA * x[at] * sum;
        }
    }
}
