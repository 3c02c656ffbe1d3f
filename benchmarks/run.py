"""Training-step and evaluation timings, tinycompress against PyTorch, in one process.

For each model: the same weights (the torch twin is loaded from the tinycompress state_dict),
the same random MNIST-shaped batches, the model's own optimizer recipe; K training steps
timed in tinycompress, then in torch, alternating A B A B for R repeats; the median step
time of each, the ratio tc/torch, and an evaluation pass (no_grad forwards over a test batch, as many
per repeat as last ~0.3 s, after warm-up calls) timed the same way. torch runs with as many threads as
NumPy's BLAS.

Peak memory: each framework trains a few steps in a fresh child process and reports its peak resident
set size above what it held after importing and building the model (RSS counts torch's allocator and
NumPy's alike, which tracemalloc would not).

    python benchmarks/run.py                   # every seed model, table + benchmarks/results.json
    python benchmarks/run.py --models bn_mlp --steps 50 --repeats 5
    python benchmarks/run.py --quick           # a smoke run

Last, the engine's own per-op cost (forward + backward of a 10-op chain on 8×8 tensors) and the
Hessian-vector product of a model's loss (grad with create_graph, then the gradient of grad · v),
each in the same alternation.
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
    """NumPy's BLAS threads (``tc.get_num_threads``), the count torch is given too."""
    return tc.get_num_threads()


def _batches(recipe, steps, rng):
    shape = (recipe.batch_size, 784) if recipe.input == "flat" else (recipe.batch_size, 1, 28, 28)
    xs = rng.standard_normal((steps,) + shape).astype(np.float32)
    ys = rng.integers(0, 10, (steps, recipe.batch_size)).astype(np.int64)
    return xs, ys


OPTIMIZERS = ("sgd", "adam", "adamw", "adamax", "rmsprop")
SPARSITY = 0.9                    # lenet300_100 is timed pruned (l1, per layer), as issue 8 asks


def _optimizer(module, recipe, params):
    """``module.optim.<Name>`` (tinycompress or torch) with the recipe's settings."""
    names = dict(zip(OPTIMIZERS, ("SGD", "Adam", "AdamW", "Adamax", "RMSprop")))
    return getattr(module.optim, names[recipe.optimizer])(params, lr=recipe.lr, **recipe.optimizer_kwargs)


def build_pair(name, torch):
    """The tinycompress model (pruned to SPARSITY for lenet300_100) and its torch twin with the same state."""
    tc.manual_seed(0)
    model = models.build(name)
    if name == "lenet300_100":
        from tinycompress.compress.prune import prune_to_sparsity
        prune_to_sparsity(model, SPARSITY)
    return model, torch_twin(name, model)


def _eval_calls(eval_tc, eval_torch, target_s=0.3) -> int:
    """How many test-batch forwards one timed eval repeat makes: enough that the slower library's repeat
    lasts ``target_s`` (3-100), after a few warm-up calls each (torch's first calls after training take up
    to 4x its steady time; a repeat of a few calls would time that, not the forward)."""
    slowest = 0.0
    for fn in (eval_tc, eval_torch):
        fn(3)
        one = []
        for _ in range(3):
            start = time.perf_counter()
            fn(1)
            one.append(time.perf_counter() - start)
        slowest = max(slowest, min(one))
    return max(3, min(100, int(target_s / max(slowest, 1e-6))))


def bench_model(name, steps, repeats, torch, eval_calls=None):
    recipe = models.recipe(name)
    model, twin = build_pair(name, torch)
    xs, ys = _batches(recipe, steps, np.random.default_rng(0))
    opt_tc = _optimizer(tc, recipe, model.parameters())
    opt_torch = _optimizer(torch, recipe, twin.parameters())
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

    def eval_tc(calls=None):
        model.eval()
        with tc.no_grad():
            for _ in range(calls or eval_calls):
                model(tc.from_numpy(eval_x))

    def eval_torch(calls=None):
        twin.eval()
        with torch.no_grad():
            for _ in range(calls or eval_calls):
                twin(torch.from_numpy(eval_x))

    result = {"model": name, "batch_size": recipe.batch_size, "optimizer": recipe.optimizer}
    if eval_calls is None:
        eval_calls = _eval_calls(eval_tc, eval_torch)
    result["eval_calls"] = eval_calls
    for kind, a, b, per in (("train_step", train_tc, train_torch, steps), ("eval_batch", eval_tc, eval_torch, eval_calls)):
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


