#!/usr/bin/env python3
"""A deterministic extremes sweep for fuzz-onnx: the traps libFuzzer finds one by one, in minutes.

Seeds: every ONNX node conformance case (as scripts/onnx-conformance.py generates them, with
test_data_set_0's integer inputs and small float inputs turned into initializers so shapes and
values are constant; float data inputs stay graph inputs with their declared shapes), the
models under Tests/Models and Models (< 1 MiB), and Tests/Fuzz/corpus/onnx.

Mutations, one per written model: each int attribute -> each extreme (Int64 min, min+1, -2^62,
-2^32, -2, -1, 0, 1, 2, 3, 2^31, 2^32, 2^62, max-1, max); each ints attribute element -> each
extreme, the whole list -> each extreme, the list shortened, lengthened, emptied; each int64 /
int32 initializer (or tensor attribute) element among the first 8, and the whole tensor, -> each
extreme (int32 extremes for int32); each float attribute and float tensor element (first 4, and
the whole tensor) -> NaN, +inf, -inf, 0, 3.4e38; each declared input dimension -> 0, 1, 2^31.
Every seed's mutations are shuffled with --seed, then taken round-robin across seeds (the
unmutated seeds first) until --limit, so a small limit still touches every op.

Replay: the AddressSanitizer fuzz-onnx (scripts/fuzz build) runs the files in batches with
CI's limits (-malloc_limit_mb=256, -rss_limit_mb=2048) and a per-file -timeout; a crash ends
the process, so the crashing file (the last `Running:` without `Executed`) is recorded with
the first Octet frame of its stack (file:line under Sources/) and the batch goes on after it.
Findings are grouped by that frame; up to --keep examples of each, with the log of the first,
are copied to --findings/<frame>/, and a table (frame, kind, count, ops, mutations, example)
is printed and written to --findings/summary.md.

    scripts/fuzz-sweep.py                         generate 60000 models, replay them
    scripts/fuzz-sweep.py --limit 5000 --ops Tile,Pad     a quick sweep over some ops
    scripts/fuzz-sweep.py --no-generate           replay the folder again (after a fix)
    scripts/fuzz sweep [ARGS]                     the same, after building fuzz-onnx

--lock FILE takes an flock on FILE around each batch only, so other builds interleave.
"""
from __future__ import annotations

import argparse
import copy
import fcntl
import importlib.util
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

ROOT = Path(__file__).resolve().parent.parent

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
INT_EXTREMES = [
    (I64_MIN, "min"), (I64_MIN + 1, "min+1"), (-(2**62), "-2p62"), (-(2**32), "-2p32"), (-2, "-2"), (-1, "-1"),
    (0, "0"), (1, "1"), (2, "2"), (3, "3"), (2**31, "2p31"), (2**32, "2p32"), (2**62, "2p62"),
    (I64_MAX - 1, "max-1"), (I64_MAX, "max"),
]
I32_EXTREMES = [
    (-(2**31), "i32min"), (-(2**31) + 1, "i32min+1"), (-(2**30), "-2p30"), (-2, "-2"), (-1, "-1"), (0, "0"),
    (1, "1"), (2, "2"), (3, "3"), (2**30, "2p30"), (2**31 - 2, "i32max-1"), (2**31 - 1, "i32max"),
]
FLOAT_EXTREMES = [(float("nan"), "nan"), (float("inf"), "inf"), (float("-inf"), "-inf"), (0.0, "0"), (3.4e38, "3.4e38")]
DIM_EXTREMES = [(0, "0"), (1, "1"), (2**31, "2p31")]
INT_TYPES = {TensorProto.INT64: INT_EXTREMES, TensorProto.INT32: I32_EXTREMES}
FLOAT_TYPES = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16}
INTEGER_LIKE = {TensorProto.INT64, TensorProto.INT32, TensorProto.INT16, TensorProto.INT8, TensorProto.UINT64,
                TensorProto.UINT32, TensorProto.UINT16, TensorProto.UINT8, TensorProto.BOOL}
SMALL_FLOAT = 16  # float test inputs with at most this many elements become initializers
INT_ELEMENTS, FLOAT_ELEMENTS = 8, 4  # tensor elements mutated one by one (the whole tensor too)


# ---------------------------------------------------------------------------------------------
# Seeds


