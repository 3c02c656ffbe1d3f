"""Pruning with ``torch.nn.utils.prune``'s names and semantics, on NumPy.

Pruning ``module.<name>`` re-parametrises it: the Parameter moves to ``<name>_orig``, a 0/1
buffer ``<name>_mask`` is registered, and ``module.<name> = <name>_orig ⊙ <name>_mask`` is
recomputed before every forward (a forward pre-hook, as torch). Pruning again composes through a
:class:`PruningContainer`: the new mask is computed among the surviving entries (unstructured) or
the surviving channels (structured), and the amount is relative to those survivors.

``compute_mask(t, default_mask)`` works on NumPy arrays (``t`` the importance scores).
Amounts: a float in [0, 1] is a fraction (``round(amount * n)``, Python's rounding, as torch),
an int a count. Magnitude ranking is a stable sort (torch uses ``topk``: ties may break differently).

Zeros stay zero: the effective ``module.<name>`` is exactly 0 where the mask is 0 by construction,
whatever an optimizer does to ``<name>_orig`` (whose pruned entries get an exactly-zero gradient
and, as in torch, may still move under weight decay).
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from ..callbacks import Callback
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned", "effective_weight", "prunable_layers", "sparsity_table", "restore_pruning",
           "prune_to_sparsity", "prepare_model", "OneShotPruning", "IterativePruning", "GradualPruning",
           "make_pruning_callback"]


# ------------------------------------------------------------------------------ forward pre-hooks

def _hooks_of(module) -> OrderedDict:
    """The module's forward pre-hooks, where a pruning method sits as torch's does."""
    return module._forward_pre_hooks


def _array(t) -> np.ndarray:
    return t.array if isinstance(t, Tensor) else np.asarray(t)


# ------------------------------------------------------------------------------ amounts
def _validate_pruning_amount_init(amount) -> None:
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount!r}. Must be int (a count) or float (a fraction).")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and not 0.0 <= float(amount) <= 1.0):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _compute_nparams_toprune(amount, tensor_size: int) -> int:
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return int(round(float(amount) * tensor_size))


def _validate_pruning_amount(amount, tensor_size: int) -> None:
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _validate_structured_pruning(t) -> None:
    if t.ndim <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {t.shape} with {t.ndim} dims")


def _validate_pruning_dim(t, dim) -> None:
    if dim >= t.ndim or dim < -t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {t.shape}")


def _compute_norm(t: np.ndarray, n, dim: int) -> np.ndarray:
    """L_n norm over every dim but ``dim`` (torch.norm's p: numbers, ±inf, 'fro')."""
    dim = dim % t.ndim
    axes = tuple(d for d in range(t.ndim) if d != dim)
    a = np.abs(t)
    if n == "fro":
        n = 2
    if not isinstance(n, numbers.Real) or isinstance(n, bool):
        raise ValueError(f"ln_structured: unsupported norm n={n!r}; use a number, inf, -inf or 'fro'")
    if n == np.inf:
        return a.max(axis=axes)
    if n == -np.inf:
        return a.min(axis=axes)
    if n == 0:
        return (a != 0).sum(axis=axes).astype(t.dtype)
    if n == 1:
        return a.sum(axis=axes)
    if n == 2:
        return np.sqrt((a * a).sum(axis=axes))
    return (a ** n).sum(axis=axes) ** (1.0 / n)


# ------------------------------------------------------------------------------ methods
class BasePruningMethod(ABC):
    """A pruning technique: subclass and write ``compute_mask(t, default_mask)`` on NumPy arrays."""

    _tensor_name: str | None = None
    PRUNING_TYPE = "unstructured"

    def __call__(self, module, inputs) -> None:
        """Forward pre-hook: ``module.<name> = <name>_orig ⊙ <name>_mask``."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t: np.ndarray, default_mask: np.ndarray) -> np.ndarray:
        """The mask for importance scores ``t``, on top of ``default_mask`` (same shape)."""

    def apply_mask(self, module) -> Tensor:
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return orig * Tensor(mask.array.astype(orig.dtype, copy=False))

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, composing with any earlier pruning."""
        old_method, found, to_remove = None, 0, []
        hooks = _hooks_of(module)
        for k, hook in hooks.items():
            if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
                old_method = hook
                to_remove.append(k)
                found += 1
        if found > 1:
            raise AssertionError(f"Avoid adding multiple pruning hooks to the same tensor {name} of module "
                                 f"{module}. Use a PruningContainer.")
        method = cls(*args, **kwargs)
        method._tensor_name = name
        if old_method is not None:
            if isinstance(old_method, PruningContainer):
                old_method.add_pruning_method(method)
                method = old_method
            else:
                container = PruningContainer(old_method)
                container.add_pruning_method(method)
                method = container

        if not hasattr(module, name):
            raise AttributeError(f"{type(module).__name__} has no parameter {name!r} to prune")
        orig = getattr(module, name)
        if importance_scores is not None:
            scores = _array(importance_scores)
            if scores.shape != orig.shape:
                raise AssertionError(f"importance_scores should have the same shape as parameter {name} of "
                                     f"{type(module).__name__}, got {scores.shape} vs {tuple(orig.shape)}")
        else:
            scores = orig.array
        if not isinstance(method, PruningContainer):
            if name not in module._parameters:
                raise ValueError(f"{type(module).__name__}.{name} is not a Parameter and cannot be pruned")
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = np.ones(orig.shape, dtype=orig.dtype)
        else:
            default_mask = getattr(module, name + "_mask").array.copy()
        try:
            mask = np.asarray(method.compute_mask(scores, default_mask=default_mask)).astype(orig.dtype)
            for k in to_remove:
                del hooks[k]
            module._buffers.pop(name + "_mask", None)       # a new mask: a reference to the old keeps its values
            module.register_buffer(name + "_mask", Tensor(mask))
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if not isinstance(method, PruningContainer):
                orig = module._parameters.pop(name + "_orig")
                module.register_parameter(name, orig)
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None) -> np.ndarray:
        """``t ⊙ compute_mask(importance_scores or t, default_mask or ones)``."""
        t = _array(t)
        scores = t if importance_scores is None else _array(importance_scores)
        if scores.shape != t.shape:
            raise AssertionError(f"importance_scores should have the same shape as tensor t, got {scores.shape} "
                                 f"vs {t.shape}")
        default_mask = np.ones_like(t) if default_mask is None else _array(default_mask)
        return t * self.compute_mask(scores, default_mask=default_mask)

    def remove(self, module) -> None:
        """Make the pruning permanent: ``<name> = <name>_orig ⊙ mask`` as a Parameter again."""
        if self._tensor_name is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        if self._tensor_name in module.__dict__:
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.array = weight.array
        del module._parameters[self._tensor_name + "_orig"]
        del module._buffers[self._tensor_name + "_mask"]
        setattr(module, self._tensor_name, orig)


