// Concatenation along the per-image values: concat_forward copies input k's SIZE values per image to
// offset START of each TOTAL-value output image; concat_backward copies that slice of dy back.
// Arguments: size, start, total, n (batch). Global ids: image · size + j.

__kernel void concat_forward(__global const float *x, __global float *y, const int size, const int start, const int total, const int n) {
    const int id = get_global_id(0);
    if (id >= n * size) return;
    y[(id / size) * total + start + id % size] = x[id];
}

__kernel void concat_backward(__global const float *dy, __global float *dx, const int size, const int start, const int total, const int n) {
    const int id = get_global_id(0);
    if (id >= n * size) return;
    dx[id] = dy[(id / size) * total + start + id % size];
}