def conformance_cases(cache: Path) -> Path:
    """The generated node conformance cases (onnx-conformance.py's generate, which caches them)."""
    spec = importlib.util.spec_from_file_location("onnx_conformance", ROOT / "scripts" / "onnx-conformance.py")
    mod = importlib.util.module_from_spec(spec)
    sys.dont_write_bytecode = True  # no scripts/__pycache__
    spec.loader.exec_module(mod)
    cache.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mod.generate(cache)


def node_case_seed(case: Path) -> onnx.ModelProto | None:
    """A node case's model with its integer (and small float) inputs as initializers."""
    model = onnx.load(str(case / "model.onnx"))
    inputs = sorted(case.glob("input_*.pb"), key=lambda p: int(p.stem.split("_")[1]))
    for p in inputs:
        t = TensorProto()
        t.ParseFromString(p.read_bytes())
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if t.data_type in INTEGER_LIKE or (t.data_type in FLOAT_TYPES and n <= SMALL_FLOAT):
            keep = [i for i in model.graph.input if i.name != t.name]
            if len(keep) == len(model.graph.input):
                continue
            del model.graph.input[:]
            model.graph.input.extend(keep)
            model.graph.initializer.append(t)
    return model


def seeds(args) -> list[tuple[str, bytes]]:
    out: list[tuple[str, bytes]] = []
    if not args.no_node_cases:
        folder = conformance_cases(Path(args.cases))
        for case in sorted(p for p in folder.iterdir() if (p / "model.onnx").exists()):
            try:
                m = node_case_seed(case)
            except Exception as e:  # a case this onnx cannot read back: skip it
                print(f"sweep: skipping {case.name}: {e}", file=sys.stderr)
                continue
            out.append((case.name, m.SerializeToString()))
    files = sorted(p for d in ("Tests/Models", "Models") for p in (ROOT / d).rglob("*.onnx") if p.stat().st_size < 1 << 20)
    files += sorted((ROOT / "Tests/Fuzz/corpus/onnx").glob("*"))
    for p in files:
        out.append((str(p.relative_to(ROOT)).replace("/", "_").removesuffix(".onnx"), p.read_bytes()))
    return out


# ---------------------------------------------------------------------------------------------
# Mutations: (description, function(model) -> None) pairs, applied to a fresh copy each


def tensor_setter(get, index, value):
    """Sets element `index` (None: every element) of the tensor get(model) returns to value."""
    def apply(m):
        tp = get(m)
        a = numpy_helper.to_array(tp).copy()
        with np.errstate(over="ignore", invalid="ignore"):
            if index is None:
                a[...] = value
            else:
                a.reshape(-1)[index] = value
        tp.CopyFrom(numpy_helper.from_array(a, name=tp.name))
    return apply


