#!/usr/bin/env python3
"""Round trip of `octet quantize` through ONNX Runtime: the files Octet writes (static QDQ,
dynamic MatMulInteger, fp16 weights) load in ORT, and ORT's outputs agree with Octet's; and
ORT's quantize_dynamic CNNs (ConvInteger) run on Octet's dynamic INT8 convolution and agree with ORT.

Static: Octet's INT8 output vs the same QDQ file evaluated by ORT in floating point
(graph optimizations off: QuantizeLinear/DequantizeLinear as written) must agree within
one quantization step of the output's range; ORT's own INT8 kernels are compared too.

ORT's u8·s8 kernels are exact only with VNNI: on an AVX2-only CPU they add pairs of
products with vpmaddubsw into saturating int16 (ORT documents this and recommends
reduce_range there). On such a host the comparisons with ORT's integer kernels are
printed, not checked, and Octet's dynamic model must instead be at least as close to the
FP32 model as ORT's own run of it.

Usage: scripts/check-quantized-ort.py [BIN_DIR]   (needs numpy and onnxruntime)
"""
import os, subprocess, sys, tempfile
import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
octet = os.path.join(ROOT, sys.argv[1] if len(sys.argv) > 1 else ".build/debug", "octet")
failures = 0


def run(*args):
    r = subprocess.run([octet, *args], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"octet {' '.join(args)} failed:\n{r.stderr}")
    return r.stdout


def octet_outputs(model, feeds, tmp, tag):
    path = os.path.join(tmp, tag + ".inputs.npz")
    np.savez(path, **feeds)
    out = os.path.join(tmp, tag + ".out")
    run("run", model, "--input", path, "--output", out)
    return {f[:-4]: np.load(os.path.join(out, f)) for f in os.listdir(out)}


def ort_outputs(model, feeds, optimize):
    so = ort.SessionOptions()
    if not optimize:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in s.get_outputs()], s.run(None, feeds)))


def check(name, ok, detail):
    global failures
    print(("ok    " if ok else "FAIL  ") + name + ": " + detail)
    failures += 0 if ok else 1


