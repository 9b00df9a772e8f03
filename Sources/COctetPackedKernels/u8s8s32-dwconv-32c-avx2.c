/* u8s8s32-dwconv-{3x3,5x5,}-32c-avx2: channels-last depthwise convolution, 32 channels per
   step (then 16, then a tail). Each tap pair's u8 inputs are widened to s16, interleaved (unpacklo/hi) and
   multiplied with the packed s16 weight pairs by vpmaddwd: exact, no saturation. The
   activation zero point is folded into the bias (padding reads a row of zero points), so the
   inner loop is loads, unpacks and multiply-adds only. Requantization is fused. */
#include "packed_internal.h"

#if OCTET_X86
enum { OCTET_DW_MAX_TAPS = 127 };

/* The accumulators of one 16-channel block: `lo` holds channels 0-3 and 8-11, `hi` 4-7 and
   12-15 (the order of the per-lane unpacks; the packed weights follow it). */
__attribute__((always_inline)) OCTET_AVX2 static inline void block(size_t pairs, const uint8_t *const *ptr, size_t coff, size_t rem,
                                                                    const int32_t *wb, __m256i *lo_out, __m256i *hi_out) {
    __m256i lo = _mm256_loadu_si256((const __m256i *)wb), hi = _mm256_loadu_si256((const __m256i *)(wb + 8));
    const int32_t *wp = wb + 16;
    for (size_t p = 0; p < pairs; p++) {
        __m128i x0, x1;
        if (rem == 16) {
            x0 = _mm_loadu_si128((const __m128i *)(ptr[2 * p] + coff));
            x1 = _mm_loadu_si128((const __m128i *)(ptr[2 * p + 1] + coff));
        } else {
            uint8_t t0[16] = {0}, t1[16] = {0};
            memcpy(t0, ptr[2 * p] + coff, rem);
            memcpy(t1, ptr[2 * p + 1] + coff, rem);
            x0 = _mm_loadu_si128((const __m128i *)t0);
            x1 = _mm_loadu_si128((const __m128i *)t1);
        }
        const __m256i v0 = _mm256_cvtepu8_epi16(x0), v1 = _mm256_cvtepu8_epi16(x1);
        lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_unpacklo_epi16(v0, v1), _mm256_loadu_si256((const __m256i *)(wp + p * 16))));
        hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_unpackhi_epi16(v0, v1), _mm256_loadu_si256((const __m256i *)(wp + p * 16 + 8))));
    }
    *lo_out = lo;
    *hi_out = hi;
}

/* Two adjacent 16-channel blocks at once (32 channels per step): the tap pointers are read
   once for both, and four independent accumulators keep the multiply pipes busy. */
__attribute__((always_inline)) OCTET_AVX2 static inline void block2(size_t pairs, const uint8_t *const *ptr, size_t coff, const int32_t *wb,
                                                                     size_t block_words, __m256i acc[4]) {
    const int32_t *wa = wb + 16, *wc = wb + block_words + 16;
    __m256i lo0 = _mm256_loadu_si256((const __m256i *)wb), hi0 = _mm256_loadu_si256((const __m256i *)(wb + 8));
    __m256i lo1 = _mm256_loadu_si256((const __m256i *)(wb + block_words)), hi1 = _mm256_loadu_si256((const __m256i *)(wb + block_words + 8));
    for (size_t p = 0; p < pairs; p++) {
        const uint8_t *p0 = ptr[2 * p] + coff, *p1 = ptr[2 * p + 1] + coff;
        const __m256i a0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p0)), a1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)p1));
        const __m256i b0 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p0 + 16))), b1 = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(p1 + 16)));
        lo0 = _mm256_add_epi32(lo0, _mm256_madd_epi16(_mm256_unpacklo_epi16(a0, a1), _mm256_loadu_si256((const __m256i *)(wa + p * 16))));
        hi0 = _mm256_add_epi32(hi0, _mm256_madd_epi16(_mm256_unpackhi_epi16(a0, a1), _mm256_loadu_si256((const __m256i *)(wa + p * 16 + 8))));
        lo1 = _mm256_add_epi32(lo1, _mm256_madd_epi16(_mm256_unpacklo_epi16(b0, b1), _mm256_loadu_si256((const __m256i *)(wc + p * 16))));
        hi1 = _mm256_add_epi32(hi1, _mm256_madd_epi16(_mm256_unpackhi_epi16(b0, b1), _mm256_loadu_si256((const __m256i *)(wc + p * 16 + 8))));
    }
    acc[0] = lo0;
    acc[1] = hi0;
    acc[2] = lo1;
    acc[3] = hi1;
}

/* Stores one 16-channel block (accumulators in unpack order) of pixel p, channels n0.. */
__attribute__((always_inline)) OCTET_AVX2 static inline void store16(__m256i lo, __m256i hi, size_t p, size_t C, size_t n0,
                                                                      const octet_packed_output *o, void *c) {
    const __m256i r0 = _mm256_permute2x128_si256(lo, hi, 0x20), r1 = _mm256_permute2x128_si256(lo, hi, 0x31);
    if (o->to_f32) {
        float *dst = (float *)c + p * C + n0;
        octet_avx2_dequant8(r0, n0, o, dst, 0, 1.0f);
        octet_avx2_dequant8(r1, n0 + 8, o, dst + 8, 0, 1.0f);
    } else {
        const __m128i q0 = octet_avx2_requant8(r0, n0, o), q1 = octet_avx2_requant8(r1, n0 + 8, o);
        _mm_storeu_si128((__m128i *)((uint8_t *)c + p * C + n0), _mm_unpacklo_epi64(q0, q1));
    }
}

