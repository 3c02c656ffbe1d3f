"""Convolution and pooling over NCHW arrays, each a :class:`Function` (DESIGN §3).

conv2d works with the batch as the innermost axis: the input is laid out (C, H, W, N), so the im2col copy
and every per-kernel-offset strided add of col2im run over long contiguous rows of OW·N numbers. Forward is
one GEMM per group, Y (Og, OH·OW·N) = W (Og, K) · col (K, OH·OW·N); backward shares the re-laid gradient G
between ∂W = G · colᵀ and ∂x = col2im(Wᵀ · G); ∂b = Σ g. No loop ever runs over samples or pixels, only
over the kh·kw kernel offsets.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function, LegacyFunction
from ._util import as_tensor


def _pair(v, name):
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair, got {v!r}")
        return int(v[0]), int(v[1])
    return int(v), int(v)


def _windows(xp, kh, kw, sh, sw, dh, dw, axis=2):
    """Strided view with the spatial axes ``axis``, ``axis + 1`` replaced by (OH, OW) and (kh, kw) appended:
    windows[.., p, q, .., i, j] = xp[.., p·sh+i·dh, q·sw+j·dw, ..] (NCHW by default: (N, C, OH, OW, kh, kw))."""
    v = sliding_window_view(xp, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(axis, axis + 1))
    index = [slice(None)] * v.ndim
    index[axis], index[axis + 1], index[-2], index[-1] = slice(None, None, sh), slice(None, None, sw), \
        slice(None, None, dh), slice(None, None, dw)
    return v[tuple(index)]


def _offset(a, i, j, oh, ow, sh, sw, dh, dw, axis=2):
    """The strided view of ``a`` that kernel offset (i, j) reads, a[.., p·sh+i·dh, q·sw+j·dw, ..] for
    p < oh, q < ow, with the two spatial axes at ``axis`` and ``axis + 1``."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(i * dh, i * dh + sh * (oh - 1) + 1, sh)
    index[axis + 1] = slice(j * dw, j * dw + sw * (ow - 1) + 1, sw)
    return a[tuple(index)]


def _col2im(piece, shape, dtype, kh, kw, oh, ow, sh, sw, dh, dw, axis=2):
    """Adjoint of :func:`_windows`: an array of ``shape``, zero but for ``piece(i, j)`` (shaped like the
    output) added at the positions kernel offset (i, j) read -- one strided add per offset."""
    out = np.zeros(shape, dtype=dtype)
    for i in range(kh):
        for j in range(kw):
            _offset(out, i, j, oh, ow, sh, sw, dh, dw, axis)[...] += piece(i, j)
    return out


