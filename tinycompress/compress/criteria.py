"""Pruning criteria that look at the loss, as importance scores.

Each criterion returns ``{module: score}``, one non-negative array of the weight's shape per prunable
layer (Linear, Conv2d and their masked twins); larger means "keep". A score feeds every pruning entry
point, as torch's ``importance_scores`` do::

    scores = criteria.taylor(model, loader, batches=8)
    prune.l1_unstructured(m, "weight", 0.9, importance_scores=scores[m])          # per layer
    prune.global_unstructured([(m, "weight") for m in scores], prune.L1Unstructured, amount=0.9,
                              importance_scores={(m, "weight"): s for m, s in scores.items()})
    prune.ln_structured(m, "weight", 10, n=1, dim=0, importance_scores=scores[m])  # channel = Σ scores
    prune.prune_to_sparsity(model, 0.9, importance_scores=scores)                  # the whole model

With w the effective weight (``w_orig ⊙ mask`` once pruned: pruned entries score 0) and L the mean
loss of a batch b:

=============  =====================================================  ==============================
magnitude      |w|                                                     Han et al. 2015
taylor         (1/B) Σ_b |w ⊙ ∂L_b/∂w|                                 Molchanov et al. 2017
snip           |w ⊙ ∂L/∂w| / Σ|w ⊙ ∂L/∂w|  (L over B batches, at init)  Lee et al. 2019
obd            ½ H_ii w_i²   (H_ii: exact, or Hutchinson's estimate)   LeCun et al. 1990
movement       −Σ_t w_t ⊙ ∂L_t/∂w  over fine-tuning steps t, shifted   Sanh et al. 2020
               by one constant (the minimum over all layers) to be ≥ 0
=============  =====================================================  ==============================

Gradients flow to the leaf Parameter (``weight_orig`` once pruned, else ``weight``): its gradient is
``∂L/∂w ⊙ mask``, so a pruned entry never gains importance. Layer-wise OBS, which also *updates* the
surviving weights, lives in :mod:`tinycompress.compress.obs`.
"""
from __future__ import annotations

import itertools

import numpy as np

from ..autograd import grad as _grad
from ..autograd.grad_mode import enable_grad
from ..callbacks import Callback
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["CRITERIA", "weight_parameter", "magnitude", "taylor", "snip", "hessian_diagonal", "obd",
           "movement", "MovementScores", "scores"]

#: the criteria :func:`scores` computes by name ("obs" is :mod:`~tinycompress.compress.obs`)
CRITERIA = ("l1", "taylor", "snip", "obd", "movement")


def _layers(model, layers=None) -> list:
    from .prune import prunable_layers
    found = [m for _, m in prunable_layers(model)] if layers is None else list(layers)
    if not found:
        raise ValueError("pruning criteria: the model has no Linear/Conv2d layer to score")
    return found


def weight_parameter(module, name: str = "weight"):
    """The leaf Parameter behind ``module.<name>``: ``<name>_orig`` once pruned, else ``<name>``."""
    return module._parameters.get(name + "_orig", module._parameters.get(name))


def _effective(module) -> np.ndarray:
    from .prune import effective_weight
    return effective_weight(module)


def _loss(model, loss_fn, x, y):
    out = model(x)
    if loss_fn is None:
        from ..nn import functional as F
        return F.cross_entropy(out, y)
    return loss_fn(out, y)


def _batches(loader, batches: int):
    if batches < 1:
        raise ValueError(f"pruning criteria: batches={batches} must be >= 1")
    got = list(itertools.islice(iter(loader), batches))
    if not got:
        raise ValueError("pruning criteria: the loader yielded no batch")
    return got


def _grads(model, loss_fn, x, y, params) -> list[np.ndarray]:
    """∂L/∂p for the leaf ``params`` on one batch (``.grad`` untouched)."""
    with enable_grad():
        loss = _loss(model, loss_fn, x, y)
        gs = _grad(loss, params, allow_unused=True)
    return [np.zeros_like(p.array) if g is None else g.array for g, p in zip(gs, params)]


def magnitude(model, layers=None) -> dict:
    """|w|: today's magnitude criterion, as scores."""
    return {m: np.abs(_effective(m)) for m in _layers(model, layers)}


