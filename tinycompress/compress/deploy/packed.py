"""Packed 1-bit deployment of binarized models (XNOR + popcount inference, pure NumPy).

``pack(model)`` compiles a trained binarized ``nn.Sequential`` (in eval mode) into a
:class:`PackedModel`, a list of stages over NumPy arrays:

* binary weights are stored one bit each (``np.packbits``, bit 1 = +1, bit 0 = -1);
* a binary-input layer computes ``x·w`` for ``x, w ∈ {±1}^n`` as ``n − 2·popcount(x XOR w)``
  on packed uint64 words (``np.bitwise_count``); the result is an exact integer;
* a BatchNorm whose input is such an integer and whose output feeds a binarizing layer is folded
  into one integer threshold per neuron: ``sign(BN(z)) = +1  ⇔  z >= T`` (``z <= T`` when γ < 0,
  stored as a sign flip). ``T`` is found by running the model's own BatchNorm (eval mode) on every
  integer ``z ∈ [-n, n]``, so the folded stage agrees with the float path bit for bit;
* float layers (``Linear``, float-input binary layers, other BatchNorms) stay float.

Supported layers: BinarizedLinear, Linear, BatchNorm1d, Dropout/Identity (dropped), Flatten, ReLU.
Others (BinarizedConv2d included, for now) raise ``NotImplementedError`` naming the layer.
"""
from __future__ import annotations

import json
import os

import numpy as np

from ...serialization import savez_atomic

FORMAT = "tinycompress.packed/1"
_CHUNK = 64                     # rows per XNOR block (bounds the (rows, out, words) temporary)


# ------------------------------------------------------------------------------------------------
# bit helpers
# ------------------------------------------------------------------------------------------------
def pack_signs(x: np.ndarray) -> np.ndarray:
    """(..., n) values -> (..., words) uint64 with bit 1 where ``x >= 0`` (zero-padded to 64 bits)."""
    bits = np.packbits(x >= 0, axis=-1)
    pad = (-bits.shape[-1]) % 8
    if pad:
        bits = np.concatenate([bits, np.zeros(bits.shape[:-1] + (pad,), np.uint8)], axis=-1)
    return np.ascontiguousarray(bits).view(np.uint64)


def unpack_signs(words: np.ndarray, n: int, dtype=np.float32) -> np.ndarray:
    """Inverse of :func:`pack_signs`: ±1 values of ``dtype``, last axis ``n``."""
    bits = np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=-1, count=n)
    return (bits.astype(dtype) * 2 - 1)


def xnor_dot(x_words: np.ndarray, w_words: np.ndarray, n: int) -> np.ndarray:
    """``x ∈ {±1}^(B, n)``, ``w ∈ {±1}^(O, n)`` packed -> ``x·wᵀ = n − 2·popcount(x XOR w)`` (int32)."""
    out = np.empty((x_words.shape[0], w_words.shape[0]), np.int32)
    for i in range(0, x_words.shape[0], _CHUNK):          # a loop over blocks of rows, not samples
        xor = np.bitwise_xor(x_words[i:i + _CHUNK, None, :], w_words[None, :, :])
        out[i:i + _CHUNK] = n - 2 * np.bitwise_count(xor).sum(-1, dtype=np.int32)
    return out


