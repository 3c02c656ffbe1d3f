"""The deployed runtime: the ops a deployed file runs, in plain NumPy (no autograd, no library engine).

A :class:`DeployedModel` is a chain of ops called on an ndarray batch. Every storage format lives here,
and only here: dense float32 matrices, CSR (``values``, ``indices``, ``indptr``), thin low-rank factors
(two matrices), packed bits, and k-bit integer weight codes. The converters that build these ops from a trained model are in
:mod:`.convert`; this module imports nothing from them.

Float ops (``linear``, ``conv``, ``affine``, pools, ``relu``, ``flatten``, ``residual``) compute what
the library's eval-mode layers compute, with the same formulas in the same order (a convolution is the
same (G, Og, K) x (G, K, OH·OW·N) GEMM over a batch-innermost im2col, a folded BatchNorm is
``y = x·(γ/σ); y += β − μ·γ/σ``), so a deployed dense model returns the float model's numbers.

Binary ops. Signs ``x_b = +1 if x >= 0 else -1`` travel as :class:`Bits`: one bit per channel (1 = +1),
packed along the channel axis at every spatial position (NHWC, each position padded to a whole word of
8, 16, 32 or 64 bits). For ``x, w ∈ {±1}^n``, ``x·w = n − 2·popcount(x XOR w)``; a ternary weight
``t ∈ {−1, 0, +1}`` is a sign bit and a non-zero bit, ``x·t = nnz − 2·popcount((x XOR s) AND z)``.

Zero padding of binarized activations. The float model pads the *binarized* input of a convolution with
zeros, and a zero is neither +1 nor −1. The packed convolution pads with bit 0 (−1) and then corrects,
as Larq Compute Engine does: each padded tap added ``(−1)·t[o, c, i, j]`` that the float model did not,
so ``y[o, p, q] = xnor_dot + Σ_{(i, j) padded at (p, q)} Σ_c t[o, c, i, j]``. The correction depends
only on the output position and the filter, is an exact integer, and is computed once per input size.
(The GEMM kernel expands the bits to ±1 floats and zero-pads them exactly as the float model does.)

Every binary-input layer has two exact kernels, chosen per layer and per input shape (``kernel='auto'``
times both on the first call of a shape and keeps the faster; ``'xnor'`` / ``'gemm'`` force one):

* ``xnor``: XNOR-popcount over a packed im2col (``np.bitwise_count``): 1 bit per MAC of memory traffic,
  no float work; wins at small batches, where a GEMM cannot fill its blocks;
* ``gemm``: bits expanded to ±1 float32 and one BLAS GEMM with the ±1 (or 0) weights: every partial sum
  is an integer below 2^24, so float32 is exact; wins at large batches, where BLAS runs at full speed.
"""
from __future__ import annotations

import json
import os
import tempfile
import time

import numpy as np

try:                                     # optional: the fast CSR product
    import scipy.sparse as _sp
except ImportError:                      # pragma: no cover - exercised by forcing use_scipy=False
    _sp = None

FORMAT = "tinycompress.deployed/2"
KERNELS = ("auto", "xnor", "gemm")


