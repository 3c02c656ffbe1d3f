#!/usr/bin/env python
"""Write the MNIST subset bundled with tinycompress (tinycompress/data/bundled/*.gz).

The selection is class-balanced and deterministic: for each digit 0-9, the first 1,000 training
images of that digit in the original file order (10,000 in all) and the first 200 test images of
that digit (2,000 in all), kept in file order. They are written as gzip IDX files under MNIST's
own file names, with a zero gzip timestamp, so running this twice gives identical bytes.

    python scripts/make_mnist_subset.py [--root ../shared/data/mnist] [--out tinycompress/data/bundled]

``--root`` is searched as ``MNIST(root)`` searches (then $TINYCOMPRESS_DATA, then ./data).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tinycompress.data import MNIST, write_idx  # noqa: E402

PER_CLASS = {True: 1000, False: 200}           # train / test images kept per digit


def balanced_indices(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` samples of each class, in file order."""
    order = np.argsort(labels, kind="stable")               # by class, file order within a class
    counts = np.bincount(labels, minlength=10)
    if counts.min() < per_class:
        raise ValueError(f"a class has only {counts.min()} samples, fewer than {per_class}")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.arange(len(labels)) - np.repeat(starts, counts)   # position within its class
    return np.sort(order[rank < per_class])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=str(REPO.parent / "shared" / "data" / "mnist"))
    parser.add_argument("--out", default=str(REPO / "tinycompress" / "data" / "bundled"))
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    for train in (True, False):
        ds = MNIST(args.root, train=train)
        if ds.is_subset:
            raise SystemExit("the full MNIST is needed to build the subset")
        keep = balanced_indices(ds.targets, PER_CLASS[train])
        prefix = "train" if train else "t10k"
        write_idx(os.path.join(args.out, f"{prefix}-images-idx3-ubyte.gz"), ds.array[keep])
        write_idx(os.path.join(args.out, f"{prefix}-labels-idx1-ubyte.gz"), ds.targets[keep].astype(np.uint8))
        print(f"{prefix}: {len(keep)} of {len(ds)} images from {ds.folder}")
    for name in sorted(os.listdir(args.out)):
        print(f"  {name}: {os.path.getsize(os.path.join(args.out, name)):,} bytes")


if __name__ == "__main__":
    main()
