"""The backward engine: one reverse walk of the graph, for ``Tensor.backward`` and ``autograd.grad``.

``run_backward(roots, seeds, ...)`` orders every node reachable from the roots by an iterative
depth-first search (reverse post-order: each node after all of its consumers, no recursion limit,
no sort), then calls each Function's ``backward`` with the gradients of its outputs. Broadcasting
is undone in one place (``_fit``: a returned gradient is summed back to its input's shape).

Grad mode during the walk is ``create_graph``: off, every op in a backward takes the lean path
and gradients accumulate in place into arrays the engine owns (a gradient never aliases another);
on, backwards are recorded like any forward, gradients accumulate out of place, and the result can
be differentiated again.

With ``inputs`` given (``autograd.grad``, ``backward(inputs=...)``) only the nodes on a path to
them run, and ``autograd.grad`` captures their gradients instead of touching ``.grad``.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from . import grad_mode, tracing

_state = grad_mode._state


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


def backward(root: Tensor, gradient=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """``root.backward(...)``: accumulate d(root)/d(leaf), weighted by ``gradient``, into ``.grad``."""
    if inputs is not None:
        inputs = (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)
        if not inputs:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    run_backward((root,), (gradient,), retain_graph, create_graph, inputs=inputs, accumulate=True)


def run_backward(roots, seeds, retain_graph=None, create_graph=False, inputs=None, accumulate=True,
                 allow_unused=True):
    """The walk. Returns, when ``accumulate`` is False, one gradient (or None) per input."""
    if retain_graph is None:
        retain_graph = create_graph
    seeds = [_seed(r, g, i, create_graph) for i, (r, g) in enumerate(zip(roots, seeds))]
    targets = None
    if inputs is not None:
        targets = {}
        for position, t in enumerate(inputs):
            if not isinstance(t, Tensor):
                raise TypeError(f"inputs[{position}] is a {type(t).__name__}, not a Tensor")
            if not t.requires_grad:
                raise RuntimeError(f"One of the differentiated Tensors does not require grad (inputs[{position}])")
            if accumulate and t.grad_fn is not None:
                t.retain_grad()             # as torch: backward(inputs=[y]) keeps y's gradient from now on
            key = (t.grad_fn, t._out_index) if t.grad_fn is not None else id(t)
            targets.setdefault(key, []).append(position)
    captured = [None] * len(inputs) if inputs is not None else None
    sink = _Sink(accumulate, targets, captured, inputs)

    previous = _state.enabled
    _state.enabled = bool(create_graph)
    try:
        buffers: dict = {}
        leaves: dict = {}               # id(leaf) -> [leaf, summed gradient]: its hooks see the sum, once
        starts = []
        for root, seed in zip(roots, seeds):
            if root.grad_fn is None:
                _gather(leaves, root, seed, create_graph)
                continue
            slots = buffers.setdefault(root.grad_fn, [None] * len(root.grad_fn._meta))
            i = root._out_index
            slots[i] = seed if slots[i] is None else _add(slots[i], seed, create_graph)
            starts.append(root.grad_fn)
        order = _topological(starts)
        needed = _needed(order, targets) if targets is not None else None
        owned: set = set()              # ids of the gradient arrays the buffers hold (see _own)
        for node in order:
            grads = buffers.pop(node, None)
            if grads is None or (needed is not None and node not in needed.visit):
                continue
            if owned:
                for g in grads:
                    if g is not None:
                        owned.discard(id(g.array))      # handed over to this node's backward
            if node._freed:
                raise RuntimeError(
                    f"Trying to backward through the graph a second time ({node.name()} was freed by an earlier "
                    "backward). Specify retain_graph=True on the first backward() or autograd.grad() call.")
            hooked = _pre_hooks(node, grads) if node._pre_hooks or node._prehooks else grads
            if targets is not None and not accumulate:
                # torch captures after the tensor hooks, unless the node runs on (a target behind it):
                # then its capture comes first and the hooks run with its backward
                sink.capture_nonleaf(node, grads if node in needed.behind else hooked, create_graph)
            grads = hooked
            if node._retained:
                for index, ref in node._retained.items():
                    tensor = ref()
                    if tensor is not None and grads[index] is not None:
                        _accumulate_grad(tensor, grads[index], create_graph, copy=True)
            if needed is not None and node not in needed.behind:
                continue                    # a target itself, no target behind it
            for edge, grad in zip(node._edges, _call_backward(node, grads, create_graph)):
                if grad is None or edge is None:
                    continue
                parent, slot = edge
                if not create_graph:
                    # a gradient whose array nobody else holds (copied if it was handed out before, is a
                    # view or is read-only), so that accumulating into it in place touches no other gradient
                    a = grad.array
                    if a.base is not None or id(a) in owned or not a.flags.writeable:
                        grad = Tensor._wrap(a.copy())
                    owned.add(id(grad.array))
                if parent is None:
                    _gather(leaves, slot, grad, create_graph)
                    continue
                slots = buffers.get(parent)
                if slots is None:
                    slots = buffers[parent] = [None] * len(parent._meta)
                held = slots[slot]
                if held is None:
                    slots[slot] = grad
                elif create_graph:
                    slots[slot] = held + grad
                else:
                    held.array += grad.array
            if not retain_graph:
                node._freed = True
                node._saved = ()
        for leaf, grad in leaves.values():
            sink.leaf(leaf, grad, create_graph)
    finally:
        _state.enabled = previous
    if captured is not None and not accumulate:
        for position, g in enumerate(captured):
            if g is None and not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {position} appears to not have been used in "
                                   "the graph. Set allow_unused=True if this is the desired behavior.")
        return captured
    return None


def _seed(root, gradient, index, create_graph):
    if not isinstance(root, Tensor):
        raise TypeError(f"outputs[{index}] is a {type(root).__name__}, not a Tensor")
    if not root.requires_grad:
        raise RuntimeError(f"element {index} of tensors does not require grad and does not have a grad_fn: "
                           "differentiate a result computed from a tensor with requires_grad=True")
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; this tensor has shape "
                               f"{tuple(root.shape)}: pass a gradient of that shape")
        return Tensor._wrap(np.ones(root.array.shape, dtype=root.array.dtype))
    if isinstance(gradient, Tensor):
        if gradient.shape != root.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of {tuple(gradient.shape)} "
                               f"and output[{index}] has a shape of {tuple(root.shape)}.")
        if gradient.dtype != root.dtype:
            from ..ops import cast
            gradient = cast(gradient, root.dtype)
        return gradient if create_graph else Tensor._wrap(gradient.array.copy())   # a backward may write into it
    array = np.array(gradient, dtype=root.dtype)
    if array.shape != root.shape:
        raise RuntimeError(f"Mismatch in shape: grad_output[{index}] has a shape of {array.shape} "
                           f"and output[{index}] has a shape of {tuple(root.shape)}.")
    return Tensor._wrap(array)


def _topological(starts) -> list:
    """Every node reachable from ``starts``, each before the nodes it reaches (reverse post-order)."""
    post, seen = [], set()
    for start in starts:
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(start._edges))]
        while stack:
            node, edges = stack[-1]
            for edge in edges:
                if edge is not None and edge[0] is not None and edge[0] not in seen:
                    seen.add(edge[0])
                    stack.append((edge[0], iter(edge[0]._edges)))
                    break
            else:
                stack.pop()
                post.append(node)
    post.reverse()
    return post


def _needed(order, targets):
    """Which nodes to visit (a target among their outputs, or behind them) and which of those must
    run their backward (a target behind them)."""
    target_nodes = {key[0] for key in targets if type(key) is tuple}
    behind = set()
    for node in reversed(order):    # parents before children
        for edge in node._edges:
            if edge is None:
                continue
            parent, slot = edge
            if (parent is None and id(slot) in targets) or (parent is not None and (
                    parent in behind or (parent, slot) in targets)):
                behind.add(node)
                break
    return _Needed(behind | target_nodes, behind)


class _Needed:
    __slots__ = ("visit", "behind")

    def __init__(self, visit, behind) -> None:
        self.visit, self.behind = visit, behind


def _pre_hooks(node, grads):
    if node._pre_hooks:
        grads = list(grads)
        for index, hooks in node._pre_hooks.items():
            for hook in list(hooks):
                if grads[index] is not None:
                    result = hook(grads[index])
                    if result is not None:
                        grads[index] = _as_grad(result)
    if node._prehooks:
        for hook in list(node._prehooks):
            result = hook(tuple(grads))
            if result is not None:
                grads = [None if g is None else _as_grad(g) for g in result]
    return grads


def _call_backward(node, grads, create_graph):
    """The Function's backward on complete output gradients; one checked gradient (or None) per input."""
    if node.materialize_grads and (len(grads) > 1 or grads[0] is None):   # (one output: usually there)
        grads = [Tensor._wrap(np.zeros(m[0], m[1])) if g is None and m is not None else g
                 for g, m in zip(grads, node._meta)]
    results = node._function.backward(node, *grads)
    if type(results) is not tuple:
        results = (results,)
    edges = node._edges
    if len(results) != len(edges) and (len(results) < len(edges) or
                                       any(r is not None for r in results[len(edges):])):
        raise RuntimeError(f"function {node.name()} returned an incorrect number of gradients (expected "
                           f"{len(edges)}, got {len(results)}): return one per forward input (None for inputs "
                           "that need no gradient)")
    out = []
    for i, (edge, grad) in enumerate(zip(edges, results)):
        if edge is None or grad is None:
            out.append(None)
            continue
        if not isinstance(grad, Tensor):
            grad = _as_grad(grad)
        parent, slot = edge
        shape, dtype = (slot.array.shape, slot.array.dtype) if parent is None else parent._meta[slot]
        array = grad.array
        if array.shape != shape or (array.dtype is not dtype and array.dtype != dtype):
            grad = _fit(grad, shape, dtype, node, i)
        out.append(grad)
    if node._hooks:
        for hook in list(node._hooks):
            result = hook(tuple(out), tuple(grads))
            if result is not None:
                out = [None if g is None else _as_grad(g) for g in result]
    if tracing._active:
        tracing.report(node, grads, out)
    return out


