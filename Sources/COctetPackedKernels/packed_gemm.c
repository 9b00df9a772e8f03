#include "octet_packed.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OCTET_X86 1
#else
#define OCTET_X86 0
#endif

enum { NR = OCTET_PACKED_NR, MR = OCTET_PACKED_MR };

int octet_packed_host_has_avx2(void) {
#if OCTET_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

static inline int32_t pair(int32_t lo, int32_t hi) { return (int32_t)(((uint32_t)(uint16_t)(int16_t)hi << 16) | (uint16_t)(int16_t)lo); }

void octet_packed_pack_b_s8(size_t K, size_t N, const int8_t *b, size_t ns, size_t ks, int32_t *out, int32_t *sums) {
    const size_t K2 = (K + 1) / 2, panels = (N + NR - 1) / NR;
    for (size_t n = 0; n < N; n++) {
        int32_t s = 0;
        for (size_t k = 0; k < K; k++) s += b[n * ns + k * ks];
        sums[n] = s;
    }
    for (size_t p = 0; p < panels; p++) {
        for (size_t j = 0; j < K2; j++) {
            for (size_t c = 0; c < NR; c++) {
                const size_t n = p * NR + c;
                int32_t lo = 0, hi = 0;
                if (n < N) {
                    lo = b[n * ns + (2 * j) * ks];
                    if (2 * j + 1 < K) hi = b[n * ns + (2 * j + 1) * ks];
                }
                out[(p * K2 + j) * NR + c] = pair(lo, hi);
            }
        }
    }
}

void octet_packed_pack_a_u8(size_t M, size_t K, const uint8_t *a, size_t lda, int32_t *out, int32_t *sums) {
    const size_t K2 = (K + 1) / 2;
    for (size_t r = 0; r < M; r++) {
        const uint8_t *row = a + r * lda;
        int32_t s = 0;
        for (size_t j = 0; j < K2; j++) {
            const int32_t lo = row[2 * j], hi = 2 * j + 1 < K ? row[2 * j + 1] : 0;
            s += lo + hi;
            out[r * K2 + j] = pair(lo, hi);
        }
        if (sums) sums[r] = s;
    }
}

/* ---- Output pipeline, scalar (also the AVX2 tail path) ---------------------------- */

static inline int32_t raw_value(int32_t acc, size_t m, size_t n, size_t K, const int32_t *rows, const int32_t *cols,
                                const octet_packed_output *o) {
    int32_t raw = acc - o->a_zero_point * cols[n];
    if (o->b_zero_point) raw += -o->b_zero_point * rows[m] + (int32_t)K * o->a_zero_point * o->b_zero_point;
    if (o->bias_s32) raw += o->bias_s32[n];
    return raw;
}

static inline void store_scalar(int32_t raw, size_t n, const octet_packed_output *o, void *c, size_t index) {
    if (o->to_f32) {
        float y = (float)raw * o->dequant_scale[n] + (o->bias_real ? o->bias_real[n] : 0.0f);
        ((float *)c)[index] = fminf(fmaxf(y, o->lo), o->hi);
    } else {
        float f = (float)raw;
        if (o->bias_f32) f += o->bias_f32[n];
        f *= o->multiplier[n];
        float lo = (float)(o->qmin - o->out_zero_point), hi = (float)(o->qmax - o->out_zero_point);
        f = f != f ? lo : fminf(fmaxf(f, lo), hi);
        ((uint8_t *)c)[index] = (uint8_t)((int32_t)nearbyintf(f) + o->out_zero_point);
    }
}

/* ---- Scalar micro-kernel ----------------------------------------------------------- */

static void scalar_tile(size_t mr, size_t K2, const int32_t *a, size_t a_stride, const int32_t *b, int32_t acc[MR][NR]) {
    memset(acc, 0, sizeof(int32_t) * MR * NR);
    for (size_t j = 0; j < K2; j++) {
        for (size_t r = 0; r < mr; r++) {
            const int32_t av = a[r * a_stride + j];
            const int32_t a0 = (int16_t)(av & 0xFFFF), a1 = (int16_t)(av >> 16);
            for (size_t c = 0; c < NR; c++) {
                const int32_t bv = b[j * NR + c];
                acc[r][c] += a0 * (int16_t)(bv & 0xFFFF) + a1 * (int16_t)(bv >> 16);
            }
        }
    }
}

/* ---- AVX2 micro-kernel: 6 rows x 16 columns, vpmaddwd on s16 pairs ------------------ */

#if OCTET_X86
#define AVX2 __attribute__((target("avx2,fma")))

/* Accumulators are locals (registers); they are copied out once at the end. */
#define DEFINE_TILE(ROWS)                                                                          \
    AVX2 static void avx2_tile_##ROWS(size_t K2, const int32_t *a, size_t a_stride, const int32_t *b, \
                                      const int32_t *init, __m256i out0[MR], __m256i out1[MR]) {   \
        __m256i c0[ROWS], c1[ROWS];                                                                \
        for (size_t r = 0; r < ROWS; r++) {                                                        \
            c0[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR)) : _mm256_setzero_si256();     \
            c1[r] = init ? _mm256_loadu_si256((const __m256i *)(init + r * NR + 8)) : _mm256_setzero_si256(); \
        }                                                                                          \
        for (size_t j = 0; j < K2; j++) {                                                          \
            const __m256i b0 = _mm256_load_si256((const __m256i *)(b + j * NR));                   \
            const __m256i b1 = _mm256_load_si256((const __m256i *)(b + j * NR + 8));               \
            for (size_t r = 0; r < ROWS; r++) {                                                    \
                const __m256i av = _mm256_set1_epi32(a[r * a_stride + j]);                         \
                c0[r] = _mm256_add_epi32(c0[r], _mm256_madd_epi16(av, b0));                        \
                c1[r] = _mm256_add_epi32(c1[r], _mm256_madd_epi16(av, b1));                        \
            }                                                                                      \
        }                                                                                          \
        for (size_t r = 0; r < ROWS; r++) { out0[r] = c0[r]; out1[r] = c1[r]; }                    \
    }
