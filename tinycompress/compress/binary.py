"""Binarized networks (seeds 000 and 001; Courbariaux, Hubara et al. 2016).

Quantizers (all :class:`~tinycompress.autograd.Function` s: forward in NumPy, backward in the library's ops;
the straight-through masks are piecewise constant, so every second derivative through them is zero):

* :class:`Binarize` -- seed 000's Function, kept faithful: ``sign`` with 0 -> +1, saturating STE
  whose backward zeroes ``grad_output`` *in place* where ``|x| > 1`` (as the seed does).
* :class:`SignSTE` -- deterministic ``x_b = +1 if x >= 0 else -1`` with a choice of estimator.
* :class:`StochasticBinarize` -- ``x_b = +1`` with probability ``σ(x) = clip((x + 1) / 2, 0, 1)``.
* :class:`Ternarize` -- TWN: ``t = sign(w)·1{|w| > Δ}``, ``Δ = 0.7·mean|w|``.
* :class:`AP2`, :class:`LinearQuant`, :class:`LogQuant` -- the paper's shift / fixed-point quantizers.

Straight-through estimators (``ste=``), ``g`` the incoming gradient:

* ``'saturate'`` (default): ``g · 1{|x| <= 1}``
* ``'identity'``:           ``g``
* ``'soft'``:               ``g · max(0, 1 - |x|)``

Layers: :class:`BinarizedLinear` (seed 000), :class:`BinarizedConv2d` (seed 001's ``Conv2d_Q``),
training helpers :class:`ClipWeights`, :class:`ShiftBatchNorm` (SBN, Algorithm 2 of the paper) and
:class:`ShiftAdamax` (shift-based AdaMax, Algorithm 4).
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import Function, is_grad_enabled
from ..callbacks import Callback
from ..nn import functional as F
from ..optim.optimizer import Optimizer
from ..random import default_generator
from ..ops._util import as_tensor
from ..tensor import Tensor

STES = ("saturate", "identity", "soft")


def _check_ste(ste: str) -> str:
    if ste not in STES:
        raise ValueError(f"unknown straight-through estimator ste={ste!r}; choose one of {STES}")
    return ste


class StraightThrough(Function):
    """A straight-through estimator's backward: g with the entries of the mask ``zero`` (computed from x)
    set to 0, or g itself (``zero=None``). Linear in g; x (an input here, or None) enters only through the
    piecewise constant mask, so its derivative is zero. ``inplace`` writes into g (first order only: the
    engine hands each backward a gradient it may overwrite)."""

    @staticmethod
    def forward(ctx, grad, x=None, zero=None, inplace=False):
        ctx.zero, ctx.input_size = zero, None if x is None else x.shape
        g = grad.array
        if zero is None:
            return g
        if inplace:
            np.copyto(g, 0, where=zero)
            return g
        return np.where(zero, g.dtype.type(0), g)

    @staticmethod
    def backward(ctx, grad):
        """∂g = h with the masked entries 0, ∂x = 0"""
        gg = StraightThrough.apply(grad, None, zero=ctx.zero) if ctx.needs_input_grad[0] else None
        gx = Tensor._wrap(np.zeros(ctx.input_size, grad.dtype)) if ctx.needs_input_grad[1] else None
        return gg, gx


def straight_through(grad, x, zero=None):
    """``grad`` with ``grad[zero] = 0`` as a differentiable op (see :class:`StraightThrough`); in place on a
    first-order backward."""
    return StraightThrough.apply(grad, x, zero=zero, inplace=not is_grad_enabled())


def _ste_grad(g, x, ste: str):
    """The estimator's gradient: saturate ``g·1{|x|<=1}``, identity ``g``, soft ``g·max(0, 1-|x|)``."""
    if ste == "saturate":
        return straight_through(g, x, np.abs(x.array) > 1)
    if ste == "soft":
        return g * (1 - x.abs()).clamp(min=0)
    return straight_through(g, x)


