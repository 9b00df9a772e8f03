#pragma once
/// Hot loops of the graph runtime's built-in ops (elementwise arithmetic, activations,
/// pooling), in C so that they vectorize; each is compiled twice, for AVX2 and portable,
/// and the variant is chosen per call from the host description (`octet_host_isa()`).
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum octet_binary_op { OCTET_ADD = 0, OCTET_SUB = 1, OCTET_MUL = 2, OCTET_DIV = 3 } octet_binary_op;

/// out[i] = a[i * a_stride] op b[i * b_stride] for i < n; strides are 0 (broadcast) or 1.
void octet_f32_binary(octet_binary_op op, const float *a, ptrdiff_t a_stride, const float *b, ptrdiff_t b_stride,
                      float *out, size_t n);
/// out[i] = min(max(x[i], lo), hi).
void octet_f32_clamp(const float *x, float *out, size_t n, float lo, float hi);
/// 2-D max (is_max = 1) or average pooling over `planes` NCHW planes. For averages,
/// `count_include_pad` divides by the window clipped to the padded input, otherwise by
/// the valid elements.
void octet_f32_pool2d(int is_max, const float *src, float *dst, size_t planes, int h, int w, int oh, int ow,
                      int kh, int kw, int sh, int sw, int pad_top, int pad_left, int pad_bottom, int pad_right,
                      int dh, int dw, int count_include_pad);

/// The same over NHWC (channels-last) tensors, vectorized along the channels.
void octet_f32_pool2d_nhwc(int is_max, const float *src, float *dst, size_t batch, size_t c, int h, int w, int oh, int ow,
                           int kh, int kw, int sh, int sw, int pad_top, int pad_left, int pad_bottom, int pad_right,
                           int dh, int dw, int count_include_pad);
/// 2-D max pooling of 8-bit integers (u8, or s8 when `is_signed`), NCHW planes or NHWC
/// (`channels_last`, with `c` channels); a window that holds no input gives the type's minimum.
/// Writes output rows `row_begin ..< row_end` of the `batch · oh` (NHWC) or `batch · c · oh`
/// (NCHW) rows, so that threads can split them; every row depends on the input only.
void octet_i8_max_pool2d(int is_signed, int channels_last, const uint8_t *src, uint8_t *dst, size_t batch, size_t c, int h, int w,
                         int oh, int ow, int kh, int kw, int sh, int sw, int pad_top, int pad_left, int dh, int dw,
                         size_t row_begin, size_t row_end);
/// 2-D average pooling of 8-bit integers (u8, or s8 when `is_signed`), NCHW planes or NHWC
/// (`channels_last`), requantized from (sx, zx) to (sy, zy):
/// `y = min(saturate(round_half_even(Σ(q − zx) · sx / count / sy) + zy), qmax)` with `count`
/// the window's input positions, plus its padding (inside the padded image) when
/// `count_include_pad`; `qmax` is 127 for a 7-bit (reduce_range) output, else the type's maximum.
/// Global average pooling: kh = h, kw = w, strides 1, no padding. Writes output rows
/// `row_begin ..< row_end` of the `batch · oh` (NHWC) or `batch · c · oh` (NCHW) rows.
void octet_q8_avg_pool2d(int is_signed, int channels_last, const uint8_t *src, uint8_t *dst, size_t batch, size_t c, int h,
                         int w, int oh, int ow, int kh, int kw, int sh, int sw, int pad_top, int pad_left, int pad_bottom,
                         int pad_right, int count_include_pad, float sx, int zx, float sy, int zy, int qmax, size_t row_begin,
                         size_t row_end);
/// ONNX QuantizeLinear, per tensor: q = saturate(round_half_even(x / scale) + zero_point)
/// into u8 (0...255) or, when `is_signed`, s8 (-128...127). NaN becomes the zero point's rounding of 0.
void octet_quantize_i8(int is_signed, const float *x, uint8_t *q, size_t n, float scale, int zero_point);
/// ONNX DequantizeLinear, per tensor: x = (q - zero_point) * scale from u8 or s8.
void octet_dequantize_i8(int is_signed, const uint8_t *q, float *x, size_t n, float scale, int zero_point);
/// Mean over the `pixels` positions of each image of an NHWC tensor: `dst` is N x C.
void octet_f32_global_avg_pool_nhwc(const float *src, float *dst, size_t batch, size_t pixels, size_t c);
/// Quantized Add of two 8-bit tensors (u8, or s8 when `is_signed`) of `n` elements each, as
/// DequantizeLinear → Add (→ Relu) → QuantizeLinear evaluated in f32 computes it:
/// y = clamp(rne(((a − za)·sa + (b − zb)·sb) / sy) + zy, qmin, qmax), the bounds intersected with
/// the type's range: a fused Relu is qmin = zy, a 7-bit (reduce_range) output qmax = 127.
void octet_q8_add(int is_signed, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t n, float sa, int za, float sb, int zb,
                  float sy, int zy, int qmin, int qmax);
/// Quantized Mul, as octet_q8_add with the product ((a − za)·sa)·((b − zb)·sb) for the sum
/// (DequantizeLinear → Mul → QuantizeLinear in f32, ONNX Runtime's QLinearMul).
void octet_q8_mul(int is_signed, const uint8_t *a, const uint8_t *b, uint8_t *y, size_t n, float sa, int za, float sb, int zb,
                  float sy, int zy, int qmin, int qmax);

typedef enum octet_unary_op { OCTET_EXP = 0, OCTET_ERF = 1, OCTET_GELU = 2, OCTET_SIGMOID = 3, OCTET_TANH = 4 } octet_unary_op;

/// Vectorizable exp, erf (absolute error < 1.5e-7), exact-form GELU, sigmoid, tanh.
void octet_f32_unary(octet_unary_op op, const float *x, float *out, size_t n);
/// Softmax over each of `rows` contiguous rows of `n` values.
void octet_f32_softmax_rows(const float *x, float *out, size_t rows, size_t n);
/// Layer normalization of each row of `n` values; `beta` may be NULL.
void octet_f32_layer_norm_rows(const float *x, const float *gamma, const float *beta, float *out, size_t rows, size_t n, float epsilon);

#ifdef __cplusplus
}
#endif
