#!/usr/bin/env python3
"""Writes the committed fuzz corpus, Tests/Fuzz/corpus/{onnx,npy,npz,rules}: hostile inputs
that once crashed, hung or computed nonsense (issue 19), replayed by FuzzCorpusTests in
every test run. Add a file here (or drop one into the folder) for every new crash found.

    python3 scripts/make-fuzz-corpus.py            # rewrite the corpus
    python3 scripts/make-fuzz-corpus.py --ort      # also print what ONNX Runtime does with each model

Needs numpy and onnx (onnxruntime for --ort).
"""
import io, os, struct, sys, zipfile
import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as T

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "Fuzz", "corpus")
I64MAX, I64MIN, BIG = 2**63 - 1, -2**63, 2**62
F = T.FLOAT


def save(kind, name, data):
    folder = os.path.join(ROOT, kind)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def model(name, nodes, inputs, outputs, inits=(), opset=17):
    g = h.make_graph(nodes, name, inputs, outputs, initializer=list(inits))
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)])
    m.ir_version = 8
    save("onnx", name + ".onnx", m.SerializeToString())


def vi(name, shape, t=F):
    return h.make_tensor_value_info(name, t, shape)


def i64(name, values):
    return nh.from_array(np.array(values, np.int64), name)


def scalar(name, v, dt=np.float32):
    return nh.from_array(np.array(v, dt), name)