def _chain(x, w):
    """Ten ops on tiny tensors (the same code runs on tinycompress and torch Tensors)."""
    y = (x * 2.0 + 1.0) @ w
    y = y.tanh() * x
    y = y.sigmoid() - x
    return y.relu().exp().sum()


def bench_overhead(repeats, torch, calls=2000) -> dict:
    """The engine's own cost per op: forward + backward of :func:`_chain` on 8×8 tensors, where the
    arithmetic is negligible and what is timed is each library's per-op bookkeeping."""
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((8, 8)).astype(np.float32), rng.standard_normal((8, 8)).astype(np.float32)
    pairs = {"tc": (tc.tensor(xs, requires_grad=True), tc.tensor(ws, requires_grad=True)),
             "torch": (torch.tensor(xs, requires_grad=True), torch.tensor(ws, requires_grad=True))}

    def run(lib):
        x, w = pairs[lib]
        for _ in range(calls):
            x.grad = w.grad = None
            _chain(x, w).backward()
    run("tc"), run("torch")
    times = {"tc": [], "torch": []}
    for _ in range(repeats):
        for lib in ("tc", "torch"):
            start = time.perf_counter()
            run(lib)
            times[lib].append((time.perf_counter() - start) / calls)
    ratios = [a / b for a, b in zip(times["tc"], times["torch"])]
    return {"tc_us": 1e6 * statistics.median(times["tc"]), "torch_us": 1e6 * statistics.median(times["torch"]),
            "ratio": statistics.median(ratios), "ratio_min": min(ratios), "ratio_max": max(ratios)}


def _hvp_step(lib, model, x, y):
    """One Hessian-vector product of the cross-entropy loss w.r.t. the parameters, as a user writes it
    in either library: grad with create_graph, then the gradient of (grad · v)."""
    params = list(model.parameters())
    loss = lib.nn.functional.cross_entropy(model(x), y)
    grads = lib.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, model._hvp_v))
    return lib.autograd.grad(dot, params)


