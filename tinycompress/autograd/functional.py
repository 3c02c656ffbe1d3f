"""``tc.autograd.functional``: torch's vjp, jvp, vhp, hvp, jacobian and hessian, on ``autograd.grad``.

For f: x ↦ y with Jacobian J = ∂y/∂x:
- ``vjp(f, x, v)`` = vᵀJ, one backward;
- ``jvp(f, x, v)`` = Jv, by the double-vjp trick: g(u) = uᵀJ is linear in u, so Jv = ∂(g(u)·v)/∂u;
- ``vhp(f, x, v)`` = vᵀH and ``hvp(f, x, v)`` = Hv for scalar f (equal, H being symmetric):
  the gradient of (∇f · v), a double backward;
- ``jacobian(f, x)`` row by row (one vjp per output element), ``hessian(f, x)`` = jacobian of ∇f.

Signatures and return conventions follow torch: a Tensor ``inputs`` gives Tensor results, a tuple
gives tuples; results are detached unless ``create_graph``; ``strict`` raises when an output does not
depend on an input (otherwise that part is zeros).
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .grad import grad as _grad
from .grad_mode import enable_grad


def _as_tuple(x, what):
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to the function must be either a Tensor or a tuple of Tensors, "
                            f"but element {i} is a {type(t).__name__}")
    return is_tuple, items


def _prepare(inputs, create_graph):
    """Inputs the function is evaluated at: fresh leaves (or, under create_graph, views that keep
    their graph) that require grad."""
    return tuple(t if (create_graph and t.requires_grad) else Tensor._wrap(t.array).requires_grad_(True)
                 for t in inputs)


def _zeros_for_none(grads, refs, strict, what):
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. "
                                   f"This is not allowed in strict mode ({what}).")
            g = Tensor._wrap(np.zeros(r.shape, r.dtype))
        out.append(g)
    return tuple(out)


def _finish(items, create_graph):
    return tuple(t if create_graph else t.detach() for t in items)


def _check_v(v, refs, what):
    if v is None:
        if len(refs) != 1 or refs[0].array.size != 1:
            raise RuntimeError(f"The vector v can only be None if the {what} is a single Tensor with a single "
                               "element.")
        return (Tensor._wrap(np.ones(refs[0].shape, refs[0].dtype)),)
    _, v = _as_tuple(v, "v")
    if len(v) != len(refs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(refs)} but got {len(v)}.")
    for i, (a, b) in enumerate(zip(v, refs)):
        if a.shape != b.shape:
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {tuple(b.shape)} but got {tuple(a.shape)}.")
    return v


def _call(func, inputs):
    out = func(*inputs)
    is_tuple, outputs = _as_tuple(out, "outputs of the user-provided function")
    return is_tuple, outputs


def _back(is_tuple, items):
    return items if is_tuple else items[0]


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), vᵀ·J): the vector-Jacobian product."""
    in_tuple, inputs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        out_tuple, outputs = _call(func, xs)
        v = _check_v(v, outputs, "output of the user-provided function")
        differentiable = [(o, g) for o, g in zip(outputs, v) if o.requires_grad]
        grads = (_grad([o for o, _ in differentiable], xs, [g for _, g in differentiable],
                       create_graph=create_graph, allow_unused=True) if differentiable else (None,) * len(xs))
    grads = _zeros_for_none(grads, xs, strict, "vjp")
    return _back(out_tuple, _finish(outputs, create_graph)), _back(in_tuple, _finish(grads, create_graph))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J·v): the Jacobian-vector product, by two reverse passes."""
    in_tuple, inputs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        v = _check_v(v, xs, "input to the user-provided function")
        out_tuple, outputs = _call(func, xs)
        us = tuple(Tensor._wrap(np.zeros(o.shape, o.dtype)).requires_grad_(True) for o in outputs)
        live = [(o, u) for o, u in zip(outputs, us) if o.requires_grad]
        if not live:
            jv = (None,) * len(outputs)
        else:
            g = _grad([o for o, _ in live], xs, [u for _, u in live], create_graph=True, allow_unused=True)
            pairs = [(gi, vi) for gi, vi in zip(g, v) if gi is not None]
            if pairs:
                jv = _grad([gi for gi, _ in pairs], us, [vi for _, vi in pairs], create_graph=create_graph,
                           allow_unused=True)
            else:
                jv = (None,) * len(outputs)
    jv = _zeros_for_none(jv, outputs, strict, "jvp")
    return _back(out_tuple, _finish(outputs, create_graph)), _back(out_tuple, _finish(jv, create_graph))


def _scalar_output(func, xs):
    out = func(*xs)
    if isinstance(out, (tuple, list)):
        if len(out) != 1:
            raise RuntimeError("The function given to hvp/vhp/hessian should return a single Tensor")
        out = out[0]
    if not isinstance(out, Tensor):
        raise TypeError("The function given to hvp/vhp/hessian should return a Tensor")
    if out.array.size != 1:
        raise RuntimeError(f"The Tensor returned by the function given to hessian should contain a single "
                           f"element, got shape {tuple(out.shape)}")
    return out.reshape(())


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), vᵀ·H) for a scalar func: the gradient of ∇func · v."""
    in_tuple, inputs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        v = _check_v(v, xs, "input to the user-provided function")
        out = _scalar_output(func, xs)
        if not out.requires_grad:
            first = (None,) * len(xs)
        else:
            first = _grad(out, xs, create_graph=True, allow_unused=True)
        pairs = [(g, vi) for g, vi in zip(first, v) if g is not None and g.requires_grad]
        second = (_grad([g for g, _ in pairs], xs, [vi for _, vi in pairs], create_graph=create_graph,
                        allow_unused=True) if pairs else (None,) * len(xs))
    second = _zeros_for_none(second, xs, strict, "vhp")
    return _finish((out,), create_graph)[0], _back(in_tuple, _finish(second, create_graph))


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H·v) for a scalar func (H symmetric, so it is vᵀH transposed)."""
    return vhp(func, inputs, v, create_graph=create_graph, strict=strict)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """∂func/∂inputs, one vjp per output element. Shapes as torch: output.shape + input.shape;
    nested tuples (outputs × inputs) when either is a tuple."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode".')
    in_tuple, inputs = _as_tuple(inputs, "inputs")
    with enable_grad():
        xs = _prepare(inputs, create_graph)
        out_tuple, outputs = _call(func, xs)
        rows = []
        for i, out in enumerate(outputs):
            blocks = [[] for _ in xs]
            flat = out.reshape(-1)
            for k in range(flat.shape[0]):
                grads = (_grad(flat[k], xs, retain_graph=True, create_graph=create_graph, allow_unused=True)
                         if out.requires_grad else (None,) * len(xs))
                for j, (g, x) in enumerate(zip(grads, xs)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is independent of input "
                                               f"{j}. This is not allowed in strict mode.")
                        g = Tensor._wrap(np.zeros(x.shape, x.dtype))
                    blocks[j].append(g)
            row = []
            for j, x in enumerate(xs):
                from ..ops import stack
                if blocks[j]:
                    block = stack(blocks[j]).reshape(tuple(out.shape) + tuple(x.shape))
                else:
                    block = Tensor._wrap(np.zeros(tuple(out.shape) + tuple(x.shape), x.dtype))
                row.append(block if create_graph else block.detach())
            rows.append(tuple(row))
    if out_tuple:
        return tuple(r if in_tuple else r[0] for r in rows)
    return rows[0] if in_tuple else rows[0][0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """∂²func/∂inputs² for a scalar func: the jacobian of its gradient. Shapes input.shape + input.shape;
    a tuple of tuples for tuple inputs."""
    in_tuple, inputs = _as_tuple(inputs, "inputs")

    def gradient(*xs):
        out = _scalar_output(func, xs)
        grads = (_grad(out, xs, create_graph=True, allow_unused=True) if out.requires_grad
                 else (None,) * len(xs))
        return tuple(Tensor._wrap(np.zeros(x.shape, x.dtype)) if g is None else g for g, x in zip(grads, xs))

    result = jacobian(gradient, inputs, create_graph=create_graph, strict=strict)
    return result if in_tuple else result[0][0]
