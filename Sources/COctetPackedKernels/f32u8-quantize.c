/* ONNX DynamicQuantizeLinear's arithmetic for the dynamic convolution: the per-tensor u8
   parameters from a range, and the quantization of f32 values to u8 codes by division. */
#include "packed_internal.h"

void octet_packed_onnx_dynamic_parameters(float lo, float hi, float *scale, int32_t *zero_point) {
    const float min_neg = lo < 0 ? lo : 0.0f, max_pos = hi > 0 ? hi : 0.0f;
    const float range = max_pos - min_neg;
    /* An empty range carries no information: scale 1 (ONNX Runtime's choice). */
    const float s = range > 0 && isfinite(range) ? range / 255.0f : 1.0f;
    float z = -min_neg / s;
    z = z < 0 ? 0 : (z > 255.0f ? 255.0f : z);
    *scale = s;
    *zero_point = (int32_t)nearbyintf(z);
}

static void quantize_u8_scalar(size_t count, const float *x, float scale, int32_t zp, uint8_t *q) {
    const float lo = (float)(0 - zp), hi = (float)(255 - zp);
    for (size_t i = 0; i < count; i++) {
        /* clamp(rne(x / s) + zp, 0, 255): clamping before rounding is the same for integral bounds. */
        const float f = fminf(fmaxf(x[i] / scale, lo), hi);
        q[i] = (uint8_t)((int32_t)nearbyintf(f) + zp);
    }
}

#if OCTET_X86
/* 32 values per step: four divisions, clamped, rounded half to even (cvtps under the default
   MXCSR), narrowed with saturation and put back in order. */
OCTET_AVX2 static void quantize_u8_avx2(size_t count, const float *x, float scale, int32_t zp, uint8_t *q) {
    const __m256 s = _mm256_set1_ps(scale), lo = _mm256_set1_ps((float)(0 - zp)), hi = _mm256_set1_ps((float)(255 - zp));
    const __m256i z = _mm256_set1_epi32(zp), order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m256i v[4];
        for (int j = 0; j < 4; j++) {
            const __m256 f = _mm256_min_ps(_mm256_max_ps(_mm256_div_ps(_mm256_loadu_ps(x + i + 8 * j), s), lo), hi);
            v[j] = _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
        }
        const __m256i bytes = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3])), order);
        _mm256_storeu_si256((__m256i *)(q + i), bytes);
    }
    quantize_u8_scalar(count - i, x + i, scale, zp, q + i);
}
#endif

void octet_packed_quantize_u8(octet_packed_isa isa, size_t count, const float *x, float scale, int32_t zero_point, uint8_t *q) {
#if OCTET_X86
    if (octet_isa_avx2(isa)) {
        quantize_u8_avx2(count, x, scale, zero_point, q);
        return;
    }
#endif
    quantize_u8_scalar(count, x, scale, zero_point, q);
}
