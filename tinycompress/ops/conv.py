"""Convolution and pooling over NCHW arrays, each a :class:`Function` whose backward is made of Functions.

conv2d works with the batch as the innermost axis: the input is laid out (C, H, W, N), so the im2col copy
and every per-kernel-offset strided add of col2im run over long contiguous rows of OW·N numbers. Forward is
one GEMM per group, Y (Og, OH·OW·N) = W (Og, K) · col (K, OH·OW·N). No loop ever runs over samples or
pixels, only over the kh·kw kernel offsets.

The derivatives close on three linear Functions, so every one is differentiable again (and again):
``Conv2d`` (y = conv(x, W)), ``Conv2dInputGrad`` (∂x = col2im(Wᵀ G), the transposed convolution) and
``Conv2dWeightGrad`` (∂W = G colᵀ); the backward of each is made of the other two. Likewise max-pool's
backward is a scatter by the saved argmax whose backward is the gather, and avg-pool's backward is its
transpose whose backward is avg-pool again.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function
from ..tensor import Tensor
from ._util import as_tensor
from .normalization import channel_sum


def pair(v, name: str = "value") -> tuple[int, int]:
    """``(v, v)`` for an int, ``(v[0], v[1])`` for a pair (torch's ``_pair``), as ints."""
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


# ----------------------------------------------------------------------------- conv2d


def _im2col(x, kernel_size, stride, padding, dilation, groups):
    """The im2col matrix of NCHW ``x``, (groups, Cg·kh·kw, OH·OW·N) with the batch innermost, and (OH, OW)."""
    (kh, kw), (sh, sw), (dh, dw), (pt, pb, pl, pr) = kernel_size, stride, dilation, padding
    n, c = x.shape[:2]
    x_last = x.transpose(1, 2, 3, 0)                                     # (C, H, W, N)
    xp = np.pad(x_last, ((0, 0), (pt, pb), (pl, pr), (0, 0))) if any(padding) else np.ascontiguousarray(x_last)
    win = _windows(xp, kh, kw, sh, sw, dh, dw, axis=1)                   # (C, OH, OW, N, kh, kw) view
    oh, ow = win.shape[1:3]
    col = np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3)).reshape(groups, c // groups * kh * kw, oh * ow * n)
    return col, oh, ow


def _grad_last(g, groups):
    """An output gradient (N, O, OH, OW) re-laid as (groups, Og, OH·OW·N), the GEMM operand of both gradients."""
    o = g.shape[1]
    return np.ascontiguousarray(g.transpose(1, 2, 3, 0)).reshape(groups, o // groups, -1)


def _geometry(ctx):
    return dict(stride=ctx.stride, padding=ctx.padding, dilation=ctx.dilation, groups=ctx.groups)


def _keep_geometry(ctx, stride, padding, dilation, groups):
    ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups


class Conv2d(Function):
    """y[n,o,p,q] = b[o] + Σ_{c,i,j} W[o,c,i,j] · xp[n, g·Cg+c, p·sh+i·dh, q·sw+j·dw] (o in group g).

    As GEMMs per group g: Y_g (Og, M) = W_g (Og, K) · C_g (K, M) with C the im2col matrix, K = Cg·kh·kw and
    M = OH·OW·N (the batch innermost). ``padding`` is (top, bottom, left, right).
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        w = weight.array
        o, cg, kh, kw = w.shape
        n = x.shape[0]
        col, oh, ow = _im2col(x.array, (kh, kw), stride, padding, dilation, groups)
        y = np.matmul(w.reshape(groups, o // groups, cg * kh * kw), col)            # (G, Og, OH·OW·N)
        y = np.ascontiguousarray(y.reshape(o, oh, ow, n).transpose(3, 0, 1, 2))     # NCHW
        if bias is not None:
            y += bias.array.reshape(1, o, 1, 1)
        ctx.save_for_backward(x, weight)
        ctx.col = col if ctx.needs_input_grad[1] else None           # kept for ∂W = G colᵀ
        ctx.has_bias = bias is not None
        _keep_geometry(ctx, stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, grad):
        """∂x = conv2d_input_grad(g, W) = crop(col2im(W_gᵀ G_g)), ∂W = conv2d_weight_grad(x, g) = G_g C_gᵀ,
        ∂b = Σ_{n,p,q} g"""
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        geometry = _geometry(ctx)
        g_last = _grad_last(grad.array, ctx.groups) if need[0] or need[1] else None   # shared by ∂x and ∂W
        gx = gw = gb = None
        if need[0]:
            gx = Conv2dInputGrad.apply(grad, weight, input_size=x.shape, g_last=g_last, **geometry)
        if need[1]:
            gw = Conv2dWeightGrad.apply(x, grad, kernel_size=weight.shape[2:], col=ctx.col, g_last=g_last,
                                        **geometry)
        if ctx.has_bias and need[2]:
            gb = channel_sum(grad)
        return gx, gw, gb


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d for (N, C, H, W) input (or unbatched (C, H, W)) and weight (O, C/groups, kh, kw)."""
    input, weight = as_tensor(input), as_tensor(weight)
    unbatched = input.ndim == 3
    if unbatched:
        input = input.unsqueeze(0)
    if input.ndim != 4 or weight.ndim != 4:
        raise RuntimeError(f"conv2d: expected 3D/4D input and 4D weight, got input {input.shape}, weight {weight.shape}")
    stride, dilation = pair(stride, "stride"), pair(dilation, "dilation")
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
        ph, pw = pair(padding, "padding")
        pad = (ph, ph, pw, pw)
    hp, wp = input.shape[2] + pad[0] + pad[1], input.shape[3] + pad[2] + pad[3]
    if hp < dilation[0] * (kh - 1) + 1 or wp < dilation[1] * (kw - 1) + 1:
        raise RuntimeError(f"conv2d: padded input size ({hp} x {wp}) is smaller than the dilated kernel size "
                           f"({dilation[0] * (kh - 1) + 1} x {dilation[1] * (kw - 1) + 1}); input {input.shape}, "
                           f"weight {weight.shape}")
    opts = dict(stride=stride, padding=pad, dilation=dilation, groups=groups)
    out = Conv2d.apply(input, weight, **opts) if bias is None else Conv2d.apply(input, weight, as_tensor(bias), **opts)
    return out.squeeze(0) if unbatched else out


class Conv2dInputGrad(Function):
    """The transposed convolution ∂x = crop(col2im(W_gᵀ G_g)): conv2d's gradient w.r.t. its input, for an
    input of ``input_size``; bilinear in g and W."""

    @staticmethod
    def forward(ctx, grad, weight, input_size=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                groups=1, g_last=None):
        g, w = grad.array, weight.array
        o, cg, kh, kw = w.shape
        n, _, oh, ow = g.shape
        (sh, sw), (dh, dw), (pt, pb, pl, pr) = stride, dilation, padding
        c, h, wd = input_size[1:]
        if g_last is None:
            g_last = _grad_last(g, groups)
        w_t = w.reshape(groups, o // groups, cg * kh * kw).transpose(0, 2, 1)
        gcol = np.matmul(w_t, g_last).reshape(groups * cg, kh, kw, oh, ow, n)
        gxp = _col2im(lambda i, j: gcol[:, i, j], (c, h + pt + pb, wd + pl + pr, n), g.dtype,
                      kh, kw, oh, ow, sh, sw, dh, dw, axis=1)
        ctx.save_for_backward(grad, weight)
        _keep_geometry(ctx, stride, padding, dilation, groups)
        return np.ascontiguousarray(gxp.transpose(3, 0, 1, 2)[:, :, pt:pt + h, pl:pl + wd])

    @staticmethod
    def backward(ctx, grad_gx):
        """∂g = conv2d(h, W), ∂W = conv2d_weight_grad(h, g)   (h the gradient of ∂x)"""
        g, weight = ctx.saved_tensors
        geometry = _geometry(ctx)
        gg = Conv2d.apply(grad_gx, weight, **geometry) if ctx.needs_input_grad[0] else None
        gw = (Conv2dWeightGrad.apply(grad_gx, g, kernel_size=weight.shape[2:], **geometry)
              if ctx.needs_input_grad[1] else None)
        return gg, gw


class Conv2dWeightGrad(Function):
    """∂W_g = G_g C_gᵀ: conv2d's gradient w.r.t. its weight (of ``kernel_size``), from the input x (or its
    im2col matrix ``col``, when the forward kept it) and the output gradient g; bilinear in x and g."""

    @staticmethod
    def forward(ctx, x, grad, kernel_size=(1, 1), stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                groups=1, col=None, g_last=None):
        g = grad.array
        if col is None:
            col, _, _ = _im2col(x.array, kernel_size, stride, padding, dilation, groups)
        if g_last is None:
            g_last = _grad_last(g, groups)
        gw = np.matmul(g_last, col.transpose(0, 2, 1)).reshape((g.shape[1], x.shape[1] // groups) + tuple(kernel_size))
        ctx.save_for_backward(x, grad)
        _keep_geometry(ctx, stride, padding, dilation, groups)
        return gw

    @staticmethod
    def backward(ctx, grad_gw):
        """∂x = conv2d_input_grad(g, H), ∂g = conv2d(x, H)   (H the gradient of ∂W)"""
        x, g = ctx.saved_tensors
        geometry = _geometry(ctx)
        gx = (Conv2dInputGrad.apply(g, grad_gw, input_size=x.shape, **geometry)
              if ctx.needs_input_grad[0] else None)
        gg = Conv2d.apply(x, grad_gw, **geometry) if ctx.needs_input_grad[1] else None
        return gx, gg


# ----------------------------------------------------------------------------- pools


class PoolWindow:
    """Where a 2-D pool's windows sit on an (N, C, H, W) input: kernel_size, stride, padding and dilation
    (pairs), the input size, the padded size (torch's ceil_mode may pad the far side further) and the
    output size (OH, OW)."""

    def __init__(self, input_size, kernel_size, stride, padding, dilation, ceil_mode) -> None:
        (kh, kw), (ph, pw), (dh, dw) = pair(kernel_size, "kernel_size"), pair(padding, "padding"), \
            pair(dilation, "dilation")
        sh, sw = pair(kernel_size if stride is None or stride == [] or stride == () else stride, "stride")
        if ph > kh // 2 or pw > kw // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={padding}, "
                               f"kernel_size={kernel_size}")
        n, c, h, w = input_size
        oh, ow = _pool_out(h, kh, sh, ph, dh, ceil_mode), _pool_out(w, kw, sw, pw, dw, ceil_mode)
        eh = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))      # ceil_mode's extra far padding
        ew = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
        self.kernel_size, self.stride, self.padding, self.dilation = (kh, kw), (sh, sw), (ph, pw), (dh, dw)
        self.input_size, self.out_size = tuple(input_size), (oh, ow)
        self.padded_size = (n, c, h + 2 * ph + eh, w + 2 * pw + ew)
        self._pads = ((0, 0), (0, 0), (ph, ph + eh), (pw, pw + ew))

    def windows(self, x, fill):
        """The (N, C, OH, OW, kh, kw) strided view of ``x`` padded with ``fill``."""
        xp = np.pad(x, self._pads, constant_values=fill) if self.padded_size != self.input_size else x
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel_size, self.stride, self.dilation, self.out_size
        return _windows(xp, kh, kw, sh, sw, dh, dw)[:, :, :oh, :ow]

    def scatter(self, piece, dtype):
        """Adjoint of :meth:`windows`: an input-sized array, zero but for ``piece(i, j)`` (output-sized) added
        where kernel offset (i, j) reads."""
        (kh, kw), (sh, sw), (dh, dw), (oh, ow) = self.kernel_size, self.stride, self.dilation, self.out_size
        gxp = _col2im(piece, self.padded_size, dtype, kh, kw, oh, ow, sh, sw, dh, dw)
        if self.padded_size == self.input_size:
            return gxp
        (ph, pw), (h, w) = self.padding, self.input_size[2:]
        return np.ascontiguousarray(gxp[:, :, ph:ph + h, pw:pw + w])

    def flat_indices(self, argmax):
        """torch's ``return_indices``: the flat (h·W + w) input index of each window's winning offset."""
        (kw, (sh, sw), (ph, pw), (dh, dw), (oh, ow)) = (self.kernel_size[1], self.stride, self.padding,
                                                        self.dilation, self.out_size)
        kh_i, kw_i = np.divmod(argmax.astype(np.int64), kw)
        ih = np.arange(oh)[:, None] * sh + kh_i * dh - ph
        iw = np.arange(ow)[None, :] * sw + kw_i * dw - pw
        return ih * self.input_size[3] + iw


def _pool_out(size, k, s, p, d, ceil_mode):
    """torch's pooling output size, incl. 'the last window must start inside the input or left padding'."""
    span = size + 2 * p - d * (k - 1) - 1
    if span < 0:
        raise RuntimeError(f"pool: kernel {k} (dilation {d}) is larger than padded input size {size + 2 * p}")
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _unbatch(input, fn):
    input = as_tensor(input)
    if input.ndim == 3:
        out = fn(input.unsqueeze(0))
        return tuple(o.squeeze(0) for o in out) if isinstance(out, tuple) else out.squeeze(0)
    if input.ndim != 4:
        raise RuntimeError(f"expected 3D or 4D input (got {input.ndim}D input)")
    return fn(input)


class MaxPool2d(Function):
    """y[n,c,p,q] = max_{i,j} xp[n,c,p·sh+i·dh,q·sw+j·dw] (xp padded with -inf), over a :class:`PoolWindow`.

    Walks the kh·kw kernel offsets, each a whole-array op on a strided view, keeping a running maximum and
    the offset that first reached it (or, as in torch, the last NaN): the argmax that backward scatters by.
    With ``return_indices`` a second, non-differentiable output holds torch's flat input indices.
    """

    @staticmethod
    def forward(ctx, x, window=None, return_indices=False):
        a = x.array
        col = window.windows(a, -np.inf)
        kh, kw = window.kernel_size
        y = col[..., 0, 0].copy()
        track = ctx.needs_input_grad[0] or return_indices                # the argmax only feeds these
        arg = np.zeros(y.shape, np.min_scalar_type(kh * kw - 1)) if track else None   # offset i·kw + j
        has_nan = track and a.dtype.kind == "f" and bool(np.isnan(a).any())
        for k in range(1, kh * kw):
            cand = col[..., k // kw, k % kw]
            if track:
                better = cand > y
                if has_nan:
                    better |= np.isnan(cand)                             # a later NaN wins, as in torch
                arg += better * arg.dtype.type(k) - better * arg         # arg = k where better (branch-free)
            np.maximum(y, cand, out=y)                                   # NaN propagates
        ctx.save_for_backward(x)
        ctx.window, ctx.argmax = window, arg
        if not return_indices:
            return y
        indices = window.flat_indices(arg)
        ctx.mark_non_differentiable(indices)
        return y, indices

    @staticmethod
    def backward(ctx, grad, grad_indices=None):
        """∂x = g scattered to each window's argmax (max_pool2d_scatter; its own derivative is the gather)"""
        (x,) = ctx.saved_tensors
        return MaxPoolScatter.apply(grad, x, window=ctx.window, argmax=ctx.argmax)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool2d (padding is -inf; ties go to the first maximum, as torch)."""
    def run(x):
        window = PoolWindow(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
        return MaxPool2d.apply(x, window=window, return_indices=bool(return_indices))
    return _unbatch(input, run)


class MaxPoolScatter(Function):
    """Max-pool's backward: ∂x[argmax of window (p, q)] += g[p, q]. Linear in g; the pooled input x (an input
    here, or None) enters only through the piecewise constant argmax, so its derivative is zero."""

    @staticmethod
    def forward(ctx, grad, x=None, window=None, argmax=None):
        g = grad.array
        kw = window.kernel_size[1]
        ctx.window, ctx.argmax = window, argmax
        return window.scatter(lambda i, j: g * (argmax == i * kw + j), g.dtype)

    @staticmethod
    def backward(ctx, grad_gx):
        """∂g = h gathered at each window's argmax (max_pool2d_gather), ∂x = 0 (the selection is piecewise constant)"""
        gg = MaxPoolGather.apply(grad_gx, window=ctx.window, argmax=ctx.argmax) if ctx.needs_input_grad[0] else None
        gx = Tensor._wrap(np.zeros(ctx.window.input_size, grad_gx.dtype)) if ctx.needs_input_grad[1] else None
        return gg, gx


class MaxPoolGather(Function):
    """y[p, q] = h[argmax of window (p, q)]: the adjoint of :class:`MaxPoolScatter`."""

    @staticmethod
    def forward(ctx, h, window=None, argmax=None):
        col = window.windows(h.array, 0)
        kw = window.kernel_size[1]
        out = np.zeros(argmax.shape, h.dtype)
        for k in range(window.kernel_size[0] * kw):
            np.copyto(out, col[..., k // kw, k % kw], where=argmax == k)
        ctx.window, ctx.argmax = window, argmax
        return out

    @staticmethod
    def backward(ctx, grad):
        """∂h = g scattered to each window's argmax (max_pool2d_scatter)"""
        return MaxPoolScatter.apply(grad, None, window=ctx.window, argmax=ctx.argmax)


def _avg_divisor(size, k, s, p, out, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    full = end - start
    valid = np.minimum(end, size) - np.maximum(start, 0)
    return full if count_include_pad else valid


class AvgPool2d(Function):
    """y[n,c,p,q] = Σ_{i,j} xp[n,c,p·sh+i,q·sw+j] / D[p,q] over a :class:`PoolWindow` (xp zero-padded), with
    torch's divisor D."""

    @staticmethod
    def forward(ctx, x, window=None, divisor=None):
        ctx.save_for_backward(x)
        ctx.window, ctx.divisor = window, divisor
        return window.windows(x.array, 0).sum(axis=(4, 5)) / divisor

    @staticmethod
    def backward(ctx, grad):
        """∂x = col2im(g / D) (avg_pool2d_transpose; its own derivative is avg-pool again)"""
        (x,) = ctx.saved_tensors
        return AvgPoolTranspose.apply(grad, x, window=ctx.window, divisor=ctx.divisor)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d, with torch's divisor rules under ceil_mode and padding."""
    def run(x):
        window = PoolWindow(x.shape, kernel_size, stride, padding, 1, ceil_mode)
        (kh, kw), (sh, sw), (ph, pw), (oh, ow) = window.kernel_size, window.stride, window.padding, window.out_size
        if divisor_override:
            divisor = np.full((oh, ow), divisor_override)
        else:
            divisor = np.outer(_avg_divisor(x.shape[2], kh, sh, ph, oh, count_include_pad),
                               _avg_divisor(x.shape[3], kw, sw, pw, ow, count_include_pad))
        return AvgPool2d.apply(x, window=window, divisor=divisor.astype(x.dtype))
    return _unbatch(input, run)


class AvgPoolTranspose(Function):
    """Avg-pool's backward, the adjoint of :class:`AvgPool2d`: x[.., p·sh+i, q·sw+j] += g[p, q] / D[p, q].
    Linear in g; the pooled input x (an input here, or None) does not enter, so its derivative is zero."""

    @staticmethod
    def forward(ctx, grad, x=None, window=None, divisor=None):
        g = grad.array / divisor
        ctx.window, ctx.divisor = window, divisor
        return window.scatter(lambda i, j: g, g.dtype)

    @staticmethod
    def backward(ctx, grad_gx):
        """∂g = Σ_{i,j} hp[.., p·sh+i, q·sw+j] / D[p, q] (avg-pool of h over the same windows), ∂x = 0"""
        gg = AvgPool2d.apply(grad_gx, window=ctx.window, divisor=ctx.divisor) if ctx.needs_input_grad[0] else None
        gx = Tensor._wrap(np.zeros(ctx.window.input_size, grad_gx.dtype)) if ctx.needs_input_grad[1] else None
        return gg, gx


def _bins(size, out):
    i = np.arange(out)
    return (i * size) // out, -(-((i + 1) * size) // out)


class AdaptiveAvgPool2d(Function):
    """y[n,c,p,q] = mean of x over rows [⌊p·H/OH⌋, ⌈(p+1)·H/OH⌉) and cols likewise.

    Computed as A_h · x · A_wᵀ with the (OH, H) and (OW, W) bin-averaging matrices (two GEMMs).
    """

    @staticmethod
    def forward(ctx, x, output_size=(1, 1)):
        rows, cols = _bin_matrices(x.shape[2:], output_size, x.dtype)
        ctx.save_for_backward(x)
        ctx.rows, ctx.cols = rows, cols
        return np.matmul(np.matmul(rows, x.array), cols.T)

    @staticmethod
    def backward(ctx, grad):
        """∂x = A_hᵀ · g · A_w (adaptive_avg_pool2d_transpose; its own derivative is the pool again)"""
        (x,) = ctx.saved_tensors
        return AdaptiveAvgPoolTranspose.apply(grad, x, rows=ctx.rows, cols=ctx.cols)


def adaptive_avg_pool2d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool2d; output_size an int or a pair (None keeps that input size)."""
    def run(x):
        os_ = output_size if isinstance(output_size, (tuple, list)) else (output_size, output_size)
        os_ = tuple(x.shape[2 + i] if v is None else int(v) for i, v in enumerate(os_))
        return AdaptiveAvgPool2d.apply(x, output_size=os_)
    return _unbatch(input, run)


class AdaptiveAvgPoolTranspose(Function):
    """Adaptive avg-pool's backward A_hᵀ · g · A_w; linear in g, the pooled input x (or None) does not enter."""

    @staticmethod
    def forward(ctx, grad, x=None, rows=None, cols=None):
        ctx.rows, ctx.cols, ctx.input_size = rows, cols, grad.shape[:2] + (rows.shape[1], cols.shape[1])
        return np.matmul(np.matmul(rows.T, grad.array), cols)

    @staticmethod
    def backward(ctx, grad_gx):
        """∂g = A_h · h · A_wᵀ (the adaptive pool of h), ∂x = 0"""
        gg = AdaptiveAvgPool2d.apply(grad_gx, output_size=(ctx.rows.shape[0], ctx.cols.shape[0])) \
            if ctx.needs_input_grad[0] else None
        gx = Tensor._wrap(np.zeros(ctx.input_size, grad_gx.dtype)) if ctx.needs_input_grad[1] else None
        return gg, gx


def _bin_matrices(size, output_size, dtype):
    """The (OH, H) and (OW, W) matrices averaging each adaptive bin."""
    mats = []
    for n, out in zip(size, output_size):
        s, e = _bins(n, out)
        j = np.arange(n)
        m = ((j >= s[:, None]) & (j < e[:, None])).astype(dtype)
        mats.append(m / (e - s)[:, None].astype(dtype))
    return mats
