"""Pruning schedules and helpers on top of ``torch.nn.utils.prune``'s module.

The pruning methods themselves (``l1_unstructured``, ``ln_structured``, ``global_unstructured``,
``PruningContainer``, ``remove``, ``is_pruned`` ...) live in :mod:`tinycompress.nn.utils.prune`,
torch's import path, and are re-exported here: ``compress`` builds on ``nn``, never the reverse.
This module adds what torch does not have: the effective weight, a sparsity table, restoring a pruned
checkpoint, pruning a whole model to a sparsity, and the one-shot / iterative (Han et al.) / gradual
(Zhu & Gupta) schedules as training callbacks.

Zeros stay zero: the effective ``module.<name>`` is exactly 0 where the mask is 0 by construction,
whatever an optimizer does to ``<name>_orig`` (whose pruned entries get an exactly-zero gradient
and, as in torch, may still move under weight decay).
"""
from __future__ import annotations

import numpy as np

from ..callbacks import Callback
from ..nn.utils.prune import (BasePruningMethod, CustomFromMask, Identity, L1Unstructured, LnStructured,
                              PruningContainer, RandomStructured, RandomUnstructured, custom_from_mask,
                              global_unstructured, identity, is_pruned, l1_unstructured, ln_structured,
                              random_structured, random_unstructured, remove)

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned", "effective_weight", "prunable_layers", "sparsity_table", "restore_pruning",
           "prune_to_sparsity", "prepare_model", "OneShotPruning", "IterativePruning", "GradualPruning",
           "make_pruning_callback"]


def _hooks_of(module):
    """The module's forward pre-hooks, where a pruning method sits as torch's does."""
    return module._forward_pre_hooks


# ------------------------------------------------------------------------------ helpers
def effective_weight(module, name: str = "weight") -> np.ndarray:
    """The weight the forward uses, freshly computed: ``orig ⊙ <name>_mask`` (⊙ ``mask`` for masked layers)."""
    if name + "_orig" in module._parameters:
        w = module._parameters[name + "_orig"].array * module._buffers[name + "_mask"].array
    else:
        w = getattr(module, name).array
    own = module._buffers.get("mask") if name == "weight" else None
    return w * own.array if own is not None else w.copy()


def prunable_layers(model, types=None):
    """``(qualified name, module)`` of the layers with a 2-D+ ``weight`` (Linear, Conv2d and masked twins)."""
    from .. import nn
    types = types or (nn.Linear, nn.Conv2d)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, types)]


def sparsity_table(model) -> list[dict]:
    """Per prunable layer: name, shape, weights, kept (non-zero effective weights), kept fraction."""
    rows = []
    for name, m in prunable_layers(model):
        w = effective_weight(m)
        kept = int(np.count_nonzero(w))
        rows.append({"layer": name, "shape": tuple(w.shape), "weights": int(w.size), "kept": kept,
                     "kept_fraction": kept / max(w.size, 1)})
    return rows


def restore_pruning(model, state_dict) -> None:
    """Before ``load_state_dict`` of a pruned checkpoint into a fresh model: re-parametrise (with
    :func:`identity`) every ``<name>`` whose ``<name>_orig``/``<name>_mask`` the state dict holds."""
    for key in state_dict:
        if key.endswith("_mask"):
            path, _, name = key[:-len("_mask")].rpartition(".")
            module = model.get_submodule(path)
            if name in module._parameters and (f"{path}.{name}_orig" if path else f"{name}_orig") in state_dict:
                identity(module, name)


# ------------------------------------------------------------------------------ schedules
METHODS = ("l1", "random", "ln")


def _refresh(module, name="weight") -> None:
    """Recompute ``module.<name> = <name>_orig ⊙ <name>_mask`` now (the forward pre-hook's work)."""
    for hook in _hooks_of(module).values():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            setattr(module, name, hook.apply_mask(module))


def _pruned_count(module, name="weight") -> int:
    mask = module._buffers.get(name + "_mask")
    return 0 if mask is None else int(mask.array.size - np.count_nonzero(mask.array))


