"""Where a training step's time goes: each Function's forward and backward (the NumPy kernels), the
optimizer step, and what is left -- the engine's own bookkeeping (graph recording, the backward walk,
gradient accumulation) and Python around it.

    python benchmarks/profile_step.py                       # conv_bn_net, batch 64, SGD
    python benchmarks/profile_step.py --model bnn_mlp --steps 20
    python benchmarks/profile_step.py --hvp                 # a Hessian-vector product instead of a step

Every Function subclass's ``forward``/``backward`` is wrapped with a timer for the profiled steps; each
is charged its own time only (a backward that calls other Functions, as a convolution's calls its two
gradient Functions, is charged without them), so the split adds up; the timers' own cost lands in
"the rest", and the step time without timers is printed beside it.
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
    """Wrap every Function's forward and backward so that their own wall time (less that of the Functions
    they call) adds into ``totals``."""
    nested = [0.0]                                  # time of the calls inside the running one

    for cls in set(_subclasses(Function)):
        for kind in ("forward", "backward"):
            fn = cls.__dict__.get(kind)
            if fn is None:
                continue
            fn = fn.__func__ if isinstance(fn, staticmethod) else fn

            def timed(*args, _fn=fn, _key=f"{cls.__name__}.{kind}", **kwargs):
                outer, nested[0] = nested[0], 0.0
                start = time.perf_counter()
                try:
                    return _fn(*args, **kwargs)
                finally:
                    spent = time.perf_counter() - start
                    totals[_key] += spent - nested[0]
                    nested[0] = outer + spent
            setattr(cls, kind, staticmethod(timed))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="conv_bn_net", choices=models.names())
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--hvp", action="store_true",
                    help="profile a Hessian-vector product of the loss w.r.t. the parameters (grad with "
                         "create_graph, then the gradient of grad · v) instead of a training step")
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

    params = list(model.parameters())
    vs = [tc.from_numpy(rng.standard_normal(p.shape).astype(np.float32)) for p in params]

    def steps(split: dict) -> None:
        for x, y in zip(xs, ys):
            started = time.perf_counter()
            loss = tc.nn.functional.cross_entropy(model(x), y)
            if args.hvp:
                grads = tc.autograd.grad(loss, params, create_graph=True)
                tc.autograd.grad(sum((g * v).sum() for g, v in zip(grads, vs)), params)
                split["whole step"] += time.perf_counter() - started
                continue
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
    what = "Hessian-vector product" if args.hvp else "training step"
    print(f"{args.model}, batch {recipe.batch_size}, {recipe.optimizer}: {plain['whole step'] * per_step:.2f} ms per "
          f"{what} ({whole:.2f} ms with the timers)")
    for key, seconds in sorted(kernels.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<28}{seconds * per_step:8.3f} ms  {100 * seconds * per_step / whole:5.1f}%")
    print(f"  {'Function kernels, all':<28}{in_kernels:8.3f} ms  {100 * in_kernels / whole:5.1f}%")
    print(f"  {'optimizer.step':<28}{opt:8.3f} ms  {100 * opt / whole:5.1f}%")
    rest = whole - in_kernels - opt
    print(f"  {'engine + Python (the rest)':<28}{rest:8.3f} ms  {100 * rest / whole:5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
