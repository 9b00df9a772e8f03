#pragma once
/// A thin C layer over oneDNN 2.6 for Octet's `onednn` backend: one prepared primitive
/// per op (weights reordered once), executed many times from many threads.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum octet_dnnl_kind { OCTET_DNNL_CONV = 0, OCTET_DNNL_MATMUL = 1 } octet_dnnl_kind;
typedef enum octet_dnnl_type { OCTET_DNNL_F32 = 0, OCTET_DNNL_U8 = 1, OCTET_DNNL_S8 = 2 } octet_dnnl_type;
typedef enum octet_dnnl_post { OCTET_DNNL_POST_NONE = 0, OCTET_DNNL_POST_RELU = 1, OCTET_DNNL_POST_CLIP = 2 } octet_dnnl_post;

/// Everything needed to create one primitive.
typedef struct octet_dnnl_op {
    octet_dnnl_kind kind;
    octet_dnnl_type src_type, wei_type, dst_type;
    int ndims;                    ///< src / dst rank: 4 (conv), 2 or 3 (matmul)
    int threads;                  ///< OpenMP threads the primitive is created (and later run) with; oneDNN fixes its work split at creation
    int channels_last;            ///< conv: the caller's activations are NHWC (and the primitive runs on them as they are)
    int64_t src_dims[4], dst_dims[4];
    int wei_ndims;                ///< 4 (conv), 5 (grouped conv), 2 or 3 (matmul)
    int64_t wei_dims[5];
    int wei_transposed;           ///< matmul: weights given as N x K (linear) rather than K x N
    int wei_constant;             ///< 1: `weights` given now, reordered to oneDNN's layout; 0: passed per call
    const void *weights;
    int64_t strides[2], dilates[2], pad_l[2], pad_r[2]; ///< conv; dilates in oneDNN's convention (ours − 1)
    const float *bias;            ///< f32, one per output channel, or NULL (copied)
    int64_t bias_count;
    const float *scales;          ///< output scales (copied)
    int64_t scales_count;
    int scales_mask;
    int32_t src_zp, wei_zp, dst_zp;
    octet_dnnl_post post;
    float post_alpha, post_beta;  ///< clip bounds
    /// A residual sum (conv, u8 NHWC destination only): oneDNN's sum post-op after `post`,
    /// dst = saturate(rne(oscale·acc + sum_scale·(dst_before − sum_zp) [then ReLU when
    /// sum_relu]) + dst_zp), so the caller puts the operand's codes in dst before each call.
    int has_sum, sum_relu;
    float sum_scale;
    int32_t sum_zp;
} octet_dnnl_op;

typedef struct octet_dnnl_kernel octet_dnnl_kernel;

/// Creates the primitive (and reorders constant weights). Returns 0, or a oneDNN status
/// (or -1) with a message in `error`.
int octet_dnnl_prepare(const octet_dnnl_op *op, octet_dnnl_kernel **out, char *error, size_t error_len);
/// The implementation oneDNN chose (e.g. "brg:avx512_core_vnni").
const char *octet_dnnl_implementation(const octet_dnnl_kernel *kernel);
/// What one call needs besides the kernel: a stream, memory objects re-pointed at the
/// caller's buffers, buffers in the primitive's activation layout, an error message.
/// One context serves one call at a time; contexts are reused, so calls allocate nothing.
typedef struct octet_dnnl_context octet_dnnl_context;

/// A context for `kernel`, or NULL (with a message in `error`).
octet_dnnl_context *octet_dnnl_context_create(const octet_dnnl_kernel *kernel, char *error, size_t error_len);
void octet_dnnl_context_destroy(octet_dnnl_context *context);
/// The last error of a call made with `context`.
const char *octet_dnnl_context_error(const octet_dnnl_context *context);

/// Runs on `threads` OpenMP threads. `weights` only when they were not constant.
/// Returns 0, or non-zero with the message in `octet_dnnl_context_error`.
int octet_dnnl_execute(const octet_dnnl_kernel *kernel, octet_dnnl_context *context, const void *src,
                       const void *weights, void *dst, int threads);
void octet_dnnl_destroy(octet_dnnl_kernel *kernel);

/// The ISA oneDNN dispatches to in this process (`avx2`, `avx512_core_vnni`, ...), after
/// the host description's cap (`OCTET_MAX_ISA`) was handed to it. For `octet backends`
/// and tests; kernel choices read the host description, not this.
const char *octet_dnnl_effective_isa(void);
/// oneDNN's version, "major.minor.patch (cpu runtime)".
const char *octet_dnnl_version(void);

#ifdef __cplusplus
}
#endif