DEFINE_TILE(1) DEFINE_TILE(2) DEFINE_TILE(3) DEFINE_TILE(4) DEFINE_TILE(5) DEFINE_TILE(6)

AVX2 static void avx2_tile(size_t mr, size_t K2, const int32_t *a, size_t as, const int32_t *b, const int32_t *init, __m256i c0[MR], __m256i c1[MR]) {
    switch (mr) {
    case 1: avx2_tile_1(K2, a, as, b, init, c0, c1); break;
    case 2: avx2_tile_2(K2, a, as, b, init, c0, c1); break;
    case 3: avx2_tile_3(K2, a, as, b, init, c0, c1); break;
    case 4: avx2_tile_4(K2, a, as, b, init, c0, c1); break;
    case 5: avx2_tile_5(K2, a, as, b, init, c0, c1); break;
    default: avx2_tile_6(K2, a, as, b, init, c0, c1); break;
    }
}

/* Requantizes 8 columns n0..n0+7 of one row to u8 (all 8 valid). */
AVX2 static inline __m128i requant8(__m256i acc, size_t m, size_t n0, size_t K, const int32_t *rows, const int32_t *cols,
                                    const octet_packed_output *o) {
    __m256i raw = _mm256_sub_epi32(acc, _mm256_mullo_epi32(_mm256_set1_epi32(o->a_zero_point), _mm256_loadu_si256((const __m256i *)(cols + n0))));
    if (o->b_zero_point)
        raw = _mm256_add_epi32(raw, _mm256_set1_epi32(-o->b_zero_point * rows[m] + (int32_t)K * o->a_zero_point * o->b_zero_point));
    if (o->bias_s32) raw = _mm256_add_epi32(raw, _mm256_loadu_si256((const __m256i *)(o->bias_s32 + n0)));
    __m256 f = _mm256_cvtepi32_ps(raw);
    if (o->bias_f32) f = _mm256_add_ps(f, _mm256_loadu_ps(o->bias_f32 + n0));
    f = _mm256_mul_ps(f, _mm256_loadu_ps(o->multiplier + n0));
    /* Clamp in float first: out-of-range conversions would give INT_MIN. */
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps((float)(o->qmin - o->out_zero_point))), _mm256_set1_ps((float)(o->qmax - o->out_zero_point)));
    __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(o->out_zero_point)); /* RNE */
    __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    __m128i w = _mm_packs_epi32(lo, hi);
    return _mm_packus_epi16(w, w); /* low 8 bytes */
}

