#!/usr/bin/env bash
# End-to-end checks of the `octet` command line: the JSON interfaces scripts rely on,
# exit codes and error messages, and the build-time rules validator.
# Usage: scripts/cli-tests.sh [BIN_DIR]   (default: .build/debug)
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${1:-.build/debug}
octet="$bin/octet"
tool="$bin/OctetRulesTool"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0; failed=0

check() { # name, command...
    local name=$1; shift
    if "$@" >"$tmp/out" 2>"$tmp/err"; then passed=$((passed + 1)); echo "ok    $name"
    else failed=$((failed + 1)); echo "FAIL  $name"; sed 's/^/      /' "$tmp/out" "$tmp/err" | head -20; fi
}
fails_with() { # name, expected stderr text, command...
    local name=$1 text=$2; shift 2
    if "$@" >"$tmp/out" 2>"$tmp/err"; then failed=$((failed + 1)); echo "FAIL  $name (exit 0, expected an error)"
    elif grep -qF -- "$text" "$tmp/err"; then passed=$((passed + 1)); echo "ok    $name"
    else failed=$((failed + 1)); echo "FAIL  $name (stderr lacks '$text')"; sed 's/^/      /' "$tmp/err" | head -5; fi
}
json() { # python expression over `d`, reading stdin
    python3 -c "import json,sys; d=json.load(sys.stdin); assert $1, d" 
}

check "cpu --json has the stable keys" sh -c "'$octet' cpu --json | python3 -c \"import json,sys; d=json.load(sys.stdin); f=d['features']; assert all(k in d for k in ('vendor','model','cores')); assert all(k in f and isinstance(f[k], bool) for k in 'avx2 fma f16c avx512f avx512bw avx512_vnni avx_vnni avx512_bf16 amx_tile amx_int8 amx_bf16 neon'.split())\""
check "cpu --cpu sapphire-rapids reports AMX" sh -c "'$octet' cpu --cpu sapphire-rapids --json | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['features']['amx_int8'] and not d['features']['neon']\""
check "cpu text" sh -c "'$octet' cpu | grep -q '^avx2 '"
check "backends --json is an array of {name, available, reason}" sh -c "'$octet' backends --json | python3 -c \"import json,sys; d=json.load(sys.stdin); assert isinstance(d, list) and d and all({'name','available','reason'} <= set(x) for x in d)\""
check "dispatch-trace zen3 → rule x86-conv-packed" sh -c "'$octet' dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --stride 1 --pad 1 --groups 1 --dtype u8s8 --cpu zen3 --json | python3 -c \"import json,sys; d=json.load(sys.stdin); o=d['ops'][0]; assert 'cpu' in d and o['op']=='conv2d' and o['rule']=='x86-conv-packed'; r=o['rules']; assert r[0]['id']=='x86-conv-onednn' and not r[0]['matched'] and 'avx512_vnni' in r[0]['reason']; assert 'fallbacks' in o and 'backend' in o and 'signature' in o\""
check "dispatch-trace sapphire-rapids → rule x86-conv-onednn" sh -c "'$octet' dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x64x3x3 --pad 1 --cpu sapphire-rapids --json | python3 -c \"import json,sys; d=json.load(sys.stdin); o=d['ops'][0]; assert o['rule']=='x86-conv-onednn' and o['rules'][0]['matched']\""
check "dispatch-trace linear" sh -c "'$octet' dispatch-trace --op linear --m 1 --k 768 --n 3072 --cpu sapphire-rapids | grep -q 'x86-linear-packed  MATCH'"
check "dispatch-trace feature list" sh -c "'$octet' dispatch-trace --op conv2d --input 1x8x8x8 --weight 8x8x1x1 --cpu avx2,fma,avx512_vnni --json | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['ops'][0]['rule']=='x86-conv-onednn'\""
check "dispatch-trace --rules custom file" sh -c "printf '%s' '{\"schema_version\":1,\"fallback\":{},\"rules\":[{\"id\":\"mine\",\"ops\":[\"linear\"],\"backend\":\"b\",\"why\":\"w\"}]}' > '$tmp/r.json' && '$octet' dispatch-trace --op linear --m 2 --k 3 --n 4 --rules '$tmp/r.json' --json | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['ops'][0]['rule']=='mine'\""