def _sign(x: np.ndarray) -> np.ndarray:
    """``+1 if x >= 0 else -1`` in x's dtype (sign(0) = +1, as seed 000's ``sign(x + 1e-20)`` intends)."""
    out = np.greater_equal(x, 0).astype(x.dtype)      # 2·1{x >= 0} − 1, in place: ~8× faster than
    out *= 2                                          # np.where(x >= 0, 1, -1), which builds int64
    out -= 1
    return out


# ------------------------------------------------------------------------------------------------
# Quantizer Functions
# ------------------------------------------------------------------------------------------------
class Binarize(Function):
    """Seed 000's ``Binarize``: ``forward x_b = sign(x)`` (0 -> +1);
    ``backward g_x = g · 1{-1 <= x <= 1}``.

    As the seed, a first-order backward writes into ``grad_output`` in place (our engine hands each backward
    a gradient it may overwrite): the seed's ``g[x > 1] = 0; g[x < -1] = 0`` as one masked copy of 0 where
    ``x > 1 or x < -1`` (the same entries, NaN kept as the seed keeps it; on trained latent weights, where
    that mask is nearly all False, faster than two boolean-index assignments).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _sign(x.array)

    @staticmethod
    def backward(ctx, grad_output):
        """∂x = g · 1{-1 <= x <= 1}   (straight through; its own derivative w.r.t. x is 0)"""
        (x,) = ctx.saved_tensors
        outside = x.array > 1
        outside |= x.array < -1
        return straight_through(grad_output, x, outside)


class SignSTE(Function):
    """Deterministic binarization ``x_b = +1 if x >= 0 else -1``; backward is the chosen STE
    (``saturate``: ``g·1{|x|<=1}``, ``identity``: ``g``, ``soft``: ``g·max(0, 1-|x|)``)."""

    @staticmethod
    def forward(ctx, x, *, ste="saturate"):
        ctx.ste = _check_ste(ste)
        ctx.save_for_backward(x)
        return _sign(x.array)

    @staticmethod
    def backward(ctx, g):
        """∂x = the STE: saturate g·1{|x|<=1}, identity g, soft g·max(0, 1-|x|)"""
        (x,) = ctx.saved_tensors
        return _ste_grad(g, x, ctx.ste)


class StochasticBinarize(Function):
    """Stochastic binarization: ``x_b = +1`` with probability ``σ(x) = clip((x + 1)/2, 0, 1)``,
    else ``-1``; i.e. ``x_b = +1 if u < σ(x)`` for ``u ~ U[0, 1)`` drawn from the library's
    generator (or given as ``noise``). Backward: the chosen STE, as :class:`SignSTE`."""

    @staticmethod
    def forward(ctx, x, *, ste="saturate", noise=None):
        ctx.ste = _check_ste(ste)
        a = x.array
        if noise is None:
            noise = default_generator().random(a.shape, dtype=np.float64)
        elif np.shape(noise) != a.shape:
            raise ValueError(f"StochasticBinarize: noise shape {np.shape(noise)} != input shape {a.shape}")
        p = np.clip((a + 1) / 2, 0, 1)
        ctx.save_for_backward(x)
        return np.where(noise < p, 1, -1).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """∂x = the STE, as :class:`SignSTE`"""
        (x,) = ctx.saved_tensors
        return _ste_grad(g, x, ctx.ste)


def _reduce_dims(x: np.ndarray, per_channel: bool):
    return tuple(range(1, x.ndim)) if per_channel else None


class Ternarize(Function):
    """TWN ternarization: ``t = sign(w)·1{|w| > Δ}`` with ``Δ = 0.7·mean|w|`` (over the whole
    tensor, or per output channel -- over all dims but the first -- if ``per_channel``).
    Backward: the chosen STE (default identity, as for weights)."""

    @staticmethod
    def forward(ctx, w, *, ste="identity", per_channel=False):
        ctx.ste = _check_ste(ste)
        ctx.save_for_backward(w)
        w = w.array
        delta = 0.7 * np.mean(np.abs(w), axis=_reduce_dims(w, per_channel), keepdims=True)
        return (np.sign(w) * (np.abs(w) > delta)).astype(w.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """∂w = the STE (default identity: g)"""
        (w,) = ctx.saved_tensors
        return _ste_grad(g, w, ctx.ste)


def _ap2(x: np.ndarray) -> np.ndarray:
    """``AP2(x) = sign(x)·2^round(log2|x|)``, ``AP2(0) = 0`` (NumPy's round: half to even)."""
    with np.errstate(divide="ignore"):
        e = np.round(np.log2(np.abs(x)))
    out = np.sign(x) * np.exp2(e)
    return np.where(x == 0, 0, out).astype(x.dtype, copy=False)


class AP2(Function):
    """Approximate power of two: ``AP2(x) = sign(x)·2^round(log2|x|)`` (``AP2(0) = 0``), so that
    ``a·AP2(b)`` is a shift of ``a`` (the paper's ``a ≪≫ b``). Backward: identity STE ``g``."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _ap2(x.array)

    @staticmethod
    def backward(ctx, g):
        """∂x = g   (identity STE)"""
        (x,) = ctx.saved_tensors
        return straight_through(g, x)


def _linear_range(bits: int):
    if not isinstance(bits, (int, np.integer)) or bits < 2:
        raise ValueError(f"bits must be an int >= 2, got {bits!r}")
    step = 2.0 ** (1 - bits)
    return step, -1.0, 1.0 - step


class LinearQuant(Function):
    """Fixed-point quantizer ``LinearQuant(x, bits) = clip(round(x / s)·s, minV, maxV)`` with step
    ``s = 2^(1-bits)``, ``minV = -1``, ``maxV = 1 - s`` (signed fixed point on [-1, 1), 2^bits
    levels). Backward: saturating STE ``g·1{minV <= x <= maxV}``."""

    @staticmethod
    def forward(ctx, x, *, bits=8):
        s, lo, hi = _linear_range(bits)
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        a = x.array
        return np.clip(np.round(a / s) * s, lo, hi).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """∂x = g·1{minV <= x <= maxV}   (saturating STE)"""
        (x,) = ctx.saved_tensors
        return straight_through(g, x, (x.array < ctx.lo) | (x.array > ctx.hi))


class LogQuant(Function):
    """Logarithmic quantizer ``LogQuant(x, bits) = clip(AP2(x), minV, maxV)``: one sign bit and
    ``bits - 1`` exponent bits, ``|q| ∈ {2^e : e = -(2^(bits-1) - 1), ..., 0}``, so magnitudes
    are clipped to ``[minV, maxV] = [2^-(2^(bits-1)-1), 1]`` (0 stays 0).
    Backward: saturating STE ``g·1{|x| <= maxV}``."""

    @staticmethod
    def forward(ctx, x, *, bits=4):
        if not isinstance(bits, (int, np.integer)) or bits < 2:
            raise ValueError(f"bits must be an int >= 2, got {bits!r}")
        lo = 2.0 ** -(2 ** (bits - 1) - 1)
        ctx.save_for_backward(x)
        a = x.array
        mag = np.clip(np.abs(_ap2(a)), lo, 1.0)
        return np.where(a == 0, 0, np.sign(a) * mag).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        """∂x = g·1{|x| <= maxV}   (saturating STE, maxV = 1)"""
        (x,) = ctx.saved_tensors
        return straight_through(g, x, np.abs(x.array) > 1)


# functional forms --------------------------------------------------------------------------------
def binarize(x, stochastic=False, ste="saturate", training=True):
    """Deterministic (default) or stochastic binarization; stochastic only while ``training``
    (in eval mode it is the deterministic sign, as in the paper's test time)."""
    if stochastic and training:
        return StochasticBinarize.apply(as_tensor(x), ste=ste)
    return SignSTE.apply(as_tensor(x), ste=ste)


def ternarize(w, ste="identity", per_channel=False):
    return Ternarize.apply(as_tensor(w), ste=ste, per_channel=per_channel)


def ap2(x):
    return AP2.apply(as_tensor(x))


def linear_quant(x, bits):
    return LinearQuant.apply(as_tensor(x), bits=bits)


def log_quant(x, bits):
    return LogQuant.apply(as_tensor(x), bits=bits)


# ------------------------------------------------------------------------------------------------
# Layers
# ------------------------------------------------------------------------------------------------
class BinarizedLinear(nn.Linear):
    """Seed 000's layer: ``y = sign(x)·sign(W)^T`` (``x`` binarized only if ``binarize_input``),
    both through :class:`Binarize` (saturating STE). Weight (out, in), kaiming_uniform_(a=√5)
    as ``nn.Linear``; no bias unless asked."""

    def __init__(self, in_features, out_features, binarize_input=True, bias=False):
        super().__init__(in_features, out_features, bias=bias)
        self.binarize_input = bool(binarize_input)

    def forward(self, input):
        x = Binarize.apply(input) if self.binarize_input else input
        return F.linear(x, Binarize.apply(self.weight), self.bias)

    def extra_repr(self):
        return super().extra_repr() + f", binarize_input={self.binarize_input}"


def _quantize_conv(w: np.ndarray, weight_quant: str) -> tuple[np.ndarray, np.ndarray]:
    """Seed 001's weight quantizer, done for real: ``W_c = clip(W - mean_in(W), -1, 1)`` (mean over the
    input-channel dim), then ``Q = sign(W_c)`` (binary) or the TWN ternary of ``W_c`` (per output channel),
    and per output channel ``α = mean|W_c|`` (XNOR-Net) for binary, ``α = mean of |W_c| over the kept
    entries`` (TWN) for ternary. Returns (Q, α (O, 1, 1, 1))."""
    w_c = np.clip(w - w.mean(axis=1, keepdims=True), -1, 1)
    dims = tuple(range(1, w.ndim))
    if weight_quant == "binary":
        q = _sign(w_c)
        alpha = np.mean(np.abs(w_c), axis=dims, keepdims=True)
    else:
        a = np.abs(w_c)
        keep = a > 0.7 * np.mean(a, axis=dims, keepdims=True)
        q = (np.sign(w_c) * keep).astype(w.dtype)
        alpha = np.sum(a * keep, axis=dims, keepdims=True) / np.maximum(np.sum(keep, axis=dims, keepdims=True), 1)
    return q.astype(w.dtype, copy=False), alpha.astype(w.dtype, copy=False)


def quantize_conv_weight(w: np.ndarray, weight_quant="binary", scale="channel") -> np.ndarray:
    """``Q`` of :func:`_quantize_conv` (±1, or −1/0/+1 ternary), times ``α`` per output channel if
    ``scale='channel'``."""
    q, alpha = _quantize_conv(w, weight_quant)
    return (q * alpha).astype(w.dtype, copy=False) if scale == "channel" else q


def conv_weight_scale(w: np.ndarray, weight_quant="binary") -> np.ndarray:
    """XNOR-Net's per-output-channel ``α`` of :func:`_quantize_conv`, shape (O,)."""
    return _quantize_conv(w, weight_quant)[1].reshape(-1)


def binary_conv_weight(layer) -> tuple[np.ndarray, np.ndarray | None]:
    """(Q, α or None) a :class:`BinarizedConv2d` computes with: ``y = conv(x_b, Q)·α + b``."""
    w = layer.weight.array
    q, alpha = _quantize_conv(w, layer.weight_quant)
    return q, (alpha.reshape(-1) if layer.scale == "channel" else None)


class QuantizeConvWeight(Function):
    """Forward: :func:`quantize_conv_weight`; backward: identity STE ``g`` (seed 001's
    ``Binary_w``, whose centering, clamping and ``α`` act on ``.array`` and carry no gradient)."""

    @staticmethod
    def forward(ctx, w, *, weight_quant="binary", scale="channel"):
        ctx.save_for_backward(w)
        return quantize_conv_weight(w.array, weight_quant, scale)

    @staticmethod
    def backward(ctx, g):
        """∂w = g   (identity STE)"""
        (w,) = ctx.saved_tensors
        return straight_through(g, w)


class BinarizedConv2d(nn.Conv2d):
    """Seed 001's ``Conv2d_Q``: activations binarized with the saturating STE (if ``binarize_input``),
    weights quantized by :func:`quantize_conv_weight` with the identity STE, in XNOR-Net's form::

        y = (x_b ⊛ Q) ⊙ α + b        Q = sign(W_c) (or ternary), α = mean|W_c| per output channel

    ``x_b ⊛ Q`` is a convolution of ±1 (or 0) numbers: an exact integer in float32, which is what lets
    the packed deployment (XNOR-popcount) reproduce it bit for bit. α is a constant of W (no gradient
    flows through it, as in seed 001 where it is computed on ``.data``), so ∂W = α ⊙ (∂ of the
    ±1-weight convolution), XNOR-Net's gradient without its 1/n term.

    The seed's code writes ``w.data.sub(mean)`` and ``w.data.clamp(-1, 1)``; neither is in place,
    so its mean-centering and clamping do nothing. Here both are applied (to the forward's copy of
    the weights; the latent weights themselves are clipped by :class:`ClipWeights`)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, binarize_input=True, weight_quant="binary", scale="channel"):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias)
        if weight_quant not in ("binary", "ternary"):
            raise ValueError(f"weight_quant must be 'binary' or 'ternary', got {weight_quant!r}")
        if scale not in ("channel", None):
            raise ValueError(f"scale must be 'channel' or None, got {scale!r}")
        self.binarize_input = bool(binarize_input)
        self.weight_quant = weight_quant
        self.scale = scale

    def quantized_weight(self):
        """``Q·α`` (the effective kernel; the forward applies α after the convolution instead)."""
        return QuantizeConvWeight.apply(self.weight, weight_quant=self.weight_quant, scale=self.scale)

    def scale_output(self, y):
        """``y ⊙ α + b`` per output channel (axis 1), on the result of the ±1 convolution."""
        if self.scale == "channel":
            alpha = conv_weight_scale(self.weight.array, self.weight_quant)
            y = y * Tensor(alpha.reshape(1, -1, 1, 1))
        if self.bias is not None:
            y = y + self.bias.reshape(1, -1, 1, 1)
        return y

    def forward(self, input):
        x = SignSTE.apply(input, ste="saturate") if self.binarize_input else input
        q = QuantizeConvWeight.apply(self.weight, weight_quant=self.weight_quant, scale=None)
        return self.scale_output(F.conv2d(x, q, None, self.stride, self.padding, self.dilation, self.groups))

    def extra_repr(self):
        return (super().extra_repr() + f", binarize_input={self.binarize_input}, "
                f"weight_quant={self.weight_quant!r}, scale={self.scale!r}")


BINARIZED_LAYERS = (BinarizedLinear, BinarizedConv2d)


# ------------------------------------------------------------------------------------------------
# The paper's training details
# ------------------------------------------------------------------------------------------------
class ClipWeights(Callback):
    """Clip the latent weights of binarized layers to ``[min, max]`` (default [-1, 1]) after each
    optimizer step (paper, Algorithm 1: ``W ← clip(W - η·g, -1, 1)``).

    As a callback of ``fit``: ``callbacks=[ClipWeights()]``. As a function: ``ClipWeights()(model)``
    after ``optimizer.step()``."""

    def __init__(self, min=-1.0, max=1.0, layers=BINARIZED_LAYERS):
        if not min < max:
            raise ValueError(f"ClipWeights: need min < max, got [{min}, {max}]")
        self.min, self.max, self.layers = float(min), float(max), tuple(layers)

    def __call__(self, model) -> int:
        """Clip in place; returns the number of layers clipped."""
        count = 0
        for m in model.modules():
            if isinstance(m, self.layers):
                np.clip(m.weight.array, self.min, self.max, out=m.weight.array)
                count += 1
        return count

    def on_step_end(self, trainer) -> None:
        self(trainer.model)


def clip_weights(model, min=-1.0, max=1.0) -> int:
    """Clip binarized layers' latent weights in place (see :class:`ClipWeights`)."""
    return ClipWeights(min, max)(model)


class ShiftBatchNorm(nn.Module):
    """Shift-based batch normalization (SBN, paper Algorithm 2), ``a ≪≫ b = a·AP2(b)``::

        C(x) = x - E[x]                                  (per channel, over batch (and H, W))
        apx_var = E[C(x) ≪≫ C(x)]
        x̂ = C(x) ≪≫ (1 / sqrt(apx_var + eps))
        y = AP2(γ) ≪≫ x̂ + β   i.e.  y = x̂·AP2(γ) + β

    AP2 passes gradients straight through. Running ``mean`` / ``var`` (``apx_var``) are kept with
    ``momentum`` as BatchNorm does and used in eval mode. Inputs (N, C) or (N, C, H, W)."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True):
        super().__init__()
        self.num_features, self.eps, self.momentum, self.affine = num_features, eps, momentum, affine
        if affine:
            self.weight = nn.Parameter(np.ones(num_features, dtype=np.float32))
            self.bias = nn.Parameter(np.zeros(num_features, dtype=np.float32))
        else:
            self.weight = self.bias = None
        self.register_buffer("running_mean", np.zeros(num_features, dtype=np.float32))
        self.register_buffer("running_var", np.ones(num_features, dtype=np.float32))

    def forward(self, x):
        if x.ndim not in (2, 4) or x.shape[1] != self.num_features:
            raise ValueError(f"ShiftBatchNorm({self.num_features}) expects (N, {self.num_features}) or "
                             f"(N, {self.num_features}, H, W) input, got shape {tuple(x.shape)}")
        dims = (0,) if x.ndim == 2 else (0, 2, 3)
        shape = (1, -1) if x.ndim == 2 else (1, -1, 1, 1)
        if self.training:
            c = x - x.mean(dims, keepdim=True)
            var = (c * AP2.apply(c)).mean(dims, keepdim=True)
            m = self.momentum
            rm, rv = self.running_mean.array, self.running_var.array
            rm *= 1 - m
            rm += m * np.mean(x.array, axis=dims).astype(rm.dtype)
            rv *= 1 - m
            rv += m * var.array.reshape(-1).astype(rv.dtype)
        else:
            c = x - Tensor._wrap(self.running_mean.array.reshape(shape))
            var = Tensor._wrap(self.running_var.array.reshape(shape))
        y = c * AP2.apply((var + self.eps) ** -0.5)
        if self.affine:
            y = y * AP2.apply(self.weight.reshape(shape)) + self.bias.reshape(shape)
        return y

    def extra_repr(self):
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class ShiftAdamax(Optimizer):
    """Shift-based AdaMax (paper Algorithm 4), ``a ≪≫ b = a·AP2(b)``::

        m_t = β1·m_{t-1} + (1 - β1)·g_t
        v_t = max(β2·v_{t-1}, |g_t|)
        θ_t = θ_{t-1} - (lr ≪≫ (1 - β1^t)^-1) · (m_t ≪≫ (v_t + eps)^-1)

    i.e. the AdaMax step with its two divisions replaced by shifts (multiplication by AP2 of
    the divisor's inverse). ``weight_decay`` adds ``wd·θ`` to ``g`` as torch's Adamax does."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        if lr < 0 or eps < 0 or not (0 <= betas[0] < 1 and 0 <= betas[1] < 1):
            raise ValueError(f"ShiftAdamax: invalid lr={lr}, betas={betas} or eps={eps}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            lr, (b1, b2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                if wd:
                    g = g + wd * p.array
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.array)
                    state["exp_inf"] = np.zeros_like(p.array)
                state["step"] += 1
                m, v, t = state["exp_avg"], state["exp_inf"], state["step"]
                m *= b1
                m += (1 - b1) * g
                np.maximum(b2 * v, np.abs(g), out=v)
                lr_t = lr * float(_ap2(np.float64(1.0 / (1 - b1 ** t))))
                p.array -= (lr_t * m * _ap2(1.0 / (v + eps))).astype(p.array.dtype, copy=False)
        return loss
