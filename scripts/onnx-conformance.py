#!/usr/bin/env python3
"""ONNX's own node conformance suite, run through Octet (or ONNX Runtime, for comparison).

The cases are the ones the pinned `onnx` package generates
(`onnx.backend.test.case.node.collect_testcases`): one model per case with its inputs and
expected outputs. Only cases whose inputs and outputs are all non-string tensors are kept
(sequences, optionals and string tensors are outside what Octet represents). Each case is
compared as onnx's backend test runner compares (`Runner.assert_similar_outputs`): the same
number of outputs, the same shape and element type, then `numpy.testing.assert_allclose`
with the case's rtol/atol (1e-3 / 1e-7 for every node case in onnx 1.23; bfloat16 outputs at
least two bfloat16 ULPs of rtol).

Octet runs every case in one process (`octet run-batch`, a hidden subcommand reading JSON
lines); a crash or a case that takes longer than --timeout is recorded as such and the batch
restarts after it.

  scripts/onnx-conformance.py                      # run, print per-case status and totals
  scripts/onnx-conformance.py --check              # and fail on any regression against the expectations file
  scripts/onnx-conformance.py --update             # rewrite the expectations file from this run
  scripts/onnx-conformance.py --runtime ort        # the same harness over ONNX Runtime
  scripts/onnx-conformance.py -k 'test_slice'      # only cases whose name matches the regex
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXPECTATIONS = ROOT / "Tests" / "ONNXConformance" / "expectations.json"
DEFAULT_CACHE = ROOT / ".build" / "onnx-conformance"


# ---------------------------------------------------------------------------------------------
# The cases


def _is_tensor(x) -> bool:
    return isinstance(x, (np.ndarray, np.generic, onnx.TensorProto))


def _is_string(x) -> bool:
    if isinstance(x, onnx.TensorProto):
        return x.data_type == onnx.TensorProto.STRING
    return x.dtype == object or x.dtype.kind in "US"


def _to_proto(x, name: str) -> onnx.TensorProto:
    if isinstance(x, onnx.TensorProto):
        t = onnx.TensorProto()
        t.CopyFrom(x)
        t.name = name
        return t
    return numpy_helper.from_array(np.asarray(x), name=name)


def generate(cache: Path) -> Path:
    """Writes every tensor case under cache/onnx-<version>/<case>/ once; returns that folder."""
    folder = cache / f"onnx-{onnx.__version__}"
    stamp = folder / "manifest.json"
    if stamp.exists():
        return folder
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = collect_testcases()
    tmp = Path(tempfile.mkdtemp(prefix="gen-", dir=cache if cache.exists() else None))
    manifest = {}
    for c in cases:
        (inputs, outputs), = c.data_sets
        values = list(inputs) + list(outputs)
        if not all(_is_tensor(x) for x in values) or any(_is_string(x) for x in values):
            continue
        d = tmp / c.name
        d.mkdir(parents=True)
        onnx.save(c.model, str(d / "model.onnx"))
        graph_inputs = [i.name for i in c.model.graph.input if i.name not in {t.name for t in c.model.graph.initializer}]
        for i, x in enumerate(inputs):
            (d / f"input_{i}.pb").write_bytes(_to_proto(x, graph_inputs[i]).SerializeToString())
        for i, x in enumerate(outputs):
            (d / f"output_{i}.pb").write_bytes(_to_proto(x, c.model.graph.output[i].name).SerializeToString())
        manifest[c.name] = {"inputs": graph_inputs[: len(inputs)], "outputs": len(outputs), "rtol": c.rtol, "atol": c.atol}
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder


def load_proto(path: Path) -> np.ndarray:
    t = onnx.TensorProto()
    t.ParseFromString(path.read_bytes())
    return numpy_helper.to_array(t)


# ---------------------------------------------------------------------------------------------
# Comparison, as onnx.backend.test.runner.Runner.assert_similar_outputs


def compare(expected: list[np.ndarray], got: list[np.ndarray], rtol: float, atol: float) -> str | None:
    if len(got) != len(expected):
        return f"{len(got)} outputs, expected {len(expected)}"
    for i, (ref, out) in enumerate(zip(expected, got)):
        if tuple(out.shape) != tuple(ref.shape):
            return f"output {i}: shape {tuple(out.shape)}, expected {tuple(ref.shape)}"
        if out.dtype != ref.dtype:
            return f"output {i}: dtype {out.dtype}, expected {ref.dtype}"
        r = rtol
        if out.dtype.name == "bfloat16":
            r = max(rtol, 2**-6)
            out, ref = out.astype(np.float32), ref.astype(np.float32)
        try:
            np.testing.assert_allclose(out, ref, rtol=r, atol=atol)
        except AssertionError as e:
            lines = [l.strip() for l in str(e).splitlines() if l.strip().startswith(("Mismatched", "Max absolute", "Max relative"))]
            return f"output {i}: " + "; ".join(lines)
        except TypeError as e:
            return f"output {i}: {e}"
    return None


# ---------------------------------------------------------------------------------------------
# Runners


class OctetBatch:
    """`octet run-batch` over the cases; yields (case, status, detail)."""

    def __init__(self, octet: Path, timeout: float, work: Path, freeze: bool = False):
        self.octet, self.timeout, self.work, self.freeze = octet, timeout, work, freeze

    def _model(self, case_dir: Path, names: list[str], case: str) -> tuple[str, list[str]]:
        """The model to run and the inputs it still takes (see --freeze-inputs)."""
        if not self.freeze or len(names) < 2:
            return str(case_dir / "model.onnx"), names
        target = self.work / "frozen" / case / "model.onnx"
        if not target.exists():
            m = onnx.load(str(case_dir / "model.onnx"))
            frozen = names[1:]
            for i, name in enumerate(names[1:], start=1):
                t = onnx.TensorProto()
                t.ParseFromString((case_dir / f"input_{i}.pb").read_bytes())
                t.name = name
                m.graph.initializer.append(t)
            kept = [v for v in m.graph.input if v.name not in frozen]
            del m.graph.input[:]
            m.graph.input.extend(kept)
            target.parent.mkdir(parents=True, exist_ok=True)
            onnx.save(m, str(target))
        return str(target), names[:1]

    def _npy_inputs(self, case_dir: Path, names: list[str], case: str) -> dict[str, str] | str:
        feeds = {}
        for i, name in enumerate(names):
            target = self.work / "in" / case / f"input_{i}.npy"
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                a = load_proto(case_dir / f"input_{i}.pb")
                try:
                    np.save(target, a, allow_pickle=False)
                except Exception as e:  # element types numpy cannot store; Octet refuses them at load anyway
                    return f"input {i} cannot be written as .npy: {e}"
            feeds[name] = str(target)
        return feeds

    def run(self, folder: Path, manifest: dict, names: list[str]):
        pending = list(names)
        while pending:
            requests = []
            for name in pending:
                model, inputs = self._model(folder / name, manifest[name]["inputs"], name)
                feeds = self._npy_inputs(folder / name, inputs, name)
                requests.append({"case": name, "model": model,
                                 "inputs": feeds if isinstance(feeds, dict) else {},
                                 "output_dir": str(self.work / "out" / name)})
            stderr = open(self.work / "stderr.txt", "w+b")
            proc = subprocess.Popen([str(self.octet), "run-batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=stderr, text=True, bufsize=1)
            lines: queue.Queue = queue.Queue()

            def feed():
                try:
                    for r in requests:
                        proc.stdin.write(json.dumps(r) + "\n")
                    proc.stdin.close()
                except (BrokenPipeError, OSError):
                    pass

            def read():
                for line in proc.stdout:
                    lines.put(line)
                lines.put(None)

            threading.Thread(target=feed, daemon=True).start()
            threading.Thread(target=read, daemon=True).start()
            done: set[str] = set()
            current = None
            while True:
                try:
                    line = lines.get(timeout=self.timeout)
                except queue.Empty:
                    proc.kill()
                    proc.wait()
                    if current is not None:
                        done.add(current)
                        yield current, "timeout", f"no result within {self.timeout:.0f} s"
                    break
                if line is None:
                    rc = proc.wait()
                    if current is not None:
                        stderr.seek(0)
                        tail = stderr.read().decode(errors="replace").strip().splitlines()[-3:]
                        done.add(current)
                        yield current, "crash", f"exit status {rc}: " + " | ".join(tail)
                    break
                msg = json.loads(line)
                event, case = msg.get("event"), msg.get("case")
                if event == "start":
                    current = case
                    continue
                current = None
                done.add(case)
                if event == "refused":
                    yield case, "refused", f"{msg['stage']}: {msg['error']}"
                elif event == "ran":
                    yield case, None, msg["outputs"]
            stderr.close()
            pending = [n for n in pending if n not in done]


def run_octet(octet: Path, folder: Path, manifest: dict, names: list[str], timeout: float, freeze: bool = False):
    with tempfile.TemporaryDirectory(prefix="octet-conformance-") as work:
        batch = OctetBatch(octet, timeout, Path(work), freeze)
        for case, status, detail in batch.run(folder, manifest, names):
            if status is not None:
                yield case, status, detail
                continue
            m = manifest[case]
            expected = [load_proto(folder / case / f"output_{i}.pb") for i in range(m["outputs"])]
            got = []
            for i in range(m["outputs"]):
                p = Path(work) / "out" / case / f"output_{i}.npy"
                if not p.exists():
                    break
                a = np.load(p, allow_pickle=False)
                # .npy has no bfloat16 code: Octet writes it as the 2-byte void '<V2' (as
                # NumPy does); read it back as bfloat16 where the reference is bfloat16.
                if a.dtype.kind == "V" and a.dtype.itemsize == 2 and i < len(expected) and expected[i].dtype.name == "bfloat16":
                    a = a.view(expected[i].dtype)
                got.append(a)
            problem = compare(expected, got, m["rtol"], m["atol"])
            yield case, ("fail" if problem else "pass"), problem


def run_ort(folder: Path, manifest: dict, names: list[str]):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    for case in names:
        m = manifest[case]
        d = folder / case
        try:
            sess = ort.InferenceSession(str(d / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        except Exception as e:
            yield case, "refused", f"load: {str(e).splitlines()[0][:300]}"
            continue
        feeds = {n: load_proto(d / f"input_{i}.pb") for i, n in enumerate(m["inputs"])}
        try:
            got = sess.run(None, feeds)
        except Exception as e:
            yield case, "refused", f"run: {str(e).splitlines()[0][:300]}"
            continue
        expected = [load_proto(d / f"output_{i}.pb") for i in range(m["outputs"])]
        problem = compare(expected, [np.asarray(g) for g in got], m["rtol"], m["atol"])
        yield case, ("fail" if problem else "pass"), problem


# ---------------------------------------------------------------------------------------------
# Refusal causes


def cause(detail: str) -> str:
    if m := re.search(r"opset (\d+) of the default domain is not supported", detail):
        return f"opset {m.group(1)} not read"
    if m := re.search(r"op ([\w.]+) \(opset \d+\) is not supported", detail):
        return f"unsupported op {m.group(1)}"
    if m := re.search(r"element type (\w+) is not supported", detail):
        return f"element type {m.group(1)}"
    if m := re.search(r"\((\w+)\): the shape of output \d+ cannot be determined before running", detail):
        return f"shape known only when running (values of an input): {m.group(1)}"
    if "cannot be written as .npy" in detail or "npy" in detail and "descr" in detail:
        return "input element type not in .npy"
    text = re.sub(r"^\w+: (/\S+: )?", "", detail)
    text = re.sub(r"'[^']*'", "'…'", text)
    text = re.sub(r"\d+", "N", text)
    return "other: " + text[:90]


# ---------------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--octet", default=str(ROOT / ".build" / "debug" / "octet"), help="the octet executable (default: .build/debug/octet)")
    ap.add_argument("--runtime", choices=["octet", "ort"], default="octet")
    ap.add_argument("--cache", default=str(DEFAULT_CACHE), help="where the generated cases are kept")
    ap.add_argument("--expectations", default=str(DEFAULT_EXPECTATIONS))
    ap.add_argument("--check", action="store_true", help="fail on any regression against the expectations file")
    ap.add_argument("--update", action="store_true", help="rewrite the expectations file (Octet statuses; ORT's with --runtime ort)")
    ap.add_argument("-k", "--filter", help="only cases whose name matches this regex")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds one case may take (default 30)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no per-case lines, only failures, totals and causes")
    ap.add_argument("--json", help="write every case's status and detail to this file")
    ap.add_argument("--freeze-inputs", action="store_true",
                    help="diagnostic, not the suite: every graph input but the first becomes a constant holding the case's value "
                         "(what planning with shapes computed from run-time values would unlock); refused with --check/--update")
    args = ap.parse_args()
    if args.freeze_inputs and (args.check or args.update or args.runtime != "octet"):
        ap.error("--freeze-inputs is a diagnostic for Octet: it changes the cases, so it cannot check or update the expectations")

    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    folder = generate(cache)
    manifest = json.loads((folder / "manifest.json").read_text())
    names = sorted(manifest)
    if args.filter:
        names = [n for n in names if re.search(args.filter, n)]

    if args.runtime == "octet":
        octet = Path(args.octet)
        if not octet.exists():
            print(f"{octet} does not exist: build first (swift build)", file=sys.stderr)
            return 2
        results_iter = run_octet(octet, folder, manifest, names, args.timeout, args.freeze_inputs)
    else:
        results_iter = run_ort(folder, manifest, names)

    results: dict[str, tuple[str, str | None]] = {}
    for case, status, detail in results_iter:
        results[case] = (status, detail)
        if not args.quiet or status in ("crash", "timeout"):
            print(f"{status:8} {case}" + (f"  {detail}" if detail and status != "pass" else ""), flush=True)
    elapsed = time.monotonic() - started

    totals = Counter(s for s, _ in results.values())
    label = ("Octet" + (" (inputs after the first frozen: a diagnostic)" if args.freeze_inputs else "")) if args.runtime == "octet" else "ONNX Runtime"
    print(f"\n{label}: {len(results)} cases (onnx {onnx.__version__}): "
          + ", ".join(f"{totals[k]} {k}" for k in ("pass", "fail", "refused", "crash", "timeout") if totals[k] or k in ("pass", "fail", "refused"))
          + f"  [{elapsed:.0f} s]")
    causes = Counter(cause(d or "") for s, d in results.values() if s == "refused")
    if causes:
        print("refusals by cause:")
        for c, n in causes.most_common(40):
            print(f"  {n:5}  {c}")

    if args.json:
        Path(args.json).write_text(json.dumps({k: {"status": s, "detail": d if isinstance(d, str) else None} for k, (s, d) in sorted(results.items())}, indent=1))

    exp_path = Path(args.expectations)
    expectations = json.loads(exp_path.read_text()) if exp_path.exists() else {"onnx": onnx.__version__, "cases": {}}
    rc = 0
    if args.check and args.runtime == "octet":
        rc = check(expectations, results, filtered=bool(args.filter))
    if args.update:
        update(expectations, results, args.runtime, full=not args.filter)
        exp_path.parent.mkdir(parents=True, exist_ok=True)
        exp_path.write_text(json.dumps(expectations, indent=1, sort_keys=True) + "\n")
        print(f"wrote {exp_path}")
    if totals["crash"] or totals["timeout"]:
        rc = rc or 1
    return rc


def check(expectations: dict, results: dict, filtered: bool) -> int:
    cases = expectations.get("cases", {})
    if expectations.get("onnx") != onnx.__version__:
        print(f"note: the expectations were written with onnx {expectations.get('onnx')}, this is onnx {onnx.__version__}")
    regressions = [c for c, e in cases.items() if e.get("octet") == "pass" and c in results and results[c][0] != "pass"]
    if not filtered:
        regressions += [c for c, e in cases.items() if e.get("octet") == "pass" and c not in results]
    improvements = [c for c, (s, _) in results.items() if s == "pass" and cases.get(c, {}).get("octet") != "pass"]
    for c in sorted(improvements):
        print(f"improved: {c} (was {cases.get(c, {}).get('octet', 'new')})")
    for c in sorted(regressions):
        s, d = results.get(c, ("missing", None))
        print(f"REGRESSION: {c}: {s}" + (f"  {d}" if isinstance(d, str) else ""))
    if improvements:
        print(f"{len(improvements)} cases pass that the expectations do not record: run with --update")
    if regressions:
        print(f"{len(regressions)} regressions")
        return 1
    print("no regressions")
    return 0


def _portable(text: str) -> str:
    """A reason without this machine's paths."""
    return re.sub(r"/\S*/(test_\w+)/(model\.onnx|input_\d+\.npy)", r"\1/\2", text)


def update(expectations: dict, results: dict, runtime: str, full: bool):
    expectations["onnx"] = onnx.__version__
    cases = expectations.setdefault("cases", {})
    key = "octet" if runtime == "octet" else "ort"
    if full:
        for c in list(cases):
            if c not in results:
                cases[c].pop(key, None)
    for c, (s, d) in results.items():
        e = cases.setdefault(c, {})
        e[key] = s
        reason_key = "reason" if runtime == "octet" else "ort_reason"
        if s != "pass" and isinstance(d, str):
            e[reason_key] = _portable(d if s != "refused" else cause(d) if not cause(d).startswith("other") else d[:300])
        else:
            e.pop(reason_key, None)
    for c in list(cases):
        if not cases[c]:
            del cases[c]


if __name__ == "__main__":
    sys.exit(main())