fails_with "unknown --cpu" "neither a preset" "$octet" dispatch-trace --op linear --m 1 --k 2 --n 3 --cpu zen9
fails_with "bad shapes" "expects 32 input channels" "$octet" dispatch-trace --op conv2d --input 1x64x56x56 --weight 64x32x3x3
fails_with "unknown op" "unknown op 'conv3d'" "$octet" dispatch-trace --op conv3d --m 1 --k 2 --n 3
fails_with "missing linear sizes" "needs --m, --k and --n" "$octet" dispatch-trace --op linear --m 1
printf '{"schema_version": 1,\n "rules": [,]}' > "$tmp/badjson.json"
fails_with "rules file: bad JSON" "line 2" "$octet" backends --rules "$tmp/badjson.json"
printf '%s' '{"schema_version":1,"fallback":{},"rules":[{"id":"broken-rule","ops":["conv2d"],"when":[{"field":"grups","op":"<=","value":1}],"backend":"b","why":"w"}]}' > "$tmp/bad.json"
fails_with "rules file: unknown field names file, rule and field" "$tmp/bad.json: rule 'broken-rule', field rules[0].when[0].field: unknown field 'grups'" "$octet" backends --rules "$tmp/bad.json"
fails_with "rules file: missing" "cannot read the file" "$octet" backends --rules "$tmp/nope.json"
fails_with "build tool refuses a broken rules file" "rule 'broken-rule', field rules[0].when[0].field" "$tool" "$tmp/bad.json" "$tmp/out.swift"
check "build tool embeds a valid rules file" sh -c "'$tool' backends.json '$tmp/ok.swift' && grep -q 'static let ruleCount' '$tmp/ok.swift'"
check "rules tool: print lists rules in order with their conditions" sh -c "'$tool' print backends.json | grep -q '^1. x86-conv-onednn → onednn' && '$tool' print backends.json | grep -q 'cpu has avx512_vnni'"
check "rules tool: diff names added, removed and changed rules" sh -c "'$tool' diff backends.json Examples/Plugins/int8-linear/rules.json | grep -q '+ added linear-to-example-plugin' && '$tool' diff backends.json backends.json | grep -q 'no difference'"
check "swift package octet-rules validate (the command plugin)" sh -c "swift package octet-rules validate backends.json 2>&1 | grep -q 'backends.json: valid, '"

# Models: info, run, bench (the interfaces scripts rely on).
nets=Tests/Models/nets
check "info --json has inputs, outputs, op counts, parameters, opset" sh -c "'$octet' info $nets/resnet_tiny.onnx --json | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['opset']==17 and d['inputs'][0]['name']=='input' and d['inputs'][0]['shape'][1:]==[3,32,32] and d['op_counts']['Conv']==9 and d['parameters']>0 and d['parameter_bytes']==4*d['parameters'] and d['unsupported_ops']==[]\""
check "info text shows symbolic dimensions" sh -c "'$octet' info $nets/bert_tiny.onnx | grep -q 'input_ids  s64\[batchxseq\]'"
check "run writes every output as .npy, equal to ONNX Runtime's" sh -c "'$octet' run $nets/bert_tiny.onnx --input $nets/bert_tiny.inputs.npz --output '$tmp/run' >/dev/null && python3 scripts/compare-npy.py '$tmp/run' $nets/bert_tiny.outputs.npz 1e-4"
check "run --input NAME=FILE.npy" sh -c "python3 scripts/compare-npy.py --extract $nets/resnet_tiny.inputs.npz input '$tmp/input.npy' && '$octet' run $nets/resnet_tiny.onnx --input input='$tmp/input.npy' --output '$tmp/run2' --threads 2 >/dev/null && python3 scripts/compare-npy.py '$tmp/run2' $nets/resnet_tiny.outputs.npz 1e-4"
check "run --random-inputs --trace prints the dispatch trace" sh -c "'$octet' run $nets/resnet_tiny.onnx --random-inputs --trace | grep -q 'rules     fp32-onednn  MATCH'"
check "run --random-inputs --shape for symbolic dimensions" sh -c "'$octet' run $nets/bert_tiny.onnx --random-inputs --shape input_ids=1x7 --shape attention_mask=1x7 | grep -q 'hidden  f32\[1x7x64\]'"
check "bench --json has median_ms and p90_ms" sh -c "'$octet' bench $nets/resnet_tiny.onnx --iterations 3 --json | python3 -c \"import json,sys; d=json.load(sys.stdin); assert d['median_ms']>0 and d['p90_ms']>=d['median_ms']\""
fails_with "run: missing model names the file" "$tmp/none.onnx: cannot read" "$octet" run "$tmp/none.onnx" --random-inputs
fails_with "run: wrong input shape names the input" "input 'input': expected f32[batchx3x32x32], got f32[1x3x8x8]" sh -c "python3 -c \"import numpy as np; np.save('$tmp/small.npy', np.zeros((1,3,8,8), np.float32))\" && '$octet' run $nets/resnet_tiny.onnx --input input='$tmp/small.npy'"
fails_with "run: no inputs given says how" "--random-inputs" "$octet" run $nets/resnet_tiny.onnx

