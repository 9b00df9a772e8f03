#pragma once
/// Octet's packed INT8 kernels (FBGEMM's role): u8 activations · s8 weights → s32, exact for
/// full 8-bit ranges. Operands are widened to s16 pairs along K so that `vpmaddwd` adds two
/// products into an s32 lane, which cannot saturate (unlike `vpmaddubsw`'s int16 pairs).
///
/// Kernel names follow one grammar, types-op-tile-isa, and each lives in the C file of that
/// name: `u8s8s32-gemm-6x16-avx2`, `u8s8s32-gemm-6x16-scalar`, `u8s8s32-dwconv-32c-avx2`,
/// `u8s8s32-dwconv-scalar`. The ISA is always an explicit argument: no kernel probes the CPU.
///
/// Layouts (K2 = ceil(K / 2)):
///  - B panel p (16 columns): for each k-pair j, 32 bytes, bytes 2c and 2c+1 = b[2j][c] and
///    b[2j+1][c] as s8 (sign-extended to an s16 pair when loaded); zero past K and N. A panel
///    takes K2 · 8 words.
///  - A packed: row r, k-pair j at r * K2 + j, the same s16 pair form.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { OCTET_PACKED_NR = 16, OCTET_PACKED_MR = 6, OCTET_PACKED_WIDE_MR = 8, OCTET_PACKED_DW_CHANNELS = 32 };
/// (`OCTET_PACKED_WIDE_MR`: rows of the AVX-512 tiles, which span two panels;
/// `OCTET_PACKED_DW_CHANNELS`: channels per step of the AVX2 depthwise kernel; its packed weights come in 16-channel blocks.)

/// The instruction set a kernel call uses (the caller's choice; each level includes the ones
/// before it except that AVX-512 VNNI does not imply AVX-VNNI):
///  - `OCTET_PACKED_AVX2`: AVX2 + FMA;
///  - `OCTET_PACKED_AVX_VNNI`: AVX2 + FMA + AVX-VNNI (VEX `vpdpbusd` ymm): the k-quad GEMM is
///    `u8s8s32-gemm-6x16c4-avxvnni`, everything else the AVX2 kernels;
///  - `OCTET_PACKED_AVX512_VNNI`: AVX2 + FMA + AVX-512 F/BW/VL/DQ + VNNI (`vpdpbusd` zmm): the
///    k-quad GEMM is `u8s8s32-gemm-8x32c4-avx512vnni`, everything else the AVX2 kernels.
///  - `OCTET_PACKED_AVX512BW`: AVX2 + FMA + AVX-512 F/BW/VL/DQ without VNNI (Skylake-SP): the
///    s16-pair GEMM is `u8s8s32-gemm-8x32-avx512bw` (`vpmaddwd` zmm), everything else the AVX2
///    kernels (the k-quad GEMM is then the 7-bit `u7s8s32-gemm-6x16c4-avx2`).
/// On both VNNI levels the k-quad GEMM is exact for any u8 activation (no 7-bit limit).
typedef enum octet_packed_isa {
    OCTET_PACKED_SCALAR = 0,
    OCTET_PACKED_AVX2 = 1,
    OCTET_PACKED_AVX_VNNI = 2,
    OCTET_PACKED_AVX512_VNNI = 3,
    OCTET_PACKED_AVX512BW = 4
} octet_packed_isa;

/// Packs a K x N matrix of s8 (element (k, n) at b[n * n_stride + k * k_stride]) into
/// panels (`out` holds ceil(N/16) * K2 * 8 words) and writes its column sums.
void octet_packed_pack_b_s8(size_t K, size_t N, const int8_t *b, size_t n_stride, size_t k_stride,
                            int32_t *out, int32_t *column_sums);

/// Where the rows of A come from when they are packed.
///  - direct u8: row m at `x + m * lda` (K bytes);
///  - indirect u8 (`offsets` set): row m is `taps` runs of `channels` bytes, run t at
///    `x + offsets[m * taps + t]`, or `zero` when that offset is negative (padding);
///    K = taps · channels (an implicit im2col in channels-last order, never materialized);
///  - f32 (`xf` set, dynamic quantization): row m at `xf + m * lda`, quantized while packing
///    as clamp(rne(v · inv_scale) + zero_point, 0, 255); values must be finite.
///  - f32 per row (`xf` and `row_scales` set, per-token dynamic quantization): each row gets
///    its own parameters from its own range (`octet_packed_dynamic_parameters`), found in the
///    same call that quantizes and packs it (the row is read twice while it sits in L1);
///    `inv_scale` and `zero_point` are ignored. The packing writes row r of the call's block
///    (r = m − row_begin) to `row_scales[r]` and `row_zero_points[r]`, where the output stage
///    (`octet_packed_output.row_scales`) reads them.
typedef struct octet_packed_a_source {
    const uint8_t *x;
    const float *xf;
    size_t lda;
    const int32_t *offsets;
    size_t taps, channels;
    const uint8_t *zero;
    float inv_scale;
    int32_t zero_point;
    float *row_scales;          ///< per-row dynamic quantization: written per packed row, or NULL
    int32_t *row_zero_points;   ///< written with `row_scales`
} octet_packed_a_source;

