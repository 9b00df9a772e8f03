#pragma once
/// Octet's backend plugin ABI, version 1: a backend in a shared library (C, C++, Rust, ...)
/// that Octet loads with `dlopen` (`registry.loadPlugin(path)` in Swift, `octet --plugin PATH`).
///
/// A plugin exports one symbol, `octet_plugin_entry` (`OCTET_PLUGIN_ENTRY`), a function
/// returning a pointer to a static `octet_plugin_api` table whose first two fields are the
/// ABI version and the table's size, as ONNX Runtime's plugin execution providers do.
/// Octet refuses a table whose version or size differ from its own, whose name is empty or
/// taken, or whose required function pointers are NULL.
///
/// Everything crosses as plain C: signatures and tensors are structs of fixed-size fields,
/// strings are NUL-terminated UTF-8 that stay valid for the duration of the call. Errors
/// come back as a return value plus a message written into a caller-provided buffer.
///
/// Threads: `run` may be called for one kernel from several threads at once; `supports`
/// and `prepare` from any thread. `release` is called once per kernel, after its last run.
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OCTET_PLUGIN_ABI_VERSION 1u
#define OCTET_PLUGIN_ENTRY "octet_plugin_entry"
#define OCTET_PLUGIN_MAX_RANK 8

/// Element types.
typedef enum octet_plugin_dtype {
    OCTET_PLUGIN_F32 = 0,
    OCTET_PLUGIN_F16 = 1,
    OCTET_PLUGIN_U8 = 2,
    OCTET_PLUGIN_S8 = 3,
    OCTET_PLUGIN_S32 = 4,
    OCTET_PLUGIN_S64 = 5,
    OCTET_PLUGIN_BOOL = 6,
    /* Appended (codes above never change): */
    OCTET_PLUGIN_U16 = 7,
    OCTET_PLUGIN_S16 = 8,
    OCTET_PLUGIN_U32 = 9,
    OCTET_PLUGIN_U64 = 10,
    OCTET_PLUGIN_F64 = 11,
    OCTET_PLUGIN_BF16 = 12,
} octet_plugin_dtype;

/// Post-ops fused into an op's output.
typedef enum octet_plugin_post_op { OCTET_PLUGIN_POST_NONE = 0, OCTET_PLUGIN_POST_RELU = 1, OCTET_PLUGIN_POST_CLIP = 2 } octet_plugin_post_op;

/// Affine quantization: real = (q − zero_point) · scale. `count` 0: not quantized; 1: per
/// tensor; C: per channel along `axis`.
typedef struct octet_plugin_quantization {
    size_t count;
    const float *scales;
    const int32_t *zero_points;
    int32_t axis;
} octet_plugin_quantization;

/// A tensor: logical dims (NCHW for images), element type, memory order, data.
typedef struct octet_plugin_tensor {
    int32_t dtype;                        ///< octet_plugin_dtype
    int32_t rank;                         ///< ≤ OCTET_PLUGIN_MAX_RANK
    int64_t dims[OCTET_PLUGIN_MAX_RANK];
    int32_t channels_last;                ///< 1: a 4-D tensor stored N, H, W, C
    void *data;                           ///< read-only for inputs and constants
    size_t byte_count;
    octet_plugin_quantization quantization;
} octet_plugin_tensor;

/// What an op is. `kind` is Octet's op kind (`conv2d`, `linear` (y = x·Wᵀ + b, W is N x K),
/// `matmul`, `add`, ...; see `octet backends`), `precision` one of `fp32`, `int8`, `fp16`.
typedef struct octet_plugin_signature {
    const char *kind;
    const char *precision;
    const char *text;                     ///< Octet's one-line description, for messages
    int32_t input_dtype, weight_dtype, output_dtype;
    int32_t input_rank;
    int64_t input_dims[OCTET_PLUGIN_MAX_RANK];
    int32_t weight_rank;                  ///< 0 when the op has no weight
    int64_t weight_dims[OCTET_PLUGIN_MAX_RANK];
    int32_t output_rank;
    int64_t output_dims[OCTET_PLUGIN_MAX_RANK];
    int32_t channels_last;                ///< activations stored N, H, W, C
    int64_t m, n, k;                      ///< the matrix product the op amounts to (0 when none)
    int64_t stride[2], pads[4], dilation[2], groups; ///< conv2d: pads top, left, bottom, right
    int32_t post_op;                      ///< octet_plugin_post_op
    float clip_min, clip_max;             ///< real-valued bounds of OCTET_PLUGIN_POST_CLIP
    int32_t per_channel_weights, symmetric_weights, reduce_range, dynamic;
    int32_t input_zero_point, weight_zero_point;
} octet_plugin_signature;

/// The constant operands handed to `prepare` (valid during the call only: copy or pack them).
typedef struct octet_plugin_constants {
    const octet_plugin_tensor *weight;    ///< NULL for ops without one (matmul of two activations)
    const octet_plugin_tensor *bias;      ///< NULL when absent
    octet_plugin_quantization input_quantization, output_quantization;
} octet_plugin_constants;

/// The table a plugin returns from `octet_plugin_entry`.
typedef struct octet_plugin_api {
    uint32_t abi_version;                 ///< OCTET_PLUGIN_ABI_VERSION
    uint32_t struct_size;                 ///< sizeof(octet_plugin_api)
    const char *name;                     ///< the backend's stable name, used by rules files
    const char *version;
    const char *summary;                  ///< one line for `octet backends`
    /// 1 when the plugin runs `signature`; 0 with the reason in `reason` otherwise.
    int (*supports)(const octet_plugin_signature *signature, char *reason, size_t reason_capacity);
    /// A kernel owning whatever it packed, or NULL with the message in `error`.
    void *(*prepare)(const octet_plugin_signature *signature, const octet_plugin_constants *constants, char *error,
                     size_t error_capacity);
    /// Runs: `inputs[0]` is the activation (matmul: and `inputs[1]`); writes `output`, which
    /// has the signature's output shape and type. 0 on success, else non-zero with `error`.
    int (*run)(void *kernel, const octet_plugin_tensor *inputs, size_t input_count, octet_plugin_tensor *output,
               char *error, size_t error_capacity);
    /// Frees a kernel from `prepare`.
    void (*release)(void *kernel);
    /// Optional (may be NULL): the kernel's implementation name, for traces.
    const char *(*kernel_name)(const void *kernel);
} octet_plugin_api;

/// The first two fields of every version's table: what Octet reads before anything else.
typedef struct octet_plugin_api_header {
    uint32_t abi_version;
    uint32_t struct_size;
} octet_plugin_api_header;

/// The type of `octet_plugin_entry`.
typedef const octet_plugin_api *(*octet_plugin_entry_fn)(void);

/// Octet's side of `dlopen`: opens `path` and finds its entry symbol. Returns the table, or
/// NULL with the reason in `error` (the library stays loaded in `*library` when found, and
/// is closed otherwise).
const octet_plugin_api *octet_plugin_open(const char *path, void **library, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif
