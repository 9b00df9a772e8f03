/* Activation packing: u8 rows (direct, or gathered through an indirection buffer) or f32 rows
   quantized on the fly, widened to s16 pairs with their row sums. */
#include "packed_internal.h"

#include <float.h>

static void pack_row_scalar(size_t K, const uint8_t *row, int32_t *out, int32_t *sum) {
    const size_t K2 = (K + 1) / 2;
    int32_t s = 0;
    for (size_t j = 0; j < K2; j++) {
        const int32_t lo = row[2 * j], hi = 2 * j + 1 < K ? row[2 * j + 1] : 0;
        s += lo + hi;
        out[j] = octet_pair(lo, hi);
    }
    *sum = s;
}

static inline uint8_t quantize_scalar(float v, float inv_scale, int32_t zp) {
    /* clamp(rne(v · inv) + zp, 0, 255): clamping before rounding is the same for integral bounds. */
    float f = fminf(fmaxf(v * inv_scale, (float)(0 - zp)), (float)(255 - zp));
    return (uint8_t)((int32_t)nearbyintf(f) + zp);
}

static void quantize_pack_row_scalar(size_t K, const float *row, float inv, int32_t zp, int32_t *out, int32_t *sum) {
    const size_t K2 = (K + 1) / 2;
    int32_t s = 0;
    for (size_t j = 0; j < K2; j++) {
        const int32_t lo = quantize_scalar(row[2 * j], inv, zp), hi = 2 * j + 1 < K ? quantize_scalar(row[2 * j + 1], inv, zp) : 0;
        s += lo + hi;
        out[j] = octet_pair(lo, hi);
    }
    *sum = s;
}

/* n bytes, in fixed-size (inlined) moves; overlapping tails rewrite the same bytes. */
static inline void copy_bytes(uint8_t *d, const uint8_t *s, size_t n) {
    if (n >= 16) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) memcpy(d + i, s + i, 16);
        if (i < n) memcpy(d + n - 16, s + n - 16, 16);
    } else if (n >= 8) {
        memcpy(d, s, 8);
        memcpy(d + n - 8, s + n - 8, 8);
    } else if (n >= 4) {
        memcpy(d, s, 4);
        memcpy(d + n - 4, s + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = s[i];
    }
}

/* Gathers one row of an indirect source into `dst` (taps · channels bytes). Taps whose
   inputs are adjacent in memory (a window row inside the image) are copied as one run. */
void octet_packed_gather_row(const octet_packed_a_source *s, size_t m, uint8_t *dst) {
    const int32_t *off = s->offsets + m * s->taps;
    const size_t C = s->channels;
    for (size_t t = 0; t < s->taps;) {
        size_t run = 1;
        if (off[t] >= 0)
            while (t + run < s->taps && off[t + run] == off[t] + (int32_t)(run * C)) run++;
        copy_bytes(dst, off[t] < 0 ? s->zero : s->x + off[t], run * C);
        dst += run * C;
        t += run;
    }
}

#if OCTET_X86
OCTET_AVX2 void octet_u8_pack_a_avx2_row(size_t K, const uint8_t *row, int32_t *out, int32_t *sum) {
    size_t k = 0;
    __m256i sums = _mm256_setzero_si256();
    for (; k + 32 <= K; k += 32) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(row + k));
        _mm256_storeu_si256((__m256i *)(out + k / 2), _mm256_cvtepu8_epi16(_mm256_castsi256_si128(v)));
        _mm256_storeu_si256((__m256i *)(out + k / 2 + 8), _mm256_cvtepu8_epi16(_mm256_extracti128_si256(v, 1)));
        sums = _mm256_add_epi64(sums, _mm256_sad_epu8(v, _mm256_setzero_si256()));
    }
    for (; k + 16 <= K; k += 16) {
        const __m128i v = _mm_loadu_si128((const __m128i *)(row + k));
        _mm256_storeu_si256((__m256i *)(out + k / 2), _mm256_cvtepu8_epi16(v));
        sums = _mm256_add_epi64(sums, _mm256_zextsi128_si256(_mm_sad_epu8(v, _mm_setzero_si128())));
    }
    int64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, sums);
    int32_t tail = 0;
    pack_row_scalar(K - k, row + k, out + k / 2, &tail);
    *sum = (int32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3]) + tail;
}

