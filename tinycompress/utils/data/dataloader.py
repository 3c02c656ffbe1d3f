"""``DataLoader``, ``default_collate`` and ``default_convert`` as in ``torch.utils.data``, in one process.

The loader takes torch's arguments and their rules (``sampler`` excludes ``shuffle``; ``batch_sampler``
excludes ``batch_size``, ``shuffle``, ``sampler`` and ``drop_last``; ``batch_size=None`` turns batching
off). ``num_workers``, ``pin_memory``, ``timeout``, ``worker_init_fn``, ``prefetch_factor`` and
``persistent_workers`` are checked as torch checks them and otherwise accepted: loading always
happens in this process, so a script written for workers runs unchanged.

Fast path: with the default ``collate_fn``, a map-style dataset with a vectorised
``get_batch(indices)`` (MNIST with the library's transforms, TensorDataset, a Subset of those) is
indexed once per batch; any other dataset has its items fetched one by one and collated, as torch
does. A batch of ``(x, y)`` samples comes out as a list ``[x_batch, y_batch]`` of Tensors (torch's
``default_collate`` returns a list for tuple samples).

Shuffling draws the epoch's order at its first batch, never in ``iter()`` alone: an iterator made and
dropped (``tqdm.auto``'s asyncio bar makes one in its constructor) does not shift the random stream,
so a seeded run is the same with or without a progress bar.
"""
from __future__ import annotations

import collections.abc
import numbers

import numpy as np

from ...random import as_numpy_generator
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]


def _tensor(x):
    from ...factories import from_numpy
    return from_numpy(np.ascontiguousarray(x))


def default_convert(data):
    """NumPy arrays (and those inside lists, tuples, dicts) to Tensors; anything else as it is."""
    from ...tensor import Tensor
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray) and data.dtype.kind not in "USO":
        return _tensor(data)
    if isinstance(data, np.generic) and not isinstance(data, (np.str_, np.bytes_)):
        return _tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return type(data)({k: default_convert(v) for k, v in data.items()}) if isinstance(data, dict) else \
            {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


def default_collate(batch):
    """Stack a list of samples as torch does: Tensors and arrays stacked, Python floats to a float64
    Tensor, ints to int64, strings kept as a list, and tuples/lists/dicts collated field by field
    (a tuple sample gives a list of fields)."""
    from ...tensor import Tensor
    elem = batch[0]
    if isinstance(elem, Tensor):
        from ...ops import stack
        return stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                            f"lists; found arrays of {elem.dtype}")
        return _tensor(np.stack(batch))
    if isinstance(elem, np.generic) and not isinstance(elem, (np.str_, np.bytes_)):
        return _tensor(np.asarray(batch))
    if isinstance(elem, float):
        return _tensor(np.asarray(batch, dtype=np.float64))
    if isinstance(elem, (bool, np.bool_)):
        return _tensor(np.asarray(batch, dtype=np.bool_))
    if isinstance(elem, numbers.Integral):
        return _tensor(np.asarray(batch, dtype=np.int64))
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(s)) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        return [default_collate(list(s)) for s in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
                    f"found {type(elem)}")


def get_worker_info():
    """None: there are no worker processes (loading runs in the main process)."""
    return None


class DataLoader:
    """Batches of a dataset as Tensors (``torch.utils.data.DataLoader``, single process).

    Args (torch's):
        dataset: map-style (``__len__``, ``__getitem__``; ``get_batch`` if it has one) or an
            :class:`IterableDataset`.
        batch_size: samples per batch (1); None turns batching off (each sample converted alone).
        shuffle: a new random order every epoch (a :class:`RandomSampler` over ``generator``).
        sampler: the indices to read, in order (excludes ``shuffle``).
        batch_sampler: lists of indices, one per batch (excludes batch_size, shuffle, sampler, drop_last).
        num_workers, pin_memory, timeout, worker_init_fn, multiprocessing_context, prefetch_factor,
            persistent_workers, pin_memory_device, in_order: accepted; everything runs in this process.
        collate_fn: merges a list of samples into a batch (``default_collate``).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: a :class:`tinycompress.Generator` or ``numpy.random.Generator`` for the random
            sampler; default the library's (``tc.manual_seed`` makes it reproducible).

    ``len(loader)`` is the number of batches: ``ceil(n / batch_size)``, or ``floor`` with ``drop_last``.
    """

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers: int = 0, collate_fn=None, pin_memory: bool = False, drop_last: bool = False,
                 timeout: float = 0, worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers: bool = False, pin_memory_device: str = "",
                 in_order: bool = True) -> None:
        if not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable "
                             "multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if generator is not None:
            as_numpy_generator(generator)                   # type check now, not at the first epoch
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (False, None):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if isinstance(batch_size, bool) or (batch_size is not None and (
                not isinstance(batch_size, numbers.Integral) or batch_size <= 0)):
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        if sampler is None and not self._iterable:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = bool(drop_last)
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers, self.pin_memory, self.timeout = num_workers, pin_memory, timeout
        self.worker_init_fn, self.multiprocessing_context = worker_init_fn, multiprocessing_context
        self.prefetch_factor, self.persistent_workers = prefetch_factor, persistent_workers
        self.pin_memory_device, self.in_order = pin_memory_device, in_order
        self._default_collate = collate_fn is None
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_size is not None or batch_sampler is not None else default_convert)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def __iter__(self):
        """The batch iterator; the epoch's order is drawn at its first ``next`` (a generator's body runs
        then), never by ``iter()`` alone."""
        if self._iterable:
            yield from self._iter_stream()
            return
        if not self._auto_collation:
            for i in self.sampler:
                yield self.collate_fn(self.dataset[i])
            return
        fetch = getattr(self.dataset, "get_batch", None) if self._default_collate else None
        batches = self.batch_sampler.batches() if isinstance(self.batch_sampler, BatchSampler) else (
            np.asarray(b, dtype=np.int64) for b in self.batch_sampler)
        for idx in batches:
            if callable(fetch):
                yield _as_batch(fetch(idx))
            elif hasattr(self.dataset, "__getitems__"):
                yield self.collate_fn(self.dataset.__getitems__(idx.tolist()))
            else:
                yield self.collate_fn([self.dataset[i] for i in idx.tolist()])

    def _iter_stream(self):
        if self.batch_size is None:
            for item in self.dataset:
                yield self.collate_fn(item)
            return
        batch = []
        for item in self.dataset:
            batch.append(item)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)


def _as_batch(fields):
    """What ``get_batch`` returned (one array/Tensor per field, or a single one) as the loader's batch."""
    from ...tensor import Tensor
    if isinstance(fields, (tuple, list)):
        return [f if isinstance(f, Tensor) else _tensor(np.asarray(f)) for f in fields]
    return fields if isinstance(fields, Tensor) else _tensor(np.asarray(fields))
