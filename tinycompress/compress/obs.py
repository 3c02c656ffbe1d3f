"""Layer-wise Optimal Brain Surgeon (Hassibi & Stork 1993, in the layer-wise form of Optimal Brain
Compression / SparseGPT, Frantar & Alistarh 2022/2023): prune a layer one-shot and move its surviving
weights to make up for the pruned ones, from calibration inputs alone.

A Linear (or Conv2d, whose input is unfolded into im2col rows) computes y = W x. Pruning row w of W
to ŵ changes the layer's output on calibration inputs X (rows x) by an error whose mean square is

    E(δ) = ½ δᵀ H δ,     δ = ŵ − w,     H = (2/N) Σ_x x xᵀ + λ I,

λ = ``damp`` × mean(diag H) (damping: dead or collinear inputs leave H singular). Rows share H and
are independent. Removing one weight q optimally (δ_q = −w_q, δ minimising E) is OBS's closed form

    δ = −(w_q / [H⁻¹]_qq) H⁻¹ e_q,        E = ½ w_q² / [H⁻¹]_qq          (:func:`obs_update`).

Removing many: :func:`obs_prune_weight` sweeps the columns left to right (SparseGPT), every row at
once. With U the upper Cholesky factor of H⁻¹ (H⁻¹ = UᵀU), U_jj² = [H_F⁻¹]_jj for F the columns not yet
swept, so the saliency of w_j is w_j² / U_jj², OBS's w²/[H⁻¹]_qq with the swept columns frozen; in each
block of columns the weights of least saliency are pruned and each pruned (or kept) column's error is
spread over the columns right of it (δ = −(err / U_jj) U_j,·, the same closed form in U's basis). Then
(``refit``) each row's kept weights K take their exact optimum for the chosen mask,

    ŵ_K = w_K + H_KK⁻¹ H_K,P w_P  =  (w − H⁻¹_·P (H⁻¹_PP)⁻¹ w_P)_K     (E minimal with ŵ_P = 0),

solved in whichever form is smaller (|K| or |P| unknowns); for a single pruned weight it is the closed
form above. :func:`obs_prune_model` prunes a model's
layers in order, each with H measured on the inputs the already-pruned layers before it produce,
and writes torch's re-parametrisation (``weight_orig`` holds the updated weights, ``weight_mask`` the
mask), so everything else (schedules, checkpoints, export to CSR) reads it as any pruned layer.

Linear algebra (H's inverse and Cholesky, the refits) runs in float64: the factor of an ill-conditioned
H⁻¹ loses too many digits in float32; the weights written back are float32.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd.grad_mode import no_grad
from ..tensor import Tensor

__all__ = ["HessianCollector", "layer_input_rows", "obs_update", "obs_prune_weight", "obs_prune",
           "obs_prune_model", "reconstruction_error"]


def layer_input_rows(module, x: np.ndarray) -> np.ndarray:
    """The rows the layer's weight multiplies: (N·…, in) for a Linear; the im2col rows
    (N·OH·OW, C·kh·kw), in the order of ``weight.reshape(out, -1)``'s columns, for a Conv2d."""
    from .. import nn
    x = np.asarray(x)
    if isinstance(module, nn.Conv2d):
        if module.groups != 1:
            raise ValueError(f"layer-wise OBS: {type(module).__name__} with groups={module.groups} is not supported "
                             "(each group has its own H); use groups=1 layers or another criterion")
        from ..ops.conv import _im2col
        pad = module.padding
        if isinstance(pad, str):
            raise ValueError(f"layer-wise OBS: padding={pad!r} is not supported; give the padding as numbers")
        padding = tuple((p, p) for p in pad)
        col, _ = _im2col(x, module.kernel_size, module.stride, padding, module.dilation, 1)
        return col[0].T                                 # (N·ΠO, C·kh·kw), one row per sample and position
    if isinstance(module, nn.Linear):
        return x.reshape(-1, x.shape[-1])
    raise TypeError(f"layer-wise OBS prunes Linear and Conv2d layers (and their masked twins), not "
                    f"{type(module).__name__}")


