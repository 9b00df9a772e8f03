#!/usr/bin/env python3
"""Octet against ONNX Runtime, FP32 and INT8, each model quantized by each tool, timed in one
run, interleaved, medians of several rounds; plus each INT8 model's agreement with FP32.

  scripts/compare-table.py MODEL.onnx[:dynamic] ... [--threads 1 2] [--rounds 3] [--iterations 20]

For MODEL.onnx the files MODEL.calibration.npz (static: samples along a leading axis) and
MODEL.inputs.npz (one input per name) must lie beside it; `:dynamic` quantizes dynamically
(ORT: quantize_dynamic, Octet: --mode dynamic) and needs no calibration. `mlp` names a
generated 3 x 1024 MLP (dynamic). ORT: QDQ, MinMax, per-channel s8 weights, u8 activations.
Set OCTET_MAX_ISA to time Octet capped (ORT is not capped). `--packed-convolutions` also times
Octet's INT8 model with every INT8 convolution on `packed` (backends.json without its oneDNN
convolution rule), the column that compares packed with oneDNN on VNNI CPUs.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def octet_run(octet, *args):
    return subprocess.run([octet, *args], check=True, capture_output=True, text=True).stdout


def ort_session(path, threads):
    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def ort_time(path, feeds, threads, iterations):
    s = ort_session(path, threads)
    for _ in range(3):
        s.run(None, feeds)
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        s.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def octet_time(octet, path, inputs, threads, iterations, rules=None):
    extra = ["--rules", rules] if rules else []
    out = octet_run(octet, "bench", path, "--input", inputs, "--threads", str(threads), "--iterations", str(iterations), "--json", *extra)
    return json.loads(out)["median_ms"]


def packed_convolution_rules(folder):
    """backends.json without the rule that sends INT8 convolutions to oneDNN."""
    with open(os.path.join(ROOT, "backends.json")) as f:
        rules = json.load(f)
    rules["rules"] = [r for r in rules["rules"] if r["id"] != "x86-conv-onednn"]
    rules["description"] = "backends.json with every INT8 convolution on packed"
    path = os.path.join(folder, "packed-convolutions.json")
    with open(path, "w") as f:
        json.dump(rules, f)
    return path


def mlp(folder):
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    rng = np.random.default_rng(0)
    nodes, inits, x = [], [], "x"
    for i in range(3):
        w = (rng.standard_normal((1024, 1024)) / 32).astype(np.float32)
        b = (rng.standard_normal(1024) / 10).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
        nodes.append(helper.make_node("Gemm", [x, f"w{i}", f"b{i}"], [f"g{i}"], transB=1))
        nodes.append(helper.make_node("Relu", [f"g{i}"], [f"r{i}"]) if i < 2 else helper.make_node("Identity", [f"g{i}"], ["y"]))
        x = f"r{i}"
    g = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1024])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1024])], inits)
    path = os.path.join(folder, "mlp.onnx")
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)
    np.savez(os.path.join(folder, "mlp.inputs.npz"), x=rng.standard_normal((1, 1024)).astype(np.float32))
    return path


def quantize_ort(src, dst, dynamic, calibration):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
    if dynamic:
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
        return
    cal = np.load(calibration)
    names = list(cal.files)

    class Reader(CalibrationDataReader):
        def __init__(self):
            n = len(cal[names[0]])
            self.it = iter([{k: cal[k][i] for k in names} for i in range(n)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=True)


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("models", nargs="+")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--octet", default=os.path.join(ROOT, ".build", "release", "octet"))
    ap.add_argument("--packed-convolutions", action="store_true", help="also time Octet INT8 with every INT8 convolution on packed")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="octet-compare-")
    packed_rules = packed_convolution_rules(tmp) if a.packed_convolutions else None
    rows = []
    for spec in a.models:
        dynamic = spec.endswith(":dynamic") or spec == "mlp"
        src = mlp(tmp) if spec == "mlp" else spec.split(":")[0]
        name = os.path.basename(src)[:-5]
        inputs = src[:-5] + ".inputs.npz"
        feeds = dict(np.load(inputs))
        o8, r8 = os.path.join(tmp, name + "_octet_int8.onnx"), os.path.join(tmp, name + "_ort_int8.onnx")
        if dynamic:
            octet_run(a.octet, "quantize", src, "-o", o8, "--mode", "dynamic")
        else:
            octet_run(a.octet, "quantize", src, "-o", o8, "--calibration", src[:-5] + ".calibration.npz")
        quantize_ort(src, r8, dynamic, src[:-5] + ".calibration.npz")
        fp32 = ort_session(src, 1).run(None, feeds)[0]
        out = os.path.join(tmp, name + "_out")
        octet_run(a.octet, "run", o8, "--input", inputs, "--output", out)
        first = ort_session(src, 1).get_outputs()[0].name.replace("/", "_")
        cos_octet = cosine(np.load(os.path.join(out, first + ".npy")), fp32)
        cos_ort = cosine(ort_session(r8, 1).run(None, feeds)[0], fp32)
        for t in a.threads:
            m = {k: [] for k in ("ort_fp32", "ort_int8", "octet_fp32", "octet_int8") + (("octet_int8_packed",) if packed_rules else ())}
            for r in range(a.rounds):
                m["ort_fp32"].append(ort_time(src, feeds, t, a.iterations))
                m["octet_fp32"].append(octet_time(a.octet, src, inputs, t, a.iterations))
                m["ort_int8"].append(ort_time(r8, feeds, t, a.iterations))
                m["octet_int8"].append(octet_time(a.octet, o8, inputs, t, a.iterations))
                if packed_rules:
                    m["octet_int8_packed"].append(octet_time(a.octet, o8, inputs, t, a.iterations, packed_rules))
                print(f"{name} t{t} round {r + 1}: " + ", ".join(f"{k} {v[-1]:.3f}" for k, v in m.items()), file=sys.stderr)
            med = {k: statistics.median(v) for k, v in m.items()}
            rows.append((name + (" (dynamic)" if dynamic else ""), t, med, cos_ort, cos_octet))
    packed = " Octet INT8, convolutions on packed | packed / oneDNN-convolution plan |" if packed_rules else ""
    print("| model | threads | ORT FP32 | ORT INT8 | Octet FP32 | Octet INT8 | Octet INT8 / ORT INT8 | INT8 speed-up over own FP32 (ORT, Octet) | cosine to FP32 (ORT INT8, Octet INT8) |" + packed)
    print("|---|---|---|---|---|---|---|---|---|" + ("---|---|" if packed_rules else ""))
    for name, t, m, co, cc in rows:
        extra = f" {m['octet_int8_packed']:.3f} | {m['octet_int8_packed'] / m['octet_int8']:.2f} |" if packed_rules else ""
        print(f"| {name} | {t} | {m['ort_fp32']:.3f} | {m['ort_int8']:.3f} | {m['octet_fp32']:.3f} | {m['octet_int8']:.3f} | "
              f"{m['octet_int8'] / m['ort_int8']:.2f} | {m['ort_fp32'] / m['ort_int8']:.2f}x, {m['octet_fp32'] / m['octet_int8']:.2f}x | {co:.5f}, {cc:.5f} |" + extra)


if __name__ == "__main__":
    main()