def host_has_vnni():
    import json
    f = json.loads(run("cpu", "--json"))["features"]
    return f["avx512_vnni"] or f["avx_vnni"] or f["amx_int8"]


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def check_ort_dynamic(tmp, name, model, feeds, op, kind, kernel, minimum, agree):
    """ORT's quantize_dynamic on `op` nodes, with s8 (QInt8) and u8 (QUInt8) weights: every
    `op`Integer runs as Octet's dynamic INT8 `kind` on packed (`kernel` in the trace, at least
    `minimum` of them), and `agree(Octet's output, ORT's)` gives (passed, detail). Checked where
    ORT's kernels are exact (VNNI, or its u8·u8 kernels), printed elsewhere."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    import re
    shapes = [a for k, v in feeds.items() for a in ("--shape", f"{k}=" + "x".join(map(str, v.shape)))]
    for wt in [QuantType.QInt8, QuantType.QUInt8]:
        q = os.path.join(tmp, f"{name}_dynamic_{wt.name}.onnx")
        quantize_dynamic(model, q, weight_type=wt, op_types_to_quantize=[op])
        trace = run("dispatch-trace", q, *shapes)
        nodes = re.findall(rf"^  signature {kind} int8 f32·[su]8→f32 .* dynamic", trace, re.M)
        packed = re.findall(rf"^  backend   packed \({re.escape(kernel)}", trace, re.M)
        check(f"{name} quantize_dynamic {wt.name}: {op}Integers run as dynamic INT8 {kind} on packed",
              len(nodes) >= minimum and len(packed) == len(nodes) and f"{op}Integer" not in trace, f"{len(packed)} of {len(nodes)} on packed")
        mine = octet_outputs(q, feeds, tmp, f"{name}_dyn_{wt.name}")
        theirs = ort_outputs(q, feeds, optimize=False)
        for out, a in mine.items():
            ok, detail = agree(a, theirs[out])
            if vnni or wt == QuantType.QUInt8:
                check(f"{name} quantize_dynamic {wt.name} '{out}': Octet vs ORT", ok, detail)
            else:
                print(f"info  {name} quantize_dynamic {wt.name} '{out}': Octet vs ORT (saturating here): {detail}")


vnni = host_has_vnni()
print(f"host {'has' if vnni else 'lacks'} VNNI: ORT's INT8 kernels are {'exact' if vnni else 'saturating (vpmaddubsw); compared for information only'}")

with tempfile.TemporaryDirectory() as tmp:
    digits = os.path.join(ROOT, "Models", "digits")
    x = np.load(os.path.join(digits, "test.npz"))["input"][:128, 0]  # 128 samples as one batch
    for method, extra in [("minmax", []), ("entropy", []), ("minmax", ["--reduce-range", "on"])]:
        tag = method + ("-7bit" if extra else "")
        q = os.path.join(tmp, f"digits_{tag}.onnx")
        run("quantize", os.path.join(digits, "digits_cnn.onnx"), "-o", q, "--calibration", os.path.join(digits, "calibration.npz"), "--method", method, *extra)
        method = tag
        mine = octet_outputs(q, {"input": x}, tmp, method)["logits"]
        qdq = ort_outputs(q, {"input": x}, optimize=False)["logits"]
        kernels = ort_outputs(q, {"input": x}, optimize=True)["logits"]
        step = (qdq.max() - qdq.min()) / 255
        d = np.abs(mine - qdq).max() / step
        check(f"static {method}: Octet INT8 vs ORT float QDQ", d <= 1.0, f"max |diff| = {d:.3f} output steps (step {step:.4g})")
        d2 = np.abs(mine - kernels).max() / step
        if vnni or extra:  # 7-bit activations cannot saturate, VNNI or not
            check(f"static {method}: Octet INT8 vs ORT INT8 kernels", d2 <= 1.0, f"max |diff| = {d2:.3f} output steps")
        else:
            print(f"info  static {method}: Octet INT8 vs ORT INT8 kernels (saturating here): max |diff| = {d2:.3f} output steps")

    # A residual CNN: its Adds run as integer adds (QuantizedAdd) and must still match the
    # QDQ file evaluated in floating point.
    nets = os.path.join(ROOT, "Tests", "Models", "nets")
    rng = np.random.default_rng(7)
    rcal = os.path.join(tmp, "resnet_calibration.npz")
    np.savez(rcal, input=rng.standard_normal((8, 1, 3, 32, 32)).astype(np.float32))
    q = os.path.join(tmp, "resnet_tiny_int8.onnx")
    run("quantize", os.path.join(nets, "resnet_tiny.onnx"), "-o", q, "--calibration", rcal)
    rx = rng.standard_normal((4, 3, 32, 32)).astype(np.float32)
    trace = run("run", q, "--random-inputs", "--shape", "input=1x3x32x32", "--trace")
    import re
    # Every node is in the trace: an integer add is its own block ("#k QuantizedAdd add 'name'")
    # or, folded into the convolution before it as a sum post-op, a note of that convolution.
    adds = len(re.findall(r"^#\d+ QuantizedAdd add '", trace, re.M)) + len(re.findall(r"^\s+note\s+fused QuantizedAdd '", trace, re.M))
    check("resnet_tiny INT8: residual Adds run on the integers", adds == 3, f"{adds} of 3 residual Adds as QuantizedAdd nodes or fused sums in the trace")
    mine = octet_outputs(q, {"input": rx}, tmp, "resnet")
    qdq = ort_outputs(q, {"input": rx}, optimize=False)
    for name, a in mine.items():
        step = (qdq[name].max() - qdq[name].min()) / 255
        d = np.abs(a - qdq[name]).max() / step
        check(f"resnet_tiny INT8 '{name}': Octet vs ORT float QDQ", d <= 1.0 + 1e-3, f"max |diff| = {d:.3f} output steps")

    # A QDQ model written by another tool (ORT's quantize_static) plans onto Octet's INT8 kernels.
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    calib = np.load(os.path.join(digits, "calibration.npz"))["input"]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{"input": calib[i]} for i in range(len(calib))])

        def get_next(self):
            return next(self.it, None)

    for per_channel in [False, True]:
        q = os.path.join(tmp, f"digits_ort_{per_channel}.onnx")
        quantize_static(os.path.join(digits, "digits_cnn.onnx"), q, Reader(), quant_format=QuantFormat.QDQ,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=per_channel)
        trace = run("run", q, "--random-inputs", "--shape", "input=1x1x8x8", "--trace")
        int8 = sum(1 for line in trace.splitlines() if line.strip().startswith("signature") and " int8 " in line)
        check(f"ORT-quantized QDQ (per_channel={per_channel}) plans INT8 kernels", int8 >= 5, f"{int8} INT8 matrix ops in the trace")
        mine = octet_outputs(q, {"input": x}, tmp, f"ort{per_channel}")["logits"]
        qdq = ort_outputs(q, {"input": x}, optimize=False)["logits"]
        step = (qdq.max() - qdq.min()) / 255
        d = np.abs(mine - qdq).max() / step
        check(f"ORT-quantized QDQ (per_channel={per_channel}): Octet INT8 vs ORT float QDQ", d <= 1.0 + 1e-3, f"max |diff| = {d:.3f} output steps")

    # ORT's quantize_dynamic on CNNs (DynamicQuantizeLinear → ConvInteger → Cast → Mul → Add):
    # every ConvInteger runs as Octet's dynamic INT8 convolution, and the outputs are ORT's
    # up to the f32 rescale's rounding (the codes and the integer sums are the same).
    def relative(a, b):
        d = float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-6))
        return d <= 1e-6, f"max |diff| / max |ORT| = {d:.2e}"
    for name, model, feed in [("digits_cnn", os.path.join(digits, "digits_cnn.onnx"), {"input": x}),
                              ("resnet_tiny", os.path.join(nets, "resnet_tiny.onnx"), {"input": rx})]:
        check_ort_dynamic(tmp, name, model, feed, "Conv", "conv2d", "f32u8-quantize-", 2, relative)

    feeds = dict(np.load(os.path.join(nets, "bert_tiny.inputs.npz")))
    fp32 = ort_outputs(os.path.join(nets, "bert_tiny.onnx"), feeds, optimize=True)
    for mode, tol in [("dynamic", 0.999), ("fp16", 0.99999)]:
        q = os.path.join(tmp, f"bert_{mode}.onnx")
        run("quantize", os.path.join(nets, "bert_tiny.onnx"), "-o", q, "--mode", mode)
        mine = octet_outputs(q, feeds, tmp, mode)
        theirs = ort_outputs(q, feeds, optimize=True)
        for name, a in mine.items():
            cos = cosine(a, theirs[name])
            if mode == "fp16" or vnni:
                check(f"{mode} BERT: Octet vs ORT on '{name}'", cos >= tol, f"cosine {cos:.6f} (≥ {tol})")
                continue
            print(f"info  {mode} BERT: Octet vs ORT (saturating here) on '{name}': cosine {cos:.6f}")
            ours, ort_int8 = cosine(a, fp32[name]), cosine(theirs[name], fp32[name])
            check(f"{mode} BERT: Octet at least as close to FP32 as ORT on '{name}'", ours >= ort_int8 - 1e-4,
                  f"cosine to FP32: Octet {ours:.6f}, ORT {ort_int8:.6f}")

    # ORT's quantize_dynamic on MatMuls, s8 and u8 (QUInt8: one zero point per tensor) weights:
    # the dynamic INT8 linear (its activation parameters are PyTorch's, so compared by cosine).
    def close(a, b):
        cos = cosine(a, b)
        return cos >= 0.999, f"cosine {cos:.6f} (≥ 0.999)"
    check_ort_dynamic(tmp, "bert_tiny", os.path.join(nets, "bert_tiny.onnx"), feeds, "MatMul", "linear", "f32u8s8-dqgemm-", 4, close)

print(f"{'FAILED' if failures else 'passed'}: {failures} failure(s)")
sys.exit(1 if failures else 0)