def prune_to_sparsity(model, sparsity: float, method: str = "l1", scope: str = "layer", layers=None,
                      n=2, dim: int = 0) -> None:
    """Prune ``model``'s Linear/Conv2d weights until a fraction ``sparsity`` of them is zero.

    ``sparsity``: a fraction, or a dict {qualified layer name: fraction} (per-layer rates, scope 'layer').
    ``scope='layer'``: each layer reaches ``sparsity``; ``'global'``: the layers together (smallest
    magnitudes across all of them; l1 and random only). ``method='ln'`` removes whole output neurons /
    filters (``dim=0``) by their L_n norm. Earlier pruning is kept: only the missing count is pruned,
    among the surviving weights (a PruningContainer, as torch). Every layer ends up re-parametrised
    (``weight_orig``/``weight_mask``; an all-ones mask when nothing needed pruning), so checkpoints
    have the same keys whatever the sparsity.
    """
    if isinstance(sparsity, dict):                     # per-layer targets, by qualified layer name
        named = dict(prunable_layers(model))
        unknown = sorted(set(sparsity) - set(named))
        if unknown:
            raise ValueError(f"prune_to_sparsity: no prunable layer named {unknown}; layers: {sorted(named)}")
        if scope != "layer":
            raise ValueError("per-layer sparsities (a dict) need scope='layer'")
        for name, s_layer in sparsity.items():
            prune_to_sparsity(model, s_layer, method, "layer", [named[name]], n=n, dim=dim)
        return
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {METHODS}")
    if scope not in ("layer", "global"):
        raise ValueError(f"unknown pruning scope {scope!r}; choose 'layer' or 'global'")
    if not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"sparsity={sparsity} must be a fraction in [0, 1]")
    layers = [m for _, m in prunable_layers(model)] if layers is None else list(layers)
    if not layers:
        raise ValueError("prune_to_sparsity: the model has no Linear/Conv2d layer to prune")
    for m in layers:                 # rank by the current weights, not those the last forward computed
        _refresh(m)                  # (one optimizer step stale, or the init's after load_state_dict)
    if scope == "global":
        if method == "ln":
            raise ValueError("global pruning is unstructured: use method 'l1' or 'random' with scope='global'")
        total = sum(int(np.prod(m.weight.shape)) for m in layers)
        k = round(sparsity * total) - sum(_pruned_count(m) for m in layers)
        cls = L1Unstructured if method == "l1" else RandomUnstructured
        global_unstructured([(m, "weight") for m in layers], pruning_method=cls, amount=max(int(k), 0))
        return
    for m in layers:
        size = int(np.prod(m.weight.shape))
        if method == "ln":
            channels = m.weight.shape[dim]
            dead = int(channels - np.count_nonzero(
                m.weight_mask.array.sum(axis=tuple(d for d in range(m.weight.ndim) if d != dim % m.weight.ndim))
            )) if hasattr(m, "weight_mask") else 0
            k = round(sparsity * channels) - dead
            if k > 0:
                ln_structured(m, "weight", int(k), n=n, dim=dim)
            elif "weight_mask" not in m._buffers:
                identity(m, "weight")
            continue
        k = round(sparsity * size) - _pruned_count(m)
        if k > 0:
            (l1_unstructured if method == "l1" else random_unstructured)(m, "weight", int(k))
        elif "weight_mask" not in m._buffers:
            identity(m, "weight")


def _map_targets(sparsity, f):
    """``f`` applied to a sparsity target, or to each value of a per-layer dict of them."""
    return {k: f(float(v)) for k, v in sparsity.items()} if isinstance(sparsity, dict) else f(float(sparsity))


def _show(target) -> str:
    return (", ".join(f"{k} {v:.4f}" for k, v in target.items()) if isinstance(target, dict)
            else f"{target:.4f}")


def prepare_model(model, layers=None):
    """Re-parametrise every prunable layer with an all-ones mask (:func:`identity`) now.

    Call it before building the optimizer: the parameter order (``bias``, ``weight_orig``) is then
    the same in a fresh run and in a resumed one, so optimizer state dicts line up.
    """
    layers = [m for _, m in prunable_layers(model)] if layers is None else list(layers)
    for m in layers:
        if "weight_mask" not in m._buffers:
            identity(m, "weight")
    return model


def _apply_own_masks(model):
    from .masked import apply_masks
    apply_masks(model)


class _PruningCallback(Callback):
    def on_train_begin(self, trainer) -> None:
        prepare_model(trainer.model)


class OneShotPruning(_PruningCallback):
    """Prune once to ``sparsity`` at the start of epoch ``at_epoch`` (then fine-tune)."""

    def __init__(self, sparsity, method="l1", scope="layer", at_epoch=0, lr_factor=1.0):
        self.sparsity, self.method, self.scope = sparsity, method, scope
        self.at_epoch, self.lr_factor, self.done = int(at_epoch), float(lr_factor), False

    def on_epoch_begin(self, trainer) -> None:
        if not self.done and trainer.epoch >= self.at_epoch:
            prune_to_sparsity(trainer.model, self.sparsity, self.method, self.scope)
            _scale_lr(trainer, self.lr_factor)
            self.done = True
            trainer.log(f"pruned to sparsity {_show(self.sparsity)} ({self.method}, {self.scope})")

    def state_dict(self):
        return {"done": self.done}

    def load_state_dict(self, state):
        self.done = bool(state.get("done", False))


def _scale_lr(trainer, factor) -> None:
    if factor != 1.0:
        for group in trainer.optimizer.param_groups:
            group["lr"] *= factor
        sched = getattr(trainer, "scheduler", None)
        if sched is not None and hasattr(sched, "base_lrs"):
            sched.base_lrs = [lr * factor for lr in sched.base_lrs]