/* Stores two adjacent 16-channel blocks (accumulators in unpack order) of pixel p, channels
   n0 .. n0 + 31. u8: the operations of `octet_avx2_requant8` per 8 channels, then one pack
   of all 32 (packs/packus work per 128-bit lane; a dword permute restores channel order)
   and one 32-byte store. */
__attribute__((always_inline)) OCTET_AVX2 static inline void store32(const __m256i acc[4], size_t p, size_t C, size_t n0,
                                                                      const octet_packed_output *o, void *c) {
    __m256i r[4];
    for (int h = 0; h < 2; h++) {
        r[2 * h] = _mm256_permute2x128_si256(acc[2 * h], acc[2 * h + 1], 0x20);
        r[2 * h + 1] = _mm256_permute2x128_si256(acc[2 * h], acc[2 * h + 1], 0x31);
    }
    if (o->to_f32) {
        float *dst = (float *)c + p * C + n0;
        for (int i = 0; i < 4; i++) octet_avx2_dequant8(r[i], n0 + 8 * (size_t)i, o, dst + 8 * i, 0, 1.0f);
        return;
    }
    const __m256 lo = _mm256_set1_ps((float)(o->qmin - o->out_zero_point)), hi = _mm256_set1_ps((float)(o->qmax - o->out_zero_point));
    const __m256i zp = _mm256_set1_epi32(o->out_zero_point);
    __m256i q[4];
    for (int i = 0; i < 4; i++) {
        __m256 f = _mm256_cvtepi32_ps(r[i]);
        if (o->bias_f32) f = _mm256_add_ps(f, _mm256_loadu_ps(o->bias_f32 + n0 + 8 * i));
        f = _mm256_mul_ps(f, _mm256_loadu_ps(o->multiplier + n0 + 8 * i));
        f = _mm256_min_ps(_mm256_max_ps(f, lo), hi);
        q[i] = _mm256_add_epi32(_mm256_cvtps_epi32(f), zp);
    }
    /* Lane 0 ends as channels 0-3, 8-11, 16-19, 24-27; lane 1 as 4-7, 12-15, 20-23, 28-31. */
    const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    _mm256_storeu_si256((__m256i *)((uint8_t *)c + p * C + n0), _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

__attribute__((always_inline)) OCTET_AVX2 static inline void pixels(const octet_packed_dwconv *d, size_t taps, const uint8_t *x, void *c,
                                                                     const octet_packed_output *out, size_t p0, size_t p1) {
    const size_t C = d->channels, pairs = (taps + 1) / 2, blocks = C / 16, rem = C % 16, block_words = 16 * (1 + pairs);
    const uint8_t *ptr[OCTET_DW_MAX_TAPS + 1];
    /* A local copy: u8 stores may alias anything, so fields read through `out` would be reloaded. */
    const octet_packed_output local = *out;
    const octet_packed_output *o = &local;
    ptrdiff_t delta[OCTET_DW_MAX_TAPS];
    octet_dwconv_tap_offsets(d, delta);
    /* The output row and column of p advance with it (no division per pixel). */
    size_t oy = p0 / d->ow, ox = p0 % d->ow;
    for (size_t p = p0; p < p1; p++, ox = ox + 1 == d->ow ? (oy++, 0) : ox + 1) {
        octet_dwconv_tap_pointers(d, taps, x, delta, oy, ox, ptr);
        if (taps & 1) ptr[taps] = ptr[taps - 1]; /* its weight is zero */
        size_t b = 0;
        for (; b + 2 <= blocks; b += 2) {
            __m256i acc[4];
            block2(pairs, ptr, b * 16, d->weights + b * block_words, block_words, acc);
            store32(acc, p, C, b * 16, o, c);
        }
        for (; b <= blocks; b++) {
            const size_t n0 = b * 16, n = b < blocks ? 16 : rem;
            if (n == 0) break;
            __m256i lo, hi;
            if (n == 16) {
                block(pairs, ptr, n0, 16, d->weights + b * block_words, &lo, &hi);
                store16(lo, hi, p, C, n0, o, c);
                continue;
            }
            block(pairs, ptr, n0, n, d->weights + b * block_words, &lo, &hi);
            int32_t acc[16];
            _mm256_storeu_si256((__m256i *)acc, _mm256_permute2x128_si256(lo, hi, 0x20));
            _mm256_storeu_si256((__m256i *)(acc + 8), _mm256_permute2x128_si256(lo, hi, 0x31));
            for (size_t i = 0; i < n; i++) octet_store_scalar(acc[i], 0, n0 + i, o, c, p * C + n0 + i);
        }
    }
}

OCTET_AVX2 static void dwconv_3x3(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, 9, x, c, o, p0, p1);
}

OCTET_AVX2 static void dwconv_5x5(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, 25, x, c, o, p0, p1);
}

OCTET_AVX2 void octet_u8s8s32_dwconv_32c_avx2(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o,
                                              size_t p0, size_t p1) {
    if (d->kh == 3 && d->kw == 3) dwconv_3x3(d, x, c, o, p0, p1);
    else if (d->kh == 5 && d->kw == 5) dwconv_5x5(d, x, c, o, p0, p1);
    else pixels(d, d->kh * d->kw, x, c, o, p0, p1); /* the dispatcher keeps taps <= OCTET_DW_MAX_TAPS */
}
#endif
