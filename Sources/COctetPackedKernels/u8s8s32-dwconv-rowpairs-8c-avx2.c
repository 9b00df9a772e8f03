/* u8s8s32-dwconv-{3x3,5x5,}-rowpairs-8c-avx2: channels-last depthwise convolution, dilation 1,
   horizontal stride 1 or 2, 8 channels per vector, no shuffle in the multiply loop.

   Each input row the window needs is first turned, for one block of 8 channels, into a row of
   "horizontal pairs": position k holds, per channel, the s16 pair (x[col], x[col + 1]) with
   col = k·e − pad_left (e = 2 for stride 2, whose windows start at even padded columns, else 1);
   columns outside the image read the activation zero point. Window tap pair (kx, kx + 1) of
   output pixel ox is then one 32-byte load at position ox + (kx / 2)·(2 / e), multiplied with
   the packed s16 weight pair by vpmaddwd (exact: |x·w| ≤ 255·255, two per s32 lane); an odd
   last tap pairs with weight 0. A row of pairs costs one unpack and one zero-extension per 8
   channels per input position and serves every window tap pair of every output row that reads
   that input row (a ring of kh rows follows the output rows). Rows above or below the image
   are one shared row of zero-point pairs, so the multiply loop has no bounds checks.

   The activation zero point and the s32 bias are folded into the packed bias words, as in
   `u8s8s32-dwconv-32c-avx2`; the requantization is the shared fused AVX2 store. */
#include "packed_internal.h"

/* Output rows per band: the band's input rows stay in cache while every channel block passes. */
enum { BAND_ROWS = 8 };

static size_t pairs_per_row(size_t kw) { return (kw + 1) / 2; }

size_t octet_packed_dwconv_rows_weight_words(size_t channels, size_t kh, size_t kw) {
    return (channels + 7) / 8 * 8 * (1 + kh * pairs_per_row(kw));
}

void octet_packed_pack_dwconv_rows_weights(size_t C, size_t kh, size_t kw, const int8_t *w, int32_t zb, int32_t za, const int32_t *bias,
                                           int32_t *out) {
    const size_t np = pairs_per_row(kw), taps = kh * kw, block_words = 8 * (1 + kh * np);
    memset(out, 0, sizeof(int32_t) * octet_packed_dwconv_rows_weight_words(C, kh, kw));
    for (size_t ch = 0; ch < C; ch++) {
        int32_t *b = out + (ch / 8) * block_words;
        const size_t s = ch % 8;
        const int8_t *wc = w + ch * taps;
        int32_t sum = 0;
        for (size_t t = 0; t < taps; t++) sum += wc[t] - zb;
        b[s] = (bias ? bias[ch] : 0) - za * sum;
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t j = 0; j < np; j++) {
                const int32_t lo = wc[ky * kw + 2 * j] - zb, hi = 2 * j + 1 < kw ? wc[ky * kw + 2 * j + 1] - zb : 0;
                b[8 + (ky * np + j) * 8 + s] = octet_pair(lo, hi);
            }
    }
}

int octet_packed_dwconv_rows_applies(octet_packed_isa isa, const octet_packed_dwconv *d) {
    return octet_isa_avx2(isa) && d->dilation_h == 1 && d->dilation_w == 1 && (d->stride_w == 1 || d->stride_w == 2) &&
           d->stride_h >= 1 && d->kh >= 1 && d->kh <= 64 && d->kw >= 1 && d->oh >= 1 && d->ow >= 1 && d->channels >= 1;
}

/* Positions per row of pairs (see the file comment), and the position step between pair j and j + 1. */
static size_t row_positions(const octet_packed_dwconv *d) {
    const size_t step = d->stride_w == 2 ? 1 : 2;
    return d->ow + step * (pairs_per_row(d->kw) - 1);
}

size_t octet_packed_dwconv_rows_scratch_bytes(const octet_packed_dwconv *d) {
    return (d->kh + 1) * row_positions(d) * 8 * sizeof(int32_t) + 64;
}

#if OCTET_X86
/* 8 u8 of channels c0.. of input column `col` (n valid channels; zero point outside the row). */
__attribute__((always_inline)) OCTET_AVX2 static inline __m128i load8(const uint8_t *row, long col, size_t w, size_t C, size_t n, __m128i zv) {
    if (col < 0 || col >= (long)w) return zv;
    if (n == 8) return _mm_loadl_epi64((const __m128i *)(row + (size_t)col * C));
    uint8_t t[16];
    _mm_storeu_si128((__m128i *)t, zv);
    memcpy(t, row + (size_t)col * C, n);
    return _mm_loadu_si128((const __m128i *)t);
}

