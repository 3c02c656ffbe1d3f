"""The one comparison behind every check: a function of tensors run by tinycompress and by torch.

:func:`compare_once` runs one example in one dtype: forward values, shapes and dtypes equal torch's; under
a random upstream gradient (standard normal, never ones) every input gradient equals torch's; neither
forward nor backward mutates an input (or the upstream gradient); each gradient has its tensor's shape
and dtype; non-differentiable results carry no graph. :func:`compare_second_order` differentiates the
gradient again (float64). ``check_function`` and the op-table factory both run on these.
"""
from __future__ import annotations

import numpy as np

from ._deps import require
from .assertions import assert_close

# forward (rtol, atol) by dtype; gradients get ten times as much in float32 (they sum more terms)
FORWARD_TOLERANCES = {np.dtype(np.float32): (1e-4, 1e-5), np.dtype(np.float64): (1e-9, 1e-11)}
GRAD_TOLERANCES = {np.dtype(np.float32): (1e-3, 1e-4), np.dtype(np.float64): (1e-8, 1e-10)}


def upstream(seed, shape, dtype):
    """A random upstream gradient (standard normal, not ones) of ``shape`` and ``dtype``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def flat(out) -> list:
    """A function's result as a list of outputs."""
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _torch_dtype_name(t) -> str:
    return str(t.dtype).replace("torch.", "")


