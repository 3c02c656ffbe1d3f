"""Datasets as in ``torch.utils.data.dataset``: ``Dataset``, ``IterableDataset``, ``TensorDataset``,
``ConcatDataset``, ``Subset`` and ``random_split``.

A map-style dataset may define ``get_batch(indices)``, a vectorised ``__getitem__`` over many
indices returning one array (or Tensor) per field; the :class:`DataLoader` then indexes it once per
batch instead of fetching and collating items one by one (``TensorDataset``, ``Subset`` of such a
dataset and MNIST have it). A dataset without it is read item by item, as torch does.
"""
from __future__ import annotations

import bisect
import math
import numbers
from typing import Sequence

import numpy as np

from ...random import as_numpy_generator

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "ConcatDataset", "Subset", "random_split"]


def _to_array(x) -> np.ndarray:
    data = getattr(x, "array", x) if not isinstance(x, np.ndarray) else x
    return np.asarray(data)


class Dataset:
    """Base class of map-style datasets (``torch.utils.data.Dataset``): ``__getitem__`` and ``__len__``;
    ``a + b`` concatenates (:class:`ConcatDataset`)."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other) -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples (``torch.utils.data.IterableDataset``): subclasses define ``__iter__``;
    the DataLoader groups consecutive samples into batches (no sampler, no shuffle)."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __add__(self, other):
        raise TypeError("ChainDataset of IterableDatasets is not supported; chain the iterators yourself")


class TensorDataset(Dataset):
    """Samples are the rows of the given Tensors (or arrays): ``dataset[i] = (a[i], b[i], ...)``."""

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        self._arrays = tuple(_to_array(t) for t in tensors)
        for a in self._arrays:
            if a.ndim == 0:
                raise ValueError("TensorDataset: every tensor needs a first (sample) dimension, got a 0-d one")
        sizes = [len(a) for a in self._arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes}")

    @property
    def tensors(self):
        """The data as Tensors sharing memory with what was given, as torch's ``TensorDataset.tensors``."""
        from ...factories import from_numpy
        return tuple(from_numpy(a) for a in self._arrays)

    def __getitem__(self, index):
        from ...factories import from_numpy
        return tuple(from_numpy(np.asarray(a[index])) for a in self._arrays)

    def __len__(self) -> int:
        return len(self._arrays[0])

    def get_batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(a[idx] for a in self._arrays)


class ConcatDataset(Dataset):
    """The datasets one after the other (``torch.utils.data.ConcatDataset``)."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx):
        if idx < 0:
            if -idx > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            idx = len(self) + idx
        k = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[k][idx - (self.cumulative_sizes[k - 1] if k else 0)]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._indices = np.asarray(_to_array(indices), dtype=np.int64).reshape(-1)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self._indices[np.asarray(index)]]
        return self.dataset[int(self._indices[index])]

    def __getitems__(self, indices):
        return [self[int(i)] for i in indices]

    def __len__(self) -> int:
        return len(self._indices)

    @property
    def get_batch(self):
        """The underlying dataset's ``get_batch`` through the index map, or None if it has none."""
        inner = getattr(self.dataset, "get_batch", None)
        if not callable(inner):
            return None
        return lambda indices: inner(self._indices[np.asarray(indices, dtype=np.int64)])


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping :class:`Subset` s of the given lengths (or fractions
    summing to 1, the remainder going round-robin as torch does), from one random permutation."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1 and not all(
            isinstance(x, numbers.Integral) for x in lengths):
        for x in lengths:
            if not 0 <= x <= 1:
                raise ValueError(f"Fraction at index {lengths.index(x)} is not between 0 and 1")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError("Sum of input lengths does not equal the length of the input dataset!"
                         f" ({sum(lengths)} vs {n})")
    perm = as_numpy_generator(generator).permutation(n)
    offsets = np.cumsum([0] + lengths)
    return [Subset(dataset, perm[offsets[k]:offsets[k + 1]].tolist()) for k in range(len(lengths))]
