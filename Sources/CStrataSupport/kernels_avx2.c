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

// Active lanes whose window has an element inside the plane: there are rows, and the first column
// inside the plane (`first`, from x0) lies inside the plane and inside the window [start, start + kw).
static inline __m256i STRATA_AVX2 nonempty_lanes(int rows, __m256i active, __m256i start, __m256i first, int x0, int w, int kw) {
    if (!rows) return _mm256_setzero_si256();
    __m256i inside_plane = _mm256_cmpgt_epi32(_mm256_set1_epi32(w), _mm256_add_epi32(first, _mm256_set1_epi32(x0)));
    __m256i inside_window = _mm256_cmpgt_epi32(_mm256_add_epi32(start, _mm256_set1_epi32(kw)), first);
    return _mm256_and_si256(_mm256_and_si256(active, inside_plane), inside_window);
}

// 8 floats from p, −inf in the lanes outside the plane (`inside`: all ones where inside; those
// outside are not read).
static inline __m256 STRATA_AVX2 load_inside(const float *p, __m256i inside) {
    return _mm256_blendv_ps(_mm256_set1_ps(-__builtin_inff()), _mm256_maskload_ps(p, inside), _mm256_castsi256_ps(inside));
}

// Element idx (0..15) of the pair (lo, hi), per lane.
static inline __m256 STRATA_AVX2 pick16(__m256 lo, __m256 hi, __m256i idx) {
    __m256 a = _mm256_permutevar8x32_ps(lo, idx), b = _mm256_permutevar8x32_ps(hi, idx);
    return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_cmpgt_epi32(idx, _mm256_set1_epi32(7))));
}

// Stride 2, windows up to 3 wide (every pool of AlexNet, ZFNet and the mini nets): 8 outputs a
// pass read input columns [x0, x0 + 17). Each row is split once into its even and odd columns
// (two shuffles and two lane permutes), which are window columns 0 and 1 of the 8 outputs; column 2
// is the even columns moved down a lane with column x0 + 16 put last. That replaces the generic
// path's two permutes, a compare and a blend per window column and row, and makes 8 outputs a pass
// instead of 7. The comparisons, the seed and the tie and NaN rules are the generic path's.
static int STRATA_AVX2 maxpool_stride2_avx2(const float *x, int h, int w, int kh, int kw, int sh, int ph, int pw,
                                           int oh, int ow, float *y, int32_t *switches) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i start = _mm256_add_epi32(lane, lane);   // 2·lane: each window's first column, from x0
    const __m256i down = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
    const __m256 minus_inf = _mm256_set1_ps(-__builtin_inff());
    for (int oy = 0; oy < oh; oy++) {
        int ys = oy * sh - ph, ye = ys + kh;
        if (ys < 0) ys = 0;
        if (ye > h) ye = h;
        for (int ox0 = 0; ox0 < ow; ox0 += 8) {
            int count = ow - ox0 < 8 ? ow - ox0 : 8;
            __m256i active = lanes8(0, count);
            int x0 = ox0 * 2 - pw;
            __m256i first = _mm256_max_epi32(start, _mm256_set1_epi32(-x0));
            __m256i nonempty = nonempty_lanes(ys < ye, active, start, first, x0, w, kw);
            __m256i in_lo = lanes8(-x0, w - x0), in_hi = lanes8(-(x0 + 8), w - (x0 + 8));
            int last_inside = x0 + 16 >= 0 && x0 + 16 < w;
            // Window column j of the 8 outputs, as input columns from x0: 2·lane + j.
            __m256i column[3] = {start, _mm256_add_epi32(start, _mm256_set1_epi32(1)), _mm256_add_epi32(start, _mm256_set1_epi32(2))};
            __m256 best = minus_inf;
            __m256i at = _mm256_set1_epi32(-1);
            int seeded = 0;
            for (int iy = ys; iy < ye; iy++) {
                const float *line = x + (long)iy * w;
                __m256 lo = load_inside(line + x0, in_lo), hi = load_inside(line + x0 + 8, in_hi);
                __m256i row = _mm256_set1_epi32(iy * w + x0);
                if (!seeded) {
                    best = pick16(lo, hi, first);   // first ≤ 15: pw < 16
                    at = _mm256_add_epi32(row, first);
                    seeded = 1;
                }
                // [lo0 lo2 hi0 hi2 | lo4 lo6 hi4 hi6] → [lo0 lo2 lo4 lo6 hi0 hi2 hi4 hi6]: columns 0, 2, ..., 14.
                __m256 even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0x88)), 0xD8));
                __m256 odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(lo, hi, 0xDD)), 0xD8));
                __m256 v[3] = {even, odd, even};
                if (kw > 2) {
                    __m256 next = _mm256_set1_ps(last_inside ? line[x0 + 16] : -__builtin_inff());
                    v[2] = _mm256_blend_ps(_mm256_permutevar8x32_ps(even, down), next, 0x80);
                }
                for (int j = 0; j < kw; j++) {
                    // v > best, or v is NaN and best is not: the first NaN wins and stays.
                    __m256 better = _mm256_and_ps(_mm256_cmp_ps(v[j], best, _CMP_NLE_UQ), _mm256_cmp_ps(best, best, _CMP_ORD_Q));
                    best = _mm256_blendv_ps(best, v[j], better);
                    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(_mm256_add_epi32(row, column[j])), better));
                }
            }
            at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(_mm256_set1_epi32(-1)), _mm256_castsi256_ps(at), _mm256_castsi256_ps(nonempty)));
            best = _mm256_and_ps(best, _mm256_castsi256_ps(nonempty));
            if (count == 8) {
                _mm256_storeu_ps(y + oy * ow + ox0, best);
                _mm256_storeu_si256((__m256i *)(switches + oy * ow + ox0), at);
            } else {
                _mm256_maskstore_ps(y + oy * ow + ox0, active, best);
                _mm256_maskstore_epi32(switches + oy * ow + ox0, active, at);
            }
        }
    }
    return 0;
}

int STRATA_AVX2 strata_maxpool_plane_avx2(const float *x, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw,
                                          int oh, int ow, float *y, int32_t *switches) {
    if (sw == 2 && kw >= 1 && kw <= 3 && pw >= 0 && pw < 16 && (long)h * w <= 0x7fffffffL)
        return maxpool_stride2_avx2(x, h, w, kh, kw, sh, ph, pw, oh, ow, y, switches);
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
            __m256i nonempty = nonempty_lanes(ys < ye, active, start, first, x0, w, kw);
            __m256 best = minus_inf;
            __m256i at = _mm256_set1_epi32(-1);
            int seeded = 0;
            __m256i in_lo = lanes8(-x0, w - x0), in_hi = lanes8(-(x0 + 8), w - (x0 + 8));
            for (int iy = ys; iy < ye; iy++) {
                const float *line = x + (long)iy * w;
                __m256 lo = load_inside(line + x0, in_lo), hi = load_inside(line + x0 + 8, in_hi);
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
