#!/usr/bin/env python3
"""Times the graph runtime's hot non-GEMM ops (Resize, Pad, reductions, elementwise, Gather,
Concat, Split, Slice, Transpose, MaxPool, Softmax) on the shapes of a YOLOv8n-style detector
at 640x640, batch 1: one tiny ONNX model per case, run by Octet (`octet bench --json`, timed by
scripts/compare-table.py's functions) and by ONNX Runtime with the same thread count, interleaved
over several rounds; prints the medians and the ratio Octet / ONNX Runtime.

  scripts/hot-ops-bench.py [--threads 1 2] [--rounds 3] [--iterations 30] [--only SUBSTR ...]
                           [--octet .build/release/octet] [--json OUT.json]

Each case's outputs from Octet (`octet run`) are also checked against ONNX Runtime (max abs
difference printed in the last column) so a fast wrong kernel does not pass unnoticed.
"""
import argparse, json, os, statistics, subprocess, tempfile
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _compare_table():
    """scripts/compare-table.py as a module: its timing of Octet and ONNX Runtime is reused here."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("compare_table", os.path.join(ROOT, "scripts", "compare-table.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


timing = _compare_table()
F = TensorProto.FLOAT
OPSET = 17


def model(name, nodes, inputs, outputs, inits=()):
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info(n, F, s) for n, s in inputs],
                          [helper.make_tensor_value_info(n, F, None) for n in outputs],
                          [numpy_helper.from_array(v, k) for k, v in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", OPSET)])
    m.ir_version = 8
    return m


def cases():
    """(name, model, feeds) for every case; inputs are seeded random normals."""
    rng = np.random.default_rng(0)

    def x(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def unary(name, op, shape, **attrs):
        return name, model(name, [helper.make_node(op, ["x"], ["y"], **attrs)], [("x", shape)], ["y"]), {"x": x(*shape)}

    def binary(name, op, sa, sb):
        m = model(name, [helper.make_node(op, ["a", "b"], ["y"])], [("a", sa), ("b", sb)], ["y"])
        return name, m, {"a": x(*sa), "b": x(*sb)}

    def silu(shape):
        name = "silu " + "x".join(map(str, shape[1:]))
        m = model(name, [helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Mul", ["x", "s"], ["y"])], [("x", shape)], ["y"])
        return name, m, {"x": x(*shape)}

    def resize(shape):
        name = "resize nearest 2x " + "x".join(map(str, shape[1:]))
        scales = np.array([1, 1, 2, 2], np.float32)
        m = model(name, [helper.make_node("Resize", ["x", "", "scales"], ["y"], mode="nearest")], [("x", shape)], ["y"],
                  [("scales", scales)])
        return name, m, {"x": x(*shape)}

    def concat(shapes, axis=1):
        name = "concat " + " + ".join("x".join(map(str, s[1:])) for s in shapes)
        names = [f"x{i}" for i in range(len(shapes))]
        m = model(name, [helper.make_node("Concat", names, ["y"], axis=axis)], list(zip(names, shapes)), ["y"])
        return name, m, {n: x(*s) for n, s in zip(names, shapes)}

    def split(shape, parts, axis=1):
        name = f"split {'x'.join(map(str, shape[1:]))} -> {parts}"
        outs = [f"y{i}" for i in range(len(parts))]
        m = model(name, [helper.make_node("Split", ["x", "split"], outs, axis=axis)], [("x", shape)], outs,
                  [("split", np.array(parts, np.int64))])
        return name, m, {"x": x(*shape)}

    def slice_(shape, start, end, axis):
        name = f"slice {'x'.join(map(str, shape[1:]))} [{start}:{end}] axis {axis}"
        inits = [("starts", np.array([start], np.int64)), ("ends", np.array([end], np.int64)), ("axes", np.array([axis], np.int64))]
        m = model(name, [helper.make_node("Slice", ["x", "starts", "ends", "axes"], ["y"])], [("x", shape)], ["y"], inits)
        return name, m, {"x": x(*shape)}

    def pad(shape, pads, mode="constant"):
        name = f"pad {mode} {'x'.join(map(str, shape[1:]))} {pads}"
        m = model(name, [helper.make_node("Pad", ["x", "pads"], ["y"], mode=mode)], [("x", shape)], ["y"],
                  [("pads", np.array(pads, np.int64))])
        return name, m, {"x": x(*shape)}

    def reduce(op, shape, axes, keepdims=1):
        name = f"{op} {'x'.join(map(str, shape[1:]))} axes {axes}"
        if op == "ReduceSum":  # axes is an input from opset 13
            m = model(name, [helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)], [("x", shape)], ["y"],
                      [("axes", np.array(axes, np.int64))])
        else:
            m = model(name, [helper.make_node(op, ["x"], ["y"], axes=axes, keepdims=keepdims)], [("x", shape)], ["y"])
        return name, m, {"x": x(*shape)}

    def gather(shape, axis, count):
        name = f"gather {'x'.join(map(str, shape[1:]))} axis {axis} {count} indices"
        idx = rng.integers(0, shape[axis], count).astype(np.int64)
        m = model(name, [helper.make_node("Gather", ["x", "idx"], ["y"], axis=axis)], [("x", shape)], ["y"], [("idx", idx)])
        return name, m, {"x": x(*shape)}

    yield resize((1, 256, 20, 20))
    yield resize((1, 128, 40, 40))
    yield concat([(1, 128, 40, 40), (1, 128, 40, 40)])
    yield concat([(1, 64, 80, 80), (1, 128, 80, 80)])
    yield concat([(1, 144, 6400), (1, 144, 1600), (1, 144, 400)], axis=2)
    yield split((1, 64, 160, 160), [32, 32])
    yield split((1, 144, 8400), [64, 80])
    yield slice_((1, 84, 8400), 4, 84, 1)
    yield unary("sigmoid 32x320x320", "Sigmoid", (1, 32, 320, 320))
    yield silu((1, 32, 320, 320))
    yield silu((1, 64, 160, 160))
    yield binary("add 64x160x160 + same", "Add", (1, 64, 160, 160), (1, 64, 160, 160))
    yield binary("mul 64x160x160 * 64x1x1", "Mul", (1, 64, 160, 160), (1, 64, 1, 1))
    yield binary("sub 1x2x8400 - 2x8400", "Sub", (1, 2, 8400), (2, 8400))
    yield binary("mul 1x4x8400 * 1x8400", "Mul", (1, 4, 8400), (1, 8400))
    yield unary("maxpool 5x5 s1 p2 256x20x20", "MaxPool", (1, 256, 20, 20), kernel_shape=[5, 5], strides=[1, 1], pads=[2, 2, 2, 2])
    yield unary("maxpool 2x2 s2 64x160x160", "MaxPool", (1, 64, 160, 160), kernel_shape=[2, 2], strides=[2, 2])
    yield pad((1, 3, 640, 640), [0, 0, 0, 0, 0, 0, 1, 1])
    yield pad((1, 32, 160, 160), [0, 0, 1, 1, 0, 0, 1, 1])
    yield pad((1, 32, 160, 160), [0, 0, 1, 1, 0, 0, 1, 1], "reflect")
    yield reduce("ReduceMean", (1, 256, 40, 40), [2, 3])
    yield reduce("ReduceMax", (1, 80, 8400), [1])
    yield reduce("ReduceSum", (1, 64, 160, 160), [1])
    yield unary("transpose 84x8400 -> 8400x84", "Transpose", (1, 84, 8400), perm=[0, 2, 1])
    yield unary("transpose 4x16x8400 -> 16x4x8400", "Transpose", (1, 4, 16, 8400), perm=[0, 2, 1, 3])
    yield unary("softmax 4x16x8400 axis 2", "Softmax", (1, 4, 16, 8400), axis=2)
    yield unary("softmax 8400x84 axis -1", "Softmax", (1, 8400, 84), axis=-1)
    yield gather((1, 8400, 84), 1, 300)
    yield gather((1, 84, 8400), 2, 1000)


def octet_outputs(octet, path, inputs, threads, folder):
    out = tempfile.mkdtemp(dir=folder)
    subprocess.run([octet, "run", path, "--input", inputs, "--threads", str(threads), "--output", out], check=True, capture_output=True, text=True)
    return {f[:-4]: np.load(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".npy")}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--only", nargs="*", default=[], help="run only cases whose name contains one of these")
    ap.add_argument("--octet", default=os.path.join(ROOT, ".build", "release", "octet"))
    ap.add_argument("--json", help="also write the table as JSON here")
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for i, (name, m, feeds) in enumerate(cases()):
            if a.only and not any(s in name for s in a.only):
                continue
            path, inputs = os.path.join(folder, f"case{i}.onnx"), os.path.join(folder, f"case{i}.npz")
            onnx.save(m, path)
            np.savez(inputs, **feeds)
            for threads in a.threads:
                octet, onnxrt = [], []
                for _ in range(a.rounds):
                    octet.append(timing.octet_time(a.octet, path, inputs, threads, a.iterations))
                    onnxrt.append(timing.ort_time(path, feeds, threads, a.iterations))
                sess = timing.ort_session(path, threads)
                expected = sess.run(None, feeds)
                got = octet_outputs(a.octet, path, inputs, threads, folder)
                names = [o.name for o in sess.get_outputs()]
                diff = max(float(np.max(np.abs(got[n].astype(np.float64) - e))) if e.size else 0.0 for n, e in zip(names, expected))
                o, t = statistics.median(octet), statistics.median(onnxrt)
                rows.append({"case": name, "threads": threads, "octet_ms": o, "onnxruntime_ms": t, "ratio": o / t, "max_abs_diff": diff})
                print(f"{name:42s} {threads}t  octet {o:8.3f} ms  ort {t:8.3f} ms  ratio {o / t:5.2f}  maxdiff {diff:.2e}", flush=True)
    print(f"\nonnxruntime {ort.__version__}; medians of {a.rounds} rounds x {a.iterations} runs; ratio = Octet / ORT")
    print("| case | threads | Octet ms | ORT ms | Octet/ORT |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['case']} | {r['threads']} | {r['octet_ms']:.3f} | {r['onnxruntime_ms']:.3f} | {r['ratio']:.2f} |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"onnxruntime_version": ort.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
