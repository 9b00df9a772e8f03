#!/usr/bin/env python3
"""Tokenized calibration data for the committed BERT-style test encoder, and the ranges
ONNX Runtime sees on every float edge over it: the answer the calibration tests check
Octet's observers against.

  scripts/make-token-calibration.py

Writes Tests/Models/nets/bert_tiny.calibration.npz (input_ids and attention_mask, int64,
a leading sample axis over 2 x 12; some sequences padded) and
bert_tiny.calibration_ranges.json ({edge: [min, max]} over all samples, from ONNX Runtime
with graph optimizations off so that every edge keeps its name).
"""
import json, os
import numpy as np
import onnx
import onnxruntime as ort

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NETS = os.path.join(ROOT, "Tests", "Models", "nets")


def main():
    rng = np.random.default_rng(20261130)
    n, batch, seq, vocab = 10, 2, 12, 100
    ids = rng.integers(0, vocab, size=(n, batch, seq)).astype(np.int64)
    mask = np.ones((n, batch, seq), np.int64)
    for i in range(n):
        mask[i, 1, seq - 1 - i % 5:] = 0  # padded tails of different lengths
    path = os.path.join(NETS, "bert_tiny.onnx")
    model = onnx.load(path)
    float_edges = []
    inferred = onnx.shape_inference.infer_shapes(model)
    for vi in inferred.graph.value_info:
        if vi.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
            float_edges.append(vi.name)
    existing = {o.name for o in model.graph.output}
    for e in float_edges:
        if e not in existing:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(e))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    lo, hi = {}, {}
    for i in range(n):
        for name, v in zip(names, sess.run(None, {"input_ids": ids[i], "attention_mask": mask[i]})):
            if v.dtype != np.float32:
                continue
            lo[name] = min(lo.get(name, np.inf), float(v.min()))
            hi[name] = max(hi.get(name, -np.inf), float(v.max()))
    np.savez(os.path.join(NETS, "bert_tiny.calibration.npz"), input_ids=ids, attention_mask=mask)
    with open(os.path.join(NETS, "bert_tiny.calibration_ranges.json"), "w") as f:
        json.dump({k: [lo[k], hi[k]] for k in sorted(lo)}, f, indent=0, sort_keys=True)
    print(f"{n} samples, ranges of {len(lo)} float edges")


if __name__ == "__main__":
    main()
