/* u7s8s32-gemm-6x16c4-scalar: the portable form of the 4-deep kernel (any u8 is exact here),
   packing for both, and the c4 dispatch. */
#include "packed_internal.h"

static inline int32_t quad(const int8_t *v) {
    return (int32_t)((uint32_t)(uint8_t)v[0] | (uint32_t)(uint8_t)v[1] << 8 | (uint32_t)(uint8_t)v[2] << 16 | (uint32_t)(uint8_t)v[3] << 24);
}

void octet_packed_pack_b_s8_c4(size_t K, size_t N, const int8_t *b, size_t ns, size_t ks, int32_t *out, int32_t *sums) {
    const size_t K4 = (K + 3) / 4, panels = (N + NR - 1) / NR;
    octet_column_sums(K, N, b, ns, ks, sums);
    for (size_t p = 0; p < panels; p++) {
        for (size_t q = 0; q < K4; q++) {
            for (size_t c = 0; c < NR; c++) {
                const size_t n = p * NR + c;
                int8_t v[4] = {0, 0, 0, 0};
                for (size_t i = 0; i < 4 && n < N && 4 * q + i < K; i++) v[i] = b[n * ns + (4 * q + i) * ks];
                out[(p * K4 + q) * NR + c] = quad(v);
            }
        }
    }
}

#if defined(__x86_64__)
#include <emmintrin.h>
/* Rows of at most 64 bytes (few-channel convolutions, such as an RGB stem's K = 27): the row
   is gathered or copied into a zero-padded local buffer, then stored, summed (psadbw) and
   checked for values above 127 16 bytes at a time. SSE2 is part of x86-64: no ISA choice. */
enum { SHORT_ROW = 64 };

static int pack_short_rows(const octet_packed_a_source *s, size_t row_begin, size_t rows, size_t K, int32_t *out, int32_t *row_sums) {
    const size_t K4 = (K + 3) / 4, bytes = 4 * K4, chunks = (bytes + 15) / 16;
    __m128i high = _mm_setzero_si128();
    for (size_t r = 0; r < rows; r++) {
        const size_t m = row_begin + r;
        uint8_t buf[SHORT_ROW];
        memset(buf, 0, sizeof buf);
        if (s->offsets) octet_packed_gather_row(s, m, buf);
        else memcpy(buf, s->x + m * s->lda, K);
        __m128i sum = _mm_setzero_si128();
        for (size_t i = 0; i < chunks; i++) {
            const __m128i v = _mm_loadu_si128((const __m128i *)(buf + 16 * i));
            sum = _mm_add_epi64(sum, _mm_sad_epu8(v, _mm_setzero_si128()));
            high = _mm_or_si128(high, v);
        }
        uint8_t *dst = (uint8_t *)(out + r * K4);
        if (bytes >= 16) { /* two overlapping 16-byte moves per 32 bytes, never past the row */
            for (size_t i = 0; i + 16 <= bytes; i += 16) memcpy(dst + i, buf + i, 16);
            memcpy(dst + bytes - 16, buf + bytes - 16, 16);
        } else {
            memcpy(dst, buf, bytes);
        }
        if (row_sums) row_sums[r] = _mm_cvtsi128_si32(sum) + _mm_cvtsi128_si32(_mm_unpackhi_epi64(sum, sum));
    }
    return (_mm_movemask_epi8(high) & 0xFFFF) != 0;
}
#endif

int octet_packed_pack_a_c4(const octet_packed_a_source *s, size_t row_begin, size_t rows, size_t K, int32_t *out, int32_t *row_sums,
                           uint8_t *scratch) {
    (void)scratch; /* an indirect row is gathered straight into its packed place */
    const size_t K4 = (K + 3) / 4;
#if defined(__x86_64__)
    if (4 * K4 <= SHORT_ROW) return pack_short_rows(s, row_begin, rows, K, out, row_sums);
#endif
    uint8_t high = 0;
    for (size_t r = 0; r < rows; r++) {
        const size_t m = row_begin + r;
        uint8_t *dst = (uint8_t *)(out + r * K4);
        if (s->offsets) {
            octet_packed_gather_row(s, m, dst);
        } else {
            memcpy(dst, s->x + m * s->lda, K);
        }
        for (size_t k = K; k < 4 * K4; k++) dst[k] = 0;
        /* Over the packed copy (in L1 now); the padding adds nothing. Vectorized by the compiler. */
        uint8_t h = 0;
        for (size_t k = 0; k < K; k++) h |= dst[k];
        high |= h;
        if (row_sums) {
            int32_t sum = 0;
            for (size_t k = 0; k < K; k++) sum += dst[k];
            row_sums[r] = sum;
        }
    }
    return (high & 0x80) != 0;
}

