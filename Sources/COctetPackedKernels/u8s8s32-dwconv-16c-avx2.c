/* u8s8s32-dwconv-{3x3,5x5,}-16c-avx2: channels-last depthwise convolution, 16 channels per
   step. Each tap pair's u8 inputs are widened to s16, interleaved (unpacklo/hi) and
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

__attribute__((always_inline)) OCTET_AVX2 static inline void pixels(const octet_packed_dwconv *d, size_t taps, const uint8_t *x, void *c,
                                                                     const octet_packed_output *o, size_t p0, size_t p1) {
    const size_t C = d->channels, pairs = (taps + 1) / 2, blocks = C / 16, rem = C % 16, block_words = 16 * (1 + pairs);
    const uint8_t *ptr[OCTET_DW_MAX_TAPS + 1];
    for (size_t p = p0; p < p1; p++) {
        const size_t oy = p / d->ow, ox = p % d->ow;
        size_t t = 0;
        for (size_t ky = 0; ky < d->kh; ky++) {
            const long iy = (long)(oy * d->stride_h + ky * d->dilation_h) - (long)d->pad_top;
            for (size_t kx = 0; kx < d->kw; kx++, t++) {
                const long ix = (long)(ox * d->stride_w + kx * d->dilation_w) - (long)d->pad_left;
                ptr[t] = iy >= 0 && iy < (long)d->h && ix >= 0 && ix < (long)d->w ? x + ((size_t)iy * d->w + (size_t)ix) * C : d->zero;
            }
        }
        if (taps & 1) ptr[taps] = ptr[taps - 1]; /* its weight is zero */
        for (size_t b = 0; b <= blocks; b++) {
            const size_t n0 = b * 16, n = b < blocks ? 16 : rem;
            if (n == 0) break;
            __m256i lo, hi;
            if (n == 16) block(pairs, ptr, n0, 16, d->weights + b * block_words, &lo, &hi);
            else block(pairs, ptr, n0, n, d->weights + b * block_words, &lo, &hi);
            const __m256i r0 = _mm256_permute2x128_si256(lo, hi, 0x20), r1 = _mm256_permute2x128_si256(lo, hi, 0x31);
            if (n == 16) {
                if (o->to_f32) {
                    float *dst = (float *)c + p * C + n0;
                    octet_avx2_dequant8(r0, n0, o, dst);
                    octet_avx2_dequant8(r1, n0 + 8, o, dst + 8);
                } else {
                    const __m128i q0 = octet_avx2_requant8(r0, n0, o), q1 = octet_avx2_requant8(r1, n0 + 8, o);
                    _mm_storeu_si128((__m128i *)((uint8_t *)c + p * C + n0), _mm_unpacklo_epi64(q0, q1));
                }
            } else {
                int32_t acc[16];
                _mm256_storeu_si256((__m256i *)acc, r0);
                _mm256_storeu_si256((__m256i *)(acc + 8), r1);
                for (size_t i = 0; i < n; i++) octet_store_scalar(acc[i], n0 + i, o, c, p * C + n0 + i);
            }
        }
    }
}

OCTET_AVX2 static void dwconv_3x3(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, 9, x, c, o, p0, p1);
}

OCTET_AVX2 static void dwconv_5x5(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, 25, x, c, o, p0, p1);
}

OCTET_AVX2 void octet_u8s8s32_dwconv_16c_avx2(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o,
                                              size_t p0, size_t p1) {
    if (d->kh == 3 && d->kw == 3) dwconv_3x3(d, x, c, o, p0, p1);
    else if (d->kh == 5 && d->kw == 5) dwconv_5x5(d, x, c, o, p0, p1);
    else pixels(d, d->kh * d->kw, x, c, o, p0, p1); /* the dispatcher keeps taps <= OCTET_DW_MAX_TAPS */
}
#endif