/// Packs rows [row_begin, row_begin + rows) of `source` (K columns) into s16 pairs at `out`
/// (rows x K2 words) with each row's sum at `row_sums` (may be NULL). `row_scratch` holds K
/// bytes (indirect sources only; may be NULL otherwise). Returns 1 when a per-row f32 source
/// held NaN or an infinity (its packed values are then unspecified), else 0.
int octet_packed_pack_a(octet_packed_isa isa, const octet_packed_a_source *source, size_t row_begin, size_t rows, size_t K,
                         int32_t *out, int32_t *row_sums, uint8_t *row_scratch);
/// Packs M direct u8 rows (row r at a + r * lda); shorthand for `octet_packed_pack_a`.
void octet_packed_pack_a_u8(octet_packed_isa isa, size_t M, size_t K, const uint8_t *a, size_t lda, int32_t *out, int32_t *row_sums);

/// Smallest and largest of `count` f32 values; returns 1 (and leaves lo/hi unspecified) when
/// any value is NaN or infinite, 0 otherwise.
int octet_packed_f32_range(octet_packed_isa isa, size_t count, const float *x, float *lo, float *hi);

/// PyTorch's asymmetric u8 parameters for values in [lo, hi] (its observers' formula, as
/// `QParamsSelection.choose`): the range widened to hold 0, scale = max((max − min) / 255,
/// FLT_EPSILON) (never 0, also for an all-zero row), zero point = clamp(rne(−min / scale), 0, 255).
void octet_packed_dynamic_parameters(float lo, float hi, float *scale, int32_t *zero_point);
/// The same for codes in [0, qmax] (127: PyTorch's `reduce_range`, scale = (max − min) / 127).
void octet_packed_dynamic_parameters_range(float lo, float hi, int32_t qmax, float *scale, int32_t *zero_point);

/// ONNX DynamicQuantizeLinear's u8 parameters for values in [lo, hi] (both finite): the range
/// widened to hold 0, scale = (max − min) / 255 (1 for an empty range, as ONNX Runtime),
/// zero point = rne(clamp(−min / scale, 0, 255)).
void octet_packed_onnx_dynamic_parameters(float lo, float hi, float *scale, int32_t *zero_point);
/// ONNX QuantizeLinear to u8, per tensor: q[i] = clamp(rne(x[i] / scale) + zero_point, 0, 255)
/// for `count` finite values (a division, not a multiplication by 1 / scale, as ONNX Runtime);
/// the AVX2 form when `isa` has it (every level above scalar), else portable C, same codes.
void octet_packed_quantize_u8(octet_packed_isa isa, size_t count, const float *x, float scale, int32_t zero_point, uint8_t *q);

/// A residual add fused into a u8 output (the `sum` post-op, `QuantizedSum` in Swift). Each code q
/// the store computes (clamped to [qmin, qmax] as below) becomes, with b the operand element at
/// the output element's byte offset from `origin`:
/// clamp(rne(((q − op_zp)·op_scale + (b − operand_zp)·operand_scale) / output_scale) + output_zp,
/// qmin, qmax) in f32 — two products, their sum, a division, round half to even, no fused
/// multiply-add: what DequantizeLinear → Add → QuantizeLinear computes, bit for bit. The operand
/// has the output's layout; a store reads only the elements it writes, before writing them.
typedef struct octet_packed_sum {
    const uint8_t *operand;       ///< the operand element of the output's first byte
    const uint8_t *origin;        ///< the output's first byte (where `operand` corresponds)
    float op_scale, operand_scale, output_scale;
    int32_t op_zero_point, operand_zero_point, output_zero_point;
    int32_t qmin, qmax;           ///< bounds of the result codes
} octet_packed_sum;

