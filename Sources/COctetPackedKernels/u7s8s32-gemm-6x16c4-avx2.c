/* u7s8s32-gemm-6x16c4-avx2: 6 rows x 16 columns, K in groups of 4, for 7-bit activations
   (u8 ≤ 127, what `reduce_range` guarantees): vpmaddubsw adds two u8·s8 products into s16,
   which cannot saturate when a ≤ 127 (2·127·128 = 32512 < 32767), then vpmaddwd against
   ones widens the pairs into s32 — FBGEMM's AVX2 path, half the operand bytes of the s16-pair
   kernel and one instruction fewer per 32 products. Exact only for 7-bit activations: the
   packing reports any byte above 127. */
#include "packed_internal.h"

#if OCTET_X86
#define DEFINE_TILE(ROWS)                                                                          \
    OCTET_AVX2 static void tile_##ROWS(size_t K4, const int32_t *a, size_t a_stride, const int32_t *b, \
                                       const int32_t *init, __m256i out0[MR], __m256i out1[MR]) {  \
        const __m256i ones = _mm256_set1_epi16(1);                                                 \
        __m256i c0[ROWS], c1[ROWS];                                                                \
        for (size_t r = 0; r < ROWS; r++) {                                                        \
            c0[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR)) : _mm256_setzero_si256();     \
            c1[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR + 8)) : _mm256_setzero_si256(); \
        }                                                                                          \
        for (size_t q = 0; q < K4; q++) {                                                          \
            const __m256i b0 = _mm256_load_si256((const __m256i *)(b + q * NR));                   \
            const __m256i b1 = _mm256_load_si256((const __m256i *)(b + q * NR + 8));               \
            for (size_t r = 0; r < ROWS; r++) {                                                    \
                const __m256i av = _mm256_set1_epi32(a[r * a_stride + q]);                         \
                c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones)); \
                c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones)); \
            }                                                                                      \
        }                                                                                          \
        for (size_t r = 0; r < ROWS; r++) { out0[r] = c0[r]; out1[r] = c1[r]; }                    \
    }
DEFINE_TILE(1) DEFINE_TILE(2) DEFINE_TILE(3) DEFINE_TILE(4) DEFINE_TILE(5)

/* The full 6-row tile needs 12 accumulators, the ones vector, two weight vectors and one
   temporary: all 16 ymm registers. Written with intrinsics the compiler keeps the activation
   broadcast live across both halves and spills an accumulator to the stack every k-quad
   (measured: a stack reload per iteration); here each half re-broadcasts the activation
   from L1 (a load-port µop, idle otherwise) into the one temporary, so nothing spills. */
#define OCTET_C4_ROW(A, C0, C1)                                                                    \
    "vpbroadcastd (%[" A "],%[q],4), %[t]\n\t"                                                    \
    "vpmaddubsw %[b0], %[t], %[t]\n\t"                                                           \
    "vpmaddwd %[ones], %[t], %[t]\n\t"                                                           \
    "vpaddd %[t], %[" C0 "], %[" C0 "]\n\t"                                                      \
    "vpbroadcastd (%[" A "],%[q],4), %[t]\n\t"                                                    \
    "vpmaddubsw %[b1], %[t], %[t]\n\t"                                                           \
    "vpmaddwd %[ones], %[t], %[t]\n\t"                                                           \
    "vpaddd %[t], %[" C1 "], %[" C1 "]\n\t"

