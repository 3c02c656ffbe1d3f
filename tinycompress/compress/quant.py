"""k-bit quantization: torch.ao.quantization's fake quantization, observers and QAT/PTQ layers.

Affine quantization of a float ``x`` with scale ``s > 0``, integer zero point ``z`` and range
``[quant_min, quant_max]`` (torch's CPU kernel, in its order of float32 operations)::

    q      = clamp(z + nearbyint(x · (1/s)), quant_min, quant_max)    (nearbyint: round half to even)
    x̂      = (q − z) · s                                               (fake quantization)
    ∂x̂/∂x  = 1{quant_min <= z + nearbyint(x/s) <= quant_max}           (torch's straight-through mask)

Per tensor (one ``s, z``) or per channel (a vector of each along ``axis``). The scale is stored in float32 and
``1/s`` is taken in float32, ``x·(1/s)`` and ``z + ·`` are float32 operations, as in torch; a value whose
``x/s`` does not fit an int64 is outside what torch defines (its cast is undefined there), so keep inputs finite.

Observers (torch's names, defaults and ``calculate_qparams``) track min/max and turn them into ``s, z``:

    affine:     s = max((max⁺ − min⁻) / (quant_max − quant_min), eps),  z = clamp(quant_min − round(min⁻/s))
    symmetric:  s = max(max(−min⁻, max⁺) / ((quant_max − quant_min)/2), eps),  z = 0 (qint8) or 128 (quint8)

with ``min⁻ = min(min, 0)``, ``max⁺ = max(max, 0)`` (0 is always exactly representable), eps float32's.

Layers. :class:`QuantLinear` / :class:`QuantConv2d` (subclasses of ``nn.Linear`` / ``nn.Conv2d``) quantize
their input per tensor (affine, ``act_bits``) and their weight per output channel (symmetric, ``bits``, the
narrow range ``[−(2^(b−1)−1), 2^(b−1)−1]``, so the weight codes are symmetric about 0 and int8 / int4 hold
them) and compute in the integer form the deployed model computes::

    y = (Σ (q_x − z_x)·q_w) · (s_x·s_w) + b

``Σ (q_x − z_x)·q_w`` is a product of integers: exact in a float32 GEMM while every partial sum stays
below 2^24, i.e. while ``K·(quant_max_x − quant_min_x)·max|q_w| <= 2^24`` (K = in_features, or Cg·kh·kw);
beyond that bound both the layer and its deployed form accumulate in float64 (exact below 2^53) and
round the sum to float32 once. So the deployed integer model's outputs equal this layer's in eval mode
bit for bit. Mathematically this is ``F.linear(x̂, ŵ) + b`` (torch's QAT: the same fake-quantized
values, the same gradients); in float32 only the rounding of the products differs.

Quantizers: ``'affine'`` (torch's FakeQuantize with observers) or ``'dorefa'`` (Zhou et al. 2016):
weights ``ŵ = 2·quantize_k(tanh(w)/(2·max|tanh w|) + ½) − 1`` with ``quantize_k(r) = round((2^k−1)·r)/(2^k−1)``
(straight through the round), activations ``quantize_k(clip(x, 0, 1))``, which is the affine fake
quantization with the fixed ``s = 1/(2^k − 1)``, ``z = 0``, range ``[0, 2^k − 1]`` (:class:`FixedQParamsFakeQuantize`).

Train and eval. Departing from torch, whose FakeQuantize observes whenever its observer is enabled, ours
observes only in training mode: ``model.eval()`` freezes the scales and zero points (what torch users do
with ``disable_observer``), so evaluating never moves them and the deployed form is the eval-mode model.
Post-training quantization: :func:`quantize_model` swaps Linear/Conv2d for their quantized forms
(:func:`calibrate` then runs a few batches through the float model with the observers on).
"""
from __future__ import annotations

import functools

import numpy as np

from .. import nn
from ..autograd import Function
from ..nn import functional as F
from ..ops._util import as_tensor
from ..tensor import Tensor
from .binary import straight_through
from .deploy.runtime import affine_codes

