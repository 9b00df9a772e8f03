/* u8s8s32-gemm-6x16-avx2: 6 rows x 16 columns, vpmaddwd on s16 pairs (exact for full-range
   u8 · s8), requantization or dequantization fused into the store. The weights stay s8 in
   memory (half the bytes a GEMV streams) and are sign-extended to s16 pairs as they load. */
#include "packed_internal.h"

#if OCTET_X86
/* Accumulators are locals (registers); they are copied out once at the end. */
#define DEFINE_TILE(ROWS)                                                                          \
    OCTET_AVX2 static void tile_##ROWS(size_t K2, const int32_t *a, size_t a_stride, const int32_t *b, \
                                       const int32_t *init, __m256i out0[MR], __m256i out1[MR]) {  \
        __m256i c0[ROWS], c1[ROWS];                                                                \
        for (size_t r = 0; r < ROWS; r++) {                                                        \
            c0[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR)) : _mm256_setzero_si256();     \
            c1[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR + 8)) : _mm256_setzero_si256(); \
        }                                                                                          \
        for (size_t j = 0; j < K2; j++) {                                                          \
            const __m256i b0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + j * 8)));   \
            const __m256i b1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + j * 8 + 4))); \
            for (size_t r = 0; r < ROWS; r++) {                                                    \
                const __m256i av = _mm256_set1_epi32(a[r * a_stride + j]);                         \
                c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(av, b0));                        \
                c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(av, b1));                        \
            }                                                                                      \
        }                                                                                          \
        for (size_t r = 0; r < ROWS; r++) { out0[r] = c0[r]; out1[r] = c1[r]; }                    \
    }
DEFINE_TILE(1) DEFINE_TILE(2) DEFINE_TILE(3) DEFINE_TILE(4) DEFINE_TILE(5) DEFINE_TILE(6)

OCTET_AVX2 static void tile(size_t mr, size_t K2, const int32_t *a, size_t as, const int32_t *b, const int32_t *init, __m256i c0[MR], __m256i c1[MR]) {
    switch (mr) {
    case 1: tile_1(K2, a, as, b, init, c0, c1); break;
    case 2: tile_2(K2, a, as, b, init, c0, c1); break;
    case 3: tile_3(K2, a, as, b, init, c0, c1); break;
    case 4: tile_4(K2, a, as, b, init, c0, c1); break;
    case 5: tile_5(K2, a, as, b, init, c0, c1); break;
    default: tile_6(K2, a, as, b, init, c0, c1); break;
    }
}

/* One 16-column panel for all M rows, K in blocks of KC2 pairs (sized by the caller from the
   L1 cache; `octet_avx2_panel_loop`). */
OCTET_AVX2 void octet_u8s8s32_gemm_6x16_avx2_panel(size_t M, size_t K, const int32_t *a, const int32_t *bp, size_t n0, size_t nr,
                                                   const int32_t *rows, const int32_t *cols, const octet_packed_output *out, void *c,
                                                   size_t ldc, int32_t *acc, size_t KC2) {
    const size_t K2 = (K + 1) / 2;
    octet_avx2_panel_loop(tile, K2, NR / 2, M, K, a, K2, bp, n0, nr, rows, cols, out, c, ldc, acc, KC2);
}

OCTET_AVX2 void octet_u8s8s32_gemm_6x16_avx2_s32(size_t mr, size_t K2, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]) {
    octet_avx2_tile_s32(tile, mr, K2, a, b, acc);
}
#endif
