"""``DataLoader``, ``TensorDataset``, ``Subset`` and ``random_split``, as in ``torch.utils.data``.

A DataLoader walks its dataset in batches of ``batch_size`` indices: ``0, 1, ..., n-1`` in order,
or, with ``shuffle=True``, a fresh random permutation drawn from the library's generator
(``tc.manual_seed`` makes it reproducible) at each epoch's first batch: ``iter(loader)`` alone draws
nothing, so an iterator made and dropped (``tqdm.auto``'s asyncio bar makes one in its constructor)
does not shift the random stream, and a seeded run is the same with or without a progress bar. A dataset with a
vectorised ``get_batch(indices)`` (MNIST, TensorDataset, Subset of those) is indexed once per
batch; any other dataset has its items fetched one by one and stacked (``default_collate``).
Each field of a batch is yielded as a :class:`tinycompress.Tensor` keeping the array's dtype
(float32 images after ``ToTensor``, int64 labels).
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from .datasets import Dataset

__all__ = ["DataLoader", "TensorDataset", "Subset", "random_split"]


def _generator(generator) -> np.random.Generator:
    """The generator to draw from: the given one, else the library's (fetched now: manual_seed replaces it)."""
    if generator is None:
        from ..random import default_generator
        return default_generator()
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"generator must be a numpy.random.Generator or None (the library's), "
                        f"got {type(generator).__name__}")
    return generator


def _to_array(x) -> np.ndarray:
    data = getattr(x, "array", x) if not isinstance(x, np.ndarray) else x
    return np.asarray(data)


class TensorDataset(Dataset):
    """Samples are the rows of the given arrays (or Tensors): ``dataset[i] = (a[i], b[i], ...)``."""

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one array")
        self._arrays = tuple(_to_array(t) for t in tensors)
        for a in self._arrays:
            if a.ndim == 0:
                raise ValueError("TensorDataset: every array needs a first (sample) dimension, got a 0-d array")
        sizes = [len(a) for a in self._arrays]
        if len(set(sizes)) != 1:
            raise ValueError(f"Size mismatch between tensors: first dimensions {sizes}")

    @property
    def tensors(self):
        """The arrays as Tensors (sharing memory), as torch's ``TensorDataset.tensors``."""
        from ..factories import from_numpy
        return tuple(from_numpy(a) for a in self._arrays)

    def __getitem__(self, index):
        return tuple(a[index] for a in self._arrays)

    def __len__(self) -> int:
        return len(self._arrays[0])

    def get_batch(self, indices):
        idx = np.asarray(indices, dtype=np.int64)
        return tuple(a[idx] for a in self._arrays)


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order: ``subset[i] = dataset[indices[i]]``."""

    def __init__(self, dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._indices = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, index):
        if isinstance(index, (list, np.ndarray)):
            return [self.dataset[int(i)] for i in self._indices[np.asarray(index)]]
        return self.dataset[int(self._indices[index])]

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
                raise ValueError(f"random_split: fraction {x} is not between 0 and 1")
        counts = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths {sum(lengths)} does not equal the length "
                         f"of the input dataset {n}")
    perm = _generator(generator).permutation(n)
    offsets = np.cumsum([0] + lengths)
    return [Subset(dataset, perm[offsets[k]:offsets[k + 1]].tolist()) for k in range(len(lengths))]


def default_collate(items):
    """Stack a list of samples field by field: tuples of arrays/numbers -> tuple of arrays."""
    first = items[0]
    if isinstance(first, (tuple, list)):
        return tuple(np.stack([np.asarray(_to_array(item[k])) for item in items]) for k in range(len(first)))
    return np.stack([_to_array(item) for item in items])


class DataLoader:
    """Batches of a dataset as Tensors (``torch.utils.data.DataLoader``, single process).

    Args:
        dataset: a map-style dataset (``__len__`` and ``__getitem__``; ``get_batch`` if it has one).
        batch_size: samples per batch.
        shuffle: draw a new random order at the start of every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: a ``numpy.random.Generator`` to shuffle with; default the library's
            (``tinycompress.random.default_generator()``, fetched at each epoch).
        num_workers, pin_memory: accepted so torch code ports; loading always happens in this process.

    ``len(loader)`` is the number of batches: ``ceil(n / batch_size)``, or ``floor`` with ``drop_last``.
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator=None, num_workers: int = 0, pin_memory: bool = False) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if generator is not None:
            _generator(generator)                      # type check now, not at the first epoch
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self):
        """The batch iterator; this epoch's order is drawn at its first ``next`` (a generator's body
        runs then), never by ``iter()`` alone."""
        n = len(self.dataset)
        order = _generator(self.generator).permutation(n) if self.shuffle else np.arange(n)
        stop = (n // self.batch_size) * self.batch_size if self.drop_last else n
        from ..factories import from_numpy
        fetch = getattr(self.dataset, "get_batch", None)
        for start in range(0, stop, self.batch_size):
            idx = order[start:start + self.batch_size]
            if callable(fetch):
                batch = fetch(idx)
            else:
                batch = default_collate([self.dataset[int(i)] for i in idx])
            if isinstance(batch, tuple):
                yield tuple(from_numpy(np.ascontiguousarray(b)) for b in batch)
            else:
                yield from_numpy(np.ascontiguousarray(batch))
