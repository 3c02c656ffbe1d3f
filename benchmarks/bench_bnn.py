"""bnn_mlp (seed 000): training steps in tinycompress vs the same network in torch, and packed vs
float inference at batch 1 and batch 100.

Same weights (torch twin loaded from the tinycompress state_dict), same random MNIST-shaped batches,
Adam lr 0.01; A B A B alternation over ``--repeats`` rounds of ``--steps`` steps; medians and ratios.

    python benchmarks/bench_bnn.py                  # 600 steps = one epoch of batch 100
    python benchmarks/bench_bnn.py --steps 20 --repeats 3 --json benchmarks/bnn.json
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.compress.deploy import pack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twins import torch_twin  # noqa: E402  (seed 000's network written as the seed writes it)


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=600, help="training steps per round (600 = one epoch)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--json", default="benchmarks/bench_bnn.json")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", os.cpu_count() or 1)))

    tc.manual_seed(0)
    model = models.build("bnn_mlp")
    twin = torch_twin("bnn_mlp", model)
    rng = np.random.default_rng(0)
    xs = rng.uniform(-1, 1, (args.steps, args.batch, 784)).astype(np.float32)
    ys = rng.integers(0, 10, (args.steps, args.batch))
    opt = tc.optim.Adam(model.parameters(), lr=0.01)
    topt = torch.optim.Adam(twin.parameters(), lr=0.01)
    F, tF = tc.nn.functional, torch.nn.functional

    def tc_steps():
        model.train()
        for x, y in zip(xs, ys):
            loss = F.cross_entropy(model(tc.tensor(x)), tc.tensor(y))
            opt.zero_grad()
            loss.backward()
            opt.step()

    def torch_steps():
        twin.train()
        for x, y in zip(xs, ys):
            loss = tF.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(y))
            topt.zero_grad()
            loss.backward()
            topt.step()

    train = {"tinycompress": [], "torch": []}
    for _ in range(args.repeats):
        train["tinycompress"].append(timed(tc_steps))
        train["torch"].append(timed(torch_steps))

    model.eval()
    packed = pack(model)
    infer = {}
    for b in (1, 100):
        x = xs[0, :b] if b <= args.batch else rng.uniform(-1, 1, (b, 784)).astype(np.float32)
        reps = 200 if b == 1 else 20
        times = {"float": [], "packed": []}
        for _ in range(args.repeats):
            with tc.no_grad():
                times["float"].append(timed(lambda: [model(tc.tensor(x)) for _ in range(reps)]) / reps)
            times["packed"].append(timed(lambda: [packed(x) for _ in range(reps)]) / reps)
        infer[b] = {k: statistics.median(v) for k, v in times.items()}

    med = {k: statistics.median(v) for k, v in train.items()}
    print(f"bnn_mlp training, {args.steps} steps of batch {args.batch}, median of {args.repeats} (A B A B):")
    print(f"  tinycompress {med['tinycompress']:8.3f} s   torch {med['torch']:8.3f} s   "
          f"ratio tc/torch {med['tinycompress'] / med['torch']:.2f}x")
    print(f"inference (eval mode)      float (ms)  packed (ms)  packed/float")
    for b, t in infer.items():
        print(f"  batch {b:4d}             {t['float'] * 1e3:9.3f}  {t['packed'] * 1e3:10.3f}  "
              f"{t['packed'] / t['float']:10.2f}x")
    float_bytes = sum(p.array.nbytes for p in model.parameters())
    print(f"parameters {float_bytes} bytes float32, packed model {packed.nbytes} bytes")
    result = {"steps": args.steps, "batch": args.batch, "repeats": args.repeats, "train_seconds": train,
              "train_median": med, "ratio": med["tinycompress"] / med["torch"],
              "inference_seconds": {str(b): t for b, t in infer.items()},
              "float_param_bytes": float_bytes, "packed_bytes": packed.nbytes}
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
