"""``Conv1d``, ``Conv2d``, ``Conv3d`` and ``ConvTranspose1d/2d/3d`` (torch.nn's), one ``_ConvNd`` base."""
from __future__ import annotations

import math

import numpy as np

from ..factories import get_default_dtype
from ..ops.conv import (conv1d, conv2d, conv3d, conv_transpose1d, conv_transpose2d, conv_transpose3d,
                        ntuple)
from . import init
from .module import Module
from .parameter import Parameter


class _ConvNd(Module):
    """A convolution over ``len(kernel_size)`` spatial dims. Weight (out_channels, in_channels/groups, *k), or
    (in_channels, out_channels/groups, *k) when ``transposed``; bias (out_channels,).

    Init as torch: W ~ kaiming_uniform_(a=√5) = U(±1/√fan_in), b ~ U(±1/√fan_in), fan_in = W.shape[1]·Πk.
    Only padding_mode='zeros' is implemented.
    """

    _dims = 2

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed,
                 output_padding, groups, bias, padding_mode, device=None, dtype=None) -> None:
        super().__init__()
        d = self._dims
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups:
            raise ValueError("out_channels must be divisible by groups")
        if padding_mode not in ("zeros", "reflect", "replicate", "circular"):
            raise ValueError(f"padding_mode must be one of 'zeros', 'reflect', 'replicate' or 'circular', "
                             f"got {padding_mode!r}")
        self.kernel_size, self.stride = ntuple(kernel_size, d, "kernel_size"), ntuple(stride, d, "stride")
        self.dilation = ntuple(dilation, d, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = ntuple(padding, d, "padding")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{type(self).__name__}: padding_mode={padding_mode!r} is not implemented; "
                                      "only 'zeros' is")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.transposed, self.output_padding = transposed, ntuple(output_padding, d, "output_padding")
        self.padding_mode = padding_mode
        dtype = np.dtype(dtype) if dtype is not None else get_default_dtype()
        shape = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(np.empty(shape + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def extra_repr(self) -> str:
        d = self._dims
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _conv = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1,
                 bias=True, padding_mode="zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups,
                         bias, padding_mode, device, dtype)

    def _conv_forward(self, input, weight, bias):
        return type(self)._conv(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input):
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C, L) or unbatched (C, L) input; weight (out, in/groups, k)."""
    _dims, _conv = 1, staticmethod(conv1d)


class Conv2d(_Conv):
    """2-D convolution over (N, C, H, W) or unbatched (C, H, W) input; weight (out, in/groups, kh, kw)."""
    _dims, _conv = 2, staticmethod(conv2d)


class Conv3d(_Conv):
    """3-D convolution over (N, C, D, H, W) or unbatched (C, D, H, W) input; weight (out, in/groups, kd, kh, kw)."""
    _dims, _conv = 3, staticmethod(conv3d)


class _ConvTransposeNd(_ConvNd):
    """The transposed convolution: the gradient of the convolution with this weight w.r.t. its input.
    forward(input, output_size=None): ``output_size`` (the last dims count) picks output_padding, as torch."""
    _conv = None

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        if isinstance(padding, str):
            raise TypeError(f"{type(self).__name__}: padding must be an int or a tuple of ints, not {padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, True, output_padding,
                         groups, bias, padding_mode, device, dtype)

    def _output_padding(self, input, output_size):
        if output_size is None:
            return self.output_padding
        d = self._dims
        output_size = tuple(int(v) for v in output_size)[-d:]
        if len(output_size) != d:
            raise ValueError(f"ConvTranspose{d}D: for {input.ndim}D input, output_size must have {d} or "
                             f"{d + 2} elements (got {len(output_size)})")
        sizes = input.shape[-d:]
        lo = [(i - 1) * s - 2 * p + dl * (k - 1) + 1 for i, s, p, dl, k in
              zip(sizes, self.stride, self.padding, self.dilation, self.kernel_size)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= o <= b for o, a, b in zip(output_size, lo, hi)):
            raise ValueError(f"requested an output size of {list(output_size)}, but valid sizes range from {lo} "
                             f"to {hi} (for an input of {list(sizes)})")
        return tuple(o - a for o, a in zip(output_size, lo))

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return type(self)._conv(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                self.groups, self.dilation)


class ConvTranspose1d(_ConvTransposeNd):
    """Transposed 1-D convolution; weight (in, out/groups, k)."""
    _dims, _conv = 1, staticmethod(conv_transpose1d)


class ConvTranspose2d(_ConvTransposeNd):
    """Transposed 2-D convolution; weight (in, out/groups, kh, kw)."""
    _dims, _conv = 2, staticmethod(conv_transpose2d)


class ConvTranspose3d(_ConvTransposeNd):
    """Transposed 3-D convolution; weight (in, out/groups, kd, kh, kw)."""
    _dims, _conv = 3, staticmethod(conv_transpose3d)
