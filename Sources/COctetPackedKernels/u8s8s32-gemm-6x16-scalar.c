/* u8s8s32-gemm-6x16-scalar: the portable micro-kernel over s16-pair panels. */
#include "packed_internal.h"

void octet_u8s8s32_gemm_6x16_scalar_s32(size_t mr, size_t K2, const int32_t *a, size_t a_stride, const int32_t *b, int32_t acc[MR][NR]) {
    memset(acc, 0, sizeof(int32_t) * MR * NR);
    for (size_t j = 0; j < K2; j++) {
        for (size_t r = 0; r < mr; r++) {
            const int32_t av = a[r * a_stride + j];
            const int32_t a0 = (int16_t)(av & 0xFFFF), a1 = (int16_t)(av >> 16);
            for (size_t c = 0; c < NR; c++) {
                const int8_t *bv = (const int8_t *)b + (j * NR + c) * 2;
                acc[r][c] += a0 * bv[0] + a1 * bv[1];
            }
        }
    }
}

void octet_u8s8s32_gemm_6x16_scalar_panel(size_t M, size_t K, const int32_t *a, const int32_t *bp, size_t n0, size_t nr,
                                          const int32_t *rows, const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc) {
    const size_t K2 = (K + 1) / 2;
    for (size_t m0 = 0; m0 < M; m0 += MR) {
        const size_t mr = M - m0 < MR ? M - m0 : MR;
        int32_t acc[MR][NR];
        octet_u8s8s32_gemm_6x16_scalar_s32(mr, K2, a + m0 * K2, K2, bp, acc);
        for (size_t r = 0; r < mr; r++)
            for (size_t j = 0; j < nr; j++)
                octet_store_scalar(octet_raw_value(acc[r][j], m0 + r, n0 + j, K, rows, cols, o), m0 + r, n0 + j, o, c, (m0 + r) * ldc + n0 + j);
    }
}
