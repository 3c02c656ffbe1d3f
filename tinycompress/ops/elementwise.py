"""Elementwise Functions: arithmetic, unary math, activations, comparisons.

Forwards are NumPy on the inputs' arrays; backwards are written with the library's own ops, so
that under ``create_graph=True`` they are recorded and can be differentiated again. Each backward
returns the gradient for each input in the output's (broadcast) shape; the engine sums it back to
the input's shape. ``ctx.needs_input_grad`` skips work for inputs that need no gradient.

Where the derivative is a mask (relu, clamp, hardtanh, max/min selection) the backward multiplies
by a constant tensor: the second derivative is then zero, as torch's.
"""
from __future__ import annotations

import math

import numpy as np

from ..autograd.function import Function, named
from ..tensor import Tensor
from ._util import as_tensor, broadcast_error, operands


def _binary(function, name, a, b):
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.array.dtype is b.array.dtype):
        a, b = operands(a, b)           # (two tensors of one dtype need nothing: the common case)
    try:
        return function.apply(a, b)
    except ValueError as error:
        if "broadcast" not in str(error):
            raise
        raise broadcast_error(name, np.shape(getattr(a, "array", a)), np.shape(getattr(b, "array", b))) from None


def _array(x):
    """The array of a Tensor operand; a Python scalar operand as it is."""
    return x.array if isinstance(x, Tensor) else x


def _with_scalars(saved, scalars):
    """The saved tensor operands, with the Python scalars that stood in the others' place."""
    return tuple(s if s is not None else scalar for s, scalar in zip(saved, scalars))


def _save_operands(ctx, a, b, *extra):
    ctx.save_for_backward(a if isinstance(a, Tensor) else None, b if isinstance(b, Tensor) else None, *extra)
    ctx.scalars = (a, b)


# ----------------------------------------------------------------------------- arithmetic
class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _array(a) + _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a+b) = g, g"""
        return g, g


def add(input, other, *, alpha=1):
    return _binary(Add, "add", input, other if alpha == 1 else other * alpha)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _array(a) - _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a-b) = g, -g"""
        return g, (-g if ctx.needs_input_grad[1] else None)


def sub(input, other, *, alpha=1):
    return _binary(Sub, "sub", input, other if alpha == 1 else other * alpha)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return _array(a) * _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a*b) = g*b, g*a"""
        a, b = _with_scalars(ctx.saved_tensors, ctx.scalars)
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


def mul(input, other):
    return _binary(Mul, "mul", input, other)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        _save_operands(ctx, a, b)
        return _array(a) / _array(b)

    @staticmethod
    def backward(ctx, g):
        """d(a/b) = g/b, -g*a/b²"""
        a, b = _with_scalars(ctx.saved_tensors, ctx.scalars)
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


def div(input, other, *, rounding_mode=None):
    if rounding_mode is not None:
        raise ValueError(f"div: rounding_mode={rounding_mode!r} is not differentiable and not supported; "
                         "use rounding_mode=None")
    a, b = operands(input, other)
    if not _is_float(a) and not _is_float(b):     # true division of integers gives float32, as torch
        a = Tensor._wrap(np.asarray(getattr(a, "array", a), dtype=np.float32))
    return _binary(Div, "div", a, b)


def _is_float(x):
    return (x.array.dtype.kind if isinstance(x, Tensor) else np.asarray(x).dtype.kind) == "f"


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a.array

    @staticmethod
    def backward(ctx, g):
        """d(-a) = -g"""
        return -g


def neg(input):
    return Neg.apply(as_tensor(input))


class Pow(Function):
    grad_fn_name = lambda ctx: "PowBackward1" if isinstance(ctx.scalars[1], Tensor) else "PowBackward0"  # noqa

    @staticmethod
    def forward(ctx, a, b):
        out = np.power(_array(a), _array(b))
        _save_operands(ctx, a, b, as_tensor(out) if isinstance(b, Tensor) else None)
        return out

    @staticmethod
    def backward(ctx, g):
        """d(a**b) = g·b·a**(b-1), g·a**b·log(a)   (0 where b == 0, resp. where a == 0 and b >= 0, as torch)"""
        saved = ctx.saved_tensors
        a, b = _with_scalars(saved, ctx.scalars)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            if not isinstance(b, Tensor):
                ga = g * (b * a ** (b - 1)) if b != 0 else g * 0
            else:
                local = b * a ** (b - 1)
                if not b.array.all():
                    local = where(b == 0, 0.0, local)
                ga = g * local
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                at_zero = (a.array == 0) & (b.array >= 0)
                log_a = log(where(at_zero, 1.0, a)) if at_zero.any() else log(a)
                gb = g * saved[2] * log_a
        return ga, gb


def pow(input, exponent):
    a, b = operands(input, exponent)
    if not isinstance(a, Tensor) and isinstance(b, Tensor):   # scalar ** tensor
        a = Tensor._wrap(np.asarray(a, dtype=b.array.dtype))
        return named(_binary(Pow, "pow", a, b), "PowBackward2")
    return _binary(Pow, "pow", a, b)


true_divide = divide = div
multiply = mul
subtract = sub
negative = neg


# ----------------------------------------------------------------------------- unary math
class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.exp(x.array)
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d exp(x) = g·exp(x)"""
        (out,) = ctx.saved_tensors
        return g * out