class Conv2d(LegacyFunction):
    """y[n,o,p,q] = b[o] + Σ_{c,i,j} W[o,c,i,j] · xp[n, g·Cg+c, p·sh+i·dh, q·sw+j·dw] (o in group g).

    As GEMMs per group g: Y_g (Og, M) = W_g (Og, K) · C_g (K, M) with C the im2col matrix, K = Cg·kh·kw and
    M = OH·OW·N (the batch innermost).
    backward: ∂W_g = G_g C_gᵀ, ∂b = Σ_{n,p,q} g, ∂x = crop(col2im(W_gᵀ G_g)).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), pad=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, pad
        n = x.shape[0]
        o, cg, kh, kw = weight.shape
        x_last = x.transpose(1, 2, 3, 0)                                 # (C, H, W, N)
        xp = np.pad(x_last, ((0, 0), (pt, pb), (pl, pr), (0, 0))) if any(pad) else np.ascontiguousarray(x_last)
        win = _windows(xp, kh, kw, sh, sw, dh, dw, axis=1)               # (C, OH, OW, N, kh, kw) view
        oh, ow = win.shape[1:3]
        col = np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3)).reshape(groups, cg * kh * kw, oh * ow * n)
        y = np.matmul(weight.reshape(groups, o // groups, cg * kh * kw), col)       # (G, Og, OH·OW·N)
        y = np.ascontiguousarray(y.reshape(o, oh, ow, n).transpose(3, 0, 1, 2))     # NCHW
        if bias is not None:
            y += bias.reshape(1, o, 1, 1)
        ctx.save_for_backward(col, weight)
        ctx.args = (stride, pad, dilation, groups, bias is not None, x.shape, xp.shape)
        return y

    @staticmethod
    def backward(ctx, grad):
        col, weight = ctx.saved_tensors
        (sh, sw), (pt, pb, pl, pr), (dh, dw), groups, has_bias, xshape, xpshape = ctx.args
        o, cg, kh, kw = weight.shape
        n, _, oh, ow = grad.shape
        g_last = np.ascontiguousarray(grad.transpose(1, 2, 3, 0)).reshape(groups, o // groups, oh * ow * n)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            w_t = weight.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
            gcol = np.matmul(w_t, g_last).reshape(groups * cg, kh, kw, oh, ow, n)
            gxp = _col2im(lambda i, j: gcol[:, i, j], xpshape, grad.dtype, kh, kw, oh, ow, sh, sw, dh, dw, axis=1)
            gx = gxp.transpose(3, 0, 1, 2)[:, :, pt:pt + xshape[2], pl:pl + xshape[3]]
        if ctx.needs_input_grad[1]:
            gw = np.matmul(g_last, col.transpose(0, 2, 1)).reshape(weight.shape)
        if has_bias and ctx.needs_input_grad[2]:
            gb = g_last.sum(axis=2).reshape(o)
        return (gx, gw, gb) if has_bias else (gx, gw)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d for (N, C, H, W) input (or unbatched (C, H, W)) and weight (O, C/groups, kh, kw)."""
    input, weight = as_tensor(input), as_tensor(weight)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != 4 or weight.ndim != 4:
        raise RuntimeError(f"conv2d: expected 3D/4D input and 4D weight, got input {input.shape}, weight {weight.shape}")
    stride, dilation = _pair(stride, "stride"), _pair(dilation, "dilation")
    o, cg, kh, kw = weight.shape
    if groups < 1 or input.shape[1] % groups or o % groups:
        raise RuntimeError(f"conv2d: groups={groups} must divide input channels {input.shape[1]} and "
                           f"out channels {o}")
    if cg * groups != input.shape[1]:
        raise RuntimeError(f"conv2d: weight of shape {weight.shape} with groups={groups} expects input with "
                           f"{cg * groups} channels, but got input of shape {input.shape}")
    if isinstance(padding, str):
        if padding == "valid":
            pad = (0, 0, 0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError("padding='same' is not supported for strided convolutions")
            th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
            pad = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
        else:
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    else:
        ph, pw = _pair(padding, "padding")
        pad = (ph, ph, pw, pw)
    hp, wp = input.shape[2] + pad[0] + pad[1], input.shape[3] + pad[2] + pad[3]
    if hp < dilation[0] * (kh - 1) + 1 or wp < dilation[1] * (kw - 1) + 1:
        raise RuntimeError(f"conv2d: padded input size ({hp} x {wp}) is smaller than the dilated kernel size "
                           f"({dilation[0] * (kh - 1) + 1} x {dilation[1] * (kw - 1) + 1}); input {input.shape}, "
                           f"weight {weight.shape}")
    opts = dict(stride=stride, pad=pad, dilation=dilation, groups=groups)
    out = Conv2d.apply(input, weight, **opts) if bias is None else Conv2d.apply(input, weight, as_tensor(bias), **opts)
    return out.squeeze(0) if unbatched else out


def _pool_out(size, k, s, p, d, ceil_mode):
    """torch's pooling output size, incl. 'the last window must start inside the input or left padding'."""
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        raise RuntimeError(f"pool: kernel {k} (dilation {d}) is larger than padded input size {size + 2 * p}")
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_prep(x, kernel_size, stride, padding, dilation, ceil_mode, fill):
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel_size, "kernel_size"), _pair(padding, "padding"), _pair(dilation, "dilation")
    sh, sw = _pair(kernel_size if stride is None or stride == [] or stride == () else stride, "stride")
    if ph > kh // 2 or pw > kw // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={padding}, "
                           f"kernel_size={kernel_size}")
    h, w = x.shape[2:]
    oh, ow = _pool_out(h, kh, sh, ph, dh, ceil_mode), _pool_out(w, kw, sw, pw, dw, ceil_mode)
    eh = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))
    ew = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
    pads = ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew))
    xp = np.pad(x, pads, constant_values=fill) if ph or pw or eh or ew else x
    col = _windows(xp, kh, kw, sh, sw, dh, dw)[:, :, :oh, :ow]
    return xp, col, (kh, kw, sh, sw, ph, pw, dh, dw)