def _as_grad(grad) -> Tensor:
    return grad if isinstance(grad, Tensor) else Tensor._wrap(np.asarray(grad))


def _fit(grad: Tensor, shape, dtype, node, index) -> Tensor:
    """The gradient in its input's ``shape`` (broadcasting undone) and ``dtype``, or a clear error."""
    if grad.array.shape != shape:
        from ..ops import sum_to_size
        try:
            grad = sum_to_size(grad, shape)
        except (ValueError, RuntimeError):
            raise RuntimeError(
                f"Function {node.name()} returned an invalid gradient at index {index} - got "
                f"{list(grad.shape)} but expected shape compatible with {list(shape)}") from None
    if grad.dtype != dtype:
        from ..ops import cast
        grad = cast(grad, dtype)
    return grad


def _gather(leaves: dict, leaf: Tensor, grad: Tensor, create_graph: bool) -> None:
    """Sum the gradients reaching one leaf (torch's AccumulateGrad runs once, on the sum)."""
    held = leaves.get(id(leaf))
    if held is None:
        leaves[id(leaf)] = [leaf, grad]
    elif create_graph:
        held[1] = held[1] + grad
    else:
        held[1].array += grad.array             # both owned by the engine (see _own)


def _add(a: Tensor, b: Tensor, create_graph: bool) -> Tensor:
    return a + b if create_graph else Tensor._wrap(a.array + b.array)


