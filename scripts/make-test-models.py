#!/usr/bin/env python3
"""Builds Octet's ONNX test suite and the answers ONNX Runtime gives for it.

For every case it writes CASE.onnx, CASE.inputs.npz (the inputs, by graph input name)
and CASE.outputs.npz (ONNX Runtime's outputs, by graph output name).

  scripts/make-test-models.py            # small cases, committed under Tests/Models
  scripts/make-test-models.py --large    # ResNet-18, ResNet-50 and BERT-base into Models/large
                                         # (not committed; the tests that need them say so)

Needs numpy, onnx, onnxruntime; torch for the exported models.
"""
import argparse, os, sys
import numpy as np
import onnx
from onnx import helper as h, TensorProto as TP, numpy_helper as nph
import onnxruntime as ort
from ort_cases import save_case

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
rng = np.random.default_rng(20261122)


def f32(*shape, lo=-1.0, hi=1.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def tensor_info(name, arr):
    dt = {np.float32: TP.FLOAT, np.int64: TP.INT64, np.uint8: TP.UINT8, np.int8: TP.INT8,
          np.bool_: TP.BOOL, np.int32: TP.INT32, np.float16: TP.FLOAT16}[arr.dtype.type]
    return h.make_tensor_value_info(name, dt, list(arr.shape))


def single(name, op, inputs, consts=None, attrs=None, n_out=1, opset=17, extra_nodes=(), out_names=None, domain=""):
    """One node (plus `extra_nodes`) over runtime `inputs` and constant `consts`."""
    consts = consts or {}
    in_names = list(inputs) + list(consts)
    outs = out_names or [f"y{i}" if n_out > 1 else "y" for i in range(n_out)]
    node = h.make_node(op, [n if n is not None else "" for n in order_inputs(in_names, attrs)], outs, name=name + "_node",
                       domain=domain, **{k: v for k, v in (attrs or {}).items() if not k.startswith("_")})
    graph = h.make_graph(list(extra_nodes) + [node], name,
                         [tensor_info(k, v) for k, v in inputs.items()],
                         [h.make_empty_tensor_value_info(o) for o in outs],
                         [nph.from_array(v, k) for k, v in consts.items()])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", opset)])
    model.ir_version = 8 if opset < 21 else (10 if opset < 23 else 11)
    # Output types as ONNX's own shape inference gives them.
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for o in model.graph.output:
        if o.name in known and known[o.name].type.WhichOneof("value") is not None:
            o.CopyFrom(known[o.name])
    return model


def order_inputs(names, attrs):
    if attrs and "_order" in attrs:
        return attrs["_order"]
    return names


def op_cases(folder):
    C = []  # (name, model, inputs)
    def add(name, op, inputs, consts=None, attrs=None, **kw):
        C.append((name, single(name, op, inputs, consts, attrs, **kw), inputs))

    x4 = f32(2, 4, 7, 7)
    add("conv_basic", "Conv", {"x": x4}, {"w": f32(6, 4, 3, 3), "b": f32(6)}, {"pads": [1, 1, 1, 1]})
    add("conv_strided_dilated", "Conv", {"x": f32(1, 4, 11, 9)}, {"w": f32(8, 4, 3, 3)}, {"strides": [2, 1], "dilations": [2, 1], "pads": [2, 0, 1, 1]})
    add("conv_groups", "Conv", {"x": f32(1, 8, 6, 6)}, {"w": f32(8, 2, 3, 3), "b": f32(8)}, {"group": 4, "pads": [1, 1, 1, 1]})
    add("conv_depthwise", "Conv", {"x": f32(1, 6, 9, 9)}, {"w": f32(6, 1, 3, 3), "b": f32(6)}, {"group": 6, "strides": [2, 2], "pads": [1, 1, 1, 1]})
    add("conv_auto_pad_same_upper", "Conv", {"x": f32(1, 3, 8, 7)}, {"w": f32(5, 3, 3, 3)}, {"auto_pad": "SAME_UPPER", "strides": [2, 2]})
    add("conv_transpose", "ConvTranspose", {"x": f32(1, 4, 5, 5)}, {"w": f32(4, 3, 3, 3), "b": f32(3)}, {"strides": [2, 2], "pads": [1, 1, 1, 1], "output_padding": [1, 1]})
    add("conv_transpose_groups", "ConvTranspose", {"x": f32(1, 4, 4, 4)}, {"w": f32(4, 2, 2, 2)}, {"group": 2, "strides": [2, 2]})
    add("gemm_transb", "Gemm", {"a": f32(3, 10)}, {"b": f32(7, 10), "c": f32(7)}, {"transB": 1, "alpha": 0.5, "beta": 2.0})
    add("gemm_plain", "Gemm", {"a": f32(4, 6)}, {"b": f32(6, 5), "c": f32(4, 5)})
    add("gemm_transa", "Gemm", {"a": f32(6, 4), "b": f32(6, 5)}, None, {"transA": 1})
    add("matmul_batched", "MatMul", {"a": f32(2, 3, 4, 5), "b": f32(2, 3, 5, 6)})
    add("matmul_broadcast", "MatMul", {"a": f32(2, 3, 4, 5), "b": f32(3, 5, 6)})
    add("matmul_const_weight", "MatMul", {"a": f32(2, 5, 8)}, {"w": f32(8, 6)})
    add("matmul_vector", "MatMul", {"a": f32(5), "b": f32(2, 5, 3)})
    for op in ["Add", "Sub", "Mul", "Div"]:
        b = f32(4, 1, 5, lo=0.5, hi=2.0) if op == "Div" else f32(4, 1, 5)
        add(f"{op.lower()}_broadcast", op, {"a": f32(2, 4, 3, 5), "b": b})
    add("add_scalar_const", "Add", {"a": f32(3, 4)}, {"b": np.array(0.25, dtype=np.float32)})
    add("pow", "Pow", {"a": f32(3, 4, lo=0.1, hi=2.0)}, {"b": np.array(3.0, dtype=np.float32)})
    add("sqrt", "Sqrt", {"x": f32(3, 4, lo=0.0, hi=4.0)})
    add("erf", "Erf", {"x": f32(3, 17, lo=-3, hi=3)})
    add("relu", "Relu", {"x": f32(3, 17)})
    add("clip", "Clip", {"x": f32(3, 17, lo=-8, hi=8)}, {"lo": np.array(0, dtype=np.float32), "hi": np.array(6, dtype=np.float32)})
    add("clip_min_only", "Clip", {"x": f32(3, 17)}, {"lo": np.array(-0.2, dtype=np.float32)})
    add("sigmoid", "Sigmoid", {"x": f32(3, 17, lo=-6, hi=6)})
    add("hard_sigmoid", "HardSigmoid", {"x": f32(3, 17, lo=-6, hi=6)}, None, {"alpha": 0.2, "beta": 0.4})
    add("hard_swish", "HardSwish", {"x": f32(3, 17, lo=-6, hi=6)})
    add("tanh", "Tanh", {"x": f32(3, 17, lo=-4, hi=4)})
    add("gelu", "Gelu", {"x": f32(3, 17, lo=-4, hi=4)}, opset=20)
    add("gelu_tanh", "Gelu", {"x": f32(3, 17, lo=-4, hi=4)}, None, {"approximate": "tanh"}, opset=20)
    add("softmax", "Softmax", {"x": f32(2, 3, 9, lo=-5, hi=5)}, None, {"axis": -1})
    add("softmax_axis1", "Softmax", {"x": f32(2, 3, 9, lo=-5, hi=5)}, None, {"axis": 1})
    add("softmax_opset11", "Softmax", {"x": f32(2, 3, 4, lo=-5, hi=5)}, None, {"axis": 1}, opset=11)
    add("layer_norm", "LayerNormalization", {"x": f32(2, 5, 16)}, {"g": f32(16), "b": f32(16)}, {"axis": -1, "epsilon": 1e-5})
    add("batch_norm", "BatchNormalization", {"x": f32(2, 3, 4, 4)}, {"s": f32(3), "b": f32(3), "m": f32(3), "v": f32(3, lo=0.5, hi=2)}, {"epsilon": 1e-5})
    add("max_pool", "MaxPool", {"x": f32(1, 3, 9, 9)}, None, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
    add("max_pool_ceil", "MaxPool", {"x": f32(1, 2, 8, 8)}, None, {"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1})
    add("avg_pool", "AveragePool", {"x": f32(1, 3, 9, 9)}, None, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
    add("avg_pool_include_pad", "AveragePool", {"x": f32(1, 3, 6, 6)}, None, {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1})
    add("global_avg_pool", "GlobalAveragePool", {"x": f32(2, 5, 4, 3)})
    add("flatten", "Flatten", {"x": f32(2, 3, 4, 5)}, None, {"axis": 2})
    add("reshape", "Reshape", {"x": f32(2, 3, 4)}, {"s": np.array([0, -1, 2], dtype=np.int64)})
    add("transpose", "Transpose", {"x": f32(2, 3, 4, 5)}, None, {"perm": [0, 2, 3, 1]})
    add("concat", "Concat", {"a": f32(2, 3, 4), "b": f32(2, 1, 4), "c": f32(2, 2, 4)}, None, {"axis": 1})
    add("split", "Split", {"x": f32(2, 6, 3)}, {"sp": np.array([1, 2, 3], dtype=np.int64)}, {"axis": 1}, n_out=3)
    add("split_equal_opset11", "Split", {"x": f32(2, 6, 3)}, None, {"axis": 1}, n_out=3, opset=11)
    add("slice", "Slice", {"x": f32(5, 6, 7)}, {"st": np.array([1, -5], dtype=np.int64), "en": np.array([4, 100], dtype=np.int64),
                                               "ax": np.array([0, 2], dtype=np.int64), "sp": np.array([2, 1], dtype=np.int64)})
    add("slice_negative_step", "Slice", {"x": f32(5, 6)}, {"st": np.array([-1], dtype=np.int64), "en": np.array([-100], dtype=np.int64),
                                                          "ax": np.array([1], dtype=np.int64), "sp": np.array([-2], dtype=np.int64)})
    add("squeeze", "Squeeze", {"x": f32(2, 1, 3, 1)}, {"ax": np.array([1, -1], dtype=np.int64)})
    add("unsqueeze", "Unsqueeze", {"x": f32(2, 3)}, {"ax": np.array([0, 3], dtype=np.int64)})
    add("unsqueeze_opset11", "Unsqueeze", {"x": f32(2, 3)}, None, {"axes": [1]}, opset=11)
    add("gather", "Gather", {"x": f32(10, 4)}, {"i": np.array([[0, 9], [-1, 3]], dtype=np.int64)}, {"axis": 0})
    add("gather_axis1_scalar", "Gather", {"x": f32(3, 5, 2)}, {"i": np.array(2, dtype=np.int64)}, {"axis": 1})
    add("gather_runtime_indices", "Gather", {"x": f32(12, 6), "i": rng.integers(0, 12, size=(2, 5)).astype(np.int64)})
    add("shape", "Shape", {"x": f32(2, 3, 4)})
    add("shape_slice_opset15", "Shape", {"x": f32(2, 3, 4)}, None, {"start": 1, "end": -1}, opset=15)
    add("cast_to_int", "Cast", {"x": f32(3, 4, lo=-5, hi=5)}, None, {"to": TP.INT64})
    add("cast_to_float", "Cast", {"x": rng.integers(-9, 9, size=(3, 4)).astype(np.int64)}, None, {"to": TP.FLOAT})
    C.append(("constant", single("constant", "Add", {"x": f32(2, 3)}, attrs={"_order": ["x", "k"]},
                                 extra_nodes=[h.make_node("Constant", [], ["k"], name="k_node", value=nph.from_array(f32(2, 3), "kv"))]), {"x": f32(2, 3)}))
    C.append(("constant_of_shape", single("constant_of_shape", "Add", {"x": f32(2, 3)}, attrs={"_order": ["x", "k"]},
                                          extra_nodes=[h.make_node("Shape", ["x"], ["s"], name="s_node"),
                                                       h.make_node("ConstantOfShape", ["s"], ["k"], name="cos_node", value=nph.from_array(np.array([1.5], dtype=np.float32)))]),
              {"x": f32(2, 3)}))
    add("where", "Where", {"c": rng.integers(0, 2, size=(3, 4)).astype(np.bool_), "a": f32(3, 4), "b": f32(1, 4)})
    add("equal", "Equal", {"a": rng.integers(0, 3, size=(3, 4)).astype(np.int64), "b": rng.integers(0, 3, size=(4,)).astype(np.int64)})
    add("expand", "Expand", {"x": f32(3, 1)}, {"s": np.array([2, 3, 4], dtype=np.int64)})
    add("reduce_mean", "ReduceMean", {"x": f32(2, 3, 4)}, None, {"axes": [-1], "keepdims": 1})
    add("reduce_mean_opset18", "ReduceMean", {"x": f32(2, 3, 4)}, {"ax": np.array([1], dtype=np.int64)}, {"keepdims": 0}, opset=18)
    add("identity", "Identity", {"x": f32(3, 4)})
    # Quantized forms other tools write.
    add("quantize_linear", "QuantizeLinear", {"x": f32(3, 8, lo=-3, hi=3)}, {"s": np.array(0.02, dtype=np.float32), "z": np.array(128, dtype=np.uint8)})
    add("quantize_linear_s8_per_axis", "QuantizeLinear", {"x": f32(3, 4, lo=-3, hi=3)}, {"s": np.array([0.01, 0.02, 0.03, 0.05], dtype=np.float32), "z": np.zeros(4, dtype=np.int8)}, {"axis": 1})
    add("dequantize_linear", "DequantizeLinear", {"x": rng.integers(0, 256, size=(3, 8)).astype(np.uint8)}, {"s": np.array(0.02, dtype=np.float32), "z": np.array(100, dtype=np.uint8)})
    add("dequantize_linear_per_axis", "DequantizeLinear", {"x": rng.integers(-128, 128, size=(4, 3, 2)).astype(np.int8)}, {"s": np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32), "z": np.zeros(4, dtype=np.int8)}, {"axis": 0})
    xq = rng.integers(0, 256, size=(1, 4, 6, 6)).astype(np.uint8)
    add("qlinear_conv", "QLinearConv", {"x": xq}, {
        "xs": np.array(0.05, dtype=np.float32), "xz": np.array(120, dtype=np.uint8),
        "w": rng.integers(-100, 100, size=(5, 4, 3, 3)).astype(np.int8), "ws": np.array([0.01, 0.02, 0.015, 0.01, 0.03], dtype=np.float32), "wz": np.zeros(5, dtype=np.int8),
        "ys": np.array(0.6, dtype=np.float32), "yz": np.array(128, dtype=np.uint8), "b": rng.integers(-500, 500, size=(5,)).astype(np.int32)},
        {"pads": [1, 1, 1, 1]})
    add("qlinear_matmul", "QLinearMatMul", {"a": rng.integers(0, 256, size=(2, 3, 8)).astype(np.uint8)}, {
        "as": np.array(0.05, dtype=np.float32), "az": np.array(128, dtype=np.uint8),
        "b": rng.integers(-100, 100, size=(8, 5)).astype(np.int8), "bs": np.array(0.02, dtype=np.float32), "bz": np.array(0, dtype=np.int8),
        "ys": np.array(0.3, dtype=np.float32), "yz": np.array(120, dtype=np.uint8)})
    add("matmul_integer", "MatMulInteger", {"a": rng.integers(0, 256, size=(3, 8)).astype(np.uint8)}, {
        "b": rng.integers(-128, 128, size=(8, 4)).astype(np.int8), "az": np.array(128, dtype=np.uint8), "bz": np.array(0, dtype=np.int8)})
    add("conv_integer", "ConvInteger", {"x": xq}, {"w": rng.integers(0, 256, size=(3, 4, 3, 3)).astype(np.uint8), "xz": np.array(120, dtype=np.uint8)})
    add("dynamic_quantize_linear", "DynamicQuantizeLinear", {"x": f32(4, 9, lo=-2, hi=3)}, n_out=3)
    # ONNX Runtime's operator form on the INT8 kernels (lowered): integer outputs must match exactly.
    # u8·s8 products go through weights within ±63 where ORT's GEMM runs: without VNNI it adds
    # pairs of products in int16 (vpmaddubsw) and saturates beyond, so its answer would depend
    # on the machine that wrote the file.
    rq = np.random.default_rng(1234)
    def q8(dtype, *shape):
        lo, hi = (0, 256) if dtype == np.uint8 else (-128, 128)
        return rq.integers(lo, hi, size=shape).astype(dtype)
    add("qlinear_conv_u8_weights_strided", "QLinearConv", {"x": q8(np.uint8, 1, 16, 9, 9)}, {
        "xs": np.array(0.04, dtype=np.float32), "xz": np.array(100, dtype=np.uint8),
        "w": q8(np.uint8, 24, 16, 3, 3), "ws": np.array(0.01, dtype=np.float32), "wz": np.array(128, dtype=np.uint8),
        "ys": np.array(0.25, dtype=np.float32), "yz": np.array(90, dtype=np.uint8)},
        {"pads": [1, 1, 1, 1], "strides": [2, 2]})
    add("qlinear_conv_depthwise", "QLinearConv", {"x": q8(np.uint8, 1, 32, 10, 10)}, {
        "xs": np.array(0.03, dtype=np.float32), "xz": np.array(128, dtype=np.uint8),
        "w": q8(np.int8, 32, 1, 3, 3), "ws": rq.uniform(0.005, 0.02, 32).astype(np.float32), "wz": np.zeros(32, dtype=np.int8),
        "ys": np.array(0.05, dtype=np.float32), "yz": np.array(110, dtype=np.uint8), "b": rq.integers(-2000, 2000, size=(32,)).astype(np.int32)},
        {"pads": [1, 1, 1, 1], "group": 32})
    add("qlinear_conv_s8", "QLinearConv", {"x": q8(np.int8, 1, 8, 6, 6)}, {
        "xs": np.array(0.05, dtype=np.float32), "xz": np.array(-3, dtype=np.int8),
        "w": q8(np.int8, 12, 8, 1, 1), "ws": rq.uniform(0.005, 0.02, 12).astype(np.float32), "wz": np.zeros(12, dtype=np.int8),
        "ys": np.array(0.08, dtype=np.float32), "yz": np.array(5, dtype=np.int8), "b": rq.integers(-3000, 3000, size=(12,)).astype(np.int32)})
    add("qlinear_conv_1x1_wide", "QLinearConv", {"x": q8(np.uint8, 1, 64, 7, 7)}, {
        "xs": np.array(0.02, dtype=np.float32), "xz": np.array(128, dtype=np.uint8),
        "w": np.clip(q8(np.int8, 48, 64, 1, 1), -63, 63), "ws": rq.uniform(0.002, 0.01, 48).astype(np.float32), "wz": np.zeros(48, dtype=np.int8),
        "ys": np.array(0.1, dtype=np.float32), "yz": np.array(128, dtype=np.uint8), "b": rq.integers(-5000, 5000, size=(48,)).astype(np.int32)})
    add("qlinear_matmul_3d", "QLinearMatMul", {"a": q8(np.uint8, 2, 5, 40)}, {
        "as": np.array(0.03, dtype=np.float32), "az": np.array(128, dtype=np.uint8),
        "b": np.clip(q8(np.int8, 40, 24), -63, 63), "bs": np.array(0.01, dtype=np.float32), "bz": np.array(0, dtype=np.int8),
        "ys": np.array(0.2, dtype=np.float32), "yz": np.array(100, dtype=np.uint8)})

    # LpPool, CenterCropPad and GridSample (their own generator, so the cases above keep their data).
    rs = np.random.default_rng(16)
    def fs(*shape, lo=-1.0, hi=1.0):
        return rs.uniform(lo, hi, size=shape).astype(np.float32)
    add("lp_pool_p3_strided", "LpPool", {"x": fs(1, 3, 9, 8)}, None,
        {"kernel_shape": [3, 2], "strides": [2, 2], "pads": [1, 0, 1, 1], "p": 3}, opset=18)
    add("center_crop_pad_axes", "CenterCropPad", {"x": fs(3, 7, 4)}, {"shape": np.array([4, 7], dtype=np.int64)},
        {"axes": [1, -1]}, opset=18)
    for mode, padding, align in [("nearest", "zeros", 0), ("bilinear", "border", 1), ("bicubic", "reflection", 0)]:
        add(f"grid_sample_{mode}_{padding}", "GridSample", {"x": fs(1, 2, 5, 6), "grid": fs(1, 4, 3, 2, lo=-1.3, hi=1.3)}, None,
            {"mode": mode, "padding_mode": padding, "align_corners": align}, opset=16)

    recurrent_and_sequence_cases(add)
    coverage_cases(add)

    for name, model, inputs in C:
        save_case(folder, name, model, inputs)


def recurrent_and_sequence_cases(add):
    """RNN/GRU/LSTM, RotaryEmbedding, Einsum, Det, ReverseSequence, TensorScatter,
    AffineGrid, the windows and MelWeightMatrix (their own generator)."""
    rr = np.random.default_rng(2026)
    def fr(*shape, lo=-1.0, hi=1.0):
        return rr.uniform(lo, hi, size=shape).astype(np.float32)
    lens = np.array([4, 2, 3], dtype=np.int32)
    add("lstm_bidirectional_peepholes_seq_lens", "LSTM", {"x": fr(4, 3, 5)}, {
        "w": fr(2, 16, 5), "r": fr(2, 16, 4), "b": fr(2, 32), "seq": lens, "h0": fr(2, 3, 4), "c0": fr(2, 3, 4), "p": fr(2, 12)},
        {"hidden_size": 4, "direction": "bidirectional", "clip": 2.5}, n_out=3)
    add("gru_linear_before_reset_reverse", "GRU", {"x": fr(4, 3, 5)}, {
        "w": fr(1, 12, 5), "r": fr(1, 12, 4), "b": fr(1, 24), "seq": lens, "h0": fr(1, 3, 4)},
        {"hidden_size": 4, "direction": "reverse", "linear_before_reset": 1}, n_out=2)
    add("gru_activations_bidirectional", "GRU", {"x": fr(3, 2, 3)}, {"w": fr(2, 9, 3), "r": fr(2, 9, 3)},
        {"hidden_size": 3, "direction": "bidirectional", "activations": ["HardSigmoid", "Tanh", "Sigmoid", "LeakyRelu"],
         "activation_alpha": [0.3, 0.05], "activation_beta": [0.4]}, n_out=2)
    add("rnn_relu_reverse", "RNN", {"x": fr(5, 2, 3)}, {"w": fr(1, 4, 3), "r": fr(1, 4, 4), "b": fr(1, 8)},
        {"hidden_size": 4, "direction": "reverse", "activations": ["Relu"]}, n_out=2)
    add("rotary_embedding_3d_interleaved_partial", "RotaryEmbedding", {"x": fr(2, 3, 16)}, {
        "cos": fr(10, 2), "sin": fr(10, 2), "pos": np.array([[0, 4, 9], [3, 3, 1]], dtype=np.int64)},
        {"num_heads": 2, "interleaved": 1, "rotary_embedding_dim": 4}, opset=23)
    add("rotary_embedding_4d_no_positions", "RotaryEmbedding", {"x": fr(2, 2, 3, 6)}, {"cos": fr(2, 3, 3), "sin": fr(2, 3, 3)}, None, opset=23)
    add("einsum_batch_matmul_broadcast", "Einsum", {"a": fr(2, 1, 3, 4), "b": fr(1, 5, 4, 2)}, None, {"equation": "...ij,...jk->...ik"}, opset=12)
    add("einsum_diagonal_sum", "Einsum", {"a": fr(3, 4, 4)}, None, {"equation": "bii->b"}, opset=12)
    add("einsum_implicit_three", "Einsum", {"a": fr(3, 4), "b": fr(4, 5), "c": fr(5, 2)}, None, {"equation": "ij,jk,kl"}, opset=12)
    add("einsum_int64_outer", "Einsum", {"a": rr.integers(-50, 50, size=(3,)).astype(np.int64), "b": rr.integers(-50, 50, size=(4,)).astype(np.int64)}, None, {"equation": "i,j->ji"}, opset=12)
    add("det_batched", "Det", {"x": fr(2, 3, 4, 4)}, None, None, opset=11)
    add("reverse_sequence_batch_major", "ReverseSequence", {"x": fr(3, 4, 2)}, {"lens": np.array([4, 1, 3], dtype=np.int64)},
        {"batch_axis": 0, "time_axis": 1}, opset=10)
    add("tensor_scatter_circular_axis1", "TensorScatter", {"past": fr(2, 5, 3), "update": fr(2, 3, 3)},
        {"idx": np.array([3, 1], dtype=np.int64)}, {"axis": 1, "mode": "circular"}, opset=24)
    add("affine_grid_3d_align", "AffineGrid", {"theta": fr(2, 3, 4)}, {"size": np.array([2, 1, 3, 4, 5], dtype=np.int64)}, {"align_corners": 1}, opset=20)
    add("hamming_window_symmetric", "HammingWindow", {}, {"size": np.array(9, dtype=np.int64)}, {"periodic": 0}, opset=17)
    add("linear_attention_gated_delta_gqa_past", "LinearAttention", {"q": fr(2, 3, 16), "k": fr(2, 3, 8), "v": fr(2, 3, 6)}, {
        "past": fr(2, 2, 4, 3), "decay": fr(2, 3, 2, lo=-0.5, hi=0.0), "beta": fr(2, 3, 2, lo=0.0, hi=1.0)},
        {"q_num_heads": 4, "kv_num_heads": 2, "scale": 0.7}, n_out=2, opset=27)
    add("causal_conv_with_state_silu_bias_past", "CausalConvWithState", {"x": fr(2, 3, 5)}, {
        "w": fr(3, 1, 3), "b": fr(3), "past": fr(2, 3, 2)}, {"activation": "silu"}, n_out=2, opset=27)
    add("mel_weight_matrix", "MelWeightMatrix", {}, {
        "bins": np.array(6, dtype=np.int64), "dft": np.array(32, dtype=np.int64), "rate": np.array(16000, dtype=np.int64),
        "lo": np.array(100, dtype=np.float32), "hi": np.array(7000, dtype=np.float32)}, None, opset=17)


def coverage_cases(add):
    """1-D and 3-D pooling and convolution, MaxUnpool, CausalConvWithState, Col2Im,
    NonMaxSuppression, BatchNormalization in training mode, QLinearMatMul with f16 scales,
    f16 Attention, DeformConv, 3-D Conv and ConvTranspose, AffineGrid, RoiAlign (their own generator, so the cases above keep their data)."""
    rp = np.random.default_rng(2611)
    def fp(*shape, lo=-1.0, hi=1.0):
        return rp.uniform(lo, hi, size=shape).astype(np.float32)
    add("max_pool_3d_indices", "MaxPool", {"x": fp(2, 3, 6, 7, 5)}, None,
        {"kernel_shape": [3, 2, 2], "strides": [2, 1, 2], "pads": [1, 0, 1, 1, 1, 0], "dilations": [1, 2, 1], "storage_order": 0},
        n_out=2, opset=12)
    add("max_pool_2d_indices_column_major", "MaxPool", {"x": fp(1, 2, 6, 5)}, None,
        {"kernel_shape": [2, 3], "strides": [2, 1], "pads": [1, 1, 0, 1], "storage_order": 1}, n_out=2, opset=12)
    add("avg_pool_1d_include_pad_ceil", "AveragePool", {"x": fp(2, 3, 11)}, None,
        {"kernel_shape": [4], "strides": [3], "pads": [2, 1], "count_include_pad": 1, "ceil_mode": 1}, opset=19)
    add("avg_pool_3d_dilated", "AveragePool", {"x": fp(1, 2, 7, 6, 8)}, None,
        {"kernel_shape": [2, 3, 2], "dilations": [2, 1, 3], "pads": [1, 1, 0, 0, 1, 1]}, opset=19)
    add("max_unpool_2d", "MaxUnpool", {"x": fp(1, 2, 2, 3), "i": rp.permutation(2 * 4 * 6)[:12].reshape(1, 2, 2, 3).astype(np.int64)}, None,
        {"kernel_shape": [2, 3], "strides": [2, 2], "pads": [0, 1, 0, 0]}, opset=11)
    add("conv_1d_dilated_groups", "Conv", {"x": fp(2, 4, 13)}, {"w": fp(6, 2, 3), "b": fp(6)},
        {"group": 2, "strides": [2], "dilations": [2], "pads": [2, 1]})
    add("conv_transpose_1d_output_padding", "ConvTranspose", {"x": fp(1, 3, 6)}, {"w": fp(3, 2, 4), "b": fp(2)},
        {"strides": [3], "pads": [1, 2], "output_padding": [1]})
    add("causal_conv_with_state_silu", "CausalConvWithState", {"x": fp(2, 3, 7), "w": fp(3, 1, 4), "b": fp(3), "s": fp(2, 3, 3)}, None,
        {"activation": "silu"}, n_out=2, opset=27)
    # No dilations in 3-D: there ONNX Runtime 1.32's Col2Im disagrees with onnx's reference.
    add("col2im_3d_strided", "Col2Im", {"x": fp(2, 2 * 2 * 2 * 2, 3 * 2 * 2)},
        {"image": np.array([5, 4, 4], dtype=np.int64), "block": np.array([2, 2, 2], dtype=np.int64)},
        {"strides": [2, 2, 2], "pads": [1, 0, 0, 0, 1, 0]}, opset=18)
    add("col2im_2d_dilated", "Col2Im", {"x": fp(1, 3 * 2 * 3, 5 * 3)},
        {"image": np.array([6, 7], dtype=np.int64), "block": np.array([2, 3], dtype=np.int64)},
        {"strides": [1, 2], "pads": [0, 1, 1, 0], "dilations": [2, 1]}, opset=18)
    corners = rp.uniform(0, 10, size=(2, 12, 2)).astype(np.float32)
    boxes = np.concatenate([corners, corners + rp.uniform(0.5, 4, size=(2, 12, 2)).astype(np.float32)], axis=2)
    add("non_max_suppression", "NonMaxSuppression", {"boxes": boxes, "scores": fp(2, 3, 12, lo=0, hi=1)},
        {"max": np.array([4], dtype=np.int64), "iou": np.array([0.3], dtype=np.float32), "score": np.array([0.2], dtype=np.float32)}, opset=11)
    add("batch_norm_training", "BatchNormalization", {"x": fp(3, 4, 5, 2)},
        {"s": fp(4), "b": fp(4), "m": fp(4), "v": fp(4, lo=0.5, hi=2)}, {"epsilon": 1e-3, "momentum": 0.8, "training_mode": 1},
        n_out=3, opset=15)
    add("qlinear_matmul_f16_scales", "QLinearMatMul", {"a": rp.integers(0, 256, size=(3, 8)).astype(np.uint8)}, {
        "as": np.array(0.02, dtype=np.float16), "az": np.array(120, dtype=np.uint8),
        "b": rp.integers(-63, 64, size=(8, 5)).astype(np.int8), "bs": np.array(0.01, dtype=np.float16), "bz": np.array(0, dtype=np.int8),
        "ys": np.array(0.05, dtype=np.float16), "yz": np.array(128, dtype=np.uint8)}, opset=21)
    add("attention_f16_gqa_causal", "Attention", {"q": fp(2, 4, 3, 8).astype(np.float16), "k": fp(2, 2, 5, 8).astype(np.float16),
        "v": fp(2, 2, 5, 6).astype(np.float16)}, None, {"is_causal": 1}, opset=23)
    add("deform_conv_groups_mask", "DeformConv", {"x": fp(1, 4, 6, 7), "w": fp(6, 2, 2, 3), "offset": fp(1, 2 * 2 * 6, 3, 4, lo=-1.5, hi=1.5),
        "b": fp(6), "mask": fp(1, 2 * 6, 3, 4, lo=0, hi=1)}, None,
        {"group": 2, "offset_group": 2, "strides": [2, 2], "pads": [1, 1, 0, 1], "dilations": [1, 1]}, opset=19)
    add("conv_3d_groups_dilated", "Conv", {"x": fp(2, 4, 6, 5, 7)}, {"w": fp(6, 2, 2, 3, 2), "b": fp(6)},
        {"group": 2, "strides": [1, 2, 2], "dilations": [2, 1, 1], "pads": [1, 1, 0, 0, 1, 1]})
    add("conv_transpose_3d_groups", "ConvTranspose", {"x": fp(1, 4, 3, 4, 2)}, {"w": fp(4, 3, 2, 3, 2), "b": fp(6)},
        {"group": 2, "strides": [2, 1, 3], "pads": [0, 1, 1, 1, 0, 0], "output_padding": [1, 0, 2]})
    add("affine_grid_2d_align_corners", "AffineGrid", {"theta": fp(2, 2, 3)}, {"size": np.array([2, 3, 4, 5], dtype=np.int64)},
        {"align_corners": 1}, opset=20)
    add("affine_grid_3d", "AffineGrid", {"theta": fp(1, 3, 4)}, {"size": np.array([1, 2, 3, 4, 2], dtype=np.int64)}, None, opset=20)
    rois = np.array([[0.5, 1.0, 6.0, 5.5], [2.0, 0.0, 4.5, 3.0], [-1.0, 2.5, 7.5, 8.0]], dtype=np.float32)
    for mode, ratio in [("avg", 2), ("max", 0)]:
        add(f"roi_align_{mode}", "RoiAlign", {"x": fp(2, 3, 8, 7), "rois": rois}, {"batch": np.array([1, 0, 1], dtype=np.int64)},
            {"mode": mode, "output_height": 3, "output_width": 2, "sampling_ratio": ratio, "spatial_scale": 0.9}, opset=16)


# ---------------------------------------------------------------- exported models

def resnet(torch, layers, widths, num_classes=10, bottleneck=False):
    nn = torch.nn
    expansion = 4 if bottleneck else 1

    class Block(nn.Module):
        def __init__(self, cin, width, stride):
            super().__init__()
            cout = width * expansion
            if bottleneck:
                self.body = nn.Sequential(
                    nn.Conv2d(cin, width, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                    nn.Conv2d(width, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                    nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
            else:
                self.body = nn.Sequential(
                    nn.Conv2d(cin, width, 3, stride, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True),
                    nn.Conv2d(width, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout))
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            idt = x if self.down is None else self.down(x)
            return self.relu(self.body(x) + idt)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True),
                                      nn.MaxPool2d(3, 2, 1))
            blocks, cin = [], widths[0]
            for i, (n, w) in enumerate(zip(layers, widths)):
                for j in range(n):
                    blocks.append(Block(cin, w, 2 if (j == 0 and i > 0) else 1))
                    cin = w * expansion
            self.blocks = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, num_classes)

        def forward(self, x):
            return self.fc(torch.flatten(self.pool(self.blocks(self.stem(x))), 1))

    m = ResNet()
    # Non-trivial BatchNorm statistics, as a trained model has.
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.0)
            mod.bias.data.uniform_(-0.1, 0.1)
    return m.eval()


def mobilenet_v2(torch, num_classes=1000):
    """MobileNetV2 (Sandler et al. 2018), width 1.0, written out (torchvision is not required)."""
    nn = torch.nn

    def cbr(cin, cout, k, stride, groups=1):
        return [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout), nn.ReLU6(inplace=True)]

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = (cbr(cin, hidden, 1, 1) if expand != 1 else []) + cbr(hidden, hidden, 3, stride, groups=hidden)
            layers += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    blocks, cin = cbr(3, 32, 3, 2), 32
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(n):
            blocks.append(Inverted(cin, c, s if i == 0 else 1, t))
            cin = c
    blocks += cbr(cin, 1280, 1, 1)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(1280, num_classes)

        def forward(self, x):
            return self.classifier(torch.flatten(self.pool(self.features(x)), 1))

    m = MobileNetV2()
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
            mod.weight.data.uniform_(0.5, 1.0)
            mod.bias.data.uniform_(-0.1, 0.1)
    return m.eval()


def bert(torch, layers, hidden, heads, ffn, vocab=1000, max_len=128):
    nn = torch.nn

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden) for _ in range(4))
            self.ln1, self.ln2 = nn.LayerNorm(hidden, eps=1e-12), nn.LayerNorm(hidden, eps=1e-12)
            self.up, self.down = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)

        def forward(self, x, mask):
            b, s, _ = x.shape
            d = hidden // heads
            def split(t):
                return t.view(b, s, heads, d).transpose(1, 2)
            q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / (d ** 0.5) + mask
            ctx = torch.matmul(scores.softmax(-1), v).transpose(1, 2).reshape(b, s, hidden)
            x = self.ln1(x + self.o(ctx))
            return self.ln2(x + self.down(nn.functional.gelu(self.up(x))))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos, self.typ = nn.Embedding(vocab, hidden), nn.Embedding(max_len, hidden), nn.Embedding(2, hidden)
            self.ln = nn.LayerNorm(hidden, eps=1e-12)
            self.layers = nn.ModuleList(Layer() for _ in range(layers))
            self.pool = nn.Linear(hidden, hidden)

        def forward(self, input_ids, attention_mask):
            s = input_ids.shape[1]
            pos = torch.arange(s, device=input_ids.device).unsqueeze(0)
            x = self.ln(self.tok(input_ids) + self.pos(pos) + self.typ(torch.zeros_like(input_ids)))
            mask = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
            for layer in self.layers:
                x = layer(x, mask)
            return x, torch.tanh(self.pool(x[:, 0]))

    return Bert().eval()