OCTET_AVX2 void octet_f32_quantize_u8_pack_avx2_row(size_t K, const float *row, float inv, int32_t zp, int32_t *out, int32_t *sum) {
    const __m256 scale = _mm256_set1_ps(inv), lo = _mm256_set1_ps((float)(0 - zp)), hi = _mm256_set1_ps((float)(255 - zp));
    const __m256i z = _mm256_set1_epi32(zp);
    __m256i sums = _mm256_setzero_si256();
    size_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m256 f0 = _mm256_mul_ps(_mm256_loadu_ps(row + k), scale), f1 = _mm256_mul_ps(_mm256_loadu_ps(row + k + 8), scale);
        f0 = _mm256_min_ps(_mm256_max_ps(f0, lo), hi);
        f1 = _mm256_min_ps(_mm256_max_ps(f1, lo), hi);
        const __m256i q0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), z), q1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), z); /* RNE */
        sums = _mm256_add_epi32(sums, _mm256_add_epi32(q0, q1));
        /* packs works per 128-bit lane: [q0 lo, q1 lo | q0 hi, q1 hi] → reorder the 64-bit quarters. */
        const __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
        _mm256_storeu_si256((__m256i *)(out + k / 2), w);
    }
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, sums);
    int32_t tail = 0;
    quantize_pack_row_scalar(K - k, row + k, inv, zp, out + k / 2, &tail);
    *sum = lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7] + tail;
}

OCTET_AVX2 int octet_f32_minmax_avx2(size_t count, const float *x, float *lo_out, float *hi_out) {
    __m256 lo = _mm256_set1_ps(INFINITY), hi = _mm256_set1_ps(-INFINITY);
    /* A value is finite iff v − v == 0 (NaN and ±Inf give NaN). */
    __m256 bad = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m256 v = _mm256_loadu_ps(x + i);
        lo = _mm256_min_ps(lo, v);
        hi = _mm256_max_ps(hi, v);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_NEQ_UQ));
    }
    float l[8], h[8];
    _mm256_storeu_ps(l, lo);
    _mm256_storeu_ps(h, hi);
    float a = INFINITY, b = -INFINITY;
    for (int j = 0; j < 8; j++) { a = fminf(a, l[j]); b = fmaxf(b, h[j]); }
    int nonfinite = _mm256_movemask_ps(bad) != 0;
    for (; i < count; i++) {
        const float v = x[i];
        if (!isfinite(v)) nonfinite = 1;
        a = fminf(a, v);
        b = fmaxf(b, v);
    }
    *lo_out = a;
    *hi_out = b;
    return nonfinite;
}
#endif

int octet_packed_f32_range(octet_packed_isa isa, size_t count, const float *x, float *lo, float *hi) {
#if OCTET_X86
    if (octet_isa_avx2(isa)) return octet_f32_minmax_avx2(count, x, lo, hi);
#endif
    float a = INFINITY, b = -INFINITY;
    int nonfinite = 0;
    for (size_t i = 0; i < count; i++) {
        if (!isfinite(x[i])) nonfinite = 1;
        a = fminf(a, x[i]);
        b = fmaxf(b, x[i]);
    }
    *lo = a;
    *hi = b;
    return nonfinite;
}

void octet_packed_dynamic_parameters_range(float lo, float hi, int32_t qmax, float *scale, int32_t *zero_point) {
    const float min_neg = lo < 0 ? lo : 0.0f, max_pos = hi > 0 ? hi : 0.0f;
    float s = (max_pos - min_neg) / (float)qmax;
    if (!(s >= FLT_EPSILON)) s = FLT_EPSILON;
    float z = nearbyintf(-(min_neg / s));
    z = z < 0 ? 0 : (z > (float)qmax ? (float)qmax : z);
    *scale = s;
    *zero_point = (int32_t)z;
}

void octet_packed_dynamic_parameters(float lo, float hi, float *scale, int32_t *zero_point) {
    octet_packed_dynamic_parameters_range(lo, hi, 255, scale, zero_point);
}

/* ---- f32 rows quantized to codes [0, qmax] in k-quads (the c4 kernels' A layout) ---- */

static void quantize_bytes_scalar(size_t K, const float *row, float inv, int32_t zp, int32_t qmax, uint8_t *dst, int32_t *sum) {
    int32_t s = 0;
    for (size_t k = 0; k < K; k++) {
        const float f = fminf(fmaxf(row[k] * inv, (float)(0 - zp)), (float)(qmax - zp));
        const int32_t q = (int32_t)nearbyintf(f) + zp;
        dst[k] = (uint8_t)q;
        s += q;
    }
    *sum = s;
}

