#pragma once
/* Shared by the packed kernels' C files (not part of the public header): the fused output
   pipeline (FBGEMM's float requantization) in scalar and AVX2 form, and the micro-kernels'
   internal entry points. */
#include "octet_packed.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define OCTET_X86 1
#define OCTET_AVX2 __attribute__((target("avx2,fma")))
#else
#define OCTET_X86 0
#endif

enum { NR = OCTET_PACKED_NR, MR = OCTET_PACKED_MR };

/* Whether `isa` includes AVX2 + FMA (every level above scalar does): the AVX2 kernels serve
   every operation the VNNI levels have no kernel of their own for. */
static inline int octet_isa_avx2(octet_packed_isa isa) { return OCTET_X86 && isa != OCTET_PACKED_SCALAR; }

/* The column sums of a K x N s8 matrix (element (k, n) at b[n * ns + k * ks]): the weight
   side of the zero-point compensation, for every packing format. */
static inline void octet_column_sums(size_t K, size_t N, const int8_t *b, size_t ns, size_t ks, int32_t *sums) {
    for (size_t n = 0; n < N; n++) {
        int32_t s = 0;
        for (size_t k = 0; k < K; k++) s += b[n * ns + k * ks];
        sums[n] = s;
    }
}

static inline int32_t octet_pair(int32_t lo, int32_t hi) {
    return (int32_t)(((uint32_t)(uint16_t)(int16_t)hi << 16) | (uint16_t)(int16_t)lo);
}

/* Zero-point compensation of a GEMM accumulator (column n, row m). */
static inline int32_t octet_raw_value(int32_t acc, size_t m, size_t n, size_t K, const int32_t *rows, const int32_t *cols,
                                      const octet_packed_output *o) {
    const int32_t a_zp = o->row_zero_points ? o->row_zero_points[m] : o->a_zero_point;
    int32_t raw = acc - a_zp * cols[n];
    if (o->b_zero_point) raw += -o->b_zero_point * rows[m] + (int32_t)K * a_zp * o->b_zero_point;
    if (o->bias_s32) raw += o->bias_s32[n];
    return raw;
}

/* The fused residual sum (`octet_packed_sum`) of op code q and operand code b, in the f32
   operations (and order) of the built-in quantized Add; no contraction into an FMA. */
static inline int32_t octet_sum_scalar(int32_t q, int32_t b, const octet_packed_sum *s) {
#pragma clang fp contract(off)
    const float real = (float)(q - s->op_zero_point) * s->op_scale + (float)(b - s->operand_zero_point) * s->operand_scale;
    float v = nearbyintf(real / s->output_scale) + (float)s->output_zero_point;
    const float lo = (float)s->qmin, hi = (float)s->qmax;
    v = v < lo ? lo : (v > hi ? hi : v);
    return (int32_t)v;
}

/* Writes one compensated value of row m, channel n to element `index` of c (u8 or f32). */
static inline void octet_store_scalar(int32_t raw, size_t m, size_t n, const octet_packed_output *o, void *c, size_t index) {
    if (o->to_f32) {
        const float scale = o->row_scales ? o->row_scales[m] * o->dequant_scale[n] : o->dequant_scale[n];
        float y = (float)raw * scale + (o->bias_real ? o->bias_real[n] : 0.0f);
        ((float *)c)[index] = y < o->lo ? o->lo : (y > o->hi ? o->hi : y); /* NaN stays NaN, as unfused */
    } else {
        float f = (float)raw;
        if (o->bias_f32) f += o->bias_f32[n];
        f *= o->multiplier[n];
        float lo = (float)(o->qmin - o->out_zero_point), hi = (float)(o->qmax - o->out_zero_point);
        f = f != f ? lo : fminf(fmaxf(f, lo), hi);
        int32_t q = (int32_t)nearbyintf(f) + o->out_zero_point;
        if (o->sum) q = octet_sum_scalar(q, o->sum->operand[(const uint8_t *)c + index - o->sum->origin], o->sum);
        ((uint8_t *)c)[index] = (uint8_t)q;
    }
}

#if OCTET_X86
/* Requantizes 8 compensated values of channels n0..n0+7 (all valid) to codes in [qmin, qmax] (s32 lanes). */
OCTET_AVX2 static inline __m256i octet_avx2_requant8_s32(__m256i raw, size_t n0, const octet_packed_output *o) {
    __m256 f = _mm256_cvtepi32_ps(raw);
    if (o->bias_f32) f = _mm256_add_ps(f, _mm256_loadu_ps(o->bias_f32 + n0));
    f = _mm256_mul_ps(f, _mm256_loadu_ps(o->multiplier + n0));
    /* Clamp in float first: out-of-range conversions would give INT_MIN. max(f, lo) maps NaN to lo. */
    f = _mm256_min_ps(_mm256_max_ps(f, _mm256_set1_ps((float)(o->qmin - o->out_zero_point))), _mm256_set1_ps((float)(o->qmax - o->out_zero_point)));
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), _mm256_set1_epi32(o->out_zero_point)); /* RNE */
}

/* Requantizes 8 compensated values of channels n0..n0+7 (all valid) to u8 (low 8 bytes). */
OCTET_AVX2 static inline __m128i octet_avx2_requant8(__m256i raw, size_t n0, const octet_packed_output *o) {
    const __m256i q = octet_avx2_requant8_s32(raw, n0, o);
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    return _mm_packus_epi16(w, w);
}

/* The broadcast constants of a fused sum's store for one panel, loaded once into registers
   (the u8 stores may alias the output struct, so the compiler would reload it every row). */