def model_mutations(model: onnx.ModelProto) -> list[tuple[str, object]]:
    g = model.graph
    muts: list[tuple[str, object]] = []

    def tensor(where: str, t: TensorProto, get):
        if t.data_location == TensorProto.EXTERNAL:
            return
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        if t.data_type in INT_TYPES:
            extremes, count = INT_TYPES[t.data_type], INT_ELEMENTS
        elif t.data_type in FLOAT_TYPES and t.data_type != TensorProto.BFLOAT16:
            extremes, count = FLOAT_EXTREMES, FLOAT_ELEMENTS
        else:
            return
        for i in range(min(n, count)):
            for v, label in extremes:
                muts.append((f"{where}[{i}]={label}", tensor_setter(get, i, v)))
        if n > 1:
            for v, label in extremes:
                muts.append((f"{where}[*]={label}", tensor_setter(get, None, v)))

    for k, init in enumerate(g.initializer):
        tensor(f"init:{init.name}", init, lambda m, k=k: m.graph.initializer[k])

    for ni, node in enumerate(g.node):
        op = node.op_type
        for ai, attr in enumerate(node.attribute):
            where = f"{op}#{ni}.{attr.name}"
            get_attr = (lambda ni, ai: lambda m: m.graph.node[ni].attribute[ai])(ni, ai)
            if attr.type == AttributeProto.INT:
                for v, label in INT_EXTREMES:
                    muts.append((f"{where}={label}", (lambda get, v: lambda m: setattr(get(m), "i", v))(get_attr, v)))
            elif attr.type == AttributeProto.INTS:
                values = list(attr.ints)

                def set_ints(get, new):
                    def apply(m):
                        a = get(m)
                        del a.ints[:]
                        a.ints.extend(new)
                    return apply
                for i in range(len(values)):
                    for v, label in INT_EXTREMES:
                        new = values.copy()
                        new[i] = v
                        muts.append((f"{where}[{i}]={label}", set_ints(get_attr, new)))
                if len(values) > 1:
                    for v, label in INT_EXTREMES:
                        muts.append((f"{where}[*]={label}", set_ints(get_attr, [v] * len(values))))
                if values:
                    muts.append((f"{where}=shortened", set_ints(get_attr, values[:-1])))
                    muts.append((f"{where}=empty", set_ints(get_attr, [])))
                muts.append((f"{where}=lengthened", set_ints(get_attr, values + [values[-1] if values else 1])))
                muts.append((f"{where}=doubled", set_ints(get_attr, values + values + [1])))
            elif attr.type == AttributeProto.FLOAT:
                for v, label in FLOAT_EXTREMES:
                    muts.append((f"{where}={label}", (lambda get, v: lambda m: setattr(get(m), "f", v))(get_attr, v)))
            elif attr.type == AttributeProto.FLOATS:
                for i in range(min(len(attr.floats), FLOAT_ELEMENTS)):
                    for v, label in FLOAT_EXTREMES:
                        def set_float(get, i, v):
                            def apply(m):
                                get(m).floats[i] = v
                            return apply
                        muts.append((f"{where}[{i}]={label}", set_float(get_attr, i, v)))
            elif attr.type == AttributeProto.TENSOR:
                tensor(where, attr.t, (lambda get: lambda m: get(m).t)(get_attr))

    initialized = {t.name for t in g.initializer}
    for ii, inp in enumerate(g.input):
        if inp.name in initialized or not inp.type.HasField("tensor_type"):
            continue
        if not inp.type.tensor_type.HasField("shape"):
            continue
        for di in range(len(inp.type.tensor_type.shape.dim)):
            for v, label in DIM_EXTREMES:
                def set_dim(ii, di, v):
                    def apply(m):
                        d = m.graph.input[ii].type.tensor_type.shape.dim[di]
                        d.ClearField("dim_param")
                        d.dim_value = v
                    return apply
                muts.append((f"input:{inp.name}.dim{di}={label}", set_dim(ii, di, v)))
    return muts


def ops_of(model: onnx.ModelProto) -> str:
    return ",".join(sorted({n.op_type for n in model.graph.node})) or "-"


def slug(s: str, n: int = 80) -> str:
    return re.sub(r"[^A-Za-z0-9_.+=-]+", "_", s.replace("^", "p"))[:n]


def generate(args) -> None:
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    wanted_ops = set(args.ops.split(",")) if args.ops else None
    plans = []  # per seed: (name, model, shuffled mutations)
    for name, data in seeds(args):
        try:
            model = onnx.ModelProto()
            model.ParseFromString(data)
        except Exception:
            model = None
        if model is None:  # bytes that are no model: replay the seed alone
            plans.append((name, None, data, []))
            continue
        if wanted_ops and not (wanted_ops & {n.op_type for n in model.graph.node}):
            continue
        muts = model_mutations(model)
        random.Random(f"{args.seed}:{name}").shuffle(muts)
        plans.append((name, model, data, muts))
    total = sum(1 + len(p[3]) for p in plans)
    manifest = []
    count = 0
    # Round 0: every seed unmutated; round r: each seed's r-th mutation.
    rounds = max((len(p[3]) for p in plans), default=0) + 1
    for r in range(rounds):
        for name, model, data, muts in plans:
            if count >= args.limit:
                break
            if r == 0:
                desc, blob, ops = "seed", data, ops_of(model) if model is not None else "-"
            else:
                if r - 1 >= len(muts):
                    continue
                desc, apply = muts[r - 1]
                m = copy.deepcopy(model)
                try:
                    apply(m)
                    blob = m.SerializeToString()
                except Exception as e:  # a value numpy or protobuf cannot hold for this dtype
                    continue
                ops = ops_of(model)
            fname = f"{count:06d}-{slug(name, 50)}--{slug(desc)}.onnx"
            (out / fname).write_bytes(blob)
            manifest.append({"file": fname, "seed": name, "ops": ops, "mutation": desc})
            count += 1
        if count >= args.limit:
            break
    (out / "manifest.json").write_text(json.dumps(manifest, indent=0))
    print(f"sweep: {len(plans)} seeds, {total} possible models, wrote {count} to {out}")


# ---------------------------------------------------------------------------------------------
# Replay

FRAME = re.compile(r"^\s*#\d+ 0x[0-9a-f]+ in (\S+) (/\S+?):(\d+)(?::\d+)?\s*$")


