"""``gradcheck`` and ``gradgradcheck``: analytic derivatives against central finite differences (float64).

For f: inputs → outputs, row k of the analytic Jacobian is the gradient of f_k (``autograd.grad``
with a one-hot ``grad_outputs``); column j of the numerical one is (f(x + ε e_j) − f(x − ε e_j)) / 2ε.
They must agree within ``atol + rtol·|numerical|``. ``gradgradcheck`` applies the same check to the
function x, u ↦ (∂f/∂x)ᵀu, whose derivative is the second derivative of f: it holds when every
backward on the way is itself differentiated right.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .grad import grad as autograd_grad


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return [o for o in (out if isinstance(out, (tuple, list)) else [out])
            if isinstance(o, Tensor) and o.dtype.kind == "f"]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True, fast_mode: bool = False, **_ignored) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad; report the worst element.

    ``fast_mode`` compares one random projection uᵀJv instead of the whole Jacobian (torch's fast mode).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass tensors made with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                             "inputs (use .double())")
    outputs = _outputs(fn, inputs)
    worst = (0.0, None)
    rng = np.random.default_rng(0)
    for o_index, out in enumerate(outputs):
        if fast_mode:
            u = rng.standard_normal(out.shape)
            analytic_rows = {i: None for i in checked}
            if out.requires_grad:
                grads = autograd_grad(out, [inputs[i] for i in checked], Tensor._wrap(u.copy()),
                                      retain_graph=True, allow_unused=True)
                analytic_rows = {i: (np.zeros(inputs[i].array.size) if g is None else g.array.ravel())
                                 for i, g in zip(checked, grads)}
        else:
            analytic = {i: np.zeros((out.array.size, inputs[i].array.size)) for i in checked}
            for k in range(out.array.size if out.requires_grad else 0):
                upstream = np.zeros(out.array.size)
                upstream[k] = 1.0
                grads = autograd_grad(out, [inputs[i] for i in checked], Tensor._wrap(upstream.reshape(out.shape)),
                                      retain_graph=True, allow_unused=True)
                for i, g in zip(checked, grads):
                    if g is not None:
                        analytic[i][k] = g.array.ravel()
        for i in checked:
            x = inputs[i].array
            numeric = np.zeros((out.array.size, x.size))
            flat = x.reshape(-1)
            for j in range(x.size):
                original = flat[j]
                flat[j] = original + eps              # written on the raw array: outside autograd
                plus = _outputs(fn, inputs)[o_index].array.ravel().astype(np.float64)
                flat[j] = original - eps
                minus = _outputs(fn, inputs)[o_index].array.ravel().astype(np.float64)
                flat[j] = original
                numeric[:, j] = (plus - minus) / (2 * eps)
            if fast_mode:
                a_row = analytic_rows[i] if analytic_rows[i] is not None else np.zeros(x.size)
                a, n = a_row[None, :], (u.reshape(-1) @ numeric)[None, :]
            else:
                a, n = analytic[i], numeric
            excess = np.abs(a - n) - (atol + rtol * np.abs(n))
            if excess.size and excess.max() > worst[0]:
                k, j = np.unravel_index(np.argmax(excess), excess.shape)
                worst = (excess.max(), (o_index, i, j, k, a[k, j], n[k, j]))
    if worst[1] is None:
        return True
    o_index, i, j, k, a, n = worst[1]
    row = "the random projection" if fast_mode else f"element {k}"
    message = (f"gradcheck failed: d output[{o_index}] {row} / d input[{i}] element {j}: analytic "
               f"{a:.8g} vs numerical {n:.8g} (|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numerical|)")
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  gen_non_contig_grad_outputs: bool = False, raise_exception: bool = True,
                  fast_mode: bool = False, **_ignored) -> bool:
    """Check second derivatives: :func:`gradcheck` of x, u ↦ (∂fn/∂x)ᵀu, with ``create_graph``.

    ``grad_outputs`` (the u) default to random float64 tensors that require grad, as torch's do.
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(Tensor(rng.standard_normal(o.shape), requires_grad=True) for o in outputs)
    else:
        grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else (grad_outputs,)
    n_inputs = len(inputs)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_derivative(*args):
        xs, us = args[:n_inputs], args[n_inputs:]
        outs = [o for o in _outputs(fn, xs) if o.requires_grad]
        grads = autograd_grad(outs, [xs[i] for i in checked], us, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivative, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception, fast_mode=fast_mode)
