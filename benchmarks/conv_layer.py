"""Where one convolution layer's time goes: bnn_conv's first binary layer (32→64, 3×3, pad 1, on 14×14,
batch 100), forward + backward, NumPy's im2col pieces in sequence against torch's whole layer.

    python benchmarks/conv_layer.py

Each repeat runs the layer's NumPy pieces in order (caches cold as in a training step: a large array is
touched first); a child process times torch's conv2d forward + backward the same way (each library in its
own process: OpenBLAS's threads spin for a while after a GEMM and would slow torch's next kernel). Then the
GEMM alone, 64×288 · 288×19600 (722 MFLOP), in NumPy (OpenBLAS), in torch (``torch.mm``, MKL) and as
torch's conv2d forward (oneDNN, no im2col). Medians over repeats, ms.
"""
from __future__ import annotations

import collections
import os
import statistics
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import run  # noqa: E402,F401  (the same thread setting as run.py)

from tinycompress.ops import conv as C  # noqa: E402


N, C_IN, C_OUT, H = 100, 32, 64, 14


def _arrays():
    rng = np.random.default_rng(0)
    x = np.sign(rng.standard_normal((N, C_IN, H, H))).astype(np.float32)
    w = np.sign(rng.standard_normal((C_OUT, C_IN, 3, 3))).astype(np.float32)
    g = rng.standard_normal((N, C_OUT, H, H)).astype(np.float32)
    return x, w, g


def _median_ms(fn, repeats, evict=None):
    fn()
    values = []
    for _ in range(repeats):
        if evict is not None:
            evict += 1
        start = time.perf_counter()
        fn()
        values.append(1e3 * (time.perf_counter() - start))
    return statistics.median(values)


def torch_side(repeats: int) -> None:
    """(In the child process.) torch's layer, forward + backward, and its GEMM and forward alone."""
    import torch
    torch.set_num_threads(run.blas_threads())
    x, w, g = _arrays()
    xt, wt, gt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True), torch.tensor(g)

    def layer():
        xt.grad = wt.grad = None
        torch.nn.functional.conv2d(xt, wt, padding=1).backward(gt)
    evict = np.ones(8_000_000, np.float32)
    a = torch.from_numpy(np.ascontiguousarray(w.reshape(C_OUT, -1)))
    b = torch.from_numpy(np.ascontiguousarray(np.random.default_rng(1).standard_normal((C_IN * 9, H * H * N))
                                              .astype(np.float32)))
    print(f"  {'torch: conv2d forward + backward':<34}{_median_ms(layer, repeats, evict):7.2f}")
    print(f"  {'the same GEMM, torch.mm':<34}{_median_ms(lambda: a @ b, repeats):7.2f}")
    with torch.no_grad():
        print(f"  {'torch: conv2d forward (no grad)':<34}"
              f"{_median_ms(lambda: torch.nn.functional.conv2d(xt, wt, padding=1), repeats):7.2f}")


def main(repeats: int = 30) -> int:
    n, c, o, h = N, C_IN, C_OUT, H
    x, w, g = _arrays()
    pad = ((1, 1), (1, 1))
    times = collections.defaultdict(list)
    evict = np.ones(8_000_000, np.float32)

    def lap(name, start):
        now = time.perf_counter()
        times[name].append(1e3 * (now - start))
        return now

    for _ in range(repeats):
        evict += 1
        t = time.perf_counter()
        col, _ = C._im2col(x, (3, 3), (1, 1), pad, (1, 1), 1)
        t = lap("im2col", t)
        y = np.matmul(w.reshape(1, o, -1), col)
        t = lap("GEMM: forward", t)
        np.ascontiguousarray(C._from_layout(y.reshape(o, h, h, n), True))
        t = lap("output to (N, C, H, W)", t)
        g_last = C._grad_last(g, 1, True)
        t = lap("gradient to (C, H, W, N)", t)
        gcol = np.matmul(w.reshape(1, o, -1).transpose(0, 2, 1), g_last).reshape((c, 3, 3, h, h, n))
        t = lap("GEMM: input gradient", t)
        dxp = C._col2im(lambda *k: gcol[(slice(None),) + k], (c, h + 2, h + 2, n), np.float32, (3, 3), (h, h),
                        (1, 1), (1, 1), axis=1)
        t = lap("col2im", t)
        np.ascontiguousarray(C._from_layout(dxp[:, 1:h + 1, 1:h + 1], True))
        t = lap("input gradient to (N, C, H, W)", t)
        np.matmul(col, g_last.transpose(0, 2, 1))
        lap("GEMM: weight gradient", t)
    ours = 0.0
    for name, values in times.items():
        ours += statistics.median(values)
        print(f"  {name:<34}{statistics.median(values):7.2f}")
    print(f"  {'NumPy layer, all':<34}{ours:7.2f}")
    a, b = np.ascontiguousarray(w.reshape(o, -1)), np.ascontiguousarray(col[0])
    print(f"  {'GEMM 64x288 · 288x19600, NumPy':<34}{_median_ms(lambda: a @ b, repeats):7.2f}")
    sys.stdout.flush()
    subprocess.run([sys.executable, __file__, "--torch-side", str(repeats)], check=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--torch-side":
        sys.exit(torch_side(int(sys.argv[2])))
    sys.exit(main())
