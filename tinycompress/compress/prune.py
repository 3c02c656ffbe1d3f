"""Pruning schedules and helpers on top of ``torch.nn.utils.prune``'s module.

The pruning methods themselves (``l1_unstructured``, ``ln_structured``, ``global_unstructured``,
``PruningContainer``, ``remove``, ``is_pruned`` ...) live in :mod:`tinycompress.nn.utils.prune`,
torch's import path, and are re-exported here: ``compress`` builds on ``nn``, never the reverse.
This module adds what torch does not have: the effective weight, a sparsity table, restoring a pruned
checkpoint, pruning a whole model to a sparsity by any criterion (magnitude, or the loss-aware scores
of :mod:`~tinycompress.compress.criteria`, or layer-wise OBS of :mod:`~tinycompress.compress.obs`),
rewind points for lottery tickets, and the one-shot / iterative (Han et al.; with rewinding, Frankle &
Carbin's iterative magnitude pruning) / gradual (Zhu & Gupta) schedules as training callbacks.

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
           "prune_to_sparsity", "prune_model", "save_rewind_point", "rewind", "prepare_model", "OneShotPruning",
           "IterativePruning", "GradualPruning", "make_pruning_callback", "METHODS"]


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
#: what ``--prune`` names: magnitude (l1), random, structured L_n (ln), the loss-aware criteria, and OBS
METHODS = ("l1", "random", "ln", "taylor", "obd", "snip", "movement", "obs")
#: the methods that rank by importance scores from :mod:`~tinycompress.compress.criteria`
SCORED = ("taylor", "obd", "snip", "movement")


def _refresh(module, name="weight") -> None:
    """Recompute ``module.<name> = <name>_orig ⊙ <name>_mask`` now (the forward pre-hook's work)."""
    for hook in _hooks_of(module).values():
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            setattr(module, name, hook.apply_mask(module))


def _pruned_count(module, name="weight") -> int:
    mask = module._buffers.get(name + "_mask")
    return 0 if mask is None else int(mask.array.size - np.count_nonzero(mask.array))


def prune_to_sparsity(model, sparsity: float, method: str = "l1", scope: str = "layer", layers=None,
                      n=2, dim: int = 0, importance_scores: dict | None = None) -> None:
    """Prune ``model``'s Linear/Conv2d weights until a fraction ``sparsity`` of them is zero.

    ``sparsity``: a fraction, or a dict {qualified layer name: fraction} (per-layer rates, scope 'layer').
    ``scope='layer'``: each layer reaches ``sparsity``; ``'global'``: the layers together (smallest
    magnitudes across all of them; l1 and random only). ``method='ln'`` removes whole output neurons /
    filters (``dim=0``) by their L_n norm. Earlier pruning is kept: only the missing count is pruned,
    among the surviving weights (a PruningContainer, as torch). Every layer ends up re-parametrised
    (``weight_orig``/``weight_mask``; an all-ones mask when nothing needed pruning), so checkpoints
    have the same keys whatever the sparsity.

    ``importance_scores``: {module: scores of the weight's shape} (e.g. from
    :mod:`~tinycompress.compress.criteria`) ranks in place of |w| for 'l1' (per layer or global) and,
    through the L_n norm of each channel's scores, for 'ln' -- torch's ``importance_scores``.
    """
    if isinstance(sparsity, dict):                     # per-layer targets, by qualified layer name
        named = dict(prunable_layers(model))
        unknown = sorted(set(sparsity) - set(named))
        if unknown:
            raise ValueError(f"prune_to_sparsity: no prunable layer named {unknown}; layers: {sorted(named)}")
        if scope != "layer":
            raise ValueError("per-layer sparsities (a dict) need scope='layer'")
        for name, s_layer in sparsity.items():
            prune_to_sparsity(model, s_layer, method, "layer", [named[name]], n=n, dim=dim,
                              importance_scores=importance_scores)
        return
    if method not in ("l1", "random", "ln"):
        hint = " (scored criteria go through prune_model, or pass importance_scores with method 'l1')" \
            if method in METHODS else ""
        raise ValueError(f"unknown pruning method {method!r} for prune_to_sparsity; choose l1, random or ln{hint}")
    if importance_scores is not None and method == "random":
        raise ValueError("importance_scores rank weights: use method 'l1' or 'ln' with them, not 'random'")
    if scope not in ("layer", "global"):
        raise ValueError(f"unknown pruning scope {scope!r}; choose 'layer' or 'global'")
    if not 0.0 <= float(sparsity) <= 1.0:
        raise ValueError(f"sparsity={sparsity} must be a fraction in [0, 1]")
    layers = [m for _, m in prunable_layers(model)] if layers is None else list(layers)
    if not layers:
        raise ValueError("prune_to_sparsity: the model has no Linear/Conv2d layer to prune")
    for m in layers:                 # rank by the current weights, not those the last forward computed
        _refresh(m)                  # (one optimizer step stale, or the init's after load_state_dict)
    scores = {} if importance_scores is None else importance_scores
    for m in layers:
        if m in scores and tuple(np.shape(scores[m])) != tuple(m.weight.shape):
            raise ValueError(f"importance_scores for {type(m).__name__} have shape {tuple(np.shape(scores[m]))}, "
                             f"not the weight's {tuple(m.weight.shape)}")
    if scope == "global":
        if method == "ln":
            raise ValueError("global pruning is unstructured: use method 'l1' or 'random' with scope='global'")
        total = sum(int(np.prod(m.weight.shape)) for m in layers)
        k = round(sparsity * total) - sum(_pruned_count(m) for m in layers)
        cls = L1Unstructured if method == "l1" else RandomUnstructured
        given = {(m, "weight"): scores[m] for m in layers if m in scores} or None
        global_unstructured([(m, "weight") for m in layers], pruning_method=cls, amount=max(int(k), 0),
                            importance_scores=given)
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
                ln_structured(m, "weight", int(k), n=n, dim=dim, importance_scores=scores.get(m))
            elif "weight_mask" not in m._buffers:
                identity(m, "weight")
            continue
        k = round(sparsity * size) - _pruned_count(m)
        if k > 0 and method == "l1":
            l1_unstructured(m, "weight", int(k), importance_scores=scores.get(m))
        elif k > 0:
            random_unstructured(m, "weight", int(k))
        elif "weight_mask" not in m._buffers:
            identity(m, "weight")


def prune_model(model, sparsity, method: str = "l1", scope: str = "layer", loader=None, loss_fn=None,
                batches: int = 16, movement_scores=None, log=None, **kwargs) -> None:
    """Prune ``model`` to ``sparsity`` by any of :data:`METHODS`: 'l1', 'random', 'ln' as
    :func:`prune_to_sparsity`; 'taylor', 'obd', 'snip' rank by their scores on ``batches`` batches of
    ``loader`` (:mod:`~tinycompress.compress.criteria`), 'movement' by the scores a
    :class:`~tinycompress.compress.criteria.MovementScores` accumulated (``movement_scores``); 'obs' is
    layer-wise OBS (:func:`~tinycompress.compress.obs.obs_prune_model`), which also updates the kept
    weights. Scored criteria work with ``scope='global'`` (loss-based scores compare across layers)."""
    if method not in METHODS:
        raise ValueError(f"unknown pruning method {method!r}; choose one of {METHODS}")
    if method == "obs":
        if scope != "layer":
            raise ValueError("layer-wise OBS prunes each layer to its own sparsity: use scope='layer' (per-layer "
                             "rates as a dict)")
        if loader is None:
            raise ValueError("pruning by 'obs' needs calibration data: pass loader=")
        from .obs import obs_prune_model
        obs_prune_model(model, sparsity, loader, batches=batches, log=log, **kwargs)
        return
    scores = None
    if method in SCORED:
        from . import criteria
        scores = criteria.scores(method, model, loader, loss_fn, batches=batches, movement_scores=movement_scores)
        method = "l1"
    prune_to_sparsity(model, sparsity, method, scope, importance_scores=scores, **kwargs)


# ------------------------------------------------------------------------------ lottery tickets
def _canonical(name: str) -> str:
    """``fc1.weight_orig`` and ``fc1.weight`` both name fc1's weight: pruning does not change the key."""
    return name[:-len("_orig")] if name.endswith("_orig") else name


def save_rewind_point(model) -> dict:
    """A copy of every parameter's values, keyed by its name as if unpruned (``fc1.weight``, not
    ``fc1.weight_orig``): the point lottery tickets rewind to (initialisation, or iteration k)."""
    return {_canonical(name): p.array.copy() for name, p in model.named_parameters()}


def rewind(model, point: dict) -> None:
    """Set every parameter back to ``point``'s values (bit for bit), keeping the masks: surviving
    weights rewind, pruned ones stay zero in the effective weight (and in masked layers' storage)."""
    params = {_canonical(name): p for name, p in model.named_parameters()}
    missing = sorted(set(params) - set(point))
    if missing:
        raise ValueError(f"rewind: the saved point has no values for {missing}; it was saved from another model")
    for name, p in params.items():
        if tuple(point[name].shape) != tuple(p.shape):
            raise ValueError(f"rewind: {name} was saved with shape {tuple(point[name].shape)}, the model has "
                             f"{tuple(p.shape)}")
        p.array[...] = point[name]
    for _, m in prunable_layers(model):
        _refresh(m)
    _apply_own_masks(model)


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
    """What every schedule shares: re-parametrise at the start; prune by ``method`` (any of
    :data:`METHODS`), with the criteria's calibration data the first ``calib_batches`` batches of the
    trainer's training loader and its loss; for 'movement', accumulate the scores every step."""

    def _init_method(self, method, scope, calib_batches=16) -> None:
        if method not in METHODS:
            raise ValueError(f"unknown pruning method {method!r}; choose one of {METHODS}")
        self.method, self.scope, self.calib_batches = method, scope, int(calib_batches)
        self._movement = None
        if method == "movement":
            from .criteria import MovementScores
            self._movement = MovementScores()

    def on_train_begin(self, trainer) -> None:
        prepare_model(trainer.model)
        if self._movement is not None:
            self._movement.on_train_begin(trainer)

    def on_step_end(self, trainer) -> None:
        if self._movement is not None:
            self._movement.accumulate()

    def _prune(self, trainer, target) -> None:
        prune_model(trainer.model, target, self.method, self.scope, loader=getattr(trainer, "train_loader", None),
                    loss_fn=getattr(trainer, "loss_fn", None), batches=self.calib_batches,
                    movement_scores=self._movement)


class OneShotPruning(_PruningCallback):
    """Prune once to ``sparsity`` at the start of epoch ``at_epoch`` (then fine-tune). At epoch 0 the
    criterion sees the untrained network (SNIP's setting)."""

    def __init__(self, sparsity, method="l1", scope="layer", at_epoch=0, lr_factor=1.0, calib_batches=16):
        self._init_method(method, scope, calib_batches)
        self.sparsity = sparsity
        self.at_epoch, self.lr_factor, self.done = int(at_epoch), float(lr_factor), False

    def on_epoch_begin(self, trainer) -> None:
        if not self.done and trainer.epoch >= self.at_epoch:
            self._prune(trainer, self.sparsity)
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

    ``rewind`` makes it Frankle & Carbin's lottery-ticket search (iterative magnitude pruning with
    rewinding): ``'init'`` saves the weights before the first step, an int k after global step k
    (Frankle et al. 2019's late rewinding); after every stage's pruning the surviving weights go back
    to that point (:func:`rewind`) and the optimizer's state (momentum, Adam moments) is cleared, so
    each stage retrains the sparse net from the rewind point. Use ``lr_factor=1`` with it.
    """

    def __init__(self, sparsity, stages=3, epochs_per_stage=1, start_epoch=1, method="l1", scope="layer",
                 lr_factor=0.1, rewind=None, calib_batches=16):
        if stages < 1 or epochs_per_stage < 1:
            raise ValueError("IterativePruning: stages and epochs_per_stage must be >= 1")
        if rewind is not None and rewind != "init" and not (isinstance(rewind, int) and rewind >= 0):
            raise ValueError(f"IterativePruning: rewind={rewind!r} must be None, 'init' or a step number >= 0")
        self._init_method(method, scope, calib_batches)
        self.sparsity, self.stages, self.epochs_per_stage = sparsity, int(stages), int(epochs_per_stage)
        self.start_epoch, self.lr_factor = int(start_epoch), lr_factor
        self.rewind_to = 0 if rewind == "init" else rewind
        self.point = None
        self.stage = 0

    def target(self, stage: int):
        return _map_targets(self.sparsity, lambda s: 1.0 - (1.0 - s) ** (stage / self.stages))

    def on_train_begin(self, trainer) -> None:
        super().on_train_begin(trainer)
        if self.rewind_to == 0 and self.point is None and trainer.global_step == 0:
            self.point = save_rewind_point(trainer.model)

    def on_step_end(self, trainer) -> None:
        super().on_step_end(trainer)
        if self.rewind_to and self.point is None and trainer.global_step == self.rewind_to:
            self.point = save_rewind_point(trainer.model)

    def on_epoch_begin(self, trainer) -> None:
        e = trainer.epoch - self.start_epoch
        if e < 0 or self.stage >= self.stages or e % self.epochs_per_stage:
            return
        self.stage += 1
        self._prune(trainer, self.target(self.stage))
        _apply_own_masks(trainer.model)
        note = ""
        if self.rewind_to is not None:
            if self.point is None:
                raise ValueError(f"IterativePruning: rewind to step {self.rewind_to} was asked for, but pruning "
                                 f"started at step {trainer.global_step}: rewind to an earlier step")
            rewind(trainer.model, self.point)
            trainer.optimizer.state.clear()
            note = f", rewound to step {self.rewind_to}"
        if self.stage == 1:
            _scale_lr(trainer, self.lr_factor)
        trainer.log(f"prune stage {self.stage}/{self.stages}: sparsity {_show(self.target(self.stage))}{note}")

    def state_dict(self):
        state = {"stage": self.stage}
        if self.point is not None:
            state["point"] = dict(self.point)
        return state

    def load_state_dict(self, state):
        self.stage = int(state.get("stage", 0))
        self.point = state.get("point")


class GradualPruning(_PruningCallback):
    """Zhu & Gupta 2017: every ``frequency`` (Δt) steps from ``begin_step`` (t0) for n steps,
    ``s_t = s_f + (s_i − s_f)(1 − (t − t0)/(nΔt))³``, and once more at ``end_step`` (= t0 + nΔt when it
    falls on the grid), so the ramp always ends at ``s_f``. Defaults: end at 3/4 of training, 10 steps."""

    def __init__(self, final_sparsity, initial_sparsity=0.0, begin_step=0, end_step=None, frequency=None,
                 method="l1", scope="layer", calib_batches=16):
        self._init_method(method, scope, calib_batches)
        self.s_f, self.s_i = final_sparsity, float(initial_sparsity)
        self.begin_step, self.end_step, self.frequency = int(begin_step), end_step, frequency

    def on_train_begin(self, trainer) -> None:
        super().on_train_begin(trainer)
        if self.end_step is None:
            self.end_step = max(self.begin_step + 1, int(0.75 * trainer.epochs * trainer.steps_per_epoch))
        if self.frequency is None:
            self.frequency = max(1, (self.end_step - self.begin_step) // 10)

    def sparsity_at(self, t: int):
        span = max(self.end_step - self.begin_step, 1)
        frac = min(max((t - self.begin_step) / span, 0.0), 1.0)
        return _map_targets(self.s_f, lambda s_f: s_f + (self.s_i - s_f) * (1.0 - frac) ** 3)

    def on_step_end(self, trainer) -> None:
        super().on_step_end(trainer)
        t = trainer.global_step
        on_grid = (t - self.begin_step) % self.frequency == 0 or t == self.end_step   # the last step hits s_f
        if t < self.begin_step or t > self.end_step or not on_grid:
            if t > self.end_step:
                _apply_own_masks(trainer.model)
            return
        self._prune(trainer, self.sparsity_at(t))
        _apply_own_masks(trainer.model)

    def state_dict(self):
        return {"end_step": self.end_step, "frequency": self.frequency}

    def load_state_dict(self, state):
        self.end_step, self.frequency = state.get("end_step"), state.get("frequency")


def make_pruning_callback(prune: str, sparsity: float, schedule: str = "iterative", scope: str = "layer",
                          epochs: int | None = None, rewind=None, stages: int | None = None, calib_batches: int = 16,
                          frequency: int | None = None):
    """What the CLI's ``--prune METHOD --sparsity S --prune-schedule oneshot|iterative|gradual
    [--prune-scope layer|global] [--prune-stages N] [--prune-frequency STEPS] [--rewind init|K]
    [--calib-batches B]`` builds.

    ``iterative``: 1 dense epoch, then ``stages`` (3) prune/retrain stages over the rest at 0.1× lr. With
    ``rewind`` (lottery tickets) the epochs are split into ``stages + 1`` equal rounds, the first dense,
    each later one starting with pruning and rewinding, at the full lr. Call :func:`prepare_model` on the
    model before building its optimizer (and before :func:`restore_pruning` + ``load_state_dict`` on resume)."""
    if frequency is not None and schedule != "gradual":
        raise ValueError("a pruning frequency spaces the gradual schedule's steps: --prune-schedule gradual")
    if rewind is not None and schedule != "iterative":
        raise ValueError("rewinding (lottery tickets) needs the iterative schedule: --prune-schedule iterative")
    if schedule == "oneshot":
        return OneShotPruning(sparsity, prune, scope, at_epoch=0, calib_batches=calib_batches)
    if schedule == "iterative":
        if rewind is not None:
            stages = stages or 3
            per = max((epochs or 4) // (stages + 1), 1)
            return IterativePruning(sparsity, stages=stages, epochs_per_stage=per, start_epoch=per, method=prune,
                                    scope=scope, lr_factor=1.0, rewind=rewind, calib_batches=calib_batches)
        rest = max((epochs or 4) - 1, 1)
        stages = min(stages or 3, rest)
        return IterativePruning(sparsity, stages=stages, epochs_per_stage=max(rest // stages, 1), start_epoch=1,
                                method=prune, scope=scope, calib_batches=calib_batches)
    if schedule == "gradual":
        return GradualPruning(sparsity, method=prune, scope=scope, calib_batches=calib_batches, frequency=frequency)
    raise ValueError(f"unknown --prune-schedule {schedule!r}; choose oneshot, iterative or gradual")
