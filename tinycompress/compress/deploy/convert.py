"""Converters: a trained model (eval mode) -> its deployed form, a :class:`~.runtime.DeployedModel`.

``export(model, format='auto')`` walks the model as a chain of layers -- ``nn.Sequential`` children in
order, and for a module with its own ``forward`` the list its ``deploy_layers()`` returns (a residual
block returns a :class:`Residual`) -- and turns each layer into runtime ops:

* Linear / Conv2d (plain, masked or pruned: the effective weight ``W ⊙ M``) -> ``linear`` / ``conv``,
  stored dense or CSR (see ``storage``); BatchNorm -> ``affine`` (folded, the library's own formula);
  ReLU, Flatten, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d -> the same-named ops; Dropout/Identity vanish.
* LinearSVD / Conv2dSVD -> ``lowrank``: two thin ops (channel-wise: an r-filter conv then a 1×1 conv;
  spatial-wise: a (kh×1) conv then a (1×kw) conv), or one dense op where the factors are not smaller.
* BinarizedLinear / BinarizedConv2d -> ``binary_linear`` / ``binary_conv``: one bit per weight (two for
  ternary), XNOR-Net's per-channel α and the bias kept as float32; a binary-input layer is preceded by a
  ``sign`` unless its input already is bits.
* QuantLinear / QuantConv2d -> ``quant_linear`` / ``quant_conv``: the integer weight codes (int8, or 4- and
  2-bit codes packed two and four per byte), the per-channel weight scales, the input's scale and zero
  point and the float32 bias; the layer's integer GEMM, exact (see :mod:`tinycompress.compress.quant`).
* Threshold folding. After a binary-input layer the pre-activation is ``f(k)`` of an exact integer
  ``k ∈ [−n, n]`` -- f is the layer's own ``·α + b`` then the BatchNorm (and any ReLU): monotone,
  since every float32 rounding step is. When the next binary-input layer binarizes it (max pools,
  dropout and flatten may sit between), ``sign(f(k))`` becomes one threshold per channel, found by
  running the model's own modules on every integer of the range, so the folded form agrees with the
  float model bit for bit. A max pool before the BatchNorm runs on the integers (max commutes with a
  non-decreasing f); one after it runs on the bits (``sign(max v) = max(sign v)``).

``storage`` ('auto' | 'csr' | 'dense') chooses how float matrices are stored: CSR where it is smaller
(``'auto'``), always, or never. ``shrink`` removes structurally pruned neurons/filters physically.
The formats are presets: ``dense`` (dense, no shrink), ``sparse`` (auto + shrink), ``factorized``
(auto, no shrink), ``packed`` and ``quantized`` (dense floats); ``auto`` picks by the layers the model holds.
"""
from __future__ import annotations

import numpy as np

from ...ops.conv import pair as _pair
from .runtime import (CSR, AdaptiveAvgPool, Affine, AvgPool, BinaryConv, BinaryLinear, Conv, DeployedModel,
                      Flatten, Linear, LowRank, MaxPool, QuantConv, QuantLinear, ReLU, Residual as ResidualOp, Sign,
                      Threshold, code_width, pack_bits, pack_codes)

FORMATS = ("auto", "dense", "sparse", "factorized", "packed", "quantized")
_PRESETS = {"dense": ("dense", False), "sparse": ("auto", True), "factorized": ("auto", False),
            "packed": ("dense", False), "quantized": ("dense", False)}


class Residual:
    """What a residual block's ``deploy_layers()`` returns: ``y = main(x) + shortcut(x)`` (lists of
    layers; an empty shortcut is the identity)."""

    def __init__(self, main, shortcut=()):
        self.main, self.shortcut = list(main), list(shortcut)


# ------------------------------------------------------------------------------------------------
# the chain of layers
# ------------------------------------------------------------------------------------------------
def _items(module) -> list:
    """The leaf layers (and Residuals) ``module`` runs, in order."""
    from ... import nn
    if hasattr(module, "deploy_layers"):
        out = []
        for item in module.deploy_layers():
            if isinstance(item, Residual):
                out.append(Residual(_flatten(item.main), _flatten(item.shortcut)))
            else:
                out.extend(_items(item))
        return out
    if isinstance(module, nn.Sequential):
        return _flatten(module._modules.values())
    return [module]


def _flatten(modules) -> list:
    return [item for m in modules for item in _items(m)]


