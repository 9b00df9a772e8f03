#pragma once
/// Octet's packed INT8 GEMM (FBGEMM's role): u8 activations · s8 weights → s32, exact for
/// full 8-bit ranges. Operands are widened to s16 pairs along K so that `vpmaddwd` adds two
/// products into an s32 lane, which cannot saturate (unlike `vpmaddubsw`'s int16 pairs).
///
/// Layouts (K2 = ceil(K / 2)):
///  - B panel p (16 columns): for each k-pair j, 16 int32 words, word c = (b[2j][c], b[2j+1][c])
///    as two s16; zero past K and N.
///  - A packed: row r, k-pair j at r * K2 + j, the same s16 pair form.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { OCTET_PACKED_NR = 16, OCTET_PACKED_MR = 6 };

typedef enum octet_packed_isa { OCTET_PACKED_SCALAR = 0, OCTET_PACKED_AVX2 = 1 } octet_packed_isa;

/// 1 when this machine can run the AVX2 kernel.
int octet_packed_host_has_avx2(void);

/// Packs a K x N matrix of s8 (element (k, n) at b[n * n_stride + k * k_stride]) into
/// panels (`out` holds ceil(N/16) * K2 * 16 words) and writes its column sums.
void octet_packed_pack_b_s8(size_t K, size_t N, const int8_t *b, size_t n_stride, size_t k_stride,
                            int32_t *out, int32_t *column_sums);
/// Packs rows of u8 (row r at a + r * lda) into s16 pairs, with each row's sum.
void octet_packed_pack_a_u8(size_t M, size_t K, const uint8_t *a, size_t lda, int32_t *out, int32_t *row_sums);

/// How accumulators become outputs (FBGEMM's float requantization):
/// raw = acc − a_zp·colsum[n] − b_zp·rowsum[m] + K·a_zp·b_zp (+ bias_s32[n]);
/// u8: q = clamp(rne((float)raw + bias_f32[n]) · multiplier[n]) + out_zp, qmin, qmax);
/// f32: y = clamp((float)raw · dequant_scale[n] + bias_real[n], lo, hi).
typedef struct octet_packed_output {
    int32_t a_zero_point, b_zero_point;
    const int32_t *bias_s32;      ///< per column, or NULL
    const float *bias_f32;        ///< per column, already divided by s_in·s_w (u8 output), or NULL
    const float *multiplier;      ///< per column (per-tensor: repeated)
    int32_t out_zero_point, qmin, qmax;
    const float *dequant_scale;   ///< per column, f32 output
    const float *bias_real;       ///< per column, f32 output, or NULL
    float lo, hi;                 ///< f32 output clamp
    int to_f32;                   ///< 1: write f32, 0: write u8
} octet_packed_output;

/// C = A · B for panels [panel_begin, panel_end), rows [0, M). `c` is u8 or f32 per `out`.
/// K runs in blocks of `kc_pairs` k-pairs (a 16-column slice of kc_pairs · 64 bytes stays in
/// L1 while all row tiles pass over it); `accumulators` (M x 16 int32, one per concurrent
/// caller) holds partial sums between blocks.
void octet_packed_gemm(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed,
                       const int32_t *row_sums, const int32_t *b_packed, const int32_t *column_sums,
                       void *c, size_t ldc, const octet_packed_output *out, size_t panel_begin, size_t panel_end,
                       int32_t *accumulators, size_t kc_pairs);

/// Geometry of a depthwise convolution (one input channel per group), NCHW.
typedef struct octet_packed_depthwise_shape {
    size_t h, w, kh, kw, oh, ow;
    size_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
} octet_packed_depthwise_shape;

/// Depthwise convolution of channels [c_begin, c_end) of one image: for each output pixel,
/// Σ (x − a_zp)(w − b_zp) over the window (padding contributes 0), plus the s32 bias, then
/// the output pipeline of `out` (its zero points are used here, not for compensation).
/// `x` is the image's first channel plane, `w` is C x KH x KW, `c` the output image.
void octet_packed_depthwise(const octet_packed_depthwise_shape *shape, const uint8_t *x, const int8_t *w,
                            void *c, const octet_packed_output *out, size_t c_begin, size_t c_end);

/// Raw s32 accumulators Σ a·b (no zero points, no requantization), for tests.
void octet_packed_gemm_s32(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed,
                           const int32_t *b_packed, int32_t *c, size_t ldc);

#ifdef __cplusplus
}
#endif