/// How accumulators become outputs (FBGEMM's float requantization):
/// raw = acc − a_zp·colsum[n] − b_zp·rowsum[m] + K·a_zp·b_zp (+ bias_s32[n]);
/// u8: q = clamp(rne((float)raw + bias_f32[n]) · multiplier[n]) + out_zp, qmin, qmax);
/// f32: y = clamp((float)raw · dequant_scale[n] + bias_real[n], lo, hi).
/// Per-row activations (`row_zero_points` and `row_scales` set, f32 output only): a_zp is
/// row_zero_points[m] and the f32 scale is (row_scales[m] · dequant_scale[n]), rounded to
/// float before it multiplies (float)raw; `dequant_scale` then holds the weight scales alone.
/// m counts rows of the current call (the block), as `row_sums` does.
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
    const float *row_scales;      ///< per row of the block (per-row activations), or NULL
    const int32_t *row_zero_points; ///< per row of the block (per-row activations), or NULL
    const octet_packed_sum *sum;  ///< a fused residual sum (u8 output, GEMM and NCHW-depthwise-free paths), or NULL
} octet_packed_output;

/// C = A · B for panels [panel_begin, panel_end), rows [0, M). `c` is u8 or f32 per `out`,
/// row m at c + m * ldc elements. The column sums and every per-column array of `out` must be
/// readable up to ceil(N/16)·16 entries (values past N are read and ignored). K runs in blocks of `kc_pairs` k-pairs (a 16-column slice
/// of kc_pairs · 32 bytes, two of them for `u8s8s32-gemm-8x32-avx512bw`, stays in L1 while all
/// row tiles pass over it); `accumulators` (M x 16 int32, M x 32 with `OCTET_PACKED_AVX512BW`,
/// one per concurrent caller) holds partial sums between blocks.
void octet_packed_gemm(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed,
                       const int32_t *row_sums, const int32_t *b_packed, const int32_t *column_sums,
                       void *c, size_t ldc, const octet_packed_output *out, size_t panel_begin, size_t panel_end,
                       int32_t *accumulators, size_t kc_pairs);

/// Raw s32 accumulators Σ a·b (no zero points, no requantization), for tests.
void octet_packed_gemm_s32(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed,
                           const int32_t *b_packed, int32_t *c, size_t ldc);

/// ---- 7-bit activations: `u7s8s32-gemm-6x16c4-avx2` (vpmaddubsw + vpmaddwd with ones) ------
/// Only for activations ≤ 127 (`reduce_range`): then a pair of u8·s8 products fits s16 and
/// the kernel is exact. Layouts (K4 = ceil(K / 4)): B panel p, k-quad q: 16 words, word c =
/// the 4 s8 values b[4q..4q+3][c] (byte i = b[4q+i]); A: row r, quad q at r * K4 + q, 4 u8.

/// Packs B in k-quads (see above) and writes its column sums.
void octet_packed_pack_b_s8_c4(size_t K, size_t N, const int8_t *b, size_t n_stride, size_t k_stride, int32_t *out, int32_t *column_sums);
/// Packs rows of a u8 source (direct or indirect; not f32) in k-quads with their sums;
/// returns 1 when any value exceeds 127 (the 7-bit kernel would then be inexact), else 0.
int octet_packed_pack_a_c4(const octet_packed_a_source *source, size_t row_begin, size_t rows, size_t K, int32_t *out, int32_t *row_sums,
                           uint8_t *row_scratch);
/// Packs rows of an f32 source (`xf`; dynamic quantization) in k-quads, quantized to codes
/// [0, qmax] (127: 7-bit codes for the vpmaddubsw kernel; 255 for the VNNI kernels):
/// clamp(rne(v · inv_scale) + zero_point, 0, qmax) with the source's parameters, or, with
/// `row_scales` set, each row's own (`octet_packed_dynamic_parameters_range` with that qmax,
/// written to `row_scales[r]` / `row_zero_points[r]` as `octet_packed_pack_a` does). Returns 1
/// when a per-row source held NaN or an infinity, else 0.
int octet_packed_pack_a_f32_c4(octet_packed_isa isa, const octet_packed_a_source *source, size_t row_begin, size_t rows, size_t K,
                               int32_t qmax, int32_t *out, int32_t *row_sums);
/// As `octet_packed_gemm` over k-quad operands, K blocked by `kc_quads`:
/// `u8s8s32-gemm-8x32c4-avx512vnni` (exact for any u8; `accumulators` then holds M x 32
/// words: its tiles span two panels), `u8s8s32-gemm-6x16c4-avxvnni` (exact for any u8),
/// `u7s8s32-gemm-6x16c4-avx2` (exact for activations ≤ 127 only), or the portable `-scalar`
/// form (exact for any u8).
void octet_packed_gemm_c4(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed, const int32_t *row_sums,
                          const int32_t *b_packed, const int32_t *column_sums, void *c, size_t ldc, const octet_packed_output *out,
                          size_t panel_begin, size_t panel_end, int32_t *accumulators, size_t kc_quads);