OCTET_AVX2 static void tile_6(size_t K4, const int32_t *a, size_t a_stride, const int32_t *b, const int32_t *init,
                              __m256i out0[MR], __m256i out1[MR]) {
    __m256i c00, c01, c02, c03, c04, c05, c10, c11, c12, c13, c14, c15;
    if (init) {
        c00 = _mm256_loadu_si256((const __m256i *)(init + 0 * NR)), c10 = _mm256_loadu_si256((const __m256i *)(init + 0 * NR + 8));
        c01 = _mm256_loadu_si256((const __m256i *)(init + 1 * NR)), c11 = _mm256_loadu_si256((const __m256i *)(init + 1 * NR + 8));
        c02 = _mm256_loadu_si256((const __m256i *)(init + 2 * NR)), c12 = _mm256_loadu_si256((const __m256i *)(init + 2 * NR + 8));
        c03 = _mm256_loadu_si256((const __m256i *)(init + 3 * NR)), c13 = _mm256_loadu_si256((const __m256i *)(init + 3 * NR + 8));
        c04 = _mm256_loadu_si256((const __m256i *)(init + 4 * NR)), c14 = _mm256_loadu_si256((const __m256i *)(init + 4 * NR + 8));
        c05 = _mm256_loadu_si256((const __m256i *)(init + 5 * NR)), c15 = _mm256_loadu_si256((const __m256i *)(init + 5 * NR + 8));
    } else {
        c00 = c01 = c02 = c03 = c04 = c05 = c10 = c11 = c12 = c13 = c14 = c15 = _mm256_setzero_si256();
    }
    if (K4 > 0) {
        const __m256i ones = _mm256_set1_epi16(1);
        const int32_t *a0 = a, *a1 = a + a_stride, *a2 = a + 2 * a_stride, *a3 = a + 3 * a_stride, *a4 = a + 4 * a_stride,
                      *a5 = a + 5 * a_stride;
        const int32_t *bq = b;
        size_t q = 0;
        __m256i b0, b1, t;
        __asm__ volatile("1:\n\t"
                         "vmovdqa (%[b]), %[b0]\n\t"
                         "vmovdqa 32(%[b]), %[b1]\n\t"
                         OCTET_C4_ROW("a0", "c00", "c10") OCTET_C4_ROW("a1", "c01", "c11") OCTET_C4_ROW("a2", "c02", "c12")
                         OCTET_C4_ROW("a3", "c03", "c13") OCTET_C4_ROW("a4", "c04", "c14") OCTET_C4_ROW("a5", "c05", "c15")
                         "add $64, %[b]\n\t"
                         "inc %[q]\n\t"
                         "cmp %[n], %[q]\n\t"
                         "jb 1b\n\t"
                         : [c00] "+x"(c00), [c01] "+x"(c01), [c02] "+x"(c02), [c03] "+x"(c03), [c04] "+x"(c04), [c05] "+x"(c05),
                           [c10] "+x"(c10), [c11] "+x"(c11), [c12] "+x"(c12), [c13] "+x"(c13), [c14] "+x"(c14), [c15] "+x"(c15),
                           [b] "+r"(bq), [q] "+r"(q), [b0] "=&x"(b0), [b1] "=&x"(b1), [t] "=&x"(t)
                         : [a0] "r"(a0), [a1] "r"(a1), [a2] "r"(a2), [a3] "r"(a3), [a4] "r"(a4), [a5] "r"(a5), [n] "r"(K4),
                           [ones] "x"(ones)
                         : "cc", "memory");
    }
    out0[0] = c00, out0[1] = c01, out0[2] = c02, out0[3] = c03, out0[4] = c04, out0[5] = c05;
    out1[0] = c10, out1[1] = c11, out1[2] = c12, out1[3] = c13, out1[4] = c14, out1[5] = c15;
}

OCTET_AVX2 static void tile(size_t mr, size_t K4, const int32_t *a, size_t as, const int32_t *b, const int32_t *init, __m256i c0[MR], __m256i c1[MR]) {
    switch (mr) {
    case 1: tile_1(K4, a, as, b, init, c0, c1); break;
    case 2: tile_2(K4, a, as, b, init, c0, c1); break;
    case 3: tile_3(K4, a, as, b, init, c0, c1); break;
    case 4: tile_4(K4, a, as, b, init, c0, c1); break;
    case 5: tile_5(K4, a, as, b, init, c0, c1); break;
    default: tile_6(K4, a, as, b, init, c0, c1); break;
    }
}

/* One 16-column panel for all M rows, K blocked as the s16-pair kernel is (`octet_avx2_panel_loop`). */
OCTET_AVX2 void octet_u7s8s32_gemm_6x16c4_avx2_panel(size_t M, size_t K, const int32_t *a, size_t a_stride, const int32_t *bp, size_t n0, size_t nr,
                                                     const int32_t *rows, const int32_t *cols, const octet_packed_output *out, void *c,
                                                     size_t ldc, int32_t *acc, size_t KC4) {
    octet_avx2_panel_loop(tile, (K + 3) / 4, NR, M, K, a, a_stride, bp, n0, nr, rows, cols, out, c, ldc, acc, KC4);
}

OCTET_AVX2 void octet_u7s8s32_gemm_6x16c4_avx2_s32(size_t mr, size_t K4, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]) {
    octet_avx2_tile_s32(tile, mr, K4, a, b, acc);
}
#endif
