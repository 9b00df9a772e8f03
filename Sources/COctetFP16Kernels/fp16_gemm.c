#include "octet_fp16.h"
#include "fp16_inline.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OCTET_X86 1
#else
#define OCTET_X86 0
#endif

enum { NR = OCTET_FP16_NR, MR = OCTET_FP16_MR, KC = 256 };

/* ---- Scalar micro-kernel: portable, one rows x 16 tile. -------------------------- */

/* The fused Relu/Clip: clamp to [lo, hi] but keep NaN, as ONNX's Relu and Clip do
   (fmaxf/fminf would turn NaN into lo). */
static inline float clamp_keep_nan(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

static inline float load_b_f16(const uint16_t *b, size_t j) { return octet_f16_to_f32_inline(b[j]); }
static inline float load_b_f32(const float *b, size_t j) { return b[j]; }

#define DEFINE_SCALAR_KERNEL(NAME, BTYPE, LOAD)                                                   \
    static void NAME(size_t mr, size_t kc, const float *A, size_t lda, const BTYPE *B,            \
                     float *C, size_t ldc, size_t nr, int accumulate, int last,                   \
                     const float *bias, float lo, float hi) {                                     \
        float acc[MR][NR];                                                                        \
        memset(acc, 0, sizeof acc);                                                               \
        for (size_t k = 0; k < kc; k++) {                                                         \
            float b[NR];                                                                          \
            for (size_t j = 0; j < NR; j++) b[j] = LOAD(B + k * NR, j);                           \
            for (size_t r = 0; r < mr; r++) {                                                     \
                const float a = A[r * lda + k];                                                   \
                for (size_t j = 0; j < NR; j++) acc[r][j] += a * b[j]; /* not fmaf: a libm call */ \
            }                                                                                     \
        }                                                                                         \
        for (size_t r = 0; r < mr; r++) {                                                         \
            for (size_t j = 0; j < nr; j++) {                                                     \
                float v = acc[r][j] + (accumulate ? C[r * ldc + j] : 0.0f);                       \
                if (last) {                                                                       \
                    if (bias) v += bias[j];                                                       \
                    v = clamp_keep_nan(v, lo, hi);                                                 \
                }                                                                                 \
                C[r * ldc + j] = v;                                                               \
            }                                                                                     \
        }                                                                                         \
    }

DEFINE_SCALAR_KERNEL(scalar_kernel_f16, uint16_t, load_b_f16)
DEFINE_SCALAR_KERNEL(scalar_kernel_f32, float, load_b_f32)

/* ---- AVX2 + FMA (+ F16C) micro-kernel: up to 6 rows x 16 columns in 12 ymm. -------- */

#if OCTET_X86
#define AVX2_TARGET __attribute__((target("avx2,fma,f16c")))

AVX2_TARGET static inline void load_b_ymm_f16(const uint16_t *b, __m256 *b0, __m256 *b1) {
    *b0 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)b));
    *b1 = _mm256_cvtph_ps(_mm_load_si128((const __m128i *)(b + 8)));
}
AVX2_TARGET static inline void load_b_ymm_f32(const float *b, __m256 *b0, __m256 *b1) {
    *b0 = _mm256_load_ps(b);
    *b1 = _mm256_load_ps(b + 8);
}

AVX2_TARGET static inline void store_tile(size_t mr, __m256 c0[MR], __m256 c1[MR], float *C, size_t ldc,
                                          size_t nr, int accumulate, int last,
                                          const float *bias, float lo, float hi) {
    __m256 bias0 = _mm256_setzero_ps(), bias1 = _mm256_setzero_ps();
    float bias_tail[NR] = {0};
    if (last && bias) {
        if (nr == NR) {
            bias0 = _mm256_loadu_ps(bias);
            bias1 = _mm256_loadu_ps(bias + 8);
        } else {
            memcpy(bias_tail, bias, nr * sizeof(float));
            bias0 = _mm256_loadu_ps(bias_tail);
            bias1 = _mm256_loadu_ps(bias_tail + 8);
        }
    }
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (size_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        __m256 v0 = c0[r], v1 = c1[r];
        float tail[NR];
        if (nr == NR) {
            if (accumulate) {
                v0 = _mm256_add_ps(v0, _mm256_loadu_ps(c));
                v1 = _mm256_add_ps(v1, _mm256_loadu_ps(c + 8));
            }
        } else if (accumulate) {
            memset(tail, 0, sizeof tail);
            memcpy(tail, c, nr * sizeof(float));
            v0 = _mm256_add_ps(v0, _mm256_loadu_ps(tail));
            v1 = _mm256_add_ps(v1, _mm256_loadu_ps(tail + 8));
        }
        if (last) {
            /* max/min return their second operand when either is NaN: the value goes second. */
            v0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(v0, bias0)));
            v1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, _mm256_add_ps(v1, bias1)));
        }
        if (nr == NR) {
            _mm256_storeu_ps(c, v0);
            _mm256_storeu_ps(c + 8, v1);
        } else {
            _mm256_storeu_ps(tail, v0);
            _mm256_storeu_ps(tail + 8, v1);
            memcpy(c, tail, nr * sizeof(float));
        }
    }
}