/* Row of pairs of input row r, channels c0 .. c0 + n − 1, into q (positions x 8 words). */
OCTET_AVX2 static void build_row(const octet_packed_dwconv *d, const uint8_t *x, size_t r, size_t c0, size_t n, size_t positions, __m128i zv,
                                 int32_t *q) {
    const size_t C = d->channels, e = d->stride_w == 2 ? 2 : 1;
    const uint8_t *row = x + r * d->w * C + c0;
    const long pad = (long)d->pad_left;
    /* Positions whose two columns both lie in the image, for the unchecked loop. */
    size_t k_lo = (size_t)((pad + (long)e - 1) / (long)e), k_hi = d->w >= 2 ? (size_t)(((long)d->w - 2 + pad) / (long)e) + 1 : 0;
    if (k_hi > positions) k_hi = positions;
    if (k_lo > k_hi || n != 8) k_lo = k_hi = positions;
    for (size_t k = 0; k < k_lo; k++) {
        const long col = (long)(k * e) - pad;
        const __m128i v = _mm_unpacklo_epi8(load8(row, col, d->w, C, n, zv), load8(row, col + 1, d->w, C, n, zv));
        _mm256_store_si256((__m256i *)(q + k * 8), _mm256_cvtepu8_epi16(v));
    }
    const uint8_t *src = k_lo < k_hi ? row + (size_t)((long)(k_lo * e) - pad) * C : row;
    for (size_t k = k_lo; k < k_hi; k++, src += e * C) {
        const __m128i v = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)src), _mm_loadl_epi64((const __m128i *)(src + C)));
        _mm256_store_si256((__m256i *)(q + k * 8), _mm256_cvtepu8_epi16(v));
    }
    for (size_t k = k_hi > k_lo ? k_hi : k_lo; k < positions; k++) {
        const long col = (long)(k * e) - pad;
        const __m128i v = _mm_unpacklo_epi8(load8(row, col, d->w, C, n, zv), load8(row, col + 1, d->w, C, n, zv));
        _mm256_store_si256((__m256i *)(q + k * 8), _mm256_cvtepu8_epi16(v));
    }
}

/* Stores the 8 accumulators of pixel `pixel`, channels c0 .. c0 + n − 1. */
__attribute__((always_inline)) OCTET_AVX2 static inline void store8(__m256i acc, size_t pixel, size_t C, size_t c0, size_t n,
                                                                     const octet_packed_output *o, void *c) {
    if (o->to_f32) {
        float *dst = (float *)c + pixel * C + c0;
        if (n == 8) {
            octet_avx2_dequant8(acc, c0, o, dst, 0, 1.0f);
        } else {
            float t[8];
            octet_avx2_dequant8(acc, c0, o, t, 0, 1.0f);
            memcpy(dst, t, n * sizeof(float));
        }
    } else {
        uint8_t *dst = (uint8_t *)c + pixel * C + c0;
        const __m128i q = octet_avx2_requant8(acc, c0, o);
        if (n == 8) {
            _mm_storel_epi64((__m128i *)dst, q);
        } else {
            uint8_t t[16];
            _mm_storeu_si128((__m128i *)t, q);
            memcpy(dst, t, n);
        }
    }
}

/* The output stage of one 8-channel block, loaded once per block. */
typedef struct block_stage {
    __m256 mul, bias, lo, hi; /* u8: multiplier, bias_f32 (0 when absent), clamp; f32: dequant scale, bias_real */
    __m256i zp;
} block_stage;

__attribute__((always_inline)) OCTET_AVX2 static inline block_stage stage_for(const octet_packed_output *o, size_t c0) {
    block_stage s;
    if (o->to_f32) {
        s.mul = _mm256_loadu_ps(o->dequant_scale + c0);
        s.bias = o->bias_real ? _mm256_loadu_ps(o->bias_real + c0) : _mm256_setzero_ps();
        s.lo = _mm256_set1_ps(o->lo);
        s.hi = _mm256_set1_ps(o->hi);
    } else {
        s.mul = _mm256_loadu_ps(o->multiplier + c0);
        s.bias = o->bias_f32 ? _mm256_loadu_ps(o->bias_f32 + c0) : _mm256_setzero_ps();
        s.lo = _mm256_set1_ps((float)(o->qmin - o->out_zero_point));
        s.hi = _mm256_set1_ps((float)(o->qmax - o->out_zero_point));
    }
    s.zp = _mm256_set1_epi32(o->out_zero_point);
    return s;
}