AVX2 static void avx2_store(size_t mr, size_t m0, size_t n0, size_t nr, size_t K, __m256i c0[MR], __m256i c1[MR], const int32_t *rows,
                            const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc) {
    for (size_t r = 0; r < mr; r++) {
        const size_t m = m0 + r;
        if (!o->to_f32 && nr == NR) {
            __m128i q0 = requant8(c0[r], m, n0, K, rows, cols, o), q1 = requant8(c1[r], m, n0 + 8, K, rows, cols, o);
            _mm_storeu_si128((__m128i *)((uint8_t *)c + m * ldc + n0), _mm_unpacklo_epi64(q0, q1));
            continue;
        }
        int32_t acc[NR];
        _mm256_storeu_si256((__m256i *)acc, c0[r]);
        _mm256_storeu_si256((__m256i *)(acc + 8), c1[r]);
        for (size_t j = 0; j < nr; j++) store_scalar(raw_value(acc[j], m, n0 + j, K, rows, cols, o), n0 + j, o, c, m * ldc + n0 + j);
    }
}
/* One 16-column panel for all M rows, K in blocks of KC2 pairs (sized by the caller from
   the L1 cache): the block's panel slice
   stays in L1 while every row tile passes over it; partial sums wait in `acc` (M x 16). */
AVX2 static void avx2_panel(size_t M, size_t K, const int32_t *a, const int32_t *bp, size_t n0, size_t nr, const int32_t *rows,
                            const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc, int32_t *acc, size_t KC2) {
    const size_t K2 = (K + 1) / 2;
    for (size_t kb = 0; kb < K2 || kb == 0; kb += KC2) {
        const size_t kc = K2 - kb < KC2 ? K2 - kb : KC2;
        const int first = kb == 0, last = kb + kc >= K2;
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = M - m0 < MR ? M - m0 : MR;
            __m256i c0[MR], c1[MR];
            avx2_tile(mr, kc, a + m0 * K2 + kb, K2, bp + kb * NR, first ? NULL : acc + m0 * NR, c0, c1);
            if (last) {
                avx2_store(mr, m0, n0, nr, K, c0, c1, rows, cols, o, c, ldc);
            } else {
                for (size_t r = 0; r < mr; r++) {
                    _mm256_storeu_si256((__m256i *)(acc + (m0 + r) * NR), c0[r]);
                    _mm256_storeu_si256((__m256i *)(acc + (m0 + r) * NR + 8), c1[r]);
                }
            }
        }
        if (K2 == 0) break;
    }
}

AVX2 static void avx2_tile_s32(size_t mr, size_t K2, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]) {
    __m256i c0[MR], c1[MR];
    avx2_tile(mr, K2, a, K2, b, NULL, c0, c1);
    for (size_t r = 0; r < mr; r++) {
        _mm256_storeu_si256((__m256i *)acc[r], c0[r]);
        _mm256_storeu_si256((__m256i *)(acc[r] + 8), c1[r]);
    }
}
#endif