def model_format(model) -> str:
    """The family format ``export(format='auto')`` chooses: packed (binarized layers), factorized
    (low-rank layers), sparse (masked or pruned layers), else dense."""
    from ..binary import BINARIZED_LAYERS
    from ..lowrank import _SVDFactors
    from ..quant import QUANT_LAYERS
    layers = list(model.modules())
    if any(isinstance(m, BINARIZED_LAYERS) for m in layers):
        return "packed"
    if any(isinstance(m, QUANT_LAYERS) for m in layers):
        return "quantized"
    if any(isinstance(m, _SVDFactors) for m in layers):
        return "factorized"
    if any("mask" in m._buffers or "weight_mask" in m._buffers for m in layers):
        return "sparse"
    return "dense"


# ------------------------------------------------------------------------------------------------
# one layer
# ------------------------------------------------------------------------------------------------
def _f32(t) -> np.ndarray:
    return np.array(getattr(t, "array", t), dtype=np.float32)


def _bias(m):
    return None if getattr(m, "bias", None) is None else _f32(m.bias)


def _conv_padding(m, kernel) -> tuple:
    (kh, kw), (dh, dw) = kernel, _pair(m.dilation)
    if isinstance(m.padding, str):
        if m.padding == "valid":
            return (0, 0, 0, 0)
        th, tw = dh * (kh - 1), dw * (kw - 1)
        return (th // 2, th - th // 2, tw // 2, tw - tw // 2)
    ph, pw = _pair(m.padding)
    return (ph, ph, pw, pw)


def _conv_op(w, bias, m, **geometry) -> Conv:
    kernel = tuple(w.shape[2:])
    geo = {"kernel": kernel, "stride": _pair(m.stride), "padding": _conv_padding(m, kernel),
           "dilation": _pair(m.dilation), "groups": int(getattr(m, "groups", 1))}
    geo.update(geometry)
    return Conv(np.ascontiguousarray(w.reshape(w.shape[0], -1)), bias, **geo)


def _lowrank_op(m):
    from ..lowrank import Conv2dSVD
    bias = _bias(m)
    if m.factor_params() >= m.dense_params():             # factors would not save anything: one dense op
        w = _f32(m.weight)
        return _conv_op(w, bias, m) if isinstance(m, Conv2dSVD) else Linear(w, bias)
    if not isinstance(m, Conv2dSVD):
        U, s, V = (_f32(p) for p in (m.U, m.s, m.V))
        first, second = Linear(np.ascontiguousarray((V * s).T), None), Linear(np.ascontiguousarray(U), bias)
        shape = (U.shape[0], V.shape[0])
    else:
        k1, k2 = (_f32(k) for k in m.factor_kernels())
        (sh, sw), (ph, pw), (dh, dw) = _pair(m.stride), _pair(m.padding), _pair(m.dilation)
        if m.decomposition == "channel":
            first = _conv_op(k1, None, m)
            second = Conv(np.ascontiguousarray(k2.reshape(k2.shape[0], -1)), bias, kernel=(1, 1))
        else:
            first = Conv(np.ascontiguousarray(k1.reshape(k1.shape[0], -1)), None, kernel=k1.shape[2:],
                         stride=(sh, 1), padding=(ph, ph, 0, 0), dilation=(dh, 1))
            second = Conv(np.ascontiguousarray(k2.reshape(k2.shape[0], -1)), bias, kernel=k2.shape[2:],
                          stride=(1, sw), padding=(0, 0, pw, pw), dilation=(1, dw))
        shape = (m.out_channels, m.in_channels) + tuple(m.kernel_size)
    return LowRank(first, second, m.rank, m.max_rank, shape)


def _affine_op(m) -> Affine:
    """An eval-mode BatchNorm as the library computes it: scale = γ/√(var + eps), shift = β − mean·scale."""
    if not m.track_running_stats or m.running_mean is None:
        raise ValueError(f"{type(m).__name__} has no running statistics to deploy with (track_running_stats=False)")
    mean, var = _f32(m.running_mean), _f32(m.running_var)
    inv = (1.0 / np.sqrt(var + np.float32(m.eps))).astype(np.float32)
    scale = inv * _f32(m.weight) if m.weight is not None else inv
    shift = (_f32(m.bias) if m.bias is not None else np.float32(0)) - mean * scale
    return Affine(scale.astype(np.float32), shift.astype(np.float32))


def _binary_op(m, scaled=True):
    """A BinarizedLinear / BinarizedConv2d as packed sign (and non-zero) bits, α and bias."""
    from ..binary import BinarizedLinear, binary_conv_weight
    if isinstance(m, BinarizedLinear):
        w = _f32(m.weight)
        return BinaryLinear(pack_bits(w >= 0), None, None, _bias(m), w.shape[1], m.binarize_input, scaled)
    q, alpha = binary_conv_weight(m)                                # q ∈ {−1, 0, +1} (O, Cg, kh, kw)
    taps = q.transpose(0, 2, 3, 1)                                  # (O, kh, kw, Cg): channels packed per tap
    nonzero = pack_bits(taps != 0) if m.weight_quant == "ternary" else None
    return BinaryConv(pack_bits(taps > 0), nonzero, alpha, _bias(m), q.shape[1], m.binarize_input, scaled,
                      kernel=q.shape[2:], stride=_pair(m.stride), padding=_conv_padding(m, q.shape[2:]),
                      dilation=_pair(m.dilation), groups=m.groups)


def _quant_op(m, name=""):
    """A QuantLinear / QuantConv2d as integer weight codes (int8, or 4- / 2-bit codes packed two / four per byte),
    per-channel weight scales, the input's scale and zero point, and the float32 bias."""
    from ... import no_grad
    from ..quant import QuantConv2d
    if not m.quantized():
        raise ValueError(f"cannot deploy {name or type(m).__name__}: its fake quantization is off (calibrate it with "
                         "compress.quant.calibrate, or train it, first)")
    with no_grad():
        codes, weight_scale = m.weight_codes()
    w = np.rint(codes.array).astype(np.int16).reshape(codes.shape[0], -1)
    if m.quantizer == "dorefa":                        # odd integers 2q − n stored as their q in [0, n]
        n = 2 ** m.bits - 1
        stored, quant = (w + n) // 2, {"mult": 2, "offset": n, "signed": False}
    else:
        stored, quant = w, {"mult": 1, "offset": 0, "signed": True}
    width = code_width(m.bits)
    stored = pack_codes(stored, width) if width < 8 else stored.astype(np.int8 if quant["signed"] else np.uint8)
    fq = m.input_fake_quant
    args = (np.ascontiguousarray(stored), np.asarray(weight_scale, np.float32).reshape(-1),
            _f32(fq.scale).reshape(()), np.asarray(fq.zero_point.array, np.int32).reshape(()), _bias(m))
    quant.update(bits=m.bits, reduction=w.shape[1], quant_min=fq.quant_min, quant_max=fq.quant_max,
                 exact32=m.exact_in_float32())
    if not isinstance(m, QuantConv2d):
        return QuantLinear(*args, **quant)
    kernel = tuple(m.weight.shape[2:])
    return QuantConv(*args, kernel=kernel, stride=_pair(m.stride), padding=_conv_padding(m, kernel),
                     dilation=_pair(m.dilation), groups=m.groups, **quant)


def _leaf_op(m, storage, name=""):
    """The op of one float / factorised / binarized layer, or None for a layer that computes nothing."""
    from ... import nn
    from ..binary import BINARIZED_LAYERS
    from ..lowrank import _SVDFactors
    from ..prune import effective_weight
    from ..quant import QUANT_LAYERS
    if isinstance(m, (nn.Dropout, nn.Identity)):
        return None
    if isinstance(m, BINARIZED_LAYERS):
        return _binary_op(m)
    if isinstance(m, QUANT_LAYERS):
        return _quant_op(m, name)
    if isinstance(m, _SVDFactors):                      # before Linear/Conv2d: LinearSVD subclasses Linear
        return _lowrank_op(m)
    if isinstance(m, nn.Linear):
        return Linear(_f32(effective_weight(m)), _bias(m))
    if isinstance(m, nn.Conv2d):
        return _conv_op(_f32(effective_weight(m)), _bias(m), m)
    if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return _affine_op(m)
    if isinstance(m, nn.ReLU):
        return ReLU()
    if isinstance(m, nn.Flatten):
        return Flatten(m.start_dim, m.end_dim)
    if isinstance(m, nn.MaxPool2d):
        if m.return_indices:
            raise ValueError("MaxPool2d(return_indices=True) has no deployed form (the indices are not logits)")
        return MaxPool(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), _pair(m.dilation), m.ceil_mode)
    if isinstance(m, nn.AvgPool2d):
        return AvgPool(_pair(m.kernel_size), _pair(m.stride), _pair(m.padding), m.ceil_mode, m.count_include_pad,
                       m.divisor_override)
    if isinstance(m, nn.AdaptiveAvgPool2d):
        size = m.output_size if isinstance(m.output_size, (tuple, list)) else (m.output_size, m.output_size)
        return AdaptiveAvgPool(size)
    raise ValueError(f"cannot deploy layer {name!r} ({type(m).__name__}); supported: Linear, Conv2d (and their masked, pruned, "
                     "low-rank and binarized forms), BatchNorm1d/2d, ReLU, Flatten, MaxPool2d, AvgPool2d, "
                     "AdaptiveAvgPool2d, Dropout, Identity, nn.Sequential and modules with deploy_layers() "
                     "(residual blocks)")


