"""Deployed low-rank layers: a factorised layer becomes two thin dense layers, never forming W.

``LinearSVD`` (W = U diag(s) Vᵀ, U out×r, V in×r):
    y = x Wᵀ + b = ((x V) diag(s)) Uᵀ + b  →  Linear(in → r, weight (V diag(s))ᵀ)  then  Linear(r → out, weight U, b)
    storing r·(in + out) numbers instead of in·out, and costing as many multiply-accumulates per row.

``Conv2dSVD`` deploys as the two convolutions its own forward runs (see its docstring):
    channel: conv(r filters (c, kh, kw), stride, padding, dilation)  then  1×1 conv(n filters, bias);
    spatial: conv(r filters (c, kh, 1), (sh, 1), (ph, 0), (dh, 1))  then  conv(n filters (r, 1, kw), (1, sw), (0, pw), (1, dw)).

A layer whose factors would take more room than its dense weight (r·(in + out) ≥ in·out) is deployed
dense. The ops are :mod:`.sparse`'s ``MatOp``: a factorised model deploys as the same chain of ops (and
the same ``.npz`` format) as a pruned one, which is what lets one deployed model mix both.
"""
from __future__ import annotations

import numpy as np

from .sparse import MatOp, SparseModel, to_sparse


def _conv_meta(kernel, stride, padding, dilation) -> dict:
    return {"kernel": tuple(int(k) for k in kernel), "stride": tuple(stride), "padding": tuple(padding),
            "dilation": tuple(dilation)}


def factor_ops(name: str, layer) -> list[MatOp]:
    """The deployed ops of one ``LinearSVD`` / ``Conv2dSVD`` (two thin layers, or one dense if smaller)."""
    from ..lowrank import Conv2dSVD
    bias = None if layer.bias is None else layer.bias.array.copy()
    if layer.factor_params() >= layer.dense_params():             # factors would not save anything
        w = layer.weight.array
        conv = None
        if isinstance(layer, Conv2dSVD):
            conv = _conv_meta(w.shape[2:], layer.stride, layer.padding, layer.dilation)
        return [MatOp(np.ascontiguousarray(w.reshape(w.shape[0], -1)), bias, conv, name)]
    if not isinstance(layer, Conv2dSVD):
        U, s, V = (p.array for p in (layer.U, layer.s, layer.V))
        return [MatOp(np.ascontiguousarray((V * s).T), None, None, f"{name}.V"),
                MatOp(np.ascontiguousarray(U), bias, None, f"{name}.U")]
    first, second = (k.array for k in layer.factor_kernels())
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    if layer.decomposition == "channel":
        convs = (_conv_meta(first.shape[2:], (sh, sw), (ph, pw), (dh, dw)), _conv_meta((1, 1), (1, 1), (0, 0), (1, 1)))
    else:
        convs = (_conv_meta(first.shape[2:], (sh, 1), (ph, 0), (dh, 1)), _conv_meta(second.shape[2:], (1, sw), (0, pw), (1, dw)))
    return [MatOp(np.ascontiguousarray(first.reshape(first.shape[0], -1)), None, convs[0], f"{name}.first"),
            MatOp(np.ascontiguousarray(second.reshape(second.shape[0], -1)), bias, convs[1], f"{name}.second")]


def to_factorized(model, use_scipy: bool = True) -> SparseModel:
    """Deploy a model with factorised layers (eval-mode semantics); any pruned layers go to CSR as in
    :func:`.sparse.to_sparse`. Its outputs equal the model's to float32 rounding."""
    return to_sparse(model, format="auto", shrink=False, use_scipy=use_scipy)
