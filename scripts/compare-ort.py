#!/usr/bin/env python3
"""Times a model in Octet (`octet bench --json`) and in ONNX Runtime on the same inputs,
interleaved over several rounds on this machine, and prints medians and their ratio.

  scripts/compare-ort.py MODEL.onnx [--inputs INPUTS.npz] [--threads N] [--iterations N] [--rounds R]

ONNX Runtime runs with all graph optimizations and intra_op_num_threads = N.
"""
import argparse, json, os, statistics, subprocess, sys, time
import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ort_bench(path, feeds, threads, iterations, warmup=3):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        sess.run(None, feeds)
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        sess.run(None, feeds)
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--inputs", help=".npz of inputs by name (default: MODEL's .inputs.npz beside it)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--octet", default=os.path.join(ROOT, ".build", "release", "octet"))
    a = ap.parse_args()
    inputs = a.inputs or a.model[:-5] + ".inputs.npz"
    feeds = dict(np.load(inputs))
    octet, onnxrt = [], []
    for r in range(a.rounds):
        out = subprocess.run([a.octet, "bench", a.model, "--input", inputs, "--threads", str(a.threads),
                              "--iterations", str(a.iterations), "--json"], check=True, capture_output=True, text=True).stdout
        octet.append(json.loads(out)["median_ms"])
        onnxrt.append(ort_bench(a.model, feeds, a.threads, a.iterations))
        print(f"round {r + 1}: octet {octet[-1]:.2f} ms, onnxruntime {onnxrt[-1]:.2f} ms", file=sys.stderr)
    o, t = statistics.median(octet), statistics.median(onnxrt)
    print(json.dumps({"model": a.model, "threads": a.threads, "octet_median_ms": o, "onnxruntime_median_ms": t,
                      "octet_over_onnxruntime": o / t, "onnxruntime_version": ort.__version__}, indent=1))


if __name__ == "__main__":
    main()
