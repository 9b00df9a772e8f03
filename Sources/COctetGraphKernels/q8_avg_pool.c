/* 2-D average pooling of 8-bit integers (u8, or s8), NHWC or NCHW, requantized:
 *   y = saturate(round_half_even((Σ (q − zx)) · sx / count / sy) + zy)
 * over the window's input positions (count includes the padding inside the padded image
 * when count_include_pad; padding adds nothing to the sum: it is the real value 0). The
 * same float operations in the same order as qnnpack-ref's reference pooling.
 * Global average pooling is the window h x w with stride 1 and no padding. Two variants,
 * chosen from the one host description: portable C, and the same body compiled for AVX2
 * (channels-last sums widen 8-bit codes into 32-bit lanes). Both give the same bits. */
#include "octet_graph_kernels.h"
#include "octet_isa.h"

#include <math.h>
#include <stdint.h>

/* Channels summed per pass of a channels-last window (32-bit sums on the stack). */
#define CHANNEL_BLOCK 256

#define AVG_PARAMS                                                                                                     \
    const uint8_t *src, uint8_t *dst, size_t batch, size_t c, int h, int w, int oh, int ow, int kh, int kw, int sh,     \
        int sw, int pad_top, int pad_left, int pad_bottom, int pad_right, int count_include_pad, float sx, int zx,     \
        float sy, int zy, int qmax, size_t row_begin, size_t row_end

/* The window of output (oy, ox): its valid input rows [y0, y1) and columns [x0, x1), and
 * the divisor. */
#define WINDOW                                                                                                         \
    const int wy = oy * sh - pad_top, wx = ox * sw - pad_left;                                                         \
    const int y0 = wy < 0 ? 0 : wy, y1 = wy + kh > h ? h : wy + kh;                                                    \
    const int x0 = wx < 0 ? 0 : wx, x1 = wx + kw > w ? w : wx + kw;                                                    \
    int count;                                                                                                         \
    if (count_include_pad) {                                                                                           \
        const int py1 = wy + kh > h + pad_bottom ? h + pad_bottom : wy + kh;                                           \
        const int px1 = wx + kw > w + pad_right ? w + pad_right : wx + kw;                                             \
        count = (py1 - wy) * (px1 - wx);                                                                               \
    } else {                                                                                                           \
        count = (y1 > y0 && x1 > x0) ? (y1 - y0) * (x1 - x0) : 0;                                                      \
    }

#define REQUANTIZE(T, sum, count, out)                                                                                 \
    {                                                                                                                  \
        const float real = (float)(sum) * sx / (float)((count) > 0 ? (count) : 1);                                      \
        float v = nearbyintf(real / sy) + (float)zy;                                                                   \
        v = v < lo ? lo : (v > hi ? hi : v);                                                                           \
        out = (T)(int)v;                                                                                               \
    }

#define AVG_POOL_NHWC_BODY(T)                                                                                          \
    const T *in = (const T *)src;                                                                                      \
    T *out = (T *)dst;                                                                                                 \
    int32_t sums[CHANNEL_BLOCK];                                                                                       \
    for (size_t r = row_begin; r < row_end; r++) {                                                                     \
        const size_t n = r / (size_t)oh;                                                                               \
        const int oy = (int)(r % (size_t)oh);                                                                          \
        const T *base = in + n * c * (size_t)h * w;                                                                    \
        for (int ox = 0; ox < ow; ox++) {                                                                              \
            WINDOW                                                                                                     \
            const int32_t taps = (y1 > y0 && x1 > x0) ? (y1 - y0) * (x1 - x0) : 0;                                     \
            T *o = out + (r * (size_t)ow + ox) * c;                                                                    \
            for (size_t c0 = 0; c0 < c; c0 += CHANNEL_BLOCK) {                                                         \
                const size_t cn = c - c0 < CHANNEL_BLOCK ? c - c0 : CHANNEL_BLOCK;                                     \
                for (size_t k = 0; k < cn; k++) sums[k] = 0;                                                           \
                for (int y = y0; y < y1; y++) {                                                                        \
                    for (int x = x0; x < x1; x++) {                                                                    \
                        const T *restrict v = base + ((size_t)y * w + x) * c + c0;                                     \
                        for (size_t k = 0; k < cn; k++) sums[k] += v[k];                                               \
                    }                                                                                                  \
                }                                                                                                      \
                for (size_t k = 0; k < cn; k++) REQUANTIZE(T, sums[k] - taps * zx, count, o[c0 + k])                   \
            }                                                                                                          \
        }                                                                                                              \
    }

#define AVG_POOL_NCHW_BODY(T)                                                                                          \
    const T *in = (const T *)src;                                                                                      \
    T *out = (T *)dst;                                                                                                 \
    for (size_t r = row_begin; r < row_end; r++) {                                                                     \
        const size_t plane = r / (size_t)oh;                                                                           \
        const int oy = (int)(r % (size_t)oh);                                                                          \
        const T *base = in + plane * (size_t)h * w;                                                                    \
        for (int ox = 0; ox < ow; ox++) {                                                                              \
            WINDOW                                                                                                     \
            int32_t sum = 0;                                                                                           \
            for (int y = y0; y < y1; y++) {                                                                            \
                const T *restrict row = base + (size_t)y * w;                                                          \
                for (int x = x0; x < x1; x++) sum += row[x] - zx;                                                      \
            }                                                                                                          \
            REQUANTIZE(T, sum, count, out[r * (size_t)ow + ox])                                                        \
        }                                                                                                              \
    }

#define DEFINE_AVG_POOL(SUFFIX, ATTRIBUTE)                                                                             \
    ATTRIBUTE static void avg_pool_##SUFFIX(int is_signed, int channels_last, AVG_PARAMS) {                            \
        _Pragma("clang fp contract(off)") const float lo = is_signed ? -128.0f : 0.0f, hi = fminf(is_signed ? 127.0f : 255.0f, (float)qmax); \
        if (channels_last) {                                                                                           \
            if (is_signed) { AVG_POOL_NHWC_BODY(int8_t) } else { AVG_POOL_NHWC_BODY(uint8_t) }                         \
        } else {                                                                                                       \
            if (is_signed) { AVG_POOL_NCHW_BODY(int8_t) } else { AVG_POOL_NCHW_BODY(uint8_t) }                         \
        }                                                                                                              \
    }

DEFINE_AVG_POOL(portable, )
#if defined(__x86_64__)
DEFINE_AVG_POOL(avx2, __attribute__((target("avx2"))))
#endif

void octet_q8_avg_pool2d(int is_signed, int channels_last, AVG_PARAMS) {
#define ARGS is_signed, channels_last, src, dst, batch, c, h, w, oh, ow, kh, kw, sh, sw, pad_top, pad_left, pad_bottom, \
             pad_right, count_include_pad, sx, zx, sy, zy, qmax, row_begin, row_end
#if defined(__x86_64__)
    if (octet_host_has(OCTET_ISA_AVX2)) {
        avg_pool_avx2(ARGS);
        return;
    }
#endif
    avg_pool_portable(ARGS);
#undef ARGS
}