/* Four pixels' accumulators of a full 8-channel block to u8, pixel u at dst + u·C. The same
   operations, in the same order, as `octet_avx2_requant8` (adding a zero bias is exact on
   integers converted to float); the four results are packed together and stored 8 bytes each. */
__attribute__((always_inline)) OCTET_AVX2 static inline void store4_u8(const __m256i acc[4], const block_stage *s, uint8_t *dst, size_t C) {
    __m256i q[4];
    for (int u = 0; u < 4; u++) {
        __m256 f = _mm256_mul_ps(_mm256_add_ps(_mm256_cvtepi32_ps(acc[u]), s->bias), s->mul);
        f = _mm256_min_ps(_mm256_max_ps(f, s->lo), s->hi);
        q[u] = _mm256_add_epi32(_mm256_cvtps_epi32(f), s->zp);
    }
    /* packs/packus work per 128-bit lane: lane 0 ends as pixels 0-3 channels 0-3, lane 1 as channels 4-7. */
    const __m256i b = _mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    const __m256i r = _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    const __m128i lo = _mm256_castsi256_si128(r), hi = _mm256_extracti128_si256(r, 1);
    _mm_storel_epi64((__m128i *)dst, lo);
    _mm_storeh_pd((double *)(dst + C), _mm_castsi128_pd(lo));
    _mm_storel_epi64((__m128i *)(dst + 2 * C), hi);
    _mm_storeh_pd((double *)(dst + 3 * C), _mm_castsi128_pd(hi));
}

/* As `octet_avx2_dequant8` for four pixels of a full block (adding a zero bias is exact). */
__attribute__((always_inline)) OCTET_AVX2 static inline void store4_f32(const __m256i acc[4], const block_stage *s, float *dst, size_t C) {
    for (int u = 0; u < 4; u++) {
        const __m256 y = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc[u]), s->mul), s->bias);
        _mm256_storeu_ps(dst + u * C, _mm256_min_ps(s->hi, _mm256_max_ps(s->lo, y)));
    }
}

/* Output pixels [ox0, ox1) of output row oy for one channel block. Each pixel is one long
   dependent chain (multiply-adds, conversion, packing): four pixels side by side keep the
   pipes busy. KH and NP are constants for the unrolled windows (the weights then stay in
   registers), 0 for any window. A partial block (n < 8) goes pixel by pixel. */
__attribute__((always_inline)) OCTET_AVX2 static inline void row_pixels(size_t KH, size_t NP, const octet_packed_dwconv *d, const int32_t *const *qr,
                                                                         const int32_t *wb, size_t oy, size_t ox0, size_t ox1, size_t c0, size_t n,
                                                                         const octet_packed_output *o, void *c) {
    enum { U = 4 };
    const size_t kh = KH ? KH : d->kh, np = NP ? NP : pairs_per_row(d->kw), step = (d->stride_w == 2 ? 1 : 2) * 8;
    const size_t C = d->channels, pixel0 = oy * d->ow;
    const __m256i bias = _mm256_loadu_si256((const __m256i *)wb);
    __m256i wv[KH && NP ? KH * NP : 1];
    if (KH && NP)
        for (size_t t = 0; t < KH * NP; t++) wv[t] = _mm256_loadu_si256((const __m256i *)(wb + 8 + t * 8));
    const block_stage st = stage_for(o, c0);
    size_t ox = ox0;
    if (n == 8) {
        for (; ox + U <= ox1; ox += U) {
            __m256i acc[U];
            for (size_t u = 0; u < U; u++) acc[u] = bias;
            for (size_t ky = 0; ky < kh; ky++) {
                const int32_t *q = qr[ky] + ox * 8;
                for (size_t j = 0; j < np; j++) {
                    const __m256i wj = KH && NP ? wv[ky * NP + j] : _mm256_loadu_si256((const __m256i *)(wb + 8 + (ky * np + j) * 8));
                    for (size_t u = 0; u < U; u++)
                        acc[u] = _mm256_add_epi32(acc[u], _mm256_madd_epi16(wj, _mm256_load_si256((const __m256i *)(q + j * step + u * 8))));
                }
            }
            const size_t first = (pixel0 + ox) * C + c0;
            if (o->to_f32) store4_f32(acc, &st, (float *)c + first, C);
            else store4_u8(acc, &st, (uint8_t *)c + first, C);
        }
    }
    for (; ox < ox1; ox++) {
        __m256i acc = bias;
        for (size_t ky = 0; ky < kh; ky++)
            for (size_t j = 0; j < np; j++) {
                const __m256i wj = KH && NP ? wv[ky * NP + j] : _mm256_loadu_si256((const __m256i *)(wb + 8 + (ky * np + j) * 8));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(wj, _mm256_load_si256((const __m256i *)(qr[ky] + ox * 8 + j * step))));
            }
        store8(acc, pixel0 + ox, C, c0, n, o, c);
    }
}

