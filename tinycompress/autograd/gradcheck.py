"""``gradcheck``: analytic gradients against central finite differences, in float64.

For f: inputs → outputs, the analytic Jacobian row for output element k is the gradient of
f_k (one backward with a one-hot upstream gradient); the numerical column for input element j
is (f(x + ε e_j) − f(x − ε e_j)) / 2ε. They must agree within ``atol + rtol·|numerical|``.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from .grad_mode import no_grad


class GradcheckError(AssertionError):
    """Raised by :func:`gradcheck` when analytic and numerical gradients disagree."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    return list(out) if isinstance(out, (tuple, list)) else [out]


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Check ``fn``'s gradients w.r.t. every input that requires grad; report the worst element."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad; pass tensors made with requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise ValueError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences need float64 "
                             "inputs (use .double())")
    outputs = [o for o in _outputs(fn, inputs) if isinstance(o, Tensor) and o.dtype.kind == "f"]
    worst = (0.0, None)
    for o_index, out in enumerate(outputs):
        analytic = {i: np.zeros((out.array.size, inputs[i].array.size)) for i in checked}
        for k in range(out.array.size):
            for i in checked:
                inputs[i].grad = None
            if not out.requires_grad:
                break
            upstream = np.zeros(out.array.size)
            upstream[k] = 1.0
            out.backward(upstream.reshape(out.shape), retain_graph=True)
            for i in checked:
                if inputs[i].grad is not None:
                    analytic[i][k] = inputs[i].grad.array.ravel()
        for i in checked:
            x = inputs[i].array
            numeric = np.zeros_like(analytic[i])
            for j in range(x.size):
                flat = x.reshape(-1)
                original = flat[j]
                with no_grad():
                    flat[j] = original + eps
                    plus = _outputs(fn, inputs)[o_index].array.ravel().astype(np.float64)
                    flat[j] = original - eps
                    minus = _outputs(fn, inputs)[o_index].array.ravel().astype(np.float64)
                flat[j] = original
                numeric[:, j] = (plus - minus) / (2 * eps)
            excess = np.abs(analytic[i] - numeric) - (atol + rtol * np.abs(numeric))
            if excess.size and excess.max() > worst[0]:
                k, j = np.unravel_index(np.argmax(excess), excess.shape)
                worst = (excess.max(), (o_index, i, j, k, analytic[i][k, j], numeric[k, j]))
    for i in checked:
        inputs[i].grad = None
    if worst[1] is None:
        return True
    o_index, i, j, k, a, n = worst[1]
    message = (f"gradcheck failed: d output[{o_index}] element {k} / d input[{i}] element {j}: analytic "
               f"{a:.8g} vs numerical {n:.8g} (|diff| {abs(a - n):.3g} > atol {atol} + rtol {rtol} * |numerical|)")
    if raise_exception:
        raise GradcheckError(message)
    return False
