"""Low-rank (SVD) training: layers that hold W = U diag(s) Vᵀ, their regularisers, rank truncation.

After Yang et al., "Learning Low-rank Deep Neural Networks via Singular Vector Orthogonality
Regularization and Singular Value Sparsification" (arXiv 2004.09031; seed 003). A weight matrix
W (m×n) is trained as its three factors U (m×r), s (r), V (n×r), and the loss is

    L = L_task + λ_o Σ_l (‖U_lᵀU_l − I‖²_F + ‖V_lᵀV_l − I‖²_F) / r_l² + λ_s Σ_l L_s(s_l)

with L_s the Hoyer measure ‖s‖₁/‖s‖₂ (scale-free, smallest when one value carries everything) or
the L1 norm ‖s‖₁. The orthogonality term keeps U, V close to orthonormal, so the s are (close to)
W's singular values and dropping the small ones is a controlled approximation; the sparsity term
drives most s to zero. The pipeline is: regularised training → :func:`truncate` (keep, per layer,
the smallest rank holding a fraction ``energy`` of Σs²) → fine-tuning at the reduced ranks.

Layers (each a subclass of the layer it factorises, so it can be dropped where that stood):

* :class:`LinearSVD` — ``y = ((x V) ⊙ s) Uᵀ + b``, r·(m+n) multiply-accumulates per row instead of m·n.
* :class:`Conv2dSVD` — the kernel (n, c, kh, kw) factorised channel-wise (``(n, c·kh·kw)`` → a conv
  with r filters (c, kh, kw) then a 1×1 conv) or spatial-wise (``(c·kh, n·kw)`` → a (kh×1) conv with
  r filters then a (1×kw) conv).

The ``weight`` attribute of both is the reconstructed dense kernel (a Tensor on the graph), so code
that reads ``layer.weight`` sees the function the layer computes. The regulariser and truncation
find the factorised layers by type (``isinstance(m, SVD_LAYERS)``), not by parameter names.

Weights of ~1 for both λ (seed 003's setting) let the regulariser dominate the task loss — the
Hoyer term alone is between 1 and √r — which is how the seed's run fell to ~20% accuracy; the
paper's scale is λ_o around 1e-2…1, λ_s around 1e-4…1e-2 (see :data:`DEFAULTS`).
"""
from __future__ import annotations

import math

import numpy as np

from .. import nn
from .. import random as _random
from ..autograd import no_grad
from ..callbacks import Callback
from ..factories import eye, zeros
from ..nn import functional as F
from ..ops.conv import pair
from ..tensor import Tensor

__all__ = ["LinearSVD", "Conv2dSVD", "SVD_LAYERS", "svd_layers", "svd_regularizer", "orthogonality_loss",
           "hoyer", "SVDRegularizer", "orthonormalize_factors", "energy_rank", "truncate", "match_ranks",
           "format_summary", "DEFAULTS"]

#: Suggested regulariser weights for the CLI / examples (the paper's scale, not seed 003's 1 and 1).
DEFAULTS = {"lambda_o": 0.1, "lambda_s": 1e-3, "sparsity": "hoyer", "energy": 0.99, "finetune_epochs": 2}


# ----------------------------------------------------------------------------- shared factor logic
def _check_rank(rank, full: int, what: str) -> int:
    if rank is None:
        return full
    if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not 1 <= rank <= full:
        raise ValueError(f"{what}: rank must be an int in [1, {full}] (the largest rank of its {full}-wide "
                         f"factorised matrix), got {rank!r}")
    return int(rank)


