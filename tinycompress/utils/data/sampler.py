"""Samplers as in ``torch.utils.data.sampler``: which indices a DataLoader reads, in what order.

Each random sampler draws its order when its iterator starts running (at the first ``next``, an
``__iter__`` written as a generator), never in ``iter()`` alone, and from the generator it was given
(a :class:`tinycompress.Generator`, a NumPy Generator) or else the library's default one. The
streams are NumPy's: the same seed gives the same order run after run, not torch's order.

The built-in samplers also expose ``order()``, their whole epoch as one int64 array, which
:class:`BatchSampler` slices instead of grouping indices one by one in Python.
"""
from __future__ import annotations

import numbers

import numpy as np

from ...random import as_numpy_generator

__all__ = ["Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "BatchSampler"]


class Sampler:
    """Base class: ``__iter__`` yields dataset indices (``__len__`` if the count is known)."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class _ArraySampler(Sampler):
    """A sampler whose epoch is one array: iterating yields its ints; ``order()`` gives the array."""

    def order(self) -> np.ndarray:
        raise NotImplementedError

    def __iter__(self):
        yield from self.order().tolist()


class SequentialSampler(_ArraySampler):
    """``0, 1, ..., len(data_source) - 1``."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def order(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(_ArraySampler):
    """A random permutation of the indices (``replacement=False``), repeated and cut to
    ``num_samples`` if that is given; or ``num_samples`` indices drawn with replacement."""

    def __init__(self, data_source, replacement: bool = False, num_samples=None, generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        if not isinstance(self.replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got replacement={self.replacement}")
        if (isinstance(self.num_samples, bool) or not isinstance(self.num_samples, numbers.Integral)
                or self.num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")
        if generator is not None:
            as_numpy_generator(generator)                   # type check now, not at the first epoch

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def order(self) -> np.ndarray:
        n, k = len(self.data_source), self.num_samples
        rng = as_numpy_generator(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=k, dtype=np.int64)
        if k == n:
            return rng.permutation(n).astype(np.int64, copy=False)
        return np.concatenate([rng.permutation(n) for _ in range(-(-k // n))])[:k].astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """The given indices in a random order."""

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = generator

    def order(self) -> np.ndarray:
        idx = np.asarray(getattr(self.indices, "array", self.indices), dtype=np.int64).reshape(-1)
        return idx[as_numpy_generator(self.generator).permutation(len(idx))]

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(_ArraySampler):
    """``num_samples`` indices drawn with probabilities proportional to ``weights``."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None) -> None:
        if (isinstance(num_samples, bool) or not isinstance(num_samples, numbers.Integral) or num_samples <= 0):
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        w = np.asarray(getattr(weights, "array", weights), dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {w.shape}")
        if not replacement and num_samples > np.count_nonzero(w):
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        self.weights, self.num_samples, self.replacement, self.generator = w, int(num_samples), replacement, generator

    def order(self) -> np.ndarray:
        p = self.weights / self.weights.sum()
        return as_numpy_generator(self.generator).choice(len(p), size=self.num_samples, replace=self.replacement,
                                                         p=p).astype(np.int64)

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Lists of ``batch_size`` indices from ``sampler`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got drop_last={drop_last}")
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), drop_last

    def batches(self):
        """The epoch's batches as int64 arrays (slices of the sampler's order when it has one)."""
        bs = self.batch_size
        if isinstance(self.sampler, _ArraySampler):
            order = self.sampler.order()
            stop = (len(order) // bs) * bs if self.drop_last else len(order)
            for start in range(0, stop, bs):
                yield order[start:start + bs]
            return
        batch = []
        for i in self.sampler:
            batch.append(int(i))
            if len(batch) == bs:
                yield np.asarray(batch, dtype=np.int64)
                batch = []
        if batch and not self.drop_last:
            yield np.asarray(batch, dtype=np.int64)

    def __iter__(self):
        for b in self.batches():
            yield b.tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
