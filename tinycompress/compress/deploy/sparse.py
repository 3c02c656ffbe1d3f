"""Deployed sparse models: CSR layers and structurally shrunk layers, on NumPy arrays.

``to_sparse(model)`` turns a chain of layers (``nn.Sequential``, nested ones flattened) of
Linear / Conv2d (plain, masked or pruned), BatchNorm1d/2d (folded to a per-channel affine),
ReLU, Flatten, Dropout and Identity into a :class:`SparseModel` whose outputs equal the
eval-mode masked model's:

* unstructured sparsity: each weight is stored in CSR -- ``values`` (float), ``indices`` (column
  of each value), ``indptr`` (row starts), int32 indices when they fit; ``y = x Wᵀ + b`` through
  ``scipy.sparse`` when installed, else ``np.add.reduceat`` over the gathered products
  ``x[:, indices] * values`` (one reduction per non-empty row);
* structured sparsity (``shrink=True``): an output neuron/filter whose weights are all zero outputs a
  constant ``c = f(b)`` (f: the per-channel affine/ReLU between the layers) -- its effect ``W_next[:, i] c``
  is folded into the next layer's bias; a neuron no later weight reads is dead. Either way the row,
  its BatchNorm entry and the next layer's input column are physically removed.

``nbytes`` counts every stored array (values, indices, row pointers, biases, affines).
``save``/``load`` use ``.npz`` (no pickle; written to a temp file then renamed).
"""
from __future__ import annotations

import json
import os

import numpy as np

from ...ops.conv import pair
from ...serialization import savez_atomic

try:                                     # optional: the fast CSR product
    import scipy.sparse as _sp
except ImportError:                      # pragma: no cover - exercised by forcing use_scipy=False
    _sp = None

_FORMAT_VERSION = 1


def _index_dtype(n: int):
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


class CSR:
    """A (rows, cols) matrix in compressed sparse row form."""

    def __init__(self, values, indices, indptr, shape):
        self.values, self.indices, self.indptr = values, indices, indptr
        self.shape = tuple(int(s) for s in shape)

    @classmethod
    def from_dense(cls, w: np.ndarray) -> "CSR":
        rows, cols = np.nonzero(w)
        dt = _index_dtype(max(w.size, 1))
        indptr = np.zeros(w.shape[0] + 1, dtype=dt)
        np.cumsum(np.bincount(rows, minlength=w.shape[0]), out=indptr[1:])
        return cls(w[rows, cols].copy(), cols.astype(dt), indptr, w.shape)

    def to_dense(self) -> np.ndarray:
        w = np.zeros(self.shape, dtype=self.values.dtype)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        w[rows, self.indices] = self.values
        return w

    @property
    def nnz(self) -> int:
        return int(self.values.size)

    @property
    def nbytes(self) -> int:
        return int(self.values.nbytes + self.indices.nbytes + self.indptr.nbytes)

    def rmatmul_t(self, x: np.ndarray, use_scipy: bool = True) -> np.ndarray:
        """``x @ selfᵀ`` for x (N, cols) -> (N, rows)."""
        n = x.shape[0]
        if use_scipy and _sp is not None:
            m = _sp.csr_matrix((self.values, self.indices, self.indptr), shape=self.shape)
            return np.asarray(m.dot(x.T).T, dtype=x.dtype)
        out = np.zeros((n, self.shape[0]), dtype=np.result_type(x.dtype, self.values.dtype))
        if self.nnz == 0:
            return out
        nonempty = np.flatnonzero(np.diff(self.indptr))
        starts = self.indptr[:-1][nonempty]
        for lo in range(0, n, 256):                      # bounded memory: (256, nnz) products at a time
            prods = x[lo:lo + 256, self.indices] * self.values
            out[lo:lo + 256, nonempty] = np.add.reduceat(prods, starts, axis=1)
        return out


# ----------------------------------------------------------------------------------- ops
class _Op:
    kind = ""

    def arrays(self) -> dict:
        return {}

    def meta(self) -> dict:
        return {}

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays().values()))