def _svd_factors(matrix: np.ndarray, rank: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The top-``rank`` thin SVD of ``matrix`` (computed in float64): U (m×r), s (r), V (n×r)."""
    u, s, vt = np.linalg.svd(np.asarray(matrix, np.float64), full_matrices=False)
    return (u[:, :rank].astype(dtype), s[:rank].astype(dtype), vt[:rank].T.astype(dtype))


class _SVDFactors:
    """Mixin: the parameters U (m×r), s (r), V (n×r) of a factorised matrix M = U diag(s) Vᵀ.

    Subclasses say how M relates to the dense kernel: ``_matrix(weight)`` reshapes a kernel to M
    (an ndarray) and ``_kernel(M)`` turns M (a Tensor) back into the kernel.
    """

    forward_path = "auto"   # 'auto' (cheaper of the two, see _use_factors), 'factors' or 'dense'

    def _set_factors(self, u: np.ndarray, s: np.ndarray, v: np.ndarray) -> None:
        self.U = nn.Parameter(Tensor(np.ascontiguousarray(u)))
        self.s = nn.Parameter(Tensor(np.ascontiguousarray(s)))
        self.V = nn.Parameter(Tensor(np.ascontiguousarray(v)))

    @property
    def rank(self) -> int:
        return int(self.s.shape[0])

    @property
    def max_rank(self) -> int:
        return min(self.U.shape[0], self.V.shape[0])

    def matrix(self) -> Tensor:
        """M = U diag(s) Vᵀ as a Tensor on the graph."""
        return (self.U * self.s) @ self.V.T

    @property
    def weight(self) -> Tensor:
        """The reconstructed dense kernel, differentiable w.r.t. U, s, V."""
        return self._kernel(self.matrix())

    def factor_params(self) -> int:
        """Number of factor entries: r·(m + n + 1)."""
        return self.rank * (self.U.shape[0] + self.V.shape[0] + 1)

    def dense_params(self) -> int:
        """Entries of the dense kernel this layer replaces: m·n."""
        return self.U.shape[0] * self.V.shape[0]

    def _check_path(self) -> None:
        if self.forward_path not in ("auto", "factors", "dense"):
            raise ValueError(f"{type(self).__name__}.forward_path must be 'auto', 'factors' or 'dense', "
                             f"got {self.forward_path!r}")

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rank={self.rank}"


# ----------------------------------------------------------------------------- LinearSVD
class LinearSVD(_SVDFactors, nn.Linear):
    r"""``nn.Linear`` trained in SVD form: W = U diag(s) Vᵀ with U (out×r), s (r), V (in×r).

    ``y = x Wᵀ + b = ((x V) ⊙ s) Uᵀ + b``.

    Initialisation: W is drawn exactly as ``nn.Linear`` draws it (kaiming-uniform, a = √5, then the
    bias), from the library generator, and its top-r SVD gives U, s, V — so at full rank a freshly
    built ``LinearSVD`` computes the same function as a ``nn.Linear`` built from the same seed, and at
    lower rank its best rank-r approximation (no NaNs, no uninitialised factors).

    Forward path (``forward_path='auto'``): with N rows of input (N = x.numel() / in), going through
    the factors costs N·r·(in + out) multiply-accumulates, forming W then multiplying costs
    r·in·out + N·in·out; the factors are used when

        N·r·(in + out) ≤ (N + r)·in·out,

    else W is formed once and ``F.linear`` runs. Both give the same values and gradients.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, rank: int | None = None) -> None:
        full = min(int(in_features), int(out_features))
        rank = _check_rank(rank, full, "LinearSVD")
        super().__init__(in_features, out_features, bias=bias)    # draws W and b as nn.Linear does
        dense = self._parameters.pop("weight").array
        self._set_factors(*_svd_factors(dense, rank, dense.dtype))
        if "bias" in self._parameters:
            self._parameters.move_to_end("bias")    # state_dict order: U, s, V, bias

    # M = W (out×in): the kernel is the matrix itself
    @staticmethod
    def _matrix(weight: np.ndarray) -> np.ndarray:
        return weight

    def _kernel(self, matrix: Tensor) -> Tensor:
        return matrix

    def _use_factors(self, rows: int) -> bool:
        self._check_path()
        if self.forward_path != "auto":
            return self.forward_path == "factors"
        m, n, r = self.out_features, self.in_features, self.rank
        return rows * r * (m + n) <= (rows + r) * m * n

    def macs(self, rows: int = 1) -> int:
        """Multiply-accumulates of a forward over ``rows`` input rows, on the path ``forward`` takes."""
        m, n, r = self.out_features, self.in_features, self.rank
        return min(rows * r * (m + n), (rows + r) * m * n) if self.forward_path == "auto" else (
            rows * r * (m + n) if self.forward_path == "factors" else (rows + r) * m * n)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim == 0 or input.shape[-1] != self.in_features:
            raise RuntimeError(f"LinearSVD: input of shape {tuple(input.shape)} does not end in in_features="
                               f"{self.in_features}")
        if self._use_factors(input.array.size // max(self.in_features, 1)):
            out = ((input @ self.V) * self.s) @ self.U.T
            return out if self.bias is None else out + self.bias
        return F.linear(input, self.weight, self.bias)

    @classmethod
    def from_dense(cls, linear, rank: int | None = None) -> "LinearSVD":
        """A ``LinearSVD`` whose factors are the top-``rank`` SVD of ``linear.weight`` (bias copied).

        At full rank (the default) it computes what ``linear`` did, to rounding."""
        if not isinstance(linear, nn.Linear):
            raise TypeError(f"LinearSVD.from_dense expects an nn.Linear, got {type(linear).__name__}")
        w = linear.weight.array
        layer = _without_rng(lambda: cls(linear.in_features, linear.out_features, bias=linear.bias is not None,
                                         rank=_check_rank(rank, min(w.shape), "LinearSVD.from_dense")))
        layer._set_factors(*_svd_factors(w, layer.rank, w.dtype))
        if linear.bias is not None:
            layer.bias = nn.Parameter(Tensor(linear.bias.array.copy()))
        return layer

    def to_dense(self):
        """An ``nn.Linear`` holding W = U diag(s) Vᵀ (and the bias)."""
        dense = _without_rng(lambda: nn.Linear(self.in_features, self.out_features, bias=self.bias is not None))
        with no_grad():
            dense.weight = nn.Parameter(Tensor(self.matrix().array.astype(self.U.dtype)))
            if self.bias is not None:
                dense.bias = nn.Parameter(Tensor(self.bias.array.copy()))
        return dense


# ----------------------------------------------------------------------------- Conv2dSVD
def _out_size(size: int, k: int, s: int, p: int, d: int) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


class Conv2dSVD(_SVDFactors, nn.Conv2d):
    r"""``nn.Conv2d`` trained in SVD form, its kernel K (n, c, kh, kw) factorised two ways.

    ``decomposition='channel'``: M = K.reshape(n, c·kh·kw) = U diag(s) Vᵀ, U (n×r), V (c·kh·kw × r).
    The forward is a conv with the r filters ``(V diag(s))ᵀ`` reshaped (r, c, kh, kw) (carrying stride,
    padding and dilation) followed by a 1×1 conv with ``U`` reshaped (n, r, 1, 1) and the bias. (The
    paper splits √s to each side; we fold s into the first kernel, which computes the same function
    and stays defined when training makes some s negative.)

    ``decomposition='spatial'``: M = K.permute(1, 2, 0, 3).reshape(c·kh, n·kw) = U diag(s) Vᵀ,
    U (c·kh × r), V (n·kw × r). The forward is a (kh×1) conv with r filters ``(U diag(s))ᵀ`` reshaped
    (r, c, kh, 1), stride (sh, 1), padding (ph, 0), dilation (dh, 1), followed by a (1×kw) conv with
    V reshaped to (n, r, 1, kw), stride (1, sw), padding (0, pw), dilation (1, dw), and the bias.
    Zero-padding the intermediate horizontally equals padding the input (the first conv has no
    bias), so both compute the conv with K = Σ_k A_k ⊗ B_k exactly.

    Forward path (``forward_path='auto'``): with input (N, c, H, W) and output (N, n, Ho, Wo) the
    factors cost N·Ho·Wo·r·(c·kh·kw + n) MACs (channel) or N·Ho·W·r·c·kh + N·Ho·Wo·n·r·kw (spatial),
    the dense conv N·Ho·Wo·n·c·kh·kw plus r·n·c·kh·kw to form K; the cheaper one runs.

    Initialisation: K is drawn as ``nn.Conv2d`` draws it, then its top-r SVD (as for LinearSVD).
    Only ``groups=1``: a grouped kernel is ``groups`` independent blocks, each needing its own factors
    (one SVD across the groups would let the 1×1 conv mix channels the grouped conv keeps apart).
    Only ``padding_mode='zeros'`` (the spatial split moves the horizontal padding to the second conv,
    which is exact only for zero padding).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", decomposition: str = "channel",
                 rank: int | None = None) -> None:
        if decomposition not in ("channel", "spatial"):
            raise ValueError(f"Conv2dSVD: decomposition must be 'channel' or 'spatial', got {decomposition!r}")
        if groups != 1:
            raise ValueError(f"Conv2dSVD supports groups=1 only, got groups={groups}: a grouped kernel is "
                             f"{groups} independent blocks, each would need its own U, s, V (one SVD across "
                             "them lets the 1×1 conv mix channels the grouped conv keeps apart); keep grouped "
                             "convolutions as nn.Conv2d")
        if padding_mode != "zeros":
            raise ValueError(f"Conv2dSVD supports padding_mode='zeros' only, got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"Conv2dSVD needs numeric padding, got {padding!r}: give the (ph, pw) it stands for")
        kh, kw = pair(kernel_size, "kernel_size")
        n, c = int(out_channels), int(in_channels)
        rows, cols = (n, c * kh * kw) if decomposition == "channel" else (c * kh, n * kw)
        rank = _check_rank(rank, min(rows, cols), f"Conv2dSVD({decomposition})")
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, groups=groups, bias=bias)
        self.decomposition = decomposition
        dense = self._parameters.pop("weight").array
        self._set_factors(*_svd_factors(self._matrix(dense, decomposition), rank, dense.dtype))
        if "bias" in self._parameters:
            self._parameters.move_to_end("bias")

    @staticmethod
    def _matrix(kernel: np.ndarray, decomposition: str) -> np.ndarray:
        """The kernel (n, c, kh, kw) as the matrix M this decomposition factorises."""
        n, c, kh, kw = kernel.shape
        if decomposition == "channel":
            return kernel.reshape(n, c * kh * kw)
        return kernel.transpose(1, 2, 0, 3).reshape(c * kh, n * kw)

    def _kernel(self, matrix: Tensor) -> Tensor:
        n, c = self.out_channels, self.in_channels
        kh, kw = self.kernel_size
        if self.decomposition == "channel":
            return matrix.reshape(n, c, kh, kw)
        return matrix.reshape(c, kh, n, kw).permute(2, 0, 1, 3)

    def _costs(self, shape) -> tuple[int, int]:
        """(factor MACs, dense MACs incl. forming K) for an input of ``shape`` (N, c, H, W)."""
        N, _, H, W = shape
        n, c, r = self.out_channels, self.in_channels, self.rank
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel_size, self.stride, self.padding, self.dilation
        ho, wo = _out_size(H, kh, sh, ph, dh), _out_size(W, kw, sw, pw, dw)
        dense = N * ho * wo * n * c * kh * kw + r * n * c * kh * kw
        if self.decomposition == "channel":
            return N * ho * wo * r * (c * kh * kw + n), dense
        return N * ho * W * r * c * kh + N * ho * wo * n * r * kw, dense

    def macs(self, input_shape) -> int:
        """Multiply-accumulates of a forward on an input of ``input_shape``, on the path it takes."""
        factors, dense = self._costs(input_shape)
        return {"auto": min(factors, dense), "factors": factors, "dense": dense}[self.forward_path]

    def _use_factors(self, shape) -> bool:
        self._check_path()
        if self.forward_path != "auto":
            return self.forward_path == "factors"
        factors, dense = self._costs(shape)
        return factors <= dense

    def factor_kernels(self) -> tuple[Tensor, Tensor]:
        """The two kernels the factorised forward convolves with (see the class docstring)."""
        n, c, r = self.out_channels, self.in_channels, self.rank
        kh, kw = self.kernel_size
        if self.decomposition == "channel":
            return (self.V * self.s).T.reshape(r, c, kh, kw), self.U.reshape(n, r, 1, 1)
        first = (self.U * self.s).T.reshape(r, c, kh, 1)
        second = self.V.reshape(n, kw, r).permute(0, 2, 1).reshape(n, r, 1, kw)
        return first, second

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4 or input.shape[1] != self.in_channels:
            raise RuntimeError(f"Conv2dSVD: expected input (N, {self.in_channels}, H, W), got shape "
                               f"{tuple(input.shape)}")
        if not self._use_factors(input.shape):
            return F.conv2d(input, self.weight, self.bias, self.stride, self.padding, self.dilation)
        first, second = self.factor_kernels()
        if self.decomposition == "channel":
            hidden = F.conv2d(input, first, None, self.stride, self.padding, self.dilation)
            return F.conv2d(hidden, second, self.bias)
        (sh, sw), (ph, pw), (dh, dw) = self.stride, self.padding, self.dilation
        hidden = F.conv2d(input, first, None, (sh, 1), (ph, 0), (dh, 1))
        return F.conv2d(hidden, second, self.bias, (1, sw), (0, pw), (1, dw))

    @classmethod
    def from_dense(cls, conv, decomposition: str = "channel", rank: int | None = None) -> "Conv2dSVD":
        """A ``Conv2dSVD`` from the top-``rank`` SVD of ``conv.weight`` reshaped for ``decomposition``.

        At full rank (the default) it computes what ``conv`` did, to rounding."""
        if not isinstance(conv, nn.Conv2d):
            raise TypeError(f"Conv2dSVD.from_dense expects an nn.Conv2d, got {type(conv).__name__}")
        layer = _without_rng(lambda: cls(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                                         conv.padding, conv.dilation, conv.groups, conv.bias is not None,
                                         getattr(conv, "padding_mode", "zeros"), decomposition, rank))
        k = conv.weight.array
        layer._set_factors(*_svd_factors(cls._matrix(k, decomposition), layer.rank, k.dtype))
        if conv.bias is not None:
            layer.bias = nn.Parameter(Tensor(conv.bias.array.copy()))
        return layer

    def to_dense(self):
        """An ``nn.Conv2d`` holding the reconstructed kernel (and the bias)."""
        dense = _without_rng(lambda: nn.Conv2d(self.in_channels, self.out_channels, self.kernel_size, self.stride,
                                               self.padding, self.dilation, 1, self.bias is not None))
        with no_grad():
            dense.weight = nn.Parameter(Tensor(np.ascontiguousarray(self.weight.array)))
            if self.bias is not None:
                dense.bias = nn.Parameter(Tensor(self.bias.array.copy()))
        return dense

    def extra_repr(self) -> str:
        return super().extra_repr() + f", decomposition={self.decomposition!r}"


SVD_LAYERS = (LinearSVD, Conv2dSVD)


def _without_rng(build):
    """Run ``build()`` and put the library generator back as it was (a layer built only to be
    overwritten must not shift the random stream of the rest of a run)."""
    state = _random.get_rng_state()
    try:
        return build()
    finally:
        _random.set_rng_state(state)


def svd_layers(model) -> list[tuple[str, "_SVDFactors"]]:
    """(name, layer) for every LinearSVD / Conv2dSVD in ``model`` (the model itself included)."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, SVD_LAYERS)]


# ----------------------------------------------------------------------------- regularisers
def orthogonality_loss(U: Tensor, V: Tensor) -> Tensor:
    """L_o = (‖UᵀU − I‖²_F + ‖VᵀV − I‖²_F) / r²  (U: m×r, V: n×r)."""
    r = U.shape[1]
    identity = eye(r, dtype=U.dtype)
    gu = U.T @ U - identity
    gv = V.T @ V - identity
    return ((gu * gu).sum() + (gv * gv).sum()) / float(r * r)


def hoyer(s: Tensor) -> Tensor:
    """The Hoyer measure ‖s‖₁ / ‖s‖₂ (1 when one entry is nonzero, √r when all are equal)."""
    return s.abs().sum() / (s * s).sum().sqrt()


def svd_regularizer(model, lambda_o: float, lambda_s: float, sparsity: str = "hoyer") -> Tensor:
    """λ_o Σ_l L_o(U_l, V_l) + λ_s Σ_l L_s(s_l) over the model's factorised layers (found by type).

    ``sparsity``: 'hoyer' (L_s = ‖s‖₁/‖s‖₂) or 'l1' (L_s = ‖s‖₁). Returns a scalar Tensor on the
    graph, to add to the task loss; a zero tensor when the model has no factorised layer."""
    if sparsity not in ("hoyer", "l1"):
        raise ValueError(f"svd_regularizer: sparsity must be 'hoyer' or 'l1', got {sparsity!r}")
    if lambda_o < 0 or lambda_s < 0:
        raise ValueError(f"svd_regularizer: the weights must be ≥ 0, got lambda_o={lambda_o}, lambda_s={lambda_s}")
    total = None
    for _, layer in svd_layers(model):
        sparse = hoyer(layer.s) if sparsity == "hoyer" else layer.s.abs().sum()
        term = orthogonality_loss(layer.U, layer.V) * float(lambda_o) + sparse * float(lambda_s)
        total = term if total is None else total + term      # on the graph even at λ = 0, as in torch
    if total is None:
        dtype = next((p.dtype for p in model.parameters()), np.float32)
        return zeros((), dtype=dtype)
    return total


class SVDRegularizer(Callback):
    """Adds :func:`svd_regularizer` to every batch loss (``--svd-lambda-o/--svd-lambda-s/--svd-sparsity``)."""

    def __init__(self, lambda_o: float = DEFAULTS["lambda_o"], lambda_s: float = DEFAULTS["lambda_s"],
                 sparsity: str = DEFAULTS["sparsity"]) -> None:
        if sparsity not in ("hoyer", "l1"):
            raise ValueError(f"SVDRegularizer: sparsity must be 'hoyer' or 'l1', got {sparsity!r}")
        self.lambda_o, self.lambda_s, self.sparsity = float(lambda_o), float(lambda_s), sparsity

    def on_train_begin(self, trainer) -> None:
        if not svd_layers(trainer.model):
            raise ValueError("the SVD regulariser needs a model with LinearSVD/Conv2dSVD layers (e.g. svd_mlp, "
                             "resnet18_svd); this model has none")

    def extra_loss(self, trainer):
        if not (self.lambda_o or self.lambda_s):
            return None
        return svd_regularizer(trainer.model, self.lambda_o, self.lambda_s, self.sparsity)


# ----------------------------------------------------------------------------- truncation
def orthonormalize_factors(U: np.ndarray, s: np.ndarray, V: np.ndarray):
    """Exact SVD factors of the same product: U s Vᵀ = U' s' V'ᵀ with U', V' orthonormal, s' ≥ 0 sorted.

    QR both sides, U = Q_U R_U and V = Q_V R_V; then U diag(s) Vᵀ = Q_U (R_U diag(s) R_Vᵀ) Q_Vᵀ, and
    the SVD of the small r×r core R_U diag(s) R_Vᵀ = P Σ Qᵀ gives U' = Q_U P, s' = Σ, V' = Q_V Q.
    Cost O((m + n) r² + r³), never forming the m×n product. Computed in float64.
    """
    qu, ru = np.linalg.qr(np.asarray(U, np.float64))
    qv, rv = np.linalg.qr(np.asarray(V, np.float64))
    p, sigma, qt = np.linalg.svd((ru * np.asarray(s, np.float64)) @ rv.T)
    return qu @ p, sigma, qv @ qt.T


def energy_rank(s: np.ndarray, energy: float) -> tuple[int, float]:
    """The smallest k with Σ_{i<k} s_i² ≥ energy · Σ s_i² (s sorted by decreasing |s|), and the
    fraction those k keep. An all-zero s keeps rank 1."""
    if not 0.0 < energy <= 1.0:
        raise ValueError(f"energy must be in (0, 1], got {energy!r}")
    cum = np.cumsum(np.asarray(s, np.float64) ** 2)
    total = cum[-1]
    if total <= 0:
        return 1, 1.0
    fraction = cum / total
    k = int(np.searchsorted(fraction, energy, side="left")) + 1
    k = min(k, len(s))
    return k, float(fraction[k - 1])


def truncate(model, energy: float = 0.99, orthonormalize: bool = True) -> list[dict]:
    """Cut every factorised layer to the smallest rank holding ``energy`` of its Σs²; returns a summary.

    With ``orthonormalize`` (the default), each layer's factors are first replaced by the exact SVD of
    their current product (:func:`orthonormalize_factors`: QR of U and V, SVD of the r×r core), so
    drift of U, V from orthonormality during training is undone and the kept energy is exactly
    ‖W_k‖²_F / ‖W‖²_F of the layer's weight. Without it, s is sorted by |s| and cut as it stands
    (the paper's shortcut, exact only when U and V are orthonormal).

    The layers' U, s, V become new Parameters: build a new optimizer afterwards. Returns one dict
    per layer: name, type, rank_before, rank_after, energy (fraction kept), params_before,
    params_after (factor entries + bias), dense_params (the m·n kernel + bias).
    """
    summary = []
    for name, layer in svd_layers(model):
        U, s, V = (p.array.astype(np.float64) for p in (layer.U, layer.s, layer.V))
        if orthonormalize:
            U, s, V = orthonormalize_factors(U, s, V)
        else:
            order = np.argsort(-np.abs(s), kind="stable")
            U, s, V = U[:, order], s[order], V[:, order]
        bias = 0 if layer.bias is None else layer.bias.array.size
        before, params_before = layer.rank, layer.factor_params() + bias
        k, kept = energy_rank(s, energy)
        dtype = layer.U.dtype
        layer._set_factors(U[:, :k].astype(dtype), s[:k].astype(dtype), V[:, :k].astype(dtype))
        summary.append({"name": name, "type": type(layer).__name__, "rank_before": before, "rank_after": k,
                        "energy": kept, "params_before": params_before,
                        "params_after": layer.factor_params() + bias, "dense_params": layer.dense_params() + bias})
    return summary


def match_ranks(model, state_dict) -> None:
    """Resize the factorised layers of ``model`` to the ranks stored in ``state_dict`` (so a
    checkpoint written after :func:`truncate` loads into a freshly built model)."""
    for name, layer in svd_layers(model):
        key = f"{name}.s" if name else "s"
        if key in state_dict and np.shape(state_dict[key])[0] != layer.rank:
            k = int(np.shape(state_dict[key])[0])
            dtype = layer.U.dtype
            layer._set_factors(np.zeros((layer.U.shape[0], k), dtype), np.zeros(k, dtype),
                               np.zeros((layer.V.shape[0], k), dtype))


def format_summary(summary: list[dict]) -> str:
    """The :func:`truncate` summary as a table, with totals."""
    lines = [f"{'layer':<24}{'type':<11}{'rank':>11}{'energy':>9}{'params':>21}{'dense':>10}"]
    for row in summary:
        lines.append(f"{row['name'] or '(model)':<24}{row['type']:<11}"
                     f"{row['rank_before']:>5} → {row['rank_after']:<4}{row['energy']:>9.4f}"
                     f"{row['params_before']:>10,} → {row['params_after']:<8,}{row['dense_params']:>10,}")
    if summary:
        b = sum(r["params_before"] for r in summary)
        a = sum(r["params_after"] for r in summary)
        d = sum(r["dense_params"] for r in summary)
        lines.append(f"{'total':<24}{'':<11}{'':>11}{'':>9}{b:>10,} → {a:<8,}{d:>10,}")
    return "\n".join(lines)