typedef struct sum_store_constants {
    __m256 mul0, mul1, bias0, bias1, lo, hi; /* the op's requantization (bounds relative to its zero point) */
    __m256i zp;
    __m256i op_zp, operand_zp;
    __m256 op_scale, operand_scale, output_scale, output_zp, qmin, qmax;
    const uint8_t *operand, *origin;
    int has_bias;
} sum_store_constants;

OCTET_AVX2 static inline sum_store_constants octet_avx2_sum_store_constants(size_t n0, const octet_packed_output *o) {
    sum_store_constants k;
    const octet_packed_sum *s = o->sum;
    k.mul0 = _mm256_loadu_ps(o->multiplier + n0), k.mul1 = _mm256_loadu_ps(o->multiplier + n0 + 8);
    k.has_bias = o->bias_f32 != NULL;
    k.bias0 = k.has_bias ? _mm256_loadu_ps(o->bias_f32 + n0) : _mm256_setzero_ps();
    k.bias1 = k.has_bias ? _mm256_loadu_ps(o->bias_f32 + n0 + 8) : _mm256_setzero_ps();
    k.lo = _mm256_set1_ps((float)(o->qmin - o->out_zero_point)), k.hi = _mm256_set1_ps((float)(o->qmax - o->out_zero_point));
    k.zp = _mm256_set1_epi32(o->out_zero_point);
    k.op_zp = _mm256_set1_epi32(s->op_zero_point), k.operand_zp = _mm256_set1_epi32(s->operand_zero_point);
    k.op_scale = _mm256_set1_ps(s->op_scale), k.operand_scale = _mm256_set1_ps(s->operand_scale);
    k.output_scale = _mm256_set1_ps(s->output_scale), k.output_zp = _mm256_set1_ps((float)s->output_zero_point);
    k.qmin = _mm256_set1_ps((float)s->qmin), k.qmax = _mm256_set1_ps((float)s->qmax);
    k.operand = s->operand, k.origin = s->origin;
    return k;
}

/* The op's codes of 8 compensated values (the operations of `octet_avx2_requant8_s32`), then
   `octet_sum_scalar` lane by lane with the 8 operand bytes at b: the same f32 operations (vdivps
   and vroundps are exact IEEE division and rounding), no contraction. */
