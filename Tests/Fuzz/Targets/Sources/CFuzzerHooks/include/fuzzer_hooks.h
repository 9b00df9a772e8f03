// What libFuzzer offers a custom mutator (declared in its FuzzerInterface.h, defined by
// the libFuzzer runtime the fuzz targets link).
#ifndef OCTET_FUZZER_HOOKS_H
#define OCTET_FUZZER_HOOKS_H
#include <stddef.h>
#include <stdint.h>

/// libFuzzer's own byte-level mutation of `data` (at most `max_size` bytes); the new size.
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

#endif
