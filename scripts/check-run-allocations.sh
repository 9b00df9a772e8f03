#!/usr/bin/env bash
# Fails unless a warm run allocates nothing (issue 15) on 1 and on 2 threads: the bundled
# digits model quantized to INT8, every op on Octet's own kernels (backends.json without
# its oneDNN convolution rule, so convolutions take the packed backend on any x86 host;
# oneDNN allocates inside its primitives), a batch of 256 so that the packed GEMMs and the
# built-in ops split over both threads. Counted by scripts/count-run-allocations.sh
# (Linux, glibc), which needs an optimized build: a debug build allocates in Swift code
# the optimizer removes.
#   scripts/check-run-allocations.sh [BIN_DIR]   (default: .build/release)
set -euo pipefail
cd "$(dirname "$0")/.."
octet=${1:-.build/release}/octet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -c "
import json, sys
d = json.load(open('backends.json'))
d['rules'] = [r for r in d['rules'] if r['id'] != 'x86-conv-onednn']
json.dump(d, open(sys.argv[1], 'w'))" "$tmp/packed-rules.json"
"$octet" quantize Models/digits/digits_cnn.onnx -o "$tmp/digits_int8.onnx" --calibration Models/digits/calibration.npz >/dev/null 2>&1
# Every node on the packed or built-in backend (none on oneDNN).
"$octet" run "$tmp/digits_int8.onnx" --random-inputs --shape input=256x1x8x8 --rules "$tmp/packed-rules.json" --trace > "$tmp/trace.txt" 2>&1
if ! grep -Eq '^nodes +[0-9]+: builtin [0-9]+, packed [0-9]+$' "$tmp/trace.txt"; then
    echo "FAIL  run allocations: the plan is not all packed and built-in:"; grep '^nodes' "$tmp/trace.txt"; exit 1
fi
status=0
for threads in 1 2; do
    line=$(OCTET=$octet scripts/count-run-allocations.sh "$tmp/digits_int8.onnx" $threads --random-inputs --shape input=256x1x8x8 \
        --keep-outputs --rules "$tmp/packed-rules.json")
    if [[ $line == *": 0 allocations per warm run"* ]]; then echo "ok    warm run allocates nothing, $threads thread(s)"
    else echo "FAIL  warm run allocates, $threads thread(s): ${line#*: }"; status=1; fi
done
exit $status
