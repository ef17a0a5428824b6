// Elementwise kernels: relu_*, tanh_*, dropout_*, and the copy/accumulate pair behind `add`.
// Global size: one work item per element (dropout_forward: one per block of 4096 elements).
// Arguments: flat buffers of n values.

__kernel void relu_forward(__global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) { const float v = x[i]; y[i] = v < 0.0f ? 0.0f : v; }          // NaN passes through
}

__kernel void relu_backward(__global const float *dy, __global const float *y, __global float *dx, const int n) {
    const int i = get_global_id(0);
    if (i < n) { const float g = dy[i]; dx[i] = y[i] <= 0.0f ? 0.0f : g; }
}

__kernel void relu_backward_guided(__global const float *dy, __global const float *y, __global float *dx, const int n) {
    const int i = get_global_id(0);
    if (i < n) { const float g = dy[i]; dx[i] = (y[i] <= 0.0f || g <= 0.0f) ? 0.0f : g; }
}

__kernel void tanh_forward(__global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = tanh(x[i]);
}

__kernel void tanh_backward(__global const float *dy, __global const float *y, __global float *dx, const int n) {
    const int i = get_global_id(0);
    if (i < n) { const float t = y[i]; dx[i] = dy[i] * (1.0f - t * t); }
}

// SplitMix64, as the CPU backend draws: each block of 4096 elements has its own stream, seeded
// seed ^ (block · 0x9E3779B97F4A7C15). An element is dropped when (next >> 11) < threshold, where
// threshold = ⌈rate · 2^53⌉ (the CPU's u < rate with u = (next >> 11) · 2^−53, in integers).
inline ulong splitmix64(ulong *state) {
    *state += 0x9E3779B97F4A7C15UL;
    ulong z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    return z ^ (z >> 31);
}

// Element g of the whole batch draws from block g / 4096's stream, skipped ahead to it; `offset`
// is the whole-batch index of element 0 (a data-parallel rank's share). Work item b takes block
// offset / 4096 + b (the launch covers one block more than n needs, for a share that starts inside one).
__kernel void dropout_forward(__global const float *x, __global float *y, __global float *mask, const int n,
                              const ulong seed, const ulong threshold, const float keep, const long offset) {
    const long b = offset / 4096 + get_global_id(0);
    const long lo = max(offset, b * 4096), hi = min(offset + n, (b + 1) * 4096);
    if (lo >= hi) return;
    ulong state = (seed ^ ((ulong)b * 0x9E3779B97F4A7C15UL)) + (ulong)(lo - b * 4096) * 0x9E3779B97F4A7C15UL;
    for (long g = lo; g < hi; g++) {
        const long i = g - offset;
        const float m = (splitmix64(&state) >> 11) < threshold ? 0.0f : keep;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

__kernel void dropout_backward(__global const float *dy, __global const float *mask, __global float *dx, const int n) {
    const int i = get_global_id(0);
    if (i < n) dx[i] = dy[i] * mask[i];
}

__kernel void copy(__global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] = x[i];
}

__kernel void accumulate(__global const float *x, __global float *y, const int n) {
    const int i = get_global_id(0);
    if (i < n) y[i] += x[i];
}

// The depth-split GEMMs' second pass: out[i] = Σ_s parts[s·n + i], slices added in order.
__kernel void sum_slices(__global const float *parts, __global float *out, const int n, const int slices) {
    const int i = get_global_id(0);
    if (i >= n) return;
    float s = 0.0f;
    for (int k = 0; k < slices; k++) s += parts[k * n + i];
    out[i] = s;
}
