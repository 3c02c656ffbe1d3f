"""Seed 001's binarized NIN-style network (XNOR-Net scaling) on 3×32×32 images.

Uses CIFAR-10 when found (``--cifar DIR`` holding ``cifar10_train.npz`` / ``cifar10_test.npz``,
each with arrays ``x`` (N, 3, 32, 32) uint8 and ``y`` int labels; no pickle); otherwise trains on a clearly labelled STAND-IN: MNIST padded to 32×32 and repeated over 3 channels.

    python examples/bnn_conv.py --epochs 1 --max-steps 5      # a smoke run
"""
import argparse
import os
import sys

import numpy as np

import tinycompress as tc
from tinycompress import models
from tinycompress.compress.binary import ClipWeights
from tinycompress.train import evaluate, fit, make_optimizer, make_scheduler, mnist_loaders


def cifar_loaders(root, recipe, batch_size):
    """CIFAR-10 from ``cifar10_{train,test}.npz`` (x uint8 (N,3,32,32), y int), or None if absent."""
    from tinycompress.data import DataLoader
    if root is None:
        return None
    paths = [os.path.join(root, f"cifar10_{s}.npz") for s in ("train", "test")]
    if not all(os.path.exists(p) for p in paths):
        return None

    class Arrays:
        def __init__(self, path):
            with np.load(path, allow_pickle=False) as f:
                self.x = (f["x"].astype(np.float32) / 255 - 0.5) / 0.5
                self.y = f["y"].astype(np.int64)

        def __len__(self):
            return len(self.y)

        def __getitem__(self, i):
            return self.x[i], self.y[i]
    return (DataLoader(Arrays(paths[0]), batch_size=batch_size, shuffle=True),
            DataLoader(Arrays(paths[1]), batch_size=recipe.test_batch_size, shuffle=False))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=None, help="batches per epoch (smoke runs)")
    ap.add_argument("--cifar", default=os.environ.get("CIFAR10_DIR"), help="folder with cifar10_{train,test}.npz "
                    "(default: $CIFAR10_DIR; without it, MNIST padded to 3x32x32 stands in)")
    ap.add_argument("--data", default=None, help="MNIST folder (default: $TINYCOMPRESS_DATA, ./data, then the bundled subset)")
    ap.add_argument("--batch-size", type=int, default=None)
    ap.add_argument("--weight-quant", choices=["binary", "ternary"], default="binary")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    tc.manual_seed(args.seed)
    recipe = models.recipe("nin_bnn")
    loaders = cifar_loaders(args.cifar, recipe, args.batch_size or recipe.batch_size)
    if loaders is None:
        print(f"DATASET: STAND-IN (CIFAR-10 not found in {args.cifar}): MNIST padded to 3x32x32")
        loaders = mnist_loaders(recipe, root=args.data, batch_size=args.batch_size)
    else:
        print(f"DATASET: CIFAR-10 from {args.cifar}")
    model = models.build("nin_bnn", weight_quant=args.weight_quant)
    optimizer = make_optimizer(recipe, model.parameters())
    history = fit(model, optimizer, loaders[0], epochs=args.epochs, scheduler=make_scheduler(recipe, optimizer),
                  test_loader=loaders[1], callbacks=[ClipWeights()], max_steps_per_epoch=args.max_steps)
    for i, m in enumerate(history, 1):
        print(f"epoch {i}: " + ", ".join(f"{k} {v:.4f}" for k, v in m.items() if isinstance(v, float)))
    params = sum(p.array.size for p in model.parameters())
    binary = sum(m.weight.array.size for m in model.modules() if type(m).__name__ == "BinarizedConv2d")
    dense_bytes = 4 * params
    packed_bytes = 4 * (params - binary) + binary / 8
    print(f"weights: {params} ({binary} binarized); float32 {dense_bytes / 1e6:.2f} MB -> "
          f"1-bit binary layers {packed_bytes / 1e6:.2f} MB ({100 * (1 - packed_bytes / dense_bytes):.1f}% smaller)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
