#!/usr/bin/env python3
"""Accuracy and speed of each quantization mode on a real sentence encoder, Octet and ONNX
Runtime side by side: min / mean cosine of the sentence embeddings against FP32 (ONNX
Runtime's FP32 output) over the held-out sentences, and the median latency of one
sentence at 1 thread.

  scripts/export-minilm.py                      # once: Models/large/minilm (see there)
  flock /tmp/octet-build.lock scripts/transformer-accuracy.py [--dir Models/large/minilm]
      [--octet .build/release/octet] [--iterations 30] [--only dynamic static ...] [--smooth 0.5 0.8]

Rows: FP32; dynamic (Octet per-channel s8 weights with per-token and with per-tensor
activations, `--activations`; ORT quantize_dynamic per tensor and per channel + reduce_range;
ORT running Octet's per-token file, which it executes per tensor as written); static min/max (Octet; ORT QDQ per-channel s8, u8 activations);
static with SmoothQuant at each --smooth α (Octet); static with --keep-fp32 auto
--target-cosine 0.99 (Octet, with and without smoothing); the static rows again with
--float-outputs (results that only float ops read stay f32). Every Octet model is run by
`octet run` sentence by sentence and timed by `octet bench`; its quantize log (report,
sensitivity, kept nodes) is written beside the table in DIR/results/.
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
import numpy as np
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ort_session(path, threads=1):
    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = threads, 1
    return ort.InferenceSession(path, o, providers=["CPUExecutionProvider"])


def cosines(got, ref):
    out = []
    for a, b in zip(got, ref):
        a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
        out.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-30)))
    return min(out), sum(out) / len(out)


class Octet:
    def __init__(self, binary, work, sentences, inputs, iterations):
        self.binary, self.work, self.sentences, self.inputs, self.iterations = binary, work, sentences, inputs, iterations

    def call(self, *args, log=None):
        r = subprocess.run([self.binary, *args], capture_output=True, text=True)
        if log:
            with open(log, "w") as f:
                f.write(r.stdout + r.stderr)
        if r.returncode != 0:
            sys.exit(f"octet {' '.join(args)} failed:\n{r.stderr}")
        return r.stdout

    def embeddings(self, model):
        out = []
        for i, path in enumerate(self.sentences):
            d = os.path.join(self.work, f"out_{i}")
            self.call("run", model, "--input", path, "--output", d)
            out.append(np.load(os.path.join(d, "sentence_embedding.npy")))
        return out

    def latency(self, model):
        return json.loads(self.call("bench", model, "--input", self.inputs, "--threads", "1", "--iterations", str(self.iterations), "--json"))["median_ms"]


def ort_embeddings(model, feeds):
    s = ort_session(model)
    return [s.run(None, f)[0] for f in feeds]


def ort_latency(model, feed, iterations):
    s = ort_session(model)
    for _ in range(3):
        s.run(None, feed)
    t = []
    for _ in range(iterations):
        a = time.perf_counter()
        s.run(None, feed)
        t.append((time.perf_counter() - a) * 1e3)
    return statistics.median(t)


def ort_quantize(src, dst, kind, calibration):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic, quantize_static
    if kind == "dynamic":
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8)
    elif kind == "dynamic-per-channel":
        quantize_dynamic(src, dst, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True)
    else:
        cal = np.load(calibration)
        n = len(cal["input_ids"])

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.it = iter([{k: cal[k][i] for k in cal.files} for i in range(n)])

            def get_next(self):
                return next(self.it, None)
        quantize_static(src, dst, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8, per_channel=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dir", default=os.path.join(ROOT, "Models", "large", "minilm"))
    ap.add_argument("--name", default="minilm")
    ap.add_argument("--octet", default=os.path.join(ROOT, ".build", "release", "octet"))
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--smooth", type=float, nargs="*", default=[0.5, 0.8])
    ap.add_argument("--only", nargs="*", help="rows whose mode starts with one of these (fp32, dynamic, static, ...)")
    ap.add_argument("--table", default="table.md", help="file name of the table in DIR/results")
    a = ap.parse_args()
    src = os.path.join(a.dir, a.name + ".onnx")
    calibration = os.path.join(a.dir, a.name + ".calibration.npz")
    ev = np.load(os.path.join(a.dir, a.name + ".eval.npz"))
    feeds = [{k: ev[k][i] for k in ev.files} for i in range(len(ev["input_ids"]))]
    results = os.path.join(a.dir, "results")
    os.makedirs(results, exist_ok=True)
    work = tempfile.mkdtemp(prefix="octet-transformer-")
    sentences = []
    for i, f in enumerate(feeds):
        p = os.path.join(work, f"sentence_{i}.npz")
        np.savez(p, **f)
        sentences.append(p)
    octet = Octet(a.octet, work, sentences, os.path.join(a.dir, a.name + ".inputs.npz"), a.iterations)
    reference = ort_embeddings(src, feeds)
    first = feeds[0]

    rows = []

    def want(mode):
        return not a.only or any(mode.startswith(p) for p in a.only)

    def octet_row(mode, args, command, ort_too=False):
        if not want(mode):
            return
        out = os.path.join(work, mode.replace(" ", "_").replace("=", "") + ".onnx")
        log = os.path.join(results, "octet " + mode.replace("/", "_") + ".log")
        if args is None:
            out = src
        else:
            octet.call("quantize", src, "-o", out, *args, log=log)
        mn, mean = cosines(octet.embeddings(out), reference)
        rows.append((mode, "Octet", mn, mean, octet.latency(out), command))
        print(f"{mode}: Octet min {mn:.4f} mean {mean:.4f} {rows[-1][4]:.2f} ms", file=sys.stderr)
        if ort_too:  # the same file in ONNX Runtime (it must load; it ignores Octet's metadata)
            mn, mean = cosines(ort_embeddings(out, feeds), reference)
            rows.append((mode, "ONNX Runtime on Octet's file", mn, mean, ort_latency(out, first, a.iterations), command))
            print(f"{mode}: ORT on Octet's file min {mn:.4f} mean {mean:.4f} {rows[-1][4]:.2f} ms", file=sys.stderr)

    def ort_row(mode, kind, command):
        if not want(mode):
            return
        if kind is None:
            out = src
        else:
            out = os.path.join(work, "ort_" + kind + ".onnx")
            ort_quantize(src, out, kind, calibration)
        mn, mean = cosines(ort_embeddings(out, feeds), reference)
        rows.append((mode, "ONNX Runtime", mn, mean, ort_latency(out, first, a.iterations), command))
        print(f"{mode}: ORT min {mn:.4f} mean {mean:.4f} {rows[-1][4]:.2f} ms", file=sys.stderr)

    cal = os.path.relpath(calibration, ROOT)
    octet_row("fp32", None, "octet run / bench on the FP32 model")
    ort_row("fp32", None, "InferenceSession on the FP32 model")
    octet_row("dynamic per-token", ["--mode", "dynamic", "--activations", "per-token"], "octet quantize --mode dynamic --activations per-token", ort_too=True)
    octet_row("dynamic per-tensor", ["--mode", "dynamic", "--activations", "per-tensor"], "octet quantize --mode dynamic --activations per-tensor")
    ort_row("dynamic", "dynamic", "quantize_dynamic(weight_type=QInt8)")
    ort_row("dynamic per-channel", "dynamic-per-channel", "quantize_dynamic(QInt8, per_channel=True, reduce_range=True)")
    octet_row("static minmax", ["--calibration", calibration], f"octet quantize --calibration {cal}")
    ort_row("static minmax", "static", "quantize_static(QDQ, QUInt8 act, QInt8 per-channel weights, MinMax)")
    for s in a.smooth:
        octet_row(f"static smooth={s}", ["--calibration", calibration, "--smooth", str(s)], f"octet quantize --calibration {cal} --smooth {s}")
    octet_row("static auto 0.99", ["--calibration", calibration, "--report", "--keep-fp32", "auto", "--target-cosine", "0.99"],
              f"octet quantize --calibration {cal} --report --keep-fp32 auto --target-cosine 0.99")
    for s in a.smooth[:1]:
        octet_row(f"static smooth={s} auto 0.99", ["--calibration", calibration, "--smooth", str(s), "--report", "--keep-fp32", "auto", "--target-cosine", "0.99"],
                  f"octet quantize --calibration {cal} --smooth {s} --report --keep-fp32 auto --target-cosine 0.99")

    fo = ["--calibration", calibration, "--float-outputs"]
    octet_row("static float-outputs", fo, f"octet quantize --calibration {cal} --float-outputs")
    for s in a.smooth:
        octet_row(f"static float-outputs smooth={s}", fo + ["--smooth", str(s)], f"octet quantize --calibration {cal} --float-outputs --smooth {s}")
    auto = ["--report", "--keep-fp32", "auto", "--target-cosine", "0.99"]
    octet_row("static float-outputs auto 0.99", fo + auto, f"octet quantize --calibration {cal} --float-outputs --report --keep-fp32 auto --target-cosine 0.99")
    for s in a.smooth[:1]:
        octet_row(f"static float-outputs smooth={s} auto 0.99", fo + ["--smooth", str(s)] + auto,
                  f"octet quantize --calibration {cal} --float-outputs --smooth {s} --report --keep-fp32 auto --target-cosine 0.99")

    lines = [f"{a.name}: {len(feeds)} held-out sentences, cosine of the sentence embeddings to ONNX Runtime FP32; latency: one sentence, 1 thread, median of {a.iterations}",
             "", "| mode | tool | min cosine | mean cosine | latency ms (1 thread) | command |", "|---|---|---|---|---|---|"]
    for mode, tool, mn, mean, ms, cmd in rows:
        lines.append(f"| {mode} | {tool} | {mn:.4f} | {mean:.4f} | {ms:.2f} | `{cmd}` |")
    text = "\n".join(lines)
    print(text)
    with open(os.path.join(results, a.table), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
