"""``batch_norm`` with torch.nn.functional.batch_norm semantics and a fused closed-form backward."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, LegacyFunction
from ._util import as_tensor


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ over every dim but the channel dim 1 of (N, C, *) ``a``, as (C,): the inner dims first, where the
    rows are contiguous (NumPy's fast pairwise sum), then the batch."""
    return a.sum(axis=0) if a.ndim == 2 else a.reshape(a.shape[0], a.shape[1], -1).sum(axis=2).sum(axis=0)


class BatchNorm(LegacyFunction):
    """y = γ·x̂ + β, x̂ = (x − μ)/σ, σ = √(v + eps); μ, v the batch mean and biased variance over all dims
    but 1 (training), or the running statistics (eval). In training, given running stats are updated in place
    from the same μ and v: running = (1 − momentum)·running + momentum·batch (v unbiased for running_var).

    In eval mode with no gradient wanted for γ, x̂ is never formed: y = x·(γ/σ) + (β − μ·γ/σ) in two passes.

    backward (training): ∂x = (γ/σ)·(g − Σg/m − x̂·Σ(g·x̂)/m), m the count per channel; eval: ∂x = (γ/σ)·g;
    ∂γ = Σ g·x̂, ∂β = Σ g (the sums over all dims but the channel dim 1, each computed once).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None, training=False,
                momentum=0.1, eps=1e-5):
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        count = x.size // x.shape[1]
        if training:
            mean = _channel_sum(x) / x.dtype.type(count)
            centred = x - mean.reshape(shape)                            # x − μ (becomes x̂ in place)
            var = _channel_sum(np.square(centred)) / x.dtype.type(count)
            for running, batch in ((running_mean, mean), (running_var, var * (count / max(count - 1, 1)))):
                if running is not None:
                    running *= 1 - momentum
                    running += (momentum * batch).astype(running.dtype, copy=False)
        else:
            mean, var = running_mean.astype(x.dtype, copy=False), running_var.astype(x.dtype, copy=False)
            centred = None
        inv = (1.0 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype, copy=False)
        ctx.meta = (shape, count, training, weight is not None, bias is not None)
        if not training and not ctx.needs_input_grad[1]:     # eval, x̂ not needed for ∂γ: fold, as torch
            scale = inv * weight if weight is not None else inv            # does: y = x·(γ/σ) + (β − μ·γ/σ)
            y = x * scale.reshape(shape)
            y += ((bias if bias is not None else 0) - mean * scale).reshape(shape)
            ctx.save_for_backward(None, inv, weight)
            return y
        xhat = centred if centred is not None else x - mean.reshape(shape)
        xhat *= inv.reshape(shape)
        y = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(shape)
        ctx.save_for_backward(xhat, inv, weight)
        return y

    @staticmethod
    def backward(ctx, grad):
        xhat, inv, weight = ctx.saved_tensors
        shape, count, training, has_w, has_b = ctx.meta
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        sum_g = _channel_sum(grad) if (training and need_x) or (has_b and need_b) else None
        sum_gx = _channel_sum(grad * xhat) if (training and need_x) or (has_w and need_w) else None
        gx = None
        if need_x:
            scale = inv * weight if has_w else inv                       # γ/σ per channel
            gx = grad * scale.reshape(shape)
            if training:
                gx -= xhat * (scale * sum_gx / count).reshape(shape)
                gx -= (scale * sum_g / count).reshape(shape)
        gw = sum_gx if has_w and need_w else None
        gb = sum_g if has_b and need_b else None
        return gx, gw, gb, None, None                                    # running stats: no gradient


def _array(t):
    return None if t is None else (t.array if hasattr(t, "array") and not isinstance(t, np.ndarray) else t)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """torch.nn.functional.batch_norm for (N, C) or (N, C, *) input.

    In training, normalise with the biased batch variance and, if running stats are given, update them in place:
    running = (1 − momentum)·running + momentum·batch (unbiased variance for running_var).
    Otherwise normalise with running_mean / running_var.
    """
    input = as_tensor(input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, *), got {input.shape}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"batch_norm: {name} should have shape ({c},) for input {input.shape}, got {tuple(t.shape)}")
    if training and input.array.size // c <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var are required when training=False")
    return BatchNorm.apply(input, None if weight is None else as_tensor(weight),
                           None if bias is None else as_tensor(bias), _array(running_mean), _array(running_var),
                           training=bool(training), momentum=0.0 if momentum is None else float(momentum),
                           eps=float(eps))
