/* u8s8s32-dwconv-{3x3,5x5,}-64c-avx512vnni: channels-last depthwise convolution, 64 channels
   per step, with `vpdpbusd` over taps in groups of four. For each group the four taps' 64
   input bytes are interleaved (two byte and two word unpacks per pair of vectors) into one
   dword per channel, [x_t0, x_t1, x_t2, x_t3], and one vpdpbusd adds the four u8·s8
   products into that channel's s32 lane: exact (no intermediate saturation). The taps are
   padded to a multiple of four with zero weights. Weights are the raw s8 values, so the
   kernel needs symmetric weights (zero point 0); the activation zero point is folded into
   the bias (padding reads a row of zero points, which then adds nothing), as in the AVX2
   kernels. The unpacks work within 128-bit lanes, so the four accumulators hold channels in
   a permuted order (the packed weights follow it); a 4 x 4 transpose of lanes restores it
   before the fused requantization. Channel tails use masked loads and stores. */
#include "packed_internal.h"

enum { DW64 = 64, DW64_MAX_TAPS = 128 };

/* Position of channel c (0..63 within a block) in the packed order: accumulator i = (c % 16) / 4,
   lane l = c / 16, element e = c % 4 → word i · 16 + l · 4 + e. */
static inline size_t permuted(size_t c) { return ((c % 16) / 4) * 16 + (c / 16) * 4 + c % 4; }

size_t octet_packed_dwconv_vnni_weight_words(size_t channels, size_t taps) {
    return (channels + DW64 - 1) / DW64 * DW64 * (1 + (taps + 3) / 4);
}

void octet_packed_pack_dwconv_vnni_weights(size_t channels, size_t taps, const int8_t *w, int32_t a_zero_point, const int32_t *bias,
                                           int32_t *out) {
    const size_t quads = (taps + 3) / 4, blocks = (channels + DW64 - 1) / DW64, block_words = DW64 * (1 + quads);
    memset(out, 0, blocks * block_words * sizeof(int32_t));
    for (size_t ch = 0; ch < channels; ch++) {
        int32_t *block = out + (ch / DW64) * block_words;
        const size_t pos = permuted(ch % DW64);
        int32_t sum = 0;
        for (size_t t = 0; t < taps; t++) {
            const int8_t v = w[ch * taps + t];
            sum += v;
            ((int8_t *)(block + DW64 + (t / 4) * DW64 + pos))[t % 4] = v;
        }
        block[pos] = (bias ? bias[ch] : 0) - a_zero_point * sum;
    }
}

#if OCTET_X86
#define OCTET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

/* Dequantizes 16 channels n0.. of one pixel to f32 and writes `count` of them (≤ 16) at
   element `index` of c: the operations of `octet_store_scalar`, in the same order (u8 outputs
   take `pixels_u8`). */
OCTET_AVX512VNNI static inline void store16_f32(__m512i raw, size_t n0, size_t count, const octet_packed_output *o, void *c, size_t index) {
    const __mmask16 m = count >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << count) - 1);
    __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(raw), _mm512_maskz_loadu_ps(m, o->dequant_scale + n0));
    if (o->bias_real) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(m, o->bias_real + n0));
    /* max/min return the second operand when one is NaN: NaN stays NaN, as in the scalar form. */
    y = _mm512_min_ps(_mm512_set1_ps(o->hi), _mm512_max_ps(_mm512_set1_ps(o->lo), y));
    _mm512_mask_storeu_ps((float *)c + index, m, y);
}

