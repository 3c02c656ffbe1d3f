"""Reductions and the softmax family.

Forwards are NumPy; backwards use the library's ops (differentiable again under ``create_graph``).
A reduction over ``axis`` sends its gradient back by re-inserting the reduced axes (``_keepdim``)
and broadcasting. max/min/amax/amin split the gradient evenly among tied maxima for full
reductions (as torch does) and give it to the returned index along a dim; their derivative is a
constant selection mask, so their second derivative is zero, as torch's.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from ..autograd.function import Function, named
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import as_tensor, normalize_dim
from .elementwise import exp, sign, where
from .shape import Expand, ScatterInto, _along_index, flip

_max = builtins.max                    # this module defines its own max (torch.max)


def _alias(op, dim, keepdim, axis, keepdims):
    """torch accepts NumPy's ``axis`` / ``keepdims`` for ``dim`` / ``keepdim`` on reductions."""
    if axis is not None:
        if dim is not None and dim != ():
            raise TypeError(f"{op}(): got both 'dim' and its alias 'axis'")
        dim = axis
    return dim, (keepdim if keepdims is None else keepdims)

values_indices = namedtuple("values_indices", ["values", "indices"])


def _axes(dim, ndim, op):
    """NumPy ``axis`` for a torch ``dim``: None reduces everything."""
    dims = normalize_dim(dim, ndim, op)
    if dims is None or ndim == 0:
        return None
    return dims


def _note(ctx, x, axis, keepdim):
    """Record what ``_keepdim`` needs: the input's shape, the reduced axes (a tuple or None), keepdim."""
    ctx.shape, ctx.axis, ctx.keepdim = x.array.shape, axis, keepdim


def _keepdim(t, ctx):
    """``t`` (shaped like the reduction's output) with the reduced axes put back as size 1, ready to
    broadcast against the input."""
    if ctx.keepdim or t.ndim == 0:                    # a 0-d tensor broadcasts as it is
        return t
    shape = tuple(1 if ctx.axis is None or i in ctx.axis else n for i, n in enumerate(ctx.shape))
    return t if t.shape == shape else t.reshape(shape)


def _reduction_name(stem):
    """torch's node names for a reduction: overload 0 over all elements, 1 over given dims."""
    return lambda ctx: f"{stem}Backward{0 if ctx.axis is None else 1}"


class Sum(Function):
    grad_fn_name = _reduction_name("Sum")

    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False, dtype=None):
        _note(ctx, x, axis, keepdim)
        return np.add.reduce(x.array, axis=axis, dtype=dtype, keepdims=keepdim)    # ndarray.sum, unwrapped

    @staticmethod
    def backward(ctx, g):
        """d Σx = g broadcast over the summed axes"""
        return Expand.apply(_keepdim(g, ctx), shape=ctx.shape)


def sum(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("sum", dim, keepdim, axis, keepdims)
    if dtype is None and input.array.dtype.kind in "bui":
        dtype = np.int64                      # torch sums integers and bools into int64
    return Sum.apply(input, axis=_axes(dim, input.ndim, "sum"), keepdim=keepdim, dtype=dtype)


class Mean(Function):
    grad_fn_name = _reduction_name("Mean")

    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False):
        _note(ctx, x, axis, keepdim)
        out = np.mean(x.array, axis=axis, keepdims=keepdim)
        ctx.count = x.array.size // _max(out.size, 1) if x.array.size else 0
        return out

    @staticmethod
    def backward(ctx, g):
        """d mean(x) = g/N broadcast over the reduced axes"""
        return Expand.apply(_keepdim(g, ctx) / ctx.count, shape=ctx.shape)


def mean(input, dim=None, keepdim=False, *, dtype=None, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("mean", dim, keepdim, axis, keepdims)
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"mean: input dtype should be floating point, got {input.dtype}: "
                           "pass dtype=tc.float32 or call .float() first")
    return Mean.apply(input, axis=_axes(dim, input.ndim, "mean"), keepdim=keepdim)


def _centred(x, axis):
    """x - mean(x) over ``axis`` (kept), with the library's ops: differentiable in x."""
    return x - Mean.apply(x, axis=axis, keepdim=True)


def _dof(x, axis, correction):
    """N - correction (at least 0), N the number of elements each output reduces."""
    n = x.array.size if axis is None else int(np.prod([x.shape[a] for a in axis], dtype=np.int64))
    return _max(n - correction, 0)