#if OCTET_X86
/* 32 values per step: four vectors quantized (RNE), narrowed with saturation, put back in order. */
OCTET_AVX2 static void quantize_bytes_avx2(size_t K, const float *row, float inv, int32_t zp, int32_t qmax, uint8_t *dst, int32_t *sum) {
    const __m256 scale = _mm256_set1_ps(inv), lo = _mm256_set1_ps((float)(0 - zp)), hi = _mm256_set1_ps((float)(qmax - zp));
    const __m256i z = _mm256_set1_epi32(zp), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i sums = _mm256_setzero_si256();
    size_t k = 0;
    for (; k + 32 <= K; k += 32) {
        __m256i q[4];
        for (int i = 0; i < 4; i++) {
            const __m256 f = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_loadu_ps(row + k + 8 * i), scale), lo), hi);
            q[i] = _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
        }
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3])), order);
        _mm256_storeu_si256((__m256i *)(dst + k), bytes);
        sums = _mm256_add_epi64(sums, _mm256_sad_epu8(bytes, _mm256_setzero_si256()));
    }
    int64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, sums);
    int32_t tail = 0;
    quantize_bytes_scalar(K - k, row + k, inv, zp, qmax, dst + k, &tail);
    *sum = (int32_t)(lanes[0] + lanes[1] + lanes[2] + lanes[3]) + tail;
}
#endif

int octet_packed_pack_a_f32_c4(octet_packed_isa isa, const octet_packed_a_source *s, size_t row_begin, size_t rows, size_t K, int32_t qmax,
                               int32_t *out, int32_t *row_sums) {
    const size_t K4 = (K + 3) / 4;
    int nonfinite = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *row = s->xf + (row_begin + r) * s->lda;
        float inv = s->inv_scale;
        int32_t zp = s->zero_point, sum = 0;
        if (s->row_scales) {
            float lo = 0, hi = 0, scale = 1;
            nonfinite |= octet_packed_f32_range(isa, K, row, &lo, &hi);
            octet_packed_dynamic_parameters_range(lo, hi, qmax, &scale, &zp);
            inv = 1.0f / scale;
            s->row_scales[r] = scale;
            s->row_zero_points[r] = zp;
        }
        uint8_t *dst = (uint8_t *)(out + r * K4);
#if OCTET_X86
        if (octet_isa_avx2(isa)) quantize_bytes_avx2(K, row, inv, zp, qmax, dst, &sum);
        else
#endif
            quantize_bytes_scalar(K, row, inv, zp, qmax, dst, &sum);
        memset(dst + K, 0, 4 * K4 - K);
        if (row_sums) row_sums[r] = sum;
    }
    return nonfinite;
}

int octet_packed_pack_a(octet_packed_isa isa, const octet_packed_a_source *s, size_t row_begin, size_t rows, size_t K,
                        int32_t *out, int32_t *row_sums, uint8_t *scratch) {
    const size_t K2 = (K + 1) / 2;
    const int avx2 = octet_isa_avx2(isa);
    int nonfinite = 0;
    for (size_t r = 0; r < rows; r++) {
        const size_t m = row_begin + r;
        int32_t sum = 0, *dst = out + r * K2;
        if (s->xf) {
            const float *row = s->xf + m * s->lda;
            float inv = s->inv_scale;
            int32_t zp = s->zero_point;
            if (s->row_scales) {
                /* Per-token: this row's range (the row is then still in L1 for the packing pass). */
                float lo = 0, hi = 0, scale = 1;
                nonfinite |= octet_packed_f32_range(isa, K, row, &lo, &hi);
                octet_packed_dynamic_parameters(lo, hi, &scale, &zp);
                inv = 1.0f / scale;
                s->row_scales[r] = scale;
                s->row_zero_points[r] = zp;
            }
#if OCTET_X86
            if (avx2) octet_f32_quantize_u8_pack_avx2_row(K, row, inv, zp, dst, &sum);
            else
#endif
                quantize_pack_row_scalar(K, row, inv, zp, dst, &sum);
        } else {
            const uint8_t *row = s->x + m * s->lda;
            if (s->offsets) {
                octet_packed_gather_row(s, m, scratch);
                row = scratch;
            }
#if OCTET_X86
            if (avx2) octet_u8_pack_a_avx2_row(K, row, dst, &sum);
            else
#endif
                pack_row_scalar(K, row, dst, &sum);
        }
        if (row_sums) row_sums[r] = sum;
    }
    return nonfinite;
}

void octet_packed_pack_a_u8(octet_packed_isa isa, size_t M, size_t K, const uint8_t *a, size_t lda, int32_t *out, int32_t *row_sums) {
    octet_packed_a_source s = {.x = a, .lda = lda};
    octet_packed_pack_a(isa, &s, 0, M, K, out, row_sums, NULL);
}