void octet_packed_gemm(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, const int32_t *rows, const int32_t *b,
                       const int32_t *cols, void *c, size_t ldc, const octet_packed_output *o, size_t p0, size_t p1, int32_t *acc,
                       size_t kc_pairs) {
    const size_t K2 = (K + 1) / 2;
    for (size_t p = p0; p < p1; p++) {
        const size_t n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
        const int32_t *bp = b + p * K2 * NR;
#if OCTET_X86
        if (isa == OCTET_PACKED_AVX2) {
            avx2_panel(M, K, a, bp, n0, nr, rows, cols, o, c, ldc, acc, kc_pairs < 8 ? 8 : kc_pairs);
            continue;
        }
#else
        (void)acc;
        (void)kc_pairs;
#endif
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = M - m0 < MR ? M - m0 : MR;
            int32_t acc[MR][NR];
            scalar_tile(mr, K2, a + m0 * K2, K2, bp, acc);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++)
                    store_scalar(raw_value(acc[r][j], m0 + r, n0 + j, K, rows, cols, o), n0 + j, o, c, (m0 + r) * ldc + n0 + j);
        }
    }
}

void octet_packed_gemm_s32(octet_packed_isa isa, size_t M, size_t N, size_t K, const int32_t *a, const int32_t *b, int32_t *c, size_t ldc) {
    const size_t K2 = (K + 1) / 2;
    for (size_t p = 0; p < (N + NR - 1) / NR; p++) {
        const size_t n0 = p * NR, nr = N - n0 < NR ? N - n0 : NR;
        for (size_t m0 = 0; m0 < M; m0 += MR) {
            const size_t mr = M - m0 < MR ? M - m0 : MR;
            int32_t acc[MR][NR];
#if OCTET_X86
            if (isa == OCTET_PACKED_AVX2) avx2_tile_s32(mr, K2, a + m0 * K2, b + p * K2 * NR, acc);
            else
#endif
                scalar_tile(mr, K2, a + m0 * K2, K2, b + p * K2 * NR, acc);
            for (size_t r = 0; r < mr; r++)
                for (size_t j = 0; j < nr; j++) c[(m0 + r) * ldc + n0 + j] = acc[r][j];
        }
    }
}

void octet_packed_depthwise(const octet_packed_depthwise_shape *g, const uint8_t *x, const int8_t *w, void *c,
                            const octet_packed_output *o, size_t c0, size_t c1) {
    const size_t plane = g->h * g->w, out_plane = g->oh * g->ow, taps = g->kh * g->kw;
    const int32_t za = o->a_zero_point, zb = o->b_zero_point;
    for (size_t ch = c0; ch < c1; ch++) {
        const uint8_t *src = x + ch * plane;
        const int8_t *wc = w + ch * taps;
        int32_t wz[64];
        const int small = taps <= 64;
        if (small) for (size_t t = 0; t < taps; t++) wz[t] = wc[t] - zb;
        for (size_t oy = 0; oy < g->oh; oy++) {
            for (size_t ox = 0; ox < g->ow; ox++) {
                int32_t acc = 0;
                for (size_t ky = 0; ky < g->kh; ky++) {
                    const long iy = (long)(oy * g->stride_h + ky * g->dilation_h) - (long)g->pad_top;
                    if (iy < 0 || iy >= (long)g->h) continue;
                    for (size_t kx = 0; kx < g->kw; kx++) {
                        const long ix = (long)(ox * g->stride_w + kx * g->dilation_w) - (long)g->pad_left;
                        if (ix < 0 || ix >= (long)g->w) continue;
                        const size_t t = ky * g->kw + kx;
                        acc += ((int32_t)src[iy * (long)g->w + ix] - za) * (small ? wz[t] : wc[t] - zb);
                    }
                }
                if (o->bias_s32) acc += o->bias_s32[ch];
                store_scalar(acc, ch, o, c, ch * out_plane + oy * g->ow + ox);
            }
        }
    }
}
