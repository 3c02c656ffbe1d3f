"""``batch_norm`` with torch.nn.functional.batch_norm semantics and a fused closed-form backward."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, named
from ..autograd.grad_mode import is_grad_enabled
from ..tensor import Tensor
from ._util import as_tensor


def _channel_sum(a: np.ndarray) -> np.ndarray:
    """Σ over every dim but the channel dim 1 of (N, C, *) ``a``, as (C,): the inner dims first, where the
    rows are contiguous (NumPy's fast pairwise sum), then the batch."""
    return a.sum(axis=0) if a.ndim == 2 else a.reshape(a.shape[0], a.shape[1], -1).sum(axis=2).sum(axis=0)


def _channel_shape(ndim: int, c: int) -> tuple:
    """(1, C, 1, ...): a per-channel (C,) vector's shape for broadcasting against (N, C, *)."""
    return (1, c) + (1,) * (ndim - 2)


class ChannelSum(Function):
    """s[c] = Σ_{n,*} x[n, c, *]: the per-channel sum of batch norm's statistics and of a conv's bias gradient."""

    @staticmethod
    def forward(ctx, x):
        ctx.input_size = x.shape
        return _channel_sum(x.array)

    @staticmethod
    def backward(ctx, grad):
        """∂x[n, c, *] = g[c]"""
        size = ctx.input_size
        return grad.reshape(_channel_shape(len(size), size[1])).expand(size)


def channel_sum(input):
    """Σ over every dim of (N, C, *) ``input`` but the channel dim 1, as (C,)."""
    return ChannelSum.apply(as_tensor(input))


class BatchNorm(Function):
    """y = γ·x̂ + β, x̂ = (x − μ)/σ, σ = √(v + eps); μ, v the batch mean and biased variance over all dims
    but 1 (training), or the running statistics (eval). In training, given running stats are updated in place
    from the same μ and v: running = (1 − momentum)·running + momentum·batch (v unbiased for running_var).

    In eval mode with no gradient wanted for γ, x̂ is never formed: y = x·(γ/σ) + (β − μ·γ/σ) in two passes.
    """

    grad_fn_name = "NativeBatchNormBackward0"

    @staticmethod
    def forward(ctx, x, weight=None, bias=None, running_mean=None, running_var=None, training=False,
                momentum=0.1, eps=1e-5):
        a = x.array
        w = None if weight is None else weight.array
        b = None if bias is None else bias.array
        shape = _channel_shape(a.ndim, a.shape[1])
        count = a.size // a.shape[1]
        if training:
            mean = _channel_sum(a) / a.dtype.type(count)
            centred = a - mean.reshape(shape)                            # x − μ (becomes x̂ in place)
            var = _channel_sum(np.square(centred)) / a.dtype.type(count)
            for running, batch in ((running_mean, mean), (running_var, var * (count / max(count - 1, 1)))):
                if running is not None:
                    running *= 1 - momentum
                    running += (momentum * batch).astype(running.dtype, copy=False)
        else:
            mean, var = running_mean.astype(a.dtype), running_var.astype(a.dtype, copy=False)
            centred = None
        inv = (1.0 / np.sqrt(var + a.dtype.type(eps))).astype(a.dtype, copy=False)
        ctx.save_for_backward(x, weight)
        ctx.training, ctx.eps, ctx.count, ctx.has_bias = training, eps, count, b is not None
        ctx.mean, ctx.inv = mean, inv
        if not training and not ctx.needs_input_grad[1]:     # eval, x̂ not needed for ∂γ: fold, as torch
            scale = inv * w if w is not None else inv                      # does: y = x·(γ/σ) + (β − μ·γ/σ)
            y = a * scale.reshape(shape)
            y += ((b if b is not None else 0) - mean * scale).reshape(shape)
            ctx.xhat = None
            return y
        xhat = centred if centred is not None else a - mean.reshape(shape)
        xhat *= inv.reshape(shape)
        y = xhat * w.reshape(shape) if w is not None else xhat.copy()
        if b is not None:
            y += b.reshape(shape)
        ctx.xhat = xhat
        return y

    @staticmethod
    def backward(ctx, grad):
        """training: ∂x = (γ/σ)·(g − Σg/m − x̂·Σ(g·x̂)/m), m the count per channel; eval: ∂x = (γ/σ)·g;
        ∂γ = Σ g·x̂, ∂β = Σ g (the sums over all dims but the channel dim 1, each computed once).

        A first-order backward runs this fused in NumPy, in place; under create_graph it is one recorded
        node, :class:`BatchNormBackward` (torch's NativeBatchNormBackwardBackward0), whose own backward is
        batch norm's double backward."""
        x, weight = ctx.saved_tensors
        if not is_grad_enabled():
            grads = _first_order(ctx, grad.array, None if weight is None else weight.array, ctx.needs_input_grad)
            return tuple(None if a is None else Tensor._wrap(a) for a in grads) + (None, None)
        return BatchNormBackward.apply(grad, x, weight, stats=ctx, want=ctx.needs_input_grad[:3]) + (None, None)


def _first_order(stats, grad, weight, want):
    """:meth:`BatchNorm.backward`'s formula on the forward's arrays (x̂, 1/σ in ``stats``), in place where it
    can: (∂x, ∂γ, ∂β) as arrays, each None unless wanted (and γ, β exist)."""
    xhat, inv, shape, count = stats.xhat, stats.inv, _channel_shape(grad.ndim, grad.shape[1]), stats.count
    need_x, need_w, need_b = want[:3]
    training, has_w = stats.training, weight is not None
    sum_g = _channel_sum(grad) if (training and need_x) or (stats.has_bias and need_b) else None
    sum_gx = _channel_sum(grad * xhat) if (training and need_x) or (has_w and need_w) else None
    gx = None
    if need_x:
        scale = inv * weight if has_w else inv                           # γ/σ per channel
        gx = grad * scale.reshape(shape)
        if training:
            gx -= xhat * (scale * sum_gx / count).reshape(shape)
            gx -= (scale * sum_g / count).reshape(shape)
    gw = sum_gx if has_w and need_w else None
    gb = sum_g if stats.has_bias and need_b else None
    return gx, gw, gb


class BatchNormBackward(Function):
    """Batch norm's first-order backward as one differentiable node, (g, x, γ) ↦ (∂x, ∂γ, ∂β) of
    :meth:`BatchNorm.backward` (``stats``: the forward's context, with μ, 1/σ, x̂; ``want``: which of the three).
    Its backward is torch's batchnorm_double_backward, written in the library's ops: recorded under
    create_graph (x̂ and 1/σ then recomputed from x), so it is differentiated again.
    """

    grad_fn_name = "NativeBatchNormBackwardBackward0"

    @staticmethod
    def forward(ctx, grad, x, weight=None, stats=None, want=(True, True, True)):
        ctx.save_for_backward(grad, x, weight)
        ctx.stats = stats
        return _first_order(stats, grad.array, None if weight is None else weight.array, want)

    @staticmethod
    def backward(ctx, h, h_w, h_b):
        """Given the gradients (h, h_γ, h_β) of (∂x, ∂γ, ∂β); ⟨·⟩ the mean over a channel's m numbers,
        s = 1/σ (μ and s constants in eval mode)::

            training  ∂g = γs·(h − ⟨h⟩ − x̂⟨hx̂⟩) + h_γ·x̂ + h_β
                      ∂γ = s·Σ h·(g − ⟨g⟩ − x̂⟨gx̂⟩)
                      ∂x = γs²·(x̂·(⟨h⟩⟨g⟩ − ⟨gh⟩ + 3⟨gx̂⟩⟨hx̂⟩) + ⟨hx̂⟩·(⟨g⟩ − g) + ⟨gx̂⟩·(⟨h⟩ − h))
                           + h_γ·s·(g − ⟨g⟩ − x̂⟨gx̂⟩)
            eval      ∂g = γs·h + h_γ·x̂ + h_β,   ∂γ = s·Σ h·g,   ∂x = h_γ·s·g

        Computed with per-channel coefficients, so that each big array is read a few times: the five means
        ⟨g⟩ ⟨gx̂⟩ ⟨h⟩ ⟨hx̂⟩ ⟨gh⟩, then ∂g = γs·h + x̂·(h_γ − γs⟨hx̂⟩) + (h_β − γs⟨h⟩),
        ∂x = x̂·A + g·B + h·C + D and ∂γ = m·s·(⟨gh⟩ − ⟨h⟩⟨g⟩ − ⟨hx̂⟩⟨gx̂⟩).
        """
        g, x, weight = ctx.saved_tensors
        stats = ctx.stats
        need_g, need_x, need_w = ctx.needs_input_grad[:3]
        shape, m = _channel_shape(g.ndim, g.shape[1]), stats.count
        if is_grad_enabled():                                            # third order: x̂, s as functions of x
            xhat, inv = _normalized(stats, x, want_xhat=stats.training or h_w is not None)
        else:
            xhat = None if stats.xhat is None else Tensor._wrap(stats.xhat)
            inv = Tensor._wrap(stats.inv)
        s = inv.reshape(shape)
        gs = s * weight.reshape(shape) if weight is not None else s      # γs
        zero = Tensor._wrap(np.zeros(shape, g.dtype))
        hw = h_w.reshape(shape) if h_w is not None else zero
        hb = h_b.reshape(shape) if h_b is not None else zero

        def mean(t):                                                     # ⟨t⟩ per channel, broadcastable
            return channel_sum(t).reshape(shape) / m

        gg = gx = gw = None
        if not stats.training:
            if need_g:
                gg = _sum_terms(gs * h if h is not None else None, xhat * hw if h_w is not None else None,
                                hb, like=g)
            if need_x and h_w is not None:
                gx = (hw * s) * g
            if need_w and h is not None:
                gw = inv * channel_sum(h * g)
            return gg, gx, gw
        g_m, gx_m = mean(g), mean(g * xhat)
        h_m, hx_m, gh_m = (mean(h), mean(h * xhat), mean(g * h)) if h is not None else (zero, zero, zero)
        if need_g:
            gg = _sum_terms(gs * h if h is not None else None, xhat * (hw - gs * hx_m), hb - gs * h_m, like=g)
        if need_x:
            gs2, hws = gs * s, hw * s
            a = gs2 * (h_m * g_m - gh_m + 3 * gx_m * hx_m) - hws * gx_m
            b = hws - gs2 * hx_m
            d = gs2 * (hx_m * g_m + gx_m * h_m) - hws * g_m
            gx = _sum_terms(xhat * a, g * b, h * (-gs2 * gx_m) if h is not None else None, d, like=x)
        if need_w and h is not None:
            gw = (inv * m) * (gh_m - h_m * g_m - hx_m * gx_m).reshape(-1)
        return gg, gx, gw


def _sum_terms(*terms, like):
    """The sum of the terms that are not None, broadcast to ``like``'s shape (zeros if all are None)."""
    present = [t for t in terms if t is not None]
    if not present:
        return Tensor._wrap(np.zeros(like.shape, like.dtype))
    total = present[0]
    for t in present[1:]:
        total = total + t
    return total if tuple(total.shape) == tuple(like.shape) else total.expand(like.shape)


def _normalized(stats, x, want_xhat):
    """(x̂, 1/σ per channel) computed from x with the library's ops, for a recorded (create_graph) backward."""
    shape = _channel_shape(x.ndim, x.shape[1])
    if not stats.training:
        inv = Tensor._wrap(stats.inv)
        return ((x - Tensor._wrap(stats.mean.reshape(shape))) * inv.reshape(shape) if want_xhat else None), inv
    dims = (0,) + tuple(range(2, x.ndim))
    centred = x - x.mean(dims, keepdim=True)
    inv = ((centred * centred).mean(dims, keepdim=True) + stats.eps).rsqrt()
    return centred * inv, inv.reshape(-1)


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


# ----------------------------------------------------------------------------- layer, group and instance norm
# Each is batch norm's training formula on a view of x as (1, R, M): R rows, each normalised over its own M
# numbers, so their first and second derivatives are batch norm's. The affine comes after, per element
# (layer norm) or per channel (group norm); instance norm's per-channel γ, β and running statistics repeat
# N times inside batch norm, as torch's instance_norm does.


def _rows_norm(x, rows, eps, weight=None, bias=None, running_mean=None, running_var=None, training=True,
               momentum=0.0):
    """(x − μ_r)/√(v_r + eps) for each of the ``rows`` rows of x viewed as (rows, M) (or the running statistics
    when not ``training``), γ and β (rows,) applied per row; x's shape kept."""
    y = BatchNorm.apply(x.reshape(1, rows, -1), weight, bias, running_mean, running_var, training=training,
                        momentum=momentum, eps=float(eps))
    return y.reshape(x.shape)


def _affine(y, weight, bias, shape):
    if weight is not None:
        y = y * as_tensor(weight).reshape(shape)
    if bias is not None:
        y = y + as_tensor(bias).reshape(shape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.layer_norm: y = (x − μ)/√(v + eps)·γ + β, μ and v (biased) over the trailing
    ``normalized_shape`` dims of each sample; γ and β of shape ``normalized_shape``."""
    input = as_tensor(input)
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else \
        tuple(int(s) for s in normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, shape))}], but got input of size{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t.shape)} and normalized_shape = {list(shape)}")
    rows = int(np.prod(input.shape[:input.ndim - k], dtype=np.int64))
    return named(_affine(_rows_norm(input, rows, eps), weight, bias, shape), "NativeLayerNormBackward0")


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """torch.nn.functional.group_norm: the C channels of (N, C, *) input in ``num_groups`` groups; each
    sample's group normalised over its C/G channels and spatial dims, then γ, β per channel."""
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.ndim}")
    n, c = input.shape[:2]
    if num_groups < 1 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(input.shape)} and num_groups={num_groups}")
    if n * c // num_groups * int(np.prod(input.shape[2:], dtype=np.int64)) == 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{[n * c // num_groups, num_groups] + list(input.shape[2:])}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t.shape)} and input of shape {list(input.shape)}")
    return named(_affine(_rows_norm(input, n * num_groups, eps), weight, bias, _channel_shape(input.ndim, c)),
                 "NativeGroupNormBackward0")


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """torch.nn.functional.instance_norm: each (sample, channel) of (N, C, *) input normalised over its spatial
    dims (``use_input_stats``) or by the running statistics; γ, β per channel. Given running statistics are
    updated in place with the batch average of the per-instance mean and unbiased variance."""
    input = as_tensor(input)
    if input.ndim < 2:
        raise RuntimeError(f"instance_norm: expected input of shape (N, C, *), got {input.shape}")
    n, c = input.shape[:2]
    if use_input_stats and int(np.prod(input.shape[2:], dtype=np.int64)) == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    if not use_input_stats and (running_mean is None or running_var is None):
        raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (c,):
            raise RuntimeError(f"instance_norm: {name} should have shape ({c},) for input {input.shape}, "
                               f"got {tuple(t.shape)}")
    stats = [None if t is None else np.tile(_array(t), n) for t in (running_mean, running_var)]
    affine = [None if t is None else as_tensor(t).repeat(n) for t in (weight, bias)]
    y = _rows_norm(input, n * c, eps, *affine, *stats, training=bool(use_input_stats),
                   momentum=0.0 if momentum is None else float(momentum))
    for running, tiled in zip((running_mean, running_var), stats):
        if running is not None:
            _array(running)[...] = tiled.reshape(n, c).mean(axis=0)
    return y
