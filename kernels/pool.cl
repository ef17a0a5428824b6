// Pooling: maxpool_forward (with switches), maxpool_backward, avgpool_forward, avgpool_backward.
// Constants (-D): N, C, H, W, OH, OW, KH, KW, SH, SW, PH, PW.
// Shapes: x (N, C, H, W); y and switches (N, C, OH, OW). A switch is the index y·W + x within the
// input plane of the value that won the window (−1 for a window wholly in the padding, whose output is 0).
// Global ids: forward kernels one per output; backward kernels one per (n, c) plane.

// The window of output (oy, ox) clipped to the plane: rows [y0, y1), columns [x0, x1) (empty in the padding).
#define WINDOW(oy, ox) \
    const int ys = (oy) * SH - PH, xs = (ox) * SW - PW; \
    const int y0 = max(ys, 0), y1 = max(y0, min(ys + KH, H)), x0 = max(xs, 0), x1 = max(x0, min(xs + KW, W))

__kernel void maxpool_forward(__global const float *x, __global float *y, __global int *switches) {
    const int id = get_global_id(0);
    if (id >= N * C * OH * OW) return;
    const int ox = id % OW, oy = (id / OW) % OH, plane = id / (OW * OH);
    const __global float *p = x + plane * H * W;
    WINDOW(oy, ox);
    float best = 0.0f;
    int at = -1;
    for (int iy = y0; iy < y1; iy++) {
        for (int ix = x0; ix < x1; ix++) {
            const float v = p[iy * W + ix];
            // The first element seeds; a NaN wins over any number and the first NaN stays.
            if (at < 0 || (!(v <= best) && best == best)) { best = v; at = iy * W + ix; }
        }
    }
    y[id] = at < 0 ? 0.0f : best;
    switches[id] = at;
}

__kernel void maxpool_backward(__global const float *dy, __global const int *switches, __global float *dx) {
    const int plane = get_global_id(0);
    if (plane >= N * C) return;
    __global float *d = dx + plane * H * W;
    for (int q = 0; q < H * W; q++) d[q] = 0.0f;
    for (int q = 0; q < OH * OW; q++) {
        const int s = switches[plane * OH * OW + q];
        if (s >= 0) d[s] += dy[plane * OH * OW + q];
    }
}

// The average's divisor: the window's area within the padded plane (padding counts as zeros).
inline float area(const int oy, const int ox) {
    const int ys = oy * SH - PH, xs = ox * SW - PW;
    return (float)max(1, (min(ys + KH, H + PH) - ys) * (min(xs + KW, W + PW) - xs));
}

__kernel void avgpool_forward(__global const float *x, __global float *y) {
    const int id = get_global_id(0);
    if (id >= N * C * OH * OW) return;
    const int ox = id % OW, oy = (id / OW) % OH, plane = id / (OW * OH);
    const __global float *p = x + plane * H * W;
    WINDOW(oy, ox);
    float s = 0.0f;
    for (int iy = y0; iy < y1; iy++) for (int ix = x0; ix < x1; ix++) s += p[iy * W + ix];
    y[id] = s / area(oy, ox);
}

__kernel void avgpool_backward(__global const float *dy, __global float *dx) {
    const int plane = get_global_id(0);
    if (plane >= N * C) return;
    __global float *d = dx + plane * H * W;
    for (int q = 0; q < H * W; q++) d[q] = 0.0f;
    for (int oy = 0; oy < OH; oy++) {
        for (int ox = 0; ox < OW; ox++) {
            WINDOW(oy, ox);
            const float v = dy[plane * OH * OW + oy * OW + ox] / area(oy, ox);
            for (int iy = y0; iy < y1; iy++) for (int ix = x0; ix < x1; ix++) d[iy * W + ix] += v;
        }
    }
}
