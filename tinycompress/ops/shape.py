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
        ctx.shape = x.array.shape
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
        axes = ctx.axes
        return Permute.apply(g, axes=tuple(sorted(range(len(axes)), key=axes.__getitem__)))


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


# ----------------------------------------------------------------------------- slicing and index ops
class Slice(GetItem):
    """``x`` narrowed to a range along one dim (torch's ``SliceBackward0``); the gradient is GetItem's:
    ``g`` placed into zeros at the range."""
    grad_fn_name = "SliceBackward0"


def narrow(input, dim, start, length):
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, "narrow")
    n = input.shape[axis]
    start = int(start.item() if isinstance(start, Tensor) else start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    start = start + n if start < 0 else start
    if length < 0 or start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return Slice.apply(input, index=_along(axis, slice(start, start + int(length))))


def _index_array(index, op, kinds="iu"):
    """The integer array of an index tensor (or array), with torch's dtype error."""
    a = index.array if isinstance(index, Tensor) else np.asarray(index)
    if a.dtype.kind not in kinds:
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index, got {a.dtype}")
    return a.astype(np.int64, copy=False)


def _along_index(index, axis):
    """The NumPy index that picks ``x[i₀, …, index[i], …]`` along ``axis`` for every position i of
    ``index`` (gather's addressing): ``index`` at ``axis``, aranges broadcast elsewhere."""
    ndim = index.ndim
    return tuple(index if d == axis else np.arange(n).reshape([-1 if k == d else 1 for k in range(ndim)])
                 for d, n in enumerate(index.shape))


def _check_index(op, x_shape, axis, index, src_shape=None):
    """torch's checks of gather/scatter's index: same rank, no larger than self (but along dim) and src,
    entries within the dim."""
    if index.ndim != len(x_shape) or (src_shape is not None and len(src_shape) != index.ndim):
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if src_shape is None else 'self and src'} tensor")
    for d, n in enumerate(index.shape):
        if (d != axis and n > x_shape[d]) or (src_shape is not None and n > src_shape[d]):
            more = "" if src_shape is None else f" and to be no larger size than src {list(src_shape)}"
            raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be no "
                               f"larger than self {list(x_shape)} apart from dimension {axis}{more}")
    if index.size:
        n = x_shape[axis] if x_shape else 1
        bad = index[(index < 0) | (index >= n)]
        if bad.size:
            raise RuntimeError(f"index {bad.flat[0]} is out of bounds for dimension {axis} with size {n}")


class Gather(Function):
    @staticmethod
    def forward(ctx, x, where):
        ctx.shape, ctx.where = x.shape, where
        return x.array[where]

    @staticmethod
    def backward(ctx, g):
        """d gather(x, dim, i) = g added into zeros at i along dim (a scatter_add; repeats accumulate)"""
        return ScatterInto.apply(g, shape=ctx.shape, index=ctx.where)


def _lift0(x, index):
    """0-d operands as 1-element vectors (torch lets gather/scatter take 0-d tensors)."""
    return (x.reshape(1) if x.ndim == 0 else x), (index.reshape(1) if index.ndim == 0 else index)


def gather(input, dim, index, *, sparse_grad=False):
    input = as_tensor(input)
    index = _index_array(index, "gather")
    (axis,) = normalize_dim(dim, input.ndim, "gather")
    if input.ndim == 0 or index.ndim == 0:
        if input.ndim > 1 or index.ndim > 1:
            raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
        x, i = _lift0(input, index)
        return gather(x, 0, i).reshape(index.shape)
    _check_index("gather", input.shape, axis, index)
    return Gather.apply(input, where=_along_index(index, axis))


def _src_part(src, index):
    """The leading ``index.shape`` block of ``src``: the elements scatter reads."""
    return src[tuple(slice(0, n) for n in index.shape)]


def _grad_src(g, where, index, src_shape):
    """g gathered at the scattered places, in src's shape (zeros for src elements never read)."""
    gs = GetItem.apply(g, index=where)
    if tuple(src_shape) == index.shape:
        return gs
    return ScatterInto.apply(gs, shape=tuple(src_shape), index=tuple(slice(0, n) for n in index.shape))