/// As `octet_packed_gemm_c4` with row m of A at `a_packed + m * a_stride` words (a_stride ≥
/// ceil(K/4)): with K a multiple of 4, a channels-last u8 image whose row length is a multiple
/// of 4 bytes is already in this layout, so a 1x1 convolution runs on it unpacked (its
/// `row_sums` are then NULL, so `out->b_zero_point` must be 0).
void octet_packed_gemm_c4_strided(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed, size_t a_stride,
                                  const int32_t *row_sums, const int32_t *b_packed, const int32_t *column_sums, void *c, size_t ldc,
                                  const octet_packed_output *out, size_t panel_begin, size_t panel_end, int32_t *accumulators,
                                  size_t kc_quads);
/// 1 when any of the first K bytes of `rows` rows (row r at x + r * lda) exceeds 127 (the
/// 7-bit kernel would be inexact on it), else 0.
int octet_packed_u8_exceeds_127(const uint8_t *x, size_t rows, size_t K, size_t lda);
/// Raw s32 accumulators of the k-quad kernels, for tests.
void octet_packed_gemm_c4_s32(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a_packed, const int32_t *b_packed,
                              int32_t *c, size_t ldc);

/// Geometry of a depthwise convolution (one input channel per group), NCHW.
typedef struct octet_packed_depthwise_shape {
    size_t h, w, kh, kw, oh, ow;
    size_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
} octet_packed_depthwise_shape;

/// NCHW depthwise convolution (`u8s8s32-dwconv-nchw-scalar`) of channels [c_begin, c_end) of
/// one image: for each output pixel, Σ (x − a_zp)(w − b_zp) over the window (padding
/// contributes 0), plus the s32 bias, then the output pipeline of `out`.
/// `x` is the image's first channel plane, `w` is C x KH x KW, `c` the output image.
void octet_packed_depthwise(const octet_packed_depthwise_shape *shape, const uint8_t *x, const int8_t *w,
                            void *c, const octet_packed_output *out, size_t c_begin, size_t c_end);

/// A channels-last (NHWC) depthwise convolution, one filter per channel.
typedef struct octet_packed_dwconv {
    size_t channels, h, w, kh, kw, oh, ow;
    size_t stride_h, stride_w, pad_top, pad_left, dilation_h, dilation_w;
    /// From `octet_packed_pack_dwconv_weights` (zero points and the s32 bias folded in).
    const int32_t *weights;
    /// ceil(channels / 16) · 16 bytes holding the activation zero point (the padding row).
    const uint8_t *zero;
} octet_packed_dwconv;

/// Words the packed depthwise weights take: ceil(C/16) · 16 · (1 + ceil(taps/2)).
size_t octet_packed_dwconv_weight_words(size_t channels, size_t taps);
/// Packs C x taps s8 weights (`w[c * taps + t]`) for the NHWC depthwise kernels: per block of
/// 16 channels, the folded bias bias[c] − a_zp · Σ_t (w − b_zp), then taps in pairs of s16
/// (w − b_zp), in the order the AVX2 kernel's unpacks produce. `bias` may be NULL.
void octet_packed_pack_dwconv_weights(size_t channels, size_t taps, const int8_t *w, int32_t b_zero_point, int32_t a_zero_point,
                                      const int32_t *bias, int32_t *out);

/// Output pixels [pixel_begin, pixel_end) (row-major over oh x ow) of one NHWC image `x`
/// (h x w x channels u8) into the NHWC output image `c` (oh x ow x channels, u8 or f32 per
/// `out`; `out->bias_s32` is ignored: the bias is folded into the weights). As for the GEMM,
/// every per-channel array of `out` must be readable up to ceil(channels/16)·16 + 16 entries
/// (the AVX2 kernels load whole 8-channel blocks, also for a partial last block).
/// `u8s8s32-dwconv-3x3-32c-avx2`, `-5x5-32c-avx2` (taps unrolled) or `-32c-avx2` (any window)
/// with `OCTET_PACKED_AVX2`, `u8s8s32-dwconv-scalar` otherwise.
void octet_packed_dwconv_nhwc(octet_packed_isa isa, const octet_packed_dwconv *d, const uint8_t *x, void *c,
                              const octet_packed_output *out, size_t pixel_begin, size_t pixel_end);