# Hostile arguments and files (issue 19): refused with what is wrong, before anything large is made.
fails_with "run: --threads above 1024" "--threads must be between 1 and 1024, got 65535" "$octet" run $nets/resnet_tiny.onnx --random-inputs --threads 65535
fails_with "run: negative --threads is read as a number" "got -1" "$octet" run $nets/resnet_tiny.onnx --random-inputs --threads -1
fails_with "run: --max-memory refuses a random input over it" "random input 'input' (f32 4096x3x32x32) needs 48.0 MiB, over the memory budget of 1.0 MiB" "$octet" run $nets/resnet_tiny.onnx --random-inputs --shape input=4096x3x32x32 --max-memory 1M
fails_with "run: unreadable --max-memory" "cannot read 'lots'" "$octet" run $nets/resnet_tiny.onnx --random-inputs --max-memory lots
mkfifo "$tmp/model.fifo"
fails_with "run: a FIFO as the model is named, never opened" "is a FIFO (named pipe), not a regular file" timeout 10 "$octet" run "$tmp/model.fifo" --random-inputs
fails_with "run: a device as an input" "/dev/zero: cannot read: is a character device" "$octet" run $nets/resnet_tiny.onnx --input input=/dev/zero
fails_with "quantize: --percentile outside (50, 100]" "--percentile must be in (50, 100], got -5.0" "$octet" quantize Models/digits/digits_cnn.onnx -o "$tmp/x.onnx" --calibration Models/digits/calibration.npz --method percentile --percentile -5

