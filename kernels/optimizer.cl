// The optimizer: sgd_update (the AlexNet paper's rule, in place) and filter_rms_clip (ZF's clipping).
// sgd_update: v ← momentum·v − decay·lr·w − lr·dw, w ← w + v; hyper = (lr, momentum, decay). One work item per value.
// filter_rms_clip: each of FILTERS rows of SIZE values whose RMS exceeds RADIUS is scaled back to it. One work item per filter.

__kernel void sgd_update(__global float *w, __global const float *dw, __global float *v, __global const float *hyper, const int n) {
    const int i = get_global_id(0);
    if (i >= n) return;
    const float lr = hyper[0], momentum = hyper[1], decay = hyper[2] * hyper[0];
    const float step = momentum * v[i] - decay * w[i] - lr * dw[i];
    v[i] = step;
    w[i] += step;
}

__kernel void filter_rms_clip(__global float *w, const int filters, const int size, const float radius) {
    const int f = get_global_id(0);
    if (f >= filters) return;
    __global float *row = w + f * size;
    float squares = 0.0f;
    for (int j = 0; j < size; j++) squares += row[j] * row[j];
    const float rms = sqrt(squares / size);
    if (rms > radius) { const float s = radius / rms; for (int j = 0; j < size; j++) row[j] *= s; }
}
