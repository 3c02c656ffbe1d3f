"""The backward engine: one reverse walk of the graph.

``backward(root, gradient)`` counts, for every node reachable from ``root``, how many edges
lead into it, then visits nodes whose gradients are complete (Kahn's algorithm: a reverse
topological order with no sort and no recursion, so a 20,000-op chain is fine). At each node
it calls the Function's ``backward``, undoes broadcasting (in this one place: ``sum_to_shape``)
and accumulates into the parents' gradient buffers with ``+=``.

Ownership: every array the engine stores is its own. An array returned twice (``add``
returns ``(g, g)``) or a view of another array is copied before it is stored, so a user's
backward may write into its incoming gradient in place, and a leaf's ``.grad`` never aliases
another gradient.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


def sum_to_shape(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    if lead < 0:
        raise ValueError(f"gradient of shape {grad.shape} has fewer dimensions than {shape}")
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if lead:
        grad = grad.reshape(grad.shape[lead:])
    if grad.shape != shape:
        raise ValueError(f"gradient of shape {grad.shape} cannot be summed to shape {shape}")
    return grad


def backward(root: Tensor, gradient=None, retain_graph: bool = False) -> None:
    """Accumulate d(root)/d(leaf), weighted by ``gradient``, into every leaf's ``.grad``."""
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn: "
                           "call backward() on a result computed from a tensor with requires_grad=True")
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this tensor has "
                               f"shape {root.shape}: pass backward(gradient=...) of that shape")
        seed = np.ones(root.shape, dtype=root.dtype)
    else:
        seed = np.array(gradient.array if isinstance(gradient, Tensor) else gradient,
                        dtype=root.dtype, copy=True)
        if seed.shape != root.shape:
            raise RuntimeError(f"backward: gradient has shape {seed.shape} but the tensor has shape "
                               f"{root.shape}; they must match")
    if root.grad_fn is None:                      # backward of a leaf: d(root)/d(root) = gradient
        _accumulate_leaf(root, seed)
        return

    pending = _count_edges(root.grad_fn)
    buffers = {root.grad_fn: [None] * len(root.grad_fn.out_shapes)}
    buffers[root.grad_fn][root._out_index] = seed
    owned: dict[int, np.ndarray] = {}             # arrays the engine holds, by id (kept alive here)
    ready = [root.grad_fn]
    while ready:
        node = ready.pop()
        grads = buffers.pop(node)
        for g in grads:
            if g is not None:
                owned.pop(id(g), None)            # handed over to this node's backward
        if node.freed:
            raise RuntimeError(
                f"Trying to backward through the graph a second time ({node.name()} was freed by an "
                "earlier backward). Pass retain_graph=True to the first backward() to keep the graph.")
        if node.retained:
            for index, tensor in node.retained.items():
                if grads[index] is not None:
                    _accumulate_leaf(tensor, grads[index].copy())
        if node.ctx.materialize_grads:
            grads = [np.zeros(s, d) if g is None else g
                     for g, s, d in zip(grads, node.out_shapes, node.out_dtypes)]
        input_grads = node.function.backward(node.ctx, *grads)
        if not isinstance(input_grads, tuple):
            input_grads = (input_grads,)
        if len(input_grads) < len(node.inputs) or any(
                g is not None for g in input_grads[len(node.inputs):]):
            raise RuntimeError(f"{node.function.__name__}.backward returned {len(input_grads)} gradients "
                               f"but forward took {len(node.inputs)} positional inputs: return one per "
                               "input (None for inputs that need no gradient)")
        for i, (tensor, grad) in enumerate(zip(node.inputs, input_grads)):
            if tensor is None or not tensor.requires_grad:
                continue
            if grad is not None:
                grad = _checked(grad, tensor, node, i)
                if id(grad) in owned or grad.base is not None or not grad.flags.writeable:
                    grad = grad.copy()
            parent = tensor.grad_fn
            if parent is None:
                if grad is not None:
                    _accumulate_leaf(tensor, grad)
                    owned[id(grad)] = grad
                continue
            slots = buffers.get(parent)
            if slots is None:
                slots = buffers[parent] = [None] * len(parent.out_shapes)
            if grad is not None:
                held = slots[tensor._out_index]
                if held is None:
                    slots[tensor._out_index] = grad
                    owned[id(grad)] = grad
                else:
                    held += grad
            pending[parent] -= 1
            if pending[parent] == 0:
                ready.append(parent)
        if not retain_graph:
            node.freed = True
            node.ctx.__dict__.clear()
            node.ctx._saved = None
            node.ctx.materialize_grads = True


def _count_edges(start) -> dict:
    """Number of graph edges entering each node reachable from ``start``."""
    pending = {start: 0}
    stack = [start]
    while stack:
        node = stack.pop()
        for tensor in node.inputs:
            if tensor is None or tensor.grad_fn is None or not tensor.requires_grad:
                continue
            parent = tensor.grad_fn
            if parent in pending:
                pending[parent] += 1
            else:
                pending[parent] = 1
                stack.append(parent)
    return pending


def _checked(grad, tensor: Tensor, node, index: int) -> np.ndarray:
    """The gradient as an array of the input's shape and dtype, or a clear error."""
    if isinstance(grad, Tensor):
        grad = grad.array
    grad = np.asarray(grad)
    if grad.shape != tensor.shape:
        try:
            grad = sum_to_shape(grad, tensor.shape)
        except ValueError:
            raise RuntimeError(
                f"{node.function.__name__}.backward returned a gradient of shape {grad.shape} for input "
                f"{index}, whose shape is {tensor.shape}: return a gradient shaped like the input "
                "(or broadcastable to it)") from None
    if grad.dtype != tensor.dtype:
        grad = grad.astype(tensor.dtype)
    return grad


def _accumulate_leaf(tensor: Tensor, grad: np.ndarray) -> None:
    if tensor.grad is None:
        tensor.grad = Tensor._wrap(grad)
    else:
        tensor.grad.array += grad
