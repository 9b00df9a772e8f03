/* 2-D max pooling of 8-bit integers (u8, or s8), NHWC or NCHW, over a range of output rows
 * so that callers can split the rows over threads. Two variants, chosen from the one host
 * description: portable C, and AVX2 (channels-last taps max-ed 32 channels per vector in
 * registers; planes pooled first down the window's rows, with whole input rows per vector,
 * then across). Both give the same bits: a max is exact. */
#include "octet_graph_kernels.h"
#include "octet_isa.h"

#include <stdint.h>
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* The input rows of a plane a pooling window reads, widest that the two-pass plane
 * pooling keeps on the stack; wider images take the one-pass loop. */
#define PLANE_ROW_LIMIT 4096
/* Taps of one window that the channels-last variant collects before max-ing. */
#define TAP_LIMIT 64

#define GEOMETRY_PARAMS                                                                                                \
    size_t batch, size_t c, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw, int pad_top, int pad_left,    \
        int dh, int dw, size_t row_begin, size_t row_end

/* Channels last, one output pixel at a time: every tap is a run of `c` contiguous values. */
#define MAX_POOL_NHWC_BODY(T, LOWEST)                                                                                  \
    const T *in = (const T *)src;                                                                                      \
    T *out = (T *)dst;                                                                                                 \
    for (size_t r = row_begin; r < row_end; r++) {                                                                     \
        const size_t n = r / (size_t)oh;                                                                               \
        const int oy = (int)(r % (size_t)oh);                                                                          \
        const T *base = in + n * c * (size_t)h * w;                                                                    \
        const int y0 = oy * sh - pad_top;                                                                              \
        for (int ox = 0; ox < ow; ox++) {                                                                              \
            const int x0 = ox * sw - pad_left;                                                                         \
            T *restrict o = out + (r * (size_t)ow + ox) * c;                                                           \
            for (size_t k = 0; k < c; k++) o[k] = LOWEST;                                                              \
            for (int ky = 0; ky < kh; ky++) {                                                                          \
                const int y = y0 + ky * dh;                                                                            \
                if (y < 0 || y >= h) continue;                                                                         \
                for (int kx = 0; kx < kw; kx++) {                                                                      \
                    const int x = x0 + kx * dw;                                                                        \
                    if (x < 0 || x >= w) continue;                                                                     \
                    const T *restrict v = base + ((size_t)y * w + x) * c;                                              \
                    for (size_t k = 0; k < c; k++) o[k] = v[k] > o[k] ? v[k] : o[k];                                   \
                }                                                                                                      \
            }                                                                                                          \
        }                                                                                                              \
    }

/* `o[ox] = max(o[ox], row[ox · sw + kx · dw − pad_left])` for every tap kx, over the output
 * columns whose input column lies inside the row: no test per element. */
#define MAX_ACROSS(T, row, o)                                                                                          \
    for (int kx = 0; kx < kw; kx++) {                                                                                  \
        const int shift = kx * dw - pad_left; /* x = ox * sw + shift */                                                \
        int first = shift >= 0 ? 0 : (-shift + sw - 1) / sw;                                                           \
        int last = w - 1 - shift < 0 ? -1 : (w - 1 - shift) / sw;                                                     \
        if (last > ow - 1) last = ow - 1;                                                                              \
        for (int ox = first; ox <= last; ox++) {                                                                       \
            const T v = row[ox * sw + shift];                                                                          \
            o[ox] = v > o[ox] ? v : o[ox];                                                                             \
        }                                                                                                              \
    }

/* Planes (NCHW), one output row at a time. Rows up to PLANE_ROW_LIMIT wide: the max down
 * the window's valid input rows (contiguous, vectorizable), then across for each output
 * column. Wider rows: each tap max-ed over the output columns it reaches. */
#define MAX_POOL_NCHW_BODY(T, LOWEST)                                                                                  \
    const T *in = (const T *)src;                                                                                      \
    T *out = (T *)dst;                                                                                                 \
    T column[PLANE_ROW_LIMIT];                                                                                         \
    for (size_t r = row_begin; r < row_end; r++) {                                                                     \
        const size_t plane = r / (size_t)oh;                                                                           \
        const int oy = (int)(r % (size_t)oh);                                                                          \
        const T *base = in + plane * (size_t)h * w;                                                                    \
        T *restrict o = out + r * (size_t)ow;                                                                          \
        if (w <= PLANE_ROW_LIMIT) {                                                                                    \
            int rows = 0;                                                                                              \
            for (int ky = 0; ky < kh; ky++) {                                                                          \
                const int y = oy * sh - pad_top + ky * dh;                                                             \
                if (y < 0 || y >= h) continue;                                                                         \
                const T *restrict row = base + (size_t)y * w;                                                          \
                if (rows++ == 0) memcpy(column, row, (size_t)w * sizeof(T));                                           \
                else for (int x = 0; x < w; x++) column[x] = row[x] > column[x] ? row[x] : column[x];                  \
            }                                                                                                          \
            for (int ox = 0; ox < ow; ox++) o[ox] = LOWEST;                                                            \
            if (rows > 0) MAX_ACROSS(T, column, o)                                                                     \
            continue;                                                                                                  \
        }                                                                                                              \
        for (int ox = 0; ox < ow; ox++) o[ox] = LOWEST;                                                                \
        for (int ky = 0; ky < kh; ky++) {                                                                              \
            const int y = oy * sh - pad_top + ky * dh;                                                                 \
            if (y < 0 || y >= h) continue;                                                                             \
            const T *restrict row = base + (size_t)y * w;                                                              \
            MAX_ACROSS(T, row, o)                                                                                      \
        }                                                                                                              \
    }

