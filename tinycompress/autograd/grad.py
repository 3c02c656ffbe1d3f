"""``tc.autograd.grad`` and ``tc.autograd.backward``: torch's functional entry points to the engine."""
from __future__ import annotations

from ..tensor import Tensor
from .engine import run_backward


def _tuple(x):
    return (x,) if isinstance(x, Tensor) or x is None else tuple(x)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         only_inputs: bool = True, allow_unused=None, is_grads_batched: bool = False,
         materialize_grads: bool = False):
    """The gradients of ``outputs`` (weighted by ``grad_outputs``) w.r.t. ``inputs``, as a tuple;
    ``.grad`` is never touched. An input the outputs do not depend on is an error unless
    ``allow_unused`` (then None, or zeros with ``materialize_grads``)."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad: is_grads_batched=True is not supported; loop over the batch")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    if allow_unused is None:
        allow_unused = materialize_grads
    outputs, inputs = _tuple(outputs), _tuple(inputs)
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad requires one grad_output per output: got {len(grad_outputs)} for "
                           f"{len(outputs)} outputs")
    grads = run_backward(outputs, grad_outputs, retain_graph, create_graph, inputs=inputs,
                         accumulate=False, allow_unused=allow_unused)
    if materialize_grads:
        import numpy as np
        grads = [Tensor._wrap(np.zeros_like(x.array)) if g is None else g for g, x in zip(grads, inputs)]
    return tuple(grads)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """``tc.autograd.backward``: ``backward`` of several tensors at once, gradients summed in ``.grad``."""
    tensors = _tuple(tensors)
    grad_tensors = (None,) * len(tensors) if grad_tensors is None else _tuple(grad_tensors)
    if inputs is not None:
        inputs = _tuple(inputs)
    run_backward(tensors, grad_tensors, retain_graph, create_graph, inputs=inputs, accumulate=True)
