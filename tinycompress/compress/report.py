"""One report for every compressed model: what each layer stores and computes, dense vs deployed.

``report(model, input_shape)`` measures the deployed artifact: for an ``nn.Module`` it is
``export(model)`` (:mod:`.deploy`, the one owner of storage formats), for a deployed model (e.g. from
``load_deployed(path)``) the model itself. Every stored array belongs to one row; nothing is modelled.
The dense baseline (``parameters``, ``dense_bytes``, ``macs_dense``) is read from the trained model
when there is one (the layers as built, before structural shrinking), else from the deployed ops'
dense-equivalent shapes.

What is counted (every figure per input sample; ``input_shape``'s first dim is the batch and is
divided out):

* ``parameters`` -- entries of the float layer the row stands for: weight + bias (a low-rank layer
  counts its dense-equivalent kernel m·n, not its factors); a BatchNorm counts 2C.
* ``nonzeros`` -- non-zero numbers among the weight-layer values the deployed form holds: stored
  (masked) weights + bias; ±1 (or ternary) weights + bias; the two factor matrices + bias.
  ``null`` for BatchNorm rows.
* ``bytes`` -- bytes of every array the deployed op stores (``op.nbytes``): packed bits (each row, or each
  kernel tap's channels, padded to a whole word), CSR values + column indices + row pointers, scales,
  factor matrices, k-bit weight codes (int8, or two 4-bit codes per byte) with their per-channel scales and
  the input's scale and zero point, biases, folded BatchNorms (scale + shift, or a threshold + a flip per channel).
* ``dense_bytes`` = 4·parameters (the float32 layer); ``ratio`` = dense_bytes / bytes.
* ``bits_per_weight`` = 8·(bytes of the weight storage, bias excluded) / (m·n·kh·kw).
* ``macs_dense`` -- multiply-accumulates of the dense float layer: out·in·kh·kw per output position.
* ``macs_float`` / ``macs_binary`` -- in the deployed form, float MACs and XNOR-popcount MACs (both
  operands ±1) apart: CSR layers cost nnz per position, factorised ones their two thin products,
  binary-input binary layers are ``macs_binary`` (+ one float multiply per output for α); a k-bit
  quantized layer's integer MACs are in ``macs_float`` (the runtime runs them as a float32 -- or, beyond
  its exactness bound, float64 -- GEMM of integers).
  Element-wise work (BatchNorm, activations, pooling) is not counted.
* ``rank`` / ``max_rank`` / ``energy`` -- low-rank layers: kept rank, full rank min(m, n), and the
  fraction of Σs² kept at truncation (from ``truncation=`` or the deployed model's ``meta['truncation']``).

JSON schema (``Report.to_dict()``, stable; ``SCHEMA`` names its version)::

    {"schema": "tinycompress.report/1",
     "source": "model" | "deployed",
     "format": "dense" | "sparse" | "factorized" | "packed" | "quantized",
     "input_shape": [int, ...],
     "layers": [ROW, ...],
     "total": ROW}           # layer "total", kind "total"; rank/max_rank/energy null
    ROW = {"layer": str, "type": str, "kind": "dense"|"binary"|"ternary"|"masked"|"low-rank"|"quantized"|"norm",
           "shape": [int, ...], "parameters": int, "nonzeros": int|null, "bits_per_weight": float|null,
           "bytes": int, "dense_bytes": int, "ratio": float|null, "macs_dense": int, "macs_float": int,
           "macs_binary": int, "rank": int|null, "max_rank": int|null, "energy": float|null}
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np

SCHEMA = "tinycompress.report/1"
ROW_KEYS = ("layer", "type", "kind", "shape", "parameters", "nonzeros", "bits_per_weight", "bytes", "dense_bytes",
            "ratio", "macs_dense", "macs_float", "macs_binary", "rank", "max_rank", "energy")
REPORT_KEYS = ("schema", "source", "format", "input_shape", "layers", "total")
KINDS = ("dense", "binary", "ternary", "masked", "low-rank", "quantized", "norm")
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
                else f"model, measured on export(model) ({self.format} form)")
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
# rows, from the deployed ops
# ------------------------------------------------------------------------------------------------
def _positions(out_shape, batch: int) -> int:
    """Output positions per sample a layer's weight is applied at: Ho·Wo (conv) or rows (linear)."""
    if len(out_shape) == 4:
        return out_shape[2] * out_shape[3]
    return int(np.prod(out_shape[:-1])) // batch


def _shapes(ops, x, out: dict) -> None:
    """Run ``x`` through ``ops``, recording each op's (input shape, output shape) by id."""
    from .deploy.runtime import LowRank, Residual, _float
    for op in ops:
        shape_in = x.shape
        if isinstance(op, Residual):
            _shapes(op.main, x, out)
            _shapes(op.shortcut, x, out)
        elif isinstance(op, LowRank):
            _shapes([op.first], x, out)
            _shapes([op.second], op.first(x), out)
        y = op(x)
        out[id(op)] = (tuple(shape_in), tuple(_float(y).shape if not hasattr(y, "channels") else y.shape))
        x = y


