// The blocked GEMM every convolution and fully connected kernel is made of, after CLBlast's xgemm
// design: a work-group computes a TM × TN tile of C = A·B, stepping through the depth TK at a time
// with both operand tiles staged in local memory; each work item keeps a WM × WN block of C in
// registers, its rows and columns strided by the work-group's shape, so that neighbouring items read
// neighbouring local-memory words (no bank conflicts) and store neighbouring columns (coalesced).
// The operands are never materialised: LOAD_A and LOAD_B gather them from the layer's tensors
// (implicit im2col), and STORE is the epilogue (bias, ReLU, the output layout).
//
// conv.cl and fc.cl include this file once per kernel, after defining:
//   GEMM_NAME, GEMM_ARGS        the kernel's name and parameter list
//   GM, GN, GK                  C is GM × GN for each group, reduced over a depth of GK
//   LOAD_A(g, m, k)             A's element, LOAD_B(g, k, n) B's (called only inside the bounds)
//   A_ALONG_K, B_ALONG_N        1 when neighbouring k of A (n of B) are neighbours in memory, so that
//                               neighbouring work items load neighbouring words
//   STORE(g, s, m, n, v)        where C's element goes (s: the depth slice when the depth is split)
//   GEMM_SPLIT                  depth slices: the third launch dimension is group · GEMM_SPLIT + slice
// It #undefs all of those at its end, so the next kernel defines them afresh.
// Tile constants (-D, chosen per device, see Sources/StrataOpenCL/Tuning.swift): TM, TN, TK, WM, WN;
// TK 0 reads the operands straight from global memory (no local memory, no barriers).
// The work-group is (TN / WN) × (TM / WM) items: local id 0 runs along n, local id 1 along m.

__kernel __attribute__((reqd_work_group_size(TN / WN, TM / WM, 1)))
void GEMM_NAME(GEMM_ARGS) {
    const int ln = get_local_id(0), lm = get_local_id(1), item = lm * (TN / WN) + ln;
    const int n0 = get_group_id(0) * TN, m0 = get_group_id(1) * TM;
    const int g = get_group_id(2) / GEMM_SPLIT, s = get_group_id(2) % GEMM_SPLIT;
    const int per = ((GK + GEMM_SPLIT - 1) / GEMM_SPLIT + max(TK, 1) - 1) / max(TK, 1) * max(TK, 1);
    const int kBegin = s * per, kEnd = min(GK, kBegin + per);
    float acc[WM][WN];
    for (int i = 0; i < WM; i++)
        for (int j = 0; j < WN; j++) acc[i][j] = 0.0f;
#if TK > 0
    __local float As[TK][TM + 1];
    __local float Bs[TK][TN + 1];
    for (int k0 = kBegin; k0 < kEnd; k0 += TK) {
        for (int e = item; e < TM * TK; e += (TM / WM) * (TN / WN)) {
#if A_ALONG_K
            const int kk = e % TK, mm = e / TK;
#else
            const int mm = e % TM, kk = e / TM;
#endif
            const int m = m0 + mm, k = k0 + kk;
            As[kk][mm] = (m < GM && k < kEnd) ? LOAD_A(g, m, k) : 0.0f;
        }
        for (int e = item; e < TN * TK; e += (TM / WM) * (TN / WN)) {
#if B_ALONG_N
            const int nn = e % TN, kk = e / TN;
#else
            const int kk = e % TK, nn = e / TK;
#endif
            const int n = n0 + nn, k = k0 + kk;
            Bs[kk][nn] = (n < GN && k < kEnd) ? LOAD_B(g, k, n) : 0.0f;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int kk = 0; kk < TK; kk++) {
            float a[WM], b[WN];
            for (int i = 0; i < WM; i++) a[i] = As[kk][lm + i * (TM / WM)];
            for (int j = 0; j < WN; j++) b[j] = Bs[kk][ln + j * (TN / WN)];
            for (int i = 0; i < WM; i++)
                for (int j = 0; j < WN; j++) acc[i][j] += a[i] * b[j];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#else
    // TK 0: no local memory and no barriers, each item reading its operands where they are (for CPU
    // devices, whose caches do the staging and whose compilers vectorise across neighbouring items).
    for (int k = kBegin; k < kEnd; k++) {
        float a[WM], b[WN];
        for (int i = 0; i < WM; i++) { const int m = m0 + lm + i * (TM / WM); a[i] = m < GM ? LOAD_A(g, m, k) : 0.0f; }
        for (int j = 0; j < WN; j++) { const int n = n0 + ln + j * (TN / WN); b[j] = n < GN ? LOAD_B(g, k, n) : 0.0f; }
        for (int i = 0; i < WM; i++)
            for (int j = 0; j < WN; j++) acc[i][j] += a[i] * b[j];
    }
#endif
    for (int i = 0; i < WM; i++) {
        const int m = m0 + lm + i * (TM / WM);
        if (m >= GM) break;
        for (int j = 0; j < WN; j++) {
            const int n = n0 + ln + j * (TN / WN);
            if (n < GN) STORE(g, s, m, n, acc[i][j]);
        }
    }
}

#undef GEMM_NAME
#undef GEMM_ARGS
#undef GM
#undef GN
#undef GK
#undef A_ALONG_K
#undef B_ALONG_N
#undef GEMM_SPLIT
#undef LOAD_A
#undef LOAD_B
#undef STORE
