"""Tensor factories with torch's names and defaults (float32 unless told otherwise).

Random factories draw from the library's one generator (:mod:`tinycompress.random`).
"""
from __future__ import annotations

import builtins

import numpy as np

from . import random as _random
from .tensor import TENSOR_TYPE_NAMES, Size, Tensor, _legacy_array, _to_cpu_only, device  # noqa: F401

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

_default_dtype = float32


def get_default_dtype():
    return _default_dtype


def set_default_dtype(dtype) -> None:
    """Set the dtype of floating factories (float32 or float64)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: only floating point dtypes are supported, got {dtype}")
    _default_dtype = dtype


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (type(1), np.integer)) or s < 0:
            raise ValueError(f"sizes must be non-negative integers, got {size}")
    return tuple(size)


def _make(array, dtype, requires_grad, device=None):
    """A new leaf from ``array`` cast to ``dtype`` (the default dtype for None); the device must be the CPU."""
    if device is not None:
        _to_cpu_only(device)
    t = Tensor._wrap(array.astype(dtype or _default_dtype, copy=False))
    if requires_grad:
        t.requires_grad_(True)
    return t


# Every factory takes torch's keywords: dtype, device (the CPU only: 'cpu' or tc.device('cpu')),
# requires_grad; layout and pin_memory are accepted and mean nothing here; the random ones a generator.

def tensor(data, dtype=None, device=None, requires_grad: type(True) = False, pin_memory=False) -> Tensor:
    """A new tensor from data: Python floats give float32, ints int64; an ndarray keeps its dtype."""
    if device is not None:
        _to_cpu_only(device)
    if isinstance(data, Tensor):
        data = data.array
    t = Tensor._from_data(np.array(data, copy=True) if isinstance(data, np.ndarray) else data, dtype=dtype)
    if t.array.dtype.kind == "f" and dtype is None and not isinstance(data, (np.ndarray, np.generic)):
        t.array = t.array.astype(_default_dtype, copy=False)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor` but shares memory with an ndarray of the right dtype."""
    if device is not None:
        _to_cpu_only(device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    return Tensor._from_data(data, dtype=dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


def zeros(*size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _make(np.zeros(_size(size), dtype or _default_dtype), dtype, requires_grad, device)


def ones(*size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _make(np.ones(_size(size), dtype or _default_dtype), dtype, requires_grad, device)


def empty(*size, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    return _make(np.empty(_size(size), dtype or _default_dtype), dtype, requires_grad, device)


def full(size, fill_value, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    if dtype is None:
        dtype = (_default_dtype if isinstance(fill_value, type(1.0))
                 else np.dtype(np.bool_) if isinstance(fill_value, type(True))
                 else np.dtype(np.int64) if isinstance(fill_value, (type(1), np.integer)) else _default_dtype)
    return _make(np.full(_size((size,) if not isinstance(size, (tuple, list)) else (size,)), fill_value, dtype),
                 dtype, requires_grad, device)


def zeros_like(input, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _make(np.zeros(input.shape, dtype or input.dtype), dtype or input.dtype, requires_grad, device)


def ones_like(input, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _make(np.ones(input.shape, dtype or input.dtype), dtype or input.dtype, requires_grad, device)


def full_like(input, fill_value, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return _make(np.full(input.shape, fill_value, dtype or input.dtype), dtype or input.dtype, requires_grad,
                 device)


def empty_like(input, dtype=None, layout=None, device=None, requires_grad=False, memory_format=None):
    return zeros_like(input, dtype, device=device, requires_grad=requires_grad)


def rand_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
               requires_grad=requires_grad)


def randn_like(input, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False,
              memory_format=None):
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype, device=device,
               requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, layout=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    values = np.arange(start, end, step)
    if dtype is None:
        dtype = np.dtype(np.int64) if values.dtype.kind in "iu" else _default_dtype
    return _make(values, dtype, requires_grad, device)


def linspace(start, end, steps, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _make(np.linspace(start, end, builtins.int(steps)), dtype, requires_grad, device)


def eye(n, m=None, *, dtype=None, layout=None, device=None, requires_grad=False):
    return _make(np.eye(n, m), dtype, requires_grad, device)


def rand(*size, generator=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """Uniform on [0, 1), from ``generator`` (a :class:`tc.Generator`) or the library's."""
    dtype = np.dtype(dtype or _default_dtype)
    values = _random.as_numpy_generator(generator).random(_size(size), dtype=dtype)
    return _make(values, dtype, requires_grad, device)


def randn(*size, generator=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """Standard normal, from ``generator`` (a :class:`tc.Generator`) or the library's."""
    dtype = np.dtype(dtype or _default_dtype)
    values = _random.as_numpy_generator(generator).standard_normal(_size(size), dtype=dtype)
    return _make(values, dtype, requires_grad, device)


def randint(low, high=None, size=None, *, generator=None, dtype=None, layout=None, device=None,
            requires_grad=False):
    """Integers uniform on [low, high) (``randint(high, size)`` also works, as torch)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    if requires_grad:
        raise RuntimeError("randint: integer tensors cannot require gradients")
    values = _random.as_numpy_generator(generator).integers(low, high, size=tuple(size))
    return _make(values, dtype or np.int64, False, device)


def randperm(n, *, generator=None, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    values = _random.as_numpy_generator(generator).permutation(builtins.int(n))
    return _make(values, dtype or np.int64, requires_grad, device)


# ----------------------------------------------------------------------------- legacy tensor types
class _TensorType(type):
    """The metaclass of ``FloatTensor`` & co: ``isinstance(t, tc.FloatTensor)`` holds for the Tensors of
    that dtype, as in torch (they are not subclasses of Tensor there either)."""

    def __instancecheck__(cls, obj) -> type(True):
        return isinstance(obj, Tensor) and obj.array.dtype == cls._tensor_type_dtype

    def __repr__(cls) -> str:
        return f"<class 'tinycompress.{cls.__name__}'>"


def _tensor_type(dtype, name):
    def __new__(cls, *args, requires_grad=False, device=None):
        if len(args) == 1 and isinstance(args[0], Tensor) and args[0].array.dtype != dtype:
            raise TypeError(f"expected {dtype} (got {args[0].array.dtype}): convert with .to(tc.{dtype})")
        t = Tensor(_legacy_array(args, dtype, name).astype(dtype, copy=False), device=device)
        return t.requires_grad_(True) if requires_grad else t
    doc = (f"``tc.{name}(*sizes)`` (uninitialised) or ``tc.{name}(data)``: a Tensor of dtype {dtype}, as "
           f"torch's legacy ``torch.{name}``; ``isinstance(t, tc.{name})`` tests the dtype.")
    return _TensorType(name, (), {"__new__": __new__, "__doc__": doc, "_tensor_type_dtype": dtype,
                                  "__module__": "tinycompress"})


_TYPES = {name: _tensor_type(dtype, name) for dtype, name in TENSOR_TYPE_NAMES.items()}
FloatTensor, DoubleTensor, HalfTensor = _TYPES["FloatTensor"], _TYPES["DoubleTensor"], _TYPES["HalfTensor"]
LongTensor, IntTensor, ShortTensor = _TYPES["LongTensor"], _TYPES["IntTensor"], _TYPES["ShortTensor"]
CharTensor, ByteTensor, BoolTensor = _TYPES["CharTensor"], _TYPES["ByteTensor"], _TYPES["BoolTensor"]