/// ---- Row-pair depthwise: `u8s8s32-dwconv-{3x3-,5x5-,}rowpairs-8c-avx2` -------------------
/// Dilation 1, horizontal stride 1 or 2, any window up to 64 rows, AVX2 only (see
/// `octet_packed_dwconv_rows_applies`). Each input row a window reads becomes, per block of 8
/// channels, a row of s16 pairs (x[col], x[col + 1]) built once and read by every tap pair of
/// every output row over it, so the multiply loop is loads and `vpmaddwd` only.
/// Packed weights, per block of 8 channels: 8 folded bias words (bias − a_zp · Σ_t (w − b_zp)),
/// then for each window row ky and tap pair j (taps 2j, 2j + 1 of that row; an odd last tap
/// pairs with 0) 8 words, word i = the s16 pair (w − b_zp) of channel 8·block + i.

/// Words of those packed weights: ceil(C/8) · 8 · (1 + kh · ceil(kw/2)).
size_t octet_packed_dwconv_rows_weight_words(size_t channels, size_t kh, size_t kw);
/// Packs C x kh x kw s8 weights (`w[(c · kh + ky) · kw + kx]`) as above; `bias` may be NULL.
void octet_packed_pack_dwconv_rows_weights(size_t channels, size_t kh, size_t kw, const int8_t *w, int32_t b_zero_point,
                                           int32_t a_zero_point, const int32_t *bias, int32_t *out);
/// 1 when the row-pair kernel runs `d` with `isa`, else 0.
int octet_packed_dwconv_rows_applies(octet_packed_isa isa, const octet_packed_dwconv *d);
/// Scratch bytes one call needs (any alignment): kh + 1 rows of pairs.
size_t octet_packed_dwconv_rows_scratch_bytes(const octet_packed_dwconv *d);
/// As `octet_packed_dwconv_nhwc` with `d->weights` in the row-pair packing and `scratch`
/// holding `octet_packed_dwconv_rows_scratch_bytes(d)` bytes (one per concurrent caller).
/// Pixel ranges that start and end on output-row boundaries avoid rebuilding rows. Returns 0,
/// or 1 (nothing written) when the kernel does not apply.
int octet_packed_dwconv_rows_nhwc(octet_packed_isa isa, const octet_packed_dwconv *d, const uint8_t *x, void *c,
                                  const octet_packed_output *out, size_t pixel_begin, size_t pixel_end, void *scratch);

/// ---- VNNI depthwise: `u8s8s32-dwconv-{3x3-,5x5-,}64c-avx512vnni` ----------------------------
/// Any stride, dilation and window up to 125 taps, symmetric weights (zero point 0) only,
/// `OCTET_PACKED_AVX512_VNNI` only (see `octet_packed_dwconv_vnni_applies`). Taps go in groups of
/// four through `vpdpbusd` (four u8·s8 products per s32 lane, exact). Packed weights, per block
/// of 64 channels: 64 folded bias words (bias − a_zp · Σ_t w), then per group of four taps 64
/// words, each the four s8 weights of one channel (zero past the last tap); both in the
/// kernel's channel order (channel c of the block at word ((c % 16) / 4) · 16 + (c / 16) · 4 + c % 4).

/// Words of those packed weights: ceil(C/64) · 64 · (1 + ceil(taps/4)).
size_t octet_packed_dwconv_vnni_weight_words(size_t channels, size_t taps);
/// Packs C x taps s8 weights (`w[c * taps + t]`, zero point 0) as above; `bias` may be NULL.
void octet_packed_pack_dwconv_vnni_weights(size_t channels, size_t taps, const int8_t *w, int32_t a_zero_point, const int32_t *bias,
                                           int32_t *out);
/// 1 when the VNNI depthwise kernel runs `d` with `isa`, else 0.
int octet_packed_dwconv_vnni_applies(octet_packed_isa isa, const octet_packed_dwconv *d);
/// As `octet_packed_dwconv_nhwc` with `d->weights` in the VNNI packing; per-channel arrays of
/// `out` need only `channels` entries (tails are masked). `d->zero` holds at least `channels`
/// bytes of the activation zero point. Returns 0, or 1 (nothing written) when the kernel does not apply.
int octet_packed_dwconv_vnni_nhwc(octet_packed_isa isa, const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *out,
                                  size_t pixel_begin, size_t pixel_end);

#ifdef __cplusplus
}
#endif