# torch's names for dtypes and schemes (strings here: tinycompress has no quantized tensors)
quint8, qint8 = "quint8", "qint8"
per_tensor_affine, per_tensor_symmetric = "per_tensor_affine", "per_tensor_symmetric"
per_channel_affine, per_channel_symmetric = "per_channel_affine", "per_channel_symmetric"
QSCHEMES = (per_tensor_affine, per_tensor_symmetric, per_channel_affine, per_channel_symmetric)
DTYPES = (quint8, qint8)
EPS = np.float32(np.finfo(np.float32).eps)
#: a float32 sum of integers is exact while every partial sum is at most this in magnitude
FLOAT32_EXACT = 2 ** 24


def _name(value, allowed, what):
    """'quint8' for 'quint8' or torch.quint8 (anything whose str ends with the name)."""
    text = str(value).rsplit(".", 1)[-1]
    if text not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose one of {allowed}")
    return text


# ------------------------------------------------------------------------------------------------
# the quantizer Functions
# ------------------------------------------------------------------------------------------------
def _qparams(x: np.ndarray, scale, zero_point, axis):
    """scale, 1/scale (float32) and zero point (float32, integer-valued), shaped to broadcast against x."""
    scale = np.asarray(getattr(scale, "array", scale), np.float32)
    zero_point = np.asarray(getattr(zero_point, "array", zero_point))
    if axis is None:
        if scale.size != 1 or zero_point.size != 1:
            raise ValueError(f"per-tensor quantization takes one scale and zero point, got {scale.size} and "
                             f"{zero_point.size}")
        shape = ()
    else:
        axis = axis % x.ndim
        if scale.shape != (x.shape[axis],) or zero_point.shape != (x.shape[axis],):
            raise ValueError(f"per-channel quantization along axis {axis} of a {x.shape} input needs scale and "
                             f"zero_point of shape ({x.shape[axis]},), got {scale.shape} and {zero_point.shape}")
        shape = [1] * x.ndim
        shape[axis] = -1
    if np.any(~(scale > 0)):
        raise ValueError("quantization scales must be positive")
    if np.any(zero_point != np.round(zero_point)):
        raise ValueError("zero points must be integers")
    scale = scale.reshape(shape)
    return scale, np.float32(1) / scale, zero_point.astype(np.float32).reshape(shape)


def quantize_codes(x: np.ndarray, scale, zero_point, quant_min: int, quant_max: int, axis=None):
    """(q − z as float32 integers, mask) of the module docstring's affine quantization, in torch's float32 order:
    ``q = clamp(z + nearbyint(x·(1/s)), quant_min, quant_max)``; ``mask`` = the pre-clamp value in range.
    The NumPy kernel is the deployed runtime's (:func:`~.deploy.runtime.affine_codes`): one implementation."""
    _check_range(quant_min, quant_max)
    s, _, z = _qparams(x, scale, zero_point, axis)
    return affine_codes(x, s, z, quant_min, quant_max)


def _check_range(quant_min, quant_max):
    if not (isinstance(quant_min, (int, np.integer)) and isinstance(quant_max, (int, np.integer))):
        raise TypeError(f"quant_min and quant_max must be ints, got {quant_min!r} and {quant_max!r}")
    if not quant_min < quant_max:
        raise ValueError(f"quant_min ({quant_min}) must be less than quant_max ({quant_max})")


class FakeQuantizeAffine(Function):
    """``x̂ = (clamp(z + nearbyint(x/s), qmin, qmax) − z)·s``, per tensor (``axis=None``) or per channel;
    backward ``∂x = g·1{qmin <= z + nearbyint(x/s) <= qmax}`` (torch's cachemask STE)."""

    @staticmethod
    def forward(ctx, x, *, scale, zero_point, quant_min, quant_max, axis=None):
        c, inside = quantize_codes(x.array, scale, zero_point, quant_min, quant_max, axis)
        s = _qparams(x.array, scale, zero_point, axis)[0]
        ctx.save_for_backward(x)
        ctx.outside = ~inside
        return (c * s).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """∂x = g·1{qmin <= z + nearbyint(x/s) <= qmax}   (its own derivative w.r.t. x: 0)"""
        (x,) = ctx.saved_tensors
        return straight_through(g, x, ctx.outside)


