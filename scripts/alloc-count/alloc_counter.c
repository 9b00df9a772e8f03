// LD_PRELOAD shim for scripts/count-run-allocations.sh: counts every heap allocation
// (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign, valloc) the process
// makes and prints the total to stderr at exit as "octet-alloc-count: N".
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_ulong count;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void *(*real_memalign)(size_t, size_t);

// dlsym may call calloc before real_calloc is known: serve it from a static buffer.
static char bootstrap[4096];
static size_t bootstrap_used;
static int resolving;

static void resolve(void) {
    if (real_malloc || resolving) return;
    resolving = 1;
    real_malloc = dlsym(RTLD_NEXT, "malloc");
    real_calloc = dlsym(RTLD_NEXT, "calloc");
    real_realloc = dlsym(RTLD_NEXT, "realloc");
    real_posix_memalign = dlsym(RTLD_NEXT, "posix_memalign");
    real_aligned_alloc = dlsym(RTLD_NEXT, "aligned_alloc");
    real_memalign = dlsym(RTLD_NEXT, "memalign");
    resolving = 0;
}

void *malloc(size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_malloc(n); }

void *calloc(size_t a, size_t b) {
    if (!real_calloc) {
        if (resolving) {
            size_t n = (a * b + 15) & ~(size_t)15;
            if (bootstrap_used + n > sizeof bootstrap) return NULL;
            void *p = bootstrap + bootstrap_used;
            bootstrap_used += n;
            return p;
        }
        resolve();
    }
    atomic_fetch_add(&count, 1);
    return real_calloc(a, b);
}

void *realloc(void *p, size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_realloc(p, n); }

int posix_memalign(void **out, size_t align, size_t n) {
    resolve(); atomic_fetch_add(&count, 1); return real_posix_memalign(out, align, n);
}

void *aligned_alloc(size_t align, size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_aligned_alloc(align, n); }
void *memalign(size_t align, size_t n) { resolve(); atomic_fetch_add(&count, 1); return real_memalign(align, n); }

void free(void *p) {
    static void (*real_free)(void *);
    if ((char *)p >= bootstrap && (char *)p < bootstrap + sizeof bootstrap) return;
    if (!real_free) real_free = dlsym(RTLD_NEXT, "free");
    real_free(p);
}

__attribute__((destructor)) static void report(void) {
    fprintf(stderr, "octet-alloc-count: %lu\n", (unsigned long)atomic_load(&count));
}
