/* u8s8s32-dwconv-scalar: depthwise convolution in portable C, channels-last (over the same
   packed weights as the AVX2 kernel) and NCHW (`u8s8s32-dwconv-nchw-scalar`); weight packing
   and the per-ISA dispatch. */
#include "packed_internal.h"

/* Word of channel i (0..15) within a packed 16-word group: the AVX2 kernel's unpack order
   (lo vector: channels 0-3, 8-11; hi vector: 4-7, 12-15). */
static inline size_t slot(size_t i) { return (i % 8 < 4 ? 0 : 8) + (i / 8) * 4 + i % 4; }

size_t octet_packed_dwconv_weight_words(size_t channels, size_t taps) {
    return (channels + 15) / 16 * 16 * (1 + (taps + 1) / 2);
}

void octet_packed_pack_dwconv_weights(size_t C, size_t taps, const int8_t *w, int32_t zb, int32_t za, const int32_t *bias, int32_t *out) {
    const size_t pairs = (taps + 1) / 2, blocks = (C + 15) / 16, block_words = 16 * (1 + pairs);
    memset(out, 0, sizeof(int32_t) * blocks * block_words);
    for (size_t ch = 0; ch < C; ch++) {
        int32_t *b = out + (ch / 16) * block_words;
        const size_t s = slot(ch % 16);
        int32_t sum = 0;
        for (size_t t = 0; t < taps; t++) sum += w[ch * taps + t] - zb;
        b[s] = (bias ? bias[ch] : 0) - za * sum;
        for (size_t p = 0; p < pairs; p++) {
            const int32_t lo = w[ch * taps + 2 * p] - zb, hi = 2 * p + 1 < taps ? w[ch * taps + 2 * p + 1] - zb : 0;
            b[16 + p * 16 + s] = octet_pair(lo, hi);
        }
    }
}

static void dwconv_nhwc_scalar(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o, size_t p0, size_t p1) {
    const size_t C = d->channels, taps = d->kh * d->kw, pairs = (taps + 1) / 2, block_words = 16 * (1 + pairs);
    for (size_t p = p0; p < p1; p++) {
        const size_t oy = p / d->ow, ox = p % d->ow;
        for (size_t ch = 0; ch < C; ch++) {
            const int32_t *b = d->weights + (ch / 16) * block_words;
            const size_t s = slot(ch % 16);
            int32_t acc = b[s];
            for (size_t t = 0; t < taps; t++) {
                const size_t ky = t / d->kw, kx = t % d->kw;
                const long iy = (long)(oy * d->stride_h + ky * d->dilation_h) - (long)d->pad_top;
                const long ix = (long)(ox * d->stride_w + kx * d->dilation_w) - (long)d->pad_left;
                const int32_t v = iy >= 0 && iy < (long)d->h && ix >= 0 && ix < (long)d->w ? x[((size_t)iy * d->w + (size_t)ix) * C + ch] : d->zero[ch];
                const int32_t word = b[16 + (t / 2) * 16 + s];
                acc += v * (t % 2 ? (int16_t)(word >> 16) : (int16_t)(word & 0xFFFF));
            }
            octet_store_scalar(acc, 0, ch, o, c, p * C + ch);
        }
    }
}

void octet_packed_dwconv_nhwc(octet_packed_isa isa, const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o,
                              size_t p0, size_t p1) {
#if OCTET_X86
    if (octet_isa_avx2(isa) && d->kh * d->kw <= 127) {
        octet_u8s8s32_dwconv_32c_avx2(d, x, c, o, p0, p1);
        return;
    }
#endif
    (void)isa;
    dwconv_nhwc_scalar(d, x, c, o, p0, p1);
}

void octet_packed_depthwise(const octet_packed_depthwise_shape *g, const uint8_t *x, const int8_t *w, void *c,
                            const octet_packed_output *o, size_t c0, size_t c1) {
    const size_t plane = g->h * g->w, out_plane = g->oh * g->ow, taps = g->kh * g->kw;
    const int32_t za = o->a_zero_point, zb = o->b_zero_point;
    for (size_t ch = c0; ch < c1; ch++) {
        const uint8_t *src = x + ch * plane;
        const int8_t *wc = w + ch * taps;
        int32_t wz[64];
        const int small = taps <= 64;
        if (small) for (size_t t = 0; t < taps; t++) wz[t] = wc[t] - zb;
        for (size_t oy = 0; oy < g->oh; oy++) {
            for (size_t ox = 0; ox < g->ow; ox++) {
                int32_t acc = 0;
                for (size_t ky = 0; ky < g->kh; ky++) {
                    const long iy = (long)(oy * g->stride_h + ky * g->dilation_h) - (long)g->pad_top;
                    if (iy < 0 || iy >= (long)g->h) continue;
                    for (size_t kx = 0; kx < g->kw; kx++) {
                        const long ix = (long)(ox * g->stride_w + kx * g->dilation_w) - (long)g->pad_left;
                        if (ix < 0 || ix >= (long)g->w) continue;
                        const size_t t = ky * g->kw + kx;
                        acc += ((int32_t)src[iy * (long)g->w + ix] - za) * (small ? wz[t] : wc[t] - zb);
                    }
                }
                if (o->bias_s32) acc += o->bias_s32[ch];
                octet_store_scalar(acc, 0, ch, o, c, ch * out_plane + oy * g->ow + ox);
            }
        }
    }
}
