"""Operand handling shared by the ops: scalars, dtype promotion, dims."""
from __future__ import annotations

import numbers

import numpy as np

from ..tensor import Tensor

DEFAULT_FLOAT = np.dtype(np.float32)


def as_tensor(x) -> Tensor:
    """A Tensor for ``x``: Tensors pass through, arrays, numbers and lists are wrapped (no grad) with
    torch.tensor's dtype inference (``Tensor(3)`` would be torch's legacy constructor: 3 elements)."""
    if isinstance(x, Tensor):
        return x
    if type(x) is np.ndarray:
        return Tensor._wrap(x)
    return Tensor._from_data(x)


def operands(a, b):
    """Prepare the two operands of a binary op with torch's type promotion.

    Tensors stay Tensors; a Python or NumPy scalar next to a tensor becomes a Python scalar, so it
    never promotes the tensor (float32 * 2.0 stays float32); integer or bool tensors meeting a
    float become float32 (torch's default dtype), not float64 as NumPy would make them.
    """
    a_is, b_is = isinstance(a, Tensor), isinstance(b, Tensor)
    if a_is and b_is:
        if a.array.dtype == b.array.dtype:
            return a, b
        if (a.ndim == 0) != (b.ndim == 0):            # torch: a 0-d tensor promotes only across categories
            dimensioned, zero_dim = (b, a) if a.ndim == 0 else (a, b)
            if _category(zero_dim.dtype) <= _category(dimensioned.dtype):
                dtype = dimensioned.dtype
            else:
                dtype = zero_dim.dtype
            return _cast(a, dtype), _cast(b, dtype)
        fa, fb = a.array.dtype.kind == "f", b.array.dtype.kind == "f"
        if fa and not fb:           # a bool mask meets a float as NumPy makes it: no float copy of the mask
            return a, (b if b.array.dtype.kind == "b" else Tensor._wrap(b.array.astype(a.array.dtype)))
        if fb and not fa:
            return (a if a.array.dtype.kind == "b" else Tensor._wrap(a.array.astype(b.array.dtype))), b
        return a, b
    if not a_is and not b_is:
        return as_tensor(a), b
    tensor, other = (a, b) if a_is else (b, a)
    if isinstance(other, np.ndarray) and other.ndim > 0:
        other = Tensor(other)
        return operands(a if a_is else other, other if a_is else b)
    other = _scalar(other)
    if isinstance(other, float) and tensor.array.dtype.kind != "f":
        tensor = Tensor._wrap(tensor.array.astype(DEFAULT_FLOAT))
    return (tensor, other) if a_is else (other, tensor)


def _category(dtype) -> int:
    """torch's type categories: bool < integer < floating."""
    return 2 if dtype.kind == "f" else 1 if dtype.kind in "iu" else 0


def _cast(t: Tensor, dtype) -> Tensor:
    """``t`` as ``dtype``, through the differentiable cast when it requires grad."""
    if t.dtype == dtype:
        return t
    if t.requires_grad:
        from .elementwise import cast
        return cast(t, dtype)
    return Tensor._wrap(t.array.astype(dtype))


def _scalar(x):
    if type(x) is float or type(x) is int:          # the common case, before the slower ABC checks
        return x
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return float(x)
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return _scalar(x[()])
    raise TypeError(f"unsupported operand of type {type(x).__name__}: expected a Tensor, an array or a number")


def normalize_dim(dim, ndim: int, op: str):
    """``dim`` (int, tuple or None) as a tuple of non-negative axes, checked against ``ndim``."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        lim = max(ndim, 1)
        if not -lim <= d < lim:
            raise IndexError(f"{op}: dimension {d} is out of range for a tensor with {ndim} dimensions "
                             f"(expected to be in range [{-lim}, {lim - 1}])")
        out.append(int(d) % lim)
    return tuple(out)


def broadcast_error(op: str, *shapes) -> ValueError:
    shown = " and ".join(str(tuple(s)) for s in shapes)
    return ValueError(f"{op}: shapes {shown} cannot be broadcast together")
