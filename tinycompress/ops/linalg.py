"""Matrix products, with NumPy's (and torch's) rules for 1-D and batched operands."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, named
from ._util import as_tensor, operands
from .shape import Permute


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return np.matmul(a.array, b.array)

    @staticmethod
    def backward(ctx, g):
        """d(A@B) = G@Bᵀ, Aᵀ@G   (1-D operands lifted to matrices and back; batch dims summed by the engine)"""
        a, b = ctx.saved_tensors
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        g2 = g.unsqueeze(-1) if b.ndim == 1 else g           # put back the axes 1-D operands dropped
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = MatMul.apply(g2, _mT(b2))
            if a.ndim == 1:
                ga = ga.squeeze(-2)
        if ctx.needs_input_grad[1]:
            if b2.ndim == 2 and g2.ndim > 2:      # B shared by A's batch: one GEMM, Σ_b A_bᵀ G_b
                gb = MatMul.apply(_mT(a2.reshape(-1, a2.shape[-1])), g2.reshape(-1, g2.shape[-1]))
            else:
                gb = MatMul.apply(_mT(a2), g2)
            if b.ndim == 1:
                gb = gb.squeeze(-1)
        return ga, gb


def _mT(t):
    """The last two axes swapped (a view)."""
    axes = list(range(t.ndim))
    axes[-2:] = axes[-1], axes[-2]
    return Permute.apply(t, axes=tuple(axes))


_MATMUL_NAMES = {(1, 1): "DotBackward0", (2, 1): "MvBackward0", (2, 2): "MmBackward0",
                 (1, 2): "SqueezeBackward4", (2, 3): "CloneBackward0"}     # torch's node by operand ranks


def matmul(input, other):
    a, b = operands(input, other)
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    k_a = a.array.shape[-1]
    k_b = b.array.shape[0] if b.ndim == 1 else b.array.shape[-2]
    if k_a != k_b:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                           f"({k_a} columns in the first vs {k_b} rows in the second)")
    try:
        return named(MatMul.apply(a, b), _MATMUL_NAMES.get((a.ndim, b.ndim), "UnsafeViewBackward0"))
    except ValueError:
        raise RuntimeError(f"matmul: batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           "broadcast together") from None


def mm(input, mat2):
    """2-D matrix product (``torch.mm``)."""
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: both arguments must be 2-D, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)


def bmm(input, mat2):
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0]:
        raise RuntimeError(f"bmm: expected 3-D tensors with the same batch size, got {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    return named(matmul(a, b), "BmmBackward0")


def dot(input, other):
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    return matmul(a, b)
