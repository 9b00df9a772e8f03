/* The AVX2 variant of every graph kernel: the same bodies, compiled for AVX2 (no FMA, so
 * results match the portable variant bit for bit). Chosen by graph_kernels_dispatch.c. */
#if defined(__x86_64__)
#define OCTET_FN(name) name##_avx2
#define OCTET_AVX2_INTRINSICS 1
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#include "kernels/elementwise_kernels.h"
#include "kernels/transcendental_kernels.h"
#include "kernels/data_movement_kernels.h"
#include "kernels/reduction_kernels.h"
#include "kernels/max_pool_kernels.h"
#pragma clang attribute pop
#endif