/* One block of up to 64 channels (n valid) of one pixel. */
OCTET_AVX512VNNI static inline __attribute__((always_inline)) void block(size_t quads, const uint8_t *const *ptr, size_t coff, size_t n,
                                                                         const int32_t *wb, __m512i acc[4]) {
    const __mmask64 m = n >= DW64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
    for (int i = 0; i < 4; i++) acc[i] = _mm512_loadu_si512(wb + 16 * i);
    const int32_t *wq = wb + DW64;
    for (size_t j = 0; j < quads; j++, wq += DW64) {
        const uint8_t *const *p = ptr + 4 * j;
        __m512i x0, x1, x2, x3;
        if (n >= DW64) {
            x0 = _mm512_loadu_si512(p[0] + coff), x1 = _mm512_loadu_si512(p[1] + coff);
            x2 = _mm512_loadu_si512(p[2] + coff), x3 = _mm512_loadu_si512(p[3] + coff);
        } else {
            x0 = _mm512_maskz_loadu_epi8(m, p[0] + coff), x1 = _mm512_maskz_loadu_epi8(m, p[1] + coff);
            x2 = _mm512_maskz_loadu_epi8(m, p[2] + coff), x3 = _mm512_maskz_loadu_epi8(m, p[3] + coff);
        }
        const __m512i u01l = _mm512_unpacklo_epi8(x0, x1), u01h = _mm512_unpackhi_epi8(x0, x1);
        const __m512i u23l = _mm512_unpacklo_epi8(x2, x3), u23h = _mm512_unpackhi_epi8(x2, x3);
        acc[0] = _mm512_dpbusd_epi32(acc[0], _mm512_unpacklo_epi16(u01l, u23l), _mm512_loadu_si512(wq));
        acc[1] = _mm512_dpbusd_epi32(acc[1], _mm512_unpackhi_epi16(u01l, u23l), _mm512_loadu_si512(wq + 16));
        acc[2] = _mm512_dpbusd_epi32(acc[2], _mm512_unpacklo_epi16(u01h, u23h), _mm512_loadu_si512(wq + 32));
        acc[3] = _mm512_dpbusd_epi32(acc[3], _mm512_unpackhi_epi16(u01h, u23h), _mm512_loadu_si512(wq + 48));
    }
}

/* Accumulator i holds, in lane l, channels 16·l + 4·i .. + 3: a 4 x 4 transpose of 128-bit lanes
   gives channels 16·r .. 16·r + 15 in out[r]. */
OCTET_AVX512VNNI static inline void unpermute(const __m512i acc[4], __m512i out[4]) {
    const __m512i t0 = _mm512_shuffle_i32x4(acc[0], acc[1], 0x44), t1 = _mm512_shuffle_i32x4(acc[2], acc[3], 0x44);
    const __m512i t2 = _mm512_shuffle_i32x4(acc[0], acc[1], 0xEE), t3 = _mm512_shuffle_i32x4(acc[2], acc[3], 0xEE);
    out[0] = _mm512_shuffle_i32x4(t0, t1, 0x88), out[1] = _mm512_shuffle_i32x4(t0, t1, 0xDD);
    out[2] = _mm512_shuffle_i32x4(t2, t3, 0x88), out[3] = _mm512_shuffle_i32x4(t2, t3, 0xDD);
}

/* u8 output, one 64-channel block at a time over all the pixels (its requantization constants
   stay in registers). The constants are loaded in channel order and put in the accumulators'
   order by the same lane transpose (it is its own inverse); after requantization two
   saturating packs per lane (s32 → s16 → u8, exact on codes within [0, 255]) undo the
   unpacks' order, so lane l holds channels 16·l .. 16·l + 15 and one 64-byte store writes them. */
OCTET_AVX512VNNI static inline __attribute__((always_inline)) void pixels_u8(const octet_packed_dwconv *d, size_t taps, const uint8_t *x,
                                                                             uint8_t *c, const octet_packed_output *o, const ptrdiff_t *delta,
                                                                             const uint8_t **ptr, size_t p0, size_t p1) {
    const size_t C = d->channels, quads = (taps + 3) / 4, block_words = DW64 * (1 + quads);
    const __m512 lo = _mm512_set1_ps((float)(o->qmin - o->out_zero_point)), hi = _mm512_set1_ps((float)(o->qmax - o->out_zero_point));
    const __m512i zp = _mm512_set1_epi32(o->out_zero_point);
    for (size_t n0 = 0; n0 < C; n0 += DW64) {
        const size_t n = C - n0 < DW64 ? C - n0 : DW64;
        const __mmask64 bytes = n >= DW64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
        __m512i mul[4], bias[4], t[4];
        for (int i = 0; i < 4; i++) {
            const size_t ci = 16 * (size_t)i, left = n > ci ? n - ci : 0;
            const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
            t[i] = _mm512_castps_si512(_mm512_maskz_loadu_ps(m, o->multiplier + n0 + ci));
            bias[i] = o->bias_f32 ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, o->bias_f32 + n0 + ci)) : _mm512_setzero_si512();
        }
        unpermute(t, mul);
        for (int i = 0; i < 4; i++) t[i] = bias[i];
        unpermute(t, bias);
        const int32_t *wb = d->weights + (n0 / DW64) * block_words;
        size_t oy = p0 / d->ow, ox = p0 % d->ow;
        for (size_t p = p0; p < p1; p++, ox = ox + 1 == d->ow ? (oy++, 0) : ox + 1) {
            octet_dwconv_tap_pointers(d, taps, x, delta, oy, ox, ptr);
            __m512i acc[4], q[4];
            block(quads, ptr, n0, n, wb, acc);
            for (int i = 0; i < 4; i++) {
                __m512 f = _mm512_cvtepi32_ps(acc[i]);
                if (o->bias_f32) f = _mm512_add_ps(f, _mm512_castsi512_ps(bias[i]));
                f = _mm512_mul_ps(f, _mm512_castsi512_ps(mul[i]));
                f = _mm512_min_ps(_mm512_max_ps(f, lo), hi); /* max(f, lo) maps NaN to lo */
                q[i] = _mm512_add_epi32(_mm512_cvtps_epi32(f), zp); /* RNE */
            }
            const __m512i u = _mm512_packus_epi16(_mm512_packs_epi32(q[0], q[1]), _mm512_packs_epi32(q[2], q[3]));
            _mm512_mask_storeu_epi8(c + p * C + n0, bytes, u);
        }
    }
}