def models():
    x4, x2, y = vi("x", [1, 1, 8, 8]), vi("x", [4, 6]), vi("y", None)
    w = nh.from_array(np.ones((1, 1, 3, 3), np.float32), "w")
    node = h.make_node
    model("flatten_2p32", [node("Flatten", ["x"], ["y"], name="fl")], [vi("x", [2**32, 2**32])], [y])
    for v, tag in [(BIG, "2p62"), (I64MAX, "max")]:
        model(f"conv_pads_{tag}", [node("Conv", ["x", "w"], ["y"], name="cv", pads=[v, 0, 0, 0])], [x4], [y], [w])
        model(f"conv_dilations_{tag}", [node("Conv", ["x", "w"], ["y"], name="cv", dilations=[v, 1])], [x4], [y], [w])
        model(f"conv_group_{tag}", [node("Conv", ["x", "w"], ["y"], name="cv", group=v)], [x4], [y], [w])
        model(f"maxpool_pads_{tag}", [node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], pads=[v, 0, 0, 0])], [x4], [y])
        model(f"maxpool_dilations_{tag}", [node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], dilations=[v, 1])], [x4], [y])
        model(f"maxpool_ceil_stride_{tag}", [node("MaxPool", ["x"], ["y"], name="mp", kernel_shape=[2, 2], strides=[v, 1], ceil_mode=1)], [x4], [y])
        model(f"avgpool_pads_{tag}", [node("AveragePool", ["x"], ["y"], name="ap", kernel_shape=[2, 2], pads=[v, 0, 0, 0])], [x4], [y])
        for attr in ["strides", "output_padding", "dilations", "output_shape"]:
            model(f"convtranspose_{attr}_{tag}", [node("ConvTranspose", ["x", "w"], ["y"], name="ct", **{attr: [v, 1]})], [x4], [y], [w])
        model(f"convtranspose_pads_{tag}", [node("ConvTranspose", ["x", "w"], ["y"], name="ct", pads=[v, v, v, v])], [x4], [y], [w])
    for st, tag in [(I64MIN, "min"), (BIG, "2p62"), (I64MAX, "max")]:
        model(f"slice_step_{tag}", [node("Slice", ["x", "s", "e", "a", "st"], ["y"], name="sl")], [x2], [y], [i64("s", [0]), i64("e", [I64MAX]), i64("a", [1]), i64("st", [st])])
        model(f"slice_start_{tag}", [node("Slice", ["x", "s", "e", "a", "st"], ["y"], name="sl")], [x2], [y], [i64("s", [st]), i64("e", [I64MIN]), i64("a", [1]), i64("st", [-1])])
        model(f"slice_axis_{tag}", [node("Slice", ["x", "s", "e", "a"], ["y"], name="sl")], [x2], [y], [i64("s", [0]), i64("e", [1]), i64("a", [st])])
    outs2 = [vi("y1", None), vi("y2", None)]
    model("split_sum_overflow", [node("Split", ["x", "sp"], ["y1", "y2"], name="spl", axis=1)], [x2], outs2, [i64("sp", [I64MAX, 8])])
    model("split_num_outputs_mismatch", [node("Split", ["x"], ["y1", "y2"], name="spl", axis=1, num_outputs=3)], [x2], outs2, opset=18)
    model("split_uneven_opset17", [node("Split", ["x"], ["y1", "y2", "y3", "y4"], name="spl", axis=1)], [x2], [vi(f"y{i}", None) for i in range(1, 5)])
    model("reshape_2p62", [node("Reshape", ["x", "s"], ["y"], name="rs")], [x2], [y], [i64("s", [BIG, 4, -1])])
    model("reshape_min", [node("Reshape", ["x", "s"], ["y"], name="rs")], [x2], [y], [i64("s", [I64MIN, 24])])
    model("range_inf", [node("Range", ["a", "b", "c"], ["y"], name="rg")], [], [y], [scalar("a", 0.0), scalar("b", np.inf), scalar("c", 1.0)])
    model("range_nan", [node("Range", ["a", "b", "c"], ["y"], name="rg")], [], [y], [scalar("a", 0.0), scalar("b", np.nan), scalar("c", 1.0)])
    model("range_span64", [node("Range", ["a", "b", "c"], ["y"], name="rg")], [], [vi("y", None, T.INT64)],
          [scalar("a", I64MIN, np.int64), scalar("b", I64MAX, np.int64), scalar("c", 1, np.int64)])
    model("range_delta_min", [node("Range", ["a", "b", "c"], ["y"], name="rg")], [], [vi("y", None, T.INT64)],
          [scalar("a", I64MAX, np.int64), scalar("b", I64MIN, np.int64), scalar("c", I64MIN, np.int64)])
    model("concat_scalars", [node("Concat", ["a", "b"], ["y"], name="cc", axis=0)], [vi("a", []), vi("b", [])], [y])
    model("concat_length_overflow", [node("Concat", ["x", "x"], ["y"], name="cc", axis=0)], [vi("x", [I64MAX, 0])], [y])
    b = nh.from_array(np.ones((6, 3), np.float32), "b")
    for n in [2, 5]:
        model(f"gemm_bias_{n}", [node("Gemm", ["x", "b", "c"], ["y"], name="gm")], [x2], [y], [b, nh.from_array(np.ones((n,), np.float32), "c")])
    model("duplicate_input", [node("Relu", ["x"], ["y"], name="r")], [x2, vi("x", [4, 6])], [y])
    model("duplicate_initializer", [node("Add", ["x", "c"], ["y"], name="a")], [x2], [y], [scalar("c", 1.0), scalar("c", 2.0)])
    model("expand_2p40", [node("Expand", ["x", "s"], ["y"], name="ex")], [x2], [y], [i64("s", [2**40, 2**40, 1])])
    model("constantofshape_4tib", [node("ConstantOfShape", ["s"], ["y"], name="cs")], [], [y], [i64("s", [2**20, 2**20])])
    model("conv_pads_10000", [node("Conv", ["x", "w"], ["y"], name="cv", pads=[10000] * 4)], [x4], [y], [w])
    model("input_4gib", [node("Relu", ["x"], ["y"], name="r")], [vi("x", [2**30])], [y])
    model("gather_index_min", [node("Gather", ["x", "i"], ["y"], name="ga")], [x2], [y], [i64("i", [I64MIN])])
    # QDQ Conv with a NaN bias scale.
    wq = nh.from_array(np.full((1, 1, 3, 3), 3, np.int8), "w_q")
    bq = nh.from_array(np.array([100], np.int32), "b_q")
    model("qdq_bias_scale_nan", [node("DequantizeLinear", ["w_q", "ws"], ["wd"], name="dq_w"), node("DequantizeLinear", ["b_q", "bs"], ["bd"], name="dq_b"),
                                 node("Conv", ["x", "wd", "bd"], ["y"], name="cv")], [x4], [y], [wq, bq, scalar("ws", 0.01), scalar("bs", np.nan)])
    model("qdq_weight_scale_negative", [node("DequantizeLinear", ["w_q", "ws"], ["wd"], name="dq_w"), node("Conv", ["x", "wd"], ["y"], name="cv")],
          [x4], [y], [wq, scalar("ws", -0.01)])
    ext = T(name="w", data_type=F, dims=[2], data_location=T.EXTERNAL)
    for location in ["/dev/zero", "../../../../etc/passwd", "."]:
        del ext.external_data[:]
        ext.external_data.add(key="location", value=location)
        tag = {"/dev/zero": "device", ".": "directory"}.get(location, "escape")
        model(f"external_data_{tag}", [node("Relu", ["w"], ["y"], name="r")], [], [y], [ext])


