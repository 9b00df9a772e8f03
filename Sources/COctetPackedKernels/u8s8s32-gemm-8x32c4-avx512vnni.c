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
enum { VMR = OCTET_PACKED_VNNI_MR, ACC_STRIDE = 2 * NR };

/* Accumulates ROWS x (16 · PANELS) for K4 quads; `init` (row r at init + r · 32, panel 1 at
   +16) holds partial sums of earlier K blocks, or is NULL. Inlined with constant ROWS and
   PANELS, so the accumulator array lives in registers. */
OCTET_AVX512VNNI static inline __attribute__((always_inline)) void tile_body(const size_t ROWS, const size_t PANELS, size_t K4, const int32_t *a,
                                                                             size_t as, const int32_t *b0, const int32_t *b1, const int32_t *init,
                                                                             __m512i out[VMR][2]) {
    /* Local accumulators (kept in registers; `out` could alias the operands, so accumulating
       there would store every register every step), written out once at the end. */
    __m512i c[VMR][2];
    for (size_t r = 0; r < ROWS; r++)
        for (size_t p = 0; p < PANELS; p++) c[r][p] = init ? _mm512_loadu_si512(init + r * ACC_STRIDE + p * NR) : _mm512_setzero_si512();
    const int32_t *ar[VMR];
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

#define DEFINE_TILE(ROWS, PANELS)                                                                                         \
    OCTET_AVX512VNNI static void tile_##ROWS##_##PANELS(size_t K4, const int32_t *a, size_t as, const int32_t *b0, const int32_t *b1, \
                                                        const int32_t *init, __m512i c[VMR][2]) {                          \
        tile_body(ROWS, PANELS, K4, a, as, b0, b1, init, c);                                                               \
    }
#define DEFINE_TILES(ROWS) DEFINE_TILE(ROWS, 1) DEFINE_TILE(ROWS, 2)
DEFINE_TILES(1) DEFINE_TILES(2) DEFINE_TILES(3) DEFINE_TILES(4) DEFINE_TILES(5) DEFINE_TILES(6) DEFINE_TILES(7) DEFINE_TILES(8)

typedef void (*tile_fn)(size_t, const int32_t *, size_t, const int32_t *, const int32_t *, const int32_t *, __m512i[VMR][2]);
static const tile_fn tiles[VMR + 1][2] = {
    {NULL, NULL},         {tile_1_1, tile_1_2}, {tile_2_1, tile_2_2}, {tile_3_1, tile_3_2}, {tile_4_1, tile_4_2},
    {tile_5_1, tile_5_2}, {tile_6_1, tile_6_2}, {tile_7_1, tile_7_2}, {tile_8_1, tile_8_2},
};

/* Rows m0 .. m0 + mr − 1 of one 16-column panel through the shared AVX2 store (zero-point
   compensation, bias, requantization or dequantization, fused sum), 6 rows at a time. */
OCTET_AVX512VNNI static void store_panel(size_t mr, size_t m0, size_t n0, size_t nr, const panel_constants *pc, __m512i c[VMR][2], size_t p,
                                         const int32_t *rows, const octet_packed_output *o, void *out, size_t ldc) {
    for (size_t r0 = 0; r0 < mr; r0 += MR) {
        const size_t n = mr - r0 < MR ? mr - r0 : MR;
        __m256i lo[MR], hi[MR];
        for (size_t r = 0; r < n; r++) {
            lo[r] = _mm512_castsi512_si256(c[r0 + r][p]);
            hi[r] = _mm512_extracti64x4_epi64(c[r0 + r][p], 1);
        }
        octet_avx2_store_tile(n, m0 + r0, n0, nr, pc, lo, hi, rows, o, out, ldc);
    }
}

/* Panels [p0, p1) two at a time (a last odd panel alone) for all M rows (row m's quads at
   a + m · as), K in blocks of KC4 quads whose two 16-column weight slices stay in L1 while
   every row tile passes over them; partial sums wait in `acc` (M x 32 words). */
OCTET_AVX512VNNI void octet_u8s8s32_gemm_8x32c4_avx512vnni(size_t M, size_t N, size_t K, const int32_t *a, size_t as, const int32_t *rows,
                                                            const int32_t *b, const int32_t *cols, void *c, size_t ldc,
                                                            const octet_packed_output *out, size_t p0, size_t p1, int32_t *acc, size_t KC4) {
    const size_t K4 = (K + 3) / 4;
    const octet_packed_output local = *out;
    const octet_packed_output *o = &local;
    if (KC4 < 8) KC4 = 8;
    for (size_t p = p0; p < p1; p += 2) {
        const size_t panels = p + 1 < p1 ? 2 : 1;
        const int32_t *bp0 = b + p * K4 * NR, *bp1 = bp0 + K4 * NR;
        panel_constants pc[2];
        size_t n0[2], nr[2];
        for (size_t i = 0; i < panels; i++) {
            n0[i] = (p + i) * NR;
            nr[i] = N - n0[i] < NR ? N - n0[i] : NR;
            pc[i] = octet_avx2_panel_constants(n0[i], K, cols, o);
        }
        for (size_t kb = 0; kb < K4 || kb == 0; kb += KC4) {
            const size_t kc = K4 - kb < KC4 ? K4 - kb : KC4;
            const int first = kb == 0, last = kb + kc >= K4;
            for (size_t m0 = 0; m0 < M; m0 += VMR) {
                const size_t mr = M - m0 < VMR ? M - m0 : VMR;
                __m512i t[VMR][2];
                tiles[mr][panels - 1](kc, a + m0 * as + kb, as, bp0 + kb * NR, bp1 + kb * NR, first ? NULL : acc + m0 * ACC_STRIDE, t);
                if (last) {
                    for (size_t i = 0; i < panels; i++) store_panel(mr, m0, n0[i], nr[i], &pc[i], t, i, rows, o, c, ldc);
                } else {
                    for (size_t r = 0; r < mr; r++)
                        for (size_t i = 0; i < panels; i++) _mm512_storeu_si512(acc + (m0 + r) * ACC_STRIDE + i * NR, t[r][i]);
                }
            }
            if (K4 == 0) break;
        }
    }
}

/* Raw accumulators Σ a·b of a whole M x N product in this kernel's own tiles (8 rows, panel
   pairs; row m of A at a + m · K4), into c (row m at c + m · ldc): for the tests and the bare
   kernel benchmark. */
OCTET_AVX512VNNI void octet_u8s8s32_gemm_8x32c4_avx512vnni_s32(size_t M, size_t N, size_t K4, const int32_t *a, const int32_t *b, int32_t *c,
                                                               size_t ldc) {
    const size_t panels = (N + NR - 1) / NR;
    for (size_t p = 0; p < panels; p += 2) {
        const size_t np = p + 1 < panels ? 2 : 1;
        const int32_t *bp0 = b + p * K4 * NR;
        for (size_t m0 = 0; m0 < M; m0 += VMR) {
            const size_t mr = M - m0 < VMR ? M - m0 : VMR;
            __m512i t[VMR][2];
            tiles[mr][np - 1](K4, a + m0 * K4, K4, bp0, bp0 + K4 * NR, NULL, t);
            for (size_t r = 0; r < mr; r++)
                for (size_t i = 0; i < np; i++) {
                    int32_t row[NR];
                    _mm512_storeu_si512(row, t[r][i]);
                    const size_t n0 = (p + i) * NR, nr = N - n0 < NR ? N - n0 : NR;
                    memcpy(c + (m0 + r) * ldc + n0, row, nr * sizeof(int32_t));
                }
        }
    }
}
#endif