# ------------------------------------------------------------------------------------------------
# the packed model
# ------------------------------------------------------------------------------------------------
class PackedModel:
    """A packed binarized model: ``model(x)`` maps an ndarray batch to logits (ndarray).

    ``stages`` is a list of ``(kind, arrays)``; ``nbytes`` counts every stored array."""

    def __init__(self, stages: list[tuple[str, dict]], meta: dict | None = None):
        self.stages = stages
        self.meta = dict(meta or {})        # JSON-able provenance (model name, recipe); not counted in nbytes
        self._cache: dict = {}

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for _, arrays in self.stages for a in arrays.values()))

    def layer_bytes(self) -> list[tuple[str, int]]:
        return [(kind, int(sum(a.nbytes for a in arrays.values()))) for kind, arrays in self.stages]

    def _float_weight(self, i, arrays):
        if i not in self._cache:
            self._cache[i] = unpack_signs(arrays["weight_bits"], int(arrays["n"]))
        return self._cache[i]

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(f"PackedModel expects a float batch, got dtype {x.dtype}")
        from ... import no_grad, tensor
        from ...nn import functional as F           # float stages run the library's own functions,
        x = x.astype(np.float32, copy=False)        # so they agree with the float model bit for bit
        with no_grad():
            return self._run(x, F, tensor)

    def _run(self, x, F, tensor):
        state = "float"                          # 'float' ndarray, 'int' int32 dot products, 'bits' words
        for i, (kind, a) in enumerate(self.stages):
            if kind == "flatten":
                x = x.reshape(x.shape[0], -1)
            elif kind == "sign":
                x, state = pack_signs(x), "bits"
            elif kind == "xnor_linear":
                n = int(a["n"])
                if x.shape[-1] != a["weight_bits"].shape[-1]:
                    raise ValueError(f"stage {i} ({kind}): input has {x.shape[-1]} words, "
                                     f"expected {a['weight_bits'].shape[-1]} ({n} features)")
                x, state = xnor_dot(x, a["weight_bits"], n), "int"
                if "bias" in a:
                    x, state = x.astype(np.float32) + a["bias"], "float"
            elif kind == "binary_weight_linear":        # float input times ±1 weights
                if x.ndim != 2 or x.shape[1] != int(a["n"]):
                    raise ValueError(f"stage {i} ({kind}): expected input (N, {int(a['n'])}), got {x.shape}")
                x = F.linear(tensor(x.astype(np.float32, copy=False)), tensor(self._float_weight(i, a)),
                             tensor(a["bias"]) if "bias" in a else None).array
            elif kind == "threshold":                    # folded BatchNorm + sign
                plus = np.where(a["flip"], x <= a["threshold"], x >= a["threshold"])
                x, state = pack_signs(np.where(plus, 1, -1).astype(np.int8)), "bits"
            elif kind == "batchnorm":                    # the library's own F.batch_norm: same numerics
                x = F.batch_norm(tensor(x.astype(np.float32, copy=False)), tensor(a["running_mean"]),
                                 tensor(a["running_var"]), tensor(a["weight"]), tensor(a["bias"]), False, 0.0,
                                 float(a["eps"])).array
                state = "float"
            elif kind == "linear":
                x = F.linear(tensor(x.astype(np.float32, copy=False)), tensor(a["weight"]),
                             tensor(a["bias"]) if "bias" in a else None).array
                state = "float"
            elif kind == "relu":
                x = np.maximum(x, 0)
            else:
                raise ValueError(f"unknown packed stage {kind!r}")
        if state != "float":
            x = x.astype(np.float32)
        return x

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write ``.npz`` (no pickle) through a temporary file renamed into place."""
        path = os.fspath(path)
        arrays = {f"{i}.{k}": v for i, (_, a) in enumerate(self.stages) for k, v in a.items()}
        layout = json.dumps({"format": FORMAT, "stages": [kind for kind, _ in self.stages], "meta": self.meta})
        arrays["__layout__"] = np.frombuffer(layout.encode(), np.uint8)
        savez_atomic(path, arrays)

    @classmethod
    def load(cls, path) -> "PackedModel":
        with np.load(os.fspath(path), allow_pickle=False) as f:
            if "__layout__" not in f.files:
                raise ValueError(f"{path} is not a packed tinycompress model (no __layout__ entry); "
                                 f"write one with tinycompress.compress.deploy.pack(model).save(path)")
            layout = json.loads(f["__layout__"].tobytes().decode())
            if layout.get("format") != FORMAT:
                raise ValueError(f"{path}: unsupported packed format {layout.get('format')!r}, expected {FORMAT}")
            stages = [(kind, {}) for kind in layout["stages"]]
            for key in f.files:
                if key != "__layout__":
                    i, name = key.split(".", 1)
                    stages[int(i)][1][name] = f[key]
        return cls(stages, layout.get("meta"))

    def __repr__(self) -> str:
        return f"PackedModel({', '.join(k for k, _ in self.stages)}; {self.nbytes} bytes)"


# ------------------------------------------------------------------------------------------------
# pack
# ------------------------------------------------------------------------------------------------
def _f32(t) -> np.ndarray:
    return np.asarray(t.array if hasattr(t, "array") else t, dtype=np.float32).copy()


def _bn_threshold(bn, n: int):
    """Per-neuron integer threshold and flip for ``sign(bn(z))`` over integers ``z ∈ [-n, n]``,
    computed with the model's own BatchNorm, so it matches the float path exactly."""
    from ... import no_grad, tensor
    grid = np.arange(-n, n + 1, dtype=np.float32)
    with no_grad():
        y = bn(tensor(np.repeat(grid[:, None], bn.num_features, axis=1))).array
    plus = y >= 0                                    # (2n+1, C); monotone in z for each neuron
    count = plus.sum(0)
    flip = _f32(bn.weight) < 0 if bn.weight is not None else np.zeros(bn.num_features, bool)
    rising = -n + (2 * n + 1 - count)                # +1 iff z >= rising  (γ >= 0)
    falling = -n + count - 1                         # +1 iff z <= falling (γ < 0)
    return np.where(flip, falling, rising).astype(np.int32), flip