#define DEFINE_MAX_POOL(SUFFIX, ATTRIBUTE)                                                                             \
    ATTRIBUTE static void u8_nhwc_##SUFFIX(const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {                        \
        MAX_POOL_NHWC_BODY(uint8_t, 0)                                                                                 \
    }                                                                                                                  \
    ATTRIBUTE static void s8_nhwc_##SUFFIX(const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {                        \
        MAX_POOL_NHWC_BODY(int8_t, -128)                                                                               \
    }                                                                                                                  \
    ATTRIBUTE static void u8_nchw_##SUFFIX(const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {                        \
        MAX_POOL_NCHW_BODY(uint8_t, 0)                                                                                 \
    }                                                                                                                  \
    ATTRIBUTE static void s8_nchw_##SUFFIX(const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {                        \
        MAX_POOL_NCHW_BODY(int8_t, -128)                                                                               \
    }

DEFINE_MAX_POOL(portable, )

#if defined(__x86_64__)
DEFINE_MAX_POOL(avx2, __attribute__((target("avx2"))))

/* Channels last with AVX2: the window's valid taps are listed once per output pixel, then
 * each run of 64 (then 32) channels is max-ed across all taps in registers and stored once. */
#define MAX_POOL_NHWC_AVX2(T, LOWEST, VMAX)                                                                            \
    const T *in = (const T *)src;                                                                                      \
    T *out = (T *)dst;                                                                                                 \
    const T *taps[TAP_LIMIT];                                                                                          \
    for (size_t r = row_begin; r < row_end; r++) {                                                                     \
        const size_t n = r / (size_t)oh;                                                                               \
        const int oy = (int)(r % (size_t)oh);                                                                          \
        const T *base = in + n * c * (size_t)h * w;                                                                    \
        const int y0 = oy * sh - pad_top;                                                                              \
        for (int ox = 0; ox < ow; ox++) {                                                                              \
            const int x0 = ox * sw - pad_left;                                                                         \
            T *o = out + (r * (size_t)ow + ox) * c;                                                                    \
            int count = 0;                                                                                             \
            for (int ky = 0; ky < kh; ky++) {                                                                          \
                const int y = y0 + ky * dh;                                                                            \
                if (y < 0 || y >= h) continue;                                                                         \
                for (int kx = 0; kx < kw; kx++) {                                                                      \
                    const int x = x0 + kx * dw;                                                                        \
                    if (x >= 0 && x < w) taps[count++] = base + ((size_t)y * w + x) * c;                               \
                }                                                                                                      \
            }                                                                                                          \
            if (count == 0) {                                                                                          \
                memset(o, (uint8_t)(T)(LOWEST), c);                                                                    \
                continue;                                                                                              \
            }                                                                                                          \
            size_t k = 0;                                                                                              \
            for (; k + 64 <= c; k += 64) {                                                                             \
                __m256i a = _mm256_loadu_si256((const __m256i *)(taps[0] + k));                                        \
                __m256i b = _mm256_loadu_si256((const __m256i *)(taps[0] + k + 32));                                   \
                for (int t = 1; t < count; t++) {                                                                      \
                    a = VMAX(a, _mm256_loadu_si256((const __m256i *)(taps[t] + k)));                                   \
                    b = VMAX(b, _mm256_loadu_si256((const __m256i *)(taps[t] + k + 32)));                              \
                }                                                                                                      \
                _mm256_storeu_si256((__m256i *)(o + k), a);                                                            \
                _mm256_storeu_si256((__m256i *)(o + k + 32), b);                                                       \
            }                                                                                                          \
            for (; k + 32 <= c; k += 32) {                                                                             \
                __m256i a = _mm256_loadu_si256((const __m256i *)(taps[0] + k));                                        \
                for (int t = 1; t < count; t++) a = VMAX(a, _mm256_loadu_si256((const __m256i *)(taps[t] + k)));      \
                _mm256_storeu_si256((__m256i *)(o + k), a);                                                            \
            }                                                                                                          \
            for (; k < c; k++) {                                                                                       \
                T m = taps[0][k];                                                                                      \
                for (int t = 1; t < count; t++) m = taps[t][k] > m ? taps[t][k] : m;                                   \
                o[k] = m;                                                                                              \
            }                                                                                                          \
        }                                                                                                              \
    }

__attribute__((target("avx2"))) static void u8_nhwc_avx2_taps(const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {
    MAX_POOL_NHWC_AVX2(uint8_t, 0, _mm256_max_epu8)
}
__attribute__((target("avx2"))) static void s8_nhwc_avx2_taps(const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {
    MAX_POOL_NHWC_AVX2(int8_t, -128, _mm256_max_epi8)
}
#endif

void octet_i8_max_pool2d(int is_signed, int channels_last, const uint8_t *src, uint8_t *dst, GEOMETRY_PARAMS) {
#define ARGS src, dst, batch, c, h, w, oh, ow, kh, kw, sh, sw, pad_top, pad_left, dh, dw, row_begin, row_end
#if defined(__x86_64__)
    if (octet_host_has(OCTET_ISA_AVX2)) {
        if (channels_last) {
            if ((size_t)kh * (size_t)kw <= TAP_LIMIT) {
                if (is_signed) s8_nhwc_avx2_taps(ARGS); else u8_nhwc_avx2_taps(ARGS);
            } else {
                if (is_signed) s8_nhwc_avx2(ARGS); else u8_nhwc_avx2(ARGS);
            }
        } else {
            if (is_signed) s8_nchw_avx2(ARGS); else u8_nchw_avx2(ARGS);
        }
        return;
    }
#endif
    if (channels_last) {
        if (is_signed) s8_nhwc_portable(ARGS); else u8_nhwc_portable(ARGS);
    } else {
        if (is_signed) s8_nchw_portable(ARGS); else u8_nchw_portable(ARGS);
    }
#undef ARGS
}