OCTET_AVX2 static inline __m256i octet_avx2_sum8(__m256i raw, __m256 mul, __m256 bias, const uint8_t *b, const sum_store_constants *k) {
#pragma clang fp contract(off)
    __m256 f = _mm256_cvtepi32_ps(raw);
    if (k->has_bias) f = _mm256_add_ps(f, bias);
    f = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(f, mul), k->lo), k->hi);
    const __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(f), k->zp); /* RNE */
    const __m256i bv = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)b));
    const __m256 x = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, k->op_zp)), k->op_scale);
    const __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(bv, k->operand_zp)), k->operand_scale);
    __m256 v = _mm256_round_ps(_mm256_div_ps(_mm256_add_ps(x, y), k->output_scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm256_min_ps(_mm256_max_ps(_mm256_add_ps(v, k->output_zp), k->qmin), k->qmax);
    return _mm256_cvtps_epi32(v); /* integral already */
}

/* 16 outputs of one row at dst (nr valid): the codes of r0, r1 (channels n0..n0+15) with the
   fused sum applied, reading only the nr operand bytes that correspond to them. */
OCTET_AVX2 static inline void octet_avx2_store_sum16(__m256i r0, __m256i r1, size_t nr, const sum_store_constants *k, uint8_t *dst) {
    const uint8_t *b = k->operand + (dst - k->origin);
    uint8_t operand[OCTET_PACKED_NR], out[OCTET_PACKED_NR];
    if (nr != OCTET_PACKED_NR) {
        memset(operand, 0, sizeof operand);
        memcpy(operand, b, nr);
        b = operand;
    }
    const __m256i q0 = octet_avx2_sum8(r0, k->mul0, k->bias0, b, k), q1 = octet_avx2_sum8(r1, k->mul1, k->bias1, b + 8, k);
    const __m128i w = _mm_packus_epi16(_mm_packs_epi32(_mm256_castsi256_si128(q0), _mm256_extracti128_si256(q0, 1)),
                                       _mm_packs_epi32(_mm256_castsi256_si128(q1), _mm256_extracti128_si256(q1, 1)));
    if (nr == OCTET_PACKED_NR) {
        _mm_storeu_si128((__m128i *)dst, w);
    } else {
        _mm_storeu_si128((__m128i *)out, w);
        memcpy(dst, out, nr);
    }
}

/* Dequantizes 8 compensated values of channels n0..n0+7 (all valid) to f32 at `dst`;
   `row_scale` multiplies the per-column scales first (1 with per-tensor activations is not
   applied: pass has_row = 0). */
OCTET_AVX2 static inline void octet_avx2_dequant8(__m256i raw, size_t n0, const octet_packed_output *o, float *dst, int has_row, float row_scale) {
    __m256 scale = _mm256_loadu_ps(o->dequant_scale + n0);
    if (has_row) scale = _mm256_mul_ps(_mm256_set1_ps(row_scale), scale);
    __m256 y = _mm256_mul_ps(_mm256_cvtepi32_ps(raw), scale);
    if (o->bias_real) y = _mm256_add_ps(y, _mm256_loadu_ps(o->bias_real + n0));
    /* max/min return their second operand when one is NaN: NaN stays NaN, as in the scalar form. */
    y = _mm256_min_ps(_mm256_set1_ps(o->hi), _mm256_max_ps(_mm256_set1_ps(o->lo), y));
    _mm256_storeu_ps(dst, y);
}

/* What the store adds and multiplies per column of one panel, loaded once per panel:
   colterm = bias_s32 − a_zp·colsum + K·a_zp·b_zp (the row term −b_zp·rowsum is per row).
   With per-row activation zero points the a_zp terms are per row: colterm holds bias_s32
   alone and the store adds −zp_m·colsum + K·zp_m·b_zp row by row from `cols`. */
typedef struct panel_constants {
    __m256i colterm[2], cols[2];
    int32_t k;
} panel_constants;

OCTET_AVX2 static inline panel_constants octet_avx2_panel_constants(size_t n0, size_t K, const int32_t *cols, const octet_packed_output *o) {
    panel_constants p;
    p.k = (int32_t)K;
    const int32_t a_zp = o->row_zero_points ? 0 : o->a_zero_point;
    for (int h = 0; h < 2; h++) {
        p.cols[h] = _mm256_loadu_si256((const __m256i *)(cols + n0 + 8 * h));
        __m256i t = _mm256_mullo_epi32(_mm256_set1_epi32(-a_zp), p.cols[h]);
        if (o->b_zero_point) t = _mm256_add_epi32(t, _mm256_set1_epi32((int32_t)K * a_zp * o->b_zero_point));
        if (o->bias_s32) t = _mm256_add_epi32(t, _mm256_loadu_si256((const __m256i *)(o->bias_s32 + n0 + 8 * h)));
        p.colterm[h] = t;
    }
    return p;
}

/* Two rows of a full 16-column panel requantized to u8 together (32 values): the common case of
   u8 output, per-tensor activations and symmetric weights. Two 256-bit packs, one vpermd and
   one byte clamp serve both rows, where `octet_avx2_requant8` spends a 128-bit pack chain per
   8 values. Same codes: clamping the float to qmax − zp before the conversion and saturating
   the rest through the packs (then to [qmin, qmax] in u8) equals the float clamp to
   [qmin − zp, qmax − zp] (a NaN or −∞ becomes INT_MIN, then qmin, as `max(f, lo)` gives). */
typedef struct u8_store_constants {
    __m256 mul0, mul1, bias0, bias1, hi;
    __m256i zp16, qmin8, qmax8;
} u8_store_constants;

OCTET_AVX2 static inline u8_store_constants octet_avx2_u8_store_constants(size_t n0, const octet_packed_output *o) {
    u8_store_constants k;
    k.mul0 = _mm256_loadu_ps(o->multiplier + n0), k.mul1 = _mm256_loadu_ps(o->multiplier + n0 + 8);
    k.bias0 = o->bias_f32 ? _mm256_loadu_ps(o->bias_f32 + n0) : _mm256_setzero_ps();
    k.bias1 = o->bias_f32 ? _mm256_loadu_ps(o->bias_f32 + n0 + 8) : _mm256_setzero_ps();
    k.hi = _mm256_set1_ps((float)(o->qmax - o->out_zero_point));
    k.zp16 = _mm256_set1_epi16((int16_t)o->out_zero_point);
    k.qmin8 = _mm256_set1_epi8((char)(uint8_t)(o->qmin < 0 ? 0 : o->qmin));
    k.qmax8 = _mm256_set1_epi8((char)(uint8_t)(o->qmax > 255 ? 255 : o->qmax));
    return k;
}

OCTET_AVX2 static inline __m256i octet_avx2_u8_row_pair_s32(__m256i r, __m256 mul, __m256 bias, int has_bias, __m256 hi) {
    __m256 f = _mm256_cvtepi32_ps(r);
    if (has_bias) f = _mm256_add_ps(f, bias);
    f = _mm256_mul_ps(f, mul);
    return _mm256_cvtps_epi32(_mm256_min_ps(hi, f)); /* min(hi, NaN) is NaN: INT_MIN below */
}

/* Rows a and b (compensated s32, 16 columns each) to u8 at da and db. */
OCTET_AVX2 static inline void octet_avx2_store_u8_row_pair(__m256i a0, __m256i a1, __m256i b0, __m256i b1, const u8_store_constants *k,
                                                           int has_bias, uint8_t *da, uint8_t *db) {
    const __m256i qa = _mm256_packs_epi32(octet_avx2_u8_row_pair_s32(a0, k->mul0, k->bias0, has_bias, k->hi),
                                          octet_avx2_u8_row_pair_s32(a1, k->mul1, k->bias1, has_bias, k->hi));
    const __m256i qb = _mm256_packs_epi32(octet_avx2_u8_row_pair_s32(b0, k->mul0, k->bias0, has_bias, k->hi),
                                          octet_avx2_u8_row_pair_s32(b1, k->mul1, k->bias1, has_bias, k->hi));
    /* dwords: a0[0..3] a1[0..3] b0[0..3] b1[0..3] | a0[4..7] a1[4..7] b0[4..7] b1[4..7] */
    __m256i u = _mm256_packus_epi16(_mm256_adds_epi16(qa, k->zp16), _mm256_adds_epi16(qb, k->zp16));
    u = _mm256_permutevar8x32_epi32(u, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    u = _mm256_min_epu8(_mm256_max_epu8(u, k->qmin8), k->qmax8);
    _mm_storeu_si128((__m128i *)da, _mm256_castsi256_si128(u));
    _mm_storeu_si128((__m128i *)db, _mm256_extracti128_si256(u, 1));
}

/* Stores rows m0..m0+mr−1 of one panel. Per-column arrays (and the column sums) are readable
   up to the panel's end (callers pad them to a multiple of 16); a partial panel (nr < 16)
   is computed whole and only its nr valid columns are written. */
OCTET_AVX2 static inline void octet_avx2_store_tile(size_t mr, size_t m0, size_t n0, size_t nr, const panel_constants *pc, __m256i c0[OCTET_PACKED_MR], __m256i c1[OCTET_PACKED_MR],
                             const int32_t *rows, const octet_packed_output *o, void *c, size_t ldc) {
    const int per_row = o->row_zero_points != NULL;
    size_t r = 0;
    if (o->sum) {
        /* A fused residual sum: u8 output, per-tensor activations (the backend's contract). */
        const sum_store_constants k = octet_avx2_sum_store_constants(n0, o);
        const int32_t b_zp = o->b_zero_point;
        for (; r < mr; r++) {
            const size_t m = m0 + r;
            __m256i r0 = _mm256_add_epi32(c0[r], pc->colterm[0]), r1 = _mm256_add_epi32(c1[r], pc->colterm[1]);
            if (b_zp) {
                const __m256i t = _mm256_set1_epi32(-b_zp * rows[m]);
                r0 = _mm256_add_epi32(r0, t);
                r1 = _mm256_add_epi32(r1, t);
            }
            octet_avx2_store_sum16(r0, r1, nr, &k, (uint8_t *)c + m * ldc + n0);
        }
        return;
    }
    if (!o->to_f32 && !per_row && !o->b_zero_point && nr == OCTET_PACKED_NR && mr >= 2) {
        const u8_store_constants k = octet_avx2_u8_store_constants(n0, o);
        const int has_bias = o->bias_f32 != NULL;
        uint8_t *dst = (uint8_t *)c + m0 * ldc + n0;
        for (; r + 2 <= mr; r += 2)
            octet_avx2_store_u8_row_pair(_mm256_add_epi32(c0[r], pc->colterm[0]), _mm256_add_epi32(c1[r], pc->colterm[1]),
                                         _mm256_add_epi32(c0[r + 1], pc->colterm[0]), _mm256_add_epi32(c1[r + 1], pc->colterm[1]), &k,
                                         has_bias, dst + r * ldc, dst + (r + 1) * ldc);
    }
    for (; r < mr; r++) {
        const size_t m = m0 + r;
        __m256i r0 = _mm256_add_epi32(c0[r], pc->colterm[0]), r1 = _mm256_add_epi32(c1[r], pc->colterm[1]);
        int32_t rowterm = o->b_zero_point ? -o->b_zero_point * rows[m] : 0;
        if (per_row) {
            const int32_t zp = o->row_zero_points[m];
            rowterm += (int32_t)pc->k * zp * o->b_zero_point;
            const __m256i z = _mm256_set1_epi32(-zp);
            r0 = _mm256_add_epi32(r0, _mm256_mullo_epi32(z, pc->cols[0]));
            r1 = _mm256_add_epi32(r1, _mm256_mullo_epi32(z, pc->cols[1]));
        }
        if (rowterm) {
            r0 = _mm256_add_epi32(r0, _mm256_set1_epi32(rowterm));
            r1 = _mm256_add_epi32(r1, _mm256_set1_epi32(rowterm));
        }
        if (o->to_f32) {
            float *dst = (float *)c + m * ldc + n0, tmp[OCTET_PACKED_NR];
            float *out = nr == OCTET_PACKED_NR ? dst : tmp;
            const float rs = o->row_scales ? o->row_scales[m] : 1.0f;
            octet_avx2_dequant8(r0, n0, o, out, o->row_scales != NULL, rs);
            octet_avx2_dequant8(r1, n0 + 8, o, out + 8, o->row_scales != NULL, rs);
            if (nr != NR) memcpy(dst, tmp, nr * sizeof(float));
        } else {
            const __m128i q = _mm_unpacklo_epi64(octet_avx2_requant8(r0, n0, o), octet_avx2_requant8(r1, n0 + 8, o));
            uint8_t *dst = (uint8_t *)c + m * ldc + n0;
            if (nr == OCTET_PACKED_NR) {
                _mm_storeu_si128((__m128i *)dst, q);
            } else {
                uint8_t tmp[OCTET_PACKED_NR];
                _mm_storeu_si128((__m128i *)tmp, q);
                memcpy(dst, tmp, nr);
            }
        }
    }
}

/* One tile of `mr` rows x 16 columns over kc K steps (k-pairs or k-quads; row r's steps at
   a + r · as), starting from the partial sums at `init` (M x 16 words, or NULL), into c0/c1
   (columns 0-7, 8-15). */
typedef void (*octet_avx2_tile)(size_t mr, size_t kc, const int32_t *a, size_t as, const int32_t *b, const int32_t *init, __m256i c0[OCTET_PACKED_MR],
                                __m256i c1[OCTET_PACKED_MR]);

/* The panel loop of the 16-column kernels: one panel for all M rows (row m's K steps at
   a + m · as), `depth` K steps (k-pairs or k-quads, `b_step` weight words each) in blocks of
   `KC` (the weight slice stays in L1 while the row tiles pass), partial sums waiting in `acc`
   (M x 16), the shared store on the last block. Inlined into each kernel with its own
   `tile`, so the call is direct. */
__attribute__((always_inline)) OCTET_AVX2 static inline void octet_avx2_panel_loop(octet_avx2_tile tile, size_t depth, size_t b_step, size_t M, size_t K,
                                                                                    const int32_t *a, size_t as, const int32_t *bp, size_t n0, size_t nr,
                                                                                    const int32_t *rows, const int32_t *cols, const octet_packed_output *out,
                                                                                    void *c, size_t ldc, int32_t *acc, size_t KC) {
    /* A local copy: u8 stores may alias anything, so fields read through `out` would be reloaded. */
    const octet_packed_output local = *out;
    const octet_packed_output *o = &local;
    const panel_constants pc = octet_avx2_panel_constants(n0, K, cols, o);
    for (size_t kb = 0; kb < depth || kb == 0; kb += KC) {
        const size_t kc = depth - kb < KC ? depth - kb : KC;
        const int first = kb == 0, last = kb + kc >= depth;
        for (size_t m0 = 0; m0 < M; m0 += OCTET_PACKED_MR) {
            const size_t mr = M - m0 < OCTET_PACKED_MR ? M - m0 : OCTET_PACKED_MR;
            __m256i c0[OCTET_PACKED_MR], c1[OCTET_PACKED_MR];
            tile(mr, kc, a + m0 * as + kb, as, bp + kb * b_step, first ? NULL : acc + m0 * OCTET_PACKED_NR, c0, c1);
            if (last) {
                octet_avx2_store_tile(mr, m0, n0, nr, &pc, c0, c1, rows, o, c, ldc);
            } else {
                for (size_t r = 0; r < mr; r++) {
                    _mm256_storeu_si256((__m256i *)(acc + (m0 + r) * OCTET_PACKED_NR), c0[r]);
                    _mm256_storeu_si256((__m256i *)(acc + (m0 + r) * OCTET_PACKED_NR + 8), c1[r]);
                }
            }
        }
        if (depth == 0) break;
    }
}

/* Raw accumulators of one tile (`depth` K steps, rows at a + r · depth), for the tests. */
__attribute__((always_inline)) OCTET_AVX2 static inline void octet_avx2_tile_s32(octet_avx2_tile tile, size_t mr, size_t depth, const int32_t *a,
                                                                                  const int32_t *b, int32_t acc[OCTET_PACKED_MR][OCTET_PACKED_NR]) {
    __m256i c0[OCTET_PACKED_MR], c1[OCTET_PACKED_MR];
    tile(mr, depth, a, depth, b, NULL, c0, c1);
    for (size_t r = 0; r < mr; r++) {
        _mm256_storeu_si256((__m256i *)acc[r], c0[r]);
        _mm256_storeu_si256((__m256i *)(acc[r] + 8), c1[r]);
    }
}

/* ---- The AVX-512 two-panel tiles (8 rows x 32 columns) ------------------------------------
   `u8s8s32-gemm-8x32c4-avx512vnni` (vpdpbusd on k-quads) and `u8s8s32-gemm-8x32-avx512bw`
   (vpmaddwd on s16 pairs) share the loop over panel pairs, K blocks and row tiles, and the
   store; only the tile differs. */
#define OCTET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))
enum { WIDE_MR = OCTET_PACKED_WIDE_MR, WIDE_ACC_STRIDE = 2 * NR };

/* One tile: `depth` K steps of up to 8 rows (row r's steps at a + r · as) against one or two
   panels (the block's weights at b0 and b1), from the partial sums at `init` (row r at
   init + r · 32, panel 1 at + 16) or from zero, into c[r][panel]. */
typedef void (*octet_avx512_tile)(size_t depth, const int32_t *a, size_t as, const int32_t *b0, const int32_t *b1, const int32_t *init,
                                  __m512i c[WIDE_MR][2]);

/* The tiles of a two-panel kernel, `tiles[rows][panels − 1]`: one function per shape, each
   the file's own always-inline `tile_body` (its K step: vpdpbusd on quads, vpmaddwd on pairs)
   with constant rows and panels, so the accumulators stay in registers. `TARGET` is the
   kernel's target attribute. */
#define OCTET_AVX512_TILE(TARGET, ROWS, PANELS)                                                                                   \
    TARGET static void tile_##ROWS##_##PANELS(size_t depth, const int32_t *a, size_t as, const int32_t *b0, const int32_t *b1,   \
                                              const int32_t *init, __m512i c[WIDE_MR][2]) {                                      \
        tile_body(ROWS, PANELS, depth, a, as, b0, b1, init, c);                                                                  \
    }
#define OCTET_AVX512_TILES_OF(TARGET, ROWS) OCTET_AVX512_TILE(TARGET, ROWS, 1) OCTET_AVX512_TILE(TARGET, ROWS, 2)
#define OCTET_AVX512_DEFINE_TILES(TARGET)                                                                                        \
    OCTET_AVX512_TILES_OF(TARGET, 1) OCTET_AVX512_TILES_OF(TARGET, 2) OCTET_AVX512_TILES_OF(TARGET, 3)                          \
    OCTET_AVX512_TILES_OF(TARGET, 4) OCTET_AVX512_TILES_OF(TARGET, 5) OCTET_AVX512_TILES_OF(TARGET, 6)                          \
    OCTET_AVX512_TILES_OF(TARGET, 7) OCTET_AVX512_TILES_OF(TARGET, 8)                                                           \
    static const octet_avx512_tile tiles[WIDE_MR + 1][2] = {                                                                     \
        {NULL, NULL},         {tile_1_1, tile_1_2}, {tile_2_1, tile_2_2}, {tile_3_1, tile_3_2}, {tile_4_1, tile_4_2},            \
        {tile_5_1, tile_5_2}, {tile_6_1, tile_6_2}, {tile_7_1, tile_7_2}, {tile_8_1, tile_8_2},                                  \
    };

/* Rows m0 .. m0 + mr − 1 of panel p of a tile through the shared AVX2 store (zero-point
   compensation, bias, requantization or dequantization, fused sum), 6 rows at a time. */
OCTET_AVX512 static inline void octet_avx512_store_panel(size_t mr, size_t m0, size_t n0, size_t nr, const panel_constants *pc,
                                                         __m512i c[WIDE_MR][2], size_t p, const int32_t *rows, const octet_packed_output *o,
                                                         void *out, size_t ldc) {
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

/* The constants of `octet_avx512_store_u8` for one panel pair, loaded once into registers. */
typedef struct u8_store512_constants {
    __m512i colterm[2];
    __m512 mul[2], bias[2], hi;
    __m512i zp, qmin;
    __m128i qmax8;
    /* A fused residual sum (`octet_packed_sum`), when `sum` is set. */
    const octet_packed_sum *sum;
    __m512i op_qmax, op_zp, operand_zp;
    __m512 op_scale, operand_scale, output_scale, output_zp, sum_qmin, sum_qmax;
} u8_store512_constants;

/* Whether `octet_avx512_store_u8` serves `o`: u8 output, per-tensor activations, symmetric
   weights (the common static convolution and linear, with or without a fused sum). */
static inline int octet_avx512_store_u8_applies(const octet_packed_output *o) {
    return !o->to_f32 && !o->row_zero_points && !o->b_zero_point;
}

OCTET_AVX512 static inline u8_store512_constants octet_avx512_u8_store_constants(const panel_constants pc[2], const size_t n0[2], size_t panels,
                                                                                 const octet_packed_output *o) {
    u8_store512_constants k;
    for (size_t i = 0; i < 2; i++) {
        const size_t p = i < panels ? i : 0;
        k.colterm[i] = _mm512_inserti64x4(_mm512_castsi256_si512(pc[p].colterm[0]), pc[p].colterm[1], 1);
        k.mul[i] = _mm512_loadu_ps(o->multiplier + n0[p]);
        /* No bias adds +0.0f: the same value for every f (the store converts −0 and +0 alike). */
        k.bias[i] = o->bias_f32 ? _mm512_loadu_ps(o->bias_f32 + n0[p]) : _mm512_setzero_ps();
    }
    k.hi = _mm512_set1_ps((float)(o->qmax - o->out_zero_point));
    k.zp = _mm512_set1_epi32(o->out_zero_point);
    k.qmin = _mm512_set1_epi32(o->qmin < 0 ? 0 : o->qmin);
    k.qmax8 = _mm_set1_epi8((char)(uint8_t)(o->qmax > 255 ? 255 : o->qmax));
    k.sum = o->sum;
    if (o->sum) {
        const octet_packed_sum *s = o->sum;
        k.op_qmax = _mm512_set1_epi32(o->qmax > 255 ? 255 : o->qmax);
        k.op_zp = _mm512_set1_epi32(s->op_zero_point), k.operand_zp = _mm512_set1_epi32(s->operand_zero_point);
        k.op_scale = _mm512_set1_ps(s->op_scale), k.operand_scale = _mm512_set1_ps(s->operand_scale);
        k.output_scale = _mm512_set1_ps(s->output_scale), k.output_zp = _mm512_set1_ps((float)s->output_zero_point);
        k.sum_qmin = _mm512_set1_ps((float)s->qmin), k.sum_qmax = _mm512_set1_ps((float)s->qmax);
    }
    return k;
}

/* The fused sum of 16 op codes q (already in [qmin, qmax]) and the 16 operand bytes under
   `mask` at b: `octet_sum_scalar` lane by lane — two products, their sum, an IEEE division,
   round half to even (vrndscaleps), the zero point, the clamp; no contraction. */
OCTET_AVX512 static inline __m512i octet_avx512_sum16(__m512i q, const uint8_t *b, __mmask16 mask, const u8_store512_constants *k) {
#pragma clang fp contract(off)
    const __m512i bv = _mm512_cvtepu8_epi32(_mm_maskz_loadu_epi8(mask, b));
    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(q, k->op_zp)), k->op_scale);
    const __m512 y = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(bv, k->operand_zp)), k->operand_scale);
    __m512 v = _mm512_roundscale_ps(_mm512_div_ps(_mm512_add_ps(x, y), k->output_scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    v = _mm512_min_ps(_mm512_max_ps(_mm512_add_ps(v, k->output_zp), k->sum_qmin), k->sum_qmax);
    return _mm512_cvtps_epi32(v); /* integral already */
}

/* Rows m0 .. m0 + mr − 1 of a tile's panels to u8 (the case `octet_avx512_store_u8_applies`
   names), one zmm per row and panel: the codes of `octet_store_scalar` (clamping the float to
   qmax − zp before the conversion and the code to qmin after it equals the float clamp to
   [qmin − zp, qmax − zp]; a NaN converts to INT_MIN, then qmin, as `max(f, lo)` gives), then an
   unsigned saturating narrow to bytes (codes ≥ qmin ≥ 0) and the byte clamp to qmax. With a
   fused sum the code is clamped to qmax in s32 and the sum applied before the narrow (the
   operand is read only where the output is written). No 256-bit split and no per-row
   branch: the AVX2 store's spills and row dispatch made it as slow as the tile on short K
   (MobileNetV2's 1x1 layers). */
OCTET_AVX512 static inline void octet_avx512_store_u8(size_t mr, size_t m0, size_t panels, const size_t n0[2], const size_t nr[2],
                                                      const u8_store512_constants *k, __m512i c[WIDE_MR][2], uint8_t *out, size_t ldc) {
    for (size_t i = 0; i < panels; i++) {
        const __mmask16 mask = nr[i] >= NR ? (__mmask16)0xFFFF : (__mmask16)((1u << nr[i]) - 1);
        uint8_t *dst = out + m0 * ldc + n0[i];
        for (size_t r = 0; r < mr; r++) {
            __m512 f = _mm512_cvtepi32_ps(_mm512_add_epi32(c[r][i], k->colterm[i]));
            f = _mm512_mul_ps(_mm512_add_ps(f, k->bias[i]), k->mul[i]);
            __m512i q = _mm512_max_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(_mm512_min_ps(k->hi, f)), k->zp), k->qmin); /* RNE; min(hi, NaN) is NaN */
            __m128i u;
            if (k->sum) {
                const __m512i s = octet_avx512_sum16(_mm512_min_epi32(q, k->op_qmax), k->sum->operand + (dst + r * ldc - k->sum->origin), mask, k);
                u = _mm512_cvtusepi32_epi8(s);
            } else {
                u = _mm_min_epu8(_mm512_cvtusepi32_epi8(q), k->qmax8);
            }
            if (mask == 0xFFFF) _mm_storeu_si128((__m128i *)(dst + r * ldc), u);
            else _mm_mask_storeu_epi8(dst + r * ldc, mask, u);
        }
    }
}

