"""Elementwise Functions: arithmetic, unary math, activations, comparisons.

Each backward returns the gradient for each input in the output's (broadcast) shape; the
engine sums it back to the input's shape. ``ctx.needs_input_grad`` skips work for inputs
that need no gradient.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, LegacyFunction
from ..tensor import Tensor
from ._util import as_tensor, broadcast_error, operands


def _binary(function, name, a, b):
    a, b = operands(a, b)
    try:
        return function.apply(a, b)
    except ValueError as error:
        if "broadcast" not in str(error):
            raise
        raise broadcast_error(name, np.shape(getattr(a, "array", a)), np.shape(getattr(b, "array", b))) from None


# ----------------------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _array(a) + _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a+b) = g, g"""
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _array(a) - _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a-b) = g, -g"""
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(*(t if isinstance(t, Tensor) else None for t in (a, b)))
        ctx.scalars = (a, b)
        return _array(a) * _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a*b) = g*b, g*a"""
        a, b = _saved_or_scalar(ctx)
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(*(t if isinstance(t, Tensor) else None for t in (a, b)))
        ctx.scalars = (a, b)
        return _array(a) / _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a/b) = g/b, -g*a/b²"""
        a, b = _saved_or_scalar(ctx)
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a.array

    @staticmethod
    def backward(ctx, g):
        """d(-a) = -g"""
        return -g


def _array(x):
    """The array of a Tensor operand; a Python scalar operand as it is."""
    return x.array if isinstance(x, Tensor) else x


def _saved_or_scalar(ctx):
    """The saved tensor operands, with the Python scalars that stood in the others' place."""
    saved = ctx.saved_tensors
    return tuple(s if s is not None else scalar for s, scalar in zip(saved, ctx.scalars))


class Pow(LegacyFunction):
    @staticmethod
    def forward(ctx, a, b):
        out = np.power(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        """d(a**b) = g·b·a**(b-1), g·a**b·log(a)   (the latter 0 where a == 0 and b >= 0, as torch)"""
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = g * b * np.power(a, b - 1) if not np.isscalar(b) or b != 0 else np.zeros_like(g)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * np.log(a)
            gb = np.where((a == 0) & (np.asarray(b) >= 0), 0, gb).astype(gb.dtype, copy=False)
        return ga, gb


def add(input, other, *, alpha=1):
    return _binary(Add, "add", input, other if alpha == 1 else other * alpha)


def sub(input, other, *, alpha=1):
    return _binary(Sub, "sub", input, other if alpha == 1 else other * alpha)


def mul(input, other):
    return _binary(Mul, "mul", input, other)


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode={rounding_mode!r} is not differentiable and not supported; "
                         "use rounding_mode=None")
    a, b = operands(input, other)
    if not _is_float(a) and not _is_float(b):     # true division of integers gives float32, as torch
        a = Tensor._wrap(np.asarray(getattr(a, "array", a), dtype=np.float32))
    return _binary(Div, "div", a, b)


def neg(input):
    return Neg.apply(as_tensor(input))


def pow(input, exponent):
    a, b = operands(input, exponent)
    if not isinstance(a, Tensor) and isinstance(b, Tensor):   # scalar ** tensor
        a = np.asarray(a, dtype=b.array.dtype)
    return _binary(Pow, "pow", a, b)


def _is_float(x):
    return (x.array.dtype.kind if isinstance(x, Tensor) else np.asarray(x).dtype.kind) == "f"


true_divide = divide = div
multiply = mul
subtract = sub
negative = neg


