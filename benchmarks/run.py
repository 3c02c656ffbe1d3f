"""Training-step and evaluation timings, tinycompress against PyTorch, in one process.

For each model: the same weights (the torch twin is loaded from the tinycompress state_dict),
the same random MNIST-shaped batches, the model's own optimizer recipe; K training steps
timed in tinycompress, then in torch, alternating A B A B for R repeats; the median step
time of each, the ratio tc/torch, and an evaluation pass (no_grad forward over a test batch)
timed the same way. torch runs with as many threads as NumPy's BLAS.

    python benchmarks/run.py                   # bn_mlp and conv_bn_net, table + benchmarks/results.json
    python benchmarks/run.py --models bn_mlp --steps 50 --repeats 5
    python benchmarks/run.py --quick           # a smoke run
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import tinycompress as tc  # noqa: E402
from tinycompress import models  # noqa: E402
from twins import torch_twin  # noqa: E402

TRAIN_SIZE = 60_000


def blas_threads() -> int:
    try:
        from threadpoolctl import threadpool_info
        return max(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")
    except Exception:
        return int(os.environ.get("OPENBLAS_NUM_THREADS", os.cpu_count() or 1))


def _batches(recipe, steps, rng):
    shape = (recipe.batch_size, 784) if recipe.input == "flat" else (recipe.batch_size, 1, 28, 28)
    xs = rng.standard_normal((steps,) + shape).astype(np.float32)
    ys = rng.integers(0, 10, (steps, recipe.batch_size)).astype(np.int64)
    return xs, ys


def _tc_optimizer(recipe, params):
    cls = {"sgd": tc.optim.SGD, "adam": tc.optim.Adam, "adamax": tc.optim.Adamax}[recipe.optimizer]
    return cls(params, lr=recipe.lr, **recipe.optimizer_kwargs)


def _torch_optimizer(torch, recipe, params):
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamax": torch.optim.Adamax}[recipe.optimizer]
    return cls(params, lr=recipe.lr, **recipe.optimizer_kwargs)


def bench_model(name, steps, repeats, torch):
    recipe = models.recipe(name)
    tc.manual_seed(0)
    model = models.build(name)
    twin = torch_twin(name, model)
    xs, ys = _batches(recipe, steps, np.random.default_rng(0))
    opt_tc = _tc_optimizer(recipe, model.parameters())
    opt_torch = _torch_optimizer(torch, recipe, twin.parameters())
    F_tc, F_torch = tc.nn.functional, torch.nn.functional
    x_tc = [tc.from_numpy(x) for x in xs]
    y_tc = [tc.from_numpy(y) for y in ys]
    x_torch = [torch.from_numpy(x) for x in xs]
    y_torch = [torch.from_numpy(y) for y in ys]

    def train_tc():
        model.train()
        for x, y in zip(x_tc, y_tc):
            loss = F_tc.cross_entropy(model(x), y)
            opt_tc.zero_grad()
            loss.backward()
            opt_tc.step()

    def train_torch():
        twin.train()
        for x, y in zip(x_torch, y_torch):
            loss = F_torch.cross_entropy(twin(x), y)
            opt_torch.zero_grad()
            loss.backward()
            opt_torch.step()

    eval_x = np.random.default_rng(1).standard_normal((recipe.test_batch_size,) + xs.shape[2:]).astype(np.float32)

    def eval_tc():
        model.eval()
        with tc.no_grad():
            for _ in range(10):
                model(tc.from_numpy(eval_x))

    def eval_torch():
        twin.eval()
        with torch.no_grad():
            for _ in range(10):
                twin(torch.from_numpy(eval_x))

    result = {"model": name, "batch_size": recipe.batch_size, "optimizer": recipe.optimizer}
    for kind, a, b, per in (("train_step", train_tc, train_torch, steps), ("eval_batch", eval_tc, eval_torch, 10)):
        a(), b()                                          # warm up
        times_a, times_b = [], []
        for _ in range(repeats):
            for fn, out in ((a, times_a), (b, times_b)):
                start = time.perf_counter()
                fn()
                out.append((time.perf_counter() - start) / per)
        ratios = [x / y for x, y in zip(times_a, times_b)]
        result[kind] = {
            "tc_ms": 1e3 * statistics.median(times_a), "torch_ms": 1e3 * statistics.median(times_b),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios),
        }
    steps_per_epoch = -(-TRAIN_SIZE // recipe.batch_size)
    result["epoch_s"] = {"tc": result["train_step"]["tc_ms"] * steps_per_epoch / 1e3,
                         "torch": result["train_step"]["torch_ms"] * steps_per_epoch / 1e3}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["bn_mlp", "conv_bn_net"])
    parser.add_argument("--steps", type=int, default=100, help="training steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 steps, 2 repeats")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.repeats = 5, 2
    import torch
    threads = blas_threads()
    torch.set_num_threads(threads)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {threads} BLAS/torch threads, numpy {np.__version__}, torch {torch.__version__}"
    print(machine)
    print(f"{'model':<14}{'step tc ms':>11}{'torch ms':>10}{'ratio':>8}{' (min-max)':>14}{'eval ratio':>12}{'epoch tc s':>12}{'torch s':>9}")
    results = []
    for name in args.models:
        r = bench_model(name, args.steps, args.repeats, torch)
        results.append(r)
        s, e = r["train_step"], r["eval_batch"]
        print(f"{name:<14}{s['tc_ms']:>11.2f}{s['torch_ms']:>10.2f}{s['ratio']:>8.2f}"
              f"{f' ({s['ratio_min']:.2f}-{s['ratio_max']:.2f})':>14}{e['ratio']:>12.2f}"
              f"{r['epoch_s']['tc']:>12.1f}{r['epoch_s']['torch']:>9.1f}", flush=True)
    with open(args.json, "w") as f:
        json.dump({"machine": machine, "steps": args.steps, "repeats": args.repeats, "results": results}, f, indent=1)


if __name__ == "__main__":
    main()