# ================================================================================================
# bits
# ================================================================================================
def _word(nbytes: int):
    """(word dtype, padded bytes) for ``nbytes`` bytes per position: 1, 2, 4 or 8 bytes, then 8-byte words."""
    padded = 1 << (max(nbytes, 1) - 1).bit_length() if nbytes <= 8 else -(-nbytes // 8) * 8
    return {1: np.uint8, 2: np.uint16, 4: np.uint32}.get(padded, np.uint64), padded


def pack_bits(mask: np.ndarray) -> np.ndarray:
    """bool (..., n) -> words (..., words): bit 1 where True, zero-padded to a whole word."""
    packed = np.packbits(mask, axis=-1)
    dtype, padded = _word(packed.shape[-1])
    if padded != packed.shape[-1]:
        pad = np.zeros(packed.shape[:-1] + (padded - packed.shape[-1],), np.uint8)
        packed = np.concatenate([packed, pad], axis=-1)
    return np.ascontiguousarray(packed).view(dtype)


def unpack_bits(words: np.ndarray, n: int) -> np.ndarray:
    """Inverse of :func:`pack_bits`: bool (..., n)."""
    return np.unpackbits(np.ascontiguousarray(words).view(np.uint8), axis=-1, count=n).view(bool)


def pack_signs(x: np.ndarray) -> np.ndarray:
    """(..., n) values -> words with bit 1 where ``x >= 0`` (sign(0) = +1, as the training form)."""
    return pack_bits(np.greater_equal(x, 0))


def unpack_signs(words: np.ndarray, n: int, dtype=np.float32) -> np.ndarray:
    """±1 values of ``dtype`` (last axis ``n``) from :func:`pack_signs` words."""
    out = unpack_bits(words, n).astype(dtype)
    out *= 2
    out -= 1
    return out


def _as_u64(words: np.ndarray) -> np.ndarray:
    """(R, K) words of any width -> (R, K') uint64 holding the same bits (zero bytes appended): XOR and
    popcount are bitwise, so regrouping x and w alike leaves ``popcount(x XOR w)`` unchanged."""
    b = np.ascontiguousarray(words).view(np.uint8)
    pad = (-b.shape[1]) % 8
    if pad:
        b = np.concatenate([b, np.zeros((b.shape[0], pad), np.uint8)], axis=1)
    return b.view(np.uint64)


def xnor_dot(x: np.ndarray, w: np.ndarray, n, nonzero: np.ndarray | None = None) -> np.ndarray:
    """``x ∈ {±1}^(M, ·)``, ``w ∈ {±1}^(O, ·)`` packed to (M, K) and (O, K) words -> (M, O) int32
    ``x·wᵀ = n − 2·popcount(x XOR w)`` (``n`` an int or per row of w). With ``nonzero`` (O, K) words
    (ternary weights) the disagreements are counted only where the weight is non-zero and ``n`` is
    each row's count of non-zeros. A few rows (M·O <= 4096) run as one (K, M, O) broadcast summed over K;
    more loop over blocks of rows and over the 64-bit words (cache-sized passes), never over samples."""
    x = _as_u64(x)
    w = w if w.dtype == np.uint64 else _as_u64(w)
    if nonzero is not None and nonzero.dtype != np.uint64:
        nonzero = _as_u64(nonzero)
    m, k = x.shape
    o = w.shape[0]
    n = np.asarray(n, np.int32)
    if m * o <= 4096:                                    # few rows: one (K, M, O) pass, summed over K
        d = np.bitwise_xor(np.ascontiguousarray(x.T)[:, :, None], np.ascontiguousarray(w.T)[:, None, :])
        if nonzero is not None:
            d &= np.ascontiguousarray(nonzero.T)[:, None, :]
        return n - 2 * np.bitwise_count(d).sum(0, dtype=np.int32)
    out = np.empty((m, o), np.int32)
    block = max(1, (1 << 16) // max(o, 1))               # (block, O) temporaries stay in cache
    for lo in range(0, m, block):
        xs = x[lo:lo + block]
        count = np.zeros((xs.shape[0], o), np.int32)
        for j in range(k):
            d = np.bitwise_xor(xs[:, j:j + 1], w[:, j])
            if nonzero is not None:
                d &= nonzero[:, j]
            count += np.bitwise_count(d)
        out[lo:lo + block] = n - 2 * count
    return out


class Bits:
    """A batch of signs, one bit each: ``words`` (N, Wd) for features or (N, H, W, Wd) for NCHW maps
    (channels packed at each position); ``channels`` real bits per position."""

    def __init__(self, words: np.ndarray, channels: int):
        self.words, self.channels = words, int(channels)

    @classmethod
    def from_mask(cls, plus: np.ndarray) -> "Bits":
        """bool (N, C) or (N, C, H, W), True for +1."""
        if plus.ndim == 4:
            plus = plus.transpose(0, 2, 3, 1)
        return cls(pack_bits(plus), plus.shape[-1])

    @property
    def shape(self) -> tuple:
        """The NCHW (or (N, C)) shape of the signs."""
        w = self.words
        return (w.shape[0], self.channels) + w.shape[1:-1]

    def plus(self) -> np.ndarray:
        """bool (N, C[, H, W]), True for +1."""
        b = unpack_bits(self.words, self.channels)
        return b.transpose(0, 3, 1, 2) if b.ndim == 4 else b

    def pm1(self) -> np.ndarray:
        """±1 float32 (N, C[, H, W])."""
        out = self.plus().astype(np.float32)
        out *= 2
        out -= 1
        return out


# ================================================================================================
# CSR
# ================================================================================================
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


def _store_matrix(w) -> tuple[dict, dict]:
    """(arrays, config) of a dense or CSR matrix."""
    if isinstance(w, CSR):
        return {"values": w.values, "indices": w.indices, "indptr": w.indptr}, {"csr": True, "shape": list(w.shape)}
    return {"weight": w}, {"csr": False, "shape": list(w.shape)}


def _load_matrix(arrays: dict, config: dict):
    if config["csr"]:
        return CSR(arrays["values"], arrays["indices"], arrays["indptr"], config["shape"])
    return arrays["weight"]


# ================================================================================================
# geometry (the library's im2col layout: batch innermost)
# ================================================================================================
def _windows(xp, kh, kw, sh, sw, dh, dw, axis):
    """Strided view of ``xp`` with spatial axes ``axis, axis+1`` -> (.., OH, OW, .., kh, kw):
    ``view[.., p, q, .., i, j] = xp[.., p·sh + i·dh, q·sw + j·dw, ..]`` (no copy)."""
    h, w = xp.shape[axis:axis + 2]
    oh, ow = (h - dh * (kh - 1) - 1) // sh + 1, (w - dw * (kw - 1) - 1) // sw + 1
    st = xp.strides
    shape = xp.shape[:axis] + (oh, ow) + xp.shape[axis + 2:] + (kh, kw)
    strides = st[:axis] + (st[axis] * sh, st[axis + 1] * sw) + st[axis + 2:] + (st[axis] * dh, st[axis + 1] * dw)
    return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=False)


def conv_out_size(size: int, k: int, s: int, p0: int, p1: int, d: int) -> int:
    return (size + p0 + p1 - d * (k - 1) - 1) // s + 1


def _im2col(x, kernel, stride, padding, dilation, groups):
    """(N, C, H, W) -> col (G, Cg·kh·kw, OH·OW·N), rows ordered (c, i, j), columns (p, q, n)."""
    (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = kernel, stride, padding, dilation
    n, c = x.shape[:2]
    x_last = x.transpose(1, 2, 3, 0)                                       # (C, H, W, N)
    xp = np.pad(x_last, ((0, 0), (pt, pb), (pl, pr), (0, 0))) if any(padding) else np.ascontiguousarray(x_last)
    win = _windows(xp, kh, kw, sh, sw, dh, dw, axis=1)                     # (C, OH, OW, N, kh, kw)
    oh, ow = win.shape[1:3]
    col = np.ascontiguousarray(win.transpose(0, 4, 5, 1, 2, 3)).reshape(groups, c // groups * kh * kw, oh * ow * n)
    return col, (n, oh, ow)


def _pool_out(size, k, s, p, d, ceil_mode):
    span = size + 2 * p - d * (k - 1) - 1
    out = (-(-span // s) if ceil_mode else span // s) + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_windows(x, kernel, stride, padding, dilation, ceil_mode, fill, axis=2):
    """Windows (.., OH, OW, .., kh, kw) over spatial axes ``axis, axis+1``, padded with ``fill``, torch's sizes."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    h, w = x.shape[axis:axis + 2]
    oh, ow = _pool_out(h, kh, sh, ph, dh, ceil_mode), _pool_out(w, kw, sw, pw, dw, ceil_mode)
    eh = max(0, (oh - 1) * sh + dh * (kh - 1) + 1 - (h + 2 * ph))
    ew = max(0, (ow - 1) * sw + dw * (kw - 1) + 1 - (w + 2 * pw))
    pads = [(0, 0)] * x.ndim
    pads[axis], pads[axis + 1] = (ph, ph + eh), (pw, pw + ew)
    xp = np.pad(x, pads, constant_values=fill) if ph or pw or eh or ew else x
    win = _windows(xp, kh, kw, sh, sw, dh, dw, axis)
    index = [slice(None)] * win.ndim
    index[axis], index[axis + 1] = slice(None, oh), slice(None, ow)
    return win[tuple(index)]


# ================================================================================================
# ops
# ================================================================================================
_KINDS: dict[str, type] = {}


class Op:
    """One step of a deployed model. ``arrays()`` are what the file stores (and ``nbytes`` counts),
    ``config()`` its JSON settings, ``name`` the trained module it came from."""

    kind = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.kind:
            _KINDS[cls.kind] = cls

    name = ""

    def __call__(self, x):
        raise NotImplementedError

    def arrays(self) -> dict:
        return {}

    def config(self) -> dict:
        return {}

    def children(self) -> dict:
        """Nested op lists (a residual block's branches, a low-rank layer's two factors)."""
        return {}

    @property
    def nbytes(self) -> int:
        """Bytes of every array this op stores, its children's included."""
        own = sum(a.nbytes for a in self.arrays().values())
        return int(own + sum(op.nbytes for sub in self.children().values() for op in sub))

    @classmethod
    def from_spec(cls, arrays: dict, config: dict, children: dict) -> "Op":
        return cls(**arrays, **config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name})"


def _float(x):
    if isinstance(x, Bits):
        return x.pm1()
    return x


class Linear(Op):
    """``y = x Wᵀ (+ b)``; W (out, in) dense float32 or :class:`CSR`."""
    kind = "linear"

    def __init__(self, weight, bias=None, use_scipy=True):
        self.weight, self.bias, self.use_scipy = weight, bias, use_scipy

    def dense(self) -> np.ndarray:
        return self.weight.to_dense() if isinstance(self.weight, CSR) else self.weight

    def __call__(self, x):
        x = _float(x)
        x2 = x.reshape(-1, x.shape[-1])
        y = self.weight.rmatmul_t(x2, self.use_scipy) if isinstance(self.weight, CSR) else x2 @ self.weight.T
        if self.bias is not None:
            y += self.bias
        return y.reshape(x.shape[:-1] + (y.shape[-1],))

    def arrays(self):
        arrays, _ = _store_matrix(self.weight)
        return arrays if self.bias is None else {**arrays, "bias": self.bias}

    def config(self):
        return _store_matrix(self.weight)[1]

    @classmethod
    def from_spec(cls, arrays, config, children):
        return cls(_load_matrix(arrays, config), arrays.get("bias"))


class Conv(Op):
    """2-D convolution with stride, padding (top, bottom, left, right), dilation and groups; weight
    (O, Cg·kh·kw) dense float32 or :class:`CSR`: ``y[n, o] = Σ W[o] · im2col(x)[g(o)] (+ b[o])``."""
    kind = "conv"

    def __init__(self, weight, bias=None, kernel=(1, 1), stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1),
                 groups=1, use_scipy=True):
        self.weight, self.bias, self.use_scipy = weight, bias, use_scipy
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.padding, self.groups = tuple(padding), int(groups)

    def dense(self) -> np.ndarray:
        return self.weight.to_dense() if isinstance(self.weight, CSR) else self.weight

    def geometry(self) -> dict:
        return {"kernel": list(self.kernel), "stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation), "groups": self.groups}

    def out_shape(self, shape) -> tuple:
        n, _, h, w = shape
        (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        return (n, self.weight.shape[0], conv_out_size(h, kh, sh, pt, pb, dh), conv_out_size(w, kw, sw, pl, pr, dw))

    def __call__(self, x):
        x = _float(x)
        col, (n, oh, ow) = _im2col(x, self.kernel, self.stride, self.padding, self.dilation, self.groups)
        o, g = self.weight.shape[0], self.groups
        if isinstance(self.weight, CSR):
            if g != 1:
                raise NotImplementedError("a CSR convolution with groups > 1 (store it dense)")
            y = self.weight.rmatmul_t(np.ascontiguousarray(col[0].T), self.use_scipy).T
        else:
            y = np.matmul(self.weight.reshape(g, o // g, -1), col)
        y = np.ascontiguousarray(y.reshape(o, oh, ow, n).transpose(3, 0, 1, 2))
        if self.bias is not None:
            y += self.bias.reshape(1, o, 1, 1)
        return y

    def arrays(self):
        arrays, _ = _store_matrix(self.weight)
        return arrays if self.bias is None else {**arrays, "bias": self.bias}

    def config(self):
        return {**_store_matrix(self.weight)[1], **self.geometry()}

    @classmethod
    def from_spec(cls, arrays, config, children):
        geo = {k: config[k] for k in ("kernel", "stride", "padding", "dilation", "groups")}
        return cls(_load_matrix(arrays, config), arrays.get("bias"), **geo)


# ================================================================================================
# k-bit quantized layers: integer weights and inputs, exact integer GEMMs
# ================================================================================================
def affine_codes(x: np.ndarray, scale, zero_point, quant_min: int, quant_max: int):
    """(``q − z`` as float32 integers, the in-range mask) for ``q = clamp(z + nearbyint(x·(1/s)), qmin, qmax)``,
    every step a float32 operation in torch's order (``1/s``, ``x·(1/s)``, round half to even, ``+ z``);
    ``scale`` / ``zero_point`` scalars or arrays broadcasting against x. The one kernel of the training
    form (:mod:`tinycompress.compress.quant`) and of the deployed one."""
    s = np.asarray(scale, np.float32)
    t = np.rint(x.astype(np.float32, copy=False) * (np.float32(1) / s))
    z = np.asarray(zero_point).astype(np.float32)
    t += z
    inside = (t >= quant_min) & (t <= quant_max)
    np.clip(t, quant_min, quant_max, out=t)
    t -= z
    return t, inside


def code_width(bits: int) -> int:
    """Bits a stored weight code takes: 2 (four codes per byte) for bits <= 2, 4 (two per byte) for bits <= 4, else 8."""
    return 2 if bits <= 2 else 4 if bits <= 4 else 8


def pack_codes(codes: np.ndarray, width: int) -> np.ndarray:
    """int codes (O, K) that fit ``width`` (2 or 4) bits, two's complement for negative ones -> uint8
    (O, ⌈K·width/8⌉): code ``per·j + i`` (per = 8/width) in bits ``[i·width, (i+1)·width)`` of byte j (K
    padded with 0 codes)."""
    per = 8 // width
    c = np.asarray(codes, np.int16) & ((1 << width) - 1)
    pad = (-c.shape[-1]) % per
    if pad:
        c = np.concatenate([c, np.zeros(c.shape[:-1] + (pad,), c.dtype)], axis=-1)
    out = np.zeros(c.shape[:-1] + (c.shape[-1] // per,), np.int16)
    for i in range(per):
        out |= c[..., i::per] << (width * i)
    return out.astype(np.uint8)


def unpack_codes(packed: np.ndarray, k: int, width: int, signed: bool) -> np.ndarray:
    """Inverse of :func:`pack_codes`: int16 codes (O, k), sign-extended from ``width`` bits if ``signed``."""
    per, mask = 8 // width, (1 << width) - 1
    p = np.asarray(packed, np.int16)
    c = np.empty(p.shape[:-1] + (per * p.shape[-1],), np.int16)
    for i in range(per):
        c[..., i::per] = (p >> (width * i)) & mask
    if signed:
        c -= (c >= 1 << (width - 1)) * np.int16(1 << width)
    return c[..., :k]


class _Quant(Op):
    """A k-bit layer: weight codes (int8 / uint8; two 4-bit codes per byte when ``bits <= 4``, four 2-bit ones
    when ``bits <= 2``: :func:`code_width`) whose integers
    are ``w = mult·code − offset`` (affine: the signed codes themselves; DoReFa: ``2·code − (2^k − 1)``),
    a float32 scale per output channel, the input's scale and zero point and range, and a float32 bias::

        c_x = clamp(z_x + nearbyint(x/s_x), qmin, qmax) − z_x          (integers)
        y   = (Σ_k c_x·w) · (s_x·s_w) + b

    The integer sum is a float32 GEMM where ``exact32`` (every partial sum below 2^24: the training layer's
    ``K·(qmax − qmin)·max|w| <= 2^24``), else a float64 GEMM (exact below 2^53) rounded to float32 once, as
    the training form does: the outputs equal the eval-mode QuantLinear/QuantConv2d's bit for bit."""

    def __init__(self, codes, weight_scale, input_scale, input_zero_point, bias=None, bits=8, reduction=1,
                 quant_min=0, quant_max=255, mult=1, offset=0, signed=True, exact32=True):
        self.codes, self.weight_scale, self.bias = codes, weight_scale, bias
        self.input_scale = np.asarray(input_scale, np.float32).reshape(())
        self.input_zero_point = np.asarray(input_zero_point, np.int32).reshape(())
        self.bits, self.reduction, self.quant_min, self.quant_max = int(bits), int(reduction), int(quant_min), int(quant_max)
        self.mult, self.offset, self.signed, self.exact32 = int(mult), int(offset), bool(signed), bool(exact32)
        self._weights = None

    def integer_weights(self) -> np.ndarray:
        """(O, K) the integer weights ``mult·code − offset``, as float32 (exact) for the GEMM."""
        if self._weights is None:
            width = code_width(self.bits)
            c = unpack_codes(self.codes, self.reduction, width, self.signed) if width < 8 else self.codes
            self._weights = np.ascontiguousarray(self.mult * c.astype(np.float32) - self.offset)
        return self._weights

    def input_codes(self, x) -> np.ndarray:
        c, _ = affine_codes(_float(x), self.input_scale, self.input_zero_point, self.quant_min, self.quant_max)
        return c if self.exact32 else c.astype(np.float64)

    def _post(self, acc, shape):
        y = acc.astype(np.float32, copy=False) * (self.input_scale * self.weight_scale).astype(np.float32).reshape(shape)
        if self.bias is not None:
            y += self.bias.reshape(shape)
        return y

    def arrays(self):
        out = {"codes": self.codes, "weight_scale": self.weight_scale, "input_scale": self.input_scale,
               "input_zero_point": self.input_zero_point}
        return out if self.bias is None else {**out, "bias": self.bias}

    def config(self):
        return {"bits": self.bits, "reduction": self.reduction, "quant_min": self.quant_min,
                "quant_max": self.quant_max, "mult": self.mult, "offset": self.offset, "signed": self.signed,
                "exact32": self.exact32}


class QuantLinear(_Quant):
    """A quantized Linear: ``y = (c_x · Wᵀ)·(s_x·s_w) + b``, W the (out, in) integer weights."""
    kind = "quant_linear"

    def __call__(self, x):
        c = self.input_codes(x)
        w = self.integer_weights()
        c2 = c.reshape(-1, c.shape[-1])
        acc = c2 @ (w.T if self.exact32 else w.T.astype(np.float64))
        return self._post(acc, (1, -1)).reshape(c.shape[:-1] + (w.shape[0],))


class QuantConv(_Quant):
    """A quantized Conv2d: the :class:`Conv` GEMM over the input codes (zero padding pads code 0, i.e. x̂ = 0)
    with the integer weights, then ``·(s_x·s_w) + b`` per output channel."""
    kind = "quant_conv"

    def __init__(self, codes, weight_scale, input_scale, input_zero_point, bias=None, kernel=(1, 1), stride=(1, 1),
                 padding=(0, 0, 0, 0), dilation=(1, 1), groups=1, **quant):
        super().__init__(codes, weight_scale, input_scale, input_zero_point, bias, **quant)
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.padding, self.groups = tuple(padding), int(groups)

    def __call__(self, x):
        w = self.integer_weights()
        conv = Conv(w if self.exact32 else w.astype(np.float64), None, self.kernel, self.stride, self.padding,
                    self.dilation, self.groups)
        return self._post(conv(self.input_codes(x)), (1, -1, 1, 1))

    def config(self):
        return {**super().config(), "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation), "groups": self.groups}


class Affine(Op):
    """Per-channel (axis 1) ``y = x·scale; y += shift``: an eval-mode BatchNorm folded, in the library's
    own order (``scale = γ/√(var + eps)``, ``shift = β − mean·scale``)."""
    kind = "affine"

    def __init__(self, scale, shift):
        self.scale, self.shift = scale, shift

    def __call__(self, x):
        x = _float(x)
        shape = (1, -1) + (1,) * (x.ndim - 2)
        y = x * self.scale.reshape(shape)
        y += self.shift.reshape(shape)
        return y

    def arrays(self):
        return {"scale": self.scale, "shift": self.shift}


class ReLU(Op):
    kind = "relu"

    def __call__(self, x):
        return np.maximum(_float(x), 0)


class Flatten(Op):
    """``x.reshape`` merging dims ``start_dim..end_dim``; on :class:`Bits` (start 1, end -1) the signs are
    re-packed in the flattened (C, H, W) order the next layer's columns use."""
    kind = "flatten"

    def __init__(self, start_dim=1, end_dim=-1):
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def __call__(self, x):
        if isinstance(x, Bits):
            if self.start_dim != 1 or self.end_dim not in (-1, len(x.shape) - 1):
                raise NotImplementedError("Flatten of packed signs other than Flatten(1, -1)")
            plus = x.plus()
            return Bits(pack_bits(plus.reshape(plus.shape[0], -1)), int(np.prod(plus.shape[1:])))
        s, e = self.start_dim % x.ndim, self.end_dim % x.ndim
        return x.reshape(x.shape[:s] + (-1,) + x.shape[e + 1:])

    def config(self):
        return {"start_dim": self.start_dim, "end_dim": self.end_dim}


class MaxPool(Op):
    """Max over windows (padding never wins). On :class:`Bits` it is an OR of the words: the max of ±1
    signs is +1 iff one is +1, and ``sign(max(v)) = max(sign(v))`` as sign is non-decreasing, so pooling
    the signs equals pooling before the sign; padding is bit 0, the identity of OR."""
    kind = "maxpool"

    def __init__(self, kernel, stride, padding=(0, 0), dilation=(1, 1), ceil_mode=False):
        self.kernel, self.stride, self.padding = tuple(kernel), tuple(stride), tuple(padding)
        self.dilation, self.ceil_mode = tuple(dilation), bool(ceil_mode)

    def _geo(self):
        return self.kernel, self.stride, self.padding, self.dilation, self.ceil_mode

    def __call__(self, x):
        if isinstance(x, Bits):
            win = _pool_windows(x.words, *self._geo(), fill=0, axis=1)        # (N, OH, OW, Wd, kh, kw)
            return Bits(np.ascontiguousarray(np.bitwise_or.reduce(win, axis=(-2, -1))), x.channels)
        win = _pool_windows(x, *self._geo(), fill=-np.inf)                   # (N, C, OH, OW, kh, kw)
        kh, kw = win.shape[-2:]
        y = win[..., 0, 0].copy()
        for k in range(1, kh * kw):
            np.maximum(y, win[..., k // kw, k % kw], out=y)
        return y

    def config(self):
        return {"kernel": list(self.kernel), "stride": list(self.stride), "padding": list(self.padding),
                "dilation": list(self.dilation), "ceil_mode": self.ceil_mode}


class AvgPool(Op):
    """Mean over windows with torch's divisor rules (``count_include_pad``, ``divisor_override``)."""
    kind = "avgpool"

    def __init__(self, kernel, stride, padding=(0, 0), ceil_mode=False, count_include_pad=True,
                 divisor_override=None):
        self.kernel, self.stride, self.padding = tuple(kernel), tuple(stride), tuple(padding)
        self.ceil_mode, self.count_include_pad = bool(ceil_mode), bool(count_include_pad)
        self.divisor_override = divisor_override

    def __call__(self, x):
        x = _float(x)
        win = _pool_windows(x, self.kernel, self.stride, self.padding, (1, 1), self.ceil_mode, 0)
        oh, ow = win.shape[2:4]
        if self.divisor_override:
            div = np.full((oh, ow), self.divisor_override)
        else:
            div = np.outer(*(_avg_divisor(size, k, s, p, out, self.count_include_pad) for size, k, s, p, out in
                             zip(x.shape[2:], self.kernel, self.stride, self.padding, (oh, ow))))
        return win.sum(axis=(4, 5)) / div.astype(x.dtype)

    def config(self):
        return {"kernel": list(self.kernel), "stride": list(self.stride), "padding": list(self.padding),
                "ceil_mode": self.ceil_mode, "count_include_pad": self.count_include_pad,
                "divisor_override": self.divisor_override}


def _avg_divisor(size, k, s, p, out, count_include_pad):
    start = np.arange(out) * s - p
    end = np.minimum(start + k, size + p)
    return (end - start) if count_include_pad else (np.minimum(end, size) - np.maximum(start, 0))


class AdaptiveAvgPool(Op):
    """Mean over torch's adaptive bins, as two bin-averaging GEMMs ``A_h · x · A_wᵀ``."""
    kind = "adaptive_avgpool"

    def __init__(self, output_size):
        self.output_size = tuple(output_size)

    def __call__(self, x):
        x = _float(x)
        mats = []
        for size, out in zip(x.shape[2:], self.output_size):
            out = size if out is None else int(out)
            i, j = np.arange(out), np.arange(size)
            s, e = (i * size) // out, -(-((i + 1) * size) // out)
            m = ((j >= s[:, None]) & (j < e[:, None])).astype(x.dtype)
            mats.append(m / (e - s)[:, None].astype(x.dtype))
        return np.matmul(np.matmul(mats[0], x), mats[1].T)

    def config(self):
        return {"output_size": list(self.output_size)}


def run_ops(ops, x):
    for op in ops:
        x = op(x)
    return x


class Residual(Op):
    """``y = main(x) + shortcut(x)`` (an empty shortcut is the identity)."""
    kind = "residual"

    def __init__(self, main, shortcut):
        self.main, self.shortcut = list(main), list(shortcut)

    def __call__(self, x):
        return _float(run_ops(self.main, x)) + _float(run_ops(self.shortcut, x))

    def children(self):
        return {"main": self.main, "shortcut": self.shortcut}

    @classmethod
    def from_spec(cls, arrays, config, children):
        return cls(children["main"], children["shortcut"])


class LowRank(Op):
    """A factorised layer: two thin ops in sequence (``first`` then ``second``), never forming W."""
    kind = "lowrank"

    def __init__(self, first, second, rank, max_rank, dense_shape):
        self.first, self.second = first, second
        self.rank, self.max_rank, self.dense_shape = int(rank), int(max_rank), tuple(dense_shape)

    def __call__(self, x):
        return self.second(self.first(x))

    def children(self):
        return {"first": [self.first], "second": [self.second]}

    def config(self):
        return {"rank": self.rank, "max_rank": self.max_rank, "dense_shape": list(self.dense_shape)}

    @classmethod
    def from_spec(cls, arrays, config, children):
        return cls(children["first"][0], children["second"][0], **config)


# ------------------------------------------------------------------------------------------------ binary
class Sign(Op):
    """float -> :class:`Bits`, +1 where ``x >= 0`` (NaN -> −1, as the training form's sign)."""
    kind = "sign"

    def __call__(self, x):
        return x if isinstance(x, Bits) else Bits.from_mask(np.greater_equal(x, 0))


class Threshold(Op):
    """A BatchNorm (and whatever monotone steps follow it) and the next sign, folded: for the integer
    ``k`` a binary layer computes, ``sign(f(k)) = +1  ⇔  k >= T`` (``k <= T`` where ``flip``, i.e. f
    decreasing, γ < 0). One int32 threshold and one bool per channel."""
    kind = "threshold"

    def __init__(self, threshold, flip):
        self.threshold, self.flip = threshold, flip

    def __call__(self, x):
        shape = (1, -1) + (1,) * (x.ndim - 2)
        t, flip = self.threshold.reshape(shape), self.flip.reshape(shape)
        return Bits.from_mask(np.where(flip, x <= t, x >= t))

    def arrays(self):
        return {"threshold": self.threshold, "flip": self.flip}


class _Binary(Op):
    """Shared by :class:`BinaryLinear` and :class:`BinaryConv`: ±1 (or ternary) weights stored as bits
    ``sign`` (O, [kh, kw,] words) with, for ternary weights, ``nonzero`` bits; an optional per-output
    ``alpha`` (XNOR-Net's scale) and ``bias``. The layer computes ``k = x·t`` (an exact integer when x is
    binary) and then, as its training form does, ``y = k·α`` and ``y + b``; with ``scaled=False`` it
    returns ``k`` alone (a :class:`Threshold` that folded α, b and the BatchNorm comes next)."""

    def __init__(self, sign, nonzero=None, alpha=None, bias=None, channels=1, binary_input=True, scaled=True):
        self.sign, self.nonzero, self.alpha, self.bias = sign, nonzero, alpha, bias
        self.channels, self.binary_input, self.scaled = int(channels), bool(binary_input), bool(scaled)
        self.kernel_choice = "auto"
        self._cache: dict = {}

    @property
    def out_features(self) -> int:
        return self.sign.shape[0]

    def values(self) -> np.ndarray:
        """The weights as float32 ±1 / 0, (O, ..., channels) in the stored (tap-major) order."""
        if "values" not in self._cache:
            v = unpack_signs(self.sign, self.channels)
            if self.nonzero is not None:
                v *= unpack_bits(self.nonzero, self.channels)
            self._cache["values"] = v
        return self._cache["values"]

    def _weight_words(self):
        """(O, K) sign words, (O, K) non-zero words or None, and n per row (count of non-zero weights)."""
        if "words" not in self._cache:
            o = self.out_features
            sign = self.sign.reshape(o, -1)
            nonzero = None if self.nonzero is None else self.nonzero.reshape(o, -1)
            n = (np.bitwise_count(nonzero).sum(1, dtype=np.int32) if nonzero is not None
                 else np.full(o, self.values()[0].size, np.int32))
            sign = _as_u64(sign)                                   # regrouped to 64-bit words once
            nonzero = None if nonzero is None else _as_u64(nonzero)
            self._cache["words"] = (sign, nonzero, n)
        return self._cache["words"]

    def _post(self, k, shape):
        if not self.scaled:
            return k
        y = k
        if self.alpha is not None:
            y = y * self.alpha.reshape(shape)
        if self.bias is not None:
            y = y + self.bias.reshape(shape)
        return y

    def _dot(self, x: Bits):
        """Choose the kernel (per input shape when 'auto', by timing both once: both are exact)."""
        choice = self.kernel_choice
        if choice == "auto":
            key = x.words.shape
            if key not in self._cache:                   # best of three runs each: one run is timing noise
                timings = {}
                for kernel in ("xnor", "gemm"):
                    runs = []
                    for _ in range(3):
                        started = time.perf_counter()
                        result = self._kernel(kernel, x)
                        runs.append(time.perf_counter() - started)
                    timings[kernel] = min(runs)
                self._cache[key] = min(timings, key=timings.get)
                return result
            choice = self._cache[key]
        return self._kernel(choice, x)

    def arrays(self):
        out = {"sign": self.sign}
        for key in ("nonzero", "alpha", "bias"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def config(self):
        return {"channels": self.channels, "binary_input": self.binary_input, "scaled": self.scaled}


class BinaryLinear(_Binary):
    """A binarized Linear: ``sign`` (O, words) over the input features."""
    kind = "binary_linear"

    def __call__(self, x):
        if self.binary_input:
            if not isinstance(x, Bits):
                raise TypeError(f"{self.kind} {self.name!r} expects packed signs (a Sign or Threshold before it)")
            if x.words.ndim != 2 or x.channels != self.channels:
                raise ValueError(f"{self.kind} {self.name!r}: expected {self.channels} input features, got {x.shape}")
            k = self._dot(x)
        else:                                               # float input, ±1 weights: the training form's F.linear
            x = _float(x)
            k = x.reshape(-1, x.shape[-1]) @ self.values().T
        return self._post(k, (1, -1))

    def _kernel(self, kernel, x):
        if kernel == "xnor":
            sign, nonzero, n = self._weight_words()
            return xnor_dot(x.words, sign, n, nonzero).astype(np.float32)
        return x.pm1() @ self.values().T


class BinaryConv(_Binary):
    """A binarized Conv2d: ``sign`` (O, kh, kw, words) packed along the Cg input channels of each tap."""
    kind = "binary_conv"

    def __init__(self, sign, nonzero=None, alpha=None, bias=None, channels=1, binary_input=True, scaled=True,
                 kernel=(1, 1), stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
        super().__init__(sign, nonzero, alpha, bias, channels, binary_input, scaled)
        self.kernel, self.stride, self.dilation = tuple(kernel), tuple(stride), tuple(dilation)
        self.padding, self.groups = tuple(padding), int(groups)

    def config(self):
        return {**super().config(), "kernel": list(self.kernel), "stride": list(self.stride),
                "padding": list(self.padding), "dilation": list(self.dilation), "groups": self.groups}

    def _float_kernel(self) -> np.ndarray:
        """(O, Cg·kh·kw) float32 weights in the (c, i, j) column order of the im2col."""
        if "float" not in self._cache:
            v = self.values()                                               # (O, kh, kw, Cg)
            self._cache["float"] = np.ascontiguousarray(v.transpose(0, 3, 1, 2).reshape(v.shape[0], -1))
        return self._cache["float"]

    def _float_conv(self, x):
        conv = Conv(self._float_kernel(), None, self.kernel, self.stride, self.padding, self.dilation, self.groups)
        return conv(x)

    def __call__(self, x):
        if self.binary_input:
            if not isinstance(x, Bits):
                raise TypeError(f"{self.kind} {self.name!r} expects packed signs (a Sign or Threshold before it)")
            if x.words.ndim != 4 or x.channels != self.channels * self.groups:
                raise ValueError(f"{self.kind} {self.name!r}: expected {self.channels * self.groups} input "
                                 f"channels, got {x.shape}")
            k = self._dot(x)
        else:
            k = self._float_conv(_float(x))
        return self._post(k, (1, -1, 1, 1))

    def _correction(self, h, w) -> np.ndarray:
        """(OH·OW, O) int32: Σ over the taps that fall in the zero padding at each output position of
        Σ_c t[o, c, i, j] (the −1 the packed padding contributed there, taken back)."""
        key = ("correction", h, w)
        if key not in self._cache:
            (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
            pad = np.ones((h + pt + pb, w + pl + pr), np.int32)
            pad[pt:pt + h, pl:pl + w] = 0
            win = _windows(pad, kh, kw, sh, sw, dh, dw, axis=0)               # (OH, OW, kh, kw)
            tap_sums = self.values().sum(-1).astype(np.int32).reshape(self.out_features, kh * kw)
            self._cache[key] = win.reshape(-1, kh * kw) @ tap_sums.T
        return self._cache[key]

    def _kernel(self, kernel, x):
        if kernel == "gemm":
            return self._float_conv(x.pm1())
        (kh, kw), (sh, sw), (pt, pb, pl, pr), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        g, o = self.groups, self.out_features
        words = x.words                                                     # (N, H, W, Wd)
        n, h, w = words.shape[:3]
        if g > 1:                                                           # re-pack each group's channels
            plus = unpack_bits(words, x.channels).reshape(n, h, w, g, self.channels)
            words = pack_bits(plus)                                         # (N, H, W, G, Wg)
        else:
            words = words[:, :, :, None, :]
        if any(self.padding):                                               # bit 0 = −1; corrected below
            padded = np.zeros((n, h + pt + pb, w + pl + pr) + words.shape[3:], words.dtype)
            padded[:, pt:pt + h, pl:pl + w] = words
            words = padded
        win = _windows(words, kh, kw, sh, sw, dh, dw, axis=1)               # (N, OH, OW, G, Wg, kh, kw)
        oh, ow = win.shape[1:3]
        m = n * oh * ow
        row_bytes = kh * kw * win.shape[4] * words.itemsize
        cols = np.zeros((g, m, -(-row_bytes // 8) * 8), np.uint8)         # rows padded to 64-bit words
        cols[:, :, :row_bytes].view(words.dtype)[...] = win.transpose(3, 0, 1, 2, 5, 6, 4).reshape(g, m, -1)
        cols = cols.view(np.uint64)
        sign, nonzero, count = self._weight_words()
        og = o // g
        out = np.empty((m, o), np.int32)
        for j in range(g):                                                  # a loop over groups
            rows = slice(j * og, (j + 1) * og)
            out[:, rows] = xnor_dot(cols[j], sign[rows], count[rows], None if nonzero is None else nonzero[rows])
        out = out.reshape(n, oh * ow, o)
        if any(self.padding):
            out += self._correction(h, w)
        return out.reshape(n, oh, ow, o).transpose(0, 3, 1, 2).astype(np.float32)


# ================================================================================================
# the deployed model and its file
# ================================================================================================
def walk(ops, prefix=""):
    """(path, op) for every op, depth first (a residual's branches and a low-rank layer's factors too)."""
    for i, op in enumerate(ops):
        path = f"{prefix}{i}"
        yield path, op
        for branch, sub in op.children().items():
            yield from walk(sub, f"{path}.{branch}.")


class DeployedModel:
    """A deployed model: ``model(x)`` maps an ndarray batch to float32 outputs (logits).

    ``ops`` is a chain of :class:`Op`; ``nbytes`` counts every stored array; ``meta`` is JSON-able
    provenance (model name, recipe, format) not counted in ``nbytes``. ``kernel`` ('auto', 'xnor',
    'gemm') chooses the binary layers' kernel."""

    def __init__(self, ops, meta: dict | None = None):
        self.ops = list(ops)
        self.meta = dict(meta or {})

    def __call__(self, x) -> np.ndarray:
        x = np.asarray(getattr(x, "array", x))
        if x.dtype.kind != "f":
            raise TypeError(f"a deployed model expects a float batch, got dtype {x.dtype}")
        out = _float(run_ops(self.ops, x.astype(np.float32, copy=False)))
        return out.astype(np.float32, copy=False)

    @property
    def kernel(self) -> str:
        choices = {op.kernel_choice for _, op in walk(self.ops) if isinstance(op, _Binary)}
        return choices.pop() if len(choices) == 1 else "auto"

    @kernel.setter
    def kernel(self, choice: str) -> None:
        if choice not in KERNELS:
            raise ValueError(f"kernel={choice!r}; choose one of {KERNELS}")
        for _, op in walk(self.ops):
            if isinstance(op, _Binary):
                op.kernel_choice = choice

    @property
    def format(self) -> str:
        return self.meta.get("format", "")

    @property
    def nbytes(self) -> int:
        return int(sum(op.nbytes for op in self.ops))

    def layer_bytes(self) -> list[tuple[str, int]]:
        """``("path kind", bytes)`` of every op that stores arrays, depth first."""
        return [(f"{path} {op.kind}", int(sum(a.nbytes for a in op.arrays().values())))
                for path, op in walk(self.ops) if op.arrays()]

    def __repr__(self) -> str:
        return f"DeployedModel({self.format}: {', '.join(op.kind for op in self.ops)}; {self.nbytes} bytes)"

    # ------------------------------------------------------------------ files
    def save(self, path) -> None:
        """Write an ``.npz`` (arrays + one JSON spec; no pickle) via a temporary file renamed into place."""
        arrays: dict = {}

        def spec(ops, prefix):
            out = []
            for i, op in enumerate(ops):
                path_ = f"{prefix}{i}"
                for key, a in op.arrays().items():
                    arrays[f"{path_}.{key}"] = a
                out.append({"kind": op.kind, "name": op.name, "config": op.config(),
                            "children": {b: spec(sub, f"{path_}.{b}.") for b, sub in op.children().items()}})
            return out
        layout = {"format": FORMAT, "ops": spec(self.ops, ""), "meta": self.meta}
        arrays["__deployed__"] = np.array(json.dumps(layout))
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise

    @classmethod
    def load(cls, path) -> "DeployedModel":
        path = os.fspath(path)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no deployed model at {path}; write one with `tinycompress export`")
        with np.load(path, allow_pickle=False) as f:
            if "__deployed__" not in f.files:
                raise ValueError(f"{path} is not a deployed tinycompress model (no __deployed__ entry); write one "
                                 "with `tinycompress export --checkpoint FILE --out OUT.npz`")
            layout = json.loads(str(f["__deployed__"]))
            if layout.get("format") != FORMAT:
                raise ValueError(f"{path}: deployed format {layout.get('format')!r} is not supported (expected "
                                 f"{FORMAT}); export the checkpoint again")
            stored = {k: f[k] for k in f.files}

        def build(specs, prefix):
            ops = []
            for i, s in enumerate(specs):
                path_ = f"{prefix}{i}."
                if s["kind"] not in _KINDS:
                    raise ValueError(f"{path}: unknown op kind {s['kind']!r}")
                arrays = {k[len(path_):]: v for k, v in stored.items()
                          if k.startswith(path_) and "." not in k[len(path_):]}
                children = {b: build(sub, f"{path_}{b}.") for b, sub in s["children"].items()}
                op = _KINDS[s["kind"]].from_spec(arrays, s["config"], children)
                op.name = s["name"]
                ops.append(op)
            return ops
        return cls(build(layout["ops"], ""), layout.get("meta"))


def load_deployed(path) -> DeployedModel:
    """Read a file written by ``DeployedModel.save`` (``tinycompress export``)."""
    return DeployedModel.load(path)
