"""Loss Functions with fused backwards (torch.nn.functional's losses, same semantics).

reduction: 'none' keeps per-element losses, 'sum' adds them, 'mean' divides by the element
count, or, for weighted class losses, by the sum of the weights of the (non-ignored) targets.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import as_tensor
from .elementwise import softplus, where

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'none', 'mean' or 'sum'")


def _per_element(grad, reduction, denom):
    """The upstream gradient of each per-element loss: g itself ('none'), g / denom ('mean'), g ('sum')."""
    return grad / denom if reduction == "mean" else grad


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


class CrossEntropy(Function):
    """Fused log_softmax + NLL over class indices, with label smoothing ε: with p = softmax(x) and K classes,
    ℓ_n = −(1−ε) w_{y_n} log p_{n,y_n} − (ε/K) Σ_c w_c log p_{n,c}."""

    grad_fn_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target=None, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0,
                out_shape=None):
        a = x.array
        k = a.shape[1]
        shift = a - a.max(axis=1, keepdims=True)
        logp = shift - np.log(np.exp(shift).sum(axis=1, keepdims=True))
        wy, safe = _target_weights(target, weight, ignore_index, a.dtype)
        rows = np.arange(a.shape[0])
        coef = (1.0 - label_smoothing) * wy                              # (1−ε) w_{y_n}
        loss = -coef * logp[rows, safe]
        valid = (target != ignore_index).astype(a.dtype)
        wc = weight if weight is not None else np.ones(k, a.dtype)
        if label_smoothing > 0:
            loss = loss - (label_smoothing / k) * valid * (logp * wc).sum(axis=1)
        loss = loss.astype(a.dtype, copy=False)
        denom = wy.sum() if reduction == "mean" else None
        # ∂ℓ_n/∂x_n = p_n·a_n − T_n: a_n = (1−ε) w_{y_n} + (ε/K) valid_n Σ_c w_c, T = (1−ε) w_{y_n} onehot(y_n)
        # + (ε/K) valid_n w (both constants of the targets)
        smooth = (label_smoothing / k) * valid
        ctx.scale = (coef + smooth * wc.sum()).astype(a.dtype)[:, None]
        ctx.offset = np.zeros(a.shape, a.dtype)
        ctx.offset[rows, safe] = coef
        if label_smoothing > 0:
            ctx.offset += smooth[:, None] * wc
        ctx.save_for_backward(x)
        ctx.logp, ctx.reduction, ctx.denom = logp, reduction, denom
        if reduction == "none":
            return loss.reshape(out_shape)
        return _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        """∂x_n = g_n·[(1−ε) w_{y_n} (p_n − onehot(y_n)) + (ε/K) valid_n (p_n Σ_c w_c − w)], p = softmax(x),
        g_n the upstream gradient of ℓ_n (the 'mean' divides it by Σ w_{y_n}); unweighted: g_n (p_n − onehot)

        Under create_graph p is recomputed from x (log_softmax), so the formula is differentiated again."""
        (x,) = ctx.saved_tensors
        logp = x.log_softmax(1) if is_grad_enabled() else Tensor._wrap(ctx.logp)
        g = grad.reshape(-1, 1) if ctx.reduction == "none" else _per_element(grad, ctx.reduction, ctx.denom)
        return (logp.exp() * Tensor._wrap(ctx.scale) - Tensor._wrap(ctx.offset)) * g


def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None,
                  reduction="mean", label_smoothing=0.0):
    """torch.nn.functional.cross_entropy with class-index targets, input (N, C) / (N, C, d1, ...) / (C,)."""
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    return _class_loss(CrossEntropy, "cross_entropy", input, target, weight, ignore_index, reduction,
                       label_smoothing=float(label_smoothing))


class NLLLoss(Function):
    """ℓ_n = −w_{y_n} x_{n,y_n} (zero where y_n is ignore_index)."""

    grad_fn_name = "NllLossBackward0"

    @staticmethod
    def forward(ctx, x, target=None, weight=None, ignore_index=-100, reduction="mean", out_shape=None):
        a = x.array
        wy, safe = _target_weights(target, weight, ignore_index, a.dtype)
        loss = (-wy * a[np.arange(a.shape[0]), safe]).astype(a.dtype, copy=False)
        denom = wy.sum() if reduction == "mean" else None
        ctx.save_for_backward(x)
        ctx.options = dict(target=target, weight=weight, ignore_index=ignore_index, reduction=reduction,
                           out_shape=out_shape)
        ctx.denom = denom
        return loss.reshape(out_shape) if reduction == "none" else _reduce(loss, reduction, denom)

    @staticmethod
    def backward(ctx, grad):
        """∂x[n, y_n] = −w_{y_n}·g_n, zero elsewhere (nll_loss_scatter; its derivative w.r.t. g is nll_loss
        itself, w.r.t. x zero)"""
        (x,) = ctx.saved_tensors
        return NLLLossScatter.apply(grad, x, options=ctx.options, denom=ctx.denom)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """torch.nn.functional.nll_loss: input holds log-probabilities (N, C) / (N, C, d1, ...)."""
    return _class_loss(NLLLoss, "nll_loss", input, target, weight, ignore_index, reduction)


class NLLLossScatter(Function):
    """NLL's backward: ∂x[n, y_n] = −w_{y_n}·g_n; linear in g, x (an input here, or None) does not enter."""

    @staticmethod
    def forward(ctx, grad, x=None, options=None, denom=None):
        wy, safe = _target_weights(options["target"], options["weight"], options["ignore_index"], grad.dtype)
        reduction = options["reduction"]
        g = grad.array.reshape(-1) if reduction == "none" else _per_element(grad.array, reduction, denom)
        out = np.zeros((wy.shape[0], x.shape[1]), grad.dtype)
        out[np.arange(wy.shape[0]), safe] = -wy * g
        ctx.options, ctx.input_size = options, out.shape
        return out

    @staticmethod
    def backward(ctx, grad_gx):
        """∂g = nll_loss(h) (Σ_n −w_{y_n} h[n, y_n], reduced as the loss), ∂x = 0"""
        gg = NLLLoss.apply(grad_gx, **ctx.options) if ctx.needs_input_grad[0] else None
        gx = Tensor._wrap(np.zeros(ctx.input_size, grad_gx.dtype)) if ctx.needs_input_grad[1] else None
        return gg, gx


