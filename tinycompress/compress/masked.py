"""Masked (sparse) layers: seed 002's ``CustomizedLinear``, as :class:`MaskedLinear`, and :class:`MaskedConv2d`.

A mask ``M`` (0/1, the weight's shape) removes connections from the forward pass *and* from
learning (seed 002: "a pruned connection is removed for good", unlike dropout)::

    y      = x (W ⊙ M)ᵀ + b
    ∂L/∂x  = g (W ⊙ M)
    ∂L/∂W  = (gᵀ x) ⊙ M            (no gradient for M: it is a buffer, saved, never trained)
    ∂L/∂b  = Σ_rows g

Zeros stay zero -- two mechanisms:

1. *By construction*: the forward uses ``W ⊙ M``, so the effective weight is exactly 0 where
   ``M = 0`` whatever is stored in ``W``.
2. *Stored weight*: setting a mask zeroes ``W`` where ``M = 0`` and the gradient there is exactly 0,
   so SGD (momentum, Nesterov, weight decay), Adam, AdamW leave those entries at exactly 0 as long as
   the optimizer's state there is 0. When a mask changes mid-training (the optimizer may hold momentum
   for newly masked entries), :func:`apply_masks` (or the :class:`ApplyMasks` callback, after each
   step) re-zeroes the stored weights.
"""
from __future__ import annotations

import numpy as np

from .. import nn
from ..autograd import Function, no_grad
from ..callbacks import Callback
from ..nn import functional as F
from ..random import default_generator
from ..tensor import Tensor


def gen_mask(row: int, col: int, percent: float = 0.5, num_zeros: int | None = None) -> np.ndarray:
    """Seed 002's ``gen_mask``: a (row, col) float32 0/1 mask with ``int(row*col*percent)`` zeros
    (or ``num_zeros``), placed by a shuffle drawn from the library generator."""
    row, col = int(row), int(col)
    if row < 0 or col < 0:
        raise ValueError(f"gen_mask: row and col must be non-negative, got ({row}, {col})")
    total = row * col
    if num_zeros is None:
        if not 0.0 <= float(percent) <= 1.0:
            raise ValueError(f"gen_mask: percent={percent} must be a fraction in [0, 1]")
        num_zeros = int(total * percent)
    num_zeros = int(num_zeros)
    if not 0 <= num_zeros <= total:
        raise ValueError(f"gen_mask: num_zeros={num_zeros} must be between 0 and row*col={total}")
    mask = np.concatenate([np.zeros(num_zeros, np.float32), np.ones(total - num_zeros, np.float32)])
    default_generator().shuffle(mask)
    return mask.reshape(row, col)


class LinearFunction(Function):
    """Seed 002's Function: ``y = x (W⊙M)ᵀ + b`` for x (*, in), W and M (out, in), b (out,).

    ``mask`` may be passed positionally (a Tensor that needs no grad) or as a keyword array.
    """

    @staticmethod
    def forward(ctx, input, weight, bias=None, mask=None):
        x, w = input.array, weight.array
        if x.dtype != w.dtype or x.shape[-1:] != w.shape[1:]:
            raise RuntimeError(f"LinearFunction: input {x.shape} {x.dtype} does not match weight "
                               f"{w.shape} {w.dtype} (need input (*, {w.shape[1]}) of the "
                               "weight's dtype; convert with .float() or .double())")
        m = None if mask is None else (mask.array if isinstance(mask, Tensor) else mask).astype(w.dtype, copy=False)
        if m is not None:
            w = w * m
        ctx.save_for_backward(input, weight)
        ctx.mask = m
        y = x.reshape(-1, x.shape[-1]) @ w.T
        if bias is not None:
            y += bias.array
        return y.reshape(x.shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        """∂x = g (W⊙M), ∂W = (gᵀ x) ⊙ M (leading dims flattened), ∂b = Σ g over the leading dims, ∂M = None"""
        x, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        mask = None if ctx.mask is None else Tensor._wrap(ctx.mask)
        g2 = grad.reshape(-1, weight.shape[0])
        gx = gw = gb = None
        if needs[0]:
            gx = g2.matmul(weight if mask is None else weight * mask).reshape(x.shape)
        if needs[1]:
            gw = g2.t().matmul(x.reshape(-1, x.shape[-1]))
            if mask is not None:
                gw = gw * mask
        if len(needs) > 2 and needs[2]:
            gb = g2.sum(0)
        return gx, gw, gb, None


class ApplyMask(Function):
    """``W ⊙ M`` with the mask a constant."""

    @staticmethod
    def forward(ctx, weight, *, mask):
        ctx.mask = mask.astype(weight.dtype, copy=False)
        return weight.array * ctx.mask

    @staticmethod
    def backward(ctx, grad):
        """∂W = g ⊙ M"""
        return grad * Tensor._wrap(ctx.mask)


def _as_array(mask, what: str) -> np.ndarray:
    if isinstance(mask, Tensor):
        mask = mask.array
    try:
        arr = np.asarray(mask)
    except Exception as error:      # pragma: no cover - exotic inputs
        raise TypeError(f"{what}: mask must be an array-like of 0/1 values, got {type(mask).__name__}") from error
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what}: mask must hold 0/1 numbers or booleans, got dtype {arr.dtype}")
    if arr.size and not np.all((arr == 0) | (arr == 1)):
        bad = arr[(arr != 0) & (arr != 1)].ravel()[:3]
        raise ValueError(f"{what}: mask must contain only 0 and 1, found values such as {bad.tolist()}")
    return arr