OCTET_AVX512VNNI static inline __attribute__((always_inline)) void pixels(const octet_packed_dwconv *d, size_t taps, const uint8_t *x, void *c,
                                                                          const octet_packed_output *out, size_t p0, size_t p1) {
    const size_t C = d->channels, quads = (taps + 3) / 4, block_words = DW64 * (1 + quads);
    const uint8_t *ptr[DW64_MAX_TAPS];
    /* A local copy: u8 stores may alias anything, so fields read through `out` would be reloaded. */
    const octet_packed_output local = *out;
    const octet_packed_output *o = &local;
    ptrdiff_t delta[DW64_MAX_TAPS];
    octet_dwconv_tap_offsets(d, delta);
    /* Padding taps (weight 0) read the zero row. */
    for (size_t t = taps; t < 4 * quads; t++) ptr[t] = d->zero;
    if (!o->to_f32) {
        pixels_u8(d, taps, x, (uint8_t *)c, o, delta, ptr, p0, p1);
        return;
    }
    size_t oy = p0 / d->ow, ox = p0 % d->ow;
    for (size_t p = p0; p < p1; p++, ox = ox + 1 == d->ow ? (oy++, 0) : ox + 1) {
        octet_dwconv_tap_pointers(d, taps, x, delta, oy, ox, ptr);
        for (size_t b = 0; b * DW64 < C; b++) {
            const size_t n0 = b * DW64, n = C - n0 < DW64 ? C - n0 : DW64;
            __m512i acc[4], r[4];
            block(quads, ptr, n0, n, d->weights + b * block_words, acc);
            unpermute(acc, r);
            for (size_t i = 0; i * 16 < n; i++) store16_f32(r[i], n0 + 16 * i, n - 16 * i, o, c, p * C + n0 + 16 * i);
        }
    }
}

OCTET_AVX512VNNI static void dwconv_3x3(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, 9, x, c, o, p0, p1);
}

OCTET_AVX512VNNI static void dwconv_5x5(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, 25, x, c, o, p0, p1);
}

OCTET_AVX512VNNI static void dwconv_any(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    pixels(d, d->kh * d->kw, x, c, o, p0, p1);
}
#endif

int octet_packed_dwconv_vnni_applies(octet_packed_isa isa, const octet_packed_dwconv *d) {
    return OCTET_X86 && isa == OCTET_PACKED_AVX512_VNNI && d->kh * d->kw >= 1 && d->kh * d->kw <= DW64_MAX_TAPS - 3;
}

int octet_packed_dwconv_vnni_nhwc(octet_packed_isa isa, const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *out,
                                  size_t pixel_begin, size_t pixel_end) {
    if (!octet_packed_dwconv_vnni_applies(isa, d)) return 1;
#if OCTET_X86
    if (d->kh == 3 && d->kw == 3) dwconv_3x3(d, x, c, out, pixel_begin, pixel_end);
    else if (d->kh == 5 && d->kw == 5) dwconv_5x5(d, x, c, out, pixel_begin, pixel_end);
    else dwconv_any(d, x, c, out, pixel_begin, pixel_end);
#else
    (void)x, (void)c, (void)out, (void)pixel_begin, (void)pixel_end;
#endif
    return 0;
}