/* Panels [p0, p1) two at a time (a last odd panel alone) for all M rows (row m's K steps at
   a + m · as): `depth` K steps (k-quads or k-pairs, `b_step` weight words per step of one
   panel) in blocks of KC steps whose two weight slices stay in L1 while every row tile passes
   over them; partial sums wait in `acc` (M x 32 words). `tiles[rows][panels − 1]` runs a tile. */
__attribute__((always_inline)) OCTET_AVX512 static inline void octet_avx512_panel_pair_loop(
    const octet_avx512_tile tiles[WIDE_MR + 1][2], size_t depth, size_t b_step, size_t M, size_t N, size_t K, const int32_t *a, size_t as,
    const int32_t *rows, const int32_t *b, const int32_t *cols, void *c, size_t ldc, const octet_packed_output *out, size_t p0, size_t p1,
    int32_t *acc, size_t KC) {
    /* A local copy: u8 stores may alias anything, so fields read through `out` would be reloaded. */
    const octet_packed_output local = *out;
    const octet_packed_output *o = &local;
    if (KC < 8) KC = 8;
    for (size_t p = p0; p < p1; p += 2) {
        const size_t panels = p + 1 < p1 ? 2 : 1;
        const int32_t *bp0 = b + p * depth * b_step, *bp1 = bp0 + depth * b_step;
        panel_constants pc[2];
        size_t n0[2], nr[2];
        for (size_t i = 0; i < panels; i++) {
            n0[i] = (p + i) * NR;
            nr[i] = N - n0[i] < NR ? N - n0[i] : NR;
            pc[i] = octet_avx2_panel_constants(n0[i], K, cols, o);
        }
        const int fast_u8 = octet_avx512_store_u8_applies(o);
        u8_store512_constants k512;
        if (fast_u8) k512 = octet_avx512_u8_store_constants(pc, n0, panels, o);
        for (size_t kb = 0; kb < depth || kb == 0; kb += KC) {
            const size_t kc = depth - kb < KC ? depth - kb : KC;
            const int first = kb == 0, last = kb + kc >= depth;
            for (size_t m0 = 0; m0 < M; m0 += WIDE_MR) {
                const size_t mr = M - m0 < WIDE_MR ? M - m0 : WIDE_MR;
                __m512i t[WIDE_MR][2];
                tiles[mr][panels - 1](kc, a + m0 * as + kb, as, bp0 + kb * b_step, bp1 + kb * b_step, first ? NULL : acc + m0 * WIDE_ACC_STRIDE, t);
                if (last && fast_u8) {
                    octet_avx512_store_u8(mr, m0, panels, n0, nr, &k512, t, (uint8_t *)c, ldc);
                } else if (last) {
                    for (size_t i = 0; i < panels; i++) octet_avx512_store_panel(mr, m0, n0[i], nr[i], &pc[i], t, i, rows, o, c, ldc);
                } else {
                    for (size_t r = 0; r < mr; r++)
                        for (size_t i = 0; i < panels; i++) _mm512_storeu_si512(acc + (m0 + r) * WIDE_ACC_STRIDE + i * NR, t[r][i]);
                }
            }
            if (depth == 0) break;
        }
    }
}

