"""``Function``: an operation with a NumPy forward and a NumPy backward (DESIGN §1).

Every differentiable operation of the library is one of these, and so is every user's
straight-through estimator::

    class Binarize(Function):
        @staticmethod
        def forward(ctx, x):                      # x: np.ndarray
            ctx.save_for_backward(x)
            return np.where(x >= 0, 1, -1).astype(x.dtype)

        @staticmethod
        def backward(ctx, grad):                  # grad: np.ndarray shaped like the output
            (x,) = ctx.saved_tensors
            return grad * (np.abs(x) <= 1)

    y = Binarize.apply(t)                         # t, y: Tensor

``apply`` unwraps Tensors to arrays, runs ``forward`` with no graph recording, wraps the
result and, when grad mode is on and an input requires grad, records a :class:`Node` that
holds the context. The engine (``engine.py``) later calls ``backward`` with one gradient per
output and expects one gradient (or ``None``) per positional input.
"""
from __future__ import annotations

import numpy as np

from . import grad_mode
from ..tensor import Tensor

_state = grad_mode._state


class Context:
    """What ``forward`` leaves for ``backward``: saved arrays and any attributes it sets."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self._saved: tuple | None = ()
        self._non_differentiable: tuple = ()
        self.materialize_grads = True

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for ``backward``; read them back from ``saved_tensors``."""
        self._saved = arrays

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (or to read saved tensors after "
                "they were freed). Pass retain_graph=True to the first backward() if you need to "
                "backward through the graph twice.")
        return self._saved

    def mark_non_differentiable(self, *outputs) -> None:
        """Declare outputs (e.g. indices) that never carry a gradient."""
        self._non_differentiable = tuple(id(o) for o in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """When False, ``backward`` receives ``None`` (not zeros) for outputs that got no gradient."""
        self.materialize_grads = bool(value)


class Node:
    """A recorded call: the graph edge from a Function's outputs back to its inputs (``grad_fn``)."""

    __slots__ = ("function", "ctx", "inputs", "out_shapes", "out_dtypes", "retained", "freed",
                 "__weakref__")

    def __init__(self, function, ctx, inputs, outputs) -> None:
        self.function = function
        self.ctx = ctx
        self.inputs = inputs                      # one Tensor (or None) per positional argument
        self.out_shapes = [o.shape for o in outputs]
        self.out_dtypes = [o.dtype for o in outputs]
        self.retained = None                      # {output index: Tensor} for retain_grad()
        self.freed = False

    def name(self) -> str:
        return f"{self.function.__name__}Backward"

    @property
    def next_functions(self) -> tuple:
        return tuple((t.grad_fn if t is not None else None) for t in self.inputs)

    def __repr__(self) -> str:
        return f"<{self.name()}>"


class Function:
    """Base class of differentiable operations; subclass and write ``forward`` and ``backward``."""

    @staticmethod
    def forward(ctx: Context, *args, **kwargs):
        raise NotImplementedError("a Function subclass must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx: Context, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grads)")

    @classmethod
    def apply(cls, *args, **kwargs):
        arrays = []
        needs = []
        for a in args:
            if isinstance(a, Tensor):
                arrays.append(a.array)
                needs.append(a.requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        for key, value in kwargs.items():
            if isinstance(value, Tensor):
                raise TypeError(f"{cls.__name__}.apply: tensor arguments must be positional "
                                f"(keyword '{key}' got a Tensor), so that they can receive a gradient")
        record = _state.enabled and True in needs
        ctx = Context(tuple(needs))
        previous, _state.enabled = _state.enabled, False
        try:
            result = cls.forward(ctx, *arrays, **kwargs)
        finally:
            _state.enabled = previous

        single = not isinstance(result, tuple)
        outputs = [_as_array(r, cls) for r in ((result,) if single else result)]
        if not record:
            wrapped = [Tensor._wrap(o) for o in outputs]
        else:
            node = Node(cls, ctx, [a if isinstance(a, Tensor) else None for a in args], outputs)
            skip = ctx._non_differentiable
            wrapped = [Tensor._wrap(o, None if id(o) in skip else node, i)
                       for i, o in enumerate(outputs)]
        return wrapped[0] if single else tuple(wrapped)


def _as_array(value, cls) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, (np.generic, int, float, bool)):
        return np.asarray(value)
    raise TypeError(f"{cls.__name__}.forward must return NumPy arrays (or a tuple of them), "
                    f"got {type(value).__name__}")