# ------------------------------------------------------------------------------------------------
# threshold folding
# ------------------------------------------------------------------------------------------------
def _binary_input(m) -> bool:
    from ..binary import BINARIZED_LAYERS
    return isinstance(m, BINARIZED_LAYERS) and m.binarize_input


def _after_bn(items, i):
    """If ``items[i]`` is a BatchNorm whose output (through ReLUs, max pools, Flatten, Dropout) is the input
    of a binary-input layer, return ([BN, ReLU ...], [pools / flatten, to run on the bits], index of that
    layer); else None."""
    from ... import nn
    if i >= len(items) or not isinstance(items[i], (nn.BatchNorm1d, nn.BatchNorm2d)):
        return None
    monotone, bit_ops = [items[i]], []
    i += 1
    while i < len(items) and isinstance(items[i], (nn.Dropout, nn.Identity, nn.ReLU, nn.MaxPool2d, nn.Flatten)):
        if isinstance(items[i], nn.ReLU):
            monotone.append(items[i])
        elif isinstance(items[i], (nn.MaxPool2d, nn.Flatten)):
            bit_ops.append(items[i])
        i += 1
    if i < len(items) and _binary_input(items[i]):
        return monotone, bit_ops, i
    return None


def _fold_plan(items, j):
    """If the binary-input layer ``items[j]`` feeds (through max pools, a BatchNorm, ReLUs, max pools,
    Flatten, Dropout) another binary-input layer, return (pools on the integers, [BN, ReLU ...], ops on
    the bits, index of that layer); else None."""
    from ... import nn
    i, int_pools = j + 1, []
    while i < len(items) and isinstance(items[i], (nn.Dropout, nn.Identity, nn.MaxPool2d)):
        if isinstance(items[i], nn.MaxPool2d):
            int_pools.append(items[i])
        i += 1
    plan = _after_bn(items, i)
    return None if plan is None else (int_pools,) + plan