class _MaskedMixin:
    """Shared mask handling: the ``mask`` buffer (weight's shape and dtype) and its setter."""

    def _init_mask(self, mask, mask_layout):
        self.register_buffer("mask", np.ones(self.weight.shape, dtype=self.weight.dtype))
        if mask is not None:
            self.set_mask(mask, mask_layout)

    def _expected_layouts(self):
        return {"out_in": tuple(self.weight.shape)}

    def set_mask(self, mask, mask_layout: str = "out_in") -> None:
        """Replace the mask (in place) and zero the stored weights it removes."""
        layouts = self._expected_layouts()
        name = type(self).__name__
        if mask_layout not in layouts:
            raise ValueError(f"{name}: mask_layout={mask_layout!r} is not one of {sorted(layouts)}")
        arr = _as_array(mask, name)
        expected = layouts[mask_layout]
        if arr.shape != expected:
            hint = ""
            if mask_layout == "out_in" and "in_out" in layouts and arr.shape == layouts["in_out"]:
                hint = " (this is the seed's (in_features, out_features) layout: pass mask_layout='in_out')"
            raise ValueError(f"{name}: mask has shape {arr.shape} but layout {mask_layout!r} needs shape "
                             f"{expected}{hint}")
        if mask_layout == "in_out":
            arr = arr.T
        with no_grad():
            self.mask.array[...] = arr
            self.weight.array *= self.mask.array

    @property
    def density(self) -> float:
        """Fraction of connections kept (mask ones)."""
        return float(self.mask.array.mean()) if self.mask.array.size else 1.0


class MaskedLinear(_MaskedMixin, nn.Linear):
    """Seed 002's ``CustomizedLinear``: a Linear whose ``mask`` buffer (out, in) removes connections.

    ``mask=None`` keeps every connection (a mask of ones). The seed gives masks as (in, out): pass
    those with ``mask_layout='in_out'``. Init is nn.Linear's: U(±1/√in) for weight and bias (what
    the seed's ``reset_parameters`` draws), then the weight is multiplied by the mask.
    """

    def __init__(self, in_features, out_features, bias=True, mask=None, mask_layout="out_in", device=None,
                 dtype=None):
        super().__init__(in_features, out_features, bias, device=device, dtype=dtype)
        self._init_mask(mask, mask_layout)

    def _expected_layouts(self):
        return {"out_in": (self.out_features, self.in_features), "in_out": (self.in_features, self.out_features)}

    def forward(self, input):
        if self.bias is None:
            return LinearFunction.apply(input, self.weight, None, mask=self.mask.array)
        return LinearFunction.apply(input, self.weight, self.bias, mask=self.mask.array)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", density={self.density:.4f}"


class MaskedConv2d(_MaskedMixin, nn.Conv2d):
    """A Conv2d whose ``mask`` buffer (out, in/groups, kh, kw) removes connections:
    ``y = conv2d(x, W ⊙ M, b)``; ∂W = ∂W_eff ⊙ M."""

    def __init__(self, in_channels, out_channels, kernel_size, *args, mask=None, **kwargs):
        super().__init__(in_channels, out_channels, kernel_size, *args, **kwargs)
        self._init_mask(mask, "out_in")

    def forward(self, input):
        w = ApplyMask.apply(self.weight, mask=self.mask.array)
        return F.conv2d(input, w, self.bias, self.stride, self.padding, self.dilation, self.groups)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", density={self.density:.4f}"


MASKED_LAYERS = (MaskedLinear, MaskedConv2d)


def apply_masks(model) -> int:
    """Re-zero the stored weights of every masked layer where its mask is 0; returns the layers touched."""
    count = 0
    with no_grad():
        for m in model.modules():
            if isinstance(m, MASKED_LAYERS) and "weight" in m._parameters:
                m.weight.array *= m.mask.array
                count += 1
    return count


class ApplyMasks(Callback):
    """After every optimizer step, re-zero masked stored weights (see :func:`apply_masks`)."""

    def on_step_end(self, trainer) -> None:
        apply_masks(trainer.model)