class _Sink:
    """Where gradients end: leaves' ``.grad`` (backward) or the captured list (autograd.grad)."""

    def __init__(self, accumulate, targets, captured, inputs) -> None:
        self.accumulate, self.targets, self.captured, self.inputs = accumulate, targets, captured, inputs

    def leaf(self, tensor: Tensor, grad: Tensor, create_graph: bool) -> None:
        if self.targets is not None and id(tensor) not in self.targets:
            return                                  # not differentiated: its hooks do not run (torch)
        if tensor._hooks:
            for hook in list(tensor._hooks.values()):
                result = hook(grad)
                if result is not None:
                    grad = _as_grad(result)
        if self.targets is not None:
            if not self.accumulate:
                for p in self.targets[id(tensor)]:
                    self.captured[p] = grad
                return
        _accumulate_grad(tensor, grad, create_graph)

    def capture_nonleaf(self, node, grads, create_graph) -> None:
        """autograd.grad's non-leaf inputs (backward's are retained tensors, filled like any other)."""
        for index, g in enumerate(grads):
            positions = self.targets.get((node, index))
            if positions is None or g is None:
                continue
            for p in positions:
                self.captured[p] = g if create_graph else Tensor._wrap(g.array.copy())


def _accumulate_grad(tensor: Tensor, grad: Tensor, create_graph: bool, copy: bool = False) -> None:
    """torch's AccumulateGrad: the first gradient is kept, later ones added (out of place under
    ``create_graph``, so the sum is differentiable; in place otherwise)."""
    if tensor.grad is None:
        if create_graph:
            tensor.grad = grad
        else:
            tensor.grad = Tensor._wrap(grad.array.copy() if copy else grad.array)
    elif create_graph or tensor.grad.requires_grad:
        tensor.grad = tensor.grad + grad
    else:
        tensor.grad.array += grad.array