# ----------------------------------------------------------------------------- elementwise losses


def _mean_scale(reduction, *shapes):
    """1/numel of the broadcast per-element loss for 'mean', else 1."""
    return 1.0 / max(int(np.prod(np.broadcast_shapes(*shapes))), 1) if reduction == "mean" else 1.0


def _float_operands(name, input, target):
    input, target = as_tensor(input), as_tensor(target)
    if input.dtype.kind != "f" or target.dtype.kind != "f":
        raise RuntimeError(f"{name}: input and target must be floating point, got {input.dtype} and "
                           f"{target.dtype}; convert with .float()")
    if input.shape != target.shape:
        raise ValueError(f"{name}: target size {target.shape} must equal input size {input.shape}")
    if target.dtype != input.dtype:
        target = target.to(input.dtype)
    return input, target


def _opt(x, dtype):
    if x is None:
        return None
    return x.to(dtype) if hasattr(x, "array") and x.dtype != dtype else as_tensor(x).to(dtype)


class MSELoss(Function):
    """ℓ = (x − y)², reduced."""

    grad_fn_name = "MseLossBackward0"

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        d = x.array - y.array
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction
        return _reduce(d * d, reduction)

    @staticmethod
    def backward(ctx, grad):
        """∂x = 2(x − y)·g·s, ∂y = −∂x   (s = 1/numel for 'mean', else 1)"""
        x, y = ctx.saved_tensors
        gx = (x - y) * (grad * (2.0 * _mean_scale(ctx.reduction, x.shape)))
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.mse_loss: mean/sum/none of (input − target)²."""
    _check_reduction(reduction)
    input, target = _float_operands("mse_loss", input, target)
    return MSELoss.apply(input, target, reduction=reduction)


class L1Loss(Function):
    """ℓ = |x − y|, reduced."""

    grad_fn_name = lambda ctx: {"mean": "MeanBackward0", "sum": "SumBackward0"}.get(  # noqa: E731
        ctx.reduction, "AbsBackward0")                 # torch's l1_loss is composite: its last op

    @staticmethod
    def forward(ctx, x, y, reduction="mean"):
        ctx.save_for_backward(x, y)
        ctx.reduction = reduction
        return _reduce(np.abs(x.array - y.array), reduction)

    @staticmethod
    def backward(ctx, grad):
        """∂x = sign(x − y)·g·s, ∂y = −∂x   (s = 1/numel for 'mean', else 1)"""
        x, y = ctx.saved_tensors
        gx = (x - y).sign() * (grad * _mean_scale(ctx.reduction, x.shape))
        return gx, (-gx if ctx.needs_input_grad[1] else None)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.l1_loss: mean/sum/none of |input − target|."""
    _check_reduction(reduction)
    input, target = _float_operands("l1_loss", input, target)
    return L1Loss.apply(input, target, reduction=reduction)


