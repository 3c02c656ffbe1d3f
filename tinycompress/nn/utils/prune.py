"""``torch.nn.utils.prune``'s names and semantics, on NumPy.

Pruning ``module.<name>`` re-parametrises it: the Parameter moves to ``<name>_orig``, a buffer
``<name>_mask`` is registered, and ``module.<name> = <name>_orig * <name>_mask`` is recomputed before
every forward by a forward pre-hook (the pruning method itself, as torch), so the module keeps its
class. Pruning again composes through a :class:`PruningContainer`: the new mask is computed among
the surviving entries (unstructured) or the surviving channels (structured), and the amount is
relative to those survivors; it is registered as a new buffer, so a reference to the old mask keeps
the old values.

A method's ``compute_mask(t, default_mask)`` receives Tensors (the importance scores and the mask so
far) and returns the new mask as a Tensor, so a custom method written for torch (``mask =
default_mask.clone(); mask.view(-1)[::2] = 0``) ports by its imports. ``prune(t, default_mask)``
returns ``t * mask`` as a Tensor of ``t``'s dtype. The library's methods also accept ndarrays.

Amounts: a float in [0, 1] is a fraction (``round(amount * n)``, Python's rounding, as torch), an
int a count. Magnitude ranking is a stable sort (torch uses ``topk``: among exactly equal
magnitudes, which one is pruned may differ; the count never does). Random methods draw from the
library's generator (NumPy's stream, not torch's).
"""
from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable

import numpy as np

from ...random import default_generator
from ...tensor import Tensor

__all__ = ["BasePruningMethod", "PruningContainer", "Identity", "RandomUnstructured", "L1Unstructured",
           "RandomStructured", "LnStructured", "CustomFromMask", "identity", "random_unstructured",
           "l1_unstructured", "random_structured", "ln_structured", "global_unstructured", "custom_from_mask",
           "remove", "is_pruned"]


def _array(t) -> np.ndarray:
    return t.array if isinstance(t, Tensor) else np.asarray(t)


def _tensor(a) -> Tensor:
    """A Tensor result: Tensors pass through, arrays are wrapped (sharing memory)."""
    return a if isinstance(a, Tensor) else Tensor._wrap(np.asarray(a))


# ------------------------------------------------------------------------------ amounts
def _validate_pruning_amount_init(amount) -> None:
    """Type and range of ``amount`` (a non-negative int count or a float fraction in [0, 1])."""
    if isinstance(amount, bool) or not isinstance(amount, numbers.Real):
        raise TypeError(f"Invalid type for amount: {amount}. Must be int or float.")
    if (isinstance(amount, numbers.Integral) and amount < 0) or (
            not isinstance(amount, numbers.Integral) and (float(amount) > 1.0 or float(amount) < 0.0)):
        raise ValueError(f"amount={amount} should either be a float in the range [0, 1] or a non-negative integer")


def _validate_pruning_amount(amount, tensor_size: int) -> None:
    """An int ``amount`` may not exceed the number of units to prune."""
    if isinstance(amount, numbers.Integral) and amount > tensor_size:
        raise ValueError(f"amount={amount} should be smaller than the number of parameters to prune={tensor_size}")


def _validate_structured_pruning(t) -> None:
    shape = tuple(t.shape)
    if len(shape) <= 1:
        raise ValueError("Structured pruning can only be applied to multidimensional tensors. Found tensor of "
                         f"shape {shape} with {len(shape)} dims")


def _compute_nparams_toprune(amount, tensor_size: int) -> int:
    """Units to prune: ``amount`` itself if an int, else ``round(amount * tensor_size)``."""
    if isinstance(amount, numbers.Integral):
        return int(amount)
    return int(round(float(amount) * tensor_size))


def _validate_pruning_dim(t, dim) -> None:
    if dim >= t.ndim:
        raise IndexError(f"Invalid index {dim} for tensor of size {tuple(t.shape)}")


def _compute_norm(t, n, dim: int) -> np.ndarray:
    """L_n norm over every dim but ``dim`` (torch.norm's p: numbers, ±inf, 'fro')."""
    t = _array(t)
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
        return (a != 0).sum(axis=axes).astype(a.dtype)
    if n == 1:
        return a.sum(axis=axes)
    if n == 2:
        return np.sqrt((a * a).sum(axis=axes))
    return (a ** n).sum(axis=axes) ** (1.0 / n)


