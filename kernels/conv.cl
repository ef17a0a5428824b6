// Convolution: conv_forward, conv_backward_data, conv_backward_filter (and its bias part).
// Constants (-D): N (batch), C, H, W (input), F, OH, OW (output), KH, KW, SH, SW, PH, PW, G (groups).
// Shapes: x (N, C, H, W); weight (F, C/G, KH, KW); bias (F); y (N, F, OH, OW).
// Global ids: conv_forward (n·F + f)·OH·OW + oy·OW + ox; conv_backward_data (n·C + c)·H·W + iy·W + ix;
// conv_backward_filter ((f·CG + c)·KH + ky)·KW + kx; conv_backward_bias f.

#define CG (C / G)
#define FG (F / G)

__kernel void conv_forward(__global const float *x, __global const float *w, __global const float *bias, __global float *y,
                           const int hasBias, const int relu) {
    const int id = get_global_id(0);
    if (id >= N * F * OH * OW) return;
    const int ox = id % OW, oy = (id / OW) % OH, f = (id / (OW * OH)) % F, n = id / (OW * OH * F);
    const int g = f / FG;
    float s = hasBias ? bias[f] : 0.0f;
    for (int c = 0; c < CG; c++) {
        const __global float *plane = x + ((n * C + g * CG + c) * H) * W;
        const __global float *filter = w + ((f * CG + c) * KH) * KW;
        for (int ky = 0; ky < KH; ky++) {
            const int iy = oy * SH - PH + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; kx++) {
                const int ix = ox * SW - PW + kx;
                if (ix >= 0 && ix < W) s += filter[ky * KW + kx] * plane[iy * W + ix];
            }
        }
    }
    y[id] = (relu && s < 0.0f) ? 0.0f : s;
}

__kernel void conv_backward_data(__global const float *dy, __global const float *w, __global float *dx) {
    const int id = get_global_id(0);
    if (id >= N * C * H * W) return;
    const int ix = id % W, iy = (id / W) % H, c = (id / (W * H)) % C, n = id / (W * H * C);
    const int g = c / CG, cg = c % CG;
    float s = 0.0f;
    for (int f = g * FG; f < (g + 1) * FG; f++) {
        for (int ky = 0; ky < KH; ky++) {
            const int ty = iy + PH - ky;
            if (ty < 0 || ty % SH != 0 || ty / SH >= OH) continue;
            for (int kx = 0; kx < KW; kx++) {
                const int tx = ix + PW - kx;
                if (tx < 0 || tx % SW != 0 || tx / SW >= OW) continue;
                s += w[((f * CG + cg) * KH + ky) * KW + kx] * dy[((n * F + f) * OH + ty / SH) * OW + tx / SW];
            }
        }
    }
    dx[id] = s;
}

__kernel void conv_backward_filter(__global const float *dy, __global const float *x, __global float *dw) {
    const int id = get_global_id(0);
    if (id >= F * CG * KH * KW) return;
    const int kx = id % KW, ky = (id / KW) % KH, cg = (id / (KW * KH)) % CG, f = id / (KW * KH * CG);
    const int c = (f / FG) * CG + cg;
    float s = 0.0f;
    for (int n = 0; n < N; n++) {
        for (int oy = 0; oy < OH; oy++) {
            const int iy = oy * SH - PH + ky;
            if (iy < 0 || iy >= H) continue;
            for (int ox = 0; ox < OW; ox++) {
                const int ix = ox * SW - PW + kx;
                if (ix >= 0 && ix < W) s += dy[((n * F + f) * OH + oy) * OW + ox] * x[((n * C + c) * H + iy) * W + ix];
            }
        }
    }
    dw[id] = s;
}

__kernel void conv_backward_bias(__global const float *dy, __global float *db) {
    const int f = get_global_id(0);
    if (f >= F) return;
    float s = 0.0f;
    for (int n = 0; n < N; n++) for (int q = 0; q < OH * OW; q++) s += dy[(n * F + f) * OH * OW + q];
    db[f] = s;
}

