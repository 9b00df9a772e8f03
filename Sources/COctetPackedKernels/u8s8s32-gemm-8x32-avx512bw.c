/* u8s8s32-gemm-8x32-avx512bw: 8 rows x 32 columns (two 16-column panels), vpmaddwd zmm on s16
   pairs, for AVX-512 CPUs without VNNI (Skylake-SP class). Exact for full-range u8 · s8: a
   pair of products fits s32. The weights stay s8 pairs in memory, the layout
   `octet_packed_pack_b_s8` writes for the AVX2 `u8s8s32-gemm-6x16-avx2` (32 bytes per k-pair of
   a panel), and are sign-extended to one zmm of s16 pairs as they load; the activations are
   the same packed s16 pairs (one broadcast word per row and k-pair). Per k-pair: 2 weight
   loads, 8 broadcasts, 16 vpmaddwd and 16 vpaddd into 16 accumulators (two zmm ports on
   Skylake-SP: twice the multiply-adds per cycle of the ymm kernel's three ports, and 32
   registers for an 8 x 32 tile). Loop, K blocking and store are the VNNI kernel's
   (`octet_avx512_panel_pair_loop`). */
#include "packed_internal.h"

#if OCTET_X86

/* Accumulates ROWS x (16 · PANELS) for K2 pairs (an `octet_avx512_tile`). Inlined with
   constant ROWS and PANELS, so the accumulator array lives in registers. */
OCTET_AVX512 static inline __attribute__((always_inline)) void tile_body(const size_t ROWS, const size_t PANELS, size_t K2, const int32_t *a,
                                                                         size_t as, const int32_t *b0, const int32_t *b1, const int32_t *init,
                                                                         __m512i out[WIDE_MR][2]) {
    __m512i c[WIDE_MR][2];
    for (size_t r = 0; r < ROWS; r++)
        for (size_t p = 0; p < PANELS; p++) c[r][p] = init ? _mm512_loadu_si512(init + r * WIDE_ACC_STRIDE + p * NR) : _mm512_setzero_si512();
    const int32_t *ar[WIDE_MR];
    for (size_t r = 0; r < ROWS; r++) ar[r] = a + r * as;
    for (size_t j = 0; j < K2; j++) {
        const __m512i w0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b0 + j * (NR / 2))));
        const __m512i w1 = PANELS == 2 ? _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(b1 + j * (NR / 2)))) : w0;
        for (size_t r = 0; r < ROWS; r++) {
            const __m512i x = _mm512_set1_epi32(ar[r][j]);
            c[r][0] = _mm512_add_epi32(c[r][0], _mm512_madd_epi16(x, w0));
            if (PANELS == 2) c[r][1] = _mm512_add_epi32(c[r][1], _mm512_madd_epi16(x, w1));
        }
    }
    for (size_t r = 0; r < ROWS; r++)
        for (size_t p = 0; p < PANELS; p++) out[r][p] = c[r][p];
}

OCTET_AVX512_DEFINE_TILES(OCTET_AVX512)

/* Panels [p0, p1) for all M rows (row m's K2 pairs at a + m · K2), K in blocks of KC2 pairs. */
OCTET_AVX512 void octet_u8s8s32_gemm_8x32_avx512bw(size_t M, size_t N, size_t K, const int32_t *a, const int32_t *rows, const int32_t *b,
                                                   const int32_t *cols, void *c, size_t ldc, const octet_packed_output *o, size_t p0, size_t p1,
                                                   int32_t *acc, size_t KC2) {
    const size_t K2 = (K + 1) / 2;
    octet_avx512_panel_pair_loop(tiles, K2, NR / 2, M, N, K, a, K2, rows, b, cols, c, ldc, o, p0, p1, acc, KC2);
}

/* Raw accumulators of a whole M x N product (row m of A at a + m · K2), for the tests and the
   bare kernel benchmark. */
OCTET_AVX512 void octet_u8s8s32_gemm_8x32_avx512bw_s32(size_t M, size_t N, size_t K2, const int32_t *a, const int32_t *b, int32_t *c, size_t ldc) {
    octet_avx512_gemm_s32(tiles, K2, NR / 2, M, N, a, b, c, ldc);
}
#endif
