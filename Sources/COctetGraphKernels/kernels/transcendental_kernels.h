/* Kernel bodies, compiled once per ISA (see graph_kernels_*.c); OCTET_FN names each variant. */
#include "octet_graph_kernels.h"
#include <string.h>


/* exp(x) for one float, written so that loops over it vectorize: x = n ln2 + r with
 * |r| <= ln2/2 (ln2 split in two for exactness), e^r by a degree-6 polynomial (relative
 * error below 2e-7), 2^n assembled in the exponent bits. Inputs are clamped to the range
 * where the result is a normal float or 0 / +inf. */
static inline float exp_approx(float x) {
    x = x < -87.336544f ? -87.336544f : x;
    x = x > 88.722839f ? 88.722839f : x;
    const float n = __builtin_rintf(x * 1.44269504088896341f);
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float p = 1.3888889e-3f;
    p = p * r + 8.3333338e-3f;
    p = p * r + 4.1666668e-2f;
    p = p * r + 1.6666667e-1f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t bits = ((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* erf(x) by Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7). */
static inline float erf_approx(float x) {
    const float a = x < 0 ? -x : x;
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    float y = 1.061405429f;
    y = y * t - 1.453152027f;
    y = y * t + 1.421413741f;
    y = y * t - 0.284496736f;
    y = y * t + 0.254829592f;
    y = 1.0f - y * t * exp_approx(-a * a);
    return x < 0 ? -y : y;
}

void OCTET_FN(octet_f32_unary)(octet_unary_op op, const float *x, float *out, size_t n) {
    switch (op) {
    case OCTET_EXP:
        for (size_t i = 0; i < n; i++) out[i] = exp_approx(x[i]);
        break;
    case OCTET_ERF:
        for (size_t i = 0; i < n; i++) out[i] = erf_approx(x[i]);
        break;
    case OCTET_GELU:
        for (size_t i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + erf_approx(x[i] * 0.70710678118654752f));
        break;
    case OCTET_SIGMOID:
        for (size_t i = 0; i < n; i++) out[i] = 1.0f / (1.0f + exp_approx(-x[i]));
        break;
    case OCTET_SILU:
        for (size_t i = 0; i < n; i++) out[i] = x[i] * (1.0f / (1.0f + exp_approx(-x[i])));
        break;
    case OCTET_TANH:
        for (size_t i = 0; i < n; i++) {
            /* tanh x = 1 - 2 / (e^{2x} + 1); for tiny |x| use x (avoids cancellation). */
            const float v = x[i], a = v < 0 ? -v : v;
            const float t = 1.0f - 2.0f / (exp_approx(2.0f * a) + 1.0f);
            const float r = a < 0.0004f ? a : t;
            out[i] = v < 0 ? -r : r;
        }
        break;
    }
}

/* Reductions with 16 independent partial results, so they vectorize without
 * reassociation flags. */
#define LANES 16

static inline float row_max(const float *x, size_t n) {
    float m[LANES];
    for (int l = 0; l < LANES; l++) m[l] = -__builtin_inff();
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) m[l] = x[i + l] > m[l] ? x[i + l] : m[l];
    float r = -__builtin_inff();
    for (int l = 0; l < LANES; l++) r = m[l] > r ? m[l] : r;
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

/* Sum of (x[i] - shift)^power for power 1 or 2. */
static inline float row_sum(const float *x, size_t n, float shift, int square) {
    float s[LANES] = {0};
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) { const float d = x[i + l] - shift; s[l] += square ? d * d : d; }
    float r = 0;
    for (int l = 0; l < LANES; l++) r += s[l];
    for (; i < n; i++) { const float d = x[i] - shift; r += square ? d * d : d; }
    return r;
}

void OCTET_FN(octet_f32_softmax_rows)(const float *x, float *out, size_t rows, size_t n) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * n;
        float *o = out + r * n;
        const float m = row_max(in, n);
        for (size_t i = 0; i < n; i++) o[i] = exp_approx(in[i] - m);
        const float inv = 1.0f / row_sum(o, n, 0.0f, 0);
        for (size_t i = 0; i < n; i++) o[i] *= inv;
    }
}

void OCTET_FN(octet_f32_layer_norm_rows)(const float *x, const float *gamma, const float *beta, float *out, size_t rows, size_t n, float epsilon) {
    for (size_t r = 0; r < rows; r++) {
        const float *in = x + r * n;
        float *o = out + r * n;
        const float mean = row_sum(in, n, 0.0f, 0) / (float)n;
        const float var = row_sum(in, n, mean, 1) / (float)n;
        const float inv = 1.0f / __builtin_sqrtf(var + epsilon);
        for (size_t i = 0; i < n; i++) o[i] = (in[i] - mean) * inv * gamma[i] + (beta ? beta[i] : 0.0f);
    }
}

void OCTET_FN(octet_f32_softmax_strided)(const float *x, float *out, size_t n, size_t stride, size_t begin, size_t end) {
    /* Lanes run along the contiguous axis: W columns at a time, each with its own max and sum. */
    enum { W = 64 };
    size_t p = begin;
    while (p < end) {
        const size_t o = p / stride, j0 = p % stride;
        size_t w = stride - j0;
        if (w > end - p) w = end - p;
        if (w > W) w = W;
        const float *in = x + o * n * stride + j0;
        float *dst = out + o * n * stride + j0;
        float m[W], s[W];
        for (size_t k = 0; k < w; k++) { m[k] = -__builtin_inff(); s[k] = 0.0f; }
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < w; k++) m[k] = in[i * stride + k] > m[k] ? in[i * stride + k] : m[k];
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < w; k++) {
                const float e = exp_approx(in[i * stride + k] - m[k]);
                dst[i * stride + k] = e;
                s[k] += e;
            }
        for (size_t k = 0; k < w; k++) s[k] = 1.0f / s[k];
        for (size_t i = 0; i < n; i++)
            for (size_t k = 0; k < w; k++) dst[i * stride + k] *= s[k];
        p += w;
    }
}