/* Raw accumulators Σ a·b of a whole M x N product in two-panel tiles (row m of A at
   a + m · depth), into c (row m at c + m · ldc): for the tests and the bare kernel benchmark. */
__attribute__((always_inline)) OCTET_AVX512 static inline void octet_avx512_gemm_s32(const octet_avx512_tile tiles[WIDE_MR + 1][2], size_t depth,
                                                                                      size_t b_step, size_t M, size_t N, const int32_t *a,
                                                                                      const int32_t *b, int32_t *c, size_t ldc) {
    const size_t panels = (N + NR - 1) / NR;
    for (size_t p = 0; p < panels; p += 2) {
        const size_t np = p + 1 < panels ? 2 : 1;
        const int32_t *bp0 = b + p * depth * b_step;
        for (size_t m0 = 0; m0 < M; m0 += WIDE_MR) {
            const size_t mr = M - m0 < WIDE_MR ? M - m0 : WIDE_MR;
            __m512i t[WIDE_MR][2];
            tiles[mr][np - 1](depth, a + m0 * depth, depth, bp0, bp0 + depth * b_step, NULL, t);
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

/* Byte offsets of a depthwise window's taps from its top-left input pixel (NHWC). */
static inline void octet_dwconv_tap_offsets(const octet_packed_dwconv *d, ptrdiff_t *delta) {
    for (size_t ky = 0, t = 0; ky < d->kh; ky++)
        for (size_t kx = 0; kx < d->kw; kx++, t++) delta[t] = (ptrdiff_t)((ky * d->dilation_h * d->w + kx * d->dilation_w) * d->channels);
}

/* The input pixel of every tap of output pixel (oy, ox): the window origin plus `delta` inside
   the image, the zero-point row for taps in the padding. */
__attribute__((always_inline)) static inline void octet_dwconv_tap_pointers(const octet_packed_dwconv *d, size_t taps, const uint8_t *x,
                                                                            const ptrdiff_t *delta, size_t oy, size_t ox, const uint8_t **ptr) {
    const size_t C = d->channels;
    const long span_h = (long)((d->kh - 1) * d->dilation_h), span_w = (long)((d->kw - 1) * d->dilation_w);
    const long y0 = (long)(oy * d->stride_h) - (long)d->pad_top, x0 = (long)(ox * d->stride_w) - (long)d->pad_left;
    if (y0 >= 0 && x0 >= 0 && y0 + span_h < (long)d->h && x0 + span_w < (long)d->w) {
        const uint8_t *origin = x + ((size_t)y0 * d->w + (size_t)x0) * C;
        for (size_t t = 0; t < taps; t++) ptr[t] = origin + delta[t];
        return;
    }
    size_t t = 0;
    for (size_t ky = 0; ky < d->kh; ky++) {
        const long iy = y0 + (long)(ky * d->dilation_h);
        for (size_t kx = 0; kx < d->kw; kx++, t++) {
            const long ix = x0 + (long)(kx * d->dilation_w);
            ptr[t] = iy >= 0 && iy < (long)d->h && ix >= 0 && ix < (long)d->w ? x + ((size_t)iy * d->w + (size_t)ix) * C : d->zero;
        }
    }
}

/* ---- internal entry points -------------------------------------------------------- */

/* Gathers row m of an indirect source (taps · channels bytes) into dst. */
void octet_packed_gather_row(const octet_packed_a_source *s, size_t m, uint8_t *dst);

void octet_u8s8s32_gemm_6x16_scalar_panel(size_t M, size_t K, const int32_t *a, const int32_t *bp, size_t n0, size_t nr,
                                          const int32_t *rows, const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc);
void octet_u8s8s32_gemm_6x16_scalar_s32(size_t mr, size_t K2, const int32_t *a, size_t a_stride, const int32_t *b, int32_t acc[MR][NR]);
#if OCTET_X86
void octet_u8s8s32_gemm_6x16_avx2_panel(size_t M, size_t K, const int32_t *a, const int32_t *bp, size_t n0, size_t nr,
                                        const int32_t *rows, const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc,
                                        int32_t *acc, size_t KC2);
void octet_u8s8s32_gemm_6x16_avx2_s32(size_t mr, size_t K2, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]);
void octet_u8_pack_a_avx2_row(size_t K, const uint8_t *row, int32_t *out, int32_t *sum);
void octet_f32_quantize_u8_pack_avx2_row(size_t K, const float *row, float inv_scale, int32_t zp, int32_t *out, int32_t *sum);
int octet_f32_minmax_avx2(size_t count, const float *x, float *lo, float *hi);
void octet_u7s8s32_gemm_6x16c4_avx2_panel(size_t M, size_t K, const int32_t *a, size_t a_stride, const int32_t *bp, size_t n0, size_t nr,
                                          const int32_t *rows, const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc,
                                          int32_t *acc, size_t KC4);
void octet_u7s8s32_gemm_6x16c4_avx2_s32(size_t mr, size_t K4, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]);
void octet_u8s8s32_gemm_6x16c4_avxvnni_panel(size_t M, size_t K, const int32_t *a, size_t a_stride, const int32_t *bp, size_t n0, size_t nr,
                                             const int32_t *rows, const int32_t *cols, const octet_packed_output *o, void *c, size_t ldc,
                                             int32_t *acc, size_t KC4);
void octet_u8s8s32_gemm_6x16c4_avxvnni_s32(size_t mr, size_t K4, const int32_t *a, const int32_t *b, int32_t acc[MR][NR]);
void octet_u8s8s32_gemm_8x32c4_avx512vnni(size_t M, size_t N, size_t K, const int32_t *a, size_t a_stride, const int32_t *rows,
                                          const int32_t *b, const int32_t *cols, void *c, size_t ldc, const octet_packed_output *o,
                                          size_t p0, size_t p1, int32_t *acc, size_t KC4);
void octet_u8s8s32_gemm_8x32c4_avx512vnni_s32(size_t M, size_t N, size_t K4, const int32_t *a, const int32_t *b, int32_t *c, size_t ldc);
void octet_u8s8s32_gemm_8x32_avx512bw(size_t M, size_t N, size_t K, const int32_t *a, const int32_t *rows, const int32_t *b, const int32_t *cols,
                                      void *c, size_t ldc, const octet_packed_output *o, size_t p0, size_t p1, int32_t *acc, size_t KC2);
void octet_u8s8s32_gemm_8x32_avx512bw_s32(size_t M, size_t N, size_t K2, const int32_t *a, const int32_t *b, int32_t *c, size_t ldc);
void octet_u8s8s32_dwconv_32c_avx2(const octet_packed_dwconv *d, const uint8_t *x, void *c, const octet_packed_output *o,
                                   size_t pixel_begin, size_t pixel_end);
#endif