class Scatter(Function):
    @staticmethod
    def forward(ctx, x, src, where, index):
        ctx.where, ctx.index = where, index
        ctx.src_shape = src.shape if isinstance(src, Tensor) else None
        out = x.array.copy()
        out[where] = _src_part(src.array, index) if isinstance(src, Tensor) else src
        return out

    @staticmethod
    def backward(ctx, g):
        """d scatter(x, dim, i, src) = g with the overwritten places zeroed, g gathered at i"""
        gx = index_put(g, ctx.where, 0.0) if ctx.needs_input_grad[0] else None
        gs = _grad_src(g, ctx.where, ctx.index, ctx.src_shape) if ctx.needs_input_grad[1] else None
        return gx, gs


class ScatterValue(Scatter):
    """scatter of one value (torch's second overload: ``ScatterBackward1``); Scatter's backward."""
    grad_fn_name = "ScatterBackward1"


class ScatterAdd(Function):
    @staticmethod
    def forward(ctx, x, src, where, index):
        ctx.where, ctx.index, ctx.src_shape = where, index, src.shape
        out = x.array.copy()
        np.add.at(out, where, _src_part(src.array, index))
        return out

    @staticmethod
    def backward(ctx, g):
        """d scatter_add(x, dim, i, src) = g, g gathered at i"""
        gs = _grad_src(g, ctx.where, ctx.index, ctx.src_shape) if ctx.needs_input_grad[1] else None
        return g, gs


def _scatter_args(op, input, dim, index, src):
    input = as_tensor(input)
    index = _index_array(index, op)
    (axis,) = normalize_dim(dim, input.ndim, op)
    if isinstance(src, Tensor):
        if src.dtype != input.dtype:
            raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype")
        _check_index(op, input.shape, axis, index, src.shape)
    else:
        _check_index(op, input.shape, axis, index)
    return input, index, _along_index(index, axis)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor, or a number ``value``) written at ``index`` along ``dim``:
    ``out[i][index[i][j]] = src[i][j]`` (dim 0). Where an index repeats, the last write wins
    (torch leaves that order unspecified)."""
    if reduce is not None:
        raise NotImplementedError("scatter: reduce= is not supported; use scatter_add (or torch's scatter_reduce)")
    if (src is None) == (value is None):
        raise TypeError("scatter() expects exactly one of 'src' (a Tensor) and 'value' (a number)")
    src = value if src is None else src
    if not isinstance(src, Tensor):
        src = src.item() if hasattr(src, "item") and np.ndim(src) == 0 else src
        if np.ndim(src):
            raise TypeError("scatter(): src must be a Tensor or a number")
        input, index, where = _scatter_args("scatter", input, dim, index, None)
        return ScatterValue.apply(input, src, where=where, index=index)
    input, index, where = _scatter_args("scatter", input, dim, index, src)
    return Scatter.apply(input, src, where=where, index=index)


def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim`` (repeated indices accumulate)."""
    src = as_tensor(src)
    input, index, where = _scatter_args("scatter_add", input, dim, index, src)
    return ScatterAdd.apply(input, src, where=where, index=index)


class IndexSelect(Function):
    @staticmethod
    def forward(ctx, x, where):
        ctx.shape, ctx.where = x.shape, where
        return x.array[where]

    @staticmethod
    def backward(ctx, g):
        """d index_select(x, dim, i) = g added into zeros at i along dim (an index_add; repeats accumulate)"""
        return ScatterInto.apply(g, shape=ctx.shape, index=ctx.where)


def index_select(input, dim, index):
    input = as_tensor(input)
    index = _index_array(index, "index_select")
    if index.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    if input.ndim == 0:
        if index.size != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got {index.size} value(s)")
        return index_select(input.reshape(1), 0, index).reshape(())
    (axis,) = normalize_dim(dim, input.ndim, "index_select")
    index = index.reshape(-1)
    if index.size and ((index < 0) | (index >= input.shape[axis])).any():
        raise IndexError("index out of range in self")
    return IndexSelect.apply(input, where=_along(axis, index))