class IterativePruning(_PruningCallback):
    """Han et al. 2015: train dense for ``start_epoch`` epochs, then prune in ``stages`` stages, each
    followed by ``epochs_per_stage`` epochs of retraining at ``lr_factor`` (0.1) × the learning rate.

    Stage k (1..stages) reaches sparsity ``1 − (1 − target)^(k/stages)`` (equal kept-fraction ratios).
    """

    def __init__(self, sparsity, stages=3, epochs_per_stage=1, start_epoch=1, method="l1", scope="layer",
                 lr_factor=0.1):
        if stages < 1 or epochs_per_stage < 1:
            raise ValueError("IterativePruning: stages and epochs_per_stage must be >= 1")
        self.sparsity, self.stages, self.epochs_per_stage = sparsity, int(stages), int(epochs_per_stage)
        self.start_epoch, self.method, self.scope, self.lr_factor = int(start_epoch), method, scope, lr_factor
        self.stage = 0

    def target(self, stage: int):
        return _map_targets(self.sparsity, lambda s: 1.0 - (1.0 - s) ** (stage / self.stages))

    def on_epoch_begin(self, trainer) -> None:
        e = trainer.epoch - self.start_epoch
        if e < 0 or self.stage >= self.stages or e % self.epochs_per_stage:
            return
        self.stage += 1
        prune_to_sparsity(trainer.model, self.target(self.stage), self.method, self.scope)
        _apply_own_masks(trainer.model)
        if self.stage == 1:
            _scale_lr(trainer, self.lr_factor)
        trainer.log(f"prune stage {self.stage}/{self.stages}: sparsity {_show(self.target(self.stage))}")

    def state_dict(self):
        return {"stage": self.stage}

    def load_state_dict(self, state):
        self.stage = int(state.get("stage", 0))


class GradualPruning(_PruningCallback):
    """Zhu & Gupta 2017: every ``frequency`` (Δt) steps from ``begin_step`` (t0) for n steps,
    ``s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³``. Defaults: end at 3/4 of training, 10 steps."""

    def __init__(self, final_sparsity, initial_sparsity=0.0, begin_step=0, end_step=None, frequency=None,
                 method="l1", scope="layer"):
        self.s_f, self.s_i = final_sparsity, float(initial_sparsity)
        self.begin_step, self.end_step, self.frequency = int(begin_step), end_step, frequency
        self.method, self.scope = method, scope

    def on_train_begin(self, trainer) -> None:
        prepare_model(trainer.model)
        if self.end_step is None:
            self.end_step = max(self.begin_step + 1, int(0.75 * trainer.epochs * trainer.steps_per_epoch))
        if self.frequency is None:
            self.frequency = max(1, (self.end_step - self.begin_step) // 10)

    def sparsity_at(self, t: int):
        span = max(self.end_step - self.begin_step, 1)
        frac = min(max((t - self.begin_step) / span, 0.0), 1.0)
        return _map_targets(self.s_f, lambda s_f: s_f + (self.s_i - s_f) * (1.0 - frac) ** 3)

    def on_step_end(self, trainer) -> None:
        t = trainer.global_step
        if t < self.begin_step or t > self.end_step or (t - self.begin_step) % self.frequency:
            if t > self.end_step:
                _apply_own_masks(trainer.model)
            return
        prune_to_sparsity(trainer.model, self.sparsity_at(t), self.method, self.scope)
        _apply_own_masks(trainer.model)

    def state_dict(self):
        return {"end_step": self.end_step, "frequency": self.frequency}

    def load_state_dict(self, state):
        self.end_step, self.frequency = state.get("end_step"), state.get("frequency")


def make_pruning_callback(prune: str, sparsity: float, schedule: str = "iterative", scope: str = "layer",
                          epochs: int | None = None):
    """What the CLI's ``--prune l1|random|ln --sparsity S --prune-schedule oneshot|iterative|gradual
    [--prune-scope layer|global]`` builds. ``iterative``: 1 dense epoch, then 3 stages over the rest.
    Call :func:`prepare_model` on the model before building its optimizer (and before
    :func:`restore_pruning` + ``load_state_dict`` on resume)."""
    if schedule == "oneshot":
        return OneShotPruning(sparsity, prune, scope, at_epoch=0)
    if schedule == "iterative":
        rest = max((epochs or 4) - 1, 1)
        stages = min(3, rest)
        return IterativePruning(sparsity, stages=stages, epochs_per_stage=max(rest // stages, 1), start_epoch=1,
                                method=prune, scope=scope)
    if schedule == "gradual":
        return GradualPruning(sparsity, method=prune, scope=scope)
    raise ValueError(f"unknown --prune-schedule {schedule!r}; choose oneshot, iterative or gradual")