class MaxPool2d(LegacyFunction):
    """y[n,c,p,q] = max_{i,j} xp[n,c,p·sh+i·dh,q·sw+j·dw] (xp padded with -inf); ∂x routes g to the first argmax.

    Both directions walk the kh·kw kernel offsets, each a whole-array op on a strided view: forward keeps a
    running maximum and the offset that first reached it (or, as in torch, the last NaN), backward adds g
    where that offset won.
    """

    @staticmethod
    def forward(ctx, x, kernel_size=1, stride=None, padding=0, dilation=1, ceil_mode=False):
        xp, col, geo = _pool_prep(x, kernel_size, stride, padding, dilation, ceil_mode, -np.inf)
        kh, kw = col.shape[4:]
        y = col[..., 0, 0].copy()
        track = ctx.needs_input_grad[0]                                  # the argmax only feeds backward
        arg = np.zeros(y.shape, np.min_scalar_type(kh * kw - 1)) if track else None   # offset i·kw + j
        has_nan = track and x.dtype.kind == "f" and bool(np.isnan(x).any())
        for k in range(1, kh * kw):
            cand = col[..., k // kw, k % kw]
            if track:
                better = cand > y
                if has_nan:
                    better |= np.isnan(cand)                             # a later NaN wins, as in torch
                arg += better * arg.dtype.type(k) - better * arg         # arg = k where better (branch-free)
            np.maximum(y, cand, out=y)                                   # NaN propagates
        ctx.geo, ctx.arg, ctx.shapes = geo, arg, (x.shape, xp.shape)
        return y

    @staticmethod
    def indices(ctx):
        """torch's ``return_indices``: the flat (h·W + w) input index of each window's first maximum."""
        kh, kw, sh, sw, ph, pw, dh, dw = ctx.geo
        oh, ow = ctx.arg.shape[2:]
        kh_i, kw_i = np.divmod(ctx.arg.astype(np.int64), kw)
        ih = np.arange(oh)[:, None] * sh + kh_i * dh - ph
        iw = np.arange(ow)[None, :] * sw + kw_i * dw - pw
        return ih * ctx.shapes[0][3] + iw

    @staticmethod
    def backward(ctx, grad):
        kh, kw, sh, sw, ph, pw, dh, dw = ctx.geo
        xshape, xpshape = ctx.shapes
        oh, ow = grad.shape[2:]
        gxp = _col2im(lambda i, j: grad * (ctx.arg == i * kw + j), xpshape, grad.dtype, kh, kw, oh, ow,
                      sh, sw, dh, dw)
        return gxp[:, :, ph:ph + xshape[2], pw:pw + xshape[3]]


def _unbatch(input, fn):
    input = as_tensor(input)
    if input.ndim == 3:
        out = fn(input.unsqueeze(0))
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)
    if input.ndim != 4:
        raise RuntimeError(f"expected 3D or 4D input (got {input.ndim}D input)")
    return fn(input)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool2d (padding is -inf; ties go to the first maximum, as torch)."""
    def run(x):
        y = MaxPool2d.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                            ceil_mode=ceil_mode)
        if not return_indices:
            return y
        from ..tensor import Tensor
        return y, Tensor(MaxPool2d.indices(y.grad_fn) if y.grad_fn is not None else _indices(x, kernel_size, stride,
                                                                                        padding, dilation, ceil_mode))
    return _unbatch(input, run)


def _indices(x, kernel_size, stride, padding, dilation, ceil_mode):
    from ..autograd.function import Context
    ctx = Context(MaxPool2d, (True,))                        # as if a gradient were wanted: forward then tracks the argmax
    MaxPool2d.forward(ctx, x.array, kernel_size, stride, padding, dilation, ceil_mode)
    return MaxPool2d.indices(ctx)


def _avg_divisor(size, k, s, p, out, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    full = end - start
    valid = np.minimum(end, size) - np.maximum(start, 0)
    return full if count_include_pad else valid


class AvgPool2d(LegacyFunction):
    """y[n,c,p,q] = Σ_{i,j} xp[n,c,p·sh+i,q·sw+j] / D[p,q] with torch's divisor D; ∂x = col2im(g / D)."""

    @staticmethod
    def forward(ctx, x, kernel_size=1, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                divisor_override=None):
        xp, col, geo = _pool_prep(x, kernel_size, stride, padding, 1, ceil_mode, 0)
        kh, kw, sh, sw, ph, pw, _, _ = geo
        oh, ow = col.shape[2:4]
        if divisor_override:
            div = np.full((oh, ow), divisor_override)
        else:
            div = np.outer(_avg_divisor(x.shape[2], kh, sh, ph, oh, count_include_pad),
                           _avg_divisor(x.shape[3], kw, sw, pw, ow, count_include_pad))
        div = div.astype(x.dtype)
        ctx.geo, ctx.div, ctx.shapes = geo, div, (x.shape, xp.shape)
        return col.sum(axis=(4, 5)) / div

    @staticmethod
    def backward(ctx, grad):
        kh, kw, sh, sw, ph, pw, _, _ = ctx.geo
        xshape, xpshape = ctx.shapes
        g = grad / ctx.div
        oh, ow = grad.shape[2:]
        gxp = _col2im(lambda i, j: g, xpshape, grad.dtype, kh, kw, oh, ow, sh, sw, 1, 1)
        return gxp[:, :, ph:ph + xshape[2], pw:pw + xshape[3]]


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d, with torch's divisor rules under ceil_mode and padding."""
    return _unbatch(input, lambda x: AvgPool2d.apply(
        x, kernel_size=kernel_size, stride=stride, padding=padding, ceil_mode=ceil_mode,
        count_include_pad=count_include_pad, divisor_override=divisor_override))


