/* Kernel bodies, compiled once per ISA (see graph_kernels_*.c); OCTET_FN names each variant. */
#include "octet_graph_kernels.h"
#include <math.h>


#define BINARY_LOOP(EXPR)                                                                  \
    if (a_stride == 1 && b_stride == 1) {                                                  \
        for (size_t i = 0; i < n; i++) { const float x = a[i], y = b[i]; out[i] = EXPR; }  \
    } else if (a_stride == 1) {                                                            \
        const float y = b[0];                                                              \
        for (size_t i = 0; i < n; i++) { const float x = a[i]; out[i] = EXPR; }            \
    } else if (b_stride == 1) {                                                            \
        const float x = a[0];                                                              \
        for (size_t i = 0; i < n; i++) { const float y = b[i]; out[i] = EXPR; }            \
    } else {                                                                               \
        const float x = a[0], y = b[0];                                                    \
        for (size_t i = 0; i < n; i++) out[i] = EXPR;                                      \
    }

void OCTET_FN(octet_f32_binary)(octet_binary_op op, const float *a, ptrdiff_t a_stride, const float *b, ptrdiff_t b_stride,
                      float *out, size_t n) {
    switch (op) {
    case OCTET_ADD: BINARY_LOOP(x + y) break;
    case OCTET_SUB: BINARY_LOOP(x - y) break;
    case OCTET_MUL: BINARY_LOOP(x * y) break;
    case OCTET_DIV: BINARY_LOOP(x / y) break;
    }
}

void OCTET_FN(octet_f32_clamp)(const float *x, float *out, size_t n, float lo, float hi) {
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        v = v < lo ? lo : v;
        out[i] = v > hi ? hi : v;
    }
}

/// The divisor of an average over the window at (y0, x0): the valid elements (`count`),
/// or with `count_include_pad` the window clipped to the padded input; never below 1.
static inline int pool_divisor(int count, int count_include_pad, int y0, int x0, int h, int w, int kh, int kw,
                               int pad_top, int pad_left, int pad_bottom, int pad_right) {
    int divisor = count;
    if (count_include_pad) {
        const int ye = y0 + kh < h + pad_bottom ? y0 + kh : h + pad_bottom;
        const int xe = x0 + kw < w + pad_right ? x0 + kw : w + pad_right;
        const int ys = y0 > -pad_top ? y0 : -pad_top, xs = x0 > -pad_left ? x0 : -pad_left;
        divisor = (ye - ys) * (xe - xs);
    }
    return divisor > 0 ? divisor : 1;
}

void OCTET_FN(octet_f32_pool2d)(int is_max, const float *src, float *dst, size_t planes, int h, int w, int oh, int ow,
                      int kh, int kw, int sh, int sw, int pad_top, int pad_left, int pad_bottom, int pad_right,
                      int dh, int dw, int count_include_pad) {
    for (size_t p = 0; p < planes; p++) {
        const float *in = src + p * (size_t)h * w;
        float *o = dst + p * (size_t)oh * ow;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * sh - pad_top;
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = ox * sw - pad_left;
                float acc = is_max ? -__builtin_inff() : 0.0f;
                int count = 0;
                for (int ky = 0; ky < kh; ky++) {
                    const int y = y0 + ky * dh;
                    if (y < 0 || y >= h) continue;
                    const float *row = in + (size_t)y * w;
                    for (int kx = 0; kx < kw; kx++) {
                        const int x = x0 + kx * dw;
                        if (x < 0 || x >= w) continue;
                        const float v = row[x];
                        if (is_max) acc = v > acc ? v : acc; else acc += v;
                        count++;
                    }
                }
                if (!is_max) acc /= (float)pool_divisor(count, count_include_pad, y0, x0, h, w, kh, kw, pad_top, pad_left, pad_bottom, pad_right);
                o[(size_t)oy * ow + ox] = acc;
            }
        }
    }
}