__attribute__((always_inline)) OCTET_AVX2 static inline void run(size_t KH, size_t NP, const octet_packed_dwconv *d, const uint8_t *x, void *c,
                                                                  const octet_packed_output *out, size_t p0, size_t p1, void *scratch) {
    if (p0 >= p1) return;
    /* A local copy: u8 stores may alias anything, so fields read through `out` would be reloaded. */
    const octet_packed_output local = *out;
    const octet_packed_output *o = &local;
    const size_t C = d->channels, kh = d->kh, np = pairs_per_row(d->kw), positions = row_positions(d), row_words = positions * 8;
    const size_t blocks = (C + 7) / 8, block_words = 8 * (1 + kh * np);
    int32_t *base = (int32_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int32_t *zero_row = base, *ring = base + row_words;
    const uint8_t za = (uint8_t)o->a_zero_point;
    const __m128i zv = _mm_set1_epi8((char)za);
    const __m256i zpair = _mm256_set1_epi32((int32_t)((uint32_t)za | (uint32_t)za << 16));
    for (size_t k = 0; k < positions; k++) _mm256_store_si256((__m256i *)(zero_row + k * 8), zpair);
    const int32_t *qr[64];
    long tags[64];
    const size_t first = p0 / d->ow, last = (p1 - 1) / d->ow;
    for (size_t band = first; band <= last; band += BAND_ROWS) {
        const size_t band_last = band + BAND_ROWS - 1 < last ? band + BAND_ROWS - 1 : last;
        for (size_t b = 0; b < blocks; b++) {
            const size_t c0 = b * 8, n = C - c0 < 8 ? C - c0 : 8;
            const int32_t *wb = d->weights + b * block_words;
            for (size_t s = 0; s < kh; s++) tags[s] = -1;
            for (size_t oy = band; oy <= band_last; oy++) {
                for (size_t ky = 0; ky < kh; ky++) {
                    const long iy = (long)(oy * d->stride_h + ky) - (long)d->pad_top;
                    if (iy < 0 || iy >= (long)d->h) {
                        qr[ky] = zero_row;
                        continue;
                    }
                    const size_t slot = (size_t)iy % kh;
                    int32_t *q = ring + slot * row_words;
                    if (tags[slot] != iy) {
                        build_row(d, x, (size_t)iy, c0, n, positions, zv, q);
                        tags[slot] = iy;
                    }
                    qr[ky] = q;
                }
                const size_t ox0 = oy == first ? p0 % d->ow : 0, ox1 = oy == last ? (p1 - 1) % d->ow + 1 : d->ow;
                row_pixels(KH, NP, d, qr, wb, oy, ox0, ox1, c0, n, o, c);
            }
        }
    }
}

OCTET_AVX2 static void run_3x3(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1,
                               void *scratch) {
    run(3, 2, d, x, c, o, p0, p1, scratch);
}

OCTET_AVX2 static void run_5x5(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1,
                               void *scratch) {
    run(5, 3, d, x, c, o, p0, p1, scratch);
}

OCTET_AVX2 static void run_any(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1,
                               void *scratch) {
    run(0, 0, d, x, c, o, p0, p1, scratch);
}
#endif

int octet_packed_dwconv_rows_nhwc(octet_packed_isa isa, const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o,
                                  size_t p0, size_t p1, void *scratch) {
    if (!octet_packed_dwconv_rows_applies(isa, d)) return 1;
#if OCTET_X86
    if (d->kh == 3 && d->kw == 3) run_3x3(d, x, c, o, p0, p1, scratch);
    else if (d->kh == 5 && d->kw == 5) run_5x5(d, x, c, o, p0, p1, scratch);
    else run_any(d, x, c, o, p0, p1, scratch);
    return 0;
#else
    (void)x, (void)c, (void)o, (void)p0, (void)p1, (void)scratch;
    return 1;
#endif
}