class MatOp(_Op):
    """A Linear (``conv=None``) or Conv2d (``conv={stride, padding, dilation, kernel}``) layer whose
    (out, in·kh·kw) weight is a :class:`CSR` or a dense array."""
    kind = "mat"

    def __init__(self, weight, bias, conv=None, name=""):
        self.weight, self.bias, self.conv, self.name = weight, bias, conv, name

    @property
    def out_features(self) -> int:
        return self.weight.shape[0]

    def dense(self) -> np.ndarray:
        return self.weight.to_dense() if isinstance(self.weight, CSR) else self.weight

    def _mm(self, x, use_scipy):
        if isinstance(self.weight, CSR):
            return self.weight.rmatmul_t(x, use_scipy)
        return x @ self.weight.T

    def __call__(self, x, use_scipy=True):
        if self.conv is None:
            lead = x.shape[:-1]
            y = self._mm(x.reshape(-1, x.shape[-1]), use_scipy).reshape(lead + (self.out_features,))
        else:
            cols, (n, oh, ow) = _im2col(x, **self.conv)
            y = self._mm(cols, use_scipy).reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)
        if self.bias is not None:
            y = y + (self.bias if self.conv is None else self.bias[:, None, None])
        return np.ascontiguousarray(y)

    def arrays(self):
        out = {}
        if isinstance(self.weight, CSR):
            out.update(values=self.weight.values, indices=self.weight.indices, indptr=self.weight.indptr)
        else:
            out["weight"] = self.weight
        if self.bias is not None:
            out["bias"] = self.bias
        return out

    def meta(self):
        return {"csr": isinstance(self.weight, CSR), "shape": list(self.weight.shape), "conv": self.conv,
                "name": self.name}


def _im2col(x, kernel, stride, padding, dilation):
    """(N, C, H, W) -> (N·OH·OW, C·kh·kw) patches, through a strided view (no per-pixel loop)."""
    kh, kw = kernel
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    win = np.lib.stride_tricks.sliding_window_view(x, (dh * (kh - 1) + 1, dw * (kw - 1) + 1), axis=(2, 3))
    win = win[:, :, ::sh, ::sw, ::dh, ::dw]                   # (N, C, OH, OW, kh, kw)
    n, c, oh, ow = win.shape[:4]
    return win.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw), (n, oh, ow)


class AffineOp(_Op):
    """Per-channel ``x·scale + shift`` on axis 1 (eval-mode BatchNorm folded)."""
    kind = "affine"

    def __init__(self, scale, shift):
        self.scale, self.shift = scale, shift

    def __call__(self, x, use_scipy=True):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return x * self.scale.reshape(shape) + self.shift.reshape(shape)

    def arrays(self):
        return {"scale": self.scale, "shift": self.shift}


class ReLUOp(_Op):
    kind = "relu"

    def __call__(self, x, use_scipy=True):
        return np.maximum(x, 0)


class FlattenOp(_Op):
    kind = "flatten"

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def __call__(self, x, use_scipy=True):
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])

    def meta(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}


_ELEMENTWISE = (AffineOp, ReLUOp)


