"""``linear``: y = x @ W.T + b as one Function (one GEMM forward, one GEMM per input grad backward)."""
from __future__ import annotations

from ..autograd.function import Function
from ._util import as_tensor


class Linear(Function):
    """y = x Wᵀ + b for x (*, in), W (out, in), b (out,)."""

    grad_fn_name = lambda ctx: ("AddmmBackward0" if ctx.has_bias else "MmBackward0") if ctx.matrix_input \
        else "ViewBackward0"                  # noqa: E731  (torch: addmm / mm, then a view for other ranks)

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        a, w = x.array, weight.array
        ctx.save_for_backward(x, weight)
        ctx.has_bias, ctx.matrix_input = bias is not None, a.ndim == 2
        y = a.reshape(-1, a.shape[-1]) @ w.T
        if bias is not None:
            y += bias.array
        return y.reshape(a.shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, grad):
        """∂x = g W, ∂W = gᵀ x (leading dims flattened), ∂b = Σ g over the leading dims"""
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        flat = x.ndim != 2                                               # leading dims to flatten
        g2 = grad.reshape(-1, weight.shape[0]) if flat else grad
        gx = gw = gb = None
        if need[0]:
            gx = g2.matmul(weight)
            gx = gx.reshape(x.shape) if flat else gx
        if need[1]:
            gw = g2.t().matmul(x.reshape(-1, x.shape[-1]) if flat else x)
        if ctx.has_bias and need[2]:
            gb = g2.sum(0)
        return gx, gw, gb


def linear(input, weight, bias=None):
    """torch.nn.functional.linear: ``input @ weight.T + bias``; input (*, in), weight (out, in)."""
    input, weight = as_tensor(input), as_tensor(weight)
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-D (out_features, in_features), got shape {weight.shape}")
    if input.ndim == 0 or input.shape[-1] != weight.shape[1]:
        raise RuntimeError(f"linear: input's last dimension must be in_features={weight.shape[1]}, got input "
                           f"of shape {input.shape} (weight {weight.shape})")
    if input.dtype != weight.dtype:
        raise RuntimeError(f"linear: input dtype {input.dtype} and weight dtype {weight.dtype} differ; "
                           "convert one with .float() or .double()")
    if bias is None:
        return Linear.apply(input, weight)
    bias = as_tensor(bias)
    if bias.shape != (weight.shape[0],):
        raise RuntimeError(f"linear: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    return Linear.apply(input, weight, bias)