class PruningContainer(BasePruningMethod):
    """A sequence of pruning methods on one tensor; the newest acts on what earlier ones kept."""

    def __init__(self, *args) -> None:
        self._pruning_methods: tuple = ()
        if len(args) == 1 and isinstance(args[0], BasePruningMethod):
            self._tensor_name = args[0]._tensor_name
            self.add_pruning_method(args[0])
        else:
            for method in args:
                self.add_pruning_method(method)

    def add_pruning_method(self, method) -> None:
        if not isinstance(method, BasePruningMethod) and method is not None:
            raise TypeError(f"{type(method)} is not a BasePruningMethod subclass")
        if method is not None and self._tensor_name != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named '{self._tensor_name}' "
                             f"to PruningContainer {self}. Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask):
        """The newest method's mask among the surviving entries/channels, merged into ``default_mask``."""
        method = self._pruning_methods[-1]
        t = _array(t)
        mask = _array(default_mask)
        new_mask = mask.astype(t.dtype, copy=True)
        if method.PRUNING_TYPE == "unstructured":
            slc = mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the attribute '
                                     "`dim` defined.")
            dim = method.dim % t.ndim if -t.ndim <= method.dim < t.ndim else method.dim
            if not 0 <= dim < t.ndim:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {t.ndim}")
            keep = mask.sum(axis=tuple(d for d in range(t.ndim) if d != dim)) != 0
            slc = [slice(None)] * t.ndim
            slc[dim] = keep
            slc = tuple(slc)
        elif method.PRUNING_TYPE == "global":
            slc = (slice(None),) * t.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(t[slc], default_mask=mask[slc])
        new_mask[slc] = partial
        return new_mask


class Identity(BasePruningMethod):
    """Prunes nothing: the re-parametrisation with a mask of ones."""
    PRUNING_TYPE = "unstructured"

    def compute_mask(self, t, default_mask):
        return default_mask

    @classmethod
    def apply(cls, module, name):
        return super().apply(module, name)