# ----------------------------------------------------------------------------------- the model
class SparseModel:
    """A deployed chain of ops, called on NumPy batches: ``y = sparse_model(x)``."""

    def __init__(self, ops, use_scipy: bool = True, meta: dict | None = None):
        self.ops = list(ops)
        self.use_scipy = use_scipy
        self.meta = dict(meta or {})        # JSON-able provenance (model name, recipe); not counted in nbytes

    def __call__(self, x):
        x = np.asarray(getattr(x, "array", x))
        for op in self.ops:
            x = op(x, self.use_scipy)
        return x

    @property
    def nbytes(self) -> int:
        """Bytes of every stored array: CSR values, column indices and row pointers included."""
        return int(sum(op.nbytes for op in self.ops))

    def layers(self) -> list[dict]:
        """Per weight layer: name, format, shape, non-zeros, bytes."""
        return [{"layer": op.name, "format": "csr" if isinstance(op.weight, CSR) else "dense",
                 "shape": tuple(op.weight.shape), "nnz": int(np.count_nonzero(op.dense())), "nbytes": op.nbytes}
                for op in self.ops if isinstance(op, MatOp)]

    def save(self, path) -> None:
        """Write an ``.npz`` (arrays + a JSON spec), via a temp file renamed into place."""
        path = os.fspath(path)
        spec, arrays = [], {}
        for i, op in enumerate(self.ops):
            spec.append({"kind": op.kind, **op.meta()})
            for k, a in op.arrays().items():
                arrays[f"{i}.{k}"] = a
        arrays["__spec__"] = np.array(json.dumps({"version": _FORMAT_VERSION, "ops": spec, "meta": self.meta}))
        savez_atomic(path, arrays)

    @classmethod
    def load(cls, path, use_scipy: bool = True) -> "SparseModel":
        with np.load(os.fspath(path), allow_pickle=False) as z:
            if "__spec__" not in z:
                raise ValueError(f"{path} is not a tinycompress sparse model (no __spec__ entry)")
            spec = json.loads(str(z["__spec__"]))
            if spec.get("version") != _FORMAT_VERSION:
                raise ValueError(f"{path}: sparse model format version {spec.get('version')} is not supported "
                                 f"(expected {_FORMAT_VERSION})")
            ops = []
            for i, s in enumerate(spec["ops"]):
                get = lambda k: z[f"{i}.{k}"] if f"{i}.{k}" in z else None   # noqa: E731
                if s["kind"] == "mat":
                    w = CSR(get("values"), get("indices"), get("indptr"), s["shape"]) if s["csr"] else get("weight")
                    conv = s["conv"]
                    if conv is not None:
                        conv = {k: tuple(v) for k, v in conv.items()}
                    ops.append(MatOp(w, get("bias"), conv, s.get("name", "")))
                elif s["kind"] == "affine":
                    ops.append(AffineOp(get("scale"), get("shift")))
                elif s["kind"] == "relu":
                    ops.append(ReLUOp())
                elif s["kind"] == "flatten":
                    ops.append(FlattenOp(s["start_dim"], s["end_dim"]))
                else:
                    raise ValueError(f"{path}: unknown op kind {s['kind']!r}")
        return cls(ops, use_scipy, spec.get("meta"))


def save_sparse(model: SparseModel, path) -> None:
    model.save(path)


def load_sparse(path, use_scipy: bool = True) -> SparseModel:
    return SparseModel.load(path, use_scipy)


# ----------------------------------------------------------------------------------- conversion
def _leaves(model, prefix=""):
    from ... import nn
    if isinstance(model, nn.Sequential):
        for name, child in model._modules.items():
            yield from _leaves(child, f"{prefix}.{name}" if prefix else name)
    else:
        yield prefix, model


def _to_ops(model):
    from ... import nn
    from ..prune import effective_weight
    bn_t = (nn.BatchNorm1d, nn.BatchNorm2d)
    skip = (nn.Dropout, nn.Identity)
    from ..lowrank import _SVDFactors
    from .factorized import factor_ops
    ops = []
    for name, m in _leaves(model):
        if isinstance(m, _SVDFactors):                  # before Linear/Conv2d: LinearSVD subclasses Linear
            ops.extend(factor_ops(name, m))
        elif isinstance(m, nn.Linear):
            b = None if m.bias is None else m.bias.array.copy()
            ops.append(MatOp(effective_weight(m), b, None, name))
        elif isinstance(m, nn.Conv2d):
            if (getattr(m, "groups", 1) != 1 or getattr(m, "padding_mode", "zeros") != "zeros"
                    or isinstance(m.padding, str) and m.padding != "valid"):
                raise ValueError(f"to_sparse: {name} ({type(m).__name__}) with groups={m.groups}, padding="
                                 f"{m.padding!r}, padding_mode={getattr(m, 'padding_mode', 'zeros')!r} is not "
                                 "supported (groups=1, numeric padding, zeros padding_mode only)")
            w = effective_weight(m)
            conv = {"kernel": tuple(w.shape[2:]), "stride": pair(m.stride),
                    "padding": (0, 0) if m.padding == "valid" else pair(m.padding), "dilation": pair(m.dilation)}
            ops.append(MatOp(w.reshape(w.shape[0], -1), None if m.bias is None else m.bias.array.copy(), conv, name))
        elif bn_t and isinstance(m, bn_t):
            if m.track_running_stats and m.running_mean is not None:
                mean, var = m.running_mean.array, m.running_var.array
            else:
                raise ValueError(f"to_sparse: {name} (BatchNorm) has no running statistics to deploy with")
            scale = 1.0 / np.sqrt(var + m.eps)
            shift = -mean * scale
            if m.affine:
                scale, shift = scale * m.weight.array, shift * m.weight.array + m.bias.array
            ops.append(AffineOp(scale.astype(mean.dtype), shift.astype(mean.dtype)))
        elif isinstance(m, nn.ReLU):
            ops.append(ReLUOp())
        elif isinstance(m, nn.Flatten):
            ops.append(FlattenOp(m.start_dim, m.end_dim))
        elif skip and isinstance(m, skip):
            continue
        else:
            raise ValueError(f"to_sparse: cannot deploy layer {name!r} ({type(m).__name__}); supported: "
                             "Sequential chains of Linear, Conv2d, BatchNorm1d/2d, ReLU, Flatten, Dropout, Identity")
    return ops