/* One tile with a compile-time row count, so the accumulators stay in registers. */
#define DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, ROWS)                                                \
    AVX2_TARGET static void NAME##_##ROWS(size_t kc, const float *A, size_t lda, const BTYPE *B, \
                                          float *C, size_t ldc, size_t nr, int accumulate,        \
                                          int last, const float *bias, float lo, float hi) {      \
        __m256 c0[MR], c1[MR];                                                                    \
        for (size_t r = 0; r < ROWS; r++) c0[r] = c1[r] = _mm256_setzero_ps();                    \
        for (size_t k = 0; k < kc; k++) {                                                         \
            __m256 b0, b1;                                                                        \
            LOADB(B + k * NR, &b0, &b1);                                                          \
            for (size_t r = 0; r < ROWS; r++) {                                                   \
                const __m256 a = _mm256_broadcast_ss(A + r * lda + k);                            \
                c0[r] = _mm256_fmadd_ps(a, b0, c0[r]);                                            \
                c1[r] = _mm256_fmadd_ps(a, b1, c1[r]);                                            \
            }                                                                                     \
        }                                                                                         \
        store_tile(ROWS, c0, c1, C, ldc, nr, accumulate, last, bias, lo, hi);                     \
    }

#define DEFINE_AVX2_KERNEL(NAME, BTYPE, LOADB)                                                    \
    DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, 1)                                                       \
    DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, 2)                                                       \
    DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, 3)                                                       \
    DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, 4)                                                       \
    DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, 5)                                                       \
    DEFINE_AVX2_TILE(NAME, BTYPE, LOADB, 6)                                                       \
    static void NAME(size_t mr, size_t kc, const float *A, size_t lda, const BTYPE *B, float *C, \
                     size_t ldc, size_t nr, int accumulate, int last, const float *bias,         \
                     float lo, float hi) {                                                        \
        switch (mr) {                                                                             \
        case 1: NAME##_1(kc, A, lda, B, C, ldc, nr, accumulate, last, bias, lo, hi); break;       \
        case 2: NAME##_2(kc, A, lda, B, C, ldc, nr, accumulate, last, bias, lo, hi); break;       \
        case 3: NAME##_3(kc, A, lda, B, C, ldc, nr, accumulate, last, bias, lo, hi); break;       \
        case 4: NAME##_4(kc, A, lda, B, C, ldc, nr, accumulate, last, bias, lo, hi); break;       \
        case 5: NAME##_5(kc, A, lda, B, C, ldc, nr, accumulate, last, bias, lo, hi); break;       \
        default: NAME##_6(kc, A, lda, B, C, ldc, nr, accumulate, last, bias, lo, hi); break;      \
        }                                                                                         \
    }

DEFINE_AVX2_KERNEL(avx2_kernel_f16, uint16_t, load_b_ymm_f16)
DEFINE_AVX2_KERNEL(avx2_kernel_f32, float, load_b_ymm_f32)
#endif

/* ---- Driver: K blocks outermost, then panels, then row tiles. --------------------- */
/* A KC x 16 slice of a panel (8 KiB in fp16) stays in L1 while every row tile of A
   streams past it; all of A's K block is reused from L2 across panels. */

#define DEFINE_DRIVER(NAME, BTYPE, SCALAR, AVX2)                                                  \
    void NAME(octet_fp16_isa isa, size_t M, size_t N, size_t K, const float *A, size_t lda,       \
              const BTYPE *B_packed, float *C, size_t ldc, octet_gemm_epilogue ep,                \
              size_t panel_begin, size_t panel_end) {                                             \
        const float lo = ep.lo, hi = ep.hi;                                                       \
        if (K == 0) { /* empty sum: only the epilogue */                                          \
            for (size_t p = panel_begin; p < panel_end; p++)                                      \
                for (size_t i = 0; i < M; i++)                                                    \
                    for (size_t j = p * NR; j < N && j < (p + 1) * NR; j++) {                     \
                        float v = ep.bias ? ep.bias[j] : 0.0f;                                    \
                        C[i * ldc + j] = clamp_keep_nan(v, lo, hi);                                \
                    }                                                                             \
            return;                                                                               \
        }                                                                                         \
        for (size_t k0 = 0; k0 < K; k0 += KC) {                                                   \
            const size_t kc = K - k0 < KC ? K - k0 : KC;                                          \
            const int accumulate = k0 > 0, last = k0 + kc >= K;                                   \
            for (size_t p = panel_begin; p < panel_end; p++) {                                    \
                const size_t n0 = p * NR;                                                         \
                const size_t nr = N - n0 < NR ? N - n0 : NR;                                      \
                const BTYPE *b = B_packed + p * K * NR + k0 * NR;                                 \
                const float *bias = ep.bias ? ep.bias + n0 : NULL;                                \
                for (size_t i = 0; i < M; i += MR) {                                              \
                    const size_t mr = M - i < MR ? M - i : MR;                                    \
                    const float *a = A + i * lda + k0;                                            \
                    float *c = C + i * ldc + n0;                                                  \
                    AVX2_CALL(AVX2)                                                               \
                    SCALAR(mr, kc, a, lda, b, c, ldc, nr, accumulate, last, bias, lo, hi);        \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
    }

#if OCTET_X86
#define AVX2_CALL(KERNEL)                                                                         \
    if (isa == OCTET_FP16_AVX2) {                                                                 \
        KERNEL(mr, kc, a, lda, b, c, ldc, nr, accumulate, last, bias, lo, hi);                    \
        continue;                                                                                 \
    }
#else
#define AVX2_CALL(KERNEL) (void)isa;
#endif

DEFINE_DRIVER(octet_gemm_f16w, uint16_t, scalar_kernel_f16, avx2_kernel_f16)
DEFINE_DRIVER(octet_gemm_f32w, float, scalar_kernel_f32, avx2_kernel_f32)
