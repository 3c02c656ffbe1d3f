"""Convolution (1-3 spatial dims) and 2-D pooling, each a :class:`Function` whose backward is made of Functions.

A convolution lays an (N, C, *S) input out with the channels first, as one of two layouts chosen by the width
K = Cg·Πk of its im2col matrix (:func:`_batch_last`): (C, *S, N), the batch innermost, so that the im2col copy and
every per-kernel-offset strided add of col2im run over long contiguous rows of O_last·N numbers; or, for thin
K (one input channel, say), (C, N, *S), where going to and from (N, C, *S) moves whole images of ΠS numbers
instead of single numbers -- with K that thin the GEMM is cheap and those moves were most of the time.
Forward is one GEMM per group over the whole batch, Y (Og, M) = W (Og, K) · col (K, M), M = ΠO·N. No loop
ever runs over samples or pixels, only over the Πk kernel offsets. conv1d, conv2d and conv3d are the same
three Functions.

The derivatives close on three linear Functions, so every one is differentiable again (and again):
``ConvNd`` (y = conv(x, W)), ``ConvNdInputGrad`` (∂x = col2im(Wᵀ G), the transposed convolution, which is
also conv_transpose's forward) and ``ConvNdWeightGrad`` (∂W = G colᵀ); the backward of each is made of the
other two. Likewise max-pool's backward is a scatter by the saved argmax whose backward is the gather, and
avg-pool's backward is its transpose whose backward is avg-pool again.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..autograd.function import Function, named
from ..tensor import Tensor
from ._util import as_tensor
from .normalization import channel_sum


def ntuple(v, n: int, name: str = "value") -> tuple:
    """``(v,)·n`` for an int, ``tuple(v)`` for a sequence of n (torch's ``_single``/``_pair``/``_triple``), as ints."""
    if isinstance(v, (tuple, list)):
        if len(v) != n:
            raise ValueError(f"{name} must be an int or a tuple of {n} ints, got {v!r}")
        return tuple(int(a) for a in v)
    return (int(v),) * n


def pair(v, name: str = "value") -> tuple[int, int]:
    """``(v, v)`` for an int, ``(v[0], v[1])`` for a pair (torch's ``_pair``), as ints."""
    return ntuple(v, 2, name)


def _windows(xp, kernel, stride, dilation, axis=2):
    """Strided view with the d = len(kernel) spatial axes from ``axis`` on replaced by the output sizes and
    the kernel axes appended: windows[.., p, q, .., i, j] = xp[.., p·sh+i·dh, q·sw+j·dw, ..] (2-D NCHW by
    default: (N, C, OH, OW, kh, kw))."""
    d = len(kernel)
    v = sliding_window_view(xp, tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation)),
                            axis=tuple(range(axis, axis + d)))
    index = [slice(None)] * v.ndim
    for t in range(d):
        index[axis + t], index[v.ndim - d + t] = slice(None, None, stride[t]), slice(None, None, dilation[t])
    return v[tuple(index)]


def _offset(a, offset, out, stride, dilation, axis=2):
    """The strided view of ``a`` that kernel offset (i, j, ..) reads, a[.., p·sh+i·dh, q·sw+j·dw, ..] for
    p < oh, q < ow, .., with the spatial axes from ``axis`` on."""
    index = [slice(None)] * a.ndim
    for t, (i, o, s, dl) in enumerate(zip(offset, out, stride, dilation)):
        index[axis + t] = slice(i * dl, i * dl + s * (o - 1) + 1, s)
    return a[tuple(index)]


def _col2im(piece, shape, dtype, kernel, out, stride, dilation, axis=2):
    """Adjoint of :func:`_windows`: an array of ``shape``, zero but for ``piece(i, j, ..)`` (shaped like the
    output) added at the positions kernel offset (i, j, ..) reads -- one strided add per offset."""
    acc = np.zeros(shape, dtype=dtype)
    for offset in itertools.product(*map(range, kernel)):
        _offset(acc, offset, out, stride, dilation, axis)[...] += piece(*offset)
    return acc


THIN_K = 64     # im2col width below which the (C, N, *S) layout is faster (measured on conv_bn_net and bnn_conv)


