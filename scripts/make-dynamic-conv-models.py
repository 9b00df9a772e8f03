#!/usr/bin/env python3
"""Builds the dynamic-quantization convolution cases under Tests/Models/dynamic and the
answers ONNX Runtime gives for them (CASE.onnx, CASE.inputs.npz, CASE.outputs.npz, as
scripts/make-test-models.py does for Tests/Models/ops).

  cnn_qint8, cnn_quint8: a small CNN (3x3 conv with bias, ReLU, 3x3 stride-2 depthwise with
      bias, ReLU, 3x3 conv with groups 2 and dilation 2, ReLU, 1x1 conv without bias) exported
      from torch and quantized by onnxruntime.quantization.quantize_dynamic with s8 (QInt8) or
      u8 (QUInt8) weights. quantize_dynamic writes ConvInteger weights per tensor even with
      per_channel=True (ConvInteger takes one weight zero point), so per_channel is left off.
  conv_per_channel: the same chain written by hand with a per-output-channel weight scale of
      shape [M, 1, 1], a bias of shape [1, M, 1, 1] and asymmetric padding, which ONNX Runtime
      also runs.

ONNX Runtime runs with graph optimizations off, node by node as written. Its ConvInteger
accumulates exactly on a CPU with AVX-512 VNNI or AVX-VNNI (vpdpbusd); on plain AVX2 its u8·s8
kernel may saturate int16 pairs, so regenerate the answers on a VNNI machine.

Needs numpy, onnx, onnxruntime, torch.
"""
import os, tempfile
import numpy as np
import onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nph
import onnxruntime as ort
import torch
from onnxruntime.quantization import quantize_dynamic, QuantType
import ort_cases

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Models", "dynamic")
rng = np.random.default_rng(20261202)


def save_case(name, path_or_model, inputs):
    model = path_or_model if isinstance(path_or_model, onnx.ModelProto) else onnx.load(path_or_model)
    ort_cases.save_case(OUT, name, model, inputs, show_ops=True)


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.dw = torch.nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.g2 = torch.nn.Conv2d(8, 6, 3, padding=2, dilation=2, groups=2)
        self.pw = torch.nn.Conv2d(6, 5, 1, bias=False)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = torch.relu(self.dw(x))
        x = torch.relu(self.g2(x))
        return self.pw(x)


def cnn_cases():
    torch.manual_seed(0)
    model = SmallCNN().eval()
    x = rng.normal(0.3, 1.0, size=(2, 3, 13, 11)).astype(np.float32)
    with tempfile.TemporaryDirectory() as d:
        fp32 = os.path.join(d, "cnn.onnx")
        torch.onnx.export(model, torch.from_numpy(x), fp32, opset_version=17, input_names=["x"], output_names=["y"],
                          dynamic_axes=None, dynamo=False)
        for name, wt in (("cnn_qint8", QuantType.QInt8), ("cnn_quint8", QuantType.QUInt8)):
            q = os.path.join(d, name + ".onnx")
            quantize_dynamic(fp32, q, weight_type=wt, op_types_to_quantize=["Conv"])
            save_case(name, q, {"x": x})


def per_channel_case():
    m, c, k = 7, 4, 3
    w = rng.integers(-127, 128, size=(m, c, k, k), dtype=np.int8)
    ws = rng.uniform(0.002, 0.03, size=(m, 1, 1)).astype(np.float32)
    b = rng.normal(0, 1, size=(1, m, 1, 1)).astype(np.float32)
    x = rng.normal(-0.5, 2.0, size=(1, c, 10, 9)).astype(np.float32)
    nodes = [h.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xz"]),
             h.make_node("ConvInteger", ["xq", "w", "xz", "wz"], ["acc"], name="conv", strides=[2, 1], pads=[1, 0, 2, 1]),
             h.make_node("Cast", ["acc"], ["accf"], to=TP.FLOAT),
             h.make_node("Mul", ["xs", "ws"], ["s"]),
             h.make_node("Mul", ["accf", "s"], ["mm"]),
             h.make_node("Add", ["mm", "b"], ["y"], name="bias_add")]
    g = h.make_graph(nodes, "per_channel", [h.make_tensor_value_info("x", TP.FLOAT, list(x.shape))],
                     [h.make_tensor_value_info("y", TP.FLOAT, [1, m, 6, 8])],
                     [nph.from_array(w, "w"), nph.from_array(np.array(0, dtype=np.int8), "wz"), nph.from_array(ws, "ws"), nph.from_array(b, "b")])
    save_case("conv_per_channel", h.make_model(g, opset_imports=[h.make_opsetid("", 17)]), {"x": x})


if __name__ == "__main__":
    print("Tests/Models/dynamic:")
    cnn_cases()
    per_channel_case()
