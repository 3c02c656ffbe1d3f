"""The engine-overhead chain of ``run.py`` (10 ops on 8×8 tensors) timed apart: its forward and its backward,
each library in turn, on one thread (where only per-op bookkeeping is left to time).

    python benchmarks/chain_split.py

After a warm-up round, three rounds of 3,000 calls per library; mean µs per call of each round.
"""
from __future__ import annotations

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import run  # noqa: E402

import tinycompress as tc  # noqa: E402


def main(calls: int = 3000, rounds: int = 3) -> int:
    import torch
    torch.set_num_threads(1)
    tc.set_num_threads(1)
    rng = np.random.default_rng(0)
    xs, ws = rng.standard_normal((8, 8)).astype(np.float32), rng.standard_normal((8, 8)).astype(np.float32)
    for lib in (tc, torch):
        x, w = lib.tensor(xs, requires_grad=True), lib.tensor(ws, requires_grad=True)
        for _ in range(calls):                                      # warm-up
            x.grad = w.grad = None
            run._chain(x, w).backward()
        for _ in range(rounds):
            forward = backward = 0.0
            for _ in range(calls):
                x.grad = w.grad = None
                start = time.perf_counter()
                y = run._chain(x, w)
                middle = time.perf_counter()
                y.backward()
                forward += middle - start
                backward += time.perf_counter() - middle
            print(f"{lib.__name__:<13} forward {1e6 * forward / calls:6.1f} µs   backward {1e6 * backward / calls:6.1f} µs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