class HessianCollector:
    """A forward hook accumulating H = (2/N) Σ x xᵀ over the rows ``x`` of the layer's inputs
    (:func:`layer_input_rows`); ``remove()`` detaches it. The sum runs as float32 GEMMs into a float64
    total."""

    def __init__(self, module) -> None:
        self.module, self.count = module, 0
        cols = int(np.prod(module.weight.shape[1:]))
        self.sum = np.zeros((cols, cols), np.float64)
        self.handle = module.register_forward_hook(self)

    def __call__(self, module, inputs, output) -> None:
        x = inputs[0].array if isinstance(inputs[0], Tensor) else np.asarray(inputs[0])
        rows = layer_input_rows(module, x)
        self.sum += rows.T @ rows
        self.count += rows.shape[0]

    def hessian(self) -> np.ndarray:
        if not self.count:
            raise ValueError("layer-wise OBS: no calibration input reached the layer; run the model on some data "
                             "first")
        return 2.0 * self.sum / self.count

    def remove(self) -> None:
        self.handle.remove()


def _damped(H: np.ndarray, damp: float) -> np.ndarray:
    H = np.array(H, dtype=np.float64, copy=True)
    diag = np.diagonal(H)
    lam = damp * float(diag.mean()) if diag.size and diag.mean() > 0 else 1.0
    H[np.diag_indices_from(H)] += lam
    dead = np.diagonal(H) <= 0
    if dead.any():
        H[dead, dead] = 1.0
    return H


def obs_update(w: np.ndarray, Hinv: np.ndarray, q: int):
    """OBS's removal of weight ``q`` from row ``w`` with inverse Hessian ``Hinv``: returns (δ, ΔE) with
    δ = −(w_q/[H⁻¹]_qq) H⁻¹ e_q (so (w + δ)_q = 0) and ΔE = ½ w_q²/[H⁻¹]_qq."""
    d = Hinv[q, q]
    delta = -(w[q] / d) * Hinv[:, q]
    return delta, 0.5 * w[q] ** 2 / d


def reconstruction_error(w_new: np.ndarray, w: np.ndarray, H: np.ndarray) -> np.ndarray:
    """½ δᵀ H δ per row, δ = w_new − w (rows of (out, in) arrays; a number for one row given as a vector)."""
    delta = np.asarray(w_new, np.float64) - np.asarray(w, np.float64)
    d2 = np.atleast_2d(delta)
    err = 0.5 * ((d2 @ np.asarray(H, np.float64)) * d2).sum(1)
    return err[0] if delta.ndim == 1 else err


def _counts(total: int, sizes: list[int]) -> list[int]:
    """``total`` split over blocks in proportion to ``sizes`` (rounded so that they add up)."""
    n = sum(sizes)
    cum = np.round(np.cumsum([0] + sizes) * (total / max(n, 1))).astype(int)
    return list(np.diff(cum))


