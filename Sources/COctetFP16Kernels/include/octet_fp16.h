#pragma once
/// FP16-weight GEMM micro-kernels and IEEE binary16 conversion for Octet.
///
/// Weights are packed in panels of OCTET_FP16_NR columns: panel p holds, for each k,
/// the NR values W[k][p*NR .. p*NR+NR-1] (binary16 bits, or f32 for the f32 variant),
/// zero-padded past N. Activations A are row-major f32 with leading dimension lda;
/// C is row-major f32 with leading dimension ldc.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { OCTET_FP16_NR = 16, OCTET_FP16_MR = 6 };

/// Which micro-kernel runs.
typedef enum octet_fp16_isa {
    OCTET_FP16_SCALAR = 0, ///< portable C, any CPU
    OCTET_FP16_AVX2 = 1,   ///< AVX2 + FMA + F16C
} octet_fp16_isa;

/// binary32 → binary16, round to nearest even; overflow gives ±Inf, NaN stays NaN (quiet).
uint16_t octet_f32_to_f16(float value);
/// binary16 → binary32 (exact).
float octet_f16_to_f32(uint16_t bits);
/// Converts `n` values; uses F16C when `isa` allows.
void octet_f32_to_f16_array(const float *src, uint16_t *dst, size_t n, octet_fp16_isa isa);

/// Epilogue applied when the last K block is stored: C = clamp(C + bias[col], lo, hi).
typedef struct octet_gemm_epilogue {
    const float *bias; ///< per output column, or NULL
    float lo, hi;      ///< clamp bounds (-INFINITY, INFINITY for none)
} octet_gemm_epilogue;

/// C[M x N] = A[M x K] · B[K x N] (+ epilogue), B packed in binary16 panels. Computes
/// the panels [panel_begin, panel_end) only, so threads can split N.
void octet_gemm_f16w(octet_fp16_isa isa, size_t M, size_t N, size_t K,
                     const float *A, size_t lda, const uint16_t *B_packed,
                     float *C, size_t ldc, octet_gemm_epilogue epilogue,
                     size_t panel_begin, size_t panel_end);

/// The same GEMM with B packed as f32 panels: the FP32 baseline of the same kernel.
void octet_gemm_f32w(octet_fp16_isa isa, size_t M, size_t N, size_t K,
                     const float *A, size_t lda, const float *B_packed,
                     float *C, size_t ldc, octet_gemm_epilogue epilogue,
                     size_t panel_begin, size_t panel_end);

#ifdef __cplusplus
}
#endif