def _batch_last(cg, kernel) -> bool:
    """Whether a convolution with Cg input channels per group and ``kernel`` uses the batch-innermost layout."""
    return cg * math.prod(kernel) > THIN_K


def _to_layout(a, batch_last):
    """(N, C, *S) as the (C, *S, N) view (batch last) or the (C, N, *S) view."""
    return a.transpose(tuple(range(1, a.ndim)) + (0,)) if batch_last else a.swapaxes(0, 1)


def _from_layout(a, batch_last):
    """(C, *S, N) or (C, N, *S) back as the (N, C, *S) view."""
    return a.transpose((a.ndim - 1,) + tuple(range(a.ndim - 1))) if batch_last else a.swapaxes(0, 1)


def _cols(n, out, batch_last):
    """The column axes of an im2col matrix: (*O, N) or (N, *O)."""
    return tuple(out) + (n,) if batch_last else (n,) + tuple(out)


def _im2col(x, kernel, stride, padding, dilation, groups, out_size=None):
    """The im2col matrix of (N, C, *S) ``x``, (groups, Cg·Πk, ΠO·N) with rows (c, *k) and columns (*o, n) or
    (n, *o) (see :func:`_batch_last`), and the output sizes O (the first ``out_size`` windows per dim when
    given). ``padding`` is ((lo, hi), ...) per dim."""
    d, (n, c) = len(kernel), x.shape[:2]
    batch_last = _batch_last(c // groups, kernel)
    first = 1 if batch_last else 2                                       # the first spatial axis
    x_l = _to_layout(x, batch_last)                                      # (C, *S, N) or (C, N, *S)
    pads = [(0, 0)] * x.ndim
    pads[first:first + d] = padding
    xp = np.pad(x_l, pads) if any(map(any, padding)) else (np.ascontiguousarray(x_l) if batch_last else x_l)
    win = _windows(xp, kernel, stride, dilation, axis=first)             # (C, *O, N, *k) or (C, N, *O, *k) view
    if out_size is not None:
        win = win[(slice(None),) * first + tuple(slice(o) for o in out_size)]
    out = win.shape[first:first + d]
    perm = (0,) + tuple(range(d + 2, 2 * d + 2)) + tuple(range(1, d + 2))   # (C, *k, *O, N) or (C, *k, N, *O)
    col = np.ascontiguousarray(win.transpose(perm)).reshape(groups, c // groups * math.prod(kernel),
                                                            math.prod(out) * n)
    return col, out


def _grad_last(g, groups, batch_last):
    """An output gradient (N, O, *S) re-laid as (groups, Og, ΠS·N) in the im2col matrix's column order, the
    GEMM operand of both gradients."""
    return np.ascontiguousarray(_to_layout(g, batch_last)).reshape(groups, g.shape[1] // groups, -1)


def _geometry(ctx):
    return dict(stride=ctx.stride, padding=ctx.padding, dilation=ctx.dilation, groups=ctx.groups)


def _keep_geometry(ctx, stride, padding, dilation, groups):
    ctx.stride, ctx.padding, ctx.dilation, ctx.groups = stride, padding, dilation, groups


class ConvNd(Function):
    """y[n,o,p,..] = b[o] + Σ_{c,i,..} W[o,c,i,..] · xp[n, g·Cg+c, p·s+i·d, ..] (o in group g), 1-3 spatial dims.

    As GEMMs per group g: Y_g (Og, M) = W_g (Og, K) · C_g (K, M) with C the im2col matrix, K = Cg·Πk and
    M = N·ΠO. ``padding`` is ((lo, hi), ...) per spatial dim; ``out_size`` keeps only
    the first windows (the adjoint of a transposed convolution whose output_padding made its output longer).
    """

    grad_fn_name = "ConvolutionBackward0"

    @staticmethod
    def forward(ctx, x, weight, bias=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1), groups=1,
                out_size=None, col=None):
        w = weight.array
        o, kernel, n = w.shape[0], w.shape[2:], x.shape[0]
        if col is None:
            col, out = _im2col(x.array, kernel, stride, padding, dilation, groups, out_size)
        else:                                                       # x's im2col matrix, made by a caller
            out = tuple(out_size)
        y = np.matmul(w.reshape(groups, o // groups, col.shape[1]), col)           # (G, Og, ΠO·N)
        batch_last = _batch_last(w.shape[1], kernel)
        y = np.ascontiguousarray(_from_layout(y.reshape((o,) + _cols(n, out, batch_last)), batch_last))
        if bias is not None:
            y += bias.array.reshape((1, o) + (1,) * len(out))
        ctx.save_for_backward(x, weight)
        ctx.col = col if ctx.needs_input_grad[1] else None           # kept for ∂W = G colᵀ
        ctx.has_bias = bias is not None
        _keep_geometry(ctx, stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, grad):
        """∂x = conv_input_grad(g, W) = crop(col2im(W_gᵀ G_g)), ∂W = conv_weight_grad(x, g) = G_g C_gᵀ,
        ∂b = Σ_{n,p,..} g"""
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        geometry = _geometry(ctx)
        g_last = (_grad_last(grad.array, ctx.groups, _batch_last(weight.shape[1], weight.shape[2:]))
                  if need[0] or need[1] else None)                             # shared by ∂x and ∂W
        gx = gw = gb = None
        if need[0]:
            gx = ConvNdInputGrad.apply(grad, weight, input_size=x.shape, g_last=g_last, **geometry)
        if need[1]:
            gw = ConvNdWeightGrad.apply(x, grad, kernel_size=weight.shape[2:], col=ctx.col, g_last=g_last,
                                        **geometry)
        if ctx.has_bias and need[2]:
            gb = channel_sum(grad)
        return gx, gw, gb


def _conv(name, d, input, weight, bias, stride, padding, dilation, groups):
    """conv1d/2d/3d: torch's checks, unbatched input, 'same'/'valid' padding, then :class:`ConvNd`."""
    input, weight = as_tensor(input), as_tensor(weight)
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {name}, but got input "
                           f"of size: {list(input.shape)}")
    if weight.ndim != d + 2:
        raise RuntimeError(f"{name}: expected a {d + 2}D weight (out_channels, in_channels/groups, *kernel), "
                           f"got weight of shape {weight.shape}")
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    stride, dilation = ntuple(stride, d, "stride"), ntuple(dilation, d, "dilation")
    o, cg, kernel = weight.shape[0], weight.shape[1], weight.shape[2:]
    if groups < 1 or input.shape[1] % groups or o % groups:
        raise RuntimeError(f"{name}: groups={groups} must divide input channels {input.shape[1]} and "
                           f"out channels {o}")
    if cg * groups != input.shape[1]:
        raise RuntimeError(f"{name}: weight of shape {weight.shape} with groups={groups} expects input with "
                           f"{cg * groups} channels, but got input of shape {input.shape}")
    if isinstance(padding, str):
        if padding == "valid":
            pad = ((0, 0),) * d
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            total = [dl * (k - 1) for k, dl in zip(kernel, dilation)]
            pad = tuple((t // 2, t - t // 2) for t in total)
        else:
            raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    else:
        pad = tuple((p, p) for p in ntuple(padding, d, "padding"))
    padded = [s + lo + hi for s, (lo, hi) in zip(input.shape[2:], pad)]
    spans = [dl * (k - 1) + 1 for k, dl in zip(kernel, dilation)]
    if any(p < k for p, k in zip(padded, spans)):
        raise RuntimeError(f"{name}: padded input size ({' x '.join(map(str, padded))}) is smaller than the "
                           f"dilated kernel size ({' x '.join(map(str, spans))}); input {input.shape}, "
                           f"weight {weight.shape}")
    opts = dict(stride=stride, padding=pad, dilation=dilation, groups=groups)
    out = ConvNd.apply(input, weight, **opts) if bias is None else ConvNd.apply(input, weight, as_tensor(bias), **opts)
    return out.squeeze(0) if unbatched else out


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv1d for (N, C, L) input (or unbatched (C, L)) and weight (O, C/groups, k)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d for (N, C, H, W) input (or unbatched (C, H, W)) and weight (O, C/groups, kh, kw)."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv3d for (N, C, D, H, W) input (or unbatched (C, D, H, W)) and weight
    (O, C/groups, kd, kh, kw)."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


class ConvNdInputGrad(Function):
    """The transposed convolution ∂x = crop(col2im(W_gᵀ G_g)): a convolution's gradient w.r.t. its input, for
    an input of ``input_size``; bilinear in g and W. It is also conv_transpose's forward."""

    @staticmethod
    def forward(ctx, grad, weight, input_size=None, stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                groups=1, g_last=None):
        g, w = grad.array, weight.array
        o, cg, kernel = w.shape[0], w.shape[1], w.shape[2:]
        n, out = g.shape[0], g.shape[2:]
        c, sizes = input_size[1], tuple(input_size[2:])
        batch_last = _batch_last(cg, kernel)
        if g_last is None:
            g_last = _grad_last(g, groups, batch_last)
        w_t = w.reshape(groups, o // groups, cg * math.prod(kernel)).transpose(0, 2, 1)
        gcol = np.matmul(w_t, g_last).reshape((groups * cg,) + kernel + _cols(n, out, batch_last))
        padded = (c,) + _cols(n, tuple(s + lo + hi for s, (lo, hi) in zip(sizes, padding)), batch_last)
        first = 1 if batch_last else 2
        gxp = _col2im(lambda *k: gcol[(slice(None),) + k], padded, g.dtype, kernel, out, stride, dilation, axis=first)
        ctx.save_for_backward(grad, weight)
        ctx.g_last = g_last                                          # for ∂W in backward
        _keep_geometry(ctx, stride, padding, dilation, groups)
        crop = (slice(None),) * first + tuple(slice(lo, lo + s) for s, (lo, _) in zip(sizes, padding))
        return np.ascontiguousarray(_from_layout(gxp[crop], batch_last))

    @staticmethod
    def backward(ctx, grad_gx):
        """∂g = conv(h, W), ∂W = conv_weight_grad(h, g)   (h the gradient of ∂x)"""
        g, weight = ctx.saved_tensors
        geometry = _geometry(ctx)
        gg = (ConvNd.apply(grad_gx, weight, out_size=g.shape[2:], **geometry)
              if ctx.needs_input_grad[0] else None)
        gw = (ConvNdWeightGrad.apply(grad_gx, g, kernel_size=weight.shape[2:], g_last=ctx.g_last, **geometry)
              if ctx.needs_input_grad[1] else None)
        return gg, gw


def _conv_transpose(name, d, input, weight, bias, stride, padding, output_padding, groups, dilation):
    """conv_transpose1d/2d/3d: the input gradient of the convolution with the same weight and geometry
    (:class:`ConvNdInputGrad`), its output grown by ``output_padding`` on the far side."""
    input, weight = as_tensor(input), as_tensor(weight)
    if input.ndim not in (d + 1, d + 2):
        raise RuntimeError(f"Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to {name}, but got input "
                           f"of size: {list(input.shape)}")
    if weight.ndim != d + 2:
        raise RuntimeError(f"{name}: expected a {d + 2}D weight (in_channels, out_channels/groups, *kernel), "
                           f"got weight of shape {weight.shape}")
    if isinstance(padding, str):
        raise TypeError(f"{name}(): argument 'padding' must be a tuple of ints, not str")
    unbatched = input.ndim == d + 1
    if unbatched:
        input = input.unsqueeze(0)
    stride, padding = ntuple(stride, d, "stride"), ntuple(padding, d, "padding")
    output_padding, dilation = ntuple(output_padding, d, "output_padding"), ntuple(dilation, d, "dilation")
    c_in, kernel = weight.shape[0], weight.shape[2:]
    if groups < 1 or c_in % groups:
        raise RuntimeError(f"{name}: groups={groups} must divide the weight's in_channels {c_in}")
    if input.shape[1] != c_in:
        raise RuntimeError(f"{name}: weight of shape {weight.shape} expects input with {c_in} channels, but got "
                           f"input of shape {input.shape}")
    if any(op >= s and op >= dl for op, s, dl in zip(output_padding, stride, dilation)):
        raise RuntimeError(f"{name}: output padding must be smaller than either stride or dilation, but got "
                           f"output_padding={output_padding}, stride={stride}, dilation={dilation}")
    out = tuple((i - 1) * s - 2 * p + dl * (k - 1) + op + 1 for i, s, p, dl, k, op in
                zip(input.shape[2:], stride, padding, dilation, kernel, output_padding))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{name}: given input size per channel {tuple(input.shape[2:])}, the calculated output "
                           f"size per channel {out} is too small")
    y = ConvNdInputGrad.apply(input, weight, input_size=(input.shape[0], weight.shape[1] * groups) + out,
                              stride=stride, padding=tuple((p, p) for p in padding), dilation=dilation,
                              groups=groups)
    if bias is not None:
        y = y + as_tensor(bias).reshape((1, -1) + (1,) * d)
    y = named(y, "ConvolutionBackward0")                # torch's one convolution node, bias included
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose1d, weight (C_in, C_out/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose2d, weight (C_in, C_out/groups, kh, kw): the gradient of conv2d
    w.r.t. its input, H_out = (H − 1)·s − 2p + d·(k − 1) + output_padding + 1."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """torch.nn.functional.conv_transpose3d, weight (C_in, C_out/groups, kd, kh, kw)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


class ConvNdWeightGrad(Function):
    """∂W_g = G_g C_gᵀ: a convolution's gradient w.r.t. its weight (of ``kernel_size``), from the input x (or
    its im2col matrix ``col``, when the forward kept it) and the output gradient g; bilinear in x and g."""

    @staticmethod
    def forward(ctx, x, grad, kernel_size=(1, 1), stride=(1, 1), padding=((0, 0), (0, 0)), dilation=(1, 1),
                groups=1, col=None, g_last=None):
        g = grad.array
        if col is None:
            col, _ = _im2col(x.array, tuple(kernel_size), stride, padding, dilation, groups, g.shape[2:])
        if g_last is None:
            g_last = _grad_last(g, groups, _batch_last(x.shape[1] // groups, tuple(kernel_size)))
        # G_g C_gᵀ computed as (C_g G_gᵀ)ᵀ: OpenBLAS is up to 1.7× faster with the long K side first
        gw = np.matmul(col, g_last.transpose(0, 2, 1)).transpose(0, 2, 1)
        gw = gw.reshape((g.shape[1], x.shape[1] // groups) + tuple(kernel_size))
        ctx.save_for_backward(x, grad)
        ctx.col, ctx.g_last = col, g_last                            # reused by backward's two Functions
        _keep_geometry(ctx, stride, padding, dilation, groups)
        return gw

    @staticmethod
    def backward(ctx, grad_gw):
        """∂x = conv_input_grad(g, H), ∂g = conv(x, H)   (H the gradient of ∂W)"""
        x, g = ctx.saved_tensors
        geometry = _geometry(ctx)
        gx = (ConvNdInputGrad.apply(g, grad_gw, input_size=x.shape, g_last=ctx.g_last, **geometry)
              if ctx.needs_input_grad[0] else None)
        gg = (ConvNd.apply(x, grad_gw, out_size=g.shape[2:], col=ctx.col, **geometry)
              if ctx.needs_input_grad[1] else None)
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
        (oh, ow) = self.out_size
        return _windows(xp, self.kernel_size, self.stride, self.dilation)[:, :, :oh, :ow]

    def scatter(self, piece, dtype):
        """Adjoint of :meth:`windows`: an input-sized array, zero but for ``piece(i, j)`` (output-sized) added
        where kernel offset (i, j) reads."""
        gxp = _col2im(piece, self.padded_size, dtype, self.kernel_size, self.out_size, self.stride, self.dilation)
        if self.padded_size == self.input_size:
            return gxp
        (ph, pw), (h, w) = self.padding, self.input_size[2:]
        return np.ascontiguousarray(gxp[:, :, ph:ph + h, pw:pw + w])

    def tiles(self) -> bool:
        """Whether the windows tile the input exactly: stride = kernel, no padding or dilation, and the
        windows cover every row and column (then the input is the (N, C, OH, kh, OW, kw) array of windows)."""
        (kh, kw), (oh, ow) = self.kernel_size, self.out_size
        return (self.stride == self.kernel_size and self.padding == (0, 0) and self.dilation == (1, 1)
                and self.input_size[2:] == (oh * kh, ow * kw))

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

    grad_fn_name = "MaxPool2DWithIndicesBackward0"

    @staticmethod
    def forward(ctx, x, window=None, return_indices=False):
        a = x.array
        col = window.windows(a, -np.inf)
        kh, kw = window.kernel_size
        y = col[..., 0, 0].copy()
        track = ctx.needs_input_grad[0] or return_indices                # the argmax only feeds these
        arg = np.zeros(y.shape, np.min_scalar_type(kh * kw - 1)) if track else None   # offset i·kw + j
        for k in range(1, kh * kw):
            cand = col[..., k // kw, k % kw]
            if track:
                better = cand > y                                        # strictly: ties keep the first
                arg += better * arg.dtype.type(k) - better * arg         # arg = k where better (branch-free)
            np.maximum(y, cand, out=y)                                   # NaN propagates
        if track and a.dtype.kind == "f":
            _nan_argmax(col, y, arg, kw)
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


def _nan_argmax(col, y, arg, kw):
    """torch's rule for a window holding NaN: its last NaN is the argmax (``val > max || isnan(val)``). Only
    such windows have y = NaN, so the comparisons above, false for NaN, need fixing only there."""
    nan = np.isnan(y)
    if not nan.any():
        return
    arg[nan] = 0
    for k in range(1, col.shape[-2] * kw):
        np.copyto(arg, k, where=np.isnan(col[..., k // kw, k % kw]))


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
        (kh, kw), (oh, ow) = window.kernel_size, window.out_size
        ctx.window, ctx.argmax = window, argmax
        if window.tiles():              # each input element in one window: write each offset's share once
            gx = np.empty(g.shape[:2] + (oh, kh, ow, kw), g.dtype)
            for k in range(kh * kw):
                np.multiply(g, argmax == k, out=gx[:, :, :, k // kw, :, k % kw])
            return gx.reshape(window.input_size)
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
        out = col[..., 0, 0].copy()
        for k in range(1, window.kernel_size[0] * kw):             # np.where: ~2× faster than a masked copyto
            out = np.where(argmax == k, col[..., k // kw, k % kw], out)
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

    grad_fn_name = "AvgPool2DBackward0"

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

    grad_fn_name = "AdaptiveAvgPool2DBackward0"

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
        y = AdaptiveAvgPool2d.apply(x, output_size=os_)
        return named(y, "MeanBackward1") if os_ == (1, 1) else y     # torch takes the mean for a 1x1 output
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


# ----------------------------------------------------------------------------- 1-D pools: the 2-D ones on (.., 1, L)


def _pool1d(name, input, fn):
    input = as_tensor(input)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{name}: expected 2D or 3D input (got {input.ndim}D input)")
    out = fn(input.unsqueeze(-2))
    return tuple(o.squeeze(-2) for o in out) if isinstance(out, tuple) else out.squeeze(-2)


def _one(v, name):
    return None if v is None or v == [] or v == () else ntuple(v, 1, name)[0]


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """torch.nn.functional.max_pool1d over (N, C, L) or (C, L): max_pool2d of the (.., 1, L) view."""
    k, s = _one(kernel_size, "kernel_size"), _one(stride, "stride")
    return _pool1d("max_pool1d", input, lambda x: max_pool2d(
        x, (1, k), None if s is None else (1, s), (0, _one(padding, "padding")), (1, _one(dilation, "dilation")),
        ceil_mode, return_indices))


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """torch.nn.functional.avg_pool1d over (N, C, L) or (C, L): avg_pool2d of the (.., 1, L) view."""
    k, s = _one(kernel_size, "kernel_size"), _one(stride, "stride")
    return _pool1d("avg_pool1d", input, lambda x: avg_pool2d(
        x, (1, k), None if s is None else (1, s), (0, _one(padding, "padding")), ceil_mode, count_include_pad))


def adaptive_avg_pool1d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool1d over (N, C, L) or (C, L)."""
    return _pool1d("adaptive_avg_pool1d", input, lambda x: adaptive_avg_pool2d(x, (1, _one(output_size, "output_size"))))
