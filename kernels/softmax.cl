// Softmax and the loss: softmax_forward, softmax_backward, softmax_cross_entropy (the mean over the
// batch of log Σ exp(z) − z[label], from the logits), softmax_cross_entropy_backward ((p − one-hot) / N).
// Constants (-D): N (rows), CLASSES. Global ids: one per row (the loss: one work item).

__kernel void softmax_forward(__global const float *z, __global float *y) {
    const int n = get_global_id(0);
    if (n >= N) return;
    const __global float *zi = z + n * CLASSES;
    __global float *yi = y + n * CLASSES;
    float m = -INFINITY;
    for (int j = 0; j < CLASSES; j++) m = fmax(m, zi[j]);
    float s = 0.0f;
    for (int j = 0; j < CLASSES; j++) { const float e = exp(zi[j] - m); yi[j] = e; s += e; }
    const float inv = 1.0f / s;
    for (int j = 0; j < CLASSES; j++) yi[j] *= inv;
}

__kernel void softmax_backward(__global const float *dy, __global const float *y, __global float *dx) {
    const int n = get_global_id(0);
    if (n >= N) return;
    const int o = n * CLASSES;
    float dot = 0.0f;
    for (int j = 0; j < CLASSES; j++) dot += dy[o + j] * y[o + j];
    for (int j = 0; j < CLASSES; j++) dx[o + j] = y[o + j] * (dy[o + j] - dot);
}

__kernel void softmax_cross_entropy(__global const float *z, __global const int *labels, __global float *loss) {
    if (get_global_id(0) != 0) return;
    float total = 0.0f;
    for (int n = 0; n < N; n++) {
        const __global float *zi = z + n * CLASSES;
        float m = -INFINITY;
        for (int j = 0; j < CLASSES; j++) m = fmax(m, zi[j]);
        float s = 0.0f;
        for (int j = 0; j < CLASSES; j++) s += exp(zi[j] - m);
        total += log(s) + m - zi[labels[n]];
    }
    loss[0] = total / N;
}

__kernel void softmax_cross_entropy_backward(__global const float *p, __global const int *labels, __global float *dz) {
    const int n = get_global_id(0);
    if (n >= N) return;
    const float inv = 1.0f / N;
    for (int j = 0; j < CLASSES; j++) dz[n * CLASSES + j] = p[n * CLASSES + j] * inv;
    dz[n * CLASSES + labels[n]] -= inv;
}
