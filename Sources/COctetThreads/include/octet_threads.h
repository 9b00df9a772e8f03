#pragma once
/// A shim over the process's OpenMP runtime, looked up at run time (nothing links it).
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Whether an OpenMP runtime (libgomp) is loaded in the process.
int octet_openmp_available(void);
/// Calls body(context, w) for w in [0, workers), each on its own member of an OpenMP team
/// (the calling thread is member 0), and returns 0 once all have returned; returns 1 without
/// calling anything when no OpenMP runtime is loaded (the caller then uses its own threads).
/// Sharing the team keeps Octet's work off cores where OpenMP workers of another library
/// (oneDNN) still spin-wait after their last region.
int octet_openmp_parallel(size_t workers, void (*body)(void *context, size_t worker), void *context);

#ifdef __cplusplus
}
#endif
