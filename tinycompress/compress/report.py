"""One report for every compressed model: what each layer stores and computes, dense vs deployed.

``report(model, input_shape)`` takes a trained model (``nn.Module``) or a deployed one
(:class:`~.deploy.packed.PackedModel` / :class:`~.deploy.sparse.SparseModel`, e.g. from
``load_deployed(path)``) and returns a :class:`Report`: one row per layer and a total.

What is counted (every figure per input sample; ``input_shape``'s first dim is the batch and is
divided out):

* ``parameters`` -- entries of the float layer the row stands for: weight + bias (a low-rank layer
  counts its dense-equivalent kernel m·n, not its factors); a BatchNorm counts 2C, the per-channel
  scale and shift inference needs (running statistics fold into them).
* ``nonzeros`` -- non-zero numbers among the weight-layer values the deployed form holds: effective
  (masked) weights + bias; ±1 (or ternary) weights + bias; the two deployed factor matrices + bias.
  ``null`` for BatchNorm rows.
* ``bytes`` -- bytes of every array the deployed form stores for the layer: packed bits (rows padded
  to 64-bit words) and their width, CSR values + column indices + row pointers, per-channel scales,
  factor matrices, biases, folded BatchNorms (affine, or integer thresholds + sign flips).
* ``dense_bytes`` = 4·parameters (the float32 layer); ``ratio`` = dense_bytes / bytes.
* ``bits_per_weight`` = 8·(bytes of the weight storage, bias and BatchNorm excluded) / (m·n·kh·kw),
  i.e. what one weight of the dense kernel costs once stored: 32 dense float32, ~1 packed binary,
  8·(4 + 4)·density (+ row pointers) in CSR, 32·r(m + n)/(m n) low-rank. ``null`` for BatchNorm rows.
* ``macs_dense`` -- multiply-accumulates of the dense float layer: out·in·kh·kw per output position.
* ``macs_float`` / ``macs_binary`` -- in the deployed form, float MACs and XNOR-popcount MACs
  (both operands ±1) counted apart: CSR layers cost nnz per position, factorised ones r·(m + n),
  binary-input binary layers are all ``macs_binary``. Float-input ±1-weight layers count as float.
  Element-wise work (BatchNorm, activations, pooling) is not counted.
* ``rank`` / ``max_rank`` / ``energy`` -- low-rank layers: kept rank, full rank min(m, n), and the
  fraction of Σs² kept at truncation (from ``truncation=`` -- the list :func:`~.lowrank.truncate`
  returns -- or a deployed model's ``meta['truncation']``); ``null`` otherwise.

How the deployed bytes are counted from a model mirrors :func:`.deploy.export`'s choices:
the format is ``'packed'`` if the model has binarized layers, else ``'factorized'`` if it has SVD
layers, else ``'sparse'``; in the latter two a float matrix is stored in CSR when that is smaller
than dense (``nnz·(value + index) + (rows + 1)·index < rows·cols·value``); in ``'packed'`` float
layers stay dense and a BatchNorm between a bias-free binary-input layer and another binary-input
layer becomes one int32 threshold + one bool flip per channel (else 4 float32 vectors + eps).
In the ``'sparse'`` format the model is converted with ``to_sparse`` and each layer's bytes, deployed
MACs and non-zeros are read off its op, so neurons that structural shrinking removes (all-zero rows,
folded into the next bias) are not counted; ``parameters``, ``dense_bytes`` and ``macs_dense`` stay
those of the layer as built. One thing is modelled, not measured: ``BinarizedConv2d`` (not packable
yet) is counted as the packed layout it would use -- per filter ``ceil(bits·c·kh·kw / 64)`` words
(bits = 1 binary, 2 ternary) + a float32 scale per filter + bias.

JSON schema (``Report.to_dict()``, stable; ``SCHEMA`` names its version)::

    {"schema": "tinycompress.report/1",
     "source": "model" | "deployed",
     "format": "packed" | "sparse" | "factorized",
     "input_shape": [int, ...],
     "layers": [ROW, ...],
     "total": ROW}           # layer "total", kind "total"; rank/max_rank/energy null
    ROW = {"layer": str, "type": str, "kind": "dense"|"binary"|"ternary"|"masked"|"low-rank"|"norm",
           "shape": [int, ...], "parameters": int, "nonzeros": int|null, "bits_per_weight": float|null,
           "bytes": int, "dense_bytes": int, "ratio": float|null, "macs_dense": int, "macs_float": int,
           "macs_binary": int, "rank": int|null, "max_rank": int|null, "energy": float|null}
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

SCHEMA = "tinycompress.report/1"
ROW_KEYS = ("layer", "type", "kind", "shape", "parameters", "nonzeros", "bits_per_weight", "bytes", "dense_bytes",
            "ratio", "macs_dense", "macs_float", "macs_binary", "rank", "max_rank", "energy")
REPORT_KEYS = ("schema", "source", "format", "input_shape", "layers", "total")
KINDS = ("dense", "binary", "ternary", "masked", "low-rank", "norm")
FLOAT32 = 4                                    # bytes of the float32 baseline per parameter


# ------------------------------------------------------------------------------------------------
# the report object
# ------------------------------------------------------------------------------------------------
@dataclass
class Report:
    """Per-layer rows and their total (see the module docstring for every column)."""

    rows: list[dict]
    input_shape: tuple
    format: str
    source: str
    total: dict = field(init=False)

    def __post_init__(self):
        self.total = _total(self.rows)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "source": self.source, "format": self.format,
                "input_shape": [int(s) for s in self.input_shape],
                "layers": [dict(r) for r in self.rows], "total": dict(self.total)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def table(self) -> str:
        """A fixed-width text table, one line per layer and the total."""
        head = (f"{'layer':<24}{'kind':<9}{'params':>12}{'nonzero':>12}{'bits/w':>8}{'bytes':>11}"
                f"{'ratio':>8}{'MACs dense':>12}{'float':>11}{'binary':>11}{'rank':>10}{'energy':>8}")
        what = (f"deployed model ({self.format} form)" if self.source == "deployed"
                else f"model, counted in its deployed form ({self.format})")
        lines = [f"report of a {what}; input {tuple(self.input_shape)}, MACs per sample",
                 head, "-" * len(head)]
        for row in self.rows + [self.total]:
            if row is self.total:
                lines.append("-" * len(head))
            rank = "" if row["rank"] is None else f"{row['rank']}/{row['max_rank']}"
            lines.append(
                f"{_clip(row['layer'], 23):<24}{row['kind']:<9}{row['parameters']:>12,}"
                f"{_show(row['nonzeros'], '{:,}'):>12}{_show(row['bits_per_weight'], '{:.2f}'):>8}"
                f"{row['bytes']:>11,}{_show(row['ratio'], '{:.2f}x'):>8}{row['macs_dense']:>12,}{row['macs_float']:>11,}"
                f"{row['macs_binary']:>11,}{rank:>10}{_show(row['energy'], '{:.3f}'):>8}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.table()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1):]


def _show(value, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _row(layer, type_, kind, shape, parameters, nonzeros, weight_bytes, weights, nbytes, macs_dense, macs_float,
         macs_binary, rank=None, max_rank=None, energy=None) -> dict:
    """One row; ``weight_bytes``/``weights`` give bits_per_weight (None for norm rows)."""
    row = {"layer": layer, "type": type_, "kind": kind, "shape": [int(s) for s in shape],
           "parameters": int(parameters), "nonzeros": None if nonzeros is None else int(nonzeros),
           "bits_per_weight": None if not weights else 8.0 * weight_bytes / weights,
           "bytes": int(nbytes), "dense_bytes": FLOAT32 * int(parameters),
           "ratio": FLOAT32 * int(parameters) / nbytes if nbytes else None,
           "macs_dense": int(macs_dense), "macs_float": int(macs_float), "macs_binary": int(macs_binary),
           "rank": None if rank is None else int(rank), "max_rank": None if max_rank is None else int(max_rank),
           "energy": None if energy is None else float(energy)}
    row["_weight_bytes"], row["_weights"] = int(weight_bytes), int(weights)     # for the total; dropped below
    return row


def _total(rows: list[dict]) -> dict:
    """Sums of the rows; bits_per_weight over all weights; ratio = Σ dense_bytes / Σ bytes."""
    weight_bytes = sum(r.pop("_weight_bytes", 0) for r in rows)
    weights = sum(r.pop("_weights", 0) for r in rows)
    s = {k: sum(r[k] for r in rows) for k in ("parameters", "bytes", "macs_dense", "macs_float", "macs_binary")}
    total = _row("total", "", "total", [], s["parameters"], sum(r["nonzeros"] or 0 for r in rows), weight_bytes,
                 weights, s["bytes"], s["macs_dense"], s["macs_float"], s["macs_binary"])
    total.pop("_weight_bytes"), total.pop("_weights")
    return total


# ------------------------------------------------------------------------------------------------
# storage of one matrix, as deploy stores it
# ------------------------------------------------------------------------------------------------
def _index_bytes(size: int) -> int:
    """CSR index width: int32 while the matrix has at most 2³¹ − 1 entries (deploy.sparse), else int64."""
    return 4 if max(size, 1) <= np.iinfo(np.int32).max else 8


def matrix_storage(w: np.ndarray, allow_csr: bool = True) -> tuple[int, int, bool]:
    """(bytes, MACs per output position, stored as CSR) of a float matrix (rows, cols) deployed as
    ``deploy.sparse`` does: CSR bytes = nnz·(itemsize + idx) + (rows + 1)·idx, chosen when smaller
    than dense rows·cols·itemsize (and ``allow_csr``); CSR costs nnz MACs, dense rows·cols."""
    w = np.asarray(w)
    w = w.reshape(w.shape[0], -1)
    dense = w.size * w.itemsize
    nnz = int(np.count_nonzero(w))
    idx = _index_bytes(w.size)
    csr = nnz * (w.itemsize + idx) + (w.shape[0] + 1) * idx
    if allow_csr and csr < dense:
        return csr, nnz, True
    return dense, w.size, False


def packed_bits_bytes(rows: int, cols: int, bits: int = 1) -> int:
    """Bytes of ``rows`` rows of ``cols`` ``bits``-bit weights, each row padded to 64-bit words."""
    return rows * math.ceil(bits * cols / 64) * 8


# ------------------------------------------------------------------------------------------------
# report of a model
# ------------------------------------------------------------------------------------------------
def _model_format(model) -> str:
    from .binary import BinarizedConv2d, BinarizedLinear
    from .lowrank import _SVDFactors
    layers = list(model.modules())
    if any(isinstance(m, (BinarizedLinear, BinarizedConv2d)) for m in layers):
        return "packed"
    if any(isinstance(m, _SVDFactors) for m in layers):
        return "factorized"
    return "sparse"


def _is_norm(m) -> bool:
    from .. import nn
    from .binary import ShiftBatchNorm
    return isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, ShiftBatchNorm))


def _is_weight_layer(m) -> bool:
    from .. import nn
    return isinstance(m, (nn.Linear, nn.Conv2d))


def _record_shapes(model, input_shape, layers) -> dict:
    """Run ``model`` on zeros of ``input_shape`` (eval mode, no graph) and return, per layer in
    ``layers``, the (input shape, output shape) of each call. Each layer's ``forward`` is wrapped by an
    instance attribute for the duration (the library's Module has no forward hooks)."""
    from .. import no_grad, zeros
    calls = {id(m): [] for _, m in layers}
    patched = []

    def wrap(m):
        original = m.forward

        def forward(x, *args, **kwargs):
            out = original(x, *args, **kwargs)
            calls[id(m)].append((tuple(x.shape), tuple(out.shape)))
            return out
        object.__setattr__(m, "forward", forward)
        patched.append(m)

    was_training = model.training
    try:
        for _, m in layers:
            wrap(m)
        model.eval()
        with no_grad():
            model(zeros(*input_shape))
    finally:
        for m in patched:
            m.__dict__.pop("forward", None)
        model.train(was_training)
    return calls


def _positions(in_shape, out_shape, batch: int) -> int:
    """Output positions per sample a layer's weight is applied at: rows (Linear) or Ho·Wo (Conv2d)."""
    if len(out_shape) == 4:
        return out_shape[2] * out_shape[3]
    return int(np.prod(out_shape[:-1])) // batch


def _bias_numbers(m) -> tuple[int, int, int]:
    """(entries, non-zeros, bytes) of a layer's bias."""
    b = getattr(m, "bias", None)
    if b is None:
        return 0, 0, 0
    return b.array.size, int(np.count_nonzero(b.array)), b.array.nbytes


def _energy_of(name: str, truncation) -> float | None:
    for entry in truncation or ():
        if entry.get("name") == name:
            return float(entry["energy"])
    return None


def _lowrank_row(name, m, calls, batch, fmt, truncation) -> dict:
    from .lowrank import Conv2dSVD
    conv = isinstance(m, Conv2dSVD)
    kernel = tuple(m.U.shape[:1] + m.V.shape[:1]) if not conv else (m.out_channels, m.in_channels) + m.kernel_size
    weights = int(np.prod(kernel))
    nb, nb_nz, nb_bytes = _bias_numbers(m)
    macs_dense = sum(_positions(i, o, batch) for i, o in calls) * weights
    dense_path = fmt == "packed" or m.factor_params() >= m.dense_params()
    if dense_path:                                   # deployed as one matrix (factor_ops' rule)
        w = m.weight.array.reshape(kernel[0], -1)
        wb, per_pos, _ = matrix_storage(w, fmt != "packed")
        nz = int(np.count_nonzero(w))
        macs = sum(_positions(i, o, batch) for i, o in calls) * per_pos
    else:                                            # two thin matrices, as deploy.factor_ops builds them
        if conv:
            first, second = (k.array for k in m.factor_kernels())
        else:
            first, second = (m.V.array * m.s.array).T, m.U.array
        (b1, p1, _), (b2, p2, _) = matrix_storage(first), matrix_storage(second)
        wb, nz = b1 + b2, int(np.count_nonzero(first) + np.count_nonzero(second))
        macs = 0
        for i, o in calls:
            if conv and m.decomposition == "spatial":
                pos_first = o[2] * i[3]              # the (kh×1) conv runs at Ho × W (horizontal stride later)
            else:
                pos_first = _positions(i, o, batch)
            macs += pos_first * p1 + _positions(i, o, batch) * p2
    return _row(name, type(m).__name__, "low-rank", kernel, weights + nb, nz + nb_nz, wb, weights, wb + nb_bytes,
                macs_dense, macs, 0, m.rank, m.max_rank, _energy_of(name, truncation))


def _binary_row(name, m, calls, batch) -> dict:
    from .binary import BinarizedLinear, quantize_conv_weight
    w = m.weight.array
    rows, cols = w.shape[0], int(np.prod(w.shape[1:]))
    weights = rows * cols
    nb, nb_nz, nb_bytes = _bias_numbers(m)
    positions = sum(_positions(i, o, batch) for i, o in calls)
    if isinstance(m, BinarizedLinear):               # deploy.packed: bits + the width n (an int64)
        kind, wb, nz, scale_macs = "binary", packed_bits_bytes(rows, cols) + 8, weights, 0
    else:                                            # BinarizedConv2d: the packed layout it would use
        kind = m.weight_quant
        q = quantize_conv_weight(w, m.weight_quant, scale=None)
        wb = packed_bits_bytes(rows, cols, 1 if kind == "binary" else 2)
        nz = int(np.count_nonzero(q))
        scale_macs = 0
        if m.scale == "channel":                     # one float32 α per filter, one multiply per output
            wb += FLOAT32 * rows
            scale_macs = positions * rows
    binary = m.binarize_input
    macs = positions * weights
    return _row(name, type(m).__name__, kind, w.shape, weights + nb, nz + nb_nz, wb, weights, wb + nb_bytes, macs,
                (0 if binary else macs) + scale_macs, macs if binary else 0)


def _float_row(name, m, calls, batch, fmt, op=None) -> dict:
    """A dense or masked float layer. ``op``: its MatOp in the model's ``to_sparse`` form, when that form
    exists -- then bytes, deployed MACs and non-zeros are the op's (rows/columns shrunk away included)."""
    from .prune import effective_weight
    w = effective_weight(m)
    weights = w.size
    nb, nb_nz, nb_bytes = _bias_numbers(m)
    masked = "mask" in m._buffers or "weight_mask" in m._buffers
    nonzeros = int(np.count_nonzero(w)) + nb_nz
    if op is not None:
        bias_bytes = 0 if op.bias is None else op.bias.nbytes
        wb, per_pos, nb_bytes = op.nbytes - bias_bytes, _op_macs_per_position(op), bias_bytes
        nonzeros = int(np.count_nonzero(op.dense())) + (0 if op.bias is None else int(np.count_nonzero(op.bias)))
    elif fmt == "packed":                            # packed stores float layers as float32, dense
        wb, per_pos = FLOAT32 * weights, weights
        nb_bytes = FLOAT32 * nb
    else:
        wb, per_pos, _ = matrix_storage(w)
    positions = sum(_positions(i, o, batch) for i, o in calls)
    return _row(name, type(m).__name__, "masked" if masked else "dense", w.shape, weights + nb, nonzeros, wb, weights,
                wb + nb_bytes, positions * weights, positions * per_pos, 0)


def _norm_row(name, m, fmt, folded_to_threshold: bool, op=None) -> dict:
    c = m.num_features
    if op is not None:                               # its AffineOp in the to_sparse form (maybe shrunk)
        nbytes = op.nbytes
    elif fmt == "packed":
        nbytes = c * (4 + 1) if folded_to_threshold else 4 * FLOAT32 * c + FLOAT32   # int32 + bool | 4 vectors + eps
    else:
        stats = getattr(m, "running_mean", None)
        nbytes = 2 * c * (stats.array.itemsize if stats is not None else FLOAT32)    # folded scale + shift
    return _row(name, type(m).__name__, "norm", (c,), 2 * c, None, 0, 0, nbytes, 0, 0, 0)


def _thresholded_norms(model) -> set:
    """ids of the BatchNorms ``deploy.packed.pack`` folds to thresholds: after a bias-free binary-input
    BinarizedLinear (integer output) and right before another binary-input BinarizedLinear."""
    from .. import nn
    from .binary import BinarizedLinear
    if not isinstance(model, nn.Sequential):
        return set()
    layers = [m for m in model if not isinstance(m, (nn.Dropout, nn.Identity))]
    folded, state = set(), "float"

    def binary_input(m):
        return isinstance(m, BinarizedLinear) and m.binarize_input

    for j, m in enumerate(layers):
        if isinstance(m, BinarizedLinear):
            state = "int" if (m.binarize_input and m.bias is None) else "float"
        elif isinstance(m, nn.BatchNorm1d):
            if state == "int" and j + 1 < len(layers) and binary_input(layers[j + 1]):
                folded.add(id(m))
                state = "bits"
            else:
                state = "float"
        elif isinstance(m, nn.Linear):
            state = "float"
    return folded


def _sparse_ops(model, fmt):
    """The model's ``to_sparse`` form as (MatOps by layer name, AffineOps in order), or None when the
    format is not 'sparse' or the model does not convert (then rows are counted without shrinking)."""
    if fmt != "sparse":
        return None
    from .deploy.sparse import AffineOp, MatOp, to_sparse
    try:
        ops = to_sparse(model).ops
    except (ValueError, TypeError, NotImplementedError, AttributeError):
        return None
    return ({op.name: op for op in ops if isinstance(op, MatOp)}, [op for op in ops if isinstance(op, AffineOp)])


def _model_report(model, input_shape, fmt=None, truncation=None) -> Report:
    from .binary import BinarizedConv2d, BinarizedLinear
    from .lowrank import _SVDFactors
    fmt = fmt or _model_format(model)
    layers = [(n, m) for n, m in model.named_modules() if _is_weight_layer(m) or _is_norm(m)]
    calls = _record_shapes(model, input_shape, [(n, m) for n, m in layers if _is_weight_layer(m)])
    batch = int(input_shape[0])
    folded = _thresholded_norms(model) if fmt == "packed" else set()
    sparse = _sparse_ops(model, fmt)
    affines = iter(sparse[1]) if sparse else None
    rows = []
    for name, m in layers:
        label = name or type(m).__name__
        if _is_norm(m):
            rows.append(_norm_row(label, m, fmt, id(m) in folded, next(affines) if sparse else None))
        elif isinstance(m, _SVDFactors):
            rows.append(_lowrank_row(label, m, calls[id(m)], batch, fmt, truncation))
        elif isinstance(m, (BinarizedLinear, BinarizedConv2d)):
            rows.append(_binary_row(label, m, calls[id(m)], batch))
        else:
            rows.append(_float_row(label, m, calls[id(m)], batch, fmt, sparse[0].get(name) if sparse else None))
    return Report(rows, tuple(int(s) for s in input_shape), fmt, "model")


# ------------------------------------------------------------------------------------------------
# report of a deployed model
# ------------------------------------------------------------------------------------------------
def _packed_report(deployed, input_shape) -> Report:
    """Rows from the packed stages: xnor/binary-weight linears, float linears, BatchNorms (folded
    thresholds or float); sign/flatten/relu stages store nothing."""
    deployed(np.zeros(input_shape, np.float32))                  # the shape must be one it accepts
    rows = []
    for i, (kind, a) in enumerate(deployed.stages):
        name = f"{i}.{kind}"
        nbytes = int(sum(v.nbytes for v in a.values()))
        bias = a.get("bias")
        nb, nb_nz = (0, 0) if bias is None else (bias.size, int(np.count_nonzero(bias)))
        if kind in ("xnor_linear", "binary_weight_linear"):
            out, n = a["weight_bits"].shape[0], int(a["n"])
            weights = out * n
            wb = nbytes - (0 if bias is None else bias.nbytes)
            binary = kind == "xnor_linear"
            rows.append(_row(name, kind, "binary", (out, n), weights + nb, weights + nb_nz, wb, weights, nbytes,
                             weights, 0 if binary else weights, weights if binary else 0))
        elif kind == "linear":
            w = a["weight"]
            rows.append(_row(name, kind, "dense", w.shape, w.size + nb, int(np.count_nonzero(w)) + nb_nz, w.nbytes,
                             w.size, nbytes, w.size, w.size, 0))
        elif kind in ("threshold", "batchnorm"):
            c = (a["threshold"] if kind == "threshold" else a["running_mean"]).size
            rows.append(_row(name, kind, "norm", (c,), 2 * c, None, 0, 0, nbytes, 0, 0, 0))
        elif nbytes:
            raise ValueError(f"report: packed stage {name} stores {nbytes} bytes of an unknown kind")
    return Report(rows, tuple(int(s) for s in input_shape), "packed", "deployed")


def _sparse_report(deployed, input_shape) -> Report:
    """Rows from the ops: MatOps (CSR → 'masked', dense → 'dense'; ``name.V``+``name.U`` and
    ``name.first``+``name.second`` pairs → one 'low-rank' row), AffineOps (folded BatchNorms)."""
    from .deploy.sparse import CSR, AffineOp, MatOp
    batch = int(input_shape[0])
    x = np.zeros(input_shape, np.float32)
    shapes = []
    for op in deployed.ops:                                      # each op's output shape, per call
        x = op(x, deployed.use_scipy)
        shapes.append(x.shape)
    truncation = deployed.meta.get("truncation")
    rows, ops, i = [], deployed.ops, 0
    while i < len(ops):
        op = ops[i]
        if isinstance(op, AffineOp):
            c = op.scale.size
            rows.append(_row(f"{i}.affine", "affine", "norm", (c,), 2 * c, None, 0, 0, op.nbytes, 0, 0, 0))
        elif isinstance(op, MatOp):
            pair = _factor_pair(ops, i)
            if pair is not None:
                rows.append(_factor_row(pair, ops[i], ops[i + 1], shapes[i], shapes[i + 1], batch, truncation))
                i += 2
                continue
            w = op.dense()
            csr = isinstance(op.weight, CSR)
            nnz = int(np.count_nonzero(w))
            positions = _positions(None, shapes[i], batch)
            b = op.bias
            nb, nb_nz = (0, 0) if b is None else (b.size, int(np.count_nonzero(b)))
            wb = op.nbytes - (0 if b is None else b.nbytes)
            rows.append(_row(op.name or f"{i}.mat", "csr" if csr else "mat", "masked" if csr else "dense",
                             _op_kernel_shape(op), w.size + nb, nnz + nb_nz, wb, w.size, op.nbytes,
                             positions * w.size, positions * (nnz if csr else w.size), 0))
        i += 1
    return Report(rows, tuple(int(s) for s in input_shape), deployed.meta.get("format", "sparse"), "deployed")


def _op_macs_per_position(op) -> int:
    """A MatOp's MACs per output position: its non-zeros when stored as CSR, else rows·cols."""
    from .deploy.sparse import CSR
    return op.weight.nnz if isinstance(op.weight, CSR) else int(op.weight.size)


def _op_kernel_shape(op) -> tuple:
    rows, cols = op.weight.shape
    if op.conv is None:
        return (rows, cols)
    kh, kw = op.conv["kernel"]
    return (rows, cols // (kh * kw), kh, kw)


def _factor_pair(ops, i):
    """The layer name if ops i, i+1 are the two halves factor_ops writes for one SVD layer."""
    from .deploy.sparse import MatOp
    if i + 1 >= len(ops) or not isinstance(ops[i + 1], MatOp):
        return None
    a, b = ops[i].name, ops[i + 1].name
    for first, second in ((".V", ".U"), (".first", ".second")):
        if a.endswith(first) and b.endswith(second) and a[:-len(first)] == b[:-len(second)]:
            return a[:-len(first)]
    return None


def _factor_row(name, first, second, shape1, shape2, batch, truncation) -> dict:
    """One low-rank row from its two deployed ops: first (r, n·k1), second (m, r·k2)."""
    rank = first.weight.shape[0]
    m = second.weight.shape[0]
    if first.conv is None:
        kernel = (m, first.weight.shape[1])
    else:
        (kh1, kw1), (kh2, kw2) = first.conv["kernel"], second.conv["kernel"]
        kernel = (m, first.weight.shape[1] // (kh1 * kw1), kh1 * kh2, kw1 * kw2)
    weights = int(np.prod(kernel))
    b = second.bias
    nb, nb_nz = (0, 0) if b is None else (b.size, int(np.count_nonzero(b)))
    w1, w2 = first.dense(), second.dense()
    per1, per2 = _op_macs_per_position(first), _op_macs_per_position(second)
    p1, p2 = _positions(None, shape1, batch), _positions(None, shape2, batch)
    wb = first.nbytes + second.nbytes - (0 if b is None else b.nbytes)
    max_rank = min(kernel[0], weights // kernel[0])
    return _row(name, "factors", "low-rank", kernel, weights + nb,
                int(np.count_nonzero(w1) + np.count_nonzero(w2)) + nb_nz, wb, weights,
                first.nbytes + second.nbytes, p2 * weights, p1 * per1 + p2 * per2, 0, rank, max_rank,
                _energy_of(name, truncation))


# ------------------------------------------------------------------------------------------------
# the entry point
# ------------------------------------------------------------------------------------------------
def report(model, input_shape, truncation: list[dict] | None = None, format: str | None = None) -> Report:
    """The compression report of ``model`` for inputs of ``input_shape`` (batch first; MACs are per sample).

    ``model``: an ``nn.Module`` (its deployed form is counted as :func:`.deploy.export` would build it;
    ``format`` overrides the form chosen) or a deployed ``PackedModel`` / ``SparseModel``.
    ``truncation``: the summary :func:`.lowrank.truncate` returned, for the kept energy of low-rank layers.
    """
    from .deploy.packed import PackedModel
    from .deploy.sparse import SparseModel
    input_shape = tuple(int(s) for s in input_shape)
    if not input_shape or input_shape[0] < 1:
        raise ValueError(f"report: input_shape must start with a batch size >= 1, got {input_shape}")
    if isinstance(model, PackedModel):
        result = _packed_report(model, input_shape)
    elif isinstance(model, SparseModel):
        result = _sparse_report(model, input_shape)
    else:
        if format not in (None, "packed", "sparse", "factorized"):
            raise ValueError(f"report: format={format!r}; choose 'packed', 'sparse' or 'factorized'")
        return _model_report(model, input_shape, format, truncation)
    if result.total["bytes"] != model.nbytes:        # every stored array belongs to a row
        raise AssertionError(f"report: rows hold {result.total['bytes']} bytes, the deployed model {model.nbytes}")
    return result


# ------------------------------------------------------------------------------------------------
# the command line: `tinycompress report --checkpoint FILE | --packed FILE [--json]`
# ------------------------------------------------------------------------------------------------
_INPUT_SHAPES = {"flat": (1, 784), "image": (1, 1, 28, 28), "image32x3": (1, 3, 32, 32)}


def input_shape_for(recipe_input: str) -> tuple:
    """The per-sample input shape (batch 1) of a recipe's ``input`` layout."""
    if recipe_input not in _INPUT_SHAPES:
        raise ValueError(f"unknown input layout {recipe_input!r}; choose one of {sorted(_INPUT_SHAPES)}")
    return _INPUT_SHAPES[recipe_input]


def add_report_arguments(parser) -> None:
    """The ``tinycompress report`` flags: ``--checkpoint FILE | --packed FILE``, ``--json``, ``--input-shape``."""
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a training checkpoint (OUT/last.npz)")
    src.add_argument("--packed", help="a deployed .npz written by `tinycompress export`")
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--input-shape", default=None, help="e.g. 1,784 or 1,1,28,28 (default: from the recipe)")


def report_command(args) -> int:
    """``tinycompress report``: print the report of ``args.checkpoint`` or ``args.packed`` (``args.json``: as JSON)."""
    from .. import models
    explicit = getattr(args, "input_shape", None)
    if getattr(args, "packed", None):
        from .deploy import load_deployed
        model = load_deployed(args.packed)
        recipe = model.meta.get("recipe") or {}
        shape = _parse_shape(explicit) if explicit else _deployed_input_shape(model, recipe)
        result = report(model, shape)
    else:
        from ..train import load_model_state
        from ..train import load_checkpoint
        state = load_checkpoint(args.checkpoint)
        config = json.loads(state["config"])
        model = models.build(config["model"])
        load_model_state(model, state["model"])
        shape = _parse_shape(explicit) if explicit else input_shape_for(config["recipe"].get("input", "flat"))
        result = report(model, shape)
    print(result.to_json() if getattr(args, "json", False) else result.table())
    return 0


def _parse_shape(text: str) -> tuple:
    try:
        return tuple(int(s) for s in str(text).replace("x", ",").split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--input-shape {text!r}: give integers separated by commas, e.g. 1,784") from None


def _deployed_input_shape(model, recipe: dict) -> tuple:
    """From the recipe stored in the deployed file's meta; else (1, 784), or an image if it starts with a conv."""
    if recipe.get("input"):
        return input_shape_for(recipe["input"])
    from .deploy.sparse import MatOp
    first = next((op for op in getattr(model, "ops", []) if isinstance(op, MatOp)), None)
    if first is not None and first.conv is not None:
        kh, kw = first.conv["kernel"]
        return (1, first.weight.shape[1] // (kh * kw), 28, 28)
    return (1, 784)
