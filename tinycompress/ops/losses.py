"""Loss Functions with fused backwards (torch.nn.functional's losses, same semantics).

reduction: 'none' keeps per-element losses, 'sum' adds them, 'mean' divides by the element
count, or, for weighted class losses, by the sum of the weights of the (non-ignored) targets.
"""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, LegacyFunction
from ._util import as_tensor

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'none', 'mean' or 'sum'")


def _reduce_shape_grad(grad, reduction, shape, scale=1.0):
    """Upstream grad of a reduced loss broadcast back to the per-element shape."""
    if reduction == "none":
        return grad * scale
    return np.broadcast_to(np.asarray(grad * scale), shape)


def _reduce(loss, reduction, denom=None):
    if reduction == "none":
        return loss
    total = loss.sum(dtype=loss.dtype)
    if reduction == "sum":
        return np.asarray(total)
    return np.asarray(total / (loss.size if denom is None else denom), dtype=loss.dtype)


# ----------------------------------------------------------------------------- class-index losses
def _target_weights(target, weight, ignore_index, dtype):
    """w[target] per sample, zero where target == ignore_index (class weights default to 1)."""
    valid = target != ignore_index
    safe = np.where(valid, target, 0)
    w = (weight[safe] if weight is not None else np.ones(target.shape, dtype)) * valid
    return w.astype(dtype, copy=False), safe


class CrossEntropy(LegacyFunction):
    """Fused log_softmax + NLL over class indices, with label smoothing ε.

    With p = softmax(x) and K classes, ℓ_n = −(1−ε) w_{y_n} log p_{n,y_n} − (ε/K) Σ_c w_c log p_{n,c}.
    backward: ∂ℓ_n/∂x_n = (1−ε) w_{y_n} (p_n − onehot(y_n)) + (ε/K) (Σ_c w_c p_n − w) · scale, where
    for unweighted losses this is the familiar (p − onehot)·scale.
    """

    @staticmethod
    def forward(ctx, x, target=None, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                out_shape=None):
        k = x.shape[1]
        shift = x - x.max(axis=1, keepdims=True)
        logp = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
        wy, safe = _target_weights(target, weight, ignore_index, x.dtype)
        rows = np.arange(x.shape[0])
        loss = -(1.0 - label_smoothing) * wy * logp[rows, safe]
        valid = (target != ignore_index).astype(x.dtype)
        if label_smoothing > 0:
            wc = weight if weight is not None else np.ones(k, x.dtype)
            loss = loss - (label_smoothing / k) * valid * (logp * wc).sum(axis=1)
        loss = loss.astype(x.dtype, copy=False)
        denom = wy.sum() if reduction == "mean" else None
        ctx.save_for_backward(logp, safe, wy, valid)
        ctx.options = (weight, reduction, label_smoothing, denom)
        if reduction == "none":
            return loss.reshape(out_shape)
        return _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        logp, safe, wy, valid = ctx.saved_tensors
        weight, reduction, eps, denom = ctx.options
        n, k = logp.shape
        g = grad.reshape(-1) if reduction == "none" else np.full(n, grad / (denom if reduction == "mean" else 1),
                                                                 dtype=logp.dtype)
        p = np.exp(logp)
        out = p * ((1.0 - eps) * wy)[:, None]
        out[np.arange(n), safe] -= (1.0 - eps) * wy
        if eps > 0:
            wc = weight if weight is not None else np.ones(k, logp.dtype)
            out += (eps / k) * valid[:, None] * (p * wc.sum() - wc)
        return (out * g[:, None]).astype(logp.dtype, copy=False)


class NLLLoss(LegacyFunction):
    """ℓ_n = −w_{y_n} x_{n,y_n}; backward scatters −w_{y_n}·scale into column y_n."""

    @staticmethod
    def forward(ctx, x, target=None, weight=None, ignore_index=-100, reduction="mean", out_shape=None):
        wy, safe = _target_weights(target, weight, ignore_index, x.dtype)
        loss = (-wy * x[np.arange(x.shape[0]), safe]).astype(x.dtype, copy=False)
        denom = wy.sum() if reduction == "mean" else None
        ctx.save_for_backward(safe, wy)
        ctx.options = (x.shape, x.dtype, reduction, denom)
        return loss.reshape(out_shape) if reduction == "none" else _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        safe, wy = ctx.saved_tensors
        shape, dtype, reduction, denom = ctx.options
        g = grad.reshape(-1) if reduction == "none" else grad / (denom if reduction == "mean" else 1)
        out = np.zeros(shape, dtype)
        out[np.arange(shape[0]), safe] = -wy * g
        return out


