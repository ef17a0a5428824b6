// AVX-512 versions of kernels whose portable versions the compiler cannot vectorise well.
#include "avx512.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

int STRATA_AVX512 strata_maxpool_plane_avx512(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                int oh, int ow, float *y, int32_t *switches) {
    // A chunk of outputs of one row reads input columns [x0, x0 + 32): two vectors, from which each
    // window column is picked with one permute. Outside the plane the vectors hold −inf, which never
    // wins: each lane is seeded with its window's first element inside the plane, as the scalar loop
    // is, and only strictly greater values replace it, so the first maximum wins ties.
    int chunk = kw <= 32 && sw >= 1 ? (32 - kw) / sw + 1 : 0;
    if (chunk > 16) chunk = 16;
    if (chunk < 1 || (long)h * w > 0x7fffffffL) return -1;
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_mullo_epi32(lane, _mm512_set1_epi32(sw));
    const __m512 minus_inf = _mm512_set1_ps(-__builtin_inff());
    for (int oy = 0; oy < oh; oy++) {
        int ys = oy * sh - ph, ye = ys + kh;
        if (ys < 0) ys = 0;
        if (ye > h) ye = h;
        for (int ox0 = 0; ox0 < ow; ox0 += chunk) {
            int count = ow - ox0 < chunk ? ow - ox0 : chunk;
            __mmask16 active = (__mmask16)((1u << count) - 1);
            int x0 = ox0 * sw - pw;
            // Per lane: its window's first column relative to x0, and the first one inside the plane.
            __m512i start = step;
            __m512i first = _mm512_max_epi32(start, _mm512_set1_epi32(-x0));
            __mmask16 nonempty = ys < ye ? _mm512_mask_cmplt_epi32_mask(active, _mm512_add_epi32(first, _mm512_set1_epi32(x0)), _mm512_set1_epi32(w)) &
                                               _mm512_cmplt_epi32_mask(first, _mm512_add_epi32(start, _mm512_set1_epi32(kw)))
                                         : 0;
            __m512 best = minus_inf;
            __m512i at = _mm512_set1_epi32(-1);
            int seeded = 0;
            for (int iy = ys; iy < ye; iy++) {
                const float *line = x + (long)iy * w;
                __m512 lo = _mm512_mask_loadu_ps(minus_inf, strata_lanes(-x0, w - x0), line + x0);
                __m512 hi = _mm512_mask_loadu_ps(minus_inf, strata_lanes(-(x0 + 16), w - (x0 + 16)), line + x0 + 16);
                __m512i row = _mm512_set1_epi32(iy * w + x0);
                if (!seeded) {
                    best = _mm512_permutex2var_ps(lo, first, hi);
                    at = _mm512_add_epi32(row, first);
                    seeded = 1;
                }
                for (int j = 0; j < kw; j++) {
                    __m512i column = _mm512_add_epi32(start, _mm512_set1_epi32(j));
                    __m512 v = _mm512_permutex2var_ps(lo, column, hi);
                    // v > best, or v is NaN and best is not: the first NaN wins and stays.
                    __mmask16 better = _mm512_cmp_ps_mask(v, best, _CMP_NLE_UQ) & _mm512_cmp_ps_mask(best, best, _CMP_ORD_Q);
                    best = _mm512_mask_mov_ps(best, better, v);
                    at = _mm512_mask_mov_epi32(at, better, _mm512_add_epi32(row, column));
                }
            }
            // Empty windows (only with padding of a whole window): 0 and switch −1.
            at = _mm512_mask_mov_epi32(_mm512_set1_epi32(-1), nonempty, at);
            best = _mm512_maskz_mov_ps(nonempty, best);
            _mm512_mask_storeu_ps(y + oy * ow + ox0, active, best);
            _mm512_mask_storeu_epi32(switches + oy * ow + ox0, active, at);
        }
    }
    return 0;
}

#else

int strata_maxpool_plane_avx512(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                int oh, int ow, float *y, int32_t *switches) {
    (void)x; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw; (void)ph; (void)pw; (void)oh; (void)ow; (void)y; (void)switches;
    return -1;
}

#endif