class QuantizeCodes(Function):
    """The integers ``c = clamp(z + nearbyint(x/s), qmin, qmax) − z`` (as floats), so that ``x̂ = c·s``;
    backward ``∂x = g·1{qmin <= z + nearbyint(x/s) <= qmax} / s`` (the STE of x̂, divided by s)."""

    @staticmethod
    def forward(ctx, x, *, scale, zero_point, quant_min, quant_max, axis=None):
        c, inside = quantize_codes(x.array, scale, zero_point, quant_min, quant_max, axis)
        ctx.save_for_backward(x)
        ctx.outside, ctx.inv_scale = ~inside, _qparams(x.array, scale, zero_point, axis)[1]
        return c.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """∂x = g·mask·(1/s)"""
        (x,) = ctx.saved_tensors
        return straight_through(g, x, ctx.outside) * Tensor._wrap(ctx.inv_scale.astype(g.dtype))


class RoundSTE(Function):
    """``nearbyint(x)`` (half to even); backward: identity ``∂x = g`` (DoReFa's straight-through round)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.rint(x.array)

    @staticmethod
    def backward(ctx, g):
        """∂x = g"""
        (x,) = ctx.saved_tensors
        return straight_through(g, x)


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """torch.fake_quantize_per_tensor_affine: see :class:`FakeQuantizeAffine`."""
    return FakeQuantizeAffine.apply(as_tensor(input), scale=scale, zero_point=zero_point, quant_min=quant_min,
                                    quant_max=quant_max)


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """torch.fake_quantize_per_channel_affine: see :class:`FakeQuantizeAffine`."""
    return FakeQuantizeAffine.apply(as_tensor(input), scale=scale, zero_point=zero_point, quant_min=quant_min,
                                    quant_max=quant_max, axis=axis)


def dorefa_weight_codes(w, bits: int):
    """DoReFa's weights as odd integers ``c = 2·round(n·r) − n`` (n = 2^bits − 1,
    ``r = tanh(w)/(2·max|tanh w|) + ½``), so ``ŵ = c/n``; straight through the round only."""
    n = 2 ** _check_bits(bits) - 1
    t = as_tensor(w).tanh()
    r = t / (2 * t.abs().max().clamp(min=float(EPS))) + 0.5
    return RoundSTE.apply(r * n) * 2 - n


def dorefa_weight(w, bits: int):
    """DoReFa's quantized weights ``ŵ = 2·quantize_k(tanh(w)/(2·max|tanh w|) + ½) − 1`` in [−1, 1]."""
    return dorefa_weight_codes(w, bits) * (1.0 / (2 ** bits - 1))


def _check_bits(bits, low=2, high=8, what="bits"):
    if not isinstance(bits, (int, np.integer)) or isinstance(bits, bool) or not low <= bits <= high:
        raise ValueError(f"{what} must be an int in [{low}, {high}], got {bits!r}")
    return int(bits)