def export(torch, model, args, names, outputs, path, dynamic_axes=None, dynamo=False):
    kw = dict(input_names=names, output_names=outputs, opset_version=17 if not dynamo else 18, dynamo=dynamo)
    if dynamic_axes:
        if dynamo:
            kw["dynamic_shapes"] = None
        else:
            kw["dynamic_axes"] = dynamic_axes
    torch.onnx.export(model, args, path, **kw)


def model_cases(folder, large, only=None):
    try:
        import torch
    except ImportError:
        print("torch is not installed: the exported models are not built", file=sys.stderr)
        return
    torch.manual_seed(7)
    os.makedirs(folder, exist_ok=True)

    def build(name, model, inputs, names, outputs, dynamic_axes=None, dynamo=False):
        if only and name not in only:
            return
        path = os.path.join(folder, name + ".onnx")
        args = tuple(torch.from_numpy(inputs[n]) for n in names)
        export(torch, model, args, names, outputs, path, dynamic_axes, dynamo)
        save_case(folder, name, onnx.load(path), inputs)

    ids = lambda b, s, v: rng.integers(0, v, size=(b, s)).astype(np.int64)
    mask = lambda b, s: np.concatenate([np.ones((b, s - 2), np.int64), np.zeros((b, 2), np.int64)], axis=1)
    if not large:
        build("resnet_tiny", resnet(torch, [1, 1, 1], [8, 16, 32]), {"input": f32(2, 3, 32, 32)}, ["input"], ["logits"],
              {"input": {0: "batch"}, "logits": {0: "batch"}})
        build("resnet_tiny_bottleneck", resnet(torch, [1, 1], [8, 16], bottleneck=True), {"input": f32(1, 3, 40, 40)}, ["input"], ["logits"])
        build("bert_tiny", bert(torch, 2, 64, 4, 128, vocab=100, max_len=32),
              {"input_ids": ids(2, 12, 100), "attention_mask": mask(2, 12)}, ["input_ids", "attention_mask"], ["hidden", "pooled"],
              {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}})
        build("bert_tiny_dynamo", bert(torch, 1, 32, 2, 64, vocab=50, max_len=16),
              {"input_ids": ids(1, 8, 50), "attention_mask": mask(1, 8)}, ["input_ids", "attention_mask"], ["hidden", "pooled"], dynamo=True)
    else:
        build("resnet18", resnet(torch, [2, 2, 2, 2], [64, 128, 256, 512], num_classes=1000),
              {"input": f32(1, 3, 224, 224)}, ["input"], ["logits"], {"input": {0: "batch"}, "logits": {0: "batch"}})
        if not only or "resnet18" in only:
            # Calibration data for `octet quantize` (random weights: for speed and the report, not accuracy).
            np.savez(os.path.join(folder, "resnet18.calibration.npz"), input=rng.standard_normal((16, 1, 3, 224, 224)).astype(np.float32))
        build("mobilenetv2", mobilenet_v2(torch), {"input": f32(1, 3, 224, 224)}, ["input"], ["logits"],
              {"input": {0: "batch"}, "logits": {0: "batch"}})
        if not only or "mobilenetv2" in only:
            np.savez(os.path.join(folder, "mobilenetv2.calibration.npz"), input=rng.standard_normal((16, 1, 3, 224, 224)).astype(np.float32))
        build("resnet50", resnet(torch, [3, 4, 6, 3], [64, 128, 256, 512], num_classes=1000, bottleneck=True),
              {"input": f32(1, 3, 224, 224)}, ["input"], ["logits"], {"input": {0: "batch"}, "logits": {0: "batch"}})
        build("bert_base", bert(torch, 12, 768, 12, 3072, vocab=30522, max_len=512),
              {"input_ids": ids(1, 128, 30522), "attention_mask": mask(1, 128)}, ["input_ids", "attention_mask"], ["hidden", "pooled"],
              {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}})


