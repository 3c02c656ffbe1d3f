"""Packed (1-bit) inference against the float model, in one run: bnn_mlp (seed 000) and bnn_conv.

For each model and batch size: the eval-mode float model (the library's forward under ``no_grad``) and its
packed form with each exact kernel of the binary layers -- ``xnor`` (XNOR-popcount on packed words),
``gemm`` (bits expanded to ±1, one BLAS GEMM) and ``auto`` (per layer and input shape, the faster of the
two, timed once) -- alternated A B A B over ``--repeats`` rounds; the fastest round of each (on shared cores
the slower rounds measure the other processes) and ratios to float. The outputs of
all three kernels are checked equal before timing. Weights: a trained checkpoint (``--checkpoint NAME=PATH``)
or a fresh model with random BatchNorm statistics (timings do not depend on the values).

    python benchmarks/bench_packed.py
    python benchmarks/bench_packed.py --checkpoint bnn_conv=runs/bnn_conv/last.npz --json benchmarks/packed.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

import tinycompress as tc
from tinycompress import models, nn
from tinycompress.compress.deploy import export

SHAPES = {"flat": (784,), "image": (1, 28, 28)}


def _model(name, checkpoint, rng):
    if checkpoint:
        from tinycompress.cli import model_from_checkpoint
        return model_from_checkpoint(checkpoint)[0].eval()
    tc.manual_seed(0)
    model = models.build(name)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.array[...] = rng.normal(0, 5, c)
            m.running_var.array[...] = rng.uniform(1, 50, c)
    return model.eval()


def _median_seconds(fn, reps, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        out.append((time.perf_counter() - t0) / reps)
    return out


def bench(name, checkpoint, batches, repeats, rng) -> dict:
    model = _model(name, checkpoint, rng)
    packed = export(model)
    result = {"bytes": {"float_parameters": int(sum(p.array.nbytes for p in model.parameters())),
                        "packed": packed.nbytes}, "batches": {}}
    for b in batches:
        packed = export(model)                                             # fresh 'auto' choices per batch size
        x = rng.uniform(-1, 1, (b,) + SHAPES[models.recipe(name).input]).astype(np.float32)
        outs = {}
        for kernel in ("xnor", "gemm", "auto"):
            packed.kernel = kernel
            outs[kernel] = packed(x)                                     # also warms 'auto''s choice
        assert all(np.array_equal(outs["xnor"], o) for o in outs.values()), "kernels disagree"
        reps = max(1, int(50 / b))

        def float_forward():
            with tc.no_grad():
                model(tc.tensor(x))
        times = {k: [] for k in ("float", "xnor", "gemm", "auto")}
        for _ in range(repeats):                                          # A B A B: float, then each kernel
            times["float"] += _median_seconds(float_forward, reps, 1)
            for kernel in ("xnor", "gemm", "auto"):
                packed.kernel = kernel
                times[kernel] += _median_seconds(lambda: packed(x), reps, 1)
        med = {k: min(v) for k, v in times.items()}             # the fastest round: the code, not the neighbours
        choices = {op.name or op.kind: next((v for v in op._cache.values() if isinstance(v, str)), "")
                   for op in _binary_ops(packed) if op.binary_input}
        result["batches"][str(b)] = {"ms": {k: 1e3 * v for k, v in med.items()},
                                     "float_over_packed": {k: med["float"] / med[k] for k in ("xnor", "gemm", "auto")},
                                     "auto_choice": choices}
    return result


def _binary_ops(deployed):
    from tinycompress.compress.deploy.runtime import _Binary, walk
    return [op for _, op in walk(deployed.ops) if isinstance(op, _Binary)]


def markdown(results: dict) -> str:
    """The README's table: milliseconds per forward (fastest round), float / packed ratio, auto's choices."""
    rows = ["| model | batch | float | xnor | gemm | auto | float / auto | auto's kernel per binary-input layer |",
            "|---|---|---|---|---|---|---|---|"]
    for name, res in results.items():
        for b, t in res["batches"].items():
            ms = t["ms"]
            rows.append(f"| `{name}` | {b} | {ms['float']:.2f} | {ms['xnor']:.2f} | {ms['gemm']:.2f} | {ms['auto']:.2f} "
                        f"| **{t['float_over_packed']['auto']:.1f}×** | {', '.join(t['auto_choice'].values())} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["bnn_mlp", "bnn_conv"])
    ap.add_argument("--batches", nargs="+", type=int, default=[1, 100])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--checkpoint", action="append", default=[], metavar="NAME=PATH")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    checkpoints = dict(c.split("=", 1) for c in args.checkpoint)
    rng = np.random.default_rng(0)
    results = {}
    print(f"{'model':10} {'batch':>5} {'float ms':>10} {'xnor ms':>9} {'gemm ms':>9} {'auto ms':>9} "
          f"{'float/auto':>10}  auto's choice per binary layer")
    for name in args.models:
        r = results[name] = bench(name, checkpoints.get(name), args.batches, args.repeats, rng)
        for b, t in r["batches"].items():
            ms = t["ms"]
            print(f"{name:10} {b:>5} {ms['float']:10.3f} {ms['xnor']:9.3f} {ms['gemm']:9.3f} {ms['auto']:9.3f} "
                  f"{t['float_over_packed']['auto']:9.2f}x  {', '.join(t['auto_choice'].values())}")
        print(f"{name:10} bytes: float parameters {r['bytes']['float_parameters']:,}, packed {r['bytes']['packed']:,}")
    print()
    print(markdown(results))
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"repeats": args.repeats, "results": results}, f, indent=2)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
