/* Runs Octet's own parallel work (packed GEMM workers, built-in ops' chunks) on the
   process's OpenMP team when an OpenMP runtime (libgomp) is loaded, so that it shares
   threads with OpenMP libraries such as oneDNN instead of competing with them: an OpenMP
   worker spin-waits for a few milliseconds after each parallel region, and a second pool of
   threads would then find no free core. */
#define _GNU_SOURCE
#include "octet_threads.h"

#include <dlfcn.h>
#include <pthread.h>

typedef void (*gomp_parallel_fn)(void (*)(void *), void *, unsigned, unsigned);
typedef int (*omp_thread_num_fn)(void);

static gomp_parallel_fn gomp_parallel;
static omp_thread_num_fn omp_thread_num;
static pthread_once_t lookup_once = PTHREAD_ONCE_INIT;

static void lookup(void) {
    gomp_parallel_fn p = (gomp_parallel_fn)dlsym(RTLD_DEFAULT, "GOMP_parallel");
    omp_thread_num_fn t = (omp_thread_num_fn)dlsym(RTLD_DEFAULT, "omp_get_thread_num");
    if (p && t) {
        gomp_parallel = p;
        omp_thread_num = t;
    }
}

typedef struct region {
    void (*body)(void *context, size_t worker);
    void *context;
} region;

static void run_member(void *data) {
    const region *r = (const region *)data;
    r->body(r->context, (size_t)omp_thread_num());
}

int octet_openmp_available(void) {
    pthread_once(&lookup_once, lookup);
    return gomp_parallel != NULL;
}

int octet_openmp_parallel(size_t workers, void (*body)(void *context, size_t worker), void *context) {
    if (!octet_openmp_available()) return 1;
    region r = {body, context};
    gomp_parallel(run_member, &r, (unsigned)workers, 0);
    return 0;
}
