"""Where a training step's time goes: each Function's forward and backward (the NumPy kernels), the
optimizer step, and what is left -- the engine's own bookkeeping (graph recording, the backward walk,
gradient accumulation) and Python around it.

    python benchmarks/profile_step.py                       # conv_bn_net, batch 64, SGD
    python benchmarks/profile_step.py --model bnn_mlp --steps 20

Every Function subclass's ``forward``/``backward`` is wrapped with a timer for the profiled steps; the
split is of those same steps (so it adds up; the timers' own cost lands in "the rest"), and the step time
without timers is printed beside it.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.autograd.function import Function


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _instrument(totals: dict) -> None:
    """Wrap every Function's forward and backward so that their wall time adds into ``totals``."""
    for cls in set(_subclasses(Function)):
        for kind in ("forward", "backward"):
            fn = cls.__dict__.get(kind)
            if fn is None:
                continue
            fn = fn.__func__ if isinstance(fn, staticmethod) else fn

            def timed(*args, _fn=fn, _key=f"{cls.__name__}.{kind}", **kwargs):
                start = time.perf_counter()
                out = _fn(*args, **kwargs)
                totals[_key] += time.perf_counter() - start
                return out
            setattr(cls, kind, staticmethod(timed))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="conv_bn_net", choices=models.names())
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args(argv)
    tc.manual_seed(0)
    recipe = models.recipe(args.model)
    model = models.build(args.model)
    shape = (recipe.batch_size, 784) if recipe.input == "flat" else (recipe.batch_size, 1, 28, 28)
    rng = np.random.default_rng(0)
    xs = [tc.from_numpy(rng.standard_normal(shape).astype(np.float32)) for _ in range(args.steps)]
    ys = [tc.from_numpy(rng.integers(0, 10, recipe.batch_size)) for _ in range(args.steps)]
    from tinycompress.train import make_optimizer
    optimizer = make_optimizer(recipe, model.parameters())

    def steps(split: dict) -> None:
        for x, y in zip(xs, ys):
            started = time.perf_counter()
            loss = tc.nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            stepped = time.perf_counter()
            optimizer.step()
            split["optimizer.step"] += time.perf_counter() - stepped
            split["whole step"] += time.perf_counter() - started

    steps(collections.defaultdict(float))                                   # warm up
    plain = collections.defaultdict(float)
    steps(plain)
    kernels, timed = collections.defaultdict(float), collections.defaultdict(float)
    _instrument(kernels)
    steps(timed)
    per_step = 1e3 / args.steps
    whole, opt = timed["whole step"] * per_step, timed["optimizer.step"] * per_step
    in_kernels = sum(kernels.values()) * per_step
    print(f"{args.model}, batch {recipe.batch_size}, {recipe.optimizer}: {plain['whole step'] * per_step:.2f} ms per "
          f"training step ({whole:.2f} ms with the timers)")
    for key, seconds in sorted(kernels.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<28}{seconds * per_step:8.3f} ms  {100 * seconds * per_step / whole:5.1f}%")
    print(f"  {'Function kernels, all':<28}{in_kernels:8.3f} ms  {100 * in_kernels / whole:5.1f}%")
    print(f"  {'optimizer.step':<28}{opt:8.3f} ms  {100 * opt / whole:5.1f}%")
    rest = whole - in_kernels - opt
    print(f"  {'engine + Python (the rest)':<28}{rest:8.3f} ms  {100 * rest / whole:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