def obs_prune_weight(W: np.ndarray, H: np.ndarray, sparsity: float, mask: np.ndarray | None = None,
                     blocksize: int = 128, damp: float = 0.01, refit: bool = True):
    """Prune the (out, in) matrix ``W`` to ``sparsity`` (a fraction of its entries, already-pruned ones
    counted) with H the (in, in) layer Hessian; ``mask`` marks entries already pruned (0), which stay
    pruned. Returns (W_new, mask): float32 W_new, zero where the mask is. See the module docstring."""
    W0 = np.asarray(W, np.float64).reshape(W.shape[0], -1)
    rows, cols = W0.shape
    if H.shape != (cols, cols):
        raise ValueError(f"layer-wise OBS: H has shape {H.shape} but the weight has {cols} columns")
    if not 0.0 <= sparsity <= 1.0:
        raise ValueError(f"layer-wise OBS: sparsity={sparsity} must be a fraction in [0, 1]")
    old = np.ones((rows, cols), bool) if mask is None else np.asarray(mask).reshape(rows, cols) != 0
    Hd = _damped(H, damp)
    Hinv = np.linalg.inv(Hd)
    Hinv = (Hinv + Hinv.T) / 2
    U = np.linalg.cholesky(Hinv).T                       # upper: H⁻¹ = UᵀU
    Wk = W0 * old
    keep = np.ones((rows, cols), bool)
    blocks = [(i, min(i + blocksize, cols)) for i in range(0, cols, blocksize)]
    prune_total = max(int(round(sparsity * rows * cols)), int((~old).sum()))
    for (i1, i2), k in zip(blocks, _counts(prune_total, [(b - a) * rows for a, b in blocks])):
        W1, U1 = Wk[:, i1:i2].copy(), U[i1:i2, i1:i2]
        sal = W1 ** 2 / np.diagonal(U1)[None, :] ** 2
        sal[~old[:, i1:i2]] = -1.0                       # already pruned: first out
        k = max(k, int((~old[:, i1:i2]).sum()))
        order = np.argsort(sal, axis=None, kind="stable")[:k]
        m1 = np.ones(W1.shape, bool)
        m1.reshape(-1)[order] = False
        err = np.zeros_like(W1)
        for j in range(i2 - i1):
            w = W1[:, j]
            q = np.where(m1[:, j], w, 0.0)
            e = (w - q) / U1[j, j]
            W1[:, j:] -= np.outer(e, U1[j, j:])
            W1[:, j] = q
            err[:, j] = e
        Wk[:, i1:i2] = W1
        Wk[:, i2:] -= err @ U[i1:i2, i2:]
        keep[:, i1:i2] = m1
    if refit:
        for r in range(rows):
            K, P = np.flatnonzero(keep[r]), np.flatnonzero(~keep[r])
            if not P.size:
                Wk[r] = W0[r]
            elif K.size <= P.size:      # ŵ_K = w_K + H_KK⁻¹ H_KP w_P: a |K|-sized solve
                Wk[r] = 0.0
                if K.size:
                    Wk[r, K] = W0[r, K] + np.linalg.solve(Hd[np.ix_(K, K)], Hd[np.ix_(K, P)] @ W0[r, P])
            else:                       # the same optimum as OBS's group removal: −H⁻¹_·P (H⁻¹_PP)⁻¹ w_P
                Wk[r] = W0[r] - Hinv[:, P] @ np.linalg.solve(Hinv[np.ix_(P, P)], W0[r, P])
    Wk[~keep] = 0.0
    return Wk.astype(np.float32).reshape(W.shape), keep.reshape(W.shape).astype(np.asarray(W).dtype)


def _own_mask(module) -> np.ndarray:
    """The entries already pruned: 0 in ``weight_mask`` (torch's re-parametrisation) or the masked layer's
    ``mask``."""
    mask = np.ones(module.weight.shape, np.float32)
    for key in ("weight_mask", "mask"):
        buf = module._buffers.get(key)
        if buf is not None:
            mask = mask * buf.array
    return mask


def obs_prune(module, sparsity: float, H: np.ndarray, blocksize: int = 128, damp: float = 0.01,
              refit: bool = True) -> dict:
    """Prune ``module.weight`` (Linear/Conv2d or masked twin) to ``sparsity`` by layer-wise OBS with its
    layer Hessian ``H``; writes ``weight_orig`` (updated weights) and ``weight_mask`` as torch's
    ``custom_from_mask`` would. Returns {"error": mean ½δᵀHδ per row (undamped H), "kept": kept fraction}."""
    from .prune import _refresh, custom_from_mask, effective_weight, identity
    if "weight_mask" not in module._buffers:
        identity(module, "weight")
    W = effective_weight(module)
    old = _own_mask(module)
    W_new, keep = obs_prune_weight(W, H, sparsity, mask=old, blocksize=blocksize, damp=damp, refit=refit)
    new_mask = keep * (module.weight_mask.array != 0)      # keep ⊂ old mask already; only weight_mask changes
    custom_from_mask(module, "weight", Tensor._wrap(new_mask.astype(module.weight_mask.array.dtype)))
    with no_grad():
        module.weight_orig.array[...] = W_new
        if "mask" in module._buffers:                      # a masked layer: its stored weights stay zero too
            module.weight_orig.array *= module._buffers["mask"].array
    _refresh(module)
    rows = W.reshape(W.shape[0], -1)
    err = reconstruction_error(W_new.reshape(rows.shape), rows, H)
    return {"error": float(err.mean()), "kept": float(keep.mean())}