def bench_hvp(name, repeats, torch, calls=20) -> dict:
    """Hessian-vector products of a model's loss on one batch: tinycompress vs torch's double backward
    (same weights, same batch, same vector v); also checks the two agree."""
    recipe = models.recipe(name)
    model, twin = build_pair(name, torch)
    xs, ys = _batches(recipe, 1, np.random.default_rng(0))
    rng = np.random.default_rng(2)
    vs = [rng.standard_normal(p.shape).astype(np.float32) for p in model.parameters()]
    model._hvp_v = [tc.from_numpy(v) for v in vs]
    twin._hvp_v = [torch.from_numpy(v) for v in vs]
    model.train(), twin.train()
    args = {"tc": (tc, model, tc.from_numpy(xs[0]), tc.from_numpy(ys[0])),
            "torch": (torch, twin, torch.from_numpy(xs[0]), torch.from_numpy(ys[0]))}
    ours, theirs = _hvp_step(*args["tc"]), _hvp_step(*args["torch"])
    scale = max(float(np.abs(b.numpy()).max()) for b in theirs)    # a parameter whose HVP is 0 up to rounding
    error = max(float(np.abs(a.array - b.numpy()).max()) for a, b in zip(ours, theirs)) / scale   # counts absolutely
    times = {"tc": [], "torch": []}
    for _ in range(repeats):
        for lib in ("tc", "torch"):
            start = time.perf_counter()
            for _ in range(calls):
                _hvp_step(*args[lib])
            times[lib].append((time.perf_counter() - start) / calls)
    ratios = [a / b for a, b in zip(times["tc"], times["torch"])]
    return {"model": name, "tc_ms": 1e3 * statistics.median(times["tc"]),
            "torch_ms": 1e3 * statistics.median(times["torch"]), "ratio": statistics.median(ratios),
            "ratio_min": min(ratios), "ratio_max": max(ratios), "max_rel_diff": error}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_rss_child(framework, name, steps=5) -> None:
    """(In a child process.) Train ``steps`` steps while a thread samples the resident set size every
    millisecond; print the peak above the RSS after the model was built, in MB."""
    import threading
    import torch
    torch.set_num_threads(blas_threads())
    recipe = models.recipe(name)
    model, twin = build_pair(name, torch)
    xs, ys = _batches(recipe, steps, np.random.default_rng(0))
    if framework == "tc":
        lib, net, tensor, loss_fn = tc, model, tc.from_numpy, tc.nn.functional.cross_entropy
    else:
        lib, net, tensor, loss_fn = torch, twin, torch.from_numpy, torch.nn.functional.cross_entropy
    opt = _optimizer(lib, recipe, net.parameters())
    base, peak, done = _rss_mb(), [0.0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_mb())
            time.sleep(0.001)
    sampler = threading.Thread(target=sample)
    sampler.start()
    for x, y in zip(xs, ys):
        loss = loss_fn(net(tensor(x)), tensor(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
    done.set()
    sampler.join()
    print(max(peak[0], _rss_mb()) - base)


def peak_memory(name) -> dict:
    import subprocess
    out = {}
    for framework in ("tc", "torch"):
        run = subprocess.run([sys.executable, __file__, "--peak-rss-child", framework, name], check=True,
                             capture_output=True, text=True)
        out[framework + "_mb"] = float(run.stdout.strip().splitlines()[-1])
    out["ratio"] = out["tc_mb"] / max(out["torch_mb"], 1e-9)
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["bnn_mlp", "bnn_conv", "bn_mlp", "conv_bn_net", "lenet300_100",
                                                          "svd_mlp"])
    parser.add_argument("--steps", type=int, default=100, help="training steps per timed repeat")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--eval-calls", type=int, default=None,
                        help="no_grad forwards of a test batch per timed repeat (default: enough for ~0.3 s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 5 steps, 2 repeats")
    parser.add_argument("--json", default=os.path.join(os.path.dirname(__file__), "results.json"))
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    parser.add_argument("--hvp-models", nargs="*", default=["bn_mlp", "conv_bn_net"],
                        help="models whose loss's Hessian-vector product is timed (none: skip)")
    parser.add_argument("--peak-rss-child", nargs=2, metavar=("FRAMEWORK", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_rss_child:
        return _peak_rss_child(*args.peak_rss_child)
    if args.quick:
        args.steps, args.repeats, args.eval_calls = 5, 2, 2
    import torch
    threads = blas_threads()
    torch.set_num_threads(threads)
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {threads} BLAS/torch threads, numpy {np.__version__}, torch {torch.__version__}"
    print(machine)
    header = (f"{'model':<14}{'batch':>6}{'step tc ms':>11}{'torch ms':>10}{'ratio':>7}{'(min-max)':>12}"
              f"{'eval ratio':>11}{'peak MB tc':>11}{'torch':>7}{'ratio':>7}")
    print(header)
    results = []
    for name in args.models:
        r = bench_model(name, args.steps, args.repeats, torch, eval_calls=args.eval_calls)
        if not args.no_memory:
            r["peak_memory"] = peak_memory(name)
        results.append(r)
        s, e, m = r["train_step"], r["eval_batch"], r.get("peak_memory")
        spread = f"({s['ratio_min']:.2f}-{s['ratio_max']:.2f})"
        memory = f"{m['tc_mb']:>11.1f}{m['torch_mb']:>7.1f}{m['ratio']:>7.2f}" if m else ""
        print(f"{name:<14}{r['batch_size']:>6}{s['tc_ms']:>11.2f}{s['torch_ms']:>10.2f}{s['ratio']:>7.2f}"
              f"{spread:>12}{e['ratio']:>11.2f}{memory}", flush=True)
    overhead = bench_overhead(args.repeats, torch, calls=200 if args.quick else 2000)
    print(f"engine overhead: forward+backward of a 10-op chain on 8x8 tensors: tc {overhead['tc_us']:.0f} us, "
          f"torch {overhead['torch_us']:.0f} us, ratio {overhead['ratio']:.2f} "
          f"({overhead['ratio_min']:.2f}-{overhead['ratio_max']:.2f})")
    hvps = []
    for name in args.hvp_models:
        h = bench_hvp(name, args.repeats, torch, calls=3 if args.quick else 20)
        hvps.append(h)
        print(f"Hessian-vector product of {name}'s loss: tc {h['tc_ms']:.2f} ms, torch {h['torch_ms']:.2f} ms, "
              f"ratio {h['ratio']:.2f} ({h['ratio_min']:.2f}-{h['ratio_max']:.2f}), "
              f"max relative difference {h['max_rel_diff']:.1e}", flush=True)
    with open(args.json, "w") as f:
        json.dump({"machine": machine, "steps": args.steps, "repeats": args.repeats, "results": results,
                   "overhead_10_op_chain": overhead, "hessian_vector_product": hvps}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