int octet_packed_u8_exceeds_127(const uint8_t *x, size_t rows, size_t K, size_t lda) {
    uint8_t high = 0;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *row = x + r * lda;
        uint8_t h = 0;
        for (size_t k = 0; k < K; k++) h |= row[k];
        high |= h;
    }
    return (high & 0x80) != 0;
}

static void scalar_tile(size_t mr, size_t K4, const int32_t *a, size_t a_stride, const int32_t *b, int32_t acc[MR][NR]) {
    memset(acc, 0, sizeof(int32_t) * MR * NR);
    for (size_t q = 0; q < K4; q++)
        for (size_t r = 0; r < mr; r++) {
            const uint8_t *av = (const uint8_t *)(a + r * a_stride + q);
            for (size_t c = 0; c < NR; c++) {
                const int8_t *bv = (const int8_t *)(b + q * NR + c);
                acc[r][c] += av[0] * bv[0] + av[1] * bv[1] + av[2] * bv[2] + av[3] * bv[3];
            }
        }
}

void octet_packed_gemm_c4(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, const int32_t *rows, const int32_t *b,
                          const int32_t *cols, void *c, size_t ldc, const octet_packed_output *o, size_t p0, size_t p1, int32_t *acc,
                          size_t kc_quads) {
    octet_packed_gemm_c4_strided(isa, M, N, K, a, (K + 3) / 4, rows, b, cols, c, ldc, o, p0, p1, acc, kc_quads);
}

void octet_packed_gemm_c4_strided(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, size_t a_stride, const int32_t *rows,
                                  const int32_t *b, const int32_t *cols, void *c, size_t ldc, const octet_packed_output *o, size_t p0, size_t p1,
                                  int32_t *acc, size_t kc_quads) {
    const size_t K4 = (K + 3) / 4;
#if OCTET_X86
    if (isa == OCTET_PACKED_AVX512_VNNI) {
        octet_u8s8s32_gemm_8x32c4_avx512vnni(M, N, K, a, a_stride, rows, b, cols, c, ldc, o, p0, p1, acc, kc_quads);
        return;
    }
#endif
    for (size_t p = p0; p < p1; p++) {
        const size_t n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
        const int32_t *bp = b + p * K4 * NR;
#if OCTET_X86
        if (isa == OCTET_PACKED_AVX_VNNI) {
            octet_u8s8s32_gemm_6x16c4_avxvnni_panel(M, K, a, a_stride, bp, n0, nr, rows, cols, o, c, ldc, acc, kc_quads < 8 ? 8 : kc_quads);
            continue;
        }
        if (isa == OCTET_PACKED_AVX2) {
            octet_u7s8s32_gemm_6x16c4_avx2_panel(M, K, a, a_stride, bp, n0, nr, rows, cols, o, c, ldc, acc, kc_quads < 8 ? 8 : kc_quads);
            continue;
        }
#endif
        (void)acc;
        (void)kc_quads;
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = M - m0 < MR ? M - m0 : MR;
            int32_t t[MR][NR];
            scalar_tile(mr, K4, a + m0 * a_stride, a_stride, bp, t);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++)
                    octet_store_scalar(octet_raw_value(t[r][j], m0 + r, n0 + j, K, rows, cols, o), m0 + r, n0 + j, o, c, (m0 + r) * ldc + n0 + j);
        }
    }
}

void octet_packed_gemm_c4_s32(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, const int32_t *b, int32_t *c, size_t ldc) {
    const size_t K4 = (K + 3) / 4;
#if OCTET_X86
    if (isa == OCTET_PACKED_AVX512_VNNI) {
        octet_u8s8s32_gemm_8x32c4_avx512vnni_s32(M, N, K4, a, b, c, ldc);
        return;
    }
#endif
    for (size_t p = 0; p < (N + NR - 1) / NR; p++) {
        const size_t n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = M - m0 < MR ? M - m0 : MR;
            int32_t acc[MR][NR];
#if OCTET_X86
            if (isa == OCTET_PACKED_AVX_VNNI) octet_u8s8s32_gemm_6x16c4_avxvnni_s32(mr, K4, a + m0 * K4, b + p * K4 * NR, acc);
            else if (isa == OCTET_PACKED_AVX2) octet_u7s8s32_gemm_6x16c4_avx2_s32(mr, K4, a + m0 * K4, b + p * K4 * NR, acc);
            else
#endif
                scalar_tile(mr, K4, a + m0 * K4, K4, b + p * K4 * NR, acc);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++) c[(m0 + r) * ldc + n0 + j] = acc[r][j];
        }
    }
}