def _matrix_numbers(op) -> tuple[int, int, int]:
    """(dense entries, stored non-zeros, MACs per position) of a Linear/Conv op's matrix."""
    from .deploy.runtime import CSR
    w = op.weight
    nnz = w.nnz if isinstance(w, CSR) else int(np.count_nonzero(w))
    size = w.shape[0] * w.shape[1]
    return size, nnz, (w.nnz if isinstance(w, CSR) else size)


def _bias_numbers(op) -> tuple[int, int, int]:
    b = getattr(op, "bias", None)
    return (0, 0, 0) if b is None else (b.size, int(np.count_nonzero(b)), b.nbytes)


def _kernel_shape(op) -> tuple:
    from .deploy.runtime import Conv
    rows, cols = op.weight.shape
    if not isinstance(op, Conv):
        return (rows, cols)
    kh, kw = op.kernel
    return (rows, cols // (kh * kw), kh, kw)


def _op_row(op, label, shapes, batch, truncation) -> dict | None:
    """The row of one storing op (None for ops that store nothing)."""
    from .deploy.runtime import (CSR, Affine, BinaryConv, BinaryLinear, Conv, Linear, LowRank, Residual, Threshold,
                                 _Quant)
    if isinstance(op, Residual):                                 # its branches' ops have their own rows
        return None
    if isinstance(op, (Linear, Conv)):
        size, nnz, per_pos = _matrix_numbers(op)
        nb, nb_nz, nb_bytes = _bias_numbers(op)
        positions = _positions(shapes[id(op)][1], batch)
        csr = isinstance(op.weight, CSR)
        return _row(label, op.kind, "masked" if csr else "dense", _kernel_shape(op), size + nb, nnz + nb_nz,
                    op.nbytes - nb_bytes, size, op.nbytes, positions * size, positions * per_pos, 0)
    if isinstance(op, LowRank):
        weights = int(np.prod(op.dense_shape))
        nb, nb_nz, nb_bytes = _bias_numbers(op.second)
        (_, nz1, p1), (_, nz2, p2) = _matrix_numbers(op.first), _matrix_numbers(op.second)
        pos1, pos2 = (_positions(shapes[id(o)][1], batch) for o in (op.first, op.second))
        return _row(label, "factors", "low-rank", op.dense_shape, weights + nb, nz1 + nz2 + nb_nz,
                    op.nbytes - nb_bytes, weights, op.nbytes, pos2 * weights, pos1 * p1 + pos2 * p2, 0,
                    op.rank, op.max_rank, _energy_of(op.name, truncation))
    if isinstance(op, (BinaryLinear, BinaryConv)):
        values = op.values()                                     # (O, ..., Cg): ±1 / 0
        o = values.shape[0]
        weights = values.size
        shape = (o, values.shape[-1]) + tuple(values.shape[1:-1]) if isinstance(op, BinaryConv) else values.shape
        nb, nb_nz, nb_bytes = _bias_numbers(op)
        positions = _positions(shapes[id(op)][1], batch)
        macs = positions * weights
        scale = positions * o if op.alpha is not None else 0
        binary = op.binary_input
        kind = "ternary" if op.nonzero is not None else "binary"
        return _row(label, op.kind, kind, shape, weights + nb, int(np.count_nonzero(values)) + nb_nz,
                    op.nbytes - nb_bytes, weights, op.nbytes, macs, (0 if binary else macs) + scale,
                    macs if binary else 0)
    if isinstance(op, _Quant):
        w = op.integer_weights()                                 # (O, K) integers
        o, k = w.shape
        shape = (o, k) if op.kind == "quant_linear" else (o, k // int(np.prod(op.kernel))) + tuple(op.kernel)
        nb, nb_nz, nb_bytes = _bias_numbers(op)
        positions = _positions(shapes[id(op)][1], batch)
        return _row(label, op.kind, "quantized", shape, w.size + nb, int(np.count_nonzero(w)) + nb_nz,
                    op.nbytes - nb_bytes, w.size, op.nbytes, positions * w.size, positions * w.size, 0)
    if isinstance(op, (Affine, Threshold)):
        c = (op.scale if isinstance(op, Affine) else op.threshold).size
        return _row(label, op.kind, "norm", (c,), 2 * c, None, 0, 0, op.nbytes, 0, 0, 0)
    if op.nbytes:
        raise ValueError(f"report: op {label} ({op.kind}) stores {op.nbytes} bytes the report does not know")
    return None


def _energy_of(name: str, truncation) -> float | None:
    for entry in truncation or ():
        if entry.get("name") == name:
            return float(entry["energy"])
    return None


def _rows(deployed, input_shape, baseline: dict | None) -> list[dict]:
    """One row per storing op of ``deployed`` (residual branches included), in order; ``baseline``
    (layer name -> dense figures of the trained layer) overrides the dense columns."""
    from .deploy.runtime import LowRank, walk
    batch = int(input_shape[0])
    shapes: dict = {}
    _shapes(deployed.ops, np.zeros(input_shape, np.float32), shapes)
    truncation = deployed.meta.get("truncation")
    rows, inside = [], set()
    for path, op in walk(deployed.ops):
        if id(op) in inside:
            continue
        if isinstance(op, LowRank):
            inside.update((id(op.first), id(op.second)))
        row = _op_row(op, op.name or f"{path}.{op.kind}", shapes, batch, truncation)
        if row is None:
            continue
        dense = (baseline or {}).get(op.name) if op.name else None
        if dense is not None:
            row.update(parameters=dense["parameters"], dense_bytes=FLOAT32 * dense["parameters"],
                       ratio=FLOAT32 * dense["parameters"] / row["bytes"] if row["bytes"] else None)
            if dense.get("macs_dense") is not None:
                row["macs_dense"] = dense["macs_dense"]
        rows.append(row)
    return rows


# ------------------------------------------------------------------------------------------------
# the dense baseline, from the trained model
# ------------------------------------------------------------------------------------------------
def _dense_baseline(model, input_shape) -> dict:
    """Per layer name: ``parameters`` (weight + bias of the float layer as built; 2C for a BatchNorm)
    and ``macs_dense`` (output positions per sample × out·in·kh·kw), measured by running the model
    (eval mode, no graph) on zeros of ``input_shape``."""
    from .. import nn, no_grad, zeros
    from .binary import ShiftBatchNorm
    weight_layers = {id(m): (name, m) for name, m in model.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
    baseline: dict = {}
    for name, m in model.named_modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, ShiftBatchNorm)):
            baseline[name] = {"parameters": 2 * m.num_features, "macs_dense": 0}
    outputs: dict = {}

    def record(m, out):
        outputs.setdefault(id(m), []).append(tuple(out.shape))
    restore = _watch_outputs([m for _, m in weight_layers.values()], record)
    was_training = model.training
    try:
        model.eval()
        with no_grad():
            model(zeros(*input_shape))
    finally:
        restore()
        model.train(was_training)
    batch = int(input_shape[0])
    for key, (name, m) in weight_layers.items():
        weights = int(np.prod(getattr(m, "kernel_size", ()), dtype=np.int64)) * (
            m.out_channels * m.in_channels // m.groups if isinstance(m, nn.Conv2d) else m.out_features * m.in_features)
        bias = 0 if getattr(m, "bias", None) is None else int(m.bias.array.size)
        positions = sum(_positions(shape, batch) for shape in outputs.get(key, []))
        baseline[name] = {"parameters": weights + bias, "macs_dense": positions * weights}
    return baseline


def _watch_outputs(modules, record):
    """Call ``record(module, output)`` after each forward of ``modules`` (forward hooks); returns the undo."""
    handles = [m.register_forward_hook(lambda mod, args, out: record(mod, out)) for m in modules]
    return lambda: [h.remove() for h in handles]


# ------------------------------------------------------------------------------------------------
# the entry point
# ------------------------------------------------------------------------------------------------
def report(model, input_shape, truncation: list[dict] | None = None, format: str | None = None) -> Report:
    """The compression report of ``model`` for inputs of ``input_shape`` (batch first; MACs are per sample).

    ``model``: an ``nn.Module`` -- ``export(model, format or 'auto')`` is measured, the dense columns come
    from the model -- or a deployed model (``export(...)``, ``load_deployed(path)``), measured as it is.
    ``truncation``: the summary :func:`.lowrank.truncate` returned, for the kept energy of low-rank layers.
    """
    from .deploy import DeployedModel, export
    input_shape = tuple(int(s) for s in input_shape)
    if not input_shape or input_shape[0] < 1:
        raise ValueError(f"report: input_shape must start with a batch size >= 1, got {input_shape}")
    if isinstance(model, DeployedModel):
        deployed, baseline, source = model, None, "deployed"
    else:
        meta = {"truncation": truncation} if truncation else {}
        deployed = export(model, format or "auto", meta=meta)
        baseline, source = _dense_baseline(model, input_shape), "model"
    result = Report(_rows(deployed, input_shape, baseline), input_shape, deployed.format, source)
    if result.total["bytes"] != deployed.nbytes:        # every stored array belongs to a row
        raise AssertionError(f"report: rows hold {result.total['bytes']} bytes, the deployed model {deployed.nbytes}")
    return result
