"""Shape, layout and indexing Functions: the gradient is the inverse rearrangement.

Forwards are NumPy (views where NumPy gives views); backwards rearrange the gradient with the
library's own ops, so they are linear in the gradient and differentiable again under
``create_graph`` (the second derivative of a rearrangement is zero).
"""
from __future__ import annotations

import numpy as np

from ..autograd.engine import sum_to_shape
from ..autograd.function import Function, named
from ..tensor import Tensor
from ._util import as_tensor, normalize_dim


def _shape_args(shape):
    """Accept ``f(2, 3)`` and ``f((2, 3))`` as torch does."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
    grad_fn_name = "ViewBackward0"
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return x.array.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        """d reshape(x) = g reshaped back"""
        return Reshape.apply(g, shape=ctx.shape)


def reshape(input, *shape):
    input = as_tensor(input)
    shape = _shape_args(shape)
    try:
        return Reshape.apply(input, shape=shape)
    except ValueError:
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size {input.array.size} "
                           f"(shape {tuple(input.shape)})") from None


view = reshape


def view_as(input, other):
    return reshape(input, other.shape)


def flatten(input, start_dim=0, end_dim=-1):
    input = as_tensor(input)
    if input.ndim == 0:
        return reshape(input, 1)
    start, end = normalize_dim((start_dim, end_dim), input.ndim, "flatten")
    if start > end:
        raise RuntimeError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    shape = input.shape[:start] + (-1,) + input.shape[end + 1:]
    return reshape(input, shape)


def unflatten(input, dim, sizes):
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, "unflatten")
    return reshape(input, input.shape[:axis] + tuple(sizes) + input.shape[axis + 1:])


def squeeze(input, dim=None):
    input = as_tensor(input)
    if dim is None:
        shape = tuple(n for n in input.shape if n != 1)
    else:
        axes = normalize_dim(dim, input.ndim, "squeeze")
        shape = tuple(n for i, n in enumerate(input.shape) if not (i in axes and n == 1))
    return input if shape == input.shape else \
        named(reshape(input, shape), "SqueezeBackward0" if dim is None else "SqueezeBackward1")


def unsqueeze(input, dim):
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim + 1, "unsqueeze")
    return named(reshape(input, input.shape[:axis] + (1,) + input.shape[axis:]), "UnsqueezeBackward0")


class Permute(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.transpose(x.array, axes)

    @staticmethod
    def backward(ctx, g):
        """d permute(x) = g permuted by the inverse permutation"""
        return Permute.apply(g, axes=tuple(np.argsort(ctx.axes).tolist()))


def permute(input, *dims):
    input = as_tensor(input)
    axes = normalize_dim(_shape_args(dims), input.ndim, "permute")
    if sorted(axes) != list(range(input.ndim)):
        raise RuntimeError(f"permute: dims {list(dims)} are not a permutation of the {input.ndim} dimensions")
    return Permute.apply(input, axes=axes)


def transpose(input, dim0, dim1):
    input = as_tensor(input)
    if input.ndim == 0:
        return input
    a, b = normalize_dim((dim0, dim1), input.ndim, "transpose")
    axes = list(range(input.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return named(Permute.apply(input, axes=tuple(axes)), "TransposeBackward0")


swapaxes = transpose


def t(input):
    input = as_tensor(input)
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {input.ndim}D")
    return input if input.ndim < 2 else named(transpose(input, 0, 1), "TBackward0")


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x.array, shape)

    @staticmethod
    def backward(ctx, g):
        """d expand(x) = g summed over the expanded axes (done by the engine)"""
        return g


def expand(input, *sizes):
    input = as_tensor(input)
    sizes = _shape_args(sizes)
    lead = len(sizes) - input.ndim
    if lead < 0:
        raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's "
                           f"dimensions ({input.ndim})")
    shape = tuple(input.shape[i - lead] if s == -1 else s for i, s in enumerate(sizes))
    try:
        if np.broadcast_shapes(input.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"expand: the expanded size {list(sizes)} must match the existing size "
                           f"{list(input.shape)} at non-singleton dimensions") from None
    return Expand.apply(input, shape=shape)


def expand_as(input, other):
    return expand(input, as_tensor(other).shape)


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


class Repeat(Function):
    @staticmethod
    def forward(ctx, x, repeats):
        lead = len(repeats) - x.ndim
        ctx.shape, ctx.input_shape, ctx.repeats = (1,) * lead + x.shape, x.shape, repeats
        return np.tile(x.array, repeats)

    @staticmethod
    def backward(ctx, g):
        """d tile(x) = the sum of g over the copies"""
        shape = ctx.shape
        split = [n for pair in zip(ctx.repeats, shape) for n in pair]
        return g.reshape(split).sum(tuple(range(0, 2 * len(shape), 2))).reshape(ctx.input_shape)


def repeat(input, *repeats):
    input = as_tensor(input)
    repeats = _shape_args(repeats)
    if len(repeats) < input.ndim:
        raise RuntimeError(f"repeat: number of repeat dims ({len(repeats)}) can not be smaller than the "
                           f"number of dimensions of the tensor ({input.ndim})")
    return Repeat.apply(input, repeats=repeats)


def _along(axis, index):
    """The index that picks ``index`` (an int or a slice) along ``axis``, everything elsewhere."""
    return (slice(None),) * axis + (index,)


class Concatenate(Function):
    grad_fn_name = "CatBackward0"
    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        ctx.bounds = np.cumsum([0] + [x.shape[axis] for x in xs]).tolist()
        return np.concatenate([x.array for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        """d cat(x₁..xₙ) = g split back at the input boundaries"""
        b = ctx.bounds
        return (None, *(g[_along(ctx.axis, slice(b[i], b[i + 1]))] if need else None
                        for i, need in enumerate(ctx.needs_input_grad[1:])))


def cat(tensors, dim=0):
    tensors = [as_tensor(x) for x in tensors]
    if not tensors:
        raise RuntimeError("cat: expected a non-empty list of tensors")
    (axis,) = normalize_dim(dim, tensors[0].ndim, "cat")
    ref = tensors[0].shape
    for x in tensors[1:]:
        if x.ndim != len(ref) or any(a != b for i, (a, b) in enumerate(zip(x.shape, ref)) if i != axis):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {dim}; got {ref} "
                               f"and {tuple(x.shape)}")
    return Concatenate.apply(axis, *tensors)


concat = concatenate = cat


class Stack(Function):
    @staticmethod
    def forward(ctx, axis, *xs):
        ctx.axis = axis
        return np.stack([x.array for x in xs], axis=axis)

    @staticmethod
    def backward(ctx, g):
        """d stack(x₁..xₙ) = the slices of g along the new axis"""
        return (None, *(g[_along(ctx.axis, i)] if need else None
                        for i, need in enumerate(ctx.needs_input_grad[1:])))


def stack(tensors, dim=0):
    tensors = [as_tensor(x) for x in tensors]
    if not tensors:
        raise RuntimeError("stack: expected a non-empty list of tensors")
    if any(x.shape != tensors[0].shape for x in tensors):
        raise RuntimeError(f"stack expects each tensor to be equal size, got "
                           f"{[x.shape for x in tensors]}")
    (axis,) = normalize_dim(dim, tensors[0].ndim + 1, "stack")
    return Stack.apply(axis, *tensors)


class Pad(Function):
    grad_fn_name = "ConstantPadNdBackward0"
    @staticmethod
    def forward(ctx, x, widths, value=0.0):
        ctx.slices = tuple(slice(lo, lo + n) for (lo, _), n in zip(widths, x.shape))
        return np.pad(x.array, widths, constant_values=value)

    @staticmethod
    def backward(ctx, g):
        """d pad(x) = g with the padding cut away"""
        return g[ctx.slices]


def pad(input, pad, mode="constant", value=None):
    """Constant padding; ``pad`` lists (left, right) pairs starting from the last dimension, as torch."""
    input = as_tensor(input)
    if mode != "constant":
        raise NotImplementedError(f"pad: mode {mode!r} is not supported; only 'constant'")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad: padding length must be even and at most 2*ndim ({2 * input.ndim}), got {len(pad)}")
    if any(p < 0 for p in pad):
        raise NotImplementedError("pad: negative padding (cropping) is not supported")
    widths = [(0, 0)] * input.ndim
    for i in range(len(pad) // 2):
        widths[input.ndim - 1 - i] = (int(pad[2 * i]), int(pad[2 * i + 1]))
    return Pad.apply(input, widths=tuple(widths), value=0.0 if value is None else value)


def _is_basic(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer)) for i in items)


def unwrap_index(index):
    """An index with Tensors replaced by their arrays (bool and integer tensors index like arrays)."""
    if isinstance(index, Tensor):
        return index.array
    if isinstance(index, tuple):
        return tuple(i.array if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list):
        if len(index) < 32 and any(i is None or i is Ellipsis or isinstance(i, (slice, Tensor, list, tuple, np.ndarray))
                                   for i in index):
            return unwrap_index(tuple(index))   # torch reads such a list as a tuple of indices (NumPy once did)
        return np.asarray(index)
    return index


def _indexing_name(ctx) -> str:
    """torch's node for ``x[index]``: its last view op (Select for an int, Slice for a slice short of
    its whole dimension, Unsqueeze for None), Alias when none, Index for advanced indexing."""
    index = ctx.index
    if not _is_basic(index):
        return "IndexBackward0"
    if not isinstance(index, tuple):
        return "SliceBackward0" if isinstance(index, slice) else "AliasBackward0" if index is Ellipsis else \
            "UnsqueezeBackward0" if index is None else "SelectBackward0"
    name, dim = "AliasBackward0", 0
    for position, item in enumerate(index):
        if item is Ellipsis:                    # the items after it index the last dimensions
            dim = len(ctx.shape) - sum(i is not None for i in index[position + 1:])
        elif item is None:
            name = "UnsqueezeBackward0"
        else:
            if isinstance(item, slice):
                if item.indices(ctx.shape[dim]) != (0, ctx.shape[dim], 1):
                    name = "SliceBackward0"
            else:
                name = "SelectBackward0"
            dim += 1
    return name


class GetItem(Function):
    grad_fn_name = _indexing_name

    @staticmethod
    def forward(ctx, x, index):
        ctx.shape, ctx.index = x.shape, index
        return x.array[index]

    @staticmethod
    def backward(ctx, g):
        """d x[i] = g scattered into zeros at i (accumulating where an index repeats)"""
        return ScatterInto.apply(g, shape=ctx.shape, index=ctx.index)


def getitem(input, index):
    index = unwrap_index(index)
    if isinstance(index, np.ndarray) and index.dtype == bool and index.shape != input.shape[:index.ndim]:
        raise IndexError(f"boolean mask of shape {tuple(index.shape)} does not match the indexed tensor's "
                         f"shape {tuple(input.shape)}")
    return GetItem.apply(input, index=index)


class ScatterInto(Function):
    """Zeros of ``shape`` with ``values`` added at ``index``: the gradient of ``x[index]``."""

    @staticmethod
    def forward(ctx, values, shape, index):
        ctx.index = index
        out = np.zeros(shape, values.dtype)
        if _is_basic(index):
            out[index] = values.array
        else:
            np.add.at(out, index, values.array)
        return out

    @staticmethod
    def backward(ctx, g):
        """d scatter(v at i) = g[i]"""
        return GetItem.apply(g, index=ctx.index)


def split(tensor, split_size_or_sections, dim=0):
    """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of the listed sizes."""
    tensor = as_tensor(tensor)
    (axis,) = normalize_dim(dim, tensor.ndim, "split")
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split_size must be positive, got {size}")
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split: sizes {sizes} do not add up to the dimension's size {n}")
    out, start = [], 0
    for s in sizes:
        out.append(named(GetItem.apply(tensor, index=_along(axis, slice(start, start + s))), "SplitBackward0"))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, "chunk")
    size = -(-input.shape[axis] // chunks)
    return split(input, max(size, 1), dim)


class MaskedFill(Function):
    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.mask = mask
        return np.where(mask, np.asarray(value, x.dtype), x.array)

    @staticmethod
    def backward(ctx, g):
        """d masked_fill(x) = g where not masked, 0 where filled"""
        return MaskedFill.apply(g, ctx.mask, 0.0), None, None


def masked_fill(input, mask, value):
    input = as_tensor(input)
    mask = np.asarray(getattr(mask, "array", mask))
    if mask.dtype != bool:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got {mask.dtype}")
    if isinstance(value, Tensor):
        value = value.item()
    try:
        np.broadcast_shapes(mask.shape, input.shape)
    except ValueError:
        raise ValueError(f"masked_fill: mask of shape {tuple(mask.shape)} cannot be broadcast to the input's "
                         f"shape {tuple(input.shape)}") from None
    return MaskedFill.apply(input, mask, value)


class Diag(Function):
    # torch's names: diag of a vector embeds it, diag of a matrix takes a diagonal (torch 2 prints "_copy")
    grad_fn_name = lambda ctx: "DiagEmbedBackward0" if len(ctx.shape) == 1 else "DiagonalBackward0_copy"  # noqa

    @staticmethod
    def forward(ctx, x, diagonal=0):
        ctx.shape, ctx.diagonal = x.shape, diagonal
        return np.diag(x.array, diagonal).copy()

    @staticmethod
    def backward(ctx, g):
        """d diag(x) = diag(g) (a vector's diagonal matrix ↔ a matrix's diagonal)"""
        k = ctx.diagonal
        if len(ctx.shape) == 1:
            return Diag.apply(g, diagonal=k)
        rows = np.arange(g.shape[0]) + max(-k, 0)
        return ScatterInto.apply(g, shape=ctx.shape, index=(rows, rows + k))


def diag(input, diagonal=0):
    input = as_tensor(input)
    if input.ndim not in (1, 2):
        raise RuntimeError(f"diag: expected a 1-D or 2-D tensor, got {input.ndim}-D")
    return Diag.apply(input, diagonal=diagonal)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return x.array.copy()

    @staticmethod
    def backward(ctx, g):
        """d clone(x) = g"""
        return g


def clone(input):
    return Clone.apply(as_tensor(input))


def contiguous(input):
    return input


# ----------------------------------------------------------------------------- undoing broadcasts, writes
class SumToSize(Function):
    grad_fn_name = "SumBackward1"
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return sum_to_shape(x.array, tuple(shape))

    @staticmethod
    def backward(ctx, g):
        """d sum_to_size(x) = g broadcast back to x's shape"""
        return expand(g, ctx.shape), None