# ------------------------------------------------------------------------------ methods
class BasePruningMethod(ABC):
    """A pruning technique: subclass, set ``PRUNING_TYPE`` and write ``compute_mask(t, default_mask)``."""

    _tensor_name: str

    def __call__(self, module, inputs) -> None:
        """Forward pre-hook: ``module.<name> = <name>_orig * <name>_mask``."""
        setattr(module, self._tensor_name, self.apply_mask(module))

    @abstractmethod
    def compute_mask(self, t, default_mask):
        """The mask for importance scores ``t`` on top of ``default_mask`` (a Tensor of the same shape)."""

    def apply_mask(self, module) -> Tensor:
        """``<name>_orig * <name>_mask`` in the original's dtype, recorded by autograd."""
        if getattr(self, "_tensor_name", None) is None:
            raise AssertionError(f"Module {module} has to be pruned")
        mask = getattr(module, self._tensor_name + "_mask")
        orig = getattr(module, self._tensor_name + "_orig")
        return orig * mask.to(dtype=orig.dtype)

    @classmethod
    def apply(cls, module, name, *args, importance_scores=None, **kwargs):
        """Prune ``module.<name>`` with ``cls(*args, **kwargs)``, composing with any earlier pruning."""
        old_method, found, to_remove = None, 0, []
        hooks = module._forward_pre_hooks
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

        orig = getattr(module, name)
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(orig.shape):
                raise AssertionError(f"importance_scores should have the same shape as parameter {name} of "
                                     f"{module}, got {tuple(importance_scores.shape)} vs {tuple(orig.shape)}")
        else:
            importance_scores = orig
        if not isinstance(method, PruningContainer):
            if name not in module._parameters:
                raise ValueError(f"{type(module).__name__}.{name} is not a Parameter and cannot be pruned")
            module.register_parameter(name + "_orig", orig)
            del module._parameters[name]
            default_mask = Tensor._wrap(np.ones(orig.shape, dtype=orig.dtype))
        else:
            default_mask = Tensor._wrap(getattr(module, name + "_mask").array.copy())
        try:
            mask = _tensor(method.compute_mask(importance_scores, default_mask=default_mask))
            if tuple(mask.shape) != tuple(orig.shape):
                raise ValueError(f"{type(method).__name__}.compute_mask returned a mask of shape "
                                 f"{tuple(mask.shape)} for {name} of shape {tuple(orig.shape)}")
            for k in to_remove:
                del hooks[k]
            module._buffers.pop(name + "_mask", None)     # a new buffer: a reference to the old mask keeps it
            module.register_buffer(name + "_mask", mask)
            setattr(module, name, method.apply_mask(module))
            module.register_forward_pre_hook(method)
        except Exception:
            if not isinstance(method, PruningContainer):
                orig = module._parameters.pop(name + "_orig")
                module.register_parameter(name, orig)
            elif old_method is not None and method is old_method:
                old_method._pruning_methods = old_method._pruning_methods[:-1]
            raise
        return method

    def prune(self, t, default_mask=None, importance_scores=None) -> Tensor:
        """``t * compute_mask(importance_scores or t, default_mask or ones)``, a Tensor of ``t``'s dtype."""
        t = _tensor(t)
        if importance_scores is not None:
            if tuple(importance_scores.shape) != tuple(t.shape):
                raise AssertionError("importance_scores should have the same shape as tensor t, got "
                                     f"{tuple(importance_scores.shape)} vs {tuple(t.shape)}")
            scores = _tensor(importance_scores)
        else:
            scores = t
        default_mask = Tensor._wrap(np.ones(t.shape, dtype=t.dtype)) if default_mask is None else _tensor(default_mask)
        return t * self.compute_mask(scores, default_mask=default_mask).to(dtype=t.dtype)

    def remove(self, module) -> None:
        """Make the pruning permanent: ``<name> = <name>_orig * mask`` as the same Parameter object again."""
        if getattr(self, "_tensor_name", None) is None:
            raise AssertionError(f"Module {module} has to be pruned before pruning can be removed")
        weight = self.apply_mask(module)
        if self._tensor_name in module.__dict__:
            delattr(module, self._tensor_name)
        orig = module._parameters[self._tensor_name + "_orig"]
        orig.data = weight.data
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
        if method is not None and getattr(self, "_tensor_name", None) != method._tensor_name:
            raise ValueError(f"Can only add pruning methods acting on the parameter named "
                             f"'{getattr(self, '_tensor_name', None)}' to PruningContainer {self}. "
                             f"Found '{method._tensor_name}'")
        self._pruning_methods += (method,)

    def __len__(self) -> int:
        return len(self._pruning_methods)

    def __iter__(self):
        return iter(self._pruning_methods)

    def __getitem__(self, idx):
        return self._pruning_methods[idx]

    def compute_mask(self, t, default_mask) -> Tensor:
        """The newest method's mask computed on the surviving entries (unstructured) or channels
        (structured) of ``t``, written into ``default_mask`` (as ``t``'s dtype)."""
        method = self._pruning_methods[-1]
        t, mask = _tensor(t), _array(default_mask)
        new_mask = mask.astype(t.dtype, copy=True)
        if method.PRUNING_TYPE == "unstructured":
            slc = mask == 1
        elif method.PRUNING_TYPE == "structured":
            if not hasattr(method, "dim"):
                raise AttributeError('Pruning methods of PRUNING_TYPE "structured" need to have the attribute '
                                     "`dim` defined.")
            dim = method.dim + t.ndim if method.dim < 0 else method.dim
            if dim < 0:
                raise IndexError(f"Index is out of bounds for tensor with dimensions {t.ndim}")
            keep = mask.sum(axis=tuple(d for d in range(t.ndim) if d != dim)) != 0
            slc = [slice(None)] * t.ndim
            slc[dim] = keep
            slc = tuple(slc)
        elif method.PRUNING_TYPE == "global":
            slc = (slice(None),) * t.ndim
        else:
            raise ValueError(f"Unrecognized PRUNING_TYPE {method.PRUNING_TYPE}")
        partial = method.compute_mask(t[slc], default_mask=Tensor._wrap(mask[slc]))
        new_mask[slc] = _array(partial).astype(new_mask.dtype, copy=False)
        return Tensor._wrap(new_mask)


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

    def compute_mask(self, t, default_mask) -> Tensor:
        size = int(np.prod(t.shape))
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        mask = np.array(_array(default_mask), copy=True)
        if k:
            mask.reshape(-1)[default_generator().permutation(size)[:k]] = 0
        return Tensor._wrap(mask)

    @classmethod
    def apply(cls, module, name, amount):
        return super().apply(module, name, amount=amount)