def take_along_dim(input, indices, dim=None):
    """``input`` picked at ``indices`` along ``dim`` (the flattened input when None), input and
    indices broadcast against each other in the other dims: a gather, as torch computes it."""
    input = as_tensor(input)
    index = _index_array(indices, "take_along_dim")
    if dim is None:
        return gather(flatten(input), 0, index.reshape(-1))
    (axis,) = normalize_dim(dim, input.ndim, "take_along_dim")
    if index.ndim != input.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.ndim} dimensions for input, and {index.ndim} dimensions for indices")
    try:
        common = np.broadcast_shapes(tuple(1 if d == axis else n for d, n in enumerate(input.shape)),
                                     tuple(1 if d == axis else n for d, n in enumerate(index.shape)))
    except ValueError:
        raise RuntimeError(f"take_along_dim: input of shape {tuple(input.shape)} and indices of shape "
                           f"{tuple(index.shape)} cannot be broadcast apart from dimension {axis}") from None
    x_shape = tuple(input.shape[axis] if d == axis else n for d, n in enumerate(common))
    i_shape = tuple(index.shape[axis] if d == axis else n for d, n in enumerate(common))
    if x_shape != tuple(input.shape):
        input = expand(input, x_shape)
    return gather(input, axis, np.broadcast_to(index, i_shape))


class IndexAdd(Function):
    @staticmethod
    def forward(ctx, x, source, where, alpha=1):
        ctx.where, ctx.alpha = where, alpha
        out = x.array.copy()
        np.add.at(out, where, source.array if alpha == 1 else source.array * alpha)
        return out

    @staticmethod
    def backward(ctx, g):
        """d index_add(x, dim, i, s, α) = g, α·index_select(g, dim, i)"""
        gs = None
        if ctx.needs_input_grad[1]:
            gs = GetItem.apply(g, index=ctx.where)
            gs = gs * ctx.alpha if ctx.alpha != 1 else gs
        return g, gs


def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with the slices of ``source`` added at ``index`` along ``dim`` (repeats accumulate)."""
    input, source = as_tensor(input), as_tensor(source)
    index = _index_array(index, "index_add")
    if index.ndim > 1:
        raise IndexError("index_add_(): Index is supposed to be a vector")
    index = index.reshape(-1)
    (axis,) = normalize_dim(dim, input.ndim, "index_add")
    if input.ndim == 0:
        return index_add(input.reshape(1), 0, index, source.reshape(-1), alpha=alpha).reshape(())
    expected = input.shape[:axis] + (index.size,) + input.shape[axis + 1:]
    if tuple(source.shape) != expected:
        raise RuntimeError(f"index_add_(): source of shape {tuple(source.shape)} does not match {expected}, the "
                           f"input's shape with dimension {axis} the index's length")
    if source.dtype != input.dtype:
        raise RuntimeError("index_add_(): self (" + str(input.dtype) + ") and source (" + str(source.dtype)
                           + ") must have the same scalar type")
    if index.size and ((index < 0) | (index >= input.shape[axis])).any():
        raise IndexError("index out of range in self")
    return IndexAdd.apply(input, source, where=_along(axis, index), alpha=alpha)


class IndexFill(Function):
    @staticmethod
    def forward(ctx, x, where, value):
        ctx.where = where
        out = x.array.copy()
        out[where] = value
        return out

    @staticmethod
    def backward(ctx, g):
        """d index_fill(x, dim, i, v) = g with the filled slices zeroed"""
        return IndexFill.apply(g, where=ctx.where, value=0)


def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value`` (a number)."""
    input = as_tensor(input)
    index = _index_array(index, "index_fill").reshape(-1)
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.ndim} dimension(s).")
        value = value.item()
    if input.ndim == 0:
        return index_fill(input.reshape(1), 0, index, value).reshape(())
    (axis,) = normalize_dim(dim, input.ndim, "index_fill")
    if index.size and ((index < -input.shape[axis]) | (index >= input.shape[axis])).any():
        raise IndexError("index out of range in self")
    return IndexFill.apply(input, where=_along(axis, index), value=value)


