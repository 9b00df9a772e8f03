/* u8s8s32-gemm-6x16c4-avxvnni: 6 rows x 16 columns, K in groups of 4, with AVX-VNNI's
   VEX-encoded `vpdpbusd` ymm (Alder Lake and later cores without AVX-512; Zen 5): four u8·s8
   products summed into each s32 lane with no intermediate saturation, so exact for any u8
   activation, where the AVX2 k-quad kernel (vpmaddubsw) needs 7-bit activations. One
   instruction per 32 products instead of three. The layouts are the k-quad ones
   (`octet_packed_pack_b_s8_c4`, `octet_packed_pack_a_c4`). 12 accumulators, two weight
   vectors and one broadcast: 15 of the 16 ymm registers. */
#include "packed_internal.h"

#if OCTET_X86
#define OCTET_AVXVNNI __attribute__((target("avxvnni,avx2,fma,f16c")))

OCTET_AVXVNNI static inline __attribute__((always_inline)) void tile_body(const size_t ROWS, size_t K4, const int32_t *a, size_t as, const int32_t *b,
                                                                          const int32_t *init, __m256i out0[MR], __m256i out1[MR]) {
    __m256i c0[MR], c1[MR]; /* local: `out0`/`out1` could alias the operands (see the AVX-512 kernel) */
    for (size_t r = 0; r < ROWS; r++) {
        c0[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR)) : _mm256_setzero_si256();
        c1[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR + 8)) : _mm256_setzero_si256();
    }
    for (size_t q = 0; q < K4; q++) {
        const __m256i w0 = _mm256_load_si256((const __m256i *)(b + q * NR)), w1 = _mm256_load_si256((const __m256i *)(b + q * NR + 8));
        for (size_t r = 0; r < ROWS; r++) {
            const __m256i x = _mm256_set1_epi32(a[r * as + q]);
            c0[r] = _mm256_dpbusd_avx_epi32(c0[r], x, w0);
            c1[r] = _mm256_dpbusd_avx_epi32(c1[r], x, w1);
        }
    }
    for (size_t r = 0; r < ROWS; r++) out0[r] = c0[r], out1[r] = c1[r];
}

#define DEFINE_TILE(ROWS)                                                                                                   \
    OCTET_AVXVNNI static void tile_##ROWS(size_t K4, const int32_t *a, size_t as, const int32_t *b, const int32_t *init, __m256i c0[MR], \
                                          __m256i c1[MR]) {                                                                 \
        tile_body(ROWS, K4, a, as, b, init, c0, c1);                                                                        \
    }
DEFINE_TILE(1) DEFINE_TILE(2) DEFINE_TILE(3) DEFINE_TILE(4) DEFINE_TILE(5) DEFINE_TILE(6)

OCTET_AVXVNNI static void tile(size_t mr, size_t K4, const int32_t *a, size_t as, const int32_t *b, const int32_t *init, __m256i c0[MR], __m256i c1[MR]) {
    switch (mr) {
    case 1: tile_1(K4, a, as, b, init, c0, c1); break;
    case 2: tile_2(K4, a, as, b, init, c0, c1); break;
    case 3: tile_3(K4, a, as, b, init, c0, c1); break;
    case 4: tile_4(K4, a, as, b, init, c0, c1); break;
    case 5: tile_5(K4, a, as, b, init, c0, c1); break;
    default: tile_6(K4, a, as, b, init, c0, c1); break;
    }
}

/* One 16-column panel for all M rows, K blocked (`octet_avx2_panel_loop`). */
OCTET_AVXVNNI void octet_u8s8s32_gemm_6x16c4_avxvnni_panel(size_t M, size_t K, const int32_t *a, size_t as, const int32_t *bp, size_t n0,
                                                          size_t nr, const int32_t *rows, const int32_t *cols, const octet_packed_output *out,
                                                          void *c, size_t ldc, int32_t *acc, size_t KC4) {
    octet_avx2_panel_loop(tile, (K + 3) / 4, NR, M, K, a, as, bp, n0, nr, rows, cols, out, c, ldc, acc, KC4);
}

OCTET_AVXVNNI void octet_u8s8s32_gemm_6x16c4_avxvnni_s32(size_t mr, size_t K4, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]) {
    octet_avx2_tile_s32(tile, mr, K4, a, b, acc);
}
#endif