def top_octet_frame(log: str) -> str:
    """The first stack frame in a source file under Sources/ (not the fuzz targets), as file:line."""
    for line in log.splitlines():
        m = FRAME.match(line)
        if m and "/Sources/" in m.group(2) and "/Tests/Fuzz/" not in m.group(2):
            path = m.group(2)
            return f"{path[path.index('/Sources/') + 1:]}:{m.group(3)}"
    for line in log.splitlines():  # no Octet frame: the first symbolized function
        m = re.match(r"^\s*#\d+ 0x[0-9a-f]+ in (\S+)", line)
        if m and "__sanitizer" not in m.group(1) and "fuzzer::" not in m.group(1) and "asan" not in m.group(1):
            return f"(no Octet frame) {m.group(1)[:80]}"
    return "(no stack)"


def crash_kind(log: str) -> str:
    m = re.search(r"in Swift runtime failure: (.*?) /", log)
    if m:
        return m.group(1)
    m = re.search(r"out-of-memory \(malloc\((\d+)\)\)|allocator is trying to allocate (0x[0-9a-f]+) bytes", log)
    if m:
        size = int(m.group(1)) if m.group(1) else int(m.group(2), 16)
        return f"allocation of {size / 2**20:.0f} MiB"
    for pat in (r"Fatal error: ([^\n]*)", r"ERROR: AddressSanitizer: ([^\n]*?)( on address|$)", r"ERROR: libFuzzer: ([^\n]*)"):
        m = re.search(pat, log, re.M)
        if m:
            return m.group(1).strip()[:100]
    return "exit without report"


class Lock:
    """An flock on `path` (None: no lock), held across batches for up to `hold` seconds."""

    def __init__(self, path: str | None, hold: float):
        self.path, self.hold, self.f, self.since = path, hold, None, 0.0

    def take(self):
        if self.path and self.f is None:
            self.f = open(self.path, "a+")
            fcntl.flock(self.f, fcntl.LOCK_EX)
            self.since = time.time()

    def maybe_release(self):
        if self.f is not None and time.time() - self.since >= self.hold:
            self.release()

    def release(self):
        if self.f is not None:
            fcntl.flock(self.f, fcntl.LOCK_UN)
            self.f.close()
            self.f = None


def finding_folder(findings: Path, frame: str) -> Path:
    return findings / slug(frame.replace("/", "_").replace(":", "_L"), 120)


def keep(findings: Path, frame: str, hits: list, folder: Path, count: int) -> None:
    """Copies a new crash's file (the first `count` of its frame) and the first one's log, as found."""
    if len(hits) > count:
        return
    d = finding_folder(findings, frame)
    d.mkdir(parents=True, exist_ok=True)
    name, _, log = hits[-1]
    shutil.copy(folder / name, d / name)
    if len(hits) == 1:
        (d / "first.log").write_text(log)