class RandomUnstructured(BasePruningMethod):
    """Prune ``amount`` (currently unpruned) entries chosen at random (library generator)."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = t.size
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        mask = np.array(default_mask, copy=True)
        if k:
            idx = default_generator().permutation(size)[:k]
            mask.reshape(-1)[idx] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


def _smallest(values: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` smallest values (stable order: first index wins a tie)."""
    return np.argsort(values, kind="stable")[:k]


class L1Unstructured(BasePruningMethod):
    """Prune the ``amount`` (currently unpruned) entries of smallest ``|t|``."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask):
        size = t.size
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        mask = np.array(default_mask, copy=True)
        if k:
            mask.reshape(-1)[_smallest(np.abs(t).reshape(-1), k)] = 0
        return mask

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _channel_mask(t, dim, keep_idx) -> np.ndarray:
    mask = np.zeros_like(t)
    slc = [slice(None)] * t.ndim
    slc[dim] = keep_idx
    mask[tuple(slc)] = 1
    return mask


class RandomStructured(BasePruningMethod):
    """Prune ``amount`` (currently unpruned) channels along ``dim`` at random."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, dim=-1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        size = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        if k == 0:
            return default_mask
        keep = np.sort(default_generator().permutation(size)[k:])
        return _channel_mask(t, self.dim, keep) * default_mask

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prune the ``amount`` (currently unpruned) channels along ``dim`` of smallest L_n norm (node pruning)."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        size = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        norm = _compute_norm(t, self.n, self.dim)
        if k == 0:
            return default_mask
        keep = np.sort(np.argsort(-norm, kind="stable")[:size - k])
        return _channel_mask(t, self.dim, keep) * default_mask

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prune with a given 0/1 mask (combined with any earlier mask)."""
    PRUNING_TYPE = "global"

    def __init__(self, mask) -> None:
        self.mask = _array(mask)

    def compute_mask(self, t, default_mask):
        if default_mask.shape != self.mask.shape:
            raise ValueError(f"custom_from_mask: mask has shape {self.mask.shape} but the tensor to prune has "
                             f"shape {default_mask.shape}")
        if self.mask.size and not np.all((self.mask == 0) | (self.mask == 1)):
            raise ValueError("custom_from_mask: mask must contain only 0 and 1")
        return default_mask * self.mask.astype(default_mask.dtype)

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


# ------------------------------------------------------------------------------ functional API
def identity(module, name):
    Identity.apply(module, name)
    return module


def random_unstructured(module, name, amount):
    RandomUnstructured.apply(module, name, amount)
    return module


def l1_unstructured(module, name, amount, importance_scores=None):
    L1Unstructured.apply(module, name, amount=amount, importance_scores=importance_scores)
    return module


def random_structured(module, name, amount, dim):
    RandomStructured.apply(module, name, amount, dim)
    return module


def ln_structured(module, name, amount, n, dim, importance_scores=None):
    LnStructured.apply(module, name, amount, n, dim, importance_scores=importance_scores)
    return module


def custom_from_mask(module, name, mask):
    CustomFromMask.apply(module, name, mask)
    return module


def global_unstructured(parameters, pruning_method, importance_scores=None, **kwargs) -> None:
    """Prune the ``(module, name)`` pairs together: the amount is taken over all their entries."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    scores = np.concatenate([_array(importance_scores.get((m, n), getattr(m, n))).reshape(-1)
                             for m, n in parameters])
    default_mask = np.concatenate([
        (_array(getattr(m, n + "_mask")) if hasattr(m, n + "_mask") else np.ones(getattr(m, n).shape)).reshape(-1)
        for m, n in parameters]).astype(scores.dtype)
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    final = container.compute_mask(scores, default_mask)
    pointer = 0
    for m, n in parameters:
        p = getattr(m, n)
        size = int(np.prod(p.shape))
        custom_from_mask(m, n, mask=final[pointer:pointer + size].reshape(p.shape))
        pointer += size


def remove(module, name):
    """Make ``module.<name>``'s pruning permanent and drop the re-parametrisation and the hook."""
    hooks = _hooks_of(module)
    for k, hook in list(hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module) -> bool:
    """True if ``module`` or a submodule carries a pruning hook."""
    for _, sub in module.named_modules():
        for hook in _hooks_of(sub).values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False


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