def _bins(size, out):
    i = np.arange(out)
    return (i * size) // out, -(-((i + 1) * size) // out)


class AdaptiveAvgPool2d(LegacyFunction):
    """y[n,c,p,q] = mean of x over rows [⌊p·H/OH⌋, ⌈(p+1)·H/OH⌉) and cols likewise; ∂x spreads g/|bin|.

    Computed as A_h · x · A_wᵀ with the (OH, H) and (OW, W) bin-averaging matrices (two GEMMs).
    """

    @staticmethod
    def forward(ctx, x, output_size=(1, 1)):
        (h, w), (oh, ow) = x.shape[2:], output_size
        mats = []
        for size, out in ((h, oh), (w, ow)):
            s, e = _bins(size, out)
            j = np.arange(size)
            m = ((j >= s[:, None]) & (j < e[:, None])).astype(x.dtype)
            mats.append(m / (e - s)[:, None].astype(x.dtype))
        ah, aw = mats
        ctx.mats = (ah, aw)
        return np.matmul(np.matmul(ah, x), aw.T)

    @staticmethod
    def backward(ctx, grad):
        ah, aw = ctx.mats
        return np.matmul(np.matmul(ah.T, grad), aw)


def adaptive_avg_pool2d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool2d; output_size an int or a pair (None keeps that input size)."""
    def run(x):
        os_ = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        os_ = tuple(x.shape[2 + i] if v is None else int(v) for i, v in enumerate(os_))
        return AdaptiveAvgPool2d.apply(x, output_size=os_)
    return _unbatch(input, run)