def exp(input):
    return Exp.apply(as_tensor(input))


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x.array)

    @staticmethod
    def backward(ctx, g):
        """d log(x) = g/x"""
        (x,) = ctx.saved_tensors
        return g / x


def log(input):
    return Log.apply(as_tensor(input))


class Log1p(Function):
    grad_fn_name = "Log1PBackward0"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log1p(x.array)

    @staticmethod
    def backward(ctx, g):
        """d log(1+x) = g/(1+x)"""
        (x,) = ctx.saved_tensors
        return g / (1 + x)


def log1p(input):
    return Log1p.apply(as_tensor(input))


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.sqrt(x.array)
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d √x = g/(2√x)"""
        (out,) = ctx.saved_tensors
        return g / (2 * out)


def sqrt(input):
    return Sqrt.apply(as_tensor(input))


class Rsqrt(Function):
    @staticmethod
    def forward(ctx, x):
        out = 1 / np.sqrt(x.array)
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d x^(-1/2) = -g·x^(-3/2)/2"""
        (out,) = ctx.saved_tensors
        return g * (out * out * out) * -0.5


def rsqrt(input):
    return Rsqrt.apply(as_tensor(input))


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.abs(x.array)

    @staticmethod
    def backward(ctx, g):
        """d|x| = g·sign(x)   (0 at x = 0)"""
        (x,) = ctx.saved_tensors
        return g * sign(x)


def abs(input):
    return Abs.apply(as_tensor(input))


class Sign(Function):
    @staticmethod
    def forward(ctx, x):
        return np.sign(x.array)

    @staticmethod
    def backward(ctx, g):
        """d sign(x) = 0"""
        return Tensor._wrap(np.zeros_like(g.array))


def sign(input):
    return Sign.apply(as_tensor(input))


class Clamp(Function):
    grad_fn_name = "ClampBackward1"

    @staticmethod
    def forward(ctx, x, min=None, max=None):
        ctx.save_for_backward(x)
        ctx.min, ctx.max = min, max
        return np.clip(x.array, min, max).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """d clamp(x, lo, hi) = g·1{lo ≤ x ≤ hi}"""
        (x,) = ctx.saved_tensors
        lo, hi = ctx.min, ctx.max
        inside = x >= lo if hi is None else x <= hi if lo is None else (x >= lo) & (x <= hi)
        return g * inside


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):    # tensor bounds: through max/min
        out = input
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return named(out, "ClampBackward0")
    return Clamp.apply(as_tensor(input), min=min, max=max)


