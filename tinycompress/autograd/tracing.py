"""``trace()``: watch backprop step by step.

Under ``with tc.autograd.trace() as steps:`` every backward (``Tensor.backward``, ``autograd.grad``) prints,
as it runs, one line per Function node in the order the engine visits them: the node
(``MulBackward0``), the first line of its backward's formula docstring, the shapes and L2 norms of the
gradients it received (one per output) and of those it passed on (one per input, with where each goes:
the next node, or a leaf). ``steps`` records the same as :class:`Step` objects. Each node also keeps the
gradients it received, so :func:`tinycompress.autograd.to_dot` with ``show_grads=True`` can draw them.
"""
from __future__ import annotations

import sys
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

_active: list = []          # the traces backward reports to (empty: tracing off, one list check per node)


@dataclass
class Step:
    """One Function node's backward: what it received and what it passed on."""
    index: int
    name: str
    formula: str
    grad_outputs: list = field(default_factory=list)     # (shape, norm) per output, None where no gradient
    grad_inputs: list = field(default_factory=list)      # (shape, norm, destination) per input, None where none

    def __str__(self) -> str:
        def show(entry):
            return "-" if entry is None else f"{tuple(entry[0])} |{entry[1]:.4g}|"
        outs = ", ".join(show(g) for g in self.grad_outputs)
        ins = ", ".join("-" if g is None else f"{show(g)} -> {g[2]}" for g in self.grad_inputs)
        head = f"{self.index:3d}  {self.name}"
        return f"{head}  {self.formula}\n       in: {outs}\n      out: {ins}" if self.formula else \
            f"{head}\n       in: {outs}\n      out: {ins}"


class Trace(list):
    """The steps of the traced backwards, in order (a list of :class:`Step`)."""

    def __init__(self, file=None) -> None:
        super().__init__()
        self.file = file

    def __str__(self) -> str:
        return "\n".join(str(s) for s in self)

    def _record(self, node, grad_outputs, grad_inputs) -> None:
        from .graph import formula
        outs = [None if g is None else (tuple(g.shape), _norm(g.array)) for g in grad_outputs]
        ins = []
        for edge, g in zip(node._edges or (), grad_inputs):
            if edge is None or g is None:
                ins.append(None)
                continue
            parent, slot = edge
            where = f"leaf {tuple(slot.shape)}" if parent is None else parent.name()
            ins.append((tuple(g.shape), _norm(g.array), where))
        step = Step(len(self) + 1, node.name(), formula(node), outs, ins)
        self.append(step)
        if self.file is not None:
            print(step, file=self.file, flush=True)


def _norm(a) -> float:
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


def report(node, grad_outputs, grad_inputs) -> None:
    """Called by the engine after each node's backward while a trace is active."""
    node._traced_grads = {i: g.array.copy() for i, g in enumerate(grad_outputs) if g is not None}
    for trace_ in _active:
        trace_._record(node, grad_outputs, grad_inputs)


@contextmanager
def trace(print_steps: bool = True, file=None):
    """Trace every backward run inside the block; yields the :class:`Trace` (a list of steps).

    ``print_steps``: print each step as it runs (to ``file``, default stdout); False only records."""
    t = Trace((file or sys.stdout) if print_steps else None)
    _active.append(t)
    try:
        yield t
    finally:
        _active.remove(t)