def sum_to_size(input, *size):
    """``input`` summed over the axes broadcasting added or stretched, down to ``size`` (torch's
    ``Tensor.sum_to_size``): how a gradient undoes broadcasting."""
    input = as_tensor(input)
    shape = _shape_args(size)
    if tuple(input.shape) == shape:
        return input
    try:
        return SumToSize.apply(input, shape)
    except ValueError:
        raise RuntimeError(f"sum_to_size: size {list(shape)} is not expandable to size {list(input.shape)}") from None


class Overwrite(Function):
    @staticmethod
    def forward(ctx, old, value):
        ctx.value_shape = value.shape if isinstance(value, Tensor) else None
        values = value.array if isinstance(value, Tensor) else np.asarray(value)
        return np.broadcast_to(values, old.shape).astype(old.dtype)

    @staticmethod
    def backward(ctx, g):
        """d overwrite(old, v) = 0, g summed to v's shape   (what fill_/copy_ leave of the old values: nothing)"""
        return (g * 0 if ctx.needs_input_grad[0] else None,
                g if ctx.needs_input_grad[1] else None)


def overwrite(old, value):
    """A tensor shaped and typed like ``old`` holding ``value`` (broadcast): fill_ and copy_ out of place."""
    return Overwrite.apply(as_tensor(old), value)


class IndexPut(Function):
    @staticmethod
    def forward(ctx, x, value, index):
        ctx.index = index
        out = x.array.copy()
        out[index] = value.array if isinstance(value, Tensor) else value
        return out

    @staticmethod
    def backward(ctx, g):
        """d (x[i] = v) = g with g[i] zeroed, g[i] summed to v's shape"""
        gx = index_put(g, ctx.index, 0.0) if ctx.needs_input_grad[0] else None
        gv = getitem(g, ctx.index) if ctx.needs_input_grad[1] else None
        return gx, gv, None


def index_put(input, index, value):
    """``input`` with ``input[index] = value`` applied, out of place (what ``t[index] = v`` records)."""
    input = as_tensor(input)
    index = unwrap_index(index)
    if isinstance(value, Tensor) and value.dtype != input.dtype:
        value = value.to(input.dtype)
    return IndexPut.apply(input, value, index)
