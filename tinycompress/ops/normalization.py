"""``batch_norm`` with torch.nn.functional.batch_norm semantics and a fused closed-form backward."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function
from ._util import as_tensor


class BatchNorm(Function):
    """y = γ·x̂ + β, x̂ = (x − μ)/σ, σ = √(v + eps); μ, v the batch mean and biased variance over all dims
    but 1 (training), or the running statistics (eval).

    backward (training): ∂x = (γ/σ)·(g − mean(g) − x̂·mean(g·x̂)); eval: ∂x = (γ/σ)·g;
    ∂γ = Σ g·x̂, ∂β = Σ g (sums and means over all dims but the channel dim 1).
    """

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, mean=None, var=None, training=False, eps=1e-5):
        axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        if training:
            mean = x.mean(axis=axes)
            var = x.var(axis=axes)
        inv = (1.0 / np.sqrt(var + x.dtype.type(eps))).astype(x.dtype)
        xhat = (x - mean.reshape(shape)) * inv.reshape(shape)
        y = xhat * weight.reshape(shape) if weight is not None else xhat.copy()
        if bias is not None:
            y += bias.reshape(shape)
        ctx.save_for_backward(xhat, inv, weight)
        ctx.meta = (axes, shape, training, weight is not None, bias is not None)
        return y

    @staticmethod
    def backward(ctx, grad):
        xhat, inv, weight = ctx.saved_tensors
        axes, shape, training, has_w, has_b = ctx.meta
        gx = None
        if ctx.needs_input_grad[0]:
            scale = (inv * weight if has_w else inv).reshape(shape)
            if training:
                gm = grad.mean(axis=axes, keepdims=True)
                gxm = (grad * xhat).mean(axis=axes, keepdims=True)
                gx = scale * (grad - gm - xhat * gxm)
            else:
                gx = scale * grad
        gw = (grad * xhat).sum(axis=axes) if has_w and ctx.needs_input_grad[1] else None
        gb = grad.sum(axis=axes) if has_b and ctx.needs_input_grad[2] else None
        return gx, gw, gb


def _array(t):
    return None if t is None else (t.data if hasattr(t, "data") and not isinstance(t, np.ndarray) else t)


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
    rm, rv = _array(running_mean), _array(running_var)
    x = input.data
    count = x.size // c
    if training:
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        if rm is not None or rv is not None:
            axes = (0,) + tuple(range(2, x.ndim))
            m = momentum if momentum is not None else 0.0
            if rm is not None:
                rm *= (1 - m)
                rm += (m * x.mean(axis=axes)).astype(rm.dtype)
            if rv is not None:
                rv *= (1 - m)
                rv += (m * x.var(axis=axes, ddof=1)).astype(rv.dtype)
        stats = {}
    else:
        if rm is None or rv is None:
            raise ValueError("batch_norm: running_mean and running_var are required when training=False")
        stats = dict(mean=rm.astype(x.dtype, copy=False), var=rv.astype(x.dtype, copy=False))
    return BatchNorm.apply(input, None if weight is None else as_tensor(weight),
                           None if bias is None else as_tensor(bias), training=bool(training), eps=float(eps), **stats)