def _shrink(ops) -> None:
    """Physically remove all-zero output neurons/filters (folding their constant output into the next
    layer's bias) and neurons no later weight reads; in place."""
    mats = [i for i, op in enumerate(ops) if isinstance(op, MatOp)]
    for a, b in zip(mats, mats[1:]):
        between = ops[a + 1:b]
        if not all(isinstance(op, _ELEMENTWISE) for op in between):
            continue                                          # e.g. a Flatten: channel ↔ column map differs
        first, nxt = ops[a], ops[b]
        wa, wb = first.dense(), nxt.dense()
        k = 1 if nxt.conv is None else int(np.prod(nxt.conv["kernel"]))
        if wb.shape[1] != wa.shape[0] * k:
            continue
        wb3 = wb.reshape(wb.shape[0], wa.shape[0], k)
        zero_row = ~wa.any(axis=1)
        unused = ~wb3.any(axis=(0, 2))
        # the constant a zero-weight neuron emits: f(bias) through the ops between
        const = np.zeros(wa.shape[0], wa.dtype) if first.bias is None else first.bias.copy()
        for op in between:
            const = op(const[None])[0]
        foldable = zero_row & ((const == 0) | (nxt.conv is None) |
                               (nxt.conv is not None and nxt.conv["padding"] == (0, 0)))
        remove = unused | foldable
        if not remove.any() or remove.all():
            continue
        contrib = (wb3[:, remove & ~unused, :].sum(axis=2) @ const[remove & ~unused]).astype(wb.dtype)
        keep = ~remove
        new_bias = (np.zeros(wb.shape[0], wb.dtype) if nxt.bias is None else nxt.bias) + contrib
        nxt.bias = new_bias if (nxt.bias is not None or np.any(contrib)) else None
        first.weight = _like(first.weight, wa[keep])
        if first.bias is not None:
            first.bias = first.bias[keep]
        for op in between:
            if isinstance(op, AffineOp):
                op.scale, op.shift = op.scale[keep], op.shift[keep]
        nxt.weight = _like(nxt.weight, wb3[:, keep, :].reshape(wb.shape[0], -1))


def _like(old, dense):
    return CSR.from_dense(dense) if isinstance(old, CSR) else np.ascontiguousarray(dense)


def to_sparse(model, format: str = "auto", shrink: bool = True, use_scipy: bool = True) -> SparseModel:
    """Deploy ``model`` (eval-mode semantics): weights to CSR (``format='csr'``), dense (``'dense'``)
    or whichever is smaller per layer (``'auto'``); ``shrink`` removes structurally pruned neurons."""
    if format not in ("auto", "csr", "dense"):
        raise ValueError(f"to_sparse: format={format!r} must be 'auto', 'csr' or 'dense'")
    ops = _to_ops(model)
    if shrink:
        _shrink(ops)
    for op in ops:
        if isinstance(op, MatOp):
            w = op.dense()
            csr = CSR.from_dense(w)
            if format == "csr" or (format == "auto" and csr.nbytes < w.nbytes):
                op.weight = csr
            else:
                op.weight = np.ascontiguousarray(w)
    return SparseModel(ops, use_scipy)