class L1Unstructured(BasePruningMethod):
    """Prune the ``amount`` (currently unpruned) entries of smallest ``|t|``."""
    PRUNING_TYPE = "unstructured"

    def __init__(self, amount) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount

    def compute_mask(self, t, default_mask) -> Tensor:
        t = _array(t)
        k = _compute_nparams_toprune(self.amount, t.size)
        _validate_pruning_amount(k, t.size)
        mask = np.array(_array(default_mask), copy=True)
        if k:
            mask.reshape(-1)[np.argsort(np.abs(t).reshape(-1), kind="stable")[:k]] = 0
        return Tensor._wrap(mask)

    @classmethod
    def apply(cls, module, name, amount, importance_scores=None):
        return super().apply(module, name, amount=amount, importance_scores=importance_scores)


def _channel_mask(t: np.ndarray, default_mask, dim: int, keep) -> Tensor:
    """Ones on the kept channels along ``dim`` (in ``t``'s dtype), times ``default_mask``."""
    mask = np.zeros_like(t)
    slc = [slice(None)] * t.ndim
    slc[dim] = keep
    mask[tuple(slc)] = 1
    mask *= _array(default_mask).astype(mask.dtype, copy=False)
    return Tensor._wrap(mask)


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
        t = _array(t)
        size = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        if k == 0:
            return default_mask
        keep = np.sort(default_generator().permutation(size)[k:])
        return _channel_mask(t, default_mask, self.dim, keep)

    @classmethod
    def apply(cls, module, name, amount, dim=-1):
        return super().apply(module, name, amount=amount, dim=dim)