def _run(modules, y):
    from ... import no_grad, tensor
    with no_grad():
        y = tensor(y)
        for m in modules:
            y = m(y)
    return y.array


def _fold(plus):
    """Per channel, from ``plus`` (inputs ascending on axis 0; monotone per channel): (rising, count of +1)."""
    rising = plus[0] <= plus[-1]
    steps = np.diff(plus.astype(np.int8), axis=0)
    if np.any(np.where(rising, steps < 0, steps > 0)):
        raise AssertionError("threshold folding: sign(BatchNorm(x)) is not monotone in x")
    return rising, plus.sum(0)


def _threshold_op(layer, monotone) -> Threshold:
    """``sign(f(k))`` for every integer ``k ∈ [−n, n]``, f = the layer's ``·α + b`` then ``monotone``
    (the model's own modules, eval mode), folded to one int32 threshold and one flip per channel."""
    from ... import no_grad, tensor
    from ..binary import BinarizedConv2d
    conv = isinstance(layer, BinarizedConv2d)
    n = int(np.prod(layer.weight.shape[1:]))
    channels = layer.weight.shape[0]
    k = np.repeat(np.arange(-n, n + 1, dtype=np.float32)[:, None], channels, axis=1)
    with no_grad():
        y = tensor(k.reshape(k.shape + (1, 1)) if conv else k)
        y = layer.scale_output(y) if conv else (y if layer.bias is None else y + layer.bias)
        for m in monotone:
            y = m(y)
    rising, count = _fold(y.array.reshape(2 * n + 1, channels) >= 0)
    threshold = np.where(rising, n + 1 - count, -n + count - 1)      # +1 iff k >= T (rising) / k <= T (falling)
    return Threshold(threshold.astype(np.int32), ~rising)


_LIMIT = np.float32(1e30)         # float thresholds are searched in [-1e30, 1e30] (BN of larger values may overflow)


