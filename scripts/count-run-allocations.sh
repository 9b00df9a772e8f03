#!/bin/sh
# Heap allocations per warm Session.run, counted with an LD_PRELOAD shim
# (scripts/alloc-count/alloc_counter.c counts malloc, calloc, realloc and the aligned
# allocators): `octet bench` run twice, with N and N + 100 timed runs after the same
# warm-up; the difference / 100 is what one warm run allocates (loading, planning and the
# warm-up cancel out).
#
#   scripts/count-run-allocations.sh MODEL.onnx [THREADS] [BENCH OPTIONS...]
#
# e.g. scripts/count-run-allocations.sh digits_int8.onnx 1 --keep-outputs
# Linux with glibc only. OCTET (default .build/release/octet) picks the binary.
set -eu
model=$1; threads=${2:-1}; shift; [ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
octet=${OCTET:-$here/../.build/release/octet}
shim=$(mktemp -d)/alloc_counter.so
cc -O2 -shared -fPIC -o "$shim" "$here/alloc-count/alloc_counter.c" -ldl
count() {
    runs=$1; shift
    LD_PRELOAD=$shim "$octet" bench "$model" --threads "$threads" --warmup 5 --iterations "$runs" "$@" 2>&1 >/dev/null |
        sed -n 's/^octet-alloc-count: //p'
}
a=$(count 20 "$@"); b=$(count 120 "$@")
echo "$model, $threads thread(s) $*: $(( (b - a) / 100 )) allocations per warm run ($(( b - a )) over 100 runs)"