def taylor(model, loader, loss_fn=None, batches: int = 8, layers=None) -> dict:
    """First-order Taylor (Molchanov et al. 2017): the loss change of zeroing w_i is ≈ |w_i ∂L/∂w_i|,
    averaged over ``batches`` batches: S = (1/B) Σ_b |w ⊙ ∂L_b/∂w|."""
    layers = _layers(model, layers)
    params = [weight_parameter(m) for m in layers]
    acc = [np.zeros_like(p.array) for p in params]
    got = _batches(loader, batches)
    was_training = model.training
    model.eval()
    try:
        for x, y in got:
            for a, g, m in zip(acc, _grads(model, loss_fn, x, y, params), layers):
                a += np.abs(_effective(m) * g)
    finally:
        model.train(was_training)
    return {m: a / len(got) for m, a in zip(layers, acc)}


def snip(model, loader, loss_fn=None, batches: int = 1, layers=None) -> dict:
    """SNIP's connection sensitivity (Lee et al. 2019), meant for the untrained network:
    S = |w ⊙ ∂L/∂w| / Σ_all |w ⊙ ∂L/∂w|, with L the mean loss over ``batches`` batches (the gradient is
    averaged before the product, unlike :func:`taylor`). Normalised over every scored layer together."""
    layers = _layers(model, layers)
    params = [weight_parameter(m) for m in layers]
    acc = [np.zeros_like(p.array) for p in params]
    got = _batches(loader, batches)
    was_training = model.training
    model.eval()
    try:
        for x, y in got:
            for a, g in zip(acc, _grads(model, loss_fn, x, y, params)):
                a += g
    finally:
        model.train(was_training)
    raw = [np.abs(_effective(m) * a / len(got)) for m, a in zip(layers, acc)]
    total = sum(float(r.sum(dtype=np.float64)) for r in raw) or 1.0
    return {m: r / r.dtype.type(total) for m, r in zip(layers, raw)}


def hessian_diagonal(closure, params, samples: int = 16, exact: bool = False, max_exact: int = 20000,
                     generator=None) -> list[np.ndarray]:
    """diag(∂²L/∂p²) for each leaf Tensor of ``params``, L = ``closure()`` a scalar Tensor.

    ``exact``: entry i is ∂/∂p_i of (∂L/∂p)_i, one double backward per entry (n backward passes: for
    layers of at most ``max_exact`` weights in total). Else Hutchinson's estimator over Hessian-vector
    products, with Rademacher z (z_i = ±1, E[z zᵀ] = I):

        diag(H) = E[z ⊙ Hz]  ≈  (1/S) Σ_s z_s ⊙ H z_s,     Var[(z ⊙ Hz)_i] = Σ_{j≠i} H_ij²,

    where Hz = ∂(∇L · z)/∂p is one double backward (the graph of ∇L kept across the S samples). Only
    the block of H among ``params`` is used (the Hessian with respect to the others held fixed).
    """
    params = list(params)
    gen = generator if generator is not None else default_generator()
    with enable_grad():
        loss = closure()
        first = _grad(loss, params, create_graph=True, allow_unused=True)
        live = [(i, g) for i, g in enumerate(first) if g is not None and g.requires_grad]
        out = [np.zeros_like(p.array) for p in params]
        if not live:
            return out
        idx, gs = [i for i, _ in live], [g for _, g in live]
        if exact:
            n = sum(params[i].array.size for i in idx)
            if n > max_exact:
                raise ValueError(f"hessian_diagonal(exact=True) takes one double backward per weight: {n} weights "
                                 f"is more than max_exact={max_exact}; use the estimator (exact=False) or raise "
                                 "max_exact")
            for i, g in zip(idx, gs):
                flat_g = g.reshape(-1)
                flat_out = out[i].reshape(-1)
                for k in range(flat_g.shape[0]):
                    (row,) = _grad(flat_g[k], params[i], retain_graph=True, allow_unused=True)
                    flat_out[k] = 0.0 if row is None else row.array.reshape(-1)[k]
            return out
        if samples < 1:
            raise ValueError(f"hessian_diagonal: samples={samples} must be >= 1")
        for _ in range(samples):
            zs = [Tensor._wrap((gen.integers(0, 2, size=params[i].shape) * 2 - 1).astype(params[i].array.dtype))
                  for i in idx]
            hz = _grad(gs, [params[i] for i in idx], zs, retain_graph=True, allow_unused=True)
            for i, z, h in zip(idx, zs, hz):
                if h is not None:
                    out[i] += z.array * h.array
        for i in idx:
            out[i] /= samples
    return out