# ----------------------------------------------------------------------------- unary math
class Exp(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        out = np.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        """d exp(x) = g·exp(x)"""
        (out,) = ctx.saved_tensors
        return g * out


class Log(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        """d log(x) = g/x"""
        (x,) = ctx.saved_tensors
        return g / x


class Log1p(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x)

    @staticmethod
    def backward(ctx, g):
        """d log(1+x) = g/(1+x)"""
        (x,) = ctx.saved_tensors
        return g / (1 + x)


class Sqrt(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        """d √x = g/(2√x)"""
        (out,) = ctx.saved_tensors
        return g / (2 * out)


class Rsqrt(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        out = 1 / np.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        """d x^(-1/2) = -g·x^(-3/2)/2"""
        (out,) = ctx.saved_tensors
        return -0.5 * g * out * out * out


class Abs(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        """d|x| = g·sign(x)   (0 at x = 0)"""
        (x,) = ctx.saved_tensors
        return g * np.sign(x)


class Sign(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        return np.sign(x)

    @staticmethod
    def backward(ctx, g):
        """d sign(x) = 0"""
        return np.zeros_like(g)


class Clamp(LegacyFunction):
    @staticmethod
    def forward(ctx, x, min=None, max=None):
        ctx.save_for_backward(x)
        ctx.bounds = (min, max)
        return np.clip(x, min, max).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """d clamp(x, lo, hi) = g·1{lo ≤ x ≤ hi}"""
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        keep = np.ones(x.shape, bool)
        if lo is not None:
            keep &= x >= lo
        if hi is not None:
            keep &= x <= hi
        return g * keep


class Maximum(LegacyFunction):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a, b)

    @staticmethod
    def backward(ctx, g):
        """d max(a, b) = g·1{a>b}, g·1{b>a}; a tie sends g/2 to each (as torch)"""
        a, b = ctx.saved_tensors
        share = np.where(a > b, 1.0, np.where(a == b, 0.5, 0.0)).astype(g.dtype)
        return g * share, g * (1 - share)


class Minimum(LegacyFunction):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a, b)

    @staticmethod
    def backward(ctx, g):
        """d min(a, b) = g·1{a<b}, g·1{b<a}; a tie sends g/2 to each (as torch)"""
        a, b = ctx.saved_tensors
        share = np.where(a < b, 1.0, np.where(a == b, 0.5, 0.0)).astype(g.dtype)
        return g * share, g * (1 - share)


class Where(LegacyFunction):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.save_for_backward(condition)
        return np.where(condition, a, b)

    @staticmethod
    def backward(ctx, g):
        """d where(c, a, b) = g·c, g·(1-c)"""
        (c,) = ctx.saved_tensors
        zero = np.zeros((), g.dtype)
        return (None,
                np.where(c, g, zero) if ctx.needs_input_grad[1] else None,
                np.where(c, zero, g) if ctx.needs_input_grad[2] else None)


def exp(input):
    return Exp.apply(as_tensor(input))


def log(input):
    return Log.apply(as_tensor(input))


def log1p(input):
    return Log1p.apply(as_tensor(input))


def sqrt(input):
    return Sqrt.apply(as_tensor(input))


def rsqrt(input):
    return Rsqrt.apply(as_tensor(input))


def abs(input):
    return Abs.apply(as_tensor(input))


def sign(input):
    return Sign.apply(as_tensor(input))


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):    # tensor bounds: through max/min
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp.apply(as_tensor(input), min=min, max=max)


clip = clamp


def maximum(input, other):
    return _binary(Maximum, "maximum", input, as_tensor(other) if not isinstance(other, Tensor) else other)


def minimum(input, other):
    return _binary(Minimum, "minimum", input, as_tensor(other) if not isinstance(other, Tensor) else other)


def where(condition, input, other):
    condition = np.asarray(getattr(condition, "array", condition), dtype=bool)
    a, b = operands(input, other)
    if not isinstance(a, Tensor):
        a = np.asarray(a, dtype=b.array.dtype)
    if not isinstance(b, Tensor):
        b = np.asarray(b, dtype=a.array.dtype)
    try:
        return Where.apply(condition, a, b)
    except ValueError:
        raise broadcast_error("where", condition.shape, np.shape(getattr(a, "array", a)),
                              np.shape(getattr(b, "array", b))) from None


# ----------------------------------------------------------------------------- activations
class ReLU(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        """d relu(x) = g·1{x>0}"""
        (out,) = ctx.saved_tensors
        return g * (out > 0)


class LeakyReLU(LegacyFunction):
    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    @staticmethod
    def backward(ctx, g):
        """d leaky_relu(x) = g if x > 0 else slope·g"""
        (x,) = ctx.saved_tensors
        return np.where(x > 0, g, g * ctx.slope)


class Sigmoid(LegacyFunction):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x * 0.5)          # σ(x) = (1 + tanh(x/2))/2: no overflow for any x
        out += 1
        out *= 0.5
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        """d σ(x) = g·σ(x)·(1-σ(x))"""
        (s,) = ctx.saved_tensors
        return g * s * (1 - s)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x.array)
        ctx.save_for_backward(as_tensor(out))      # saved output: its grad_fn is this node again
        return out

    @staticmethod
    def backward(ctx, g):
        """d tanh(x) = g·(1-tanh²(x))"""
        (t,) = ctx.saved_tensors
        return g * (1 - t * t)


class Hardtanh(LegacyFunction):
    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        ctx.save_for_backward(x)
        ctx.bounds = (min_val, max_val)
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """d hardtanh(x) = g·1{lo < x < hi}   (strict, as torch)"""
        (x,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        return g * ((x > lo) & (x < hi))


class Softplus(LegacyFunction):
    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        ctx.save_for_backward(x)
        ctx.params = (beta, threshold)
        bx = x * beta
        linear = bx > threshold
        return np.where(linear, x, np.log1p(np.exp(np.where(linear, 0, bx))) / beta).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """d softplus(x) = g·σ(βx)   (g where βx > threshold)"""
        (x,) = ctx.saved_tensors
        beta, threshold = ctx.params
        bx = x * beta
        z = np.exp(-np.abs(bx))
        sig = np.where(bx >= 0, 1 / (1 + z), z / (1 + z))
        return np.where(bx > threshold, g, g * sig).astype(g.dtype, copy=False)


def relu(input):
    return ReLU.apply(as_tensor(input))


def leaky_relu(input, negative_slope=0.01):
    return LeakyReLU.apply(as_tensor(input), negative_slope=negative_slope)


def sigmoid(input):
    return Sigmoid.apply(as_tensor(input))


def tanh(input):
    return Tanh.apply(as_tensor(input))


def hardtanh(input, min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh.apply(as_tensor(input), min_val=min_val, max_val=max_val)


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(as_tensor(input), beta=beta, threshold=threshold)


# ----------------------------------------------------------------------------- type cast
class Cast(LegacyFunction):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        """d cast(x) = g, cast back to x's dtype"""
        return g.astype(ctx.dtype)


def cast(input, dtype):
    input = as_tensor(input)
    dtype = np.dtype(dtype)
    if input.array.dtype == dtype:
        return input
    if input.requires_grad and dtype.kind == "f":
        return Cast.apply(input, dtype=dtype)
    return Tensor._wrap(input.array.astype(dtype))


# ----------------------------------------------------------------------------- no-grad results
def _compare(ufunc, name):
    def compare(input, other):
        a, b = operands(input, other)
        try:
            return Tensor._wrap(ufunc(getattr(a, "array", a), getattr(b, "array", b)))
        except ValueError:
            raise broadcast_error(name, np.shape(getattr(a, "array", a)), np.shape(getattr(b, "array", b))) from None
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` (a bool tensor, no gradient)."
    return compare


eq = _compare(np.equal, "eq")
ne = _compare(np.not_equal, "ne")
lt = _compare(np.less, "lt")
le = _compare(np.less_equal, "le")
gt = _compare(np.greater, "gt")
ge = _compare(np.greater_equal, "ge")
logical_and = _compare(np.logical_and, "logical_and")
logical_or = _compare(np.logical_or, "logical_or")
logical_xor = _compare(np.logical_xor, "logical_xor")
greater, less, greater_equal, less_equal, equal_elementwise, not_equal = gt, lt, ge, le, eq, ne


def logical_not(input):
    return Tensor._wrap(np.logical_not(as_tensor(input).array))


def isnan(input):
    return Tensor._wrap(np.isnan(as_tensor(input).array))


def isfinite(input):
    return Tensor._wrap(np.isfinite(as_tensor(input).array))


def equal(input, other) -> bool:
    """True when both have the same shape and elements (``torch.equal``)."""
    a, b = as_tensor(input).array, as_tensor(other).array
    return a.shape == b.shape and bool(np.array_equal(a, b))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
    return bool(np.allclose(as_tensor(input).array, as_tensor(other).array, rtol, atol, equal_nan))
