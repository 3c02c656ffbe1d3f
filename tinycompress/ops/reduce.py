"""Reductions and the softmax family.

A reduction over ``axes`` sends its gradient back by re-inserting the reduced axes
(``_expand``) and broadcasting. max/min/amax/amin split the gradient evenly among tied
maxima for full reductions (as torch does) and give it to the returned index along a dim.
"""
from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from ..autograd.function import Function, LegacyFunction
from ..tensor import Tensor
from ._util import as_tensor, normalize_dim

_max = builtins.max                    # this module defines its own max (torch.max)

values_indices = namedtuple("values_indices", ["values", "indices"])


def _axes(dim, ndim, op):
    """NumPy ``axis`` for a torch ``dim``: None reduces everything."""
    dims = normalize_dim(dim, ndim, op)
    if dims is None or ndim == 0:
        return None
    return dims


def _expand(g, shape, axis, keepdim):
    """``g`` with the reduced axes put back (size 1), ready to broadcast against ``shape``."""
    if keepdim or axis is None and g.ndim == len(shape):
        return g
    if axis is None:
        return g.reshape((1,) * len(shape))
    return np.expand_dims(g, axis)


class Sum(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False, dtype=None):
        ctx.meta = (x.shape, axis, keepdim)
        return np.sum(x, axis=axis, keepdims=keepdim, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        """d Σx = g broadcast over the summed axes"""
        shape, axis, keepdim = ctx.meta
        return np.broadcast_to(_expand(g, shape, axis, keepdim), shape)


class Mean(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False):
        ctx.meta = (x.shape, axis, keepdim)
        out = np.mean(x, axis=axis, keepdims=keepdim)
        ctx.count = x.size // _max(out.size, 1) if x.size else 0
        return out

    @staticmethod
    def backward(ctx, g):
        """d mean(x) = g/N broadcast over the reduced axes"""
        shape, axis, keepdim = ctx.meta
        return np.broadcast_to(_expand(g, shape, axis, keepdim) / ctx.count, shape)


class Var(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis=None, correction=1, keepdim=False):
        mean = np.mean(x, axis=axis, keepdims=True)
        centred = x - mean
        n = x.size // _max(mean.size, 1)
        ctx.save_for_backward(centred)
        ctx.meta = (x.shape, axis, keepdim, _max(n - correction, 0))
        return np.sum(centred * centred, axis=axis, keepdims=keepdim) / _max(n - correction, 0)

    @staticmethod
    def backward(ctx, g):
        """d var(x) = g·2(x - mean)/(N - correction)"""
        (centred,) = ctx.saved_tensors
        shape, axis, keepdim, dof = ctx.meta
        return _expand(g, shape, axis, keepdim) * centred * (2 / dof)


class Std(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis=None, correction=1, keepdim=False):
        mean = np.mean(x, axis=axis, keepdims=True)
        centred = x - mean
        dof = _max(x.size // _max(mean.size, 1) - correction, 0)
        out = np.sqrt(np.sum(centred * centred, axis=axis, keepdims=True) / dof)
        ctx.save_for_backward(centred, out)
        ctx.meta = (x.shape, axis, keepdim, dof)
        if keepdim:
            return out
        return out.reshape(()) if axis is None else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, g):
        """d std(x) = g·(x - mean)/((N - correction)·std)   (0 where std = 0, as torch)"""
        centred, out = ctx.saved_tensors
        shape, axis, keepdim, dof = ctx.meta
        with np.errstate(divide="ignore", invalid="ignore"):
            local = np.where(out == 0, 0, centred / (dof * out)).astype(centred.dtype, copy=False)
        return _expand(g, shape, axis, keepdim) * local


class Prod(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False):
        ctx.save_for_backward(x)
        ctx.meta = (axis, keepdim)
        return np.prod(x, axis=axis, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        """d Πx / dx_i = Π_{j≠i} x_j (exclusive prefix × suffix products, exact with zeros)"""
        (x,) = ctx.saved_tensors
        axis, keepdim = ctx.meta
        flat = x.reshape(1, -1) if axis is None else np.moveaxis(x, axis[0], -1)
        ones = np.ones(flat.shape[:-1] + (1,), x.dtype)
        before = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
        after = np.cumprod(np.concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
        others = before * after
        others = others.reshape(x.shape) if axis is None else np.moveaxis(others, -1, axis[0])
        return _expand(g, x.shape, axis, keepdim) * others


class Extreme(LegacyFunction):
    """max or min over all elements or several axes; ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdim=False, largest=True):
        out = (np.max if largest else np.min)(x, axis=axis, keepdims=True)
        ctx.save_for_backward(x, out)
        ctx.meta = (axis, keepdim)
        return out if keepdim else (out.reshape(()) if axis is None else np.squeeze(out, axis))

    @staticmethod
    def backward(ctx, g):
        """d max(x) = g·1{x = max}/#ties"""
        x, out = ctx.saved_tensors
        axis, keepdim = ctx.meta
        hit = x == out
        return _expand(g, x.shape, axis, keepdim) * hit / hit.sum(axis=axis, keepdims=True).astype(x.dtype)


class ExtremeAlong(LegacyFunction):
    """max or min along one dim: values and indices; the gradient goes to the returned index."""

    @staticmethod
    def forward(ctx, x, axis, keepdim=False, largest=True):
        index = (np.argmax if largest else np.argmin)(x, axis=axis, keepdims=True)
        values = np.take_along_axis(x, index, axis)
        ctx.save_for_backward(index)
        ctx.meta = (x.shape, axis, keepdim)
        if not keepdim:
            values, index = np.squeeze(values, axis), np.squeeze(index, axis)
        index = index.astype(np.int64, copy=False)
        ctx.mark_non_differentiable(index)
        return values, index

    @staticmethod
    def backward(ctx, g, _g_index):
        """d max(x, dim)_j / dx = g_j at the argmax, 0 elsewhere"""
        (index,) = ctx.saved_tensors
        shape, axis, keepdim = ctx.meta
        out = np.zeros(shape, g.dtype)
        np.put_along_axis(out, index, g if keepdim else np.expand_dims(g, axis), axis)
        return out


class Norm(LegacyFunction):
    @staticmethod
    def forward(ctx, x, p=2.0, axis=None, keepdim=False):
        a = np.abs(x)
        if p == np.inf:
            out = np.max(a, axis=axis, keepdims=True)
        elif p == 1:
            out = np.sum(a, axis=axis, keepdims=True)
        elif p == 2:
            out = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
        else:
            out = np.sum(a ** p, axis=axis, keepdims=True) ** (1.0 / p)
        ctx.save_for_backward(x, out)
        ctx.meta = (p, axis, keepdim)
        if keepdim:
            return out
        return out.reshape(()) if axis is None else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, g):
        """d‖x‖_p = g·sign(x)|x|^(p-1)/‖x‖^(p-1)  (p=2: g·x/‖x‖, 0 where ‖x‖ = 0)"""
        x, out = ctx.saved_tensors
        p, axis, keepdim = ctx.meta
        g = _expand(g, x.shape, axis, keepdim)
        if p == 1:
            return g * np.sign(x)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == np.inf:
                hit = np.abs(x) == out
                local = np.sign(x) * hit / hit.sum(axis=axis, keepdims=True)
            elif p == 2:
                local = x / out
            else:
                local = np.sign(x) * np.abs(x) ** (p - 1) / out ** (p - 1)
        return g * np.where(out == 0, 0, local).astype(x.dtype, copy=False)


class Softmax(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        e /= np.sum(e, axis=axis, keepdims=True)
        ctx.save_for_backward(e)
        ctx.axis = axis
        return e

    @staticmethod
    def backward(ctx, g):
        """d softmax = s·(g − Σ g·s)"""
        (s,) = ctx.saved_tensors
        gs = g * s
        gs -= s * np.sum(gs, axis=ctx.axis, keepdims=True)
        return gs


class LogSoftmax(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis):
        shifted = x - np.max(x, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        """d log_softmax = g − softmax·Σg"""
        (out,) = ctx.saved_tensors
        return g - np.exp(out) * np.sum(g, axis=ctx.axis, keepdims=True)


class LogSumExp(LegacyFunction):
    @staticmethod
    def forward(ctx, x, axis, keepdim=False):
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0).astype(x.dtype, copy=False)
        out = m + np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))
        ctx.save_for_backward(x, out)
        ctx.meta = (axis, keepdim)
        return out if keepdim else np.squeeze(out, axis)

    @staticmethod
    def backward(ctx, g):
        """d logsumexp(x) = g·softmax(x)"""
        x, out = ctx.saved_tensors
        axis, keepdim = ctx.meta
        return _expand(g, x.shape, axis, keepdim) * np.exp(x - out)


# ----------------------------------------------------------------------------- public functions
def sum(input, dim=None, keepdim=False, *, dtype=None):
    input = as_tensor(input)
    if dtype is None and input.array.dtype.kind in "bui":
        dtype = np.int64                      # torch sums integers and bools into int64
    return Sum.apply(input, axis=_axes(dim, input.ndim, "sum"), keepdim=keepdim, dtype=dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    input = as_tensor(input)
    if dtype is not None:
        input = input.to(dtype)
    if input.array.dtype.kind != "f":
        raise RuntimeError(f"mean: input dtype should be floating point, got {input.dtype}: "
                           "pass dtype=tc.float32 or call .float() first")
    return Mean.apply(input, axis=_axes(dim, input.ndim, "mean"), keepdim=keepdim)


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased in (None, True) else 0


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    input = as_tensor(input)
    if isinstance(unbiased, bool) is False and unbiased is not None:
        raise TypeError(f"var: unbiased must be a bool, got {unbiased!r}")
    return Var.apply(input, axis=_axes(dim, input.ndim, "var"), correction=_correction(unbiased, correction),
                     keepdim=keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    input = as_tensor(input)
    if isinstance(unbiased, bool) is False and unbiased is not None:
        raise TypeError(f"std: unbiased must be a bool, got {unbiased!r}")
    return Std.apply(input, axis=_axes(dim, input.ndim, "std"), correction=_correction(unbiased, correction),
                     keepdim=keepdim)


def prod(input, dim=None, keepdim=False):
    input = as_tensor(input)
    if dim is not None and not isinstance(dim, (int, np.integer)):
        raise TypeError("prod: dim must be a single int (as in torch)")
    return Prod.apply(input, axis=_axes(dim, input.ndim, "prod"), keepdim=keepdim)


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


def max(input, dim=None, keepdim=False):
    """``max(x)`` → the largest value; ``max(x, dim)`` → (values, indices); ``max(x, other)`` → maximum."""
    return _extreme(input, dim, keepdim, True, "max")


def min(input, dim=None, keepdim=False):
    """``min(x)`` → the smallest value; ``min(x, dim)`` → (values, indices); ``min(x, other)`` → minimum."""
    return _extreme(input, dim, keepdim, False, "min")


def amax(input, dim=(), keepdim=False):
    input = as_tensor(input)
    axis = None if dim == () or dim is None else _axes(dim, input.ndim, "amax")
    return Extreme.apply(input, axis=axis, keepdim=keepdim, largest=True)


def amin(input, dim=(), keepdim=False):
    input = as_tensor(input)
    axis = None if dim == () or dim is None else _axes(dim, input.ndim, "amin")
    return Extreme.apply(input, axis=axis, keepdim=keepdim, largest=False)


def norm(input, p="fro", dim=None, keepdim=False):
    """The p-norm over ``dim`` (all elements when None); p = 'fro', a positive number, or inf."""
    input = as_tensor(input)
    if p == "fro":
        p = 2.0
    if isinstance(p, str) or not p > 0:
        raise ValueError(f"norm: p must be 'fro', a positive number or inf, got {p!r}")
    return Norm.apply(input, p=float(p), axis=_axes(dim, input.ndim, "norm"), keepdim=keepdim)


def argmax(input, dim=None, keepdim=False):
    x = as_tensor(input).array
    if dim is None:                                  # index into the flattened tensor
        return Tensor._wrap(np.asarray(np.argmax(x), dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    (axis,) = normalize_dim(dim, x.ndim, "argmax")
    return Tensor._wrap(np.argmax(x, axis=axis, keepdims=keepdim).astype(np.int64))


def argmin(input, dim=None, keepdim=False):
    x = as_tensor(input).array
    if dim is None:                                  # index into the flattened tensor
        return Tensor._wrap(np.asarray(np.argmin(x), dtype=np.int64).reshape((1,) * x.ndim if keepdim else ()))
    (axis,) = normalize_dim(dim, x.ndim, "argmin")
    return Tensor._wrap(np.argmin(x, axis=axis, keepdims=keepdim).astype(np.int64))


def _one_dim(dim, ndim, name):
    if dim is None:
        raise TypeError(f"{name}() missing required argument 'dim'")
    (axis,) = normalize_dim(dim, ndim, name)
    return axis


def softmax(input, dim, dtype=None):
    input = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return Softmax.apply(input, axis=_one_dim(dim, input.ndim, "softmax"))


def log_softmax(input, dim, dtype=None):
    input = as_tensor(input) if dtype is None else as_tensor(input).to(dtype)
    return LogSoftmax.apply(input, axis=_one_dim(dim, input.ndim, "log_softmax"))


def logsumexp(input, dim, keepdim=False):
    input = as_tensor(input)
    return LogSumExp.apply(input, axis=_axes(dim, input.ndim, "logsumexp"), keepdim=keepdim)