# ------------------------------------------------------------------------------------------------
# observers
# ------------------------------------------------------------------------------------------------
def calculate_qmin_qmax(quant_min, quant_max, has_customized_qrange, dtype, reduce_range):
    """torch.ao.quantization.utils.calculate_qmin_qmax (quint8 / qint8)."""
    if has_customized_qrange:
        if dtype == qint8 and not 0 < quant_max - quant_min + 1 <= 256:
            raise ValueError(f"quantization range [{quant_min}, {quant_max}] should be within 256 values for qint8")
        return (quant_min // 2, quant_max // 2) if reduce_range else (quant_min, quant_max)
    if dtype == qint8:
        return (-64, 63) if reduce_range else (-128, 127)
    return (0, 127) if reduce_range else (0, 255)


def _f32(x) -> np.ndarray:
    return np.asarray(getattr(x, "array", x), np.float32)


class ObserverBase(nn.Module):
    """torch's UniformQuantizationObserverBase: dtype, qscheme, reduce_range, quant_min/max, eps, and
    ``calculate_qparams()`` from the min/max held in the ``min_val`` / ``max_val`` buffers."""

    def __init__(self, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=float(EPS)):
        super().__init__()
        self.dtype = _name(dtype, DTYPES, "dtype")
        self.qscheme = _name(qscheme, QSCHEMES, "qscheme")
        if reduce_range and self.qscheme == per_tensor_symmetric and self.dtype == quint8:
            raise NotImplementedError("Cannot reduce range for symmetric quantization for quint8")
        self.reduce_range = bool(reduce_range)
        self.register_buffer("eps", np.array([eps], np.float32))        # a buffer, as torch's
        self.has_customized_qrange = quant_min is not None and quant_max is not None
        if self.has_customized_qrange:
            _check_range(quant_min, quant_max)
            if not quant_min <= 0 <= quant_max:
                raise ValueError(f"Used-specified quantization range must include 0, got [{quant_min}, {quant_max}]")
        self.quant_min, self.quant_max = calculate_qmin_qmax(quant_min, quant_max, self.has_customized_qrange,
                                                             self.dtype, self.reduce_range)

    def _calculate_qparams(self, min_val, max_val):
        """(scale float32, zero_point int64) by torch's formulas (module docstring), per element of min/max."""
        min_val, max_val = _f32(min_val), _f32(max_val)
        if min_val.size == 0 or (min_val.ndim == 0 and min_val == np.inf and max_val == -np.inf):
            return np.ones(1, np.float32), np.zeros(1, np.int64)       # not observed yet: torch's defaults
        if np.any(min_val > max_val):
            raise ValueError(f"min {min_val} should be less than max {max_val}")
        qmin, qmax = self.quant_min, self.quant_max
        min_neg, max_pos = np.minimum(min_val, np.float32(0)), np.maximum(max_val, np.float32(0))
        if self.qscheme in (per_tensor_symmetric, per_channel_symmetric):
            max_pos = np.maximum(-min_neg, max_pos)
            scale = np.maximum(max_pos / np.float32((qmax - qmin) / 2), self.eps.array[0])
            zp = 0 if self.dtype == qint8 else ((qmin + qmax) // 2 if self.has_customized_qrange else 128)
            zero_point = np.full(scale.shape, zp, np.int64)
        else:
            scale = np.maximum((max_pos - min_neg) / np.float32(qmax - qmin), self.eps.array[0])
            zero_point = np.clip(qmin - np.rint(min_neg / scale).astype(np.int64), qmin, qmax)
        return scale.reshape(-1).astype(np.float32), zero_point.reshape(-1).astype(np.int64)

    def calculate_qparams(self):
        """(scale, zero_point) as Tensors of shape (1,) per tensor or (C,) per channel."""
        scale, zero_point = self._calculate_qparams(self.min_val, self.max_val)
        return Tensor._wrap(scale), Tensor._wrap(zero_point)

    def _set(self, min_val, max_val):
        self._buffers["min_val"] = Tensor._wrap(np.asarray(min_val, np.float32))
        self._buffers["max_val"] = Tensor._wrap(np.asarray(max_val, np.float32))

    def extra_repr(self):
        return (f"min_val={self.min_val.array}, max_val={self.max_val.array}" if self.min_val.array.size <= 1
                else f"channels={self.min_val.array.size}")


class MinMaxObserver(ObserverBase):
    """Running min and max of everything observed: ``min_val = min(min_val, min x)`` (and max)."""

    def __init__(self, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=float(EPS), is_dynamic=False, **kwargs):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps)
        if self.qscheme in (per_channel_affine, per_channel_symmetric) and not isinstance(self, _PerChannel):
            raise ValueError(f"{type(self).__name__} is per tensor; use PerChannelMinMaxObserver for {self.qscheme}")
        self.register_buffer("min_val", np.array(np.inf, np.float32))
        self.register_buffer("max_val", np.array(-np.inf, np.float32))

    def _update(self, lo, hi):
        return np.minimum(lo, self.min_val.array), np.maximum(hi, self.max_val.array)

    def forward(self, x_orig):
        x = _f32(x_orig)
        if x.size == 0:
            return x_orig
        self._set(*self._update(x.min(), x.max()))
        return x_orig

    def reset_min_max_vals(self):
        self._set(np.inf, -np.inf)


class MovingAverageMinMaxObserver(MinMaxObserver):
    """``min_val ← min_val + c·(min x − min_val)`` (and max), the first batch taken as it is; c =
    ``averaging_constant`` (0.01)."""

    def __init__(self, averaging_constant=0.01, dtype=quint8, qscheme=per_tensor_affine, reduce_range=False,
                 quant_min=None, quant_max=None, eps=float(EPS), is_dynamic=False, **kwargs):
        super().__init__(dtype, qscheme, reduce_range, quant_min, quant_max, eps=eps, **kwargs)
        self.averaging_constant = float(averaging_constant)

    def _update(self, lo, hi):
        lo0, hi0 = self.min_val.array, self.max_val.array
        if lo0.size == 0 or (lo0.ndim == 0 and lo0 == np.inf and hi0 == -np.inf):
            return lo, hi
        c = np.float32(self.averaging_constant)
        return lo0 + c * (lo - lo0), hi0 + c * (hi - hi0)


class _PerChannel:
    """Per-channel min/max along ``ch_axis`` (the buffers start empty and take the channel count)."""

    def _init_channels(self, ch_axis):
        self.ch_axis = int(ch_axis)
        self._set(np.zeros(0, np.float32), np.zeros(0, np.float32))

    def forward(self, x_orig):
        x = _f32(x_orig)
        if x.size == 0:
            return x_orig
        y = np.moveaxis(x, self.ch_axis, 0).reshape(x.shape[self.ch_axis], -1)
        self._set(*self._update(y.min(1), y.max(1)))
        return x_orig

    def reset_min_max_vals(self):
        self._init_channels(self.ch_axis)


class PerChannelMinMaxObserver(_PerChannel, MinMaxObserver):
    """MinMaxObserver per channel along ``ch_axis`` (torch's defaults: per_channel_affine, quint8)."""

    def __init__(self, ch_axis=0, dtype=quint8, qscheme=per_channel_affine, reduce_range=False, quant_min=None,
                 quant_max=None, factory_kwargs=None, eps=float(EPS), is_dynamic=False):
        MinMaxObserver.__init__(self, dtype, qscheme, reduce_range, quant_min, quant_max, factory_kwargs, eps)
        self._init_channels(ch_axis)

    def _update(self, lo, hi):
        if self.min_val.array.size == 0:
            return lo, hi
        return np.minimum(lo, self.min_val.array), np.maximum(hi, self.max_val.array)


class MovingAveragePerChannelMinMaxObserver(_PerChannel, MovingAverageMinMaxObserver):
    """MovingAverageMinMaxObserver per channel along ``ch_axis``."""

    def __init__(self, averaging_constant=0.01, ch_axis=0, dtype=quint8, qscheme=per_channel_affine,
                 reduce_range=False, quant_min=None, quant_max=None, eps=float(EPS), is_dynamic=False, **kwargs):
        MovingAverageMinMaxObserver.__init__(self, averaging_constant, dtype, qscheme, reduce_range, quant_min,
                                             quant_max, eps)
        self._init_channels(ch_axis)


class FixedQParamsObserver(ObserverBase):
    """Observes nothing: ``calculate_qparams()`` is the given (scale, zero_point)."""

    def __init__(self, scale, zero_point, dtype=quint8, qscheme=per_tensor_affine, quant_min=0, quant_max=255,
                 is_dynamic=False, **kwargs):
        super().__init__(dtype, qscheme, False, quant_min, quant_max)
        self.scale, self.zero_point = np.float32(scale), int(zero_point)

    def forward(self, x):
        return x

    def extra_repr(self):
        return f"scale={self.scale}, zero_point={self.zero_point}"

    def calculate_qparams(self):
        return Tensor._wrap(np.array([self.scale], np.float32)), Tensor._wrap(np.array([self.zero_point], np.int64))


# ------------------------------------------------------------------------------------------------
# FakeQuantize
# ------------------------------------------------------------------------------------------------
def _with_args(cls, **kwargs):
    """torch's ``X.with_args(**kwargs)``: a constructor with those defaults."""
    return functools.partial(cls, **kwargs)


class FakeQuantize(nn.Module):
    """torch.ao.quantization.FakeQuantize: an observer (``activation_post_process``) sets ``scale`` and
    ``zero_point`` from what it saw; ``forward`` fake-quantizes with them (:class:`FakeQuantizeAffine`).
    ``fake_quant_enabled`` / ``observer_enabled`` buffers as torch; it observes only in training mode
    (see the module docstring)."""

    with_args = classmethod(_with_args)

    def __init__(self, observer=MovingAverageMinMaxObserver, quant_min=None, quant_max=None, is_dynamic=False,
                 **observer_kwargs):
        super().__init__()
        if quant_min is not None and quant_max is not None:
            _check_range(quant_min, quant_max)
            observer_kwargs.update(quant_min=quant_min, quant_max=quant_max)
        self.activation_post_process = observer(**observer_kwargs)
        app = self.activation_post_process
        self.quant_min, self.quant_max = app.quant_min, app.quant_max
        self.dtype, self.qscheme = app.dtype, app.qscheme
        self.is_per_channel = self.qscheme in (per_channel_affine, per_channel_symmetric)
        self.ch_axis = getattr(app, "ch_axis", -1) if self.is_per_channel else -1
        self.register_buffer("fake_quant_enabled", np.array([1], np.uint8))
        self.register_buffer("observer_enabled", np.array([1], np.uint8))
        self.register_buffer("scale", np.array([1.0], np.float32))
        self.register_buffer("zero_point", np.array([0], np.int32))
        if isinstance(app, FixedQParamsObserver):
            self._copy_qparams()
            self.observer_enabled.array[0] = 0

    def calculate_qparams(self):
        return self.activation_post_process.calculate_qparams()

    def _copy_qparams(self):
        scale, zero_point = self.calculate_qparams()
        self._buffers["scale"] = Tensor._wrap(scale.array.astype(np.float32))
        self._buffers["zero_point"] = Tensor._wrap(zero_point.array.astype(np.int32))

    def observe(self, x) -> None:
        """Update the observer and the qparams from ``x`` (if observing: enabled and training)."""
        if self.observer_enabled.array[0] == 1 and self.training:
            self.activation_post_process(x.detach() if isinstance(x, Tensor) else x)
            self._copy_qparams()

    def _kwargs(self):
        kw = {"scale": self.scale.array, "zero_point": self.zero_point.array, "quant_min": self.quant_min,
              "quant_max": self.quant_max}
        if self.is_per_channel:
            kw["axis"] = self.ch_axis
        else:
            kw["scale"], kw["zero_point"] = kw["scale"].reshape(()), kw["zero_point"].reshape(())
        return kw

    def forward(self, X):
        self.observe(X)
        if self.fake_quant_enabled.array[0] == 1:
            X = FakeQuantizeAffine.apply(as_tensor(X), **self._kwargs())
        return X

    def codes(self, X):
        """(c, scale): the integer codes ``q − z`` of X (a Tensor, straight through as :class:`QuantizeCodes`)
        and the float32 scale (per tensor: shape (); per channel: (C,)), so that ``X̂ = c·scale``."""
        kw = self._kwargs()
        return QuantizeCodes.apply(as_tensor(X), **kw), np.asarray(kw["scale"], np.float32)

    def extra_repr(self):
        return (f"fake_quant_enabled={self.fake_quant_enabled.array}, observer_enabled={self.observer_enabled.array}, "
                f"quant_min={self.quant_min}, quant_max={self.quant_max}, dtype={self.dtype}, qscheme={self.qscheme}, "
                f"ch_axis={self.ch_axis}, scale={self.scale.array}, zero_point={self.zero_point.array}")


class FixedQParamsFakeQuantize(FakeQuantize):
    """FakeQuantize with fixed ``scale`` and ``zero_point`` (torch's, for outputs of known range)."""

    def __init__(self, observer=None, scale=1.0 / 256, zero_point=0, quant_min=0, quant_max=255, **kwargs):
        observer = observer or functools.partial(FixedQParamsObserver, scale=scale, zero_point=zero_point)
        super().__init__(observer=observer, quant_min=quant_min, quant_max=quant_max, **kwargs)


def _apply_to(model, attr, value):
    for m in model.modules():
        if isinstance(m, FakeQuantize) and not (attr == "observer_enabled" and
                                                isinstance(m.activation_post_process, FixedQParamsObserver)):
            getattr(m, attr).array[0] = value
    return model


def enable_fake_quant(mod):
    return _apply_to(mod, "fake_quant_enabled", 1)


def disable_fake_quant(mod):
    return _apply_to(mod, "fake_quant_enabled", 0)


def enable_observer(mod):
    return _apply_to(mod, "observer_enabled", 1)


def disable_observer(mod):
    return _apply_to(mod, "observer_enabled", 0)


# ------------------------------------------------------------------------------------------------
# layers
# ------------------------------------------------------------------------------------------------
QUANTIZERS = ("affine", "dorefa")


def weight_range(bits: int) -> tuple[int, int]:
    """The narrow symmetric range of ``bits``-bit weight codes: ``[−(2^(b−1)−1), 2^(b−1)−1]``."""
    top = 2 ** (_check_bits(bits) - 1) - 1
    return -top, top


class _QuantLayer:
    """What QuantLinear and QuantConv2d share: the two quantizers and the integer-form forward."""

    def _init_quant(self, bits, act_bits, quantizer, averaging_constant):
        self.bits = _check_bits(bits)
        self.act_bits = _check_bits(self.bits if act_bits is None else act_bits, what="act_bits")
        if quantizer not in QUANTIZERS:
            raise ValueError(f"unknown quantizer {quantizer!r}; choose one of {QUANTIZERS}")
        self.quantizer = quantizer
        if quantizer == "affine":
            lo, hi = weight_range(self.bits)
            self.weight_fake_quant = FakeQuantize(MovingAveragePerChannelMinMaxObserver, quant_min=lo, quant_max=hi,
                                                  dtype=qint8, qscheme=per_channel_symmetric, ch_axis=0,
                                                  averaging_constant=averaging_constant)
            self.input_fake_quant = FakeQuantize(MovingAverageMinMaxObserver, quant_min=0,
                                                 quant_max=2 ** self.act_bits - 1, dtype=quint8,
                                                 qscheme=per_tensor_affine, averaging_constant=averaging_constant)
        else:
            n = 2 ** self.act_bits - 1
            self.input_fake_quant = FixedQParamsFakeQuantize(scale=1.0 / n, zero_point=0, quant_min=0, quant_max=n)

    @property
    def reduction_size(self) -> int:
        """K: the number of products summed into one output."""
        return int(np.prod(self.weight.shape[1:]))

    def max_weight_code(self) -> int:
        return weight_range(self.bits)[1] if self.quantizer == "affine" else 2 ** self.bits - 1

    def exact_in_float32(self) -> bool:
        """``K·(quant_max_x − quant_min_x)·max|q_w| <= 2^24``: the GEMM of codes is exact in float32."""
        fq = self.input_fake_quant
        return self.reduction_size * (fq.quant_max - fq.quant_min) * self.max_weight_code() <= FLOAT32_EXACT

    def quantized(self) -> bool:
        return bool(self.input_fake_quant.fake_quant_enabled.array[0])

    def weight_codes(self):
        """(codes Tensor, per-output-channel float32 scale (O,)): ``ŵ = codes·scale``."""
        if self.quantizer == "dorefa":
            o = self.weight.shape[0]
            return dorefa_weight_codes(self.weight, self.bits), np.full(o, 1.0 / (2 ** self.bits - 1), np.float32)
        self.weight_fake_quant.observe(self.weight)
        return self.weight_fake_quant.codes(self.weight)

    def _quant_forward(self, input, op, shape):
        """``op(codes_x, codes_w)·(s_x·s_w) + b`` (``shape`` broadcasts per output channel)."""
        if not self.quantized():                          # calibration (PTQ) or float mode: observe, run float
            self.input_fake_quant.observe(input)
            if self.quantizer == "affine":
                self.weight_fake_quant.observe(self.weight)
            return None
        self.input_fake_quant.observe(input)
        cx, sx = self.input_fake_quant.codes(input)
        cw, sw = self.weight_codes()
        if self.exact_in_float32():
            acc = op(cx, cw)
        else:                                             # exact in float64, rounded to float32 once
            acc = op(cx.double(), cw.double()).float()
        y = acc * Tensor._wrap((sx * sw).astype(np.float32).reshape(shape))
        return y if self.bias is None else y + self.bias.reshape(shape)

    def _quant_repr(self):
        return f", bits={self.bits}, act_bits={self.act_bits}, quantizer={self.quantizer!r}"


class QuantLinear(_QuantLayer, nn.Linear):
    """``nn.Linear`` with ``bits``-bit weights (per output channel) and ``act_bits``-bit inputs (per tensor):
    ``y = (c_x·c_wᵀ)·(s_x·s_w) + b`` (module docstring). ``act_bits`` defaults to ``bits``."""

    def __init__(self, in_features, out_features, bias=True, bits=8, act_bits=None, quantizer="affine",
                 averaging_constant=0.01):
        nn.Linear.__init__(self, in_features, out_features, bias=bias)
        self._init_quant(bits, act_bits, quantizer, averaging_constant)

    def forward(self, input):
        y = self._quant_forward(input, lambda a, b: F.linear(a, b), (1, -1))
        return F.linear(input, self.weight, self.bias) if y is None else y

    def extra_repr(self):
        return nn.Linear.extra_repr(self) + self._quant_repr()


class QuantConv2d(_QuantLayer, nn.Conv2d):
    """``nn.Conv2d`` with ``bits``-bit weights (per output channel) and ``act_bits``-bit inputs (per tensor):
    ``y = conv(c_x, c_w)·(s_x·s_w) + b``; the zero padding pads the codes with 0, i.e. x̂ with 0, as torch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, bits=8, act_bits=None, quantizer="affine", averaging_constant=0.01):
        nn.Conv2d.__init__(self, in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                           dilation=dilation, groups=groups, bias=bias)
        if getattr(self, "padding_mode", "zeros") != "zeros":
            raise ValueError("QuantConv2d supports padding_mode='zeros' only")
        self._init_quant(bits, act_bits, quantizer, averaging_constant)

    def forward(self, input):
        y = self._quant_forward(input, lambda a, b: F.conv2d(a, b, None, self.stride, self.padding, self.dilation,
                                                             self.groups), (1, -1, 1, 1))
        return self._conv_forward(input, self.weight, self.bias) if y is None else y

    def extra_repr(self):
        return nn.Conv2d.extra_repr(self) + self._quant_repr()


QUANT_LAYERS = (QuantLinear, QuantConv2d)


# ------------------------------------------------------------------------------------------------
# post-training quantization
# ------------------------------------------------------------------------------------------------
def quantize_model(model, bits=8, act_bits=None, quantizer="affine", skip=()):
    """Replace every ``nn.Linear`` / ``nn.Conv2d`` of ``model`` (in place; names in ``skip`` kept float) by
    its QuantLinear / QuantConv2d with the same weights; returns the model. The new layers observe
    from scratch (run :func:`calibrate`, or train: QAT)."""
    for name, parent in list(model.named_modules()):
        for child_name, child in list(parent._modules.items()):
            full = f"{name}.{child_name}" if name else child_name
            if child is None or full in skip or isinstance(child, QUANT_LAYERS):
                continue
            if "weight_mask" in child._buffers:
                raise ValueError(f"quantize_model: layer {full!r} is pruned (weight_mask); quantizing a pruned layer "
                                 "is not supported yet (its mask would be lost)")
            if type(child) is nn.Linear:
                q = QuantLinear(child.in_features, child.out_features, child.bias is not None, bits, act_bits, quantizer)
            elif type(child) is nn.Conv2d:
                q = QuantConv2d(child.in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                                child.dilation, child.groups, child.bias is not None, bits, act_bits, quantizer)
            else:
                continue
            q.weight.array[...] = child.weight.array
            if child.bias is not None:
                q.bias.array[...] = child.bias.array
            q.train(child.training)
            setattr(parent, child_name, q)
    return model


def calibrate(model, batches, max_batches=None):
    """Post-training calibration: run ``batches`` (an iterable of inputs or (input, target) pairs) through the
    float model -- fake quantization off, observers on, everything else in eval mode -- with fresh min/max,
    then turn fake quantization on and leave the model in eval mode (qparams frozen). Returns the model."""
    from .. import no_grad
    fqs = [m for m in model.modules() if isinstance(m, FakeQuantize)]
    if not fqs:
        raise ValueError("calibrate: the model has no quantized layers (use quantize_model first)")
    model.eval()
    for fq in fqs:
        fq.train()
        if hasattr(fq.activation_post_process, "reset_min_max_vals"):       # (fixed qparams have none)
            fq.activation_post_process.reset_min_max_vals()
    disable_fake_quant(model)
    enable_observer(model)
    seen = 0
    with no_grad():
        for batch in batches:
            if max_batches is not None and seen >= max_batches:
                break
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            model(x)
            seen += 1
    if not seen:
        raise ValueError("calibrate: no batches to calibrate on")
    enable_fake_quant(model)
    return model.eval()


def match_quant_buffers(model, state_dict) -> None:
    """Give a fresh model's observer and qparam buffers the shapes ``state_dict`` holds (per-channel ones
    start empty), so a checkpoint loads into it (as torch's observers' ``_load_from_state_dict``)."""
    for name, m in model.named_modules():
        if not isinstance(m, (FakeQuantize, ObserverBase)):
            continue
        for key, buf in list(m._buffers.items()):
            full = f"{name}.{key}" if name else key
            if buf is not None and full in state_dict and np.shape(state_dict[full]) != buf.shape:
                m._buffers[key] = Tensor._wrap(np.zeros(np.shape(state_dict[full]), buf.array.dtype))