def _ordered(x: np.ndarray) -> np.ndarray:
    """float32 -> int64 keys in the same order (−0 and +0 both 0)."""
    u = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
    return np.where(u >= 0, u, -(u & 0x7FFFFFFF))


def _unordered(o: np.ndarray) -> np.ndarray:
    return np.where(o >= 0, o, (-o) | 0x80000000).astype(np.uint32).view(np.float32)


def _float_threshold_op(monotone) -> Threshold:
    """``sign(f(x))`` for float32 x, f = ``monotone`` (a BatchNorm, ReLUs; the model's own modules):
    ``x >= T`` (``x <= T`` where flip) with T the float32 where the sign changes, found by bisection over
    the ordered float32 values, so it agrees with the float model on every float32 input in [−1e30, 1e30]."""
    bn = monotone[0]
    channels = bn.num_features
    shape = (1, channels, 1, 1) if bn.__class__.__name__ == "BatchNorm2d" else (1, channels)

    def plus(o):
        return _run(monotone, _unordered(o).reshape(shape)).reshape(channels) >= 0
    lo, hi = np.full(channels, _ordered(-_LIMIT)), np.full(channels, _ordered(_LIMIT))
    p_lo, p_hi = plus(lo), plus(hi)
    rising = ~p_lo | p_hi                        # constant channels count as rising
    while np.any(hi - lo > 1):                   # invariant: plus(lo) != plus(hi) on the non-constant channels
        mid = (lo + hi) // 2
        p_mid = plus(mid)
        go_up = p_mid != p_lo                    # the change is at or below mid
        hi, lo = np.where(go_up, mid, hi), np.where(go_up, lo, mid)
    const = p_lo == p_hi
    threshold = np.where(rising, _unordered(hi), _unordered(lo))
    threshold = np.where(const, np.where(p_lo, -np.inf, np.inf), threshold).astype(np.float32)
    return Threshold(threshold, ~rising)


# ------------------------------------------------------------------------------------------------
# the chain -> ops
# ------------------------------------------------------------------------------------------------
def _convert(items, names, storage) -> list:
    from ... import nn
    ops, j, bits = [], 0, False
    while j < len(items):
        m = items[j]
        if isinstance(m, Residual):
            ops.append(ResidualOp(_convert(m.main, names, storage), _convert(m.shortcut, names, storage)))
            j, bits = j + 1, False
            continue
        if _binary_input(m):
            if not bits:
                ops.append(Sign())
            plan = _fold_plan(items, j)
            op = _binary_op(m, scaled=plan is None)
            op.name = names.get(id(m), "")
            ops.append(op)
            if plan is None:
                j, bits = j + 1, False
                continue
            int_pools, monotone, bit_ops, nxt = plan
            ops += [_leaf_op(p, storage) for p in int_pools]
            ops.append(_threshold_op(m, monotone))
            ops[-1].name = names.get(id(monotone[0]), "")
            ops += [_leaf_op(p, storage) for p in bit_ops]
            j, bits = nxt, True
            continue
        plan = _after_bn(items, j)
        if plan is not None:                             # a float BatchNorm whose sign the next layer takes
            monotone, bit_ops, nxt = plan
            ops.append(_float_threshold_op(monotone))
            ops[-1].name = names.get(id(m), "")
            ops += [_leaf_op(p, storage) for p in bit_ops]
            j, bits = nxt, True
            continue
        op = _leaf_op(m, storage, names.get(id(m), ""))
        if op is not None:
            op.name = names.get(id(m), "")
            ops.append(op)
            bits = bits and isinstance(m, (nn.MaxPool2d, nn.Flatten))
        j += 1
    return ops


def _store(ops, storage) -> None:
    """Each float matrix dense or CSR, per ``storage``; in place, nested ops included."""
    from .runtime import walk
    for _, op in walk(ops):
        if isinstance(op, (Linear, Conv)) and not (isinstance(op, Conv) and op.groups != 1):
            w = op.dense()
            csr = CSR.from_dense(w)
            op.weight = csr if storage == "csr" or (storage == "auto" and csr.nbytes < w.nbytes) else \
                np.ascontiguousarray(w)