clip = clamp


def _shares(g, a, b, wins):
    """The part of g each of two operands gets: 1 where it wins, 1/2 on a tie (as torch), 0 elsewhere."""
    share = wins.astype(g.dtype)
    tie = a.array == b.array
    if tie.any():
        share += 0.5 * tie
    return as_tensor(share)


class Maximum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.maximum(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        """d max(a, b) = g·1{a>b}, g·1{b>a}; a tie sends g/2 to each (as torch)"""
        a, b = ctx.saved_tensors
        ga = g * _shares(g, a, b, a.array > b.array)
        return ga, (g - ga if ctx.needs_input_grad[1] else None)


def maximum(input, other):
    return _binary(Maximum, "maximum", input, as_tensor(other) if not isinstance(other, Tensor) else other)


class Minimum(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.minimum(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        """d min(a, b) = g·1{a<b}, g·1{b<a}; a tie sends g/2 to each (as torch)"""
        a, b = ctx.saved_tensors
        ga = g * _shares(g, a, b, a.array < b.array)
        return ga, (g - ga if ctx.needs_input_grad[1] else None)


def minimum(input, other):
    return _binary(Minimum, "minimum", input, as_tensor(other) if not isinstance(other, Tensor) else other)


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition = condition
        return np.where(condition, _array(a), _array(b))

    @staticmethod
    def backward(ctx, g):
        """d where(c, a, b) = g·c, g·(1-c)"""
        c = ctx.condition
        return (None,
                Where.apply(c, g, 0.0) if ctx.needs_input_grad[1] else None,
                Where.apply(c, 0.0, g) if ctx.needs_input_grad[2] else None)


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
class ReLU(Function):
    grad_fn_name = "ReluBackward0"

    @staticmethod
    def forward(ctx, x):
        out = np.maximum(x.array, 0)
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d relu(x) = g·1{x>0}"""
        (out,) = ctx.saved_tensors
        return g * (out > 0)


def relu(input):
    return ReLU.apply(as_tensor(input))


class LeakyReLU(Function):
    grad_fn_name = "LeakyReluBackward0"

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        ctx.save_for_backward(x)
        ctx.negative_slope = negative_slope
        return np.where(x.array > 0, x.array, x.array * negative_slope)

    @staticmethod
    def backward(ctx, g):
        """d leaky_relu(x) = g if x > 0 else slope·g"""
        (x,) = ctx.saved_tensors
        slope = ctx.negative_slope
        local = (x.array > 0).astype(g.dtype)        # 1 or slope, by multiplications (np.where is slower)
        local *= 1 - slope
        local += slope
        return g * as_tensor(local)


def leaky_relu(input, negative_slope=0.01):
    return LeakyReLU.apply(as_tensor(input), negative_slope=negative_slope)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tanh(x.array * 0.5)    # σ(x) = (1 + tanh(x/2))/2: no overflow for any x
        out += 1
        out *= 0.5
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d σ(x) = g·σ(x)·(1-σ(x))"""
        (s,) = ctx.saved_tensors
        return SigmoidBackward.apply(g, s)


class SigmoidBackward(Function):
    """σ's derivative applied to g, g·s·(1-s) with s = σ(x), as one op (torch's sigmoid_backward)."""

    @staticmethod
    def forward(ctx, g, s):
        ctx.save_for_backward(g, s)
        sa = s.array
        return g.array * (sa * (1 - sa))

    @staticmethod
    def backward(ctx, h):
        """∂g = h·s·(1-s), ∂s = h·g·(1-2s)"""
        g, s = ctx.saved_tensors
        return (SigmoidBackward.apply(h, s) if ctx.needs_input_grad[0] else None,
                h * g * (1 - 2 * s) if ctx.needs_input_grad[1] else None)


def sigmoid(input):
    return Sigmoid.apply(as_tensor(input))


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
        return TanhBackward.apply(g, t)


class TanhBackward(Function):
    """tanh's derivative applied to g, g·(1-t²) with t = tanh(x), as one op (torch's tanh_backward)."""

    @staticmethod
    def forward(ctx, g, t):
        ctx.save_for_backward(g, t)
        ta = t.array
        return g.array * (1 - ta * ta)

    @staticmethod
    def backward(ctx, h):
        """∂g = h·(1-t²), ∂t = -2·h·g·t"""
        g, t = ctx.saved_tensors
        return (TanhBackward.apply(h, t) if ctx.needs_input_grad[0] else None,
                h * g * t * -2.0 if ctx.needs_input_grad[1] else None)


def tanh(input):
    return Tanh.apply(as_tensor(input))


class Hardtanh(Function):
    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        ctx.save_for_backward(x)
        ctx.min_val, ctx.max_val = min_val, max_val
        return np.clip(x.array, min_val, max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """d hardtanh(x) = g·1{lo < x < hi}   (strict, as torch)"""
        (x,) = ctx.saved_tensors
        return g * ((x > ctx.min_val) & (x < ctx.max_val))


def hardtanh(input, min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not exceed max_val ({max_val})")
    return Hardtanh.apply(as_tensor(input), min_val=min_val, max_val=max_val)


class Softplus(Function):
    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        a = x.array
        bx = a * beta
        linear = bx > threshold
        return np.where(linear, a, np.log1p(np.exp(np.where(linear, 0, bx))) / beta).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """d softplus(x) = g·σ(βx)   (g where βx > threshold)"""
        (x,) = ctx.saved_tensors
        bx = x * ctx.beta if ctx.beta != 1 else x
        local = sigmoid(bx)
        linear = bx.array > ctx.threshold
        if linear.any():
            local = where(linear, 1.0, local)
        return g * local


def softplus(input, beta=1.0, threshold=20.0):
    return Softplus.apply(as_tensor(input), beta=beta, threshold=threshold)


def _erf(a):
    """erf of a float array in its own dtype, to within a few ulp (NumPy has no erf). |x| < 3: the series
    erf(x) = 2/√π·e^{−x²}·Σ 2ⁿx^{2n+1}/(1·3···(2n+1)), whose terms are all positive (no cancellation);
    |x| ≥ 3: 1 − erfc(x) with erfc(x) = e^{−x²}/(√π·K), K = x + ½/(x + 1/(x + (3/2)/(x + ...))) the continued
    fraction, run backwards from a fixed depth (erfc(6) ≈ 2e-17, so 1 − erfc is exact from there on)."""
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    x = np.abs(a).astype(dtype, copy=False)
    near = np.minimum(x, dtype.type(3))
    term = near.copy()
    total = near.copy()
    x2 = near * near
    for n in range(1, 80):                                   # 2x²/(2n+1) < 1 beyond n = 9: terms die fast
        term *= 2 * x2 / dtype.type(2 * n + 1)
        total += term
    series = (2 / np.sqrt(np.pi)) * np.exp(-x2) * total
    far = np.maximum(x, dtype.type(3))
    k = far.copy()
    for j in range(60, 0, -1):
        k = far + dtype.type(j / 2) / k
    tail = 1 - np.exp(-far * far) / (np.sqrt(np.pi) * k)
    return (np.copysign(np.where(x < 3, series, tail), a)).astype(dtype, copy=False)


class Erf(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _erf(x.array)

    @staticmethod
    def backward(ctx, g):
        """d erf(x) = g·(2/√π)·e^{−x²}"""
        (x,) = ctx.saved_tensors
        return g * ((-(x * x)).exp() * (2 / math.sqrt(math.pi)))


def erf(input):
    return Erf.apply(as_tensor(input))


# ----------------------------------------------------------------------------- trigonometric, hyperbolic
def _float_input(input):
    """The input as a Tensor, integers and bools as float32 (torch's sin/cos/... of an int tensor)."""
    x = as_tensor(input)
    return x if x.array.dtype.kind in "fc" else Tensor._wrap(x.array.astype(np.float32))


class Sin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x.array)

    @staticmethod
    def backward(ctx, g):
        """d sin(x) = g·cos(x)"""
        (x,) = ctx.saved_tensors
        return g * cos(x)


def sin(input):
    return Sin.apply(_float_input(input))


class Cos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cos(x.array)

    @staticmethod
    def backward(ctx, g):
        """d cos(x) = −g·sin(x)"""
        (x,) = ctx.saved_tensors
        return g * -sin(x)


def cos(input):
    return Cos.apply(_float_input(input))


class Tan(Function):
    @staticmethod
    def forward(ctx, x):
        out = np.tan(x.array)
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d tan(x) = g·(1 + tan²(x))"""
        (t,) = ctx.saved_tensors
        return g * (1 + t * t)


def tan(input):
    return Tan.apply(_float_input(input))


class Asin(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore"):            # nan outside [-1, 1], silently as torch
            return np.arcsin(x.array)

    @staticmethod
    def backward(ctx, g):
        """d asin(x) = g/√(1 − x²)"""
        (x,) = ctx.saved_tensors
        return g * rsqrt(1 - x * x)


def asin(input):
    return Asin.apply(_float_input(input))


class Acos(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with np.errstate(invalid="ignore"):
            return np.arccos(x.array)

    @staticmethod
    def backward(ctx, g):
        """d acos(x) = −g/√(1 − x²)"""
        (x,) = ctx.saved_tensors
        return g * -rsqrt(1 - x * x)


def acos(input):
    return Acos.apply(_float_input(input))


class Atan(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.arctan(x.array)

    @staticmethod
    def backward(ctx, g):
        """d atan(x) = g/(1 + x²)"""
        (x,) = ctx.saved_tensors
        return g / (1 + x * x)


def atan(input):
    return Atan.apply(_float_input(input))


class Sinh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sinh(x.array)

    @staticmethod
    def backward(ctx, g):
        """d sinh(x) = g·cosh(x)"""
        (x,) = ctx.saved_tensors
        return g * cosh(x)


def sinh(input):
    return Sinh.apply(_float_input(input))


class Cosh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.cosh(x.array)

    @staticmethod
    def backward(ctx, g):
        """d cosh(x) = g·sinh(x)"""
        (x,) = ctx.saved_tensors
        return g * sinh(x)


def cosh(input):
    return Cosh.apply(_float_input(input))


arcsin, arccos, arctan = asin, acos, atan


class Reciprocal(Function):
    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore"):                # ±inf at 0, silently as torch
            out = 1 / x.array
        ctx.save_for_backward(as_tensor(out))
        return out

    @staticmethod
    def backward(ctx, g):
        """d (1/x) = −g/x² = −g·(1/x)²"""
        (out,) = ctx.saved_tensors
        return g * -(out * out)


def reciprocal(input):
    """1/x elementwise; integers and bools give float32, as torch."""
    return Reciprocal.apply(_float_input(input))


def square(input):
    """x² as torch computes it, ``pow(x, 2)`` (so its grad_fn is ``PowBackward0``, as torch's); integers stay integers."""
    input = as_tensor(input)
    if input.array.dtype == np.bool_:
        input = Tensor._wrap(input.array.astype(np.int64))
    return pow(input, 2)


# ----------------------------------------------------------------------------- type cast
class Cast(Function):
    grad_fn_name = "ToCopyBackward0"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.input_dtype = x.dtype
        return x.array.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        """d cast(x) = g, cast back to x's dtype"""
        return cast(g, ctx.input_dtype)


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
greater, less, greater_equal, less_equal, not_equal = gt, lt, ge, le, ne


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