def pack(model) -> PackedModel:
    """Compile a trained binarized ``nn.Sequential`` in eval mode into a :class:`PackedModel`."""
    from ... import nn
    from ..binary import BinarizedConv2d, BinarizedLinear
    if not isinstance(model, nn.Sequential):
        raise TypeError(f"pack expects an nn.Sequential of supported layers, got {type(model).__name__}")
    if model.training:
        raise ValueError("pack needs the model in eval mode (BatchNorm running statistics): call model.eval()")
    layers = [m for m in model if not isinstance(m, (nn.Dropout, nn.Identity))]
    stages: list[tuple[str, dict]] = []
    state, width = "float", None                     # width: n of the last XNOR layer (int state)

    def needs_bits(j):
        return (j < len(layers) and isinstance(layers[j], BinarizedLinear) and layers[j].binarize_input)

    for j, m in enumerate(layers):
        if isinstance(m, BinarizedLinear):
            w = m.weight.array
            arrays = {"weight_bits": pack_signs(w), "n": np.array(w.shape[1], np.int64)}
            if m.bias is not None:
                arrays["bias"] = _f32(m.bias)
            if m.binarize_input:
                if state != "bits":
                    stages.append(("sign", {}))
                stages.append(("xnor_linear", arrays))
                state, width = ("int", w.shape[1]) if m.bias is None else ("float", None)
            else:
                stages.append(("binary_weight_linear", arrays))
                state = "float"
        elif isinstance(m, nn.BatchNorm1d):
            if state == "int" and needs_bits(j + 1):
                threshold, flip = _bn_threshold(m, width)
                stages.append(("threshold", {"threshold": threshold, "flip": flip}))
                state = "bits"
            else:
                if not m.track_running_stats or m.running_mean is None:
                    raise NotImplementedError("pack: BatchNorm1d without running statistics cannot be packed")
                c = m.num_features
                stages.append(("batchnorm", {
                    "running_mean": _f32(m.running_mean), "running_var": _f32(m.running_var),
                    "weight": _f32(m.weight) if m.weight is not None else np.ones(c, np.float32),
                    "bias": _f32(m.bias) if m.bias is not None else np.zeros(c, np.float32),
                    "eps": np.array(m.eps, np.float32)}))
                state = "float"
        elif isinstance(m, nn.Linear):
            arrays = {"weight": _f32(m.weight)}
            if m.bias is not None:
                arrays["bias"] = _f32(m.bias)
            stages.append(("linear", arrays))
            state = "float"
        elif isinstance(m, nn.Flatten):
            stages.append(("flatten", {}))
        elif isinstance(m, nn.ReLU):
            stages.append(("relu", {}))
        else:
            hint = (" (packed convolution is not implemented yet; keep this model in float)"
                    if isinstance(m, BinarizedConv2d) else "")
            raise NotImplementedError(f"pack: layer {type(m).__name__} cannot be packed{hint}; supported: "
                                      "BinarizedLinear, Linear, BatchNorm1d, Dropout, Identity, Flatten, ReLU")
    return PackedModel(stages)
