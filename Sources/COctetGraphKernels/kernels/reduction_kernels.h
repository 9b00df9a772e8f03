/* Kernel bodies, compiled once per ISA (see graph_kernels_*.c); OCTET_FN names each variant.
 * Reductions of a (outer, r, inner) f32 view over its middle axis. Every output folds its
 * r inputs in input order, so results do not depend on how the outputs are split; the
 * vector lanes run over independent outputs (inner positions), and contiguous rows (inner
 * = 1) are folded 8 at a time as independent chains. */
#include "octet_graph_kernels.h"

/* One fold step: max/min keep the first of equal values and skip NaN (flagged instead). */
#define REDUCE_STEP(kind, acc, nan, v)                                                  \
    do {                                                                                \
        if ((kind) == OCTET_REDUCE_MAX) { (nan) |= (v) != (v); (acc) = (v) > (acc) ? (v) : (acc); } \
        else if ((kind) == OCTET_REDUCE_MIN) { (nan) |= (v) != (v); (acc) = (v) < (acc) ? (v) : (acc); } \
        else (acc) += (v);                                                              \
    } while (0)

#define REDUCE_FINISH(kind, acc, nan, r)                                                \
    ((kind) == OCTET_REDUCE_MEAN_F32 ? (float)(acc) / (float)((r) > 0 ? (r) : 1)        \
     : ((kind) == OCTET_REDUCE_MAX || (kind) == OCTET_REDUCE_MIN) && (nan) ? __builtin_nanf("") : (float)(acc))

/* The body for one kind, ACC_T the accumulator type; inlined with `kind` a constant so that
 * every branch on it folds away. */
#define REDUCE_FN(NAME, ACC_T)                                                                          \
static inline __attribute__((always_inline)) void NAME(octet_reduce_kind kind, const float *src, float *dst, size_t r, \
                                                       size_t inner, size_t begin, size_t end) {      \
    const ACC_T init = kind == OCTET_REDUCE_MAX ? (ACC_T)-__builtin_inff()                              \
                     : kind == OCTET_REDUCE_MIN ? (ACC_T)__builtin_inff() : (ACC_T)0;                   \
    if (inner == 1) {                                                                                   \
        enum { R = 8 };                                                                                 \
        size_t o = begin;                                                                               \
        for (; o + R <= end; o += R) {                                                                  \
            ACC_T acc[R];                                                                               \
            int nan[R];                                                                                 \
            for (int k = 0; k < R; k++) { acc[k] = init; nan[k] = 0; }                                  \
            const float *base = src + o * r;                                                            \
            for (size_t i = 0; i < r; i++)                                                              \
                for (int k = 0; k < R; k++) { const ACC_T v = (ACC_T)base[(size_t)k * r + i]; REDUCE_STEP(kind, acc[k], nan[k], v); } \
            for (int k = 0; k < R; k++) dst[o + k] = REDUCE_FINISH(kind, acc[k], nan[k], r);            \
        }                                                                                               \
        for (; o < end; o++) {                                                                          \
            ACC_T acc = init;                                                                           \
            int nan = 0;                                                                                \
            for (size_t i = 0; i < r; i++) { const ACC_T v = (ACC_T)src[o * r + i]; REDUCE_STEP(kind, acc, nan, v); } \
            dst[o] = REDUCE_FINISH(kind, acc, nan, r);                                                  \
        }                                                                                               \
        return;                                                                                         \
    }                                                                                                   \
    enum { W = 64 };                                                                                    \
    size_t p = begin;                                                                                   \
    while (p < end) {                                                                                   \
        const size_t o = p / inner, j0 = p % inner;                                                     \
        size_t w = inner - j0;                                                                          \
        if (w > end - p) w = end - p;                                                                   \
        if (w > W) w = W;                                                                               \
        ACC_T acc[W];                                                                                   \
        int nan[W];                                                                                     \
        for (size_t k = 0; k < W; k++) { acc[k] = init; nan[k] = 0; }                                   \
        for (size_t i = 0; i < r; i++) {                                                                \
            const float *row = src + (o * r + i) * inner + j0;                                          \
            if (w == W) {                                                                               \
                for (size_t k = 0; k < W; k++) { const ACC_T v = (ACC_T)row[k]; REDUCE_STEP(kind, acc[k], nan[k], v); } \
            } else {                                                                                    \
                for (size_t k = 0; k < w; k++) { const ACC_T v = (ACC_T)row[k]; REDUCE_STEP(kind, acc[k], nan[k], v); } \
            }                                                                                           \
        }                                                                                               \
        for (size_t k = 0; k < w; k++) dst[p + k] = REDUCE_FINISH(kind, acc[k], nan[k], r);            \
        p += w;                                                                                         \
    }                                                                                                   \
}

REDUCE_FN(reduce_f32_acc, float)
REDUCE_FN(reduce_f64_acc, double)

void OCTET_FN(octet_f32_reduce)(octet_reduce_kind kind, const float *src, float *dst, size_t r, size_t inner,
                                size_t begin, size_t end) {
    switch (kind) {
    case OCTET_REDUCE_SUM_F32: reduce_f32_acc(OCTET_REDUCE_SUM_F32, src, dst, r, inner, begin, end); break;
    case OCTET_REDUCE_MEAN_F32: reduce_f32_acc(OCTET_REDUCE_MEAN_F32, src, dst, r, inner, begin, end); break;
    case OCTET_REDUCE_SUM_F64: reduce_f64_acc(OCTET_REDUCE_SUM_F64, src, dst, r, inner, begin, end); break;
    case OCTET_REDUCE_MAX: reduce_f32_acc(OCTET_REDUCE_MAX, src, dst, r, inner, begin, end); break;
    case OCTET_REDUCE_MIN: reduce_f32_acc(OCTET_REDUCE_MIN, src, dst, r, inner, begin, end); break;
    }
}
