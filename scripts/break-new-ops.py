#!/usr/bin/env python3
"""Feeds malformed single-node models to `octet run` and reports every crash.

Each case is one ONNX node with bad attributes or bad input values. It runs twice: with
its inputs as initializers (planning folds them) and as graph inputs fed from an .npz.
A run that ends with a signal, an exit code other than 0 or 1, or without an "Error:"
line on failure is a crash: the project's rule is that bad input always gets an error.

    python3 scripts/break-new-ops.py --octet .build/debug/octet [-k FILTER] [-v]
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F = np.float32
I64 = np.int64
I32 = np.int32


def case(name, op, inputs, attrs=None, outputs=1, opset=None, domain=""):
    return dict(name=name, op=op, inputs=inputs, attrs=attrs or {}, outputs=outputs, opset=opset, domain=domain)


def a(*shape, dtype=F, fill=None):
    if fill is not None:
        return np.full(shape, fill, dtype=dtype)
    rng = np.random.default_rng(len(shape) + sum(shape))
    return rng.uniform(-1, 1, shape).astype(dtype) if np.issubdtype(dtype, np.floating) else np.zeros(shape, dtype)


CASES = []

# --- RNN / GRU / LSTM ------------------------------------------------------------------
for op, g in (("RNN", 1), ("GRU", 3), ("LSTM", 4)):
    outs = 3 if op == "LSTM" else 2
    X, W, R = a(2, 1, 3), a(1, g * 4, 3), a(1, g * 4, 4)
    CASES += [
        case(f"{op}-ok", op, [X, W, R], dict(hidden_size=4), outs),
        case(f"{op}-hidden0", op, [X, a(1, 0, 3), a(1, 0, 0)], dict(hidden_size=0), outs),
        case(f"{op}-hidden-neg", op, [X, W, R], dict(hidden_size=-4), outs),
        case(f"{op}-hidden-huge", op, [X, W, R], dict(hidden_size=2**62), outs),
        case(f"{op}-hidden-huge2", op, [X, W, R], dict(hidden_size=2**61 + 1), outs),
        case(f"{op}-no-hidden-R0", op, [X, a(1, 0, 3), a(1, 0, 0)], {}, outs),
        case(f"{op}-no-hidden-Rrank2", op, [X, W, a(g * 4, 4)], {}, outs),
        case(f"{op}-X-rank2", op, [a(2, 3), W, R], dict(hidden_size=4), outs),
        case(f"{op}-X-rank4", op, [a(2, 1, 3, 1), W, R], dict(hidden_size=4), outs),
        case(f"{op}-W-wrong", op, [X, a(1, 5, 3), R], dict(hidden_size=4), outs),
        case(f"{op}-R-wrong", op, [X, W, a(1, g * 4, 3)], dict(hidden_size=4), outs),
        case(f"{op}-W-rank1", op, [X, a(3), R], dict(hidden_size=4), outs),
        case(f"{op}-B-wrong", op, [X, W, R, a(1, 3)], dict(hidden_size=4), outs),
        case(f"{op}-seqlens-big", op, [X, W, R, a(1, 2 * g * 4), np.array([5], I32)], dict(hidden_size=4), outs),
        case(f"{op}-seqlens-neg", op, [X, W, R, a(1, 2 * g * 4), np.array([-1], I32)], dict(hidden_size=4), outs),
        case(f"{op}-seqlens-wrong-count", op, [X, W, R, a(1, 2 * g * 4), np.array([1, 1, 1], I32)], dict(hidden_size=4), outs),
        case(f"{op}-seqlens-float-nan", op, [X, W, R, a(1, 2 * g * 4), np.array([np.nan], F)], dict(hidden_size=4), outs),
        case(f"{op}-seqlens-int64-huge", op, [X, W, R, a(1, 2 * g * 4), np.array([2**62], I64)], dict(hidden_size=4), outs),
        case(f"{op}-h0-wrong", op, [X, W, R, None, None, a(1, 2, 4)], dict(hidden_size=4), outs),
        case(f"{op}-bidir-W1", op, [X, W, R], dict(hidden_size=4, direction="bidirectional"), outs),
        case(f"{op}-dir-bad", op, [X, W, R], dict(hidden_size=4, direction="sideways"), outs),
        case(f"{op}-layout-2", op, [X, W, R], dict(hidden_size=4, layout=2), outs),
        case(f"{op}-clip-neg", op, [X, W, R], dict(hidden_size=4, clip=-1.0), outs),
        case(f"{op}-clip-nan", op, [X, W, R], dict(hidden_size=4, clip=float("nan")), outs),
        case(f"{op}-acts-wrong-count", op, [X, W, R], dict(hidden_size=4, activations=["Tanh"] * 7), outs),
        case(f"{op}-acts-unknown", op, [X, W, R], dict(hidden_size=4, activations=["Nope"] * (1 if op == "RNN" else 2 if op == "GRU" else 3)), outs),
        case(f"{op}-X-int", op, [a(2, 1, 3, dtype=I32), W, R], dict(hidden_size=4), outs),
        case(f"{op}-W-double", op, [X, a(1, g * 4, 3, dtype=np.float64), R], dict(hidden_size=4), outs),
        case(f"{op}-X-seq0", op, [a(0, 1, 3), W, R], dict(hidden_size=4), outs),
        case(f"{op}-X-batch0", op, [a(2, 0, 3), W, R], dict(hidden_size=4), outs),
        case(f"{op}-X-input0", op, [a(2, 1, 0), a(1, g * 4, 0), R], dict(hidden_size=4), outs),
        case(f"{op}-missing-R", op, [X, W], dict(hidden_size=4), outs),
        case(f"{op}-extra-outputs", op, [X, W, R], dict(hidden_size=4), outs + 2),
    ]
CASES += [
    case("LSTM-P-wrong", "LSTM", [a(2, 1, 3), a(1, 16, 3), a(1, 16, 4), None, None, None, None, a(1, 5)], dict(hidden_size=4), 3),
    case("LSTM-c0-wrong", "LSTM", [a(2, 1, 3), a(1, 16, 3), a(1, 16, 4), None, None, None, a(3, 1, 4)], dict(hidden_size=4), 3),
]

# --- Einsum ------------------------------------------------------------------------------
for eq, ins in [
    ("ab,bc->", [a(2, 3), a(3, 4)]),
    ("a...b...", [a(2, 3, 4)]),
    ("ab->abc", [a(2, 3)]),
    ("ab->aa", [a(2, 3)]),
    ("é,b->b", [a(2), a(3)]),
    ("αβ->", [a(2, 3)]),
    ("ab,bc->ac", [a(2, 3), a(4, 5)]),
    ("ab,bc->ac", [a(2, 3)]),
    ("ab,bc->ac", [a(2, 3), a(3, 4), a(2)]),
    ("abc->", [a(2, 3)]),
    ("a->", [a(2, 3)]),
    ("", [a(2)]),
    ("->", [a(2)]),
    ("->", [np.array(2, F)]),
    ("a->->a", [a(2)]),
    ("...->...", [np.array(1.0, F)]),
    ("...a->...", [np.array(1.0, F)]),
    ("a...,a...->...", [a(2, 3), a(2, 4)]),
    ("a...,...->a...", [a(2, 3, 1), a(5, 4)]),
    ("aa->a", [a(2, 3)]),
    ("aa->a", [a(1, 3)]),
    ("aa", [a(0, 0)]),
    ("ab,ab->", [a(0, 3), a(1, 3)]),
    ("ab,ab->ab", [a(2, 3), a(2, 3, dtype=np.float64)]),
    ("ab", [a(2, 3, dtype=I32)]),
    ("ab", [np.zeros((2, 3), np.bool_)]),
    (".a", [a(2)]),
    ("..a", [a(2)]),
    ("....a", [a(2, 3)]),
    ("a,", [a(2), a(3)]),
    (",a", [np.array(1.0, F), a(3)]),
    ("a,b,c,d,e,f,g,h->", [a(256)] * 8),
    ("A1->A", [a(2)]),
    ("a b->b a", [a(2, 3)]),
    ("a-b->a", [a(2, 3)]),
    ("a>b", [a(2, 3)]),
    ("ab->...ab", [a(2, 3)]),
    ("ab->b...a...", [a(2, 3)]),
]:
    CASES.append(case(f"Einsum-{eq!r}-{[x.shape for x in ins]}", "Einsum", ins, dict(equation=eq)))
CASES.append(case("Einsum-no-equation", "Einsum", [a(2)]))
CASES.append(case("Einsum-no-inputs", "Einsum", []))

# --- RotaryEmbedding (opset 23) ----------------------------------------------------------
RX = a(1, 2, 3, 4)
CASES += [
    case("Rotary-ok", "RotaryEmbedding", [RX, a(1, 3, 2), a(1, 3, 2)], {}, opset=23),
    case("Rotary-odd-head", "RotaryEmbedding", [a(1, 2, 3, 5), a(1, 3, 2), a(1, 3, 2)], {}, opset=23),
    case("Rotary-rotdim-huge", "RotaryEmbedding", [RX, a(1, 3, 2), a(1, 3, 2)], dict(rotary_embedding_dim=2**62), opset=23),
    case("Rotary-rotdim-neg", "RotaryEmbedding", [RX, a(1, 3, 2), a(1, 3, 2)], dict(rotary_embedding_dim=-2), opset=23),
    case("Rotary-rotdim-odd", "RotaryEmbedding", [RX, a(1, 3, 2), a(1, 3, 2)], dict(rotary_embedding_dim=3), opset=23),
    case("Rotary-numheads-neg", "RotaryEmbedding", [a(1, 3, 8), a(1, 3, 2), a(1, 3, 2)], dict(num_heads=-2), opset=23),
    case("Rotary-numheads-0-3d", "RotaryEmbedding", [a(1, 3, 8), a(1, 3, 2), a(1, 3, 2)], {}, opset=23),
    case("Rotary-numheads-huge-3d", "RotaryEmbedding", [a(1, 3, 0), a(1, 3, 0), a(1, 3, 0)], dict(num_heads=2**62), opset=23),
    case("Rotary-3d-nondiv", "RotaryEmbedding", [a(1, 3, 7), a(1, 3, 2), a(1, 3, 2)], dict(num_heads=2), opset=23),
    case("Rotary-cache-small", "RotaryEmbedding", [RX, a(1, 3, 1), a(1, 3, 1)], {}, opset=23),
    case("Rotary-cache-shape-diff", "RotaryEmbedding", [RX, a(1, 3, 2), a(1, 3, 3)], {}, opset=23),
    case("Rotary-cache-wrong-seq", "RotaryEmbedding", [RX, a(1, 2, 2), a(1, 2, 2)], {}, opset=23),
    case("Rotary-cache-rank1", "RotaryEmbedding", [RX, a(2), a(2)], {}, opset=23),
    case("Rotary-cache-scalar", "RotaryEmbedding", [RX, np.array(1.0, F), np.array(1.0, F)], {}, opset=23),
    case("Rotary-pos-out", "RotaryEmbedding", [RX, a(4, 2), a(4, 2), np.array([[0, 1, 9]], I64)], {}, opset=23),
    case("Rotary-pos-neg", "RotaryEmbedding", [RX, a(4, 2), a(4, 2), np.array([[0, -1, 2]], I64)], {}, opset=23),
    case("Rotary-pos-huge", "RotaryEmbedding", [RX, a(4, 2), a(4, 2), np.array([[0, 2**63 - 1, 2]], I64)], {}, opset=23),
    case("Rotary-pos-wrong-shape", "RotaryEmbedding", [RX, a(4, 2), a(4, 2), np.array([0, 1, 2], I64)], {}, opset=23),
    case("Rotary-pos-cache3d", "RotaryEmbedding", [RX, a(1, 3, 2), a(1, 3, 2), np.array([[0, 1, 2]], I64)], {}, opset=23),
    case("Rotary-pos-float", "RotaryEmbedding", [RX, a(4, 2), a(4, 2), np.array([[0, np.nan, 2]], F)], {}, opset=23),
    case("Rotary-X-rank2", "RotaryEmbedding", [a(3, 4), a(4, 2), a(4, 2)], {}, opset=23),
    case("Rotary-X-int", "RotaryEmbedding", [a(1, 2, 3, 4, dtype=I32), a(1, 3, 2), a(1, 3, 2)], {}, opset=23),
    case("Rotary-missing-sin", "RotaryEmbedding", [RX, a(1, 3, 2)], {}, opset=23),
    case("Rotary-zero", "RotaryEmbedding", [a(0, 2, 0, 4), a(0, 0, 2), a(0, 0, 2)], {}, opset=23),
]

# --- Window ops and MelWeightMatrix (opset 17) --------------------------------------------
for op in ("HannWindow", "HammingWindow", "BlackmanWindow"):
    for label, v in [("ok", np.array(8, I64)), ("zero", np.array(0, I64)), ("one-sym", np.array(1, I64)),
                     ("neg", np.array(-3, I64)), ("1e12", np.array(10**12, I64)), ("int64max", np.array(2**63 - 1, I64)),
                     ("int64min", np.array(-2**63, I64)), ("float", np.array(8.0, F)), ("vector", np.array([4, 4], I64)),
                     ("empty", np.zeros((0,), I64)), ("int32", np.array(8, I32)), ("uint64", np.array(2**64 - 1, np.uint64)),
                     ("2^62", np.array(2**62, I64)), ("bool", np.array(True))]:
        CASES.append(case(f"{op}-{label}", op, [v], dict(periodic=0) if label == "one-sym" else {}, opset=17))
    CASES.append(case(f"{op}-dtype-bad", op, [np.array(8, I64)], dict(output_datatype=999), opset=17))
    CASES.append(case(f"{op}-dtype-string", op, [np.array(8, I64)], dict(output_datatype=8), opset=17))


def mel(bins, dft, rate, lo, hi, dt=I64, name=""):
    return case(f"Mel-{name or (bins, dft, rate, lo, hi)}", "MelWeightMatrix",
                [np.array(bins, dt), np.array(dft, dt), np.array(rate, dt), np.array(lo, F), np.array(hi, F)], opset=17)


CASES += [
    mel(8, 16, 8000, 0, 4000),
    mel(0, 16, 8000, 0, 4000),
    mel(-2, 16, 8000, 0, 4000),
    mel(8, 0, 8000, 0, 4000),
    mel(8, -16, 8000, 0, 4000),
    mel(8, 16, 0, 0, 4000),
    mel(8, 16, -8000, 0, 4000),
    mel(8, 16, 8000, 4000, 0),
    mel(8, 16, 8000, 0, 8000),
    mel(8, 16, 8000, 0, 1e9),
    mel(8, 16, 8000, 0, float("nan")),
    mel(8, 16, 8000, float("nan"), 100),
    mel(8, 16, 8000, 0, float("inf")),
    mel(8, 16, 8000, -700, 100),
    mel(8, 16, 8000, -1e6, 100),
    mel(8, 16, 1, 0, 4000),
    mel(2**62, 16, 8000, 0, 4000),
    mel(8, 2**62, 8000, 0, 4000),
    mel(8, 2**63 - 1, 8000, 0, 4000),
    mel(2**63 - 1, 16, 8000, 0, 4000),
    mel(10**6, 10**6, 8000, 0, 4000, name="1e6x1e6"),
    mel(8, 16, 2**63 - 1, 0, 4000),
    mel(8, 16, 8000, 0, 4000, dt=F, name="float-ints"),
    mel(8, 16, 8000, 0, 4400, name="above-nyquist"),
    mel(8, 16, 8000, 0, 6100, name="above-nyquist2"),
    case("Mel-vector-bins", "MelWeightMatrix", [np.array([8, 8], I64), np.array(16, I64), np.array(8000, I64), np.array(0, F), np.array(4000, F)], opset=17),
    case("Mel-vector-edge", "MelWeightMatrix", [np.array(8, I64), np.array(16, I64), np.array(8000, I64), np.array([0, 1], F), np.array(4000, F)], opset=17),
    case("Mel-empty-edge", "MelWeightMatrix", [np.array(8, I64), np.array(16, I64), np.array(8000, I64), np.zeros((0,), F), np.array(4000, F)], opset=17),
    case("Mel-missing", "MelWeightMatrix", [np.array(8, I64), np.array(16, I64), np.array(8000, I64)], opset=17),
]

# --- Det ---------------------------------------------------------------------------------
CASES += [
    case("Det-ok", "Det", [a(2, 3, 3)]),
    case("Det-0x0", "Det", [a(2, 0, 0)]),
    case("Det-nonsquare", "Det", [a(2, 3, 4)]),
    case("Det-rank1", "Det", [a(3)]),
    case("Det-scalar", "Det", [np.array(1.0, F)]),
    case("Det-int", "Det", [a(3, 3, dtype=I32)]),
    case("Det-nan", "Det", [np.full((3, 3), np.nan, F)]),
    case("Det-inf", "Det", [np.full((3, 3), np.inf, F)]),
    case("Det-batch0", "Det", [a(0, 3, 3)]),
    case("Det-1x1", "Det", [a(1, 1)]),
]

# --- ReverseSequence ---------------------------------------------------------------------
RS = a(4, 2, 3)
CASES += [
    case("RevSeq-ok", "ReverseSequence", [RS, np.array([4, 2], I64)]),
    case("RevSeq-len-big", "ReverseSequence", [RS, np.array([5, 2], I64)]),
    case("RevSeq-len-neg", "ReverseSequence", [RS, np.array([-1, 2], I64)]),
    case("RevSeq-len-huge", "ReverseSequence", [RS, np.array([2**63 - 1, 2], I64)]),
    case("RevSeq-len-count", "ReverseSequence", [RS, np.array([1, 2, 3], I64)]),
    case("RevSeq-len-float", "ReverseSequence", [RS, np.array([1, 2], F)]),
    case("RevSeq-len-2d", "ReverseSequence", [RS, np.array([[1, 2]], I64)]),
    case("RevSeq-rank1", "ReverseSequence", [a(4), np.array([1], I64)]),
    case("RevSeq-axes-same", "ReverseSequence", [RS, np.array([1, 2], I64)], dict(batch_axis=0, time_axis=0)),
    case("RevSeq-axes-2", "ReverseSequence", [RS, np.array([1, 2, 3], I64)], dict(batch_axis=2, time_axis=0)),
    case("RevSeq-axes-neg", "ReverseSequence", [RS, np.array([1, 2], I64)], dict(batch_axis=-1, time_axis=0)),
    case("RevSeq-zero", "ReverseSequence", [a(0, 2, 3), np.array([0, 0], I64)]),
    case("RevSeq-batch0", "ReverseSequence", [a(4, 0, 3), np.zeros((0,), I64)]),
    case("RevSeq-string", "ReverseSequence", [np.array([["a", "b"], ["c", "d"]], dtype=object), np.array([2, 1], I64)]),
]

# --- TensorScatter (opset 24) --------------------------------------------------------------
P = a(2, 5, 3)
for mode in ("linear", "circular"):
    CASES += [
        case(f"TScatter-{mode}-ok", "TensorScatter", [P, a(2, 2, 3), np.array([0, 3], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-idx-big", "TensorScatter", [P, a(2, 2, 3), np.array([0, 4], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-idx-huge", "TensorScatter", [P, a(2, 2, 3), np.array([0, 2**63 - 1], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-idx-neg", "TensorScatter", [P, a(2, 2, 3), np.array([0, -1], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-idx-min", "TensorScatter", [P, a(2, 2, 3), np.array([0, -2**63], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-idx-count", "TensorScatter", [P, a(2, 2, 3), np.array([0], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-idx-float", "TensorScatter", [P, a(2, 2, 3), np.array([0, 1], F)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-maxseq0", "TensorScatter", [a(2, 0, 3), a(2, 2, 3), np.array([0, 0], I64)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-maxseq0-inner0", "TensorScatter", [a(2, 0, 0), a(2, 2, 0)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-update-longer", "TensorScatter", [P, a(2, 7, 3)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-update-rank", "TensorScatter", [P, a(2, 2)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-update-other-dim", "TensorScatter", [P, a(2, 2, 4)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-axis0", "TensorScatter", [P, a(2, 2, 3)], dict(mode=mode, axis=0), opset=24),
        case(f"TScatter-{mode}-axis-big", "TensorScatter", [P, a(2, 2, 3)], dict(mode=mode, axis=7), opset=24),
        case(f"TScatter-{mode}-axis-min", "TensorScatter", [P, a(2, 2, 3)], dict(mode=mode, axis=-2**63), opset=24),
        case(f"TScatter-{mode}-scalar", "TensorScatter", [np.array(1.0, F), np.array(1.0, F)], dict(mode=mode), opset=24),
        case(f"TScatter-{mode}-dtype", "TensorScatter", [P, a(2, 2, 3, dtype=np.float64)], dict(mode=mode), opset=24),
    ]
CASES.append(case("TScatter-mode-bad", "TensorScatter", [P, a(2, 2, 3)], dict(mode="spiral"), opset=24))

# --- AffineGrid (opset 20) -----------------------------------------------------------------
T2 = a(1, 2, 3)
CASES += [
    case("AffineGrid-ok", "AffineGrid", [T2, np.array([1, 1, 3, 4], I64)], opset=20),
    case("AffineGrid-size-neg", "AffineGrid", [T2, np.array([1, 1, -3, 4], I64)], opset=20),
    case("AffineGrid-size-huge", "AffineGrid", [T2, np.array([1, 1, 2**40, 2**40], I64)], opset=20),
    case("AffineGrid-size-1e12", "AffineGrid", [T2, np.array([1, 1, 10**6, 10**6], I64)], opset=20),
    case("AffineGrid-size-max", "AffineGrid", [T2, np.array([1, 1, 2**63 - 1, 2], I64)], opset=20),
    case("AffineGrid-size-3", "AffineGrid", [T2, np.array([1, 3, 4], I64)], opset=20),
    case("AffineGrid-size-6", "AffineGrid", [T2, np.array([1, 1, 3, 4, 5, 6], I64)], opset=20),
    case("AffineGrid-size-float", "AffineGrid", [T2, np.array([1, 1, 3, 4], F)], opset=20),
    case("AffineGrid-size-zero", "AffineGrid", [T2, np.array([1, 1, 0, 4], I64)], opset=20),
    case("AffineGrid-batch-mismatch", "AffineGrid", [T2, np.array([2, 1, 3, 4], I64)], opset=20),
    case("AffineGrid-theta-3d-for-2d", "AffineGrid", [a(1, 3, 4), np.array([1, 1, 3, 4], I64)], opset=20),
    case("AffineGrid-theta-rank2", "AffineGrid", [a(2, 3), np.array([1, 1, 3, 4], I64)], opset=20),
    case("AffineGrid-theta-int", "AffineGrid", [a(1, 2, 3, dtype=I32), np.array([1, 1, 3, 4], I64)], opset=20),
    case("AffineGrid-5d-ok", "AffineGrid", [a(1, 3, 4), np.array([1, 1, 2, 3, 4], I64)], opset=20),
    case("AffineGrid-align-1-L1", "AffineGrid", [T2, np.array([1, 1, 1, 1], I64)], dict(align_corners=1), opset=20),
    case("AffineGrid-batch-huge-theta0", "AffineGrid", [a(0, 2, 3), np.array([0, 1, 2**62, 2**62], I64)], opset=20),
]

# --- LinearAttention and CausalConvWithState (opset 27) --------------------------------------
def la(rule, q, k, v, past=None, decay=None, beta=None, **attrs):
    return [q, k, v, past, decay, beta], dict(update_rule=rule, **attrs)


Q, K, V = a(1, 3, 8), a(1, 3, 4), a(1, 3, 6)
for label, (ins, at) in {
    "ok": la("gated_delta", Q, K, V, None, a(1, 3, 2), a(1, 3, 2), q_num_heads=4, kv_num_heads=2),
    "linear-ok": la("linear", Q, K, V, q_num_heads=4, kv_num_heads=2),
    "heads0": la("linear", Q, K, V, q_num_heads=0, kv_num_heads=0),
    "heads-neg": la("linear", Q, K, V, q_num_heads=-4, kv_num_heads=-2),
    "heads-nondiv": la("linear", Q, K, V, q_num_heads=3, kv_num_heads=2),
    "heads-missing": la("linear", Q, K, V),
    "heads-huge-dims0": la("linear", a(2, 3, 0), a(2, 3, 0), a(2, 3, 0), q_num_heads=2**62, kv_num_heads=2**62),
    "heads-huge-dims0b": la("linear", a(3, 3, 0), a(3, 3, 0), a(3, 3, 0), q_num_heads=2**61, kv_num_heads=2**61),
    "q-nondiv": la("linear", a(1, 3, 7), K, V, q_num_heads=4, kv_num_heads=2),
    "k-wrong": la("linear", Q, a(1, 3, 5), V, q_num_heads=4, kv_num_heads=2),
    "v-wrong-t": la("linear", Q, K, a(1, 2, 6), q_num_heads=4, kv_num_heads=2),
    "rank2": la("linear", a(3, 8), a(3, 4), a(3, 6), q_num_heads=4, kv_num_heads=2),
    "past-wrong": la("linear", Q, K, V, a(1, 2, 2, 2), q_num_heads=4, kv_num_heads=2),
    "decay-missing": la("gated", Q, K, V, q_num_heads=4, kv_num_heads=2),
    "decay-wrong": la("gated", Q, K, V, None, a(1, 3, 3), q_num_heads=4, kv_num_heads=2),
    "decay-rank2": la("gated", Q, K, V, None, a(3, 2), q_num_heads=4, kv_num_heads=2),
    "decay-forbidden": la("linear", Q, K, V, None, a(1, 3, 2), q_num_heads=4, kv_num_heads=2),
    "beta-missing": la("delta", Q, K, V, q_num_heads=4, kv_num_heads=2),
    "beta-wrong": la("delta", Q, K, V, None, None, a(1, 3, 3), q_num_heads=4, kv_num_heads=2),
    "beta-width1": la("delta", Q, K, V, None, None, a(1, 3, 1), q_num_heads=4, kv_num_heads=2),
    "rule-bad": la("quadratic", Q, K, V, q_num_heads=4, kv_num_heads=2),
    "int": la("linear", a(1, 3, 8, dtype=I32), a(1, 3, 4, dtype=I32), a(1, 3, 6, dtype=I32), q_num_heads=4, kv_num_heads=2),
    "zero-t": la("linear", a(1, 0, 8), a(1, 0, 4), a(1, 0, 6), q_num_heads=4, kv_num_heads=2),
    "scale-nan": la("linear", Q, K, V, q_num_heads=4, kv_num_heads=2, scale=float("nan")),
}.items():
    while ins and ins[-1] is None:
        ins = ins[:-1]
    CASES.append(case(f"LinAttn-{label}", "LinearAttention", ins, at, 2, opset=27))

CX = a(1, 2, 5)
CASES += [
    case("CConv-ok", "CausalConvWithState", [CX, a(2, 1, 3), a(2), a(1, 2, 2)], {}, 2, opset=27),
    case("CConv-k0", "CausalConvWithState", [CX, a(2, 1, 0)], {}, 2, opset=27),
    case("CConv-w-wrong", "CausalConvWithState", [CX, a(3, 1, 3)], {}, 2, opset=27),
    case("CConv-w-rank2", "CausalConvWithState", [CX, a(2, 3)], {}, 2, opset=27),
    case("CConv-w-group", "CausalConvWithState", [CX, a(2, 2, 3)], {}, 2, opset=27),
    case("CConv-bias-wrong", "CausalConvWithState", [CX, a(2, 1, 3), a(3)], {}, 2, opset=27),
    case("CConv-past-wrong", "CausalConvWithState", [CX, a(2, 1, 3), a(2), a(1, 2, 3)], {}, 2, opset=27),
    case("CConv-x-rank2", "CausalConvWithState", [a(2, 5), a(2, 1, 3)], {}, 2, opset=27),
    case("CConv-c0", "CausalConvWithState", [a(1, 0, 5), a(0, 1, 3)], {}, 2, opset=27),
    case("CConv-l0", "CausalConvWithState", [a(1, 2, 0), a(2, 1, 3)], {}, 2, opset=27),
    case("CConv-act-bad", "CausalConvWithState", [CX, a(2, 1, 3)], dict(activation="gelu"), 2, opset=27),
    case("CConv-int", "CausalConvWithState", [a(1, 2, 5, dtype=I32), a(2, 1, 3, dtype=I32)], {}, 2, opset=27),
    case("CConv-mixed", "CausalConvWithState", [CX, a(2, 1, 3, dtype=np.float64)], {}, 2, opset=27),
    case("CConv-k-huge-x0", "CausalConvWithState", [a(0, 2, 5), a(2, 1, 2**20)], {}, 2, opset=27),
]

# --- Scatter / ScatterElements / ScatterND -----------------------------------------------
D = a(3, 4)
for op, opset in (("Scatter", 9), ("ScatterElements", 18)):
    CASES += [
        case(f"{op}-ok", op, [D, np.array([[0, 1]], I64), a(1, 2)], dict(axis=1), opset=opset),
        case(f"{op}-idx-big", op, [D, np.array([[0, 9]], I64), a(1, 2)], dict(axis=1), opset=opset),
        case(f"{op}-idx-neg-big", op, [D, np.array([[0, -9]], I64), a(1, 2)], dict(axis=1), opset=opset),
        case(f"{op}-idx-min", op, [D, np.array([[0, -2**63]], I64), a(1, 2)], dict(axis=1), opset=opset),
        case(f"{op}-idx-max", op, [D, np.array([[0, 2**63 - 1]], I64), a(1, 2)], dict(axis=1), opset=opset),
        case(f"{op}-shape-mismatch", op, [D, np.array([[0, 1]], I64), a(2, 1)], dict(axis=1), opset=opset),
        case(f"{op}-idx-too-many-rows", op, [D, np.zeros((5, 1), I64), a(5, 1)], dict(axis=1), opset=opset),
        case(f"{op}-idx-too-many-cols", op, [D, np.zeros((1, 6), I64), a(1, 6)], dict(axis=0), opset=opset),
        case(f"{op}-rank-mismatch", op, [D, np.array([0, 1], I64), a(2)], dict(axis=0), opset=opset),
        case(f"{op}-axis-big", op, [D, np.array([[0, 1]], I64), a(1, 2)], dict(axis=5), opset=opset),
        case(f"{op}-axis-min", op, [D, np.array([[0, 1]], I64), a(1, 2)], dict(axis=-2**63), opset=opset),
        case(f"{op}-scalar", op, [np.array(1.0, F), np.array(0, I64), np.array(2.0, F)], {}, opset=opset),
        case(f"{op}-idx-float", op, [D, np.array([[0, 1]], F), a(1, 2)], dict(axis=1), opset=opset),
        case(f"{op}-data0", op, [a(0, 4), np.zeros((0, 4), I64), a(0, 4)], {}, opset=opset),
        case(f"{op}-data0-idx", op, [a(0, 4), np.zeros((1, 4), I64), a(1, 4)], {}, opset=opset),
        case(f"{op}-upd-dtype", op, [D, np.array([[0, 1]], I64), a(1, 2, dtype=np.float64)], dict(axis=1), opset=opset),
    ]
CASES += [
    case("ScatterElements-reduction-bad", "ScatterElements", [D, np.array([[0, 1]], I64), a(1, 2)], dict(axis=1, reduction="avg"), opset=18),
    case("ScatterND-ok", "ScatterND", [D, np.array([[0], [2]], I64), a(2, 4)], opset=18),
    case("ScatterND-k-big", "ScatterND", [D, np.array([[0, 1, 2]], I64), a(1)], opset=18),
    case("ScatterND-k0", "ScatterND", [D, np.zeros((2, 0), I64), a(2, 3, 4)], opset=18),
    case("ScatterND-idx-oob", "ScatterND", [D, np.array([[5]], I64), a(1, 4)], opset=18),
    case("ScatterND-idx-min", "ScatterND", [D, np.array([[-2**63]], I64), a(1, 4)], opset=18),
    case("ScatterND-upd-wrong", "ScatterND", [D, np.array([[0], [2]], I64), a(2, 3)], opset=18),
    case("ScatterND-idx-scalar", "ScatterND", [D, np.array(0, I64), a(4)], opset=18),
    case("ScatterND-k2", "ScatterND", [D, np.zeros((3, 2), I64), a(3)], opset=18),
]

ONNX_TYPE = {np.dtype(F): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(I64): TensorProto.INT64,
             np.dtype(I32): TensorProto.INT32, np.dtype(np.bool_): TensorProto.BOOL, np.dtype(np.uint64): TensorProto.UINT64,
             np.dtype(object): TensorProto.STRING}


def build(c, feed):
    names, inits, graph_inputs, feeds = [], [], [], {}
    for i, x in enumerate(c["inputs"]):
        if x is None:
            names.append("")
            continue
        n = f"in{i}"
        names.append(n)
        if feed and x.dtype != object:
            graph_inputs.append(helper.make_tensor_value_info(n, ONNX_TYPE[x.dtype], list(x.shape)))
            feeds[n] = x
        else:
            inits.append(numpy_helper.from_array(x, n))
    outs = [f"out{i}" for i in range(c["outputs"])]
    node = helper.make_node(c["op"], names, outs, **c["attrs"])
    graph = helper.make_graph([node], "g", graph_inputs, [onnx.ValueInfoProto(name=o) for o in outs], inits)
    opset = c["opset"] or 18
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=10)
    return model, feeds


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--octet", default=".build/debug/octet")
    p.add_argument("-k", default="", help="only cases whose name contains this")
    p.add_argument("-v", action="store_true", help="print every result")
    p.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    crashes = 0
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for c in CASES:
            if args.k not in c["name"]:
                continue
            for feed in (False, True):
                total += 1
                model, feeds = build(c, feed)
                path = os.path.join(tmp, "m.onnx")
                onnx.save(model, path)
                cmd = [args.octet, "run", path, "--max-memory", "2G"]
                if feeds:
                    np.savez(os.path.join(tmp, "in.npz"), **feeds)
                    cmd += ["--input", os.path.join(tmp, "in.npz")]
                label = f"{c['name']} [{'fed' if feed else 'const'}]"
                try:
                    r = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
                except subprocess.TimeoutExpired:
                    print(f"HANG   {label}")
                    crashes += 1
                    continue
                err = r.stderr.strip().splitlines()
                crashed = r.returncode not in (0, 1) or (r.returncode != 0 and not any("Error" in l or "error" in l for l in err))
                if crashed:
                    crashes += 1
                    why = [l.strip() for l in err if "Fatal error" in l or "fatal error" in l or "Crash" in l][:1]
                    where = [l.strip() for l in err if "/Sources/" in l][:1]
                    print(f"CRASH  {label}: exit {r.returncode}: {' | '.join(why + where)[:400]}")
                elif args.v:
                    print(f"{'ok   ' if r.returncode == 0 else 'error'}  {label}: {err[-1][:200] if err else ''}")
    print(f"{crashes} crashed of {total} runs")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