def replay(args) -> int:
    folder = Path(args.out)
    manifest = {e["file"]: e for e in json.loads((folder / "manifest.json").read_text())}
    files = sorted(manifest)
    binary = Path(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"sweep: no {binary} (build it: scripts/fuzz build)")
    env = dict(os.environ, SWIFT_BACKTRACE="enable=no",
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "detect_leaks=0:allocator_may_return_null=0"))
    limits = ["-rss_limit_mb=2048", "-malloc_limit_mb=256", f"-timeout={args.timeout}", "-detect_leaks=0"]
    scratch = Path(tempfile.mkdtemp(prefix="sweep-"))
    findings = Path(args.findings)
    if findings.exists():
        shutil.rmtree(findings)
    findings.mkdir(parents=True)
    groups: dict[str, list] = defaultdict(list)  # frame -> [(file, kind, log)]
    start = time.time()
    lock = Lock(args.lock, args.lock_seconds)
    done = i = args.skip
    while i < len(files):
        if args.max_minutes and time.time() - start > args.max_minutes * 60:
            print(f"sweep: stopped after {args.max_minutes} min with {len(files) - i} files left", file=sys.stderr)
            break
        batch = files[i:i + args.batch]
        lock.take()
        cmd = [str(binary), *limits, f"-artifact_prefix={scratch}/", *[str(folder / f) for f in batch]]
        try:
            p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=scratch,
                               timeout=args.timeout * 3 + 60 + len(batch))
            log, rc = p.stdout.decode("utf-8", "replace"), p.returncode
        except subprocess.TimeoutExpired as e:
            log, rc = (e.stdout or b"").decode("utf-8", "replace") + "\nERROR: libFuzzer: timeout (killed by the sweep)", -9
        lock.maybe_release()
        running = re.findall(r"^Running: (\S+)$", log, re.M)
        executed = set(re.findall(r"^Executed (\S+) in", log, re.M))
        if rc == 0:
            i += len(batch)
            done += len(batch)
        else:
            crashed = next((r for r in reversed(running) if r not in executed), None)
            if crashed is None:  # crashed before running a file: record the batch's first, move on
                crashed = str(folder / batch[0])
            name = Path(crashed).name
            pos = batch.index(name) if name in batch else 0
            frame = top_octet_frame(log)
            groups[frame].append((name, crash_kind(log), log))
            keep(findings, frame, groups[frame], folder, args.keep)
            i += pos + 1
            done += pos + 1
            print(f"sweep: {frame}  {crash_kind(log)}  {name}", flush=True)
        if args.progress:
            print(f"sweep: {done}/{len(files)} files, {sum(len(v) for v in groups.values())} crashes, "
                  f"{time.time() - start:.0f} s", file=sys.stderr, flush=True)
    lock.release()
    shutil.rmtree(scratch, ignore_errors=True)

    rows = []
    for frame, hits in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        d = finding_folder(findings, frame)
        ops = sorted({manifest[h[0]]["ops"] for h in hits})
        muts = sorted({re.sub(r"#\d+", "", manifest[h[0]]["mutation"]) for h in hits})
        kinds = sorted({h[1] for h in hits})
        rows.append((frame, "; ".join(kinds), len(hits), ", ".join(ops)[:120], ", ".join(muts)[:200], str(d / hits[0][0])))
    lines = [f"fuzz-sweep: {done} of {len(files)} files replayed in {time.time() - start:.0f} s, "
             f"{sum(r[2] for r in rows)} crashes, {len(rows)} distinct frames", "",
             "| frame | kind | count | ops | mutations | example |", "|---|---|---|---|---|---|"]
    lines += [f"| {' | '.join(str(c) for c in r)} |" for r in rows]
    text = "\n".join(lines)
    (findings / "summary.md").write_text(text + "\n")
    (findings / "summary.json").write_text(json.dumps([dict(zip(("frame", "kind", "count", "ops", "mutations", "example"), r))
                                                       for r in rows], indent=1))
    print(text)
    return 1 if rows else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(ROOT / ".build-fuzz" / "sweep"), help="folder for the generated models")
    ap.add_argument("--findings", default=str(ROOT / ".build-fuzz" / "sweep-findings"), help="folder for crash examples")
    ap.add_argument("--limit", type=int, default=60000, help="models to write (round-robin over seeds)")
    ap.add_argument("--seed", default="octet", help="the shuffle's seed (same seed, same models)")
    ap.add_argument("--ops", help="only seeds with one of these op types (comma separated)")
    ap.add_argument("--cases", default=str(ROOT / ".build" / "onnx-conformance"), help="onnx-conformance.py's cache")
    ap.add_argument("--no-node-cases", action="store_true", help="seed with the repository's models only")
    ap.add_argument("--no-generate", action="store_true", help="replay --out as it is")
    ap.add_argument("--no-replay", action="store_true", help="only write the models")
    ap.add_argument("--binary", default=str(ROOT / ".build-fuzz" / "release" / "fuzz-onnx"))
    ap.add_argument("--timeout", type=int, default=30, help="seconds per file (CI's fuzz runs use 30)")
    ap.add_argument("--batch", type=int, default=500, help="files per fuzz-onnx process")
    ap.add_argument("--keep", type=int, default=3, help="examples kept per distinct frame")
    ap.add_argument("--lock", help="flock this file around each batch (e.g. /tmp/octet-build.lock)")
    ap.add_argument("--lock-seconds", type=float, default=60, help="hold --lock across batches this long")
    ap.add_argument("--skip", type=int, default=0, help="start replaying at this file (resume a stopped sweep)")
    ap.add_argument("--max-minutes", type=float, default=0, help="stop replaying after this long (0: no limit)")
    ap.add_argument("--progress", action="store_true", help="a line per batch on stderr")
    args = ap.parse_args()
    if not args.no_generate:
        generate(args)
    if args.no_replay:
        return 0
    return replay(args)


if __name__ == "__main__":
    sys.exit(main())
