/* u8s8s32-gemm-8x32c4-avx512vnni: 8 rows x 32 columns (two 16-column panels), K in groups of 4.
   `vpdpbusd` zmm adds four u8·s8 products into each s32 lane with no intermediate
   saturation (unlike vpmaddubsw's s16 pairs), so it is exact for any u8 activation and s8
   weight; one k-quad of a 16-column panel is exactly one zmm (16 words of 4 bytes), the
   layout `octet_packed_pack_b_s8_c4` writes. Per k-quad the tile loads two weight vectors and
   broadcasts one activation word per row, each used twice: 10 loads per 16 vpdpbusd, below
   the two loads per cycle of Intel's cores (XNNPACK's c4 kernels and oneDNN's brgemm block
   columns the same way for that reason). 16 accumulators, 2 weight vectors and a broadcast
   leave the other 13 zmm registers free; 8 row pointers fit the general registers. */
#include "packed_internal.h"

#if OCTET_X86
#define OCTET_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma,f16c")))

/* Accumulates ROWS x (16 · PANELS) for K4 quads (an `octet_avx512_tile`). Inlined with
   constant ROWS and PANELS, so the accumulator array lives in registers. */
OCTET_AVX512VNNI static inline __attribute__((always_inline)) void tile_body(const size_t ROWS, const size_t PANELS, size_t K4, const int32_t *a,
                                                                             size_t as, const int32_t *b0, const int32_t *b1, const int32_t *init,
                                                                             __m512i out[WIDE_MR][2]) {
    /* Local accumulators (kept in registers; `out` could alias the operands, so accumulating
       there would store every register every step), written out once at the end. */
    __m512i c[WIDE_MR][2];
    for (size_t r = 0; r < ROWS; r++)
        for (size_t p = 0; p < PANELS; p++) c[r][p] = init ? _mm512_loadu_si512(init + r * WIDE_ACC_STRIDE + p * NR) : _mm512_setzero_si512();
    const int32_t *ar[WIDE_MR];
    for (size_t r = 0; r < ROWS; r++) ar[r] = a + r * as;
    for (size_t q = 0; q < K4; q++) {
        const __m512i w0 = _mm512_loadu_si512(b0 + q * NR);
        const __m512i w1 = PANELS == 2 ? _mm512_loadu_si512(b1 + q * NR) : w0;
        for (size_t r = 0; r < ROWS; r++) {
            const __m512i x = _mm512_set1_epi32(ar[r][q]);
            c[r][0] = _mm512_dpbusd_epi32(c[r][0], x, w0);
            if (PANELS == 2) c[r][1] = _mm512_dpbusd_epi32(c[r][1], x, w1);
        }
    }
    for (size_t r = 0; r < ROWS; r++)
        for (size_t p = 0; p < PANELS; p++) out[r][p] = c[r][p];
}

OCTET_AVX512_DEFINE_TILES(OCTET_AVX512VNNI)

/* Panels [p0, p1) for all M rows (row m's quads at a + m · as), K in blocks of KC4 quads
   (`octet_avx512_panel_pair_loop`). */
OCTET_AVX512VNNI void octet_u8s8s32_gemm_8x32c4_avx512vnni(size_t M, size_t N, size_t K, const int32_t *a, size_t as, const int32_t *rows,
                                                            const int32_t *b, const int32_t *cols, void *c, size_t ldc,
                                                            const octet_packed_output *out, size_t p0, size_t p1, int32_t *acc, size_t KC4) {
    octet_avx512_panel_pair_loop(tiles, (K + 3) / 4, NR, M, N, K, a, as, rows, b, cols, c, ldc, out, p0, p1, acc, KC4);
}

/* Raw accumulators of a whole M x N product (row m of A at a + m · K4), for the tests and the
   bare kernel benchmark. */
OCTET_AVX512VNNI void octet_u8s8s32_gemm_8x32c4_avx512vnni_s32(size_t M, size_t N, size_t K4, const int32_t *a, const int32_t *b, int32_t *c,
                                                               size_t ldc) {
    octet_avx512_gemm_s32(tiles, K4, NR, M, N, a, b, c, ldc);
}
#endif