void OCTET_FN(octet_f32_pool2d_nhwc)(int is_max, const float *src, float *dst, size_t batch, size_t c, int h, int w, int oh, int ow,
                           int kh, int kw, int sh, int sw, int pad_top, int pad_left, int pad_bottom, int pad_right,
                           int dh, int dw, int count_include_pad) {
    for (size_t n = 0; n < batch; n++) {
        const float *in = src + n * (size_t)h * w * c;
        for (int oy = 0; oy < oh; oy++) {
            const int y0 = oy * sh - pad_top;
            for (int ox = 0; ox < ow; ox++) {
                const int x0 = ox * sw - pad_left;
                float *o = dst + ((n * oh + oy) * (size_t)ow + ox) * c;
                for (size_t k = 0; k < c; k++) o[k] = is_max ? -__builtin_inff() : 0.0f;
                int count = 0;
                for (int ky = 0; ky < kh; ky++) {
                    const int y = y0 + ky * dh;
                    if (y < 0 || y >= h) continue;
                    for (int kx = 0; kx < kw; kx++) {
                        const int x = x0 + kx * dw;
                        if (x < 0 || x >= w) continue;
                        const float *v = in + ((size_t)y * w + x) * c;
                        if (is_max) { for (size_t k = 0; k < c; k++) o[k] = v[k] > o[k] ? v[k] : o[k]; }
                        else { for (size_t k = 0; k < c; k++) o[k] += v[k]; }
                        count++;
                    }
                }
                if (!is_max) {
                    const float inv = 1.0f / (float)pool_divisor(count, count_include_pad, y0, x0, h, w, kh, kw, pad_top, pad_left, pad_bottom, pad_right);
                    for (size_t k = 0; k < c; k++) o[k] *= inv;
                }
            }
        }
    }
}

void OCTET_FN(octet_f32_global_avg_pool_nhwc)(const float *src, float *dst, size_t batch, size_t pixels, size_t c) {
    for (size_t n = 0; n < batch; n++) {
        float *o = dst + n * c;
        for (size_t k = 0; k < c; k++) o[k] = 0.0f;
        for (size_t p = 0; p < pixels; p++) {
            const float *v = src + (n * pixels + p) * c;
            for (size_t k = 0; k < c; k++) o[k] += v[k];
        }
        const float inv = 1.0f / (float)(pixels > 0 ? pixels : 1);
        for (size_t k = 0; k < c; k++) o[k] *= inv;
    }
}

void OCTET_FN(octet_quantize_i8)(int is_signed, const float *x, uint8_t *q, size_t n, float scale, int zero_point, int qmin, int qmax) {
    const float lo = (float)qmin, hi = (float)qmax, zp = (float)zero_point;
    if (is_signed) {
        int8_t *o = (int8_t *)q;
        for (size_t i = 0; i < n; i++) {
            float v = nearbyintf(x[i] / scale) + zp;
            v = v != v ? lo : v;
            v = v < lo ? lo : (v > hi ? hi : v);
            o[i] = (int8_t)(int)v;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            float v = nearbyintf(x[i] / scale) + zp;
            v = v != v ? lo : v;
            v = v < lo ? lo : (v > hi ? hi : v);
            q[i] = (uint8_t)(int)v;
        }
    }
}

void OCTET_FN(octet_dequantize_i8)(int is_signed, const uint8_t *q, float *x, size_t n, float scale, int zero_point) {
    if (is_signed) {
        const int8_t *s = (const int8_t *)q;
        for (size_t i = 0; i < n; i++) x[i] = (float)((int)s[i] - zero_point) * scale;
    } else {
        for (size_t i = 0; i < n; i++) x[i] = (float)((int)q[i] - zero_point) * scale;
    }
}

/* `OP` combines the two dequantized values, (a - za)·sa and (b - zb)·sb, as the f32 graph does. */
#define Q8_BINARY_LOOP(T, OP)                                                                  \
    const T *pa = (const T *)a, *pb = (const T *)b;                                            \
    T *py = (T *)y;                                                                            \
    for (size_t i = 0; i < n; i++) {                                                           \
        const float real = ((float)((int)pa[i] - za) * sa) OP((float)((int)pb[i] - zb) * sb);  \
        float v = nearbyintf(real / sy) + zp;                                                  \
        v = v < lo ? lo : (v > hi ? hi : v);                                                   \
        py[i] = (T)(int)v;                                                                     \
    }

#define Q8_BINARY_BODY(OP)                                                                     \
    _Pragma("clang fp contract(off)") const float zp = (float)zy;                              \
    const float lo = fmaxf(is_signed ? -128.0f : 0.0f, (float)qmin);                           \
    const float hi = fminf(is_signed ? 127.0f : 255.0f, (float)qmax);                          \
    if (is_signed) {                                                                           \
        Q8_BINARY_LOOP(int8_t, OP)                                                             \
    } else {                                                                                   \
        Q8_BINARY_LOOP(uint8_t, OP)                                                            \
    }

void OCTET_FN(octet_q8_add)(int is_signed, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t n, float sa, int za,
                            float sb, int zb, float sy, int zy, int qmin, int qmax) {
    Q8_BINARY_BODY(+)
}

void OCTET_FN(octet_q8_mul)(int is_signed, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t n, float sa, int za,
                            float sb, int zb, float sy, int zy, int qmin, int qmax) {
    Q8_BINARY_BODY(*)
}