def _class_loss(fn, name, input, target, weight, ignore_index, reduction, **extra):
    _check_reduction(reduction)
    input = as_tensor(input)
    t = target.array if hasattr(target, "array") else np.asarray(target)
    if input.dtype.kind != "f":
        raise RuntimeError(f"{name}: input must be floating point, got {input.dtype}")
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{name}: expected class-index target of integer dtype (int64), got {t.dtype}; "
                           "for class probabilities compute -(target * log_softmax(input)).sum(1) instead")
    expected = input.shape[:1] + input.shape[2:] if input.ndim >= 2 else ()
    if input.ndim == 0 or t.shape != expected:
        raise ValueError(f"{name}: input of shape {input.shape} needs a target of shape {expected}, "
                         f"got {t.shape}")
    c = input.shape[1] if input.ndim >= 2 else input.shape[0]
    bad = (t != ignore_index) & ((t < 0) | (t >= c))
    if bad.any():
        raise IndexError(f"{name}: target {int(t[bad].flat[0])} is out of bounds for {c} classes "
                         f"(valid: 0..{c - 1}, or ignore_index={ignore_index})")
    w = None
    if weight is not None:
        w = weight.array if hasattr(weight, "array") else np.asarray(weight)
        if w.shape != (c,):
            raise ValueError(f"{name}: weight must have shape ({c},) (one per class), got {w.shape}")
        w = w.astype(input.dtype, copy=False)
    x2 = input
    if input.ndim == 1:
        x2 = input.reshape(1, c)
    elif input.ndim > 2:                                    # (N, C, d...) -> (N*d..., C)
        x2 = input.permute(0, *range(2, input.ndim), 1).reshape(-1, c)
    t2 = t.reshape(-1).astype(np.int64, copy=False)
    return fn.apply(x2, target=t2, weight=w, ignore_index=ignore_index, reduction=reduction,
                    out_shape=expected, **extra)


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy with class-index targets, input (N, C) / (N, C, d1, ...) / (C,)."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return _class_loss(CrossEntropy, "cross_entropy", input, target, weight, ignore_index, reduction,
                       label_smoothing=float(label_smoothing))


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """torch.nn.functional.nll_loss: input holds log-probabilities (N, C) / (N, C, d1, ...)."""
    return _class_loss(NLLLoss, "nll_loss", input, target, weight, ignore_index, reduction)


# ----------------------------------------------------------------------------- elementwise losses
class MSELoss(LegacyFunction):
    """ℓ = (x − y)²; ∂x = 2(x − y)·scale, ∂y = −∂x."""

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        d = x - y
        ctx.save_for_backward(d)
        ctx.reduction = reduction
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        scale = 2.0 / d.size if ctx.reduction == "mean" else 2.0
        g = (_reduce_shape_grad(grad, ctx.reduction, d.shape) * scale * d).astype(d.dtype, copy=False)
        return g, -g


class L1Loss(LegacyFunction):
    """ℓ = |x − y|; ∂x = sign(x − y)·scale, ∂y = −∂x."""

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        d = x - y
        ctx.save_for_backward(d)
        ctx.reduction = reduction
        return _reduce(np.abs(d), reduction)

    @staticmethod
    def backward(ctx, grad):
        (d,) = ctx.saved_tensors
        scale = 1.0 / d.size if ctx.reduction == "mean" else 1.0
        g = (_reduce_shape_grad(grad, ctx.reduction, d.shape) * scale * np.sign(d)).astype(d.dtype, copy=False)
        return g, -g


