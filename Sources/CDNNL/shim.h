#pragma once
#include <oneapi/dnnl/dnnl.h>
#include <dlfcn.h>

/// Sets the OpenMP thread count oneDNN uses for calls made from this thread.
/// libdnnl loads libgomp itself; the symbol is looked up at run time so that nothing
/// needs libgomp's development symlink. Returns 1 on success, 0 if OpenMP is absent.
static inline int octet_dnnl_set_threads(int threads) {
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (!set) return 0;
    set(threads);
    return 1;
}
