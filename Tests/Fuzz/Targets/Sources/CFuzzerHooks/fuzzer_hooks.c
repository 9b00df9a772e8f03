// Declarations only (include/fuzzer_hooks.h); SwiftPM needs a source file in a C target.
#include "fuzzer_hooks.h"