class Var(Function):
    @staticmethod
    def forward(ctx, x, axis=None, correction=1, keepdim=False):
        _note(ctx, x, axis, keepdim)
        ctx.save_for_backward(x)
        ctx.dof = _dof(x, axis, correction)
        centred = x.array - np.mean(x.array, axis=axis, keepdims=True)
        return np.sum(centred * centred, axis=axis, keepdims=keepdim) / ctx.dof

    @staticmethod
    def backward(ctx, g):
        """d var(x) = g·2(x - mean)/(N - correction)"""
        (x,) = ctx.saved_tensors
        return _keepdim(g, ctx) * _centred(x, ctx.axis) * (2 / ctx.dof if ctx.dof else np.inf)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("var", dim, keepdim, axis, keepdims)
    if isinstance(unbiased, bool) is False and unbiased is not None:
        raise TypeError(f"var: unbiased must be a bool, got {unbiased!r}")
    return Var.apply(input, axis=_axes(dim, input.ndim, "var"), correction=_correction(unbiased, correction),
                     keepdim=keepdim)


class Std(Function):
    @staticmethod
    def forward(ctx, x, axis=None, correction=1, keepdim=False):
        _note(ctx, x, axis, keepdim)
        ctx.dof = _dof(x, axis, correction)
        centred = x.array - np.mean(x.array, axis=axis, keepdims=True)
        out = np.asarray(np.sqrt(np.sum(centred * centred, axis=axis, keepdims=keepdim) / ctx.dof))
        ctx.save_for_backward(x, as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d std(x) = g·(x - mean)/((N - correction)·std)   (0 where std = 0, as torch)"""
        x, std = ctx.saved_tensors
        std = _keepdim(std, ctx)
        if not std.array.all():                       # there x - mean = 0: dividing by 1 gives the 0
            std = where(std == 0, 1.0, std)
        return _keepdim(g, ctx) * _centred(x, ctx.axis) / (std * ctx.dof)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("std", dim, keepdim, axis, keepdims)
    if isinstance(unbiased, bool) is False and unbiased is not None:
        raise TypeError(f"std: unbiased must be a bool, got {unbiased!r}")
    return Std.apply(input, axis=_axes(dim, input.ndim, "std"), correction=_correction(unbiased, correction),
                     keepdim=keepdim)


class Prod(Function):
    grad_fn_name = _reduction_name("Prod")

    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False):
        _note(ctx, x, axis, keepdim)
        out = np.asarray(np.prod(x.array, axis=axis, keepdims=keepdim))
        ctx.save_for_backward(x, as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d Πx / dx_i = Π_{j≠i} x_j"""
        x, out = ctx.saved_tensors
        if not is_grad_enabled():           # first order: NumPy prefix × suffix products, exact with zeros
            others = as_tensor(_exclusive_products(x.array, ctx.axis))
        elif x.array.all():                 # differentiable: Πx / x_i
            others = _keepdim(out, ctx) / x
        else:                               # differentiable with zeros: Π over x with x_i replaced by 1
            others = _products_without_each(x, ctx.axis)
        return _keepdim(g, ctx) * others


def _exclusive_products(a, axis):
    """Π_{j≠i} a_j along ``axis`` (all elements when None), as exclusive prefix × suffix products."""
    flat = a.reshape(1, -1) if axis is None else np.moveaxis(a, axis[0], -1)
    ones = np.ones(flat.shape[:-1] + (1,), a.dtype)
    before = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
    after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
    others = before * after
    return others.reshape(a.shape) if axis is None else np.moveaxis(others, -1, axis[0])


def _products_without_each(x, axis):
    """Π_{j≠i} x_j along ``axis`` with the library's ops: row i of an n×n stack is x with x_i set to 1."""
    flat = x.reshape(1, -1) if axis is None else x.transpose(axis[0], -1)
    n = flat.shape[-1]
    others = where(np.eye(n, dtype=bool), 1.0, flat.unsqueeze(-2)).prod(-1)
    return others.reshape(x.shape) if axis is None else others.transpose(axis[0], -1)


def prod(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("prod", dim, keepdim, axis, keepdims)
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError("prod: dim must be a single int (as in torch)")
    return Prod.apply(input, axis=_axes(dim, input.ndim, "prod"), keepdim=keepdim)


class Extreme(Function):
    """max or min over all elements or several axes; ties share the gradient evenly."""
    grad_fn_name = lambda ctx: "MaxBackward1" if ctx.largest else "MinBackward1"  # noqa: E731

    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False, largest=True):
        _note(ctx, x, axis, keepdim)
        ctx.largest = largest
        out = (np.max if largest else np.min)(x.array, axis=axis, keepdims=True)
        ctx.save_for_backward(x, as_tensor(out))
        return out if keepdim else (out.reshape(()) if axis is None else np.squeeze(out, axis))

    @staticmethod
    def backward(ctx, g):
        """d max(x) = g·1{x = max}/#ties"""
        x, out = ctx.saved_tensors
        hit = x.array == out.array
        share = hit.astype(g.dtype)
        count = hit.sum(axis=ctx.axis, keepdims=True)
        if (count > 1).any():
            share /= count
        return _keepdim(g, ctx) * as_tensor(share)


def amax(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("amax", dim, keepdim, axis, keepdims)
    axis = None if dim == () or dim is None else _axes(dim, input.ndim, "amax")
    return named(Extreme.apply(input, axis=axis, keepdim=keepdim, largest=True), "AmaxBackward0")


def amin(input, dim=(), keepdim=False, *, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("amin", dim, keepdim, axis, keepdims)
    axis = None if dim == () or dim is None else _axes(dim, input.ndim, "amin")
    return named(Extreme.apply(input, axis=axis, keepdim=keepdim, largest=False), "AminBackward0")


class ExtremeAlong(Function):
    """max or min along one dim: values and indices; the gradient goes to the returned index."""
    grad_fn_name = lambda ctx: "MaxBackward0" if ctx.largest else "MinBackward0"  # noqa: E731

    @staticmethod
    def forward(ctx, x, axis, keepdim=False, largest=True):
        _note(ctx, x, (axis,), keepdim)
        ctx.largest = largest
        index = (np.argmax if largest else np.argmin)(x.array, axis=axis, keepdims=True)
        values = np.take_along_axis(x.array, index, axis)
        ctx.save_for_backward(as_tensor(index))
        if not keepdim:
            values, index = np.squeeze(values, axis), np.squeeze(index, axis)
        index = index.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(index)
        return values, index

    @staticmethod
    def backward(ctx, g, _g_index):
        """d max(x, dim)_j / dx = g_j at the argmax, 0 elsewhere"""
        (index,) = ctx.saved_tensors
        (axis,) = ctx.axis
        n = ctx.shape[axis]
        positions = np.arange(n).reshape([n if i == axis else 1 for i in range(len(ctx.shape))])
        return _keepdim(g, ctx) * as_tensor(positions == index.array)


def _extreme(input, dim, keepdim, largest, name):
    input = as_tensor(input)
    if input.array.size == 0:
        raise RuntimeError(f"{name}(): cannot reduce an empty tensor")
    if dim is None:
        return Extreme.apply(input, axis=None, keepdim=False, largest=largest)
    if isinstance(dim, Tensor):                      # max(a, b): elementwise
        from .elementwise import maximum, minimum
        return (maximum if largest else minimum)(input, dim)
    (axis,) = normalize_dim(dim, input.ndim, name)
    if input.ndim == 0:
        return values_indices(input, Tensor._wrap(np.zeros((), np.int64)))
    return values_indices(*ExtremeAlong.apply(input, axis=axis, keepdim=keepdim, largest=largest))


def max(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``max(x)`` → the largest value; ``max(x, dim)`` → (values, indices); ``max(x, other)`` → maximum."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("max", dim, keepdim, axis, keepdims)
    return _extreme(input, dim, keepdim, True, "max")


def min(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``min(x)`` → the smallest value; ``min(x, dim)`` → (values, indices); ``min(x, other)`` → minimum."""
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("min", dim, keepdim, axis, keepdims)
    return _extreme(input, dim, keepdim, False, "min")


def argmax(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    x = as_tensor(input).array
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("argmax", dim, keepdim, axis, keepdims)
    if dim is None:                                  # index into the flattened tensor
        return Tensor._wrap(np.asarray(np.argmax(x), dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    (axis,) = normalize_dim(dim, x.ndim, "argmax")
    return Tensor._wrap(np.argmax(x, axis=axis, keepdims=keepdim).astype(np.int64))


def argmin(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    x = as_tensor(input).array
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("argmin", dim, keepdim, axis, keepdims)
    if dim is None:                                  # index into the flattened tensor
        return Tensor._wrap(np.asarray(np.argmin(x), dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    (axis,) = normalize_dim(dim, x.ndim, "argmin")
    return Tensor._wrap(np.argmin(x, axis=axis, keepdims=keepdim).astype(np.int64))


class Norm(Function):
    grad_fn_name = "LinalgVectorNormBackward0"
    @staticmethod
    def forward(ctx, x, p=2.0, axis=None, keepdim=False):
        _note(ctx, x, axis, keepdim)
        ctx.p = p
        a = x.array
        if p == np.inf:
            out = np.max(np.abs(a), axis=axis, keepdims=keepdim)
        elif p == 1:
            out = np.sum(np.abs(a), axis=axis, keepdims=keepdim)
        elif p == 2:
            out = np.sqrt(np.sum(a * a, axis=axis, keepdims=keepdim))
        else:
            out = np.sum(np.abs(a) ** p, axis=axis, keepdims=keepdim) ** (1.0 / p)
        out = np.asarray(out)
        ctx.save_for_backward(x, as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d‖x‖_p = g·sign(x)|x|^(p-1)/‖x‖^(p-1)  (p=2: g·x/‖x‖; 0 where ‖x‖ = 0)"""
        x, norm = ctx.saved_tensors
        g, p = _keepdim(g, ctx), ctx.p
        if p == 1:
            return g * sign(x)
        norm = _keepdim(norm, ctx)
        if p == np.inf:                               # the largest |x_i| (ties share): a constant selection
            hit = np.abs(x.array) == norm.array
            share = np.sign(x.array) * hit / hit.sum(axis=ctx.axis, keepdims=True)
            return g * as_tensor(share.astype(g.dtype, copy=False))
        if not norm.array.all():                      # there x = 0: dividing by 1 gives the 0
            norm = where(norm == 0, 1.0, norm)
        if p == 2:
            return x * (g / norm)
        return sign(x) * x.abs() ** (p - 1) * (g / norm ** (p - 1))


def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements when None); p = 'fro', a positive number, or inf."""
    input = as_tensor(input)
    if p == "fro":
        p = 2.0
    if isinstance(p, str) or not p > 0:
        raise ValueError(f"norm: p must be 'fro', a positive number or inf, got {p!r}")
    return Norm.apply(input, p=float(p), axis=_axes(dim, input.ndim, "norm"), keepdim=keepdim)


def _one_dim(dim, ndim, name):
    if dim is None:
        raise TypeError(f"{name}() missing required argument 'dim'")
    (axis,) = normalize_dim(dim, ndim, name)
    return axis


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        e = np.exp(x.array - np.max(x.array, axis=axis, keepdims=True))
        e /= np.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(as_tensor(e))
        ctx.axis = axis
        return e

    @staticmethod
    def backward(ctx, g):
        """d softmax = s·(g − Σ g·s)"""
        (s,) = ctx.saved_tensors
        gs = g * s
        return gs - s * gs.sum(ctx.axis, keepdim=True)


def softmax(input, dim=None, dtype=None, *, axis=None):
    if axis is not None:
        dim, _ = _alias("softmax", dim, False, axis, None)
    input = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return Softmax.apply(input, axis=_one_dim(dim, input.ndim, "softmax"))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, x, axis):
        shifted = x.array - np.max(x.array, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(as_tensor(out))
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        """d log_softmax = g − softmax·Σg"""
        (out,) = ctx.saved_tensors
        return g - exp(out) * g.sum(ctx.axis, keepdim=True)


def log_softmax(input, dim=None, dtype=None, *, axis=None):
    if axis is not None:
        dim, _ = _alias("log_softmax", dim, False, axis, None)
    input = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return LogSoftmax.apply(input, axis=_one_dim(dim, input.ndim, "log_softmax"))


class LogSumExp(Function):
    grad_fn_name = "LogsumexpBackward0"
    @staticmethod
    def forward(ctx, x, axis, keepdim=False):
        _note(ctx, x, axis, keepdim)
        a = x.array
        m = np.max(a, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        out = m + np.log(np.sum(np.exp(a - m), axis=axis, keepdims=True))
        out = out if keepdim else np.squeeze(out, axis)
        ctx.save_for_backward(x, as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d logsumexp(x) = g·softmax(x) = g·exp(x − logsumexp(x))"""
        x, out = ctx.saved_tensors
        return _keepdim(g, ctx) * exp(x - _keepdim(out, ctx))


def logsumexp(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
    input = as_tensor(input)
    if axis is not None or keepdims is not None:
        dim, keepdim = _alias("logsumexp", dim, keepdim, axis, keepdims)
    if dim is None:
        raise TypeError('logsumexp() missing 1 required positional arguments: "dim"')
    return LogSumExp.apply(input, axis=_axes(dim, input.ndim, "logsumexp"), keepdim=keepdim)


def _logical_reduction(reduce, name):
    def reduction(input, dim=None, keepdim=False, *, axis=None, keepdims=None):
        input = as_tensor(input)
        if axis is not None or keepdims is not None:
            dim, keepdim = _alias(name, dim, keepdim, axis, keepdims)
        axes = _axes(dim, input.ndim, name)
        out = reduce(input.array, axis=axes, keepdims=keepdim)
        return Tensor._wrap(np.asarray(out, dtype=np.uint8 if input.array.dtype == np.uint8 else np.bool_))
    reduction.__name__ = name
    reduction.__doc__ = (f"``{name}(input, dim=None, keepdim=False)``: whether {name} element (over ``dim``) is "
                         "non-zero; a bool tensor (uint8 for uint8 input, as torch), no gradient.")
    return reduction


all = _logical_reduction(np.all, "all")
any = _logical_reduction(np.any, "any")


# ----------------------------------------------------------------------------- scans
def _scan(function, name, input, dim, dtype):
    input = as_tensor(input)
    if dim is None:
        raise TypeError(f"{name}() missing required argument 'dim'")
    (axis,) = normalize_dim(dim, input.ndim, name)
    if dtype is not None:
        input = input.to(dtype)
    elif input.array.dtype.kind in "bui":
        input = Tensor._wrap(input.array.astype(np.int64))     # torch scans integers and bools in int64
    if input.ndim == 0:
        return function.apply(input.reshape(1), axis=0).reshape(())
    return function.apply(input, axis=axis)


class Cumsum(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        return np.cumsum(x.array, axis)

    @staticmethod
    def backward(ctx, g):
        """d cumsum(x)_i = Σ_{j≥i} g_j: g reversed, cumsummed, reversed back"""
        return flip(cumsum(flip(g, ctx.axis), ctx.axis), ctx.axis)


def cumsum(input, dim=None, *, dtype=None, axis=None):
    """Running sums along ``dim`` (integers and bools sum into int64, as torch)."""
    return _scan(Cumsum, "cumsum", input, dim if axis is None else axis, dtype)


class Cumprod(Function):
    @staticmethod
    def forward(ctx, x, axis):
        ctx.axis = axis
        out = np.cumprod(x.array, axis)
        ctx.save_for_backward(x, as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d cumprod(x)_j/dx_i = Π_{k≤j, k≠i} x_k for j ≥ i, so the gradient is Σ_{j≥i} g_j·out_j / x_i;
        with zeros in x, the same sum over the running products of x with x_i set to 1 (row i of an n×n stack)"""
        x, out = ctx.saved_tensors
        axis = ctx.axis
        if x.array.all():
            return flip(cumsum(flip(g * out, axis), axis), axis) / x
        n = x.shape[axis]
        rows = where(np.eye(n, dtype=bool), 1.0, x.transpose(axis, -1).unsqueeze(-2))    # (..., i, k)
        later = as_tensor(np.triu(np.ones((n, n), g.dtype)))                              # 1{j ≥ i}
        grad = (cumprod(rows, -1) * later * g.transpose(axis, -1).unsqueeze(-2)).sum(-1)
        return grad.transpose(axis, -1)


def cumprod(input, dim=None, *, dtype=None, axis=None):
    """Running products along ``dim`` (integers and bools in int64, as torch)."""
    return _scan(Cumprod, "cumprod", input, dim if axis is None else axis, dtype)


# ----------------------------------------------------------------------------- sorting and selection
sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])
kthvalue_result = namedtuple("kthvalue", ["values", "indices"])
median_result = namedtuple("median", ["values", "indices"])


def _argsort(a, axis, descending=False):
    """Stable argsort along ``axis``; descending keeps equal values in their original order too
    (the ascending stable sort of the reversed array, reversed). NaN counts as the largest value."""
    if not descending:
        return np.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    order = np.argsort(np.flip(a, axis), axis=axis, kind="stable")
    return (n - 1) - np.flip(order, axis)


class _Selection(Function):
    """Values of x picked along ``axis`` at indices chosen in NumPy (sort, topk, kthvalue, median):
    (values, int64 indices); the gradient goes back to the picked places."""

    @staticmethod
    def forward(ctx, x, axis, index, keepdim=True):
        ctx.shape, ctx.axis, ctx.keepdim = x.shape, axis, keepdim
        ctx.where = _along_index(index, axis)
        values = x.array[ctx.where]
        if not keepdim:
            values, index = np.squeeze(values, axis), np.squeeze(index, axis)
        index = index.astype(np.int64)                # a copy of its own (the output owns it)
        ctx.mark_non_differentiable(index)
        return values, index

    @staticmethod
    def backward(ctx, g, _g_index):
        """d x[i along dim] = g scattered into zeros at the picked indices i"""
        if not ctx.keepdim:
            g = g.unsqueeze(ctx.axis)
        return ScatterInto.apply(g, shape=ctx.shape, index=ctx.where)


class Sort(_Selection):
    """values, indices = x sorted along dim"""


class Topk(_Selection):
    """the k largest (or smallest) along dim"""


class Kthvalue(_Selection):
    """the k-th smallest along dim"""


class MedianAlong(_Selection):
    """the lower median along dim (torch's second overload: MedianBackward1)"""
    grad_fn_name = "MedianBackward1"


def _select(function, result, name, input, dim, choose, keepdim=True):
    """Run a selection; ``choose(array, axis)`` gives the indices (keepdim shape). 0-d as 1 element."""
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, name)
    if input.ndim == 0:
        values, index = function.apply(input.reshape(1), axis=0, index=choose(input.array.reshape(1), 0))
        return result(values.reshape(()), index.reshape(()))
    index = choose(input.array, axis)
    return result(*function.apply(input, axis=axis, index=index, keepdim=keepdim))


def sort(input, dim=-1, descending=False, stable=False):
    """(values, indices) sorted along ``dim``. The sort is always stable (equal values keep their
    order, descending too): ``stable=False`` leaves torch free to order ties, and this is one such order."""
    return _select(Sort, sort_result, "sort", input, dim, lambda a, axis: _argsort(a, axis, descending))


def argsort(input, dim=-1, descending=False, stable=False):
    """The indices that sort ``input`` along ``dim`` (int64, no gradient); stable, as :func:`sort`."""
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, "argsort")
    if input.ndim == 0:
        return Tensor._wrap(np.zeros((), np.int64))
    return Tensor._wrap(_argsort(input.array, axis, descending).astype(np.int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """(values, indices) of the ``k`` largest (``largest=False``: smallest) along ``dim``, in sorted
    order (also when ``sorted=False``, whose order torch leaves open). Among equal values the first
    in ``input`` comes first; torch does not promise which of tied values it returns."""
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, "topk")
    n = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")

    def choose(a, axis):
        return np.take(_argsort(a, axis, descending=largest), np.arange(k), axis=axis)
    return _select(Topk, topk_result, "topk", input, dim, choose)


def kthvalue(input, k, dim=-1, keepdim=False):
    """(values, indices) of the ``k``-th smallest element (1-based) along ``dim``."""
    input = as_tensor(input)
    (axis,) = normalize_dim(dim, input.ndim, "kthvalue")
    n = input.shape[axis] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis}")

    def choose(a, axis):
        return np.take(_argsort(a, axis), [k - 1], axis=axis)
    return _select(Kthvalue, kthvalue_result, "kthvalue", input, dim, choose, keepdim)


class Median(Extreme):
    """The lower median of all elements; ties share the gradient evenly (Extreme's backward), as torch."""
    grad_fn_name = "MedianBackward0"

    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False, largest=True):
        _note(ctx, x, None, False)
        a = x.array.reshape(-1)
        if a.dtype.kind == "f" and np.isnan(a).any():
            out = np.full((1,) * x.ndim, np.nan, a.dtype)
        else:
            k = (a.size - 1) // 2
            out = np.partition(a, k)[k].reshape((1,) * x.ndim)
        ctx.save_for_backward(x, as_tensor(out))
        return out.reshape(())


def median(input, dim=None, keepdim=False):
    """``median(x)``: the lower of the two middle values of all elements (no averaging, as torch);
    ``median(x, dim, keepdim=False)``: (values, indices) of the lower median along ``dim``."""
    input = as_tensor(input)
    if dim is None:
        if input.array.size == 0:
            return Tensor._wrap(np.asarray(np.nan, input.dtype))
        return Median.apply(input)
    (axis,) = normalize_dim(dim, input.ndim, "median")
    n = input.shape[axis] if input.ndim else 1

    def choose(a, axis):
        return np.take(_argsort(a, axis), [(n - 1) // 2], axis=axis)
    return _select(MedianAlong, median_result, "median", input, dim, choose, keepdim)