def _differentiable(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


def tolerances(dtype, rtol=None, atol=None, grad_rtol=None, grad_atol=None):
    """((forward rtol, atol), (gradient rtol, atol)) for ``dtype``: the given ones, else the defaults
    (forward as given and gradients ten times looser, when only the forward ones are given in float32)."""
    dtype = np.dtype(dtype)
    f_rtol, f_atol = FORWARD_TOLERANCES.get(dtype, (0.0, 0.0))
    g_rtol, g_atol = GRAD_TOLERANCES.get(dtype, (0.0, 0.0))
    if rtol is not None:
        f_rtol = rtol
        g_rtol = rtol * 10 if dtype == np.float32 else g_rtol
    if atol is not None:
        f_atol = atol
        g_atol = atol * 10 if dtype == np.float32 else g_atol
    return (f_rtol, f_atol), (g_rtol if grad_rtol is None else grad_rtol, g_atol if grad_atol is None else grad_atol)


def _close(actual, expected, tol, where, what):
    assert_close(actual, expected, rtol=tol[0], atol=tol[1], equal_nan=True, check_dtype=False,
                 msg=lambda m: f"{where}: {what}\n{m}")


def compare_once(tc_fn, torch_fn, arrays, kwargs=None, *, dtype=None, seed=0, differentiable=True,
                 rtol=None, atol=None, grad_rtol=None, grad_atol=None, where="") -> None:
    """Run ``tc_fn`` and ``torch_fn`` on the same ``arrays`` (float ones require grad when
    ``differentiable``; others, integer indices say, are passed as they are) and ``kwargs``; assert all of
    the module docstring. ``dtype`` (when given) is the float dtype the float arrays are cast to."""
    torch = require("torch")
    import tinycompress as tc

    kwargs = kwargs or {}
    arrays = [np.asarray(a) for a in arrays]
    if dtype is not None:
        arrays = [a.astype(dtype) if _differentiable(a) else a for a in arrays]
    dtype = np.dtype(dtype if dtype is not None else next((a.dtype for a in arrays if _differentiable(a)),
                                                           np.float64))
    fwd_tol, grad_tol = tolerances(dtype, rtol, atol, grad_rtol, grad_atol)
    originals = [a.copy() for a in arrays]
    needs = [differentiable and _differentiable(a) for a in arrays]

    t_in = [torch.tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
    t_ref = flat(torch_fn(*t_in, **kwargs))
    grads = [upstream(seed + i, tuple(o.shape), _torch_dtype_name(o)) if o.is_floating_point() else None
             for i, o in enumerate(t_ref)]
    t_grads = [None] * len(arrays)
    if differentiable:
        # copies: a torch backward may write into its grad_output (seed 000's Binarize does), and the
        # same upstream gradients go to tinycompress next
        roots = [(o, torch.tensor(g)) for o, g in zip(t_ref, grads) if g is not None and o.requires_grad]
        if roots:
            torch.autograd.backward([o for o, _ in roots], [g for _, g in roots])
        t_grads = [None if t.grad is None else t.grad.numpy() for t in t_in]
    x_in = [tc.tensor(a, requires_grad=n) for a, n in zip(arrays, needs)]
    out = flat(tc_fn(*x_in, **kwargs))
    assert len(out) == len(t_ref), f"{where}: {len(out)} outputs, torch gives {len(t_ref)}"
    for i, (o, r) in enumerate(zip(out, t_ref)):
        what = "forward" if len(out) == 1 else f"forward, output {i}"
        assert isinstance(o, tc.Tensor), f"{where}: returned {type(o).__name__}, not a Tensor"
        assert o.shape == tuple(r.shape), f"{where}: output shape {o.shape}, torch {tuple(r.shape)} ({what})"
        assert o.dtype == np.dtype(_torch_dtype_name(r)), \
            f"{where}: output dtype {o.dtype}, torch {_torch_dtype_name(r)} ({what})"
        ref = r.detach().numpy()
        if ref.dtype.kind == "f":
            _close(o.array, ref, fwd_tol, where, what)
        else:
            _close(o.array, ref, (0.0, 0.0), where, what)
        if not differentiable or ref.dtype.kind != "f":
            assert o.grad_fn is None and not o.requires_grad, f"{where}: a non-differentiable result records a graph"
    for k, (x, a0) in enumerate(zip(x_in, originals)):
        _close(x.array, a0, (0.0, 0.0), where, f"forward mutated input {k}")
    if not differentiable:
        return
    pairs = [(o, g) for o, g in zip(out, grads) if g is not None and o.requires_grad]
    if not pairs:
        return
    if len(pairs) == 1:
        g_copy = pairs[0][1].copy()
        pairs[0][0].backward(tc.tensor(g_copy))
        _close(g_copy, pairs[0][1], (0.0, 0.0), where, "backward mutated the upstream gradient")
    else:                              # several outputs: one scalar that weights each by its gradient
        total = None
        for o, g in pairs:
            term = (o * tc.tensor(g)).sum()
            total = term if total is None else total + term
        total.backward()
    for k, (x, a0) in enumerate(zip(x_in, originals)):
        _close(x.array, a0, (0.0, 0.0), where, f"backward mutated input {k}")
        if not needs[k]:
            continue
        tg = t_grads[k]
        if tg is None:
            assert x.grad is None or not np.any(x.grad.array), f"{where}: input {k} got a gradient, torch gives none"
            continue
        assert x.grad is not None, f"{where}: input {k} got no gradient (torch gives one)"
        assert x.grad.shape == x.shape, f"{where}: grad of input {k} has shape {x.grad.shape}, input {x.shape}"
        assert x.grad.dtype == x.dtype, f"{where}: grad of input {k} is {x.grad.dtype}, input {x.dtype}"
        _close(x.grad.array, tg, grad_tol, where, f"gradient of input {k}")


def no_tiny_values(arrays) -> bool:
    """No non-zero float input below 1e-6 in size: a second derivative there is rounding error (torch's
    own prod gives 1/x − x/x², some 1e17 at x ≈ 1e-37, for a true 0)."""
    return not any(np.any((a != 0) & (np.abs(a) < 1e-6)) for a in arrays if _differentiable(np.asarray(a)))


def _as_array(g):
    """A gradient of either library as an ndarray (torch's zero tensors included), None kept."""
    if g is None:
        return None
    return g.array if hasattr(g, "array") else g.detach().numpy(force=True)


def _second_order(lib, fn, arrays, kwargs, seed):
    """With ``lib`` (tinycompress or torch): gx = grad(f(x), x, u, create_graph=True) for a random
    upstream u that requires grad, then grad(Σ gx·v, (x, u)) for a random v. Both as arrays (None
    where ``lib`` gives None), or None when f has no differentiable output. Only float inputs are x."""
    tensors = [lib.tensor(a, requires_grad=_differentiable(a)) for a in arrays]
    xs = [t for t, a in zip(tensors, arrays) if _differentiable(a)]
    shapes = [a.shape for a in arrays if _differentiable(a)]
    outs = [o for o in flat(fn(*tensors, **kwargs)) if o.is_floating_point() and o.requires_grad]
    if not outs:
        return None
    us = [lib.tensor(upstream(seed + i, tuple(o.shape), np.float64), requires_grad=True)
          for i, o in enumerate(outs)]
    first = lib.autograd.grad(outs, xs, us, create_graph=True, allow_unused=True)
    total = None
    for k, g in enumerate(first):
        if g is not None and g.requires_grad:
            term = (g * lib.tensor(upstream(seed + 1000 + k, shapes[k], np.float64))).sum()
            total = term if total is None else total + term
    second = ([None] * (len(xs) + len(us)) if total is None
              else lib.autograd.grad(total, xs + us, allow_unused=True))
    return [_as_array(g) for g in first], [_as_array(g) for g in second], shapes + [tuple(u.shape) for u in us]


def compare_second_order(tc_fn, torch_fn, arrays, kwargs=None, *, seed=0, rtol=1e-7, atol=1e-9, where="") -> None:
    """Second derivatives against torch's, in float64: gx = grad(f(x), x, u, create_graph=True) must equal
    torch's, and so must grad(Σ gx·v) with respect to every input x and every upstream u (the latter is the
    Jacobian-vector product J·v). A None from either library counts as zeros: torch itself answers None,
    not zeros, for some zero second derivatives (clamp, amax, shape ops)."""
    torch = require("torch")
    import tinycompress as tc

    kwargs = kwargs or {}
    arrays = [np.asarray(a, np.float64) if _differentiable(np.asarray(a)) else np.asarray(a) for a in arrays]
    n_x = sum(_differentiable(a) for a in arrays)
    ref = _second_order(torch, torch_fn, arrays, kwargs, seed)
    ours = _second_order(tc, tc_fn, arrays, kwargs, seed)
    assert (ref is None) == (ours is None), f"{where}: differentiable outputs differ from torch's"
    if ref is None:
        return
    shapes = ref[2]
    for stage, (mine, theirs) in enumerate(zip(ours[:2], ref[:2])):
        for k, (m, r) in enumerate(zip(mine, theirs)):
            m = np.zeros(shapes[k]) if m is None else m
            r = np.zeros(shapes[k]) if r is None else r
            what = (f"first derivative wrt input {k}" if stage == 0 else
                    f"second derivative wrt input {k}" if k < n_x else
                    f"second derivative wrt upstream {k - n_x}")
            assert m.shape == r.shape, f"{where}: {what} has shape {m.shape}, torch {r.shape}"
            _close(m, r, (rtol, atol), where, what)
