// Private to CStrataSupport: the AVX-512 versions of some kernels, chosen at run time.
#ifndef STRATA_AVX512_H
#define STRATA_AVX512_H
#include <stdint.h>

/// strata_maxpool_plane_f32, up to sixteen outputs of a row at a time. Same results, same switches
/// (the first maximum in row-major window order wins). Only on a CPU with AVX-512F (the GEMM path chosen for the executor decides); returns
/// −1, having done nothing, for windows over 32 wide.
int strata_maxpool_plane_avx512(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                int oh, int ow, float *y, int32_t *switches);

/// The same with 8 lanes, for AVX2 + FMA (windows up to 16 wide); −1 for wider windows.
int strata_maxpool_plane_avx2(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                              int oh, int ow, float *y, int32_t *switches);

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define STRATA_AVX512 __attribute__((target("avx512f")))

/// Lanes [lo, hi) of 16 set (none when hi <= lo); lo below 0 and hi above 16 are clipped.
static inline __mmask16 STRATA_AVX512 strata_lanes(int lo, int hi) {
    if (lo < 0) lo = 0;
    if (hi > 16) hi = 16;
    return hi <= lo ? (__mmask16)0 : (__mmask16)(((1u << (hi - lo)) - 1) << lo);
}
#endif

#endif
