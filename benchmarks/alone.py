"""One library alone in its own process: a model's training step (or eval forward) time, without the other
library's thread pool in the same process (run.py alternates both in one process, as the issue asks).

    python benchmarks/alone.py tc conv_bn_net; python benchmarks/alone.py torch conv_bn_net
    python benchmarks/alone.py tc conv_bn_net --eval --calls 200

Same weights, batches, recipe and thread count as ``run.py``; prints the median and minimum over repeats.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import run  # noqa: E402

import tinycompress as tc  # noqa: E402
from tinycompress import models  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("library", choices=["tc", "torch"])
    ap.add_argument("model", choices=models.names())
    ap.add_argument("--eval", action="store_true", help="time no_grad forwards of a test batch instead of steps")
    ap.add_argument("--calls", type=int, default=50, help="steps (or forwards) per repeat")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    recipe = models.recipe(args.model)
    if args.library == "torch":
        import torch
        torch.set_num_threads(run.blas_threads())
        _, net = run.build_pair(args.model, torch)
        lib = torch
    else:
        tc.manual_seed(0)
        net, lib = models.build(args.model), tc
    xs, ys = run._batches(recipe, args.calls, np.random.default_rng(0))
    inputs, targets = [lib.from_numpy(x) for x in xs], [lib.from_numpy(y) for y in ys]
    test_x = lib.from_numpy(np.random.default_rng(1).standard_normal(
        (recipe.test_batch_size,) + xs.shape[2:]).astype(np.float32))
    optimizer = run._optimizer(lib, recipe, net.parameters())

    def steps():
        net.train()
        for x, y in zip(inputs, targets):
            loss = lib.nn.functional.cross_entropy(net(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def forwards():
        net.eval()
        with lib.no_grad():
            for _ in range(args.calls):
                net(test_x)

    work = forwards if args.eval else steps
    work()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) / args.calls * 1e3)
    what = f"eval forward of {recipe.test_batch_size}" if args.eval else f"training step of {recipe.batch_size}"
    print(f"{args.library} {args.model}: {what}: median {statistics.median(times):.2f} ms, min {min(times):.2f} ms "
          f"({run.blas_threads()} threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
