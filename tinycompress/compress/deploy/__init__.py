"""Deployed forms of compressed models, one module per storage format:
``packed`` (1-bit weights, XNOR-popcount), ``sparse`` (CSR, structurally shrunk layers),
``factorized`` (thin low-rank factors, on ``sparse``'s ops).

``export(model, format='auto')`` picks the form from the layers the model holds; ``load_deployed(path)``
reads any of them back. Every deployed model is called on an ndarray batch, has ``nbytes`` and ``meta``,
and saves as ``.npz`` without pickle.
"""
from __future__ import annotations

import os

import numpy as np

from .factorized import factor_ops, to_factorized
from .packed import PackedModel, pack
from .sparse import CSR, SparseModel, load_sparse, save_sparse, to_sparse

FORMATS = ("auto", "packed", "sparse", "factorized")


def _auto_format(model) -> str:
    from ..binary import BinarizedConv2d, BinarizedLinear
    from ..lowrank import _SVDFactors
    layers = list(model.modules())
    if any(isinstance(m, (BinarizedLinear, BinarizedConv2d)) for m in layers):
        return "packed"
    if any(isinstance(m, _SVDFactors) for m in layers):
        return "factorized"
    return "sparse"


def export(model, format: str = "auto", meta: dict | None = None):
    """The deployed form of ``model`` (evaluated as in eval mode): ``'packed'`` for binarized models,
    ``'factorized'`` for low-rank ones, ``'sparse'`` (CSR where it is smaller) otherwise."""
    if format not in FORMATS:
        raise ValueError(f"export: format={format!r}; choose one of {FORMATS}")
    model.eval()
    format = _auto_format(model) if format == "auto" else format
    deployed = {"packed": pack, "sparse": to_sparse, "factorized": to_factorized}[format](model)
    deployed.meta.update(meta or {}, format=format)
    return deployed


def load_deployed(path):
    """Read a file written by ``export(...).save(path)``, whichever form it holds."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no deployed model at {path}; write one with `tinycompress export`")
    with np.load(path, allow_pickle=False) as f:
        names = set(f.files)
    if "__layout__" in names:
        return PackedModel.load(path)
    if "__spec__" in names:
        return SparseModel.load(path)
    raise ValueError(f"{path} is not a deployed tinycompress model (neither a packed nor a sparse/factorized "
                     "file); write one with `tinycompress export --checkpoint FILE --out OUT.npz`")


__all__ = ["CSR", "FORMATS", "PackedModel", "SparseModel", "export", "factor_ops", "load_deployed", "load_sparse",
           "pack", "save_sparse", "to_factorized", "to_sparse"]
