// AVX2 versions of the kernels kernels_avx512.c has for AVX-512: the same algorithm, 8 lanes.
#include "avx512.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>

#define STRATA_AVX2 __attribute__((target("avx2,fma")))

// Lanes [lo, hi) of 8 as an all-ones mask per lane.
static inline __m256i STRATA_AVX2 lanes8(int lo, int hi) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane), _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(lo - 1)));
}

// Element idx (0..15) of the pair (lo, hi), per lane.
static inline __m256 STRATA_AVX2 pick16(__m256 lo, __m256 hi, __m256i idx) {
    __m256 a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
    return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7))));
}

int STRATA_AVX2 strata_maxpool_plane_avx2(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                          int oh, int ow, float *y, int32_t *switches) {
    // As the AVX-512 version: a chunk of outputs of one row reads input columns [x0, x0 + 16), two
    // vectors from which each window column is picked per lane; −inf outside the plane never wins,
    // each lane is seeded with its window's first element inside the plane, and only strictly
    // greater values (or a first NaN) replace it, so the first maximum wins ties.
    int chunk = kw <= 16 && sw >= 1 ? (16 - kw) / sw + 1 : 0;
    if (chunk > 8) chunk = 8;
    if (chunk < 1 || (long)h * w > 0x7fffffffL) return -1;
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i step = _mm256_mullo_epi32(lane, _mm256_set1_epi32(sw));
    const __m256 minus_inf = _mm256_set1_ps(-__builtin_inff());
    for (int oy = 0; oy < oh; oy++) {
        int ys = oy * sh - ph, ye = ys + kh;
        if (ys < 0) ys = 0;
        if (ye > h) ye = h;
        for (int ox0 = 0; ox0 < ow; ox0 += chunk) {
            int count = ow - ox0 < chunk ? ow - ox0 : chunk;
            __m256i active = lanes8(0, count);
            int x0 = ox0 * sw - pw;
            __m256i start = step;
            __m256i first = _mm256_max_epi32(start, _mm256_set1_epi32(-x0));
            // Non-empty: the first column inside the plane is inside the plane and inside the window.
            __m256i nonempty = ys < ye ? _mm256_and_si256(_mm256_and_si256(active, _mm256_cmpgt_epi32(_mm256_set1_epi32(w), _mm256_add_epi32(first, _mm256_set1_epi32(x0)))),
                                                          _mm256_cmpgt_epi32(_mm256_add_epi32(start, _mm256_set1_epi32(kw)), first))
                                       : _mm256_setzero_si256();
            __m256 best = minus_inf;
            __m256i at = _mm256_set1_epi32(-1);
            int seeded = 0;
            __m256i in_lo = lanes8(-x0, w - x0), in_hi = lanes8(-(x0 + 8), w - (x0 + 8));
            for (int iy = ys; iy < ye; iy++) {
                const float *line = x + (long)iy * w;
                __m256 lo = _mm256_blendv_ps(minus_inf, _mm256_maskload_ps(line + x0, in_lo), _mm256_castsi256_ps(in_lo));
                __m256 hi = _mm256_blendv_ps(minus_inf, _mm256_maskload_ps(line + x0 + 8, in_hi), _mm256_castsi256_ps(in_hi));
                __m256i row = _mm256_set1_epi32(iy * w + x0);
                if (!seeded) {
                    best = pick16(lo, hi, first);
                    at = _mm256_add_epi32(row, first);
                    seeded = 1;
                }
                for (int j = 0; j < kw; j++) {
                    __m256i column = _mm256_add_epi32(start, _mm256_set1_epi32(j));
                    __m256 v = pick16(lo, hi, column);
                    // v > best, or v is NaN and best is not: the first NaN wins and stays.
                    __m256 better = _mm256_and_ps(_mm256_cmp_ps(v, best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
                    best = _mm256_blendv_ps(best, v, better);
                    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(_mm256_add_epi32(row, column)), better));
                }
            }
            // Empty windows (only with padding of a whole window): 0 and switch −1.
            at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(_mm256_set1_epi32(-1)), _mm256_castsi256_ps(at), _mm256_castsi256_ps(nonempty)));
            best = _mm256_and_ps(best, _mm256_castsi256_ps(nonempty));
            _mm256_maskstore_ps(y + oy * ow + ox0, active, best);
            _mm256_maskstore_epi32(switches + oy * ow + ox0, active, at);
        }
    }
    return 0;
}

#else

int strata_maxpool_plane_avx2(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                              int oh, int ow, float *y, int32_t *switches) {
    (void)x; (void)h; (void)w; (void)kh; (void)kw; (void)sh; (void)sw; (void)ph; (void)pw; (void)oh; (void)ow; (void)y; (void)switches;
    return -1;
}

#endif