def npy(header, data=b""):
    header = header.encode()
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def numpy_files():
    pair = np.array([1, 2], np.int32).tobytes()
    save("npy", "descr_inside_value.npy", npy("{'note': \"'descr': '<f4'\", 'descr': '<i4', 'fortran_order': False, 'shape': (2,), }", pair))
    save("npy", "descr_twice.npy", npy("{'descr': '<f4', 'descr': '<i4', 'fortran_order': False, 'shape': (2,)}", pair))
    save("npy", "nested_5000.npy", npy("{'descr': " + "[" * 5000 + "}"))
    save("npy", "shape_2p62.npy", npy(f"{{'descr': '<f4', 'fortran_order': False, 'shape': ({BIG}, 4), }}", pair))
    save("npy", "shape_negative.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", pair))
    save("npy", "shape_huge_literal.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 40 + ",), }", pair))
    save("npy", "header_length_max.npy", b"\x93NUMPY\x02\x00\xff\xff\xff\xff{")
    save("npy", "unclosed_string.npy", npy("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", pair))
    member = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", np.zeros(4, np.float32).tobytes())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", member)
    good = buf.getvalue()
    save("npz", "valid_deflated.npz", good)
    # One field at a time set to an extreme: local header sizes, central directory offsets and counts.
    cd = good.rfind(b"PK\x01\x02")
    eocd = good.rfind(b"PK\x05\x06")
    for label, at, width, value in [("local_size", 22, 4, 0xFFFFFFFF), ("local_name_length", 26, 2, 0xFFFF), ("central_size_4gib", cd + 24, 4, 0xFFFFFFFE),
                                    ("central_offset_max", cd + 42, 4, 0xFFFFFFFE), ("central_extra_length", cd + 30, 2, 0xFFFF),
                                    ("end_count", eocd + 10, 2, 0xFFFE), ("end_directory_offset", eocd + 16, 4, 0x7FFFFFFF)]:
        b = bytearray(good)
        b[at:at + width] = value.to_bytes(width, "little")
        save("npz", f"{label}.npz", bytes(b))
    # ZIP64 end-record locator pointing near 2^63.
    save("npz", "zip64_locator_2p63.npz", b"PK\x06\x07" + struct.pack("<IQI", 0, 2**63 - 30, 1)
         + b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def rules_files():
    save("rules", "nested_100000.json", b"[" * 100000)
    save("rules", "objects_nested.json", b'{"a":' * 5000)
    save("rules", "not_json.json", b"\xff\xfe\x00garbage")
    save("rules", "empty.json", b"")
    save("rules", "number_overflow.json", b'{"schema_version": 99999999999999999999999999, "fallback": {}, "rules": []}')
    save("rules", "unknown_backend.json", b'{"schema_version": 1, "fallback": {"int8": ["nobody"]}, "rules": [{"id": "r", "ops": ["conv2d"], "when": [{"field": "groups", "op": "between", "value": [9223372036854775807, -9223372036854775808]}], "backend": "x", "why": "y"}]}')


def check_with_ort():
    import onnxruntime as ort
    folder = os.path.join(ROOT, "onnx")
    for name in sorted(os.listdir(folder)):
        try:
            s = ort.InferenceSession(os.path.join(folder, name), providers=["CPUExecutionProvider"])
            shapes = [[d if isinstance(d, int) else 1 for d in i.shape] for i in s.get_inputs()]
            if any(np.prod(sh, dtype=np.float64) > 1e7 for sh in shapes):
                print(f"{name}: loads (inputs too large to run here)")
                continue
            out = s.run(None, {i.name: np.zeros(sh, np.float32) for i, sh in zip(s.get_inputs(), shapes)})
            print(f"{name}: runs, outputs {[o.shape for o in out]}")
        except Exception as e:
            print(f"{name}: refused: {str(e).splitlines()[0][:160]}")


if __name__ == "__main__":
    models()
    numpy_files()
    rules_files()
    print("corpus written to", os.path.normpath(ROOT))
    if "--ort" in sys.argv:
        check_with_ort()