def obd(model, loader, loss_fn=None, batches: int = 8, samples: int = 4, exact: bool = False, layers=None,
        generator=None) -> dict:
    """Optimal Brain Damage (LeCun et al. 1990): the loss increase of zeroing w_i at a minimum, with the
    Hessian taken diagonal, is S_i = ½ H_ii w_i². H_ii is averaged over ``batches`` batches (each the
    batch's mean loss), by ``samples`` Hutchinson probes per batch or exactly (``exact``, small layers).
    Estimates of H_ii below 0 (noise; a ReLU net's per-layer H is Gauss-Newton, ≥ 0) count as 0."""
    layers = _layers(model, layers)
    params = [weight_parameter(m) for m in layers]
    acc = [np.zeros_like(p.array) for p in params]
    got = _batches(loader, batches)
    was_training = model.training
    model.eval()
    try:
        for x, y in got:
            diag = hessian_diagonal(lambda: _loss(model, loss_fn, x, y), params, samples=samples, exact=exact,
                                    generator=generator)
            for a, d in zip(acc, diag):
                a += d
    finally:
        model.train(was_training)
    return {m: np.float32(0.5) * np.maximum(a / len(got), 0) * _effective(m) ** 2 for m, a in zip(layers, acc)}


class MovementScores(Callback):
    """Movement pruning's scores (Sanh et al. 2020), accumulated while training:
    S ← S − w ⊙ ∂L/∂w after every optimizer step (weights that move away from zero gain importance).

    The gradient is that of the step just taken, the weight the one it produced. :meth:`scores`
    shifts all layers by one constant (−min S) so they are ≥ 0 and rank the same, per layer or globally.
    """

    def __init__(self, layers=None) -> None:
        self.layers = layers
        self.accumulated: dict = {}
        self.steps = 0

    def on_train_begin(self, trainer) -> None:
        if self.layers is None:
            self.layers = _layers(trainer.model)

    def on_step_end(self, trainer) -> None:
        self.accumulate()

    def accumulate(self) -> None:
        """Add −w ⊙ ∂L/∂w of every layer's current ``.grad``."""
        for m in self.layers:
            p = weight_parameter(m)
            if p.grad is None:
                continue
            s = self.accumulated.setdefault(m, np.zeros_like(p.array))
            s -= _effective(m) * p.grad.array
        self.steps += 1

    def scores(self) -> dict:
        if not self.accumulated:
            raise ValueError("movement pruning needs training steps before it prunes (its scores accumulate "
                             "−w·∂L/∂w during training): prune later in the schedule (iterative or gradual), "
                             "not at initialisation")
        low = min(float(s.min()) for s in self.accumulated.values())
        return {m: (s - np.float32(low)) * (_effective(m) != 0) for m, s in self.accumulated.items()}

    def state_dict(self) -> dict:
        return {"steps": self.steps}

    def load_state_dict(self, state) -> None:
        self.steps = int(state.get("steps", 0))


def movement(model, loader, optimizer, loss_fn=None, batches: int = 100, layers=None) -> dict:
    """Movement scores over ``batches`` steps of fine-tuning ``model`` with ``optimizer`` (the model is
    trained: its weights change). See :class:`MovementScores`."""
    acc = MovementScores(_layers(model, layers))
    model.train()
    for x, y in _batches(loader, batches):
        optimizer.zero_grad()
        with enable_grad():
            _loss(model, loss_fn, x, y).backward()
        optimizer.step()
        acc.accumulate()
    return acc.scores()


def scores(method: str, model, loader=None, loss_fn=None, batches: int = 8, layers=None, movement_scores=None,
           samples: int = 4) -> dict:
    """The scores of criterion ``method`` (one of :data:`CRITERIA`) on ``batches`` batches of ``loader``.
    ``movement`` reads an accumulating :class:`MovementScores` (``movement_scores``)."""
    if method not in CRITERIA:
        raise ValueError(f"unknown pruning criterion {method!r}; choose one of {CRITERIA}")
    if method == "l1":
        return magnitude(model, layers)
    if method == "movement":
        if movement_scores is None:
            raise ValueError("criterion 'movement' needs the MovementScores callback that accumulated them")
        return movement_scores.scores()
    if loader is None:
        raise ValueError(f"criterion {method!r} needs data: pass a loader of calibration batches")
    if method == "taylor":
        return taylor(model, loader, loss_fn, batches, layers)
    if method == "snip":
        return snip(model, loader, loss_fn, batches, layers)
    return obd(model, loader, loss_fn, batches, samples=samples, layers=layers)