#: rounds of :func:`obs_prune_model` (each re-measures H and re-ranks): 6 keeps LeNet-300-100 at 10% of its
#: weights within 0.6 points of dense where 1 round loses 1.0 (each round costs one refit per row)
DEFAULT_ROUNDS = 6


def obs_prune_model(model, sparsity, loader, batches: int = 64, layers=None, rounds: int | None = None,
                    blocksize: int = 128, damp: float = 0.01, refit: bool = True, log=None) -> dict:
    """Prune ``model``'s prunable layers to ``sparsity`` (a fraction, or {qualified name: fraction}) by
    layer-wise OBS, in order: layer ℓ's H comes from ``batches`` batches of ``loader`` run through the
    model with layers < ℓ already pruned. ``rounds`` > 1 gets there in steps of equal kept-fraction
    ratio, kept_r = kept^(r/rounds) (each step re-measures H and re-ranks the updated weights: closer
    to OBS's one-weight-at-a-time greed). Returns {layer name: the last obs_prune's result}."""
    rounds = DEFAULT_ROUNDS if rounds is None else int(rounds)
    if rounds < 1:
        raise ValueError(f"layer-wise OBS: rounds={rounds} must be >= 1")
    results = {}
    for r in range(1, rounds + 1):
        step = {k: 1 - (1 - float(v)) ** (r / rounds) for k, v in sparsity.items()} if isinstance(sparsity, dict) \
            else 1 - (1 - float(sparsity)) ** (r / rounds)
        results = _obs_prune_model_once(model, step, loader, batches, layers, blocksize, damp, refit,
                                        log if r == rounds else None)
    return results


def _obs_prune_model_once(model, sparsity, loader, batches, layers, blocksize, damp, refit, log) -> dict:
    from .prune import prunable_layers
    named = prunable_layers(model) if layers is None else [(n, m) for n, m in prunable_layers(model)
                                                            if m in set(layers)]
    if not named:
        raise ValueError("layer-wise OBS: the model has no Linear/Conv2d layer to prune")
    if isinstance(sparsity, dict):
        unknown = sorted(set(sparsity) - {n for n, _ in named})
        if unknown:
            raise ValueError(f"layer-wise OBS: no prunable layer named {unknown}; layers: {[n for n, _ in named]}")
    if batches < 1:
        raise ValueError(f"layer-wise OBS: batches={batches} must be >= 1 (calibration batches)")
    calib = [x for x, _ in itertools.islice(iter(loader), batches)]
    if not calib:
        raise ValueError("layer-wise OBS: the calibration loader yielded no batch")
    was_training = model.training
    model.eval()
    results = {}
    try:
        for name, m in named:
            s = sparsity.get(name) if isinstance(sparsity, dict) else sparsity
            if s is None:
                continue
            collector = HessianCollector(m)
            try:
                with no_grad():
                    for x in calib:
                        model(x)
            finally:
                collector.remove()
            results[name] = obs_prune(m, float(s), collector.hessian(), blocksize=blocksize, damp=damp, refit=refit)
            if log:
                log(f"obs {name}: kept {results[name]['kept']:.4f}, reconstruction error {results[name]['error']:.4g}")
    finally:
        model.train(was_training)
    return results
