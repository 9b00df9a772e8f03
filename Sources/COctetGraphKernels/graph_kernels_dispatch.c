/* Each public graph kernel picks its variant from the one host description
 * (octet_host_isa(), capped by OCTET_MAX_ISA); nothing here reads the hardware. */
#include "octet_graph_kernels.h"
#include "octet_isa.h"

#if defined(__x86_64__)
#define VARIANTS(name, params) void name##_avx2 params; void name##_portable params;
#define DISPATCH(name, params, args)                                         \
    void name params {                                                       \
        if (octet_host_has(OCTET_ISA_AVX2)) name##_avx2 args;                \
        else name##_portable args;                                           \
    }
#else
#define VARIANTS(name, params) void name##_portable params;
#define DISPATCH(name, params, args) void name params { name##_portable args; }
#endif

#define KERNEL(name, params, args) VARIANTS(name, params) DISPATCH(name, params, args)

KERNEL(octet_f32_binary,
       (octet_binary_op op, const float *a, ptrdiff_t a_stride, const float *b, ptrdiff_t b_stride, float *out, size_t n),
       (op, a, a_stride, b, b_stride, out, n))
KERNEL(octet_f32_clamp, (const float *x, float *out, size_t n, float lo, float hi), (x, out, n, lo, hi))
KERNEL(octet_f32_pool2d,
       (int is_max, const float *src, float *dst, size_t planes, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw,
        int pad_top, int pad_left, int pad_bottom, int pad_right, int dh, int dw, int count_include_pad),
       (is_max, src, dst, planes, h, w, oh, ow, kh, kw, sh, sw, pad_top, pad_left, pad_bottom, pad_right, dh, dw, count_include_pad))
KERNEL(octet_f32_pool2d_nhwc,
       (int is_max, const float *src, float *dst, size_t batch, size_t c, int h, int w, int oh, int ow, int kh, int kw, int sh,
        int sw, int pad_top, int pad_left, int pad_bottom, int pad_right, int dh, int dw, int count_include_pad),
       (is_max, src, dst, batch, c, h, w, oh, ow, kh, kw, sh, sw, pad_top, pad_left, pad_bottom, pad_right, dh, dw, count_include_pad))
KERNEL(octet_f32_global_avg_pool_nhwc, (const float *src, float *dst, size_t batch, size_t pixels, size_t c),
       (src, dst, batch, pixels, c))
KERNEL(octet_quantize_i8, (int is_signed, const float *x, uint8_t *q, size_t n, float scale, int zero_point, int qmin, int qmax),
       (is_signed, x, q, n, scale, zero_point, qmin, qmax))
KERNEL(octet_dequantize_i8, (int is_signed, const uint8_t *q, float *x, size_t n, float scale, int zero_point),
       (is_signed, q, x, n, scale, zero_point))
KERNEL(octet_q8_add,
       (int is_signed, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t n, float sa, int za, float sb, int zb, float sy,
        int zy, int qmin, int qmax),
       (is_signed, a, b, y, n, sa, za, sb, zb, sy, zy, qmin, qmax))
KERNEL(octet_q8_mul,
       (int is_signed, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t n, float sa, int za, float sb, int zb, float sy,
        int zy, int qmin, int qmax),
       (is_signed, a, b, y, n, sa, za, sb, zb, sy, zy, qmin, qmax))
KERNEL(octet_f32_unary, (octet_unary_op op, const float *x, float *out, size_t n), (op, x, out, n))
KERNEL(octet_f32_softmax_rows, (const float *x, float *out, size_t rows, size_t n), (x, out, rows, n))
KERNEL(octet_f32_layer_norm_rows,
       (const float *x, const float *gamma, const float *beta, float *out, size_t rows, size_t n, float epsilon),
       (x, gamma, beta, out, rows, n, epsilon))
KERNEL(octet_u32_remap2d,
       (const uint32_t *src, uint32_t *dst, int ih, int iw, int oh, int ow, const int32_t *ymap, const int32_t *xmap, uint32_t fill,
        size_t row_begin, size_t row_end),
       (src, dst, ih, iw, oh, ow, ymap, xmap, fill, row_begin, row_end))
KERNEL(octet_u32_transpose2d, (const uint32_t *src, uint32_t *dst, size_t rows, size_t cols, size_t block_begin, size_t block_end),
       (src, dst, rows, cols, block_begin, block_end))
KERNEL(octet_f32_reduce, (octet_reduce_kind kind, const float *src, float *dst, size_t r, size_t inner, size_t begin, size_t end),
       (kind, src, dst, r, inner, begin, end))
KERNEL(octet_f32_softmax_strided, (const float *x, float *out, size_t n, size_t stride, size_t begin, size_t end),
       (x, out, n, stride, begin, end))
KERNEL(octet_f32_max_pool2d_planes,
       (const float *src, float *dst, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw, int pad_top, int pad_left,
        int pad_bottom, int pad_right, size_t plane_begin, size_t plane_end),
       (src, dst, h, w, oh, ow, kh, kw, sh, sw, pad_top, pad_left, pad_bottom, pad_right, plane_begin, plane_end))