def export(model, format: str = "auto", meta: dict | None = None, storage: str | None = None,
           shrink: bool | None = None) -> DeployedModel:
    """The deployed form of ``model`` (put in eval mode). ``format``: one of :data:`FORMATS`; ``storage``
    and ``shrink`` override its preset (see the module docstring)."""
    if format not in FORMATS:
        raise ValueError(f"export: format={format!r}; choose one of {FORMATS}")
    model.eval()
    format = model_format(model) if format == "auto" else format
    preset_storage, preset_shrink = _PRESETS[format]
    storage = preset_storage if storage is None else storage
    if storage not in ("auto", "csr", "dense"):
        raise ValueError(f"export: storage={storage!r} must be 'auto', 'csr' or 'dense'")
    names = {id(m): name for name, m in model.named_modules()}
    ops = _convert(_items(model), names, storage)
    if preset_shrink if shrink is None else shrink:
        _shrink(ops)
    _store(ops, storage)
    return DeployedModel(ops, {**(meta or {}), "format": format})


def to_sparse(model, format: str = "auto", shrink: bool = True, use_scipy: bool = True) -> DeployedModel:
    """The pruned form: matrices in CSR (``format='csr'``), dense (``'dense'``) or whichever is smaller per
    layer (``'auto'``); ``shrink`` removes structurally pruned neurons/filters."""
    if format not in ("auto", "csr", "dense"):
        raise ValueError(f"to_sparse: format={format!r} must be 'auto', 'csr' or 'dense'")
    deployed = export(model, "sparse", storage=format, shrink=shrink)
    if not use_scipy:
        from .runtime import walk
        for _, op in walk(deployed.ops):
            if isinstance(op, (Linear, Conv)):
                op.use_scipy = False
    return deployed


def pack(model) -> DeployedModel:
    """The packed form of a binarized model (``export(model, 'packed')``); needs eval mode."""
    if model.training:
        raise ValueError("pack needs the model in eval mode (BatchNorm running statistics): call model.eval()")
    return export(model, "packed")


# ------------------------------------------------------------------------------------------------
# structured shrinking
# ------------------------------------------------------------------------------------------------
def _mat(op) -> bool:
    return isinstance(op, Linear) or (isinstance(op, Conv) and op.groups == 1)


def _shrink(ops) -> None:
    """Physically remove all-zero output neurons/filters (folding the constant they emit into the next
    layer's bias) and neurons no later weight reads; in place, along each chain (residual branches too).

    A neuron whose weights are all zero outputs the constant ``c = f(b)`` (f: the per-channel affine,
    ReLU and max pools between the two layers; a max pool of a constant is that constant); its effect on
    the next layer, ``W_next[:, i]·c`` summed over the kernel, is folded into that layer's bias -- exact
    unless the next layer zero-pads (then only c = 0 is removed)."""
    for op in ops:
        if isinstance(op, ResidualOp):
            _shrink(op.main)
            _shrink(op.shortcut)
    mats = [i for i, op in enumerate(ops) if _mat(op)]
    for a, b in zip(mats, mats[1:]):
        between = ops[a + 1:b]
        if not all(isinstance(op, (Affine, ReLU, MaxPool)) for op in between):
            continue                                          # e.g. a Flatten: channel <-> column map differs
        first, nxt = ops[a], ops[b]
        if isinstance(first, Linear) != isinstance(nxt, Linear):
            continue
        wa, wb = first.dense(), nxt.dense()
        k = 1 if isinstance(nxt, Linear) else int(np.prod(nxt.kernel))
        if wb.shape[1] != wa.shape[0] * k:
            continue
        wb3 = wb.reshape(wb.shape[0], wa.shape[0], k)
        zero_row = ~wa.any(axis=1)
        unused = ~wb3.any(axis=(0, 2))
        const = np.zeros(wa.shape[0], wa.dtype) if first.bias is None else first.bias.copy()
        for op in between:
            if not isinstance(op, MaxPool):
                const = op(const[None])[0]
        pads = isinstance(nxt, Conv) and any(nxt.padding)
        foldable = zero_row & ((const == 0) | (not pads))
        remove = unused | foldable
        if not remove.any() or remove.all():
            continue
        contrib = (wb3[:, remove & ~unused, :].sum(axis=2) @ const[remove & ~unused]).astype(wb.dtype)
        keep = ~remove
        if nxt.bias is not None or np.any(contrib):
            nxt.bias = (np.zeros(wb.shape[0], wb.dtype) if nxt.bias is None else nxt.bias) + contrib
        first.weight = np.ascontiguousarray(wa[keep])
        if first.bias is not None:
            first.bias = first.bias[keep]
        for op in between:
            if isinstance(op, Affine):
                op.scale, op.shift = op.scale[keep], op.shift[keep]
        nxt.weight = np.ascontiguousarray(wb3[:, keep, :].reshape(wb.shape[0], -1))
