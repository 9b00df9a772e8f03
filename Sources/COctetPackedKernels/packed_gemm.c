/* The packed GEMM's entry points: weight packing and the per-ISA dispatch of the s16-pair
   micro-kernels (u8s8s32-gemm-6x16, u8s8s32-gemm-8x32-avx512bw). The ISA is the caller's
   choice (see PackedISA). */
#include "packed_internal.h"


void octet_packed_pack_b_s8(size_t K, size_t N, const int8_t *b, size_t ns, size_t ks, int32_t *out, int32_t *sums) {
    const size_t K2 = (K + 1) / 2, panels = (N + NR - 1) / NR;
    octet_column_sums(K, N, b, ns, ks, sums);
    for (size_t p = 0; p < panels; p++) {
        for (size_t j = 0; j < K2; j++) {
            for (size_t c = 0; c < NR; c++) {
                const size_t n = p * NR + c;
                int32_t lo = 0, hi = 0;
                if (n < N) {
                    lo = b[n * ns + (2 * j) * ks];
                    if (2 * j + 1 < K) hi = b[n * ns + (2 * j + 1) * ks];
                }
                int8_t *pair = (int8_t *)out + ((p * K2 + j) * NR + c) * 2;
                pair[0] = (int8_t)lo;
                pair[1] = (int8_t)hi;
            }
        }
    }
}

void octet_packed_gemm(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, const int32_t *rows, const int32_t *b,
                       const int32_t *cols, void *c, size_t ldc, const octet_packed_output *o, size_t p0, size_t p1, int32_t *acc,
                       size_t kc_pairs) {
    const size_t K2 = (K + 1) / 2;
#if OCTET_X86
    if (isa == OCTET_PACKED_AVX512BW) {
        octet_u8s8s32_gemm_8x32_avx512bw(M, N, K, a, rows, b, cols, c, ldc, o, p0, p1, acc, kc_pairs);
        return;
    }
#endif
    for (size_t p = p0; p < p1; p++) {
        const size_t n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
        const int32_t *bp = b + p * K2 * (NR / 2);
#if OCTET_X86
        if (octet_isa_avx2(isa)) {
            octet_u8s8s32_gemm_6x16_avx2_panel(M, K, a, bp, n0, nr, rows, cols, o, c, ldc, acc, kc_pairs < 8 ? 8 : kc_pairs);
            continue;
        }
#endif
        (void)acc;
        (void)kc_pairs;
        octet_u8s8s32_gemm_6x16_scalar_panel(M, K, a, bp, n0, nr, rows, cols, o, c, ldc);
    }
}

void octet_packed_gemm_s32(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, const int32_t *b, int32_t *c, size_t ldc) {
    const size_t K2 = (K + 1) / 2;
#if OCTET_X86
    if (isa == OCTET_PACKED_AVX512BW) {
        octet_u8s8s32_gemm_8x32_avx512bw_s32(M, N, K2, a, b, c, ldc);
        return;
    }
#endif
    for (size_t p = 0; p < (N + NR - 1) / NR; p++) {
        const size_t n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = M - m0 < MR ? M - m0 : MR;
            int32_t acc[MR][NR];
#if OCTET_X86
            if (octet_isa_avx2(isa)) octet_u8s8s32_gemm_6x16_avx2_s32(mr, K2, a + m0 * K2, b + p * K2 * (NR / 2), acc);
            else
#endif
                octet_u8s8s32_gemm_6x16_scalar_s32(mr, K2, a + m0 * K2, K2, b + p * K2 * (NR / 2), acc);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++) c[(m0 + r) * ldc + n0 + j] = acc[r][j];
        }
    }
}