def numpy_cases(folder):
    """Arrays whose values the tests recompute (arange-based), in every dtype Octet reads,
    as .npy, stored .npz and compressed .npz; plus files Octet must refuse."""
    os.makedirs(folder, exist_ok=True)
    arrays = {}
    for name, dt in [("f32", np.float32), ("f16", np.float16), ("u8", np.uint8), ("s8", np.int8), ("s32", np.int32), ("s64", np.int64)]:
        a = (np.arange(24) - 5).astype(dt).reshape(2, 3, 4)
        arrays[name] = a
        np.save(os.path.join(folder, name + ".npy"), a)
    arrays["bool"] = (np.arange(24) % 3 == 0).reshape(2, 3, 4)
    np.save(os.path.join(folder, "bool.npy"), arrays["bool"])
    np.save(os.path.join(folder, "scalar.npy"), np.array(7.5, dtype=np.float32))
    np.savez(os.path.join(folder, "all.npz"), **arrays)
    np.savez_compressed(os.path.join(folder, "all_compressed.npz"), **arrays)
    np.save(os.path.join(folder, "fortran.npy"), np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)))
    np.save(os.path.join(folder, "object.npy"), np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(os.path.join(folder, "big_endian.npy"), np.arange(4, dtype=">f4"))
    np.save(os.path.join(folder, "f64.npy"), np.arange(4, dtype=np.float64))
    # 400 KB of zeros in a few hundred bytes: a member far larger than its file (memory budget tests).
    np.savez_compressed(os.path.join(folder, "zeros_deflated.npz"), zeros=np.zeros(100_000, dtype=np.float32))
    print("  numpy files")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--large", action="store_true", help="build ResNet-18, MobileNetV2, ResNet-50 and BERT-base into Models/large")
    ap.add_argument("--only", nargs="*", help="with --large: only these models (resnet18, mobilenetv2, resnet50, bert_base)")
    a = ap.parse_args()
    if a.large:
        model_cases(os.path.join(ROOT, "Models", "large"), True, a.only)
    else:
        numpy_cases(os.path.join(ROOT, "Tests", "Models", "numpy"))
        print("single-op cases:")
        op_cases(os.path.join(ROOT, "Tests", "Models", "ops"))
        print("exported models:")
        model_cases(os.path.join(ROOT, "Tests", "Models", "nets"), False)


if __name__ == "__main__":
    main()