// The tiled forward: per group a GEMM Y[FG × N·OH·OW] = W[FG × CG·KH·KW] · X', where the column
// matrix X' is gathered from x while the tile is loaded (implicit im2col). Work-groups of TS × TS;
// global (⌈FG/TS⌉·TS, ⌈N·OH·OW/TS⌉·TS, G); work item (m, j, g) computes filter g·FG + m at column j.
#ifndef TS
#define TS 16
#endif

__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void conv_forward_tiled(__global const float *x, __global const float *w, __global const float *bias, __global float *y,
                        const int hasBias, const int relu) {
    const int lm = get_local_id(0), ln = get_local_id(1);
    const int m = get_group_id(0) * TS + lm, g = get_global_id(2);
    const int P = OH * OW, KK = CG * KH * KW;
    const int j = get_group_id(1) * TS + ln;            // this item's column: image n, position (oy, ox)
    const int n = j / P, p = j % P, oy = p / OW, ox = p % OW;
    __local float As[TS][TS + 1];
    __local float Bs[TS][TS + 1];
    float acc = 0.0f;
    for (int k0 = 0; k0 < KK; k0 += TS) {
        // A: filter row (tile row lm), depth k0 + ln.
        const int ka = k0 + ln, fa = get_group_id(0) * TS + lm;
        As[lm][ln] = (fa < FG && ka < KK) ? w[(g * FG + fa) * KK + ka] : 0.0f;
        // B: depth k0 + lm (channel, ky, kx), this item's column.
        const int kb = k0 + lm;
        float v = 0.0f;
        if (kb < KK && j < N * P) {
            const int c = kb / (KH * KW), r = kb % (KH * KW), ky = r / KW, kx = r % KW;
            const int iy = oy * SH - PH + ky, ix = ox * SW - PW + kx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[((n * C + g * CG + c) * H + iy) * W + ix];
        }
        Bs[lm][ln] = v;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = 0; t < TS; t++) acc += As[lm][t] * Bs[t][ln];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (m < FG && j < N * P) {
        const int f = g * FG + m;
        float s = acc + (hasBias ? bias[f] : 0.0f);
        y[((n * F + f) * OH + oy) * OW + ox] = (relu && s < 0.0f) ? 0.0f : s;
    }
}

// The tiled filter gradient: per group dW[FG × CG·KH·KW] = dY[FG × N·OH·OW] · X'ᵀ, the reduction
// running over images and positions. Global (⌈FG/TS⌉·TS, ⌈CG·KH·KW/TS⌉·TS, G).
__kernel __attribute__((reqd_work_group_size(TS, TS, 1)))
void conv_backward_filter_tiled(__global const float *dy, __global const float *x, __global float *dw) {
    const int lm = get_local_id(0), ln = get_local_id(1);
    const int m = get_group_id(0) * TS + lm, g = get_global_id(2);
    const int P = OH * OW, KK = CG * KH * KW, NP = N * P;
    const int k = get_group_id(1) * TS + ln;            // this item's depth: (channel, ky, kx)
    const int c = k / (KH * KW), r = k % (KH * KW), ky = r / KW, kx = r % KW;
    __local float As[TS][TS + 1];
    __local float Bs[TS][TS + 1];
    float acc = 0.0f;
    for (int j0 = 0; j0 < NP; j0 += TS) {
        const int ja = j0 + ln, fa = get_group_id(0) * TS + lm;
        float a = 0.0f;
        if (fa < FG && ja < NP) { const int n = ja / P, p = ja % P; a = dy[(n * F + g * FG + fa) * P + p]; }
        As[lm][ln] = a;
        const int jb = j0 + lm;
        float v = 0.0f;
        if (jb < NP && k < KK) {
            const int n = jb / P, p = jb % P, oy = p / OW, ox = p % OW;
            const int iy = oy * SH - PH + ky, ix = ox * SW - PW + kx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) v = x[((n * C + g * CG + c) * H + iy) * W + ix];
        }
        Bs[lm][ln] = v;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int t = 0; t < TS; t++) acc += As[lm][t] * Bs[t][ln];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (m < FG && k < KK) dw[(g * FG + m) * KK + k] = acc;
}
