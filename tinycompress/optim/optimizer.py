"""``Optimizer``: the base class of every optimizer (torch.optim.Optimizer's contract).

An optimizer holds ``param_groups``, a list of dicts each with ``'params'`` (a list of
Tensors) and that group's hyper-parameters (``'lr'``, ``'momentum'`` ...), and ``state``,
per-parameter state keyed by the parameter object itself (never by ``id()``).

``state_dict()`` follows torch's layout, with NumPy arrays where torch has tensors::

    {'state': {0: {'step': 3, 'exp_avg': ndarray, ...}, 1: {...}},      # index across all groups
     'param_groups': [{'lr': 0.01, 'betas': (0.9, 0.999), ..., 'params': [0, 1]}, ...]}

so it holds only arrays and Python scalars and can be written to ``.npz`` by ``tc.save``.

Updates run on the raw arrays (``p.array``), in place, block by block (``Optimizer._blocks``)
with reusable work arrays, so a step allocates nothing in the steady state.
"""
from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import chain

import numpy as np

from ..autograd import enable_grad
from ..tensor import Tensor


BLOCK = 1 << 15          # elements per block of an update: its work arrays stay in the L2 cache


def _typename(obj) -> str:
    cls = type(obj)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class Optimizer:
    """Base class: ``Optimizer(params, defaults)``.

    ``params`` is an iterable of Tensors, or of dicts (parameter groups) each with a
    ``'params'`` entry and optional per-group hyper-parameters; ``defaults`` fills in the
    hyper-parameters a group does not give. Subclasses implement :meth:`step`.
    """

    def __init__(self, params, defaults: dict) -> None:
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got {_typename(params)}: pass [tensor] or model.parameters()")
        self.defaults = dict(defaults)
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        self._scratch_pool: dict = {}
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for param_group in param_groups:
            self.add_param_group(param_group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict) -> None:
        """Append a group (the dict itself, as torch); hyper-parameters it lacks come from ``defaults``."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry (a list of Tensors)")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering "
                            "of tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]          # named_parameters() input
        if names:
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
            params = [p[1] for p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}; "
                                "wrap arrays with tc.tensor(array, requires_grad=True)")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor: optimize the leaf it was computed from, "
                                 "or use tensor.detach().requires_grad_()")
        param_group["params"] = params
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        if len({id(p) for p in params}) != len(params):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        for group in self.param_groups:
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError("all optimizer param groups should be with/without names. "
                                 f"cannot add param group {which} to the optimizer")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in seen for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ gradients
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to None (default), or to zeros in place."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.array[...] = 0

    def step(self, closure=None):
        """Perform one optimization step; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError(f"{type(self).__name__} must implement step(closure=None)")

    @staticmethod
    def _run_closure(closure):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}`` as torch.

        Parameters are numbered in order across groups. The state arrays are the optimizer's
        own (not copies), as torch returns them: save them before stepping again.
        """
        index: dict[int, int] = {}
        groups, start = [], 0
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for i, p in enumerate(group["params"], start):
                index.setdefault(id(p), i)
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a :meth:`state_dict` (arrays are copied, cast to each parameter's dtype)."""
        if not isinstance(state_dict, dict) or "param_groups" not in state_dict or "state" not in state_dict:
            raise ValueError("loaded optimizer state dict must be a dict with 'state' and 'param_groups' entries, "
                             "as returned by optimizer.state_dict()")
        groups, saved_groups = self.param_groups, state_dict["param_groups"]
        if len(groups) != len(saved_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups ({len(saved_groups)}) "
                             f"than the optimizer ({len(groups)})")
        for i, (g, s) in enumerate(zip(groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(f"loaded state dict contains a parameter group (group {i}: {len(s['params'])} "
                                 f"params) that doesn't match the size of optimizer's group ({len(g['params'])})")
        id_map = dict(zip(chain.from_iterable(s["params"] for s in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict = defaultdict(dict)
        for key, value in state_dict["state"].items():
            param = id_map.get(key)
            if param is None:
                state[key] = value
                continue
            state[param] = {name: self._cast_state(param, key, name, v) for name, v in value.items()}
        new_groups = []
        for g, s in zip(groups, saved_groups):
            ng = {k: (tuple(v) if isinstance(v, list) and k == "betas" else v) for k, v in s.items()}
            ng["params"] = g["params"]
            if "param_names" in g and "param_names" not in ng:
                ng["param_names"] = g["param_names"]
            for name, default in self.defaults.items():
                ng.setdefault(name, default)
            new_groups.append(ng)
        self.state, self.param_groups = state, new_groups
        self._after_load()

    def _after_load(self) -> None:
        """Hook for subclasses that force group entries after loading (AdamW)."""

    @staticmethod
    def _cast_state(param: Tensor, index, name, value):
        if isinstance(value, Tensor):
            value = value.array
        if name == "step":
            return int(np.asarray(value).item())
        if isinstance(value, np.ndarray):
            if value.shape != param.array.shape:
                raise ValueError(f"loaded optimizer state {name!r} of parameter {index} has shape {value.shape}, "
                                 f"but the parameter has shape {param.array.shape}: the state dict belongs to "
                                 "another model")
            dtype = param.array.dtype if param.array.dtype.kind == "f" else value.dtype
            return np.array(value, dtype=dtype, copy=True)
        return value

    # ------------------------------------------------------------------ helpers for step()
    def _params_with_grad(self, group: dict):
        """The group's parameters that have a gradient (the others are skipped, as torch does)."""
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.array.shape != p.array.shape:
                raise RuntimeError(f"{type(self).__name__}: a parameter of shape {p.array.shape} has a gradient of "
                                   f"shape {p.grad.array.shape}; set p.grad to a tensor of the parameter's shape")
            yield p

    def _blocks(self, arrays: tuple, n_scratch: int):
        """Matching blocks of same-shaped ``arrays`` (views: writes land in the arrays), each followed
        by ``n_scratch`` work arrays of the block's shape (contents undefined).

        Large arrays are walked in flat blocks of ``BLOCK`` elements so that the temporaries of an
        update stay in cache: the update then costs about one pass over memory per array instead
        of one per NumPy operation (about 1.8x faster for Adam on a 10M-element model). Arrays not
        all C- (or all F-) contiguous are processed whole. The work arrays come from a pool that
        lives with the optimizer (never in ``state``), so a step allocates nothing once warm.
        """
        first = arrays[0]
        order = None
        if first.size > BLOCK:
            if all(a.flags.c_contiguous for a in arrays):
                order = "C"
            elif all(a.flags.f_contiguous for a in arrays):
                order = "F"
        if order is None:
            yield (*arrays, *self._scratch(first, n_scratch))
            return
        flats = [a.reshape(-1, order=order) for a in arrays]
        for start in range(0, first.size, BLOCK):
            block = [f[start:start + BLOCK] for f in flats]
            yield (*block, *self._scratch(block[0], n_scratch))

    def _scratch(self, like: np.ndarray, n: int) -> list:
        """``n`` work arrays shaped and typed as ``like``: reshaped prefixes of pooled flat buffers."""
        out = []
        for slot in range(n):
            key = (like.dtype.str, slot)
            buf = self._scratch_pool.get(key)
            if buf is None or buf.size < like.size:
                buf = self._scratch_pool[key] = np.empty(like.size, dtype=like.dtype)
            out.append(buf[:like.size].reshape(like.shape))
        return out

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines) + "\n)"


def _effective_grad(param: np.ndarray, grad: np.ndarray, maximize: bool, weight_decay: float,
                    out: np.ndarray) -> np.ndarray:
    """``g = ±∇ + weight_decay·θ`` (minus when maximizing), computed without writing ``grad``.

    Returns ``grad`` itself when there is nothing to add (read it, never write it), else ``out``.
    """
    if not maximize and weight_decay == 0:
        return grad
    if weight_decay != 0:
        np.multiply(param, weight_decay, out=out)
        if maximize:
            out -= grad
        else:
            out += grad
    else:
        np.negative(grad, out=out)
    return out


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, tmp: np.ndarray) -> None:
    """``start ← start + weight·(end − start)`` in place, as ``torch.lerp_`` computes it.

    torch rounds ``weight`` to the array's dtype and, for ``|weight| >= 0.5``, uses the form
    ``end − (end − start)·(1 − weight)``; we do the same so float32 results agree closely.
    """
    w = start.dtype.type(weight)
    np.subtract(end, start, out=tmp)
    if abs(w) < 0.5:
        tmp *= w
        start += tmp
    else:
        tmp *= 1 - w
        np.subtract(end, tmp, out=start)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)