# Quantization (the main job): the bundled model, the flags scripts rely on, errors that name the field.
digits=Models/digits
check "quantize: bundled model, static, report, eval" sh -c "'$octet' quantize $digits/digits_cnn.onnx -o '$tmp/d8.onnx' --calibration $digits/calibration.npz --method entropy --report --eval $digits/test.npz > '$tmp/q.txt' 2>&1 && grep -q 'SQNR' '$tmp/q.txt' && grep -q 'top-1 on 540 held-out samples' '$tmp/q.txt' && grep -Eq '[78]-bit activations — ' '$tmp/q.txt'"
check "quantize --trace plans the quantized model (symbolic batch from the calibration data)" sh -c "'$octet' quantize $digits/digits_cnn.onnx -o '$tmp/d8t.onnx' --calibration $digits/calibration.npz --trace 2>&1 | grep -q 'x86-linear-packed  MATCH'"
check "quantize: the output runs on INT8 kernels" sh -c "'$octet' run '$tmp/d8.onnx' --random-inputs --shape input=1x1x8x8 --trace | grep -q 'signature conv2d int8 u8'"
check "bench --profile --trace: every node with its time" sh -c "'$octet' bench '$tmp/d8.onnx' --random-inputs --shape input=1x1x8x8 --profile --trace --iterations 3 2>/dev/null | grep -q '^  time '"
check "dispatch-trace MODEL: every node, plan only" sh -c "'$octet' dispatch-trace '$tmp/d8.onnx' --json | python3 -c \"import json,sys; d=json.load(sys.stdin); n=d['nodes']; assert len(n)>=9 and all(x['backend'] for x in n if x['placement']!='folded'); assert any(x['op_type']=='MaxPool' and x['backend']=='builtin' for x in n)\""
check "dispatch-trace MODEL --cpu sapphire-rapids: convolutions by rule x86-conv-onednn" sh -c "'$octet' dispatch-trace '$tmp/d8.onnx' --cpu sapphire-rapids --json | python3 -c \"import json,sys; d=json.load(sys.stdin); c=[o for o in d['ops'] if o['op']=='conv2d']; assert len(c)==3 and all(o['rule']=='x86-conv-onednn' for o in c)\""
fails_with "dispatch-trace: a model and --op" "not both" "$octet" dispatch-trace "$tmp/d8.onnx" --op linear
check "quantize: --keep-fp32 1 reports the gain" sh -c "'$octet' quantize $digits/digits_cnn.onnx -o '$tmp/d8k.onnx' --calibration $digits/calibration.npz --keep-fp32 1 2>&1 | grep -q 'kept in FP32'"
check "quantize: --config per node and skip" sh -c "printf '%s' '{\"global\": {\"method\": \"percentile\", \"percentile\": 99.9}, \"skip\": [\"/features/features.0/Conv\"]}' > '$tmp/q.json' && '$octet' quantize $digits/digits_cnn.onnx -o '$tmp/d8c.onnx' --calibration $digits/calibration.npz --config '$tmp/q.json' | grep -q 'quantized 4 nodes'"
check "quantize: --mode dynamic and fp16 need no calibration" sh -c "'$octet' quantize $nets/bert_tiny.onnx -o '$tmp/bd.onnx' --mode dynamic >/dev/null && '$octet' quantize $nets/bert_tiny.onnx -o '$tmp/bf.onnx' --mode fp16 >/dev/null && '$octet' run '$tmp/bd.onnx' --random-inputs --shape input_ids=1x8 --shape attention_mask=1x8 --trace | grep -q 'dynamic' && '$octet' run '$tmp/bf.onnx' --random-inputs --shape input_ids=1x8 --shape attention_mask=1x8 --trace | grep -q 'linear fp16'"
printf '%s' '{"global": {"methd": "minmax"}}' > "$tmp/badq.json"
check "quantize: int64 token calibration, sensitivity, --keep-fp32 auto, --smooth" sh -c "'$octet' quantize $nets/bert_tiny.onnx -o '$tmp/bs.onnx' --calibration $nets/bert_tiny.calibration.npz --report --keep-fp32 auto --target-cosine 0.9999 --smooth 0.5 > '$tmp/bs.txt' 2>&1 && grep -q 'sensitivity by node' '$tmp/bs.txt' && grep -q 'outliers (max/median)' '$tmp/bs.txt' && grep -q 'keep-fp32 auto (target min cosine 0.9999)' '$tmp/bs.txt' && grep -q 'speed cost' '$tmp/bs.txt' && grep -q 'smoothquant' '$tmp/bs.txt' && '$octet' run '$tmp/bs.onnx' --random-inputs --shape input_ids=2x12 --shape attention_mask=2x12 >/dev/null"
fails_with "quantize: --keep-fp32 neither a count nor auto" "--keep-fp32: expected a count ≥ 0 or auto, got 'most'" "$octet" quantize $nets/bert_tiny.onnx -o "$tmp/x.onnx" --calibration $nets/bert_tiny.calibration.npz --keep-fp32 most
fails_with "quantize: --smooth outside [0, 1]" "--smooth: α must be in [0, 1] (or 'default'), got '2'" "$octet" quantize $nets/bert_tiny.onnx -o "$tmp/x.onnx" --calibration $nets/bert_tiny.calibration.npz --smooth 2
# The host description: CPUID against the kernel's view, the ISA cap, plans for another CPU.
if [ -r /proc/cpuinfo ] && [ "$(uname -m)" = x86_64 ]; then
check "cpu --json agrees with /proc/cpuinfo's flags" sh -c "'$octet' cpu --json | python3 -c \"import json,sys
d=json.load(sys.stdin); flags=set(next(l for l in open('/proc/cpuinfo') if l.startswith('flags')).split(':')[1].split())
bad=[k for k,v in d['features'].items() if k!='neon' and d['cap_level'] is None and v!=(k in flags)]
assert not bad, bad\""
fi
check "OCTET_MAX_ISA=avx2 caps the features and oneDNN" sh -c "OCTET_MAX_ISA=avx2 '$octet' cpu --json | python3 -c \"import json,sys
d=json.load(sys.stdin); f=d['features']; assert d['cap_level']=='avx2', d['cap']
assert not any(f[k] for k in f if 'avx512' in k or 'amx' in k or 'vnni' in k), f
assert d['onednn_isa']==('avx2' if f['avx2'] else d['onednn_isa']) and '512' not in d['onednn_isa'], d['onednn_isa']\""
check "OCTET_MAX_ISA=avx2: the trace names only AVX2 kernels" sh -c "OCTET_MAX_ISA=avx2 '$octet' run '$tmp/d8.onnx' --random-inputs --shape input=1x1x8x8 --trace > '$tmp/capped.txt' && grep -q '^  backend' '$tmp/capped.txt' && ! grep '^  backend' '$tmp/capped.txt' | grep -Eiq 'avx512|vnni|amx'"
planned_elsewhere_matches_host() { # a model quantized and planned for a VNNI CPU (8-bit for oneDNN), run on this host capped at AVX2
    python3 scripts/compare-npy.py --extract "$digits/test.npz" input "$tmp/digits_all.npy" &&
        python3 -c "import numpy as np; np.save('$tmp/digits_in.npy', np.load('$tmp/digits_all.npy')[3])" &&
        "$octet" quantize $digits/digits_cnn.onnx -o "$tmp/d8vnni.onnx" --calibration $digits/calibration.npz --cpu cascade-lake >/dev/null 2>&1 &&
        OCTET_MAX_ISA=avx2 "$octet" run "$tmp/d8vnni.onnx" --input input="$tmp/digits_in.npy" --output "$tmp/host" >/dev/null || return 1
    for c in cascade-lake sapphire-rapids; do
        OCTET_MAX_ISA=avx2 "$octet" run "$tmp/d8vnni.onnx" --input input="$tmp/digits_in.npy" --output "$tmp/$c" --cpu "$c" --trace >"$tmp/$c.txt" &&
            grep -q "planned for $c: onednn" "$tmp/$c.txt" && cmp "$tmp/host/logits.npy" "$tmp/$c/logits.npy" || return 1
    done
}
check "run --cpu cascade-lake / sapphire-rapids on a host without VNNI: the host plan's bits" planned_elsewhere_matches_host
check "bench --cpu zen4 on a host capped at AVX2 runs" sh -c "OCTET_MAX_ISA=avx2 '$octet' bench '$tmp/d8.onnx' --shape input=1x1x8x8 --cpu zen4 --iterations 3 --warmup 1 >/dev/null"
# Shared-library plugins: the example builds, loads, is listed, and serves the linear layers.
plugin="$tmp/libexample_int8_linear.so"
check "example plugin builds against octet_plugin.h" ${CC:-cc} -O2 -shared -fPIC -I Sources/COctetPlugin/include Examples/Plugins/int8-linear/example_int8_linear.c -o "$plugin"
check "backends --plugin lists it, unrouted" sh -c "'$octet' backends --plugin '$plugin' | grep -A2 '^example-int8-linear  yes' | grep -q 'no rule routes to it'"
check "run --plugin --rules: the trace names the plugin's kernel" sh -c "'$octet' run '$tmp/d8.onnx' --random-inputs --shape input=1x1x8x8 --plugin '$plugin' --rules Examples/Plugins/int8-linear/rules.json --trace | grep -q 'backend   example-int8-linear (u8s8-linear-reference-c)'"
fails_with "--plugin: not a plugin names the file" "plugin $tmp/d8.onnx: not a loadable shared library" "$octet" backends --plugin "$tmp/d8.onnx"
# The C API: the example embeds Octet through octet.h and libOctetC, built with pkg-config;
# its logits equal `octet run`'s on the same quantized model, and it runs clean under ASan.
c_api_example() {
    [ -e "$bin/libOctetC.so" ] || { echo "libOctetC.so not built in $bin (swift build --product OctetC)"; return 1; }
    scripts/make-pkgconfig.sh "$bin" >/dev/null || return 1
    local flags; flags=$(PKG_CONFIG_PATH="$bin/pkgconfig" pkg-config --cflags --libs octet) || return 1
    ${CC:-cc} -Wall -Wextra -Werror Examples/C/embed.c $flags -o "$tmp/embed" || return 1
    python3 -c "import numpy as np; x=np.load('$digits/test.npz')['input'][3]; x.astype('<f4').tofile('$tmp/digit.f32'); np.save('$tmp/digit.npy', x)" || return 1
    "$tmp/embed" $digits/digits_cnn.onnx $digits/calibration.npz "$tmp/digit.f32" "$tmp/embed_trace.json" > "$tmp/embed.txt" || return 1
    grep -q "small buffer: outputs\[0\] 'logits': needs 40 bytes" "$tmp/embed.txt" || return 1
    "$octet" quantize $digits/digits_cnn.onnx -o "$tmp/dmm.onnx" --calibration $digits/calibration.npz --method minmax >/dev/null 2>&1 &&
        "$octet" run "$tmp/dmm.onnx" --input input="$tmp/digit.npy" --output "$tmp/dmm" >/dev/null || return 1
    python3 -c "
import json, numpy as np
c = [float(v) for v in next(l for l in open('$tmp/embed.txt') if l.startswith('logits:')).split()[1:]]
swift = np.load('$tmp/dmm/logits.npy').ravel().tolist()
assert np.array_equal(np.float32(c), np.float32(swift)), (c, swift)
ops = json.load(open('$tmp/embed_trace.json'))['ops']
assert len([o for o in ops if o['op'] in ('conv2d', 'linear')]) == 5 and all(o['backend'] for o in ops), ops
"
}
check "C API: the example builds with pkg-config, runs, and matches octet run" c_api_example
c_api_asan() {
    ${CC:-cc} -g -fsanitize=address -fno-omit-frame-pointer Examples/C/embed.c $(PKG_CONFIG_PATH="$bin/pkgconfig" pkg-config --cflags --libs octet) -o "$tmp/embed-asan" &&
        ASAN_OPTIONS=detect_leaks=1:halt_on_error=1 "$tmp/embed-asan" $digits/digits_cnn.onnx $digits/calibration.npz "$tmp/digit.f32" >/dev/null
}
check "C API: the example runs clean under AddressSanitizer (leaks included)" c_api_asan
fails_with "quantize: bad config names file and field" "$tmp/badq.json: global.methd: unknown key" "$octet" quantize $digits/digits_cnn.onnx -o "$tmp/x.onnx" --calibration $digits/calibration.npz --config "$tmp/badq.json"
fails_with "quantize: static without calibration says how" "--mode static needs --calibration" "$octet" quantize $digits/digits_cnn.onnx -o "$tmp/x.onnx"
fails_with "quantize: calibration for another model names the input" "input_ids" "$octet" quantize $nets/bert_tiny.onnx -o "$tmp/x.onnx" --calibration $digits/calibration.npz
fails_with "quantize: unknown method" "--method: unknown 'kl'" "$octet" quantize $digits/digits_cnn.onnx -o "$tmp/x.onnx" --calibration $digits/calibration.npz --method kl

echo
echo "cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
