"""Helpers for the data tests (imported by conftest.py and the test modules): the real MNIST's
location and small fake IDX sets written in any layout."""
import os
from pathlib import Path

import numpy as np

from tinycompress.data import write_idx

REPO = Path(__file__).resolve().parents[2]
FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def real_mnist_dir():
    """The shared MNIST folder: $TINYCOMPRESS_DATA if it holds the files, else ../shared/data/mnist."""
    for folder in (os.environ.get("TINYCOMPRESS_DATA"), REPO.parent / "shared" / "data" / "mnist"):
        if folder and all((Path(folder) / f"{n}.gz").is_file() for pair in FILES.values() for n in pair):
            return Path(folder)
    return None


def make_fake_set(folder, n_train=7, n_test=3, mark=0, gz=True, splits=(True, False), side=4):
    """Write a tiny IDX set into ``folder``: images whose first pixel is ``mark`` (to tell sets apart),
    labels ``arange(n) % 10``. Returns {train: (images, labels)}."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(mark)
    out = {}
    for train in splits:
        n = n_train if train else n_test
        images = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        images[:, 0, 0] = mark
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / (FILES[train][0] + suffix), images)
        write_idx(folder / (FILES[train][1] + suffix), labels)
        out[train] = (images, labels)
    return out
