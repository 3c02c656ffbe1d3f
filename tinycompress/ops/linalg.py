"""Matrix products, with NumPy's (and torch's) rules for 1-D and batched operands."""
from __future__ import annotations

import numpy as np

from ..autograd.function import Function, named
from ..tensor import Tensor
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
    if isinstance(input, Tensor) and isinstance(other, Tensor) and input.array.dtype is other.array.dtype:
        a, b = input, other                   # the common case: nothing to promote or wrap
    else:
        a, b = operands(input, other)
        a, b = as_tensor(a), as_tensor(b)
    da, db = a.array.ndim, b.array.ndim
    if da == 0 or db == 0:
        raise RuntimeError(f"matmul: both arguments need at least 1 dimension, got shapes {tuple(a.shape)} and "
                           f"{tuple(b.shape)}")
    k_a = a.array.shape[-1]
    k_b = b.array.shape[0] if db == 1 else b.array.shape[-2]
    if k_a != k_b:
        raise RuntimeError(f"matmul: shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be multiplied "
                           f"({k_a} columns in the first vs {k_b} rows in the second)")
    try:
        out = MatMul.apply(a, b)
    except ValueError:
        raise RuntimeError(f"matmul: batch dimensions of shapes {tuple(a.shape)} and {tuple(b.shape)} cannot be "
                           "broadcast together") from None
    if out.grad_fn is not None:
        out.grad_fn.grad_fn_name = _MATMUL_NAMES.get((da, db), "UnsafeViewBackward0")
    return out


# torch's fixed-rank products: MatMul's forward and backward under torch's names (MmBackward0 ...)
class Mm(MatMul):
    """2-D @ 2-D"""


class Bmm(MatMul):
    """3-D @ 3-D, same batch"""


class Mv(MatMul):
    """2-D @ 1-D"""


class Dot(MatMul):
    """1-D · 1-D"""


def _same_dtype(op, a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: expected both operands to have the same dtype, but got {a.dtype} and {b.dtype}")


def mm(input, mat2):
    """2-D matrix product (``torch.mm``)."""
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"mm: both arguments must be 2-D, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    _same_dtype("mm", a, b)
    return Mm.apply(a, b)


def bmm(input, mat2):
    a, b = as_tensor(input), as_tensor(mat2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"bmm: expected 3-D tensors with the same batch size and matching inner sizes, got "
                           f"{tuple(a.shape)} and {tuple(b.shape)}")
    _same_dtype("bmm", a, b)
    return Bmm.apply(a, b)


def mv(input, vec):
    """Matrix-vector product (``torch.mv``)."""
    a, b = as_tensor(input), as_tensor(vec)
    if a.ndim != 2 or b.ndim != 1 or a.shape[1] != b.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0] if a.ndim else ''}), mat "
                           f"({'x'.join(map(str, a.shape))}), vec ({'x'.join(map(str, b.shape))})")
    _same_dtype("mv", a, b)
    return Mv.apply(a, b)


def dot(input, other):
    a, b = as_tensor(input), as_tensor(other)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"dot: 1D tensors expected, got shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if a.shape != b.shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] to "
                           "have the same number of elements, but got different sizes")
    _same_dtype("dot", a, b)
    return Dot.apply(a, b)


inner_1d = dot


def outer(input, vec2):
    """The outer product of two vectors, ``input[:, None] * vec2`` (as torch computes it: MulBackward0)."""
    a, b = as_tensor(input), as_tensor(vec2)
    for name, v in (("self", a), ("vec2", b)):
        if v.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {v.ndim}-D")
    return a.unsqueeze(1) * b


ger = outer


class _AddProduct(Function):
    """β·c + α·(a @ b), the fused product-and-add of addmm, addmv and baddbmm."""

    @staticmethod
    def forward(ctx, c, a, b, beta=1, alpha=1):
        ctx.save_for_backward(a, b)
        ctx.beta, ctx.alpha = beta, alpha
        product = np.matmul(a.array, b.array)
        if alpha != 1:
            product *= alpha
        if beta == 0:                                 # c is ignored (its nan and inf too), as torch
            return product
        return product + (c.array if beta == 1 else c.array * beta)

    @staticmethod
    def backward(ctx, g):
        """d(βc + α·a@b) = β·g, α·g@bᵀ, α·aᵀ@g   (a vector b: α·g⊗b, α·aᵀ@g)"""
        a, b = ctx.saved_tensors
        needs = ctx.needs_input_grad
        gc = (g * ctx.beta if ctx.beta != 1 else g) if needs[0] else None
        ga = gb = None
        if needs[1]:
            ga = g.unsqueeze(-1) * b if b.ndim == 1 else MatMul.apply(g, _mT(b))
            ga = ga * ctx.alpha if ctx.alpha != 1 else ga
        if needs[2]:
            gb = MatMul.apply(_mT(a), g)
            gb = gb * ctx.alpha if ctx.alpha != 1 else gb
        return gc, ga, gb


class Addmm(_AddProduct):
    """β·input + α·(mat1 @ mat2)"""


class Addmv(_AddProduct):
    """β·input + α·(mat @ vec)"""


class Baddbmm(_AddProduct):
    """β·input + α·(batch1 @ batch2), batch by batch"""


def _add_product(function, op, input, a, b, beta, alpha, shape):
    c = as_tensor(input)
    try:
        if np.broadcast_shapes(c.shape, shape) != shape:
            raise ValueError
    except ValueError:
        raise RuntimeError(f"{op}: the size of input {list(c.shape)} cannot be broadcast to the product's "
                           f"{list(shape)}") from None
    _same_dtype(op, a, b)
    _same_dtype(op, c, a)
    return function.apply(c, a, b, beta=beta, alpha=alpha)


def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """β·input + α·(mat1 @ mat2), input broadcast to the product's shape."""
    a, b = as_tensor(mat1), as_tensor(mat2)
    if a.ndim != 2 or b.ndim != 2:
        raise RuntimeError(f"addmm: mat1 and mat2 must be matrices, got {a.ndim}-D and {b.ndim}-D")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    return _add_product(Addmm, "addmm", input, a, b, beta, alpha, (a.shape[0], b.shape[1]))


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """β·input + α·(mat @ vec)."""
    a, b = as_tensor(mat), as_tensor(vec)
    if a.ndim != 2 or b.ndim != 1 or a.shape[1] != b.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({tuple(as_tensor(input).shape)}), mat "
                           f"({'x'.join(map(str, a.shape))}), vec ({'x'.join(map(str, b.shape))})")
    return _add_product(Addmv, "addmv", input, a, b, beta, alpha, (a.shape[0],))


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """β·input + α·(batch1 @ batch2) for each batch."""
    a, b = as_tensor(batch1), as_tensor(batch2)
    if a.ndim != 3 or b.ndim != 3 or a.shape[0] != b.shape[0] or a.shape[2] != b.shape[1]:
        raise RuntimeError(f"baddbmm: expected 3-D batches with the same batch size and matching inner sizes, "
                           f"got {tuple(a.shape)} and {tuple(b.shape)}")
    return _add_product(Baddbmm, "baddbmm", input, a, b, beta, alpha, (a.shape[0], a.shape[1], b.shape[2]))
