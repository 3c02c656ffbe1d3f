"""CIFAR-10 from its binary version (``cifar-10-batches-bin``), never the pickled Python version.

Each record of ``data_batch_1.bin`` … ``data_batch_5.bin`` (training, 5 × 10,000) and ``test_batch.bin``
(10,000) is 3,073 bytes: the label (0-9), then the 32×32 image as 1,024 red, 1,024 green and 1,024 blue
bytes, each plane row-major. Reading is ``np.fromfile`` and a reshape: no code in a data file ever runs.
The files come from https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz (``tar xzf`` it and pass the
folder, or the folder holding ``cifar-10-batches-bin``).
"""
from __future__ import annotations

import os

import numpy as np

from ..utils.data import Dataset

RECORD = 1 + 3 * 32 * 32
TRAIN_FILES = tuple(f"data_batch_{i}.bin" for i in range(1, 6))
TEST_FILES = ("test_batch.bin",)
CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


def read_cifar10_bin(path) -> tuple[np.ndarray, np.ndarray]:
    """(images uint8 (N, 3, 32, 32), labels int64 (N,)) of one CIFAR-10 binary batch file."""
    raw = np.fromfile(os.fspath(path), dtype=np.uint8)
    if raw.size == 0 or raw.size % RECORD:
        raise ValueError(f"{path}: {raw.size} bytes is not a whole number of {RECORD}-byte CIFAR-10 records "
                         "(1 label byte + 3,072 pixel bytes); the file is truncated or not CIFAR-10's binary version")
    records = raw.reshape(-1, RECORD)
    labels = records[:, 0].astype(np.int64)
    if labels.max() > 9:
        raise ValueError(f"{path}: label {int(labels.max())} outside 0-9; not a CIFAR-10 binary batch file")
    return np.ascontiguousarray(records[:, 1:].reshape(-1, 3, 32, 32)), labels


def find_cifar10(root) -> str | None:
    """The folder holding the binary batch files: ``root`` or ``root/cifar-10-batches-bin``; None if absent."""
    if root is None:
        return None
    for folder in (os.fspath(root), os.path.join(os.fspath(root), "cifar-10-batches-bin")):
        if all(os.path.exists(os.path.join(folder, f)) for f in TRAIN_FILES + TEST_FILES):
            return folder
    return None


class CIFAR10(Dataset):
    """CIFAR-10 as arrays: ``data`` uint8 (N, 3, 32, 32), ``targets`` int64 (N,); ``transform`` gets one
    (3, 32, 32) uint8 image."""

    def __init__(self, root, train: bool = True, transform=None) -> None:
        folder = find_cifar10(root)
        if folder is None:
            raise FileNotFoundError(f"CIFAR-10 (binary version) not found in {root!r} nor {root!r}/cifar-10-batches-bin: "
                                    f"need {', '.join(TRAIN_FILES + TEST_FILES)}; download "
                                    "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz and extract it there")
        parts = [read_cifar10_bin(os.path.join(folder, f)) for f in (TRAIN_FILES if train else TEST_FILES)]
        self.data = np.concatenate([p[0] for p in parts])
        self.targets = np.concatenate([p[1] for p in parts])
        self.transform, self.train, self.classes = transform, train, CLASSES

    def __len__(self) -> int:
        return len(self.targets)

    def __getitem__(self, index):
        img = self.data[index]
        return (self.transform(img) if self.transform is not None else img), int(self.targets[index])
