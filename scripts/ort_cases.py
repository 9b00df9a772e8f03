"""Shared by the scripts that write test models: a model saved with its inputs and the
outputs ONNX Runtime computes for them (graph optimizations off: the ops as written)."""
import os
import numpy as np
import onnx
import onnxruntime as ort


def save_case(folder, name, model, inputs, show_ops=False):
    """Writes FOLDER/NAME.onnx, NAME.inputs.npz and NAME.outputs.npz (ORT's answers)."""
    os.makedirs(folder, exist_ok=True)
    onnx.checker.check_model(model)
    path = os.path.join(folder, name + ".onnx")
    onnx.save(model, path)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    outs = sess.run(None, inputs)
    names = [o.name for o in sess.get_outputs()]
    np.savez(os.path.join(folder, name + ".inputs.npz"), **inputs)
    np.savez(os.path.join(folder, name + ".outputs.npz"), **dict(zip(names, outs)))
    ops = f"; ops {sorted({n.op_type for n in model.graph.node})}" if show_ops else ""
    print(f"  {name}: {', '.join(f'{k}{list(v.shape)}' for k, v in zip(names, outs))}{ops}")
