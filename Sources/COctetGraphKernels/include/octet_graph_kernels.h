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
/// ONNX QuantizeLinear, per tensor: q = clamp(round_half_even(x / scale) + zero_point, qmin, qmax)
/// into u8 or, when `is_signed`, s8; [qmin, qmax] is the type's range or a narrower one (a Clip
/// fused into the QuantizeLinear: `ClipQuantizeFusion`). NaN becomes qmin.
void octet_quantize_i8(int is_signed, const float *x, uint8_t *q, size_t n, float scale, int zero_point, int qmin, int qmax);
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

typedef enum octet_unary_op { OCTET_EXP = 0, OCTET_ERF = 1, OCTET_GELU = 2, OCTET_SIGMOID = 3, OCTET_TANH = 4, OCTET_SILU = 5 } octet_unary_op;

/// Vectorizable exp, erf (absolute error < 1.5e-7), exact-form GELU, sigmoid, tanh, and SiLU
/// `x · sigmoid(x)` (the bits of OCTET_SIGMOID's result multiplied by x).
void octet_f32_unary(octet_unary_op op, const float *x, float *out, size_t n);
/// Softmax over each of `rows` contiguous rows of `n` values.
void octet_f32_softmax_rows(const float *x, float *out, size_t rows, size_t n);
/// Layer normalization of each row of `n` values; `beta` may be NULL.
void octet_f32_layer_norm_rows(const float *x, const float *gamma, const float *beta, float *out, size_t rows, size_t n, float epsilon);

/// Copies 4-byte elements through per-axis index maps over the last two axes (Resize
/// nearest, Pad of the last two axes): for output row `row` (plane `row / oh`, `oy = row % oh`)
/// and column `ox`, `dst[row·ow + ox] = src[(plane·ih + ymap[oy])·iw + xmap[ox]]`, or `fill`
/// when either map holds -1. Writes rows `row_begin ..< row_end` only, so threads can split them.
void octet_u32_remap2d(const uint32_t *src, uint32_t *dst, int ih, int iw, int oh, int ow, const int32_t *ymap,
                       const int32_t *xmap, uint32_t fill, size_t row_begin, size_t row_end);
/// Transpose of a `rows` x `cols` matrix of 4-byte elements (`dst` is `cols` x `rows`), by 8 x 8
/// blocks; writes blocks `block_begin ..< block_end` of the `ceil(rows/8) · ceil(cols/8)` blocks
/// (row-major over the source), so threads can split them.
void octet_u32_transpose2d(const uint32_t *src, uint32_t *dst, size_t rows, size_t cols, size_t block_begin, size_t block_end);

typedef enum octet_reduce_kind {
    OCTET_REDUCE_SUM_F32 = 0,  ///< Σ in f32, in input order.
    OCTET_REDUCE_MEAN_F32 = 1, ///< Σ in f32, in input order, then ÷ r.
    OCTET_REDUCE_SUM_F64 = 2,  ///< Σ in f64, in input order, rounded to f32 once.
    OCTET_REDUCE_MAX = 3,      ///< Maximum; NaN when any input is NaN; -inf when r = 0.
    OCTET_REDUCE_MIN = 4       ///< Minimum; NaN when any input is NaN; +inf when r = 0.
} octet_reduce_kind;

/// Reduces the middle axis of `src` viewed as (outer, r, inner): `dst[o·inner + j]` folds
/// `src[(o·r + i)·inner + j]` for i = 0 ..< r, in that order (so any split of the outputs gives
/// the same bits). Writes outputs `begin ..< end` of the `outer · inner`.
void octet_f32_reduce(octet_reduce_kind kind, const float *src, float *dst, size_t r, size_t inner, size_t begin, size_t end);
/// Softmax along the middle axis of (outer, n, stride) f32 data, `stride` > 1: for every
/// (o, j) the n values `x[(o·n + i)·stride + j]`. Writes the columns `begin ..< end` of the
/// `outer · stride` (o, j) pairs. Uses the same exp as `octet_f32_softmax_rows`.
void octet_f32_softmax_strided(const float *x, float *out, size_t n, size_t stride, size_t begin, size_t end);

/// 2-D f32 max pooling without dilation of NCHW planes `plane_begin ..< plane_end`,
/// separably (rows, then columns, through a buffer of h x ow floats); the same values as
/// `octet_f32_pool2d` with is_max = 1, which it falls back to when the buffer cannot be allocated.
void octet_f32_max_pool2d_planes(const float *src, float *dst, int h, int w, int oh, int ow, int kh, int kw, int sh, int sw,
                                 int pad_top, int pad_left, int pad_bottom, int pad_right, size_t plane_begin, size_t plane_end);

#ifdef __cplusplus
}
#endif