class LnStructured(BasePruningMethod):
    """Prune the ``amount`` (currently unpruned) channels along ``dim`` of smallest L_n norm."""
    PRUNING_TYPE = "structured"

    def __init__(self, amount, n, dim=-1) -> None:
        _validate_pruning_amount_init(amount)
        self.amount = amount
        self.n = n
        self.dim = dim

    def compute_mask(self, t, default_mask):
        _validate_structured_pruning(t)
        _validate_pruning_dim(t, self.dim)
        t = _array(t)
        size = t.shape[self.dim]
        k = _compute_nparams_toprune(self.amount, size)
        _validate_pruning_amount(k, size)
        norm = _compute_norm(t, self.n, self.dim)
        if k == 0:
            return default_mask
        keep = np.sort(np.argsort(-norm, kind="stable")[:size - k])
        return _channel_mask(t, default_mask, self.dim, keep)

    @classmethod
    def apply(cls, module, name, amount, n, dim, importance_scores=None):
        return super().apply(module, name, amount=amount, n=n, dim=dim, importance_scores=importance_scores)


class CustomFromMask(BasePruningMethod):
    """Prune with a given mask (times any earlier mask)."""
    PRUNING_TYPE = "global"

    def __init__(self, mask) -> None:
        self.mask = mask

    def compute_mask(self, t, default_mask) -> Tensor:
        own, default = _array(self.mask), _array(default_mask)
        if default.shape != own.shape:
            raise ValueError(f"custom_from_mask: mask has shape {own.shape} but the tensor to prune has "
                                 f"shape {default.shape}")
        return Tensor._wrap(default * own.astype(default.dtype))

    @classmethod
    def apply(cls, module, name, mask):
        return super().apply(module, name, mask=mask)


# ------------------------------------------------------------------------------ functional API
def identity(module, name):
    """Re-parametrise ``module.<name>`` with a mask of ones (nothing pruned)."""
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
    """Prune the ``(module, name)`` pairs together: the amount is taken over all their entries
    (ranked by ``importance_scores[(module, name)]`` where given, else by the tensor itself)."""
    if not isinstance(parameters, Iterable):
        raise TypeError("global_unstructured(): parameters is not an Iterable")
    parameters = list(parameters)
    importance_scores = importance_scores if importance_scores is not None else {}
    if not isinstance(importance_scores, dict):
        raise TypeError("global_unstructured(): importance_scores must be of type dict")
    scores = np.concatenate([_array(importance_scores.get((m, n), getattr(m, n))).reshape(-1)
                             for m, n in parameters])
    default_mask = np.concatenate([
        (_array(getattr(m, n + "_mask")) if hasattr(m, n + "_mask")
         else np.ones(getattr(m, n).shape, getattr(m, n).dtype)).reshape(-1) for m, n in parameters])
    container = PruningContainer()
    container._tensor_name = "temp"
    method = pruning_method(**kwargs)
    method._tensor_name = "temp"
    if method.PRUNING_TYPE != "unstructured":
        raise TypeError('Only "unstructured" PRUNING_TYPE supported for the `pruning_method`. Found method '
                        f"{pruning_method} of type {method.PRUNING_TYPE}")
    container.add_pruning_method(method)
    final = _array(container.compute_mask(Tensor._wrap(scores), Tensor._wrap(default_mask)))
    pointer = 0
    for m, n in parameters:
        p = getattr(m, n)
        size = int(np.prod(p.shape))
        custom_from_mask(m, n, mask=Tensor._wrap(final[pointer:pointer + size].reshape(p.shape)))
        pointer += size


def remove(module, name):
    """Make ``module.<name>``'s pruning permanent and drop the re-parametrisation and the hook."""
    hooks = module._forward_pre_hooks
    for k, hook in list(hooks.items()):
        if isinstance(hook, BasePruningMethod) and hook._tensor_name == name:
            hook.remove(module)
            del hooks[k]
            return module
    raise ValueError(f"Parameter '{name}' of module {module} has to be pruned before pruning can be removed")


def is_pruned(module) -> bool:
    """True if ``module`` or a submodule carries a pruning hook."""
    for _, sub in module.named_modules():
        for hook in sub._forward_pre_hooks.values():
            if isinstance(hook, BasePruningMethod):
                return True
    return False