class MaskedSelect(Function):
    @staticmethod
    def forward(ctx, x, shape, where):
        ctx.shape, ctx.where = shape, where
        return np.broadcast_to(x.array, shape)[where]

    @staticmethod
    def backward(ctx, g):
        """d masked_select(x, m) = g placed into zeros where m (then summed back over broadcast axes)"""
        return ScatterInto.apply(g, shape=ctx.shape, index=ctx.where)


def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` (a bool tensor, broadcast with input), as a 1-D tensor."""
    input = as_tensor(input)
    mask = np.asarray(getattr(mask, "array", mask))
    if mask.dtype != bool:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    try:
        shape = np.broadcast_shapes(input.shape, mask.shape)
    except ValueError:
        raise RuntimeError(f"masked_select: mask of shape {tuple(mask.shape)} cannot be broadcast with the input's "
                           f"shape {tuple(input.shape)}") from None
    if shape == ():
        input, mask, shape = input.reshape(1), mask.reshape(1), (1,)
    return MaskedSelect.apply(input, shape=shape, where=np.nonzero(np.broadcast_to(mask, shape)))


# ----------------------------------------------------------------------------- reorderings
def _dim_list(dims):
    """``f(0, 1)``, ``f((0, 1))``, ``f([0, 1])`` and ``f(0)`` as one tuple."""
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = tuple(dims[0])
    return tuple(int(d) for d in dims)


class Flip(Function):
    @staticmethod
    def forward(ctx, x, axes):
        ctx.axes = axes
        return np.flip(x.array, axes).copy()

    @staticmethod
    def backward(ctx, g):
        """d flip(x) = g flipped back"""
        return Flip.apply(g, axes=ctx.axes)


def flip(input, *dims_args, dims=None):
    input = as_tensor(input)
    if not dims_args and dims is None:
        raise TypeError('flip() missing 1 required positional arguments: "dims"')
    dims = _dim_list(dims_args if dims is None else (dims,))
    axes = normalize_dim(dims, input.ndim, "flip")
    for a in set(axes):
        if axes.count(a) > 1:
            raise RuntimeError(f"dim {a} appears multiple times in the list of dims")
    if input.ndim == 0:
        return Flip.apply(input, axes=())
    return Flip.apply(input, axes=axes)


def fliplr(input):
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, 1)


def flipud(input):
    input = as_tensor(input)
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, 0)


class Roll(Function):
    @staticmethod
    def forward(ctx, x, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(x.array, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        """d roll(x, s) = g rolled by −s"""
        shifts = tuple(-s for s in ctx.shifts) if isinstance(ctx.shifts, tuple) else -ctx.shifts
        return Roll.apply(g, shifts=shifts, axes=ctx.axes)


def roll(input, shifts, dims=None):
    """Elements shifted cyclically by ``shifts`` along ``dims`` (the flattened tensor when None)."""
    input = as_tensor(input)
    shifts_t = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(shifts_t) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, dims:0")
        return Roll.apply(input, shifts=shifts_t[0], axes=None)
    dims_t = (int(dims),) if isinstance(dims, (int, np.integer)) else tuple(int(d) for d in dims)
    if len(shifts_t) != len(dims_t):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts_t)}, dims:{len(dims_t)}")
    return Roll.apply(input, shifts=shifts_t, axes=normalize_dim(dims_t, input.ndim, "roll"))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place: an int repeats
    every one as often (expand and reshape, as torch); a tensor gives each its own count (an
    index_select). ``repeat_interleave(counts)`` alone gives the indices 0,0,1,2,2,... ."""
    input = as_tensor(input)
    if repeats is None:                               # repeat_interleave(repeats): the index form
        counts = _index_array(input, "repeat_interleave")
        return Tensor._wrap(np.repeat(np.arange(counts.size, dtype=np.int64), counts.reshape(-1)))
    if dim is None:
        input, axis = flatten(input), 0
    else:
        (axis,) = normalize_dim(dim, input.ndim, "repeat_interleave")
        if input.ndim == 0:
            input = input.reshape(1)
    n = input.shape[axis]
    if isinstance(repeats, (int, np.integer)) or (isinstance(repeats, Tensor) and repeats.numel() == 1
                                                   and repeats.ndim == 0):
        r = int(repeats.item() if isinstance(repeats, Tensor) else repeats)
        if r < 0:
            raise RuntimeError("repeats can not be negative")
        widened = expand(unsqueeze(input, axis + 1), input.shape[:axis + 1] + (r,) + input.shape[axis + 1:])
        return reshape(widened, input.shape[:axis] + (n * r,) + input.shape[axis + 1:])
    counts = _index_array(repeats, "repeat_interleave").reshape(-1)
    if counts.size == 1:
        counts = np.repeat(counts, n)
    if counts.size != n:
        raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                           f"{counts.size} and input.size({axis}) = {n}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    return IndexSelect.apply(input, where=_along(axis, np.repeat(np.arange(n), counts)))


# ----------------------------------------------------------------------------- triangles and diagonals
class Tril(Function):
    @staticmethod
    def forward(ctx, x, diagonal=0):
        ctx.diagonal = diagonal
        return np.tril(x.array, diagonal)

    @staticmethod
    def backward(ctx, g):
        """d tril(x) = tril(g)"""
        return Tril.apply(g, diagonal=ctx.diagonal)


class Triu(Function):
    @staticmethod
    def forward(ctx, x, diagonal=0):
        ctx.diagonal = diagonal
        return np.triu(x.array, diagonal)

    @staticmethod
    def backward(ctx, g):
        """d triu(x) = triu(g)"""
        return Triu.apply(g, diagonal=ctx.diagonal)


def tril(input, diagonal=0):
    """The lower triangle of the last two dims (on and below ``diagonal``); zeros elsewhere."""
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal=int(diagonal))


def triu(input, diagonal=0):
    """The upper triangle of the last two dims (on and above ``diagonal``); zeros elsewhere."""
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, diagonal=int(diagonal))


def _diagonal_view(a, offset, dim1, dim2):
    """A writable view of ``a`` with dim1, dim2 moved last, and the (row, col) index of the diagonal there."""
    view = np.moveaxis(a, (dim1, dim2), (-2, -1))
    n, m = view.shape[-2:]
    length = max(min(n + min(offset, 0), m - max(offset, 0)), 0)
    rows = np.arange(length) + max(-offset, 0)
    return view, (Ellipsis, rows, rows + offset)


class Diagonal(Function):
    @staticmethod
    def forward(ctx, x, offset=0, dim1=0, dim2=1):
        ctx.shape, ctx.args = x.shape, (offset, dim1, dim2)
        return np.diagonal(x.array, offset, dim1, dim2).copy()

    @staticmethod
    def backward(ctx, g):
        """d diagonal(x) = g placed on that diagonal of zeros"""
        return DiagonalInto.apply(g, shape=ctx.shape, args=ctx.args)


class DiagonalInto(Function):
    """Zeros of ``shape`` with ``values`` on a diagonal: the gradient of ``diagonal``."""

    @staticmethod
    def forward(ctx, values, shape, args):
        ctx.args = args
        out = np.zeros(shape, values.dtype)
        view, where = _diagonal_view(out, *args)
        view[where] = values.array
        return out

    @staticmethod
    def backward(ctx, g):
        """d (v on the diagonal of zeros) = diagonal(g)"""
        offset, dim1, dim2 = ctx.args
        return Diagonal.apply(g, offset=offset, dim1=dim1, dim2=dim2)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the (dim1, dim2) planes, as the last dim (torch.diagonal)."""
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError(f"diagonal: expected a tensor with at least 2 dimensions, got {input.ndim}-D")
    a, b = normalize_dim((dim1, dim2), input.ndim, "diagonal")
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset=int(offset), dim1=a, dim2=b)


class Trace(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.shape = x.shape
        dtype = np.int64 if x.array.dtype.kind in "iu" else None
        return np.asarray(np.trace(x.array, dtype=dtype))

    @staticmethod
    def backward(ctx, g):
        """d tr(x) = g on the diagonal of zeros"""
        return DiagonalInto.apply(expand(g, min(ctx.shape)), shape=ctx.shape, args=(0, 0, 1))


def trace(input):
    """The sum of a matrix's diagonal."""
    input = as_tensor(input)
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input.array.dtype == np.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    return Trace.apply(input)
