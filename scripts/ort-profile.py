#!/usr/bin/env python3
"""ONNX Runtime's time per node for a model, the counterpart of `octet bench --profile --trace`:
median kernel time of each node over many runs, slowest first.

  scripts/ort-profile.py MODEL.onnx INPUTS.npz [--threads 1] [--runs 30] [--top 20]

INPUTS.npz holds one array per graph input name. Use it on the model ONNX Runtime quantized
(what scripts/compare-table.py times) to see which layers it runs faster than Octet.
"""
import argparse, collections, json, os, statistics

import numpy as np
import onnxruntime as ort


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model")
    p.add_argument("inputs", help=".npz with one array per graph input name")
    p.add_argument("--threads", type=int, default=1, help="intra-op threads (default 1)")
    p.add_argument("--runs", type=int, default=30, help="profiled runs (default 30)")
    p.add_argument("--top", type=int, default=20, help="nodes to print (default 20)")
    a = p.parse_args()

    o = ort.SessionOptions()
    o.intra_op_num_threads, o.inter_op_num_threads = a.threads, 1
    o.enable_profiling = True
    s = ort.InferenceSession(a.model, o, providers=["CPUExecutionProvider"])
    arrays = dict(np.load(a.inputs))
    missing = [i.name for i in s.get_inputs() if i.name not in arrays]
    if missing:
        raise SystemExit(f"{a.inputs}: no array for input(s) {', '.join(missing)}")
    feeds = {i.name: arrays[i.name] for i in s.get_inputs()}
    for _ in range(a.runs):
        s.run(None, feeds)
    trace = s.end_profiling()
    with open(trace) as f:
        events = json.load(f)
    os.remove(trace)

    durations = collections.defaultdict(list)  # (node, op type) -> microseconds per run
    for e in events:
        if e.get("cat") == "Node" and e["name"].endswith("_kernel_time"):
            durations[(e["name"][: -len("_kernel_time")], e["args"].get("op_name", "?"))].append(e["dur"])
    rows = sorted(((statistics.median(v) / 1000, node, op) for (node, op), v in durations.items()), reverse=True)
    total = sum(r[0] for r in rows)
    for ms, node, op in rows[: a.top]:
        print(f"{ms:8.3f} ms {100 * ms / total:5.1f}%  {op:18s} {node[:70]}")
    print(f"{total:8.3f} ms in all {len(rows)} nodes (medians, {a.threads} thread(s), {a.runs} runs)")


if __name__ == "__main__":
    main()