class BCELoss(Function):
    """ℓ = −w [y·max(log x, −100) + (1−y)·max(log(1−x), −100)], reduced."""

    grad_fn_name = "BinaryCrossEntropyBackward0"

    @staticmethod
    def forward(ctx, x, y, w=None, reduction="mean"):
        a, t = x.array, y.array
        with np.errstate(divide="ignore"):
            logx = np.maximum(np.log(a), -100)
            log1mx = np.maximum(np.log1p(-a), -100)
        loss = -(t * logx + (1 - t) * log1mx)
        if w is not None:
            loss = loss * w.array
        ctx.save_for_backward(x, y, w)
        ctx.reduction = reduction
        return _reduce(loss.astype(a.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        """∂x = w (x − y) / max((1−x)x, 1e-12)·g·s, ∂y = w (max(log(1−x), −100) − max(log x, −100))·g·s"""
        x, y, w = ctx.saved_tensors
        g = grad * _mean_scale(ctx.reduction, x.shape, y.shape, () if w is None else w.shape)
        if w is not None:
            g = g * w
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - y) / ((1 - x) * x).clamp(min=1e-12)
        if ctx.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                gy = g * ((-x).log1p().clamp(min=-100) - x.log().clamp(min=-100))
        return gx, gy, None


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.binary_cross_entropy on probabilities in [0, 1]; logs clamped at −100."""
    _check_reduction(reduction)
    input, target = _float_operands("binary_cross_entropy", input, target)
    if ((input.array < 0) | (input.array > 1)).any():
        raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1 "
                           "(use binary_cross_entropy_with_logits for raw scores)")
    return BCELoss.apply(input, target, _opt(weight, input.dtype), reduction=reduction)


class BCEWithLogits(Function):
    """ℓ = w [(1 − y) x + (1 + (pw − 1) y) softplus(−x)] (stable for any x; pw the pos_weight), reduced."""

    grad_fn_name = "BinaryCrossEntropyWithLogitsBackward0"

    @staticmethod
    def forward(ctx, x, y, w=None, pos_weight=None, reduction="mean"):
        a, t = x.array, y.array
        sp = np.logaddexp(0, -a).astype(a.dtype, copy=False)           # softplus(−x) = −log σ(x)
        lw = 1 + (pos_weight.array - 1) * t if pos_weight is not None else 1
        loss = (1 - t) * a + lw * sp
        if w is not None:
            loss = loss * w.array
        ctx.save_for_backward(x, y, w, pos_weight)
        ctx.reduction = reduction
        return _reduce(loss.astype(a.dtype, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad):
        """∂x = w [(1 − y) − (1 + (pw − 1) y) σ(−x)]·g·s, ∂y = w [−x + (pw − 1) softplus(−x)]·g·s"""
        x, y, w, pw = ctx.saved_tensors
        g = grad * _mean_scale(ctx.reduction, x.shape, y.shape, () if w is None else w.shape,
                               () if pw is None else pw.shape)
        if w is not None:
            g = g * w
        gx = gy = None
        if ctx.needs_input_grad[0]:
            lw = 1 + (pw - 1) * y if pw is not None else 1
            gx = g * ((1 - y) - lw * (-x).sigmoid())
        if ctx.needs_input_grad[1]:
            gy = g * (-x + (pw - 1) * softplus(-x)) if pw is not None else g * -x
        return gx, gy, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits (stable log-sigmoid form)."""
    _check_reduction(reduction)
    input, target = _float_operands("binary_cross_entropy_with_logits", input, target)
    return BCEWithLogits.apply(input, target, _opt(weight, input.dtype), _opt(pos_weight, input.dtype),
                               reduction=reduction)


# ----------------------------------------------------------------------------- losses composed of tc ops
# Each is its formula in the library's ops, so its derivatives of every order are the ops' own.


def _reduced(loss, reduction):
    _check_reduction(reduction)
    return loss if reduction == "none" else loss.sum() if reduction == "sum" else loss.mean()


def _pair_operands(name, input, target):
    """input, target and their difference x − y."""
    input, target = _float_operands(name, input, target)
    return input, target, input - target


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """torch.nn.functional.smooth_l1_loss: ½d²/β where |d| < β, |d| − ½β elsewhere, d = x − y (|d| when β = 0).
    The quadratic piece is written in d itself, not |d|, so its second derivative at d = 0 is 1/β."""
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    input, target, d = _pair_operands("smooth_l1_loss", input, target)
    if beta == 0:
        return _reduced(d.abs(), reduction)
    return _reduced(where(np.abs(d.array) < beta, 0.5 * d * d / beta, d.abs() - 0.5 * beta), reduction)


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    """torch.nn.functional.huber_loss: ½d² where |d| < δ, δ(|d| − ½δ) elsewhere, d = x − y."""
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    input, target, d = _pair_operands("huber_loss", input, target)
    loss = where(np.abs(d.array) < delta, 0.5 * d * d, delta * (d.abs() - 0.5 * delta))
    return _reduced(loss if weight is None else loss * as_tensor(weight), reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """torch.nn.functional.kl_div, input the log-probabilities: ℓ = y(log y − x) (0 where y = 0), or
    eʸ(y − x) with ``log_target``; reduction 'batchmean' divides the sum by the batch size."""
    if reduction not in _REDUCTIONS + ("batchmean",):
        raise ValueError(f"{reduction!r} is not a valid value for reduction: use 'none', 'batchmean', 'sum' "
                         "or 'mean'")
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.")
    input, target = as_tensor(input), as_tensor(target)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target.array > 0
        safe = where(positive, target, 1.0)
        loss = where(positive, target * safe.log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / (input.shape[0] if input.ndim else 1)
    return _reduced(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.soft_margin_loss: log(1 + exp(−y·x)) = softplus(−y·x)."""
    input, target = _float_operands("soft_margin_loss", input, target)
    if target.requires_grad and is_grad_enabled():
        raise RuntimeError("The function 'soft_margin_loss' is not differentiable with respect to argument "
                           "'target'. This input cannot have requires_grad True.")
    return _reduced(softplus(-target * input), reduction)


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """torch.nn.functional.margin_ranking_loss: max(0, −y·(x1 − x2) + margin)."""
    input1, input2, target = as_tensor(input1), as_tensor(input2), as_tensor(target)
    if not (input1.shape == input2.shape == target.shape):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    return _reduced((-target * (input1 - input2) + margin).relu(), reduction)