class BCELoss(LegacyFunction):
    """ℓ = −w [y·max(log x, −100) + (1−y)·max(log(1−x), −100)];
    ∂x = w (x − y) / max((1−x)x, 1e-12)·scale, ∂y = w (log(1−x) − log x)·scale (clamped logs)."""

    @staticmethod
    def forward(ctx, x, y, w=None, reduction="mean"):
        with np.errstate(divide="ignore"):
            logx = np.maximum(np.log(x), -100)
            log1mx = np.maximum(np.log1p(-x), -100)
        loss = -(y * logx + (1 - y) * log1mx)
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, y, w, logx, log1mx)
        ctx.reduction = reduction
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w, logx, log1mx = ctx.saved_tensors
        shape = np.broadcast_shapes(x.shape, y.shape, () if w is None else w.shape)
        s = 1.0 / int(np.prod(shape)) if ctx.reduction == "mean" else 1.0
        g = _reduce_shape_grad(grad, ctx.reduction, shape) * s
        if w is not None:
            g = g * w
        gx = g * (x - y) / np.maximum((1 - x) * x, 1e-12) if ctx.needs_input_grad[0] else None
        gy = g * (log1mx - logx) if ctx.needs_input_grad[1] else None
        cast = lambda a: None if a is None else a.astype(x.dtype, copy=False)  # noqa: E731
        return cast(gx), cast(gy), None


class BCEWithLogits(LegacyFunction):
    """ℓ = w [(1 − y) x + (1 + (pw − 1) y) softplus(−x)] (stable for any x; pw the pos_weight);
    ∂x = w [(1 − y) − (1 + (pw − 1) y) σ(−x)]·scale, ∂y = w [−x + (pw − 1) softplus(−x)]·scale."""

    @staticmethod
    def forward(ctx, x, y, w=None, pos_weight=None, reduction="mean"):
        sp = np.logaddexp(0, -x).astype(x.dtype, copy=False)           # softplus(−x) = −log σ(x)
        lw = 1 + (pos_weight - 1) * y if pos_weight is not None else 1
        loss = (1 - y) * x + lw * sp
        if w is not None:
            loss = loss * w
        ctx.save_for_backward(x, y, w, pos_weight, sp)
        ctx.reduction = reduction
        return _reduce(loss.astype(x.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, w, pw, sp = ctx.saved_tensors
        shape = np.broadcast_shapes(x.shape, y.shape, () if w is None else w.shape,
                                    () if pw is None else pw.shape)
        s = 1.0 / int(np.prod(shape)) if ctx.reduction == "mean" else 1.0
        g = _reduce_shape_grad(grad, ctx.reduction, shape) * s
        if w is not None:
            g = g * w
        lw = 1 + (pw - 1) * y if pw is not None else 1
        sig_neg = np.exp(-np.logaddexp(0, x))                            # σ(−x), stable
        gx = g * ((1 - y) - lw * sig_neg) if ctx.needs_input_grad[0] else None
        gy = None
        if ctx.needs_input_grad[1]:
            gy = g * (-x + ((pw - 1) * sp if pw is not None else 0))
        cast = lambda a: None if a is None else np.asarray(a).astype(x.dtype, copy=False)  # noqa: E731
        return cast(gx), cast(gy), None, None


def _pair(name, input, target):
    input, target = as_tensor(input), as_tensor(target)
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise RuntimeError(f"{name}: input and target must be floating point, got {input.dtype} and "
                           f"{target.dtype}; convert with .float()")
    if input.shape != target.shape:
        raise ValueError(f"{name}: target size {target.shape} must equal input size {input.shape}")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.mse_loss: mean/sum/none of (input − target)²."""
    _check_reduction(reduction)
    input, target = _pair("mse_loss", input, target)
    return MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.l1_loss: mean/sum/none of |input − target|."""
    _check_reduction(reduction)
    input, target = _pair("l1_loss", input, target)
    return L1Loss.apply(input, target, reduction=reduction)


def _opt(x, dtype):
    if x is None:
        return None
    return x.to(dtype) if hasattr(x, "array") and x.dtype != dtype else as_tensor(x).to(dtype)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.binary_cross_entropy on probabilities in [0, 1]; logs clamped at −100."""
    _check_reduction(reduction)
    input, target = _pair("binary_cross_entropy", input, target)
    if ((input.array < 0) | (input.array > 1)).any():
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           "(use binary_cross_entropy_with_logits for raw scores)")
    return BCELoss.apply(input, target, _opt(weight, input.dtype), reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits (stable log-sigmoid form)."""
    _check_reduction(reduction)
    input, target = _pair("binary_cross_entropy_with_logits", input, target)
    return BCEWithLogits.apply(input, target, _opt(weight, input.dtype), _opt(pos_weight, input.dtype),
                               reduction=reduction)
