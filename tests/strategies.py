"""Shared hypothesis strategies (and the op-check factory) for the whole test suite.

Every test draws its inputs from here; add a new section at the bottom for a new family
rather than writing strategies in a test file (DESIGN §5, MiniTorch style).

Checking an op against torch takes one row: ``OpCase(name, variants, inputs)`` and
``run_check(case, dtype)`` / ``run_gradcheck(case)`` / ``run_double_backward(case)`` /
``run_gradgradcheck(case)`` (see tests/test_ops_elementwise.py); the
``inputs`` builders (``unary_inputs``, ``binary_inputs``, ...) take a ``small`` flag for
finite-difference-sized shapes.
"""
# =====================================================================================
# Section 1: autograd engine and primitive ops (tests/test_ops_*.py, test_engine.py,
#            test_tensor.py, test_gradcheck.py)
# =====================================================================================
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import assume, strategies as st
from hypothesis.extra import numpy as hnp

MAX_SIDE = 5          # the sides of drawn shapes (tests stay fast)
MAX_DIMS = 4
SMALL_SIDE = 3        # for finite-difference checks: every element is perturbed twice
SMALL_DIMS = 3


def shapes(min_dims=0, max_dims=MAX_DIMS, min_side=1, max_side=MAX_SIDE):
    """Array shapes with small sides."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """``num_shapes`` shapes that broadcast together (a list)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims,
                                             max_side=max_side).map(lambda bs: list(bs.input_shapes))


def matmul_shapes(max_dims=MAX_DIMS, max_side=MAX_SIDE):
    """Operand shapes for ``matmul``: 1-D, 2-D and batched, with broadcasting batch dims."""
    return hnp.mutually_broadcastable_shapes(signature="(m?,n),(n,p?)->(m?,p?)", max_dims=max_dims,
                                             max_side=max_side).map(lambda bs: list(bs.input_shapes))


def floats32(low, high):
    """Floats in [low, high] exactly representable in float32 (bounds rounded inwards)."""
    lo, hi = np.float32(low), np.float32(high)
    lo = lo if lo >= low else np.nextafter(lo, np.float32(np.inf))
    hi = hi if hi <= high else np.nextafter(hi, np.float32(-np.inf))
    return st.floats(float(lo), float(hi), allow_nan=False, allow_infinity=False, allow_subnormal=False,
                     width=32)


def floats(low=-3.0, high=3.0, avoid=(), gap=0.05):
    """Bounded floats exactly representable in float32, at least ``gap`` away from each of ``avoid``.

    The kinks of the ops (relu(0), abs(0), clamp bounds...) go in ``avoid``: finite differences and
    torch's choice of subgradient make values on a kink meaningless to compare.
    """
    elements = floats32(low, high)
    if avoid:
        elements = elements.filter(lambda v: all(abs(v - p) > gap for p in avoid))
    return elements


def arrays(shape, low=-3.0, high=3.0, avoid=(), gap=0.05, unique=False):
    """float64 arrays of ``shape`` (float32-exact values) from :func:`floats`."""
    return hnp.arrays(np.float64, shape, elements=floats(low, high, avoid, gap), unique=unique)


@st.composite
def distinct_arrays(draw, shape, spacing=0.25, low=-3.0):
    """float64 arrays whose values are all at least ``spacing``/2 apart (no ties for max/min/sort).

    A random permutation of a grid, jittered by less than a quarter of the spacing.
    """
    n = int(np.prod(shape, dtype=np.int64))
    order = np.array(draw(st.permutations(range(n))), dtype=np.float64) if n else np.zeros(0)
    jitter = draw(hnp.arrays(np.float64, (n,), elements=floats32(0, spacing / 4)))
    offset = draw(floats32(low, low + 1))
    return (offset + order * spacing + jitter).astype(np.float32).astype(np.float64).reshape(shape)


@st.composite
def untied_pair(draw, shapes_strategy=None):
    """Two broadcastable arrays that never tie: one on a grid of k/2, the other on k/2 + 1/4."""
    sa, sb = draw(broadcastable_shapes(2) if shapes_strategy is None else shapes_strategy)
    ints = st.integers(-6, 6)
    a = draw(hnp.arrays(np.int64, sa, elements=ints)) / 2
    b = draw(hnp.arrays(np.int64, sb, elements=ints)) / 2 + 0.25
    return a.astype(np.float64), b.astype(np.float64)


def dims(ndim, allow_none=False):
    """A valid ``dim`` for a tensor of ``ndim`` dimensions, negative values included."""
    lim = max(ndim, 1)
    d = st.integers(-lim, lim - 1)
    return st.none() | d if allow_none else d


def dim_tuples(ndim, min_size=1):
    """A tuple of distinct dims (as non-negative ints, some written negative)."""
    if ndim == 0:
        return st.just(())
    return (st.lists(st.integers(0, ndim - 1), min_size=min_size, max_size=ndim, unique=True)
            .flatmap(lambda ds: st.tuples(*[st.sampled_from([d, d - ndim]) for d in ds])))


def reduce_dims(ndim):
    """``dim`` for sum/mean/...: None, one int, or a tuple of ints."""
    return st.one_of(st.none(), dims(ndim), dim_tuples(ndim))


def basic_indices(shape):
    """Ints, slices (positive steps, as torch), None and Ellipsis."""
    def positive_steps(index):
        items = index if isinstance(index, tuple) else (index,)
        return all(not isinstance(i, slice) or i.step is None or i.step > 0 for i in items)
    return hnp.basic_indices(shape, min_dims=0, allow_newaxis=True, allow_ellipsis=True).filter(positive_steps)


def seeds():
    """A seed for np.random.default_rng (upstream gradients, permutations)."""
    return st.integers(0, 2 ** 32 - 1)


def upstream(seed, shape, dtype):
    """A random upstream gradient (standard normal, not ones) of ``shape`` and ``dtype``."""
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ----------------------------------------------------------------------------- op-check factory
@dataclass
class OpCase:
    """One row of an op table: what to call in both libraries and how to draw its inputs.

    ``variants``: (label, tinycompress callable, torch callable) triples, e.g. ``tc.exp``, ``x.exp()``;
    each is called as ``f(*tensors, **kwargs)``.
    ``inputs(small)``: a strategy giving ``(arrays, kwargs)``: float64 arrays become the tensors
    (cast to the dtype under test, requires_grad where differentiable); kwargs go to both callables
    unchanged (NumPy arrays in kwargs — masks, indices — are the callables' to convert).
    ``small=True`` asks for tiny shapes (for finite differences).
    """
    name: str
    variants: list
    inputs: Callable
    differentiable: bool = True
    gradcheck: bool = True
    rtol32: float = 1e-4
    atol32: float = 1e-5
    max_examples: int | None = None        # this row's hypothesis budget (None: the profile's)

    def __repr__(self):
        return self.name


def fn_variants(name, method=True, function=True, tc_name=None, positional=()):
    """The variants ``tc.<name>(x, ...)`` and ``x.<name>(...)`` against torch's of the same name.

    Drawn kwargs named in ``positional`` are passed positionally, in that order (for torch
    signatures whose argument names differ between the function and the method).
    """
    import torch
    import tinycompress as tc

    def call(f):
        def g(*xs, **kw):
            args = [kw.pop(k) for k in positional]
            return f(*xs, *args, **kw)
        return g
    out = []
    if function:
        out.append((f"tc.{tc_name or name}", call(getattr(tc, tc_name or name)), call(getattr(torch, name))))
    if method:
        m = call(lambda x, *a, **k: getattr(x, name)(*a, **k))
        out.append((f"Tensor.{name}", m, m))
    return out


def same(label, f):
    """A variant written once for both libraries (operators, methods)."""
    return (label, f, f)


def _flat(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def _torch_dtype_name(t):
    return str(t.dtype).replace("torch.", "")


def check_op(case: OpCase, data, dtype) -> None:
    """The one check every op goes through (DESIGN §5), for one drawn example in ``dtype``.

    Forward equals torch's; under a random upstream gradient the input gradients equal torch's;
    neither forward nor backward mutates the inputs; each gradient has its tensor's shape and
    dtype; float32 stays float32; non-differentiable results carry no graph.
    """
    import torch
    import tinycompress as tc

    arrays, kwargs = data.draw(case.inputs(False), label="inputs")
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    seed = data.draw(seeds(), label="seed")
    if dtype == np.float32:
        rtol, atol = case.rtol32, case.atol32
    else:
        rtol, atol = 1e-9, 1e-11
    originals = [a.copy() for a in arrays]

    for label, tc_fn, torch_fn in case.variants:
        where = f"{case.name} [{label}, {np.dtype(dtype).name}]"
        t_in = [torch.tensor(a, requires_grad=case.differentiable) for a in arrays]
        t_ref = _flat(torch_fn(*t_in, **kwargs))
        grads = [upstream(seed + i, o.shape, dtype) if o.is_floating_point() else None
                 for i, o in enumerate(t_ref)]
        if case.differentiable:
            roots = [(o, torch.from_numpy(g)) for o, g in zip(t_ref, grads) if g is not None and o.requires_grad]
            if roots:
                torch.autograd.backward([o for o, _ in roots], [g for _, g in roots])
            t_grads = [None if t.grad is None else t.grad.numpy() for t in t_in]
        x_in = [tc.tensor(a, requires_grad=case.differentiable) for a in arrays]
        out = _flat(tc_fn(*x_in, **kwargs))
        assert len(out) == len(t_ref), f"{where}: {len(out)} outputs, torch gives {len(t_ref)}"
        for o, r in zip(out, t_ref):
            assert isinstance(o, tc.Tensor), f"{where}: returned {type(o).__name__}, not a Tensor"
            assert o.shape == tuple(r.shape), f"{where}: output shape {o.shape}, torch {tuple(r.shape)}"
            assert o.dtype == np.dtype(_torch_dtype_name(r)), \
                f"{where}: output dtype {o.dtype}, torch {_torch_dtype_name(r)}"
            ref = r.detach().numpy()
            if ref.dtype.kind == "f":
                np.testing.assert_allclose(o.array, ref, rtol=rtol, atol=atol, err_msg=f"{where}: forward")
            else:
                np.testing.assert_array_equal(o.array, ref, err_msg=f"{where}: forward")
            if not case.differentiable or ref.dtype.kind != "f":
                assert o.grad_fn is None and not o.requires_grad, f"{where}: a non-differentiable result records a graph"
        for x, a0 in zip(x_in, originals):
            np.testing.assert_array_equal(x.array, a0, err_msg=f"{where}: forward mutated its input")
        if not case.differentiable:
            continue
        pairs = [(o, g) for o, g in zip(out, grads) if g is not None and o.requires_grad]
        if not pairs:
            continue
        if len(pairs) == 1:
            g_copy = pairs[0][1].copy()
            pairs[0][0].backward(tc.tensor(g_copy))
            np.testing.assert_array_equal(g_copy, pairs[0][1], err_msg=f"{where}: backward mutated the upstream gradient")
        else:                              # several outputs: one scalar that weights each by its gradient
            total = None
            for o, g in pairs:
                term = (o * tc.tensor(g)).sum()
                total = term if total is None else total + term
            total.backward()
        for k, (x, a0) in enumerate(zip(x_in, originals)):
            np.testing.assert_array_equal(x.array, a0, err_msg=f"{where}: backward mutated input {k}")
            tg = t_grads[k]
            if tg is None:
                assert x.grad is None or not np.any(x.grad.array), f"{where}: input {k} got a gradient, torch gives none"
                continue
            assert x.grad is not None, f"{where}: input {k} got no gradient"
            assert x.grad.shape == x.shape, f"{where}: grad of input {k} has shape {x.grad.shape}, input {x.shape}"
            assert x.grad.dtype == x.dtype, f"{where}: grad of input {k} is {x.grad.dtype}, input {x.dtype}"
            np.testing.assert_allclose(x.grad.array, tg, rtol=rtol * 10 if dtype == np.float32 else 1e-8,
                                       atol=atol * 10 if dtype == np.float32 else 1e-10,
                                       err_msg=f"{where}: gradient of input {k}")


def gradcheck_op(case: OpCase, data) -> None:
    """``tc.autograd.gradcheck`` (finite differences, float64) on tiny shapes, through the row's first variant."""
    import tinycompress as tc

    arrays, kwargs = data.draw(case.inputs(True), label="inputs")
    inputs = [tc.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    assume(sum(a.size for a in arrays) > 0)
    fn = case.variants[0][1]
    assert tc.autograd.gradcheck(lambda *xs: fn(*xs, **kwargs), inputs)


def _no_tiny_values(arrays):
    """No non-zero input below 1e-6 in size: a second derivative there is rounding error (torch's
    own prod gives 1/x − x/x², some 1e17 at x ≈ 1e-37, for a true 0)."""
    return not any(np.any((a != 0) & (np.abs(a) < 1e-6)) for a in arrays)


def _second_order(lib, fn, arrays, kwargs, seed):
    """With ``lib`` (tinycompress or torch): gx = grad(f(x), x, u, create_graph=True) for a random
    upstream u that requires grad, then grad(Σ gx·v, (x, u)) for a random v. Both as arrays (None
    where ``lib`` gives None), or None when f has no differentiable output."""
    xs = [lib.tensor(a, requires_grad=True) for a in arrays]
    outs = [o for o in _flat(fn(*xs, **kwargs)) if o.is_floating_point() and o.requires_grad]
    if not outs:
        return None
    us = [lib.tensor(upstream(seed + i, tuple(o.shape), np.float64), requires_grad=True)
          for i, o in enumerate(outs)]
    first = lib.autograd.grad(outs, xs, us, create_graph=True, allow_unused=True)
    total = None
    for k, g in enumerate(first):
        if g is not None and g.requires_grad:
            term = (g * lib.tensor(upstream(seed + 1000 + k, arrays[k].shape, np.float64))).sum()
            total = term if total is None else total + term
    second = ([None] * (len(xs) + len(us)) if total is None
              else lib.autograd.grad(total, xs + us, allow_unused=True))
    return [_as_array(g) for g in first], [_as_array(g) for g in second], [tuple(u.shape) for u in us]


def _as_array(g):
    """A gradient of either library as an ndarray (torch's zero tensors included), None kept."""
    if g is None:
        return None
    return g.array if hasattr(g, "array") else g.detach().numpy(force=True)


def double_backward_op(case: OpCase, data) -> None:
    """Second derivatives against torch's, on one drawn example in float64 (every variant).

    gx = grad(f(x), x, u, create_graph=True) must equal torch's, and so must grad(Σ gx·v) with
    respect to every input x and every upstream u (the latter is the Jacobian-vector product J·v).
    A None from either library counts as zeros: torch itself answers None, not zeros, for some zero
    second derivatives (clamp, amax, shape ops), and so may we where a derivative is a constant mask.
    """
    import torch
    import tinycompress as tc

    arrays, kwargs = data.draw(case.inputs(False), label="inputs")
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    assume(_no_tiny_values(arrays))
    seed = data.draw(seeds(), label="seed")
    for label, tc_fn, torch_fn in case.variants:
        where = f"{case.name} [{label}, double backward]"
        ref = _second_order(torch, torch_fn, arrays, kwargs, seed)
        ours = _second_order(tc, tc_fn, arrays, kwargs, seed)
        assert (ref is None) == (ours is None), f"{where}: differentiable outputs differ from torch's"
        if ref is None:
            continue
        shapes_ = [a.shape for a in arrays] + ref[2]
        for stage, (mine, theirs) in enumerate(zip(ours[:2], ref[:2])):
            for k, (m, r) in enumerate(zip(mine, theirs)):
                m = np.zeros(shapes_[k]) if m is None else m
                r = np.zeros(shapes_[k]) if r is None else r
                what = (f"first derivative wrt input {k}" if stage == 0 else
                        f"second derivative wrt input {k}" if k < len(arrays) else
                        f"second derivative wrt upstream {k - len(arrays)}")
                assert m.shape == r.shape, f"{where}: {what} has shape {m.shape}, torch {r.shape}"
                np.testing.assert_allclose(m, r, rtol=1e-7, atol=1e-9, err_msg=f"{where}: {what}")


def gradgradcheck_op(case: OpCase, data) -> None:
    """``tc.autograd.gradgradcheck`` (finite differences of the first derivative, float64) on tiny shapes."""
    import tinycompress as tc

    arrays, kwargs = data.draw(case.inputs(True), label="inputs")
    assume(sum(a.size for a in arrays) > 0 and _no_tiny_values(arrays))
    inputs = [tc.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    fn = case.variants[0][1]
    assert tc.autograd.gradgradcheck(lambda *xs: fn(*xs, **kwargs), inputs)


def run_check(case: OpCase, dtype) -> None:
    """Run :func:`check_op` under hypothesis with the row's own example budget."""
    from hypothesis import given, settings

    def body(data):
        check_op(case, data, dtype)
    test = given(data=st.data())(body)
    if case.max_examples:
        test = settings(max_examples=case.max_examples)(test)
    test()


def run_gradcheck(case: OpCase, max_examples=6) -> None:
    """Run :func:`gradcheck_op` under hypothesis (few examples: each perturbs every element)."""
    from hypothesis import given, settings

    def body(data):
        gradcheck_op(case, data)
    settings(max_examples=max_examples)(given(data=st.data())(body))()


def run_double_backward(case: OpCase, max_examples=5) -> None:
    """Run :func:`double_backward_op` under hypothesis (a small budget: it runs both libraries twice)."""
    from hypothesis import given, settings

    def body(data):
        double_backward_op(case, data)
    settings(max_examples=max_examples)(given(data=st.data())(body))()


def run_gradgradcheck(case: OpCase, max_examples=3) -> None:
    """Run :func:`gradgradcheck_op` under hypothesis (few examples: each perturbs every element twice)."""
    from hypothesis import given, settings

    def body(data):
        gradgradcheck_op(case, data)
    settings(max_examples=max_examples)(given(data=st.data())(body))()


# ----------------------------------------------------------------------------- op inputs
def _sides(small):
    return (SMALL_DIMS, SMALL_SIDE) if small else (MAX_DIMS, MAX_SIDE)


def _no_kwargs(shape):
    return st.just({})


def unary_inputs(low=-3.0, high=3.0, avoid=(), kwargs=_no_kwargs, min_dims=0, min_side=1,
                 distinct=False, max_dims=None, values=None):
    """``inputs`` for a one-tensor op: one array of a drawn shape; ``kwargs(shape)`` draws options.

    ``avoid`` may be a callable of the drawn kwargs (points to keep away from, e.g. clamp bounds).
    ``values(shape)``, when given, is the strategy of the array itself (e.g. :func:`distinct_magnitudes`).
    """
    def build(small):
        most_dims, max_side = _sides(small)
        most_dims = most_dims if max_dims is None else min(most_dims, max_dims)

        @st.composite
        def draw_inputs(draw):
            shape = draw(shapes(min(min_dims, most_dims), most_dims, min_side, max(max_side, min_side)))
            kw = draw(kwargs(shape))
            points = avoid(kw) if callable(avoid) else avoid
            if values is not None:
                x = draw(values(shape))
            else:
                x = draw(distinct_arrays(shape)) if distinct else draw(arrays(shape, low, high, points))
            return [x], kw
        return draw_inputs()
    return build


def binary_inputs(a=(-3.0, 3.0), b=(-3.0, 3.0), avoid_b=(), untied=False, shapes_fn=None):
    """``inputs`` for a two-tensor op on broadcastable shapes; bounds per operand."""
    def build(small):
        max_dims, max_side = _sides(small)
        shape_strategy = (shapes_fn(small) if shapes_fn else
                          broadcastable_shapes(2, max_dims=max_dims, max_side=max_side))

        @st.composite
        def draw_inputs(draw):
            if untied:
                return list(draw(untied_pair(shape_strategy))), {}
            sa, sb = draw(shape_strategy)
            return [draw(arrays(sa, *a)), draw(arrays(sb, *b, avoid=avoid_b))], {}
        return draw_inputs()
    return build


def scalar_and_tensor(low=-3.0, high=3.0, avoid=(), scalars=None):
    """``inputs`` for tensor-with-scalar forms: one array and ``{"s": scalar}``.

    Scalars are Python floats, ints and NumPy float64/float32 scalars (none may promote float32).
    """
    scalars = scalars if scalars is not None else st.one_of(
        floats32(-2, 2).filter(lambda v: abs(v) > 0.1),
        st.integers(-3, 3).filter(bool),
        floats32(-2, 2).filter(lambda v: abs(v) > 0.1).map(np.float64))
    return unary_inputs(low, high, avoid, kwargs=lambda shape: scalars.map(lambda s: {"s": s}))


def where_inputs():
    """``inputs`` for ``where(c, a, b)``: two arrays and a bool condition ``{"c": ...}``, all broadcastable."""
    def build(small):
        max_dims, max_side = _sides(small)

        @st.composite
        def draw_inputs(draw):
            sa, sb, sc = draw(broadcastable_shapes(3, max_dims=max_dims, max_side=max_side))
            return [draw(arrays(sa)), draw(arrays(sb))], {"c": draw(hnp.arrays(np.bool_, sc))}
        return draw_inputs()
    return build

def reduce_kwargs(keepdim=True, dim=None, **extra):
    """``kwargs(shape)`` for reductions: ``dim`` from ``dim(ndim)`` (default :func:`reduce_dims`),
    ``keepdim`` drawn, plus fixed strategies ``extra``."""
    def build(shape):
        entries = {"dim": (dim or reduce_dims)(len(shape)), **extra}
        if keepdim:
            entries["keepdim"] = st.booleans()
        return st.fixed_dictionaries(entries)
    return build


@st.composite
def same_size_shape(draw, shape):
    """Another shape with as many elements as ``shape`` (``-1`` allowed once), for reshape/view."""
    n = int(np.prod(shape, dtype=np.int64))
    options = [(n,), (-1,), tuple(reversed(shape)), (1,) + tuple(shape), tuple(shape) + (1,), ()]
    options += [(n // k, k) for k in range(1, n + 1) if n % k == 0]
    options += [(-1, k) for k in range(1, n + 1) if n % k == 0]
    return draw(st.sampled_from([o for o in options if o != () or n == 1]))


@st.composite
def expand_target(draw, shape):
    """A shape ``shape`` expands to: size-1 dims stretched, new leading dims, -1 for kept dims."""
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    body = tuple(draw(st.integers(1, 3)) if n == 1 else draw(st.sampled_from([n, -1])) for n in shape)
    return lead + body


@st.composite
def cat_inputs_arrays(draw, small, stack=False):
    """1-3 arrays that agree on every dim but ``dim`` (all dims when ``stack``), and ``{"dim": d}``."""
    max_dims, max_side = _sides(small)
    shape = draw(shapes(0 if stack else 1, max_dims, 1, max_side))
    ndim = len(shape)
    d = draw(dims(ndim + 1 if stack else ndim))
    count = draw(st.integers(1, 3))
    out = []
    for _ in range(count):
        s = list(shape)
        if not stack:
            s[d] = draw(st.integers(0 if not small else 1, max_side))
        out.append(draw(arrays(tuple(s))))
    return out, {"dim": d}


def index_to(index, wrap):
    """``index`` with its NumPy arrays passed through ``wrap`` (tc.tensor or torch.from_numpy)."""
    if isinstance(index, tuple):
        return tuple(wrap(i) if isinstance(i, np.ndarray) else i for i in index)
    return wrap(index) if isinstance(index, np.ndarray) else index


@st.composite
def indices(draw, shape):
    """An index of every kind torch takes: basic (ints, slices, None, ...), a boolean mask,
    integer arrays (repeats included: their gradients must accumulate), or arrays mixed with slices."""
    kind = draw(st.sampled_from(["basic", "bool", "int", "mixed"] if len(shape) else ["basic", "bool"]))
    if kind == "basic":
        return draw(basic_indices(shape))
    if kind == "bool":
        k = draw(st.integers(min(1, len(shape)), len(shape)))
        return draw(hnp.arrays(np.bool_, shape[:k]))
    n = shape[0]
    ints = draw(hnp.arrays(np.int64, draw(hnp.array_shapes(min_dims=1, max_dims=2, max_side=4)),
                           elements=st.integers(-n, n - 1)))
    if kind == "int" or len(shape) < 2:
        return ints
    m = shape[1]
    second = draw(st.one_of(st.just(slice(None)),
                            hnp.arrays(np.int64, ints.shape[-1:], elements=st.integers(-m, m - 1))))
    return (ints, second)

def ste_arrays(shape):
    """Inputs for straight-through estimators: bounded floats with the edges 0, ±1 drawn often."""
    return hnp.arrays(np.float64, shape, elements=floats32(-3, 3) | st.sampled_from([0.0, 1.0, -1.0]))


def python_scalars():
    """Scalars a user mixes with tensors: Python int/float, NumPy float64/float32/int64 scalars."""
    return st.one_of(st.integers(-3, 3), floats32(-2, 2), floats32(-2, 2).map(np.float64),
                     floats32(-2, 2).map(np.float32), st.integers(-3, 3).map(np.int64))


# =====================================================================================
# Section: data pipeline (tests/data/): IDX arrays, uint8 images, loader sizes
# =====================================================================================
IDX_DTYPES = [np.dtype(t) for t in ("u1", "i1", "<i2", ">i2", "<i4", ">i4", "<f4", ">f4", "<f8", ">f8")]


@st.composite
def idx_arrays(draw, max_dims=4, max_side=5):
    """Arrays IDX can hold: every IDX dtype in either byte order, 0-4 dims, zero sides included;
    floats include NaN, infinities and -0.0 (a round trip must keep their bits)."""
    dtype = draw(st.sampled_from(IDX_DTYPES))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side))
    return draw(hnp.arrays(dtype, shape))


def uint8_images(batch=None, max_side=8):
    """uint8 grey images: one (H, W) when ``batch`` is False, a batch (N, H, W) when True, either when None."""
    single = hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=max_side)
    batched = hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=max_side)
    shape = {False: single, True: batched, None: single | batched}[batch]
    return shape.flatmap(lambda s: hnp.arrays(np.uint8, s))


def normalize_params(channels=1):
    """(mean, std) tuples of ``channels`` values (std away from 0), as given to Normalize."""
    mean = st.floats(-1, 1, width=32)
    std = st.floats(0.0625, 2, width=32) | st.floats(-2, -0.0625, width=32)
    return st.tuples(st.tuples(*[mean] * channels), st.tuples(*[std] * channels))


def loader_sizes(max_n=60, max_batch=16):
    """(dataset length, batch_size), length 0 included."""
    return st.tuples(st.integers(0, max_n), st.integers(1, max_batch))


# =====================================================================================
# Section: binarized networks (tests/compress/test_binary.py, test_packed.py)
# =====================================================================================
def bnn_arrays(shape, low=-3.0, high=3.0):
    """STE inputs with 0 and ±1 drawn often, and no tiny non-zeros (seed 000's ``sign(x + 1e-20)``
    maps (-1e-20, 0) to +1; those values are not worth comparing)."""
    return ste_arrays(shape).map(lambda a: np.where(np.abs(a) < 1e-6, 0.0, np.clip(a, low, high)))


@st.composite
def conv_configs(draw, max_channels=4, max_side=7):
    """(N, C_in, H, W, C_out, kernel, stride, padding, dilation) for a small valid conv."""
    k = draw(st.integers(1, 3))
    d = draw(st.integers(1, 2))
    p = draw(st.integers(0, 2))
    span = d * (k - 1) + 1
    h = draw(st.integers(max(1, span - 2 * p), max_side))
    w = draw(st.integers(max(1, span - 2 * p), max_side))
    return dict(n=draw(st.integers(1, 3)), c_in=draw(st.integers(1, max_channels)), h=h, w=w,
                c_out=draw(st.integers(1, max_channels)), kernel_size=k, stride=draw(st.integers(1, 2)),
                padding=p, dilation=d)


@st.composite
def binary_conv_geometries(draw, max_side=9):
    """A two-layer binarized conv chain (tests/compress/test_packed.py): channels that cross 8/16/32/64-bit
    word boundaries, kernel, stride, padding, dilation and groups of each layer, an optional max pool before
    or after the BatchNorm, weight quantizer, α, bias and the input size, all valid for the chain."""
    def conv(c_in):
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if c_in % g == 0]))
        c_out = groups * draw(st.integers(1, 3 if groups > 1 else 70))
        k, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
        return dict(c_in=c_in, c_out=c_out, kernel_size=k, stride=draw(st.integers(1, 2)),
                    padding=draw(st.integers(0, 2)), dilation=d, groups=groups,
                    weight_quant=draw(st.sampled_from(["binary", "ternary"])),
                    scale=draw(st.sampled_from(["channel", None])), bias=draw(st.booleans()))
    first = conv(draw(st.sampled_from([1, 2, 3, 7, 8, 9, 17, 33, 65])))
    second = conv(first["c_out"])
    return dict(first=first, second=second, n=draw(st.integers(1, 3)), h=draw(st.integers(5, max_side)),
                w=draw(st.integers(5, max_side)), pool=draw(st.sampled_from([None, "before_bn", "after_bn"])),
                float_input=draw(st.booleans()))


# =====================================================================================
# Section: nn core (tests/nn/test_linear.py, test_loss.py, test_activation.py)
# =====================================================================================
@st.composite
def linear_cases(draw):
    """(batch_shape, in_features, out_features, bias, seed) for nn.Linear vs torch."""
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    return batch, draw(st.integers(1, 6)), draw(st.integers(1, 6)), draw(st.booleans()), draw(seeds())


@st.composite
def class_loss_cases(draw, small=False):
    """Inputs of a class-index loss: (logits (N, C[, d...]), target, weight or None, ignore_index,
    reduction, label_smoothing), with some targets equal to ignore_index."""
    n, c = draw(st.integers(1, 3 if small else 5)), draw(st.integers(2, 4 if small else 6))
    extra = draw(hnp.array_shapes(min_dims=0, max_dims=1 if small else 2, min_side=1, max_side=3))
    rng = np.random.default_rng(draw(seeds()))
    scale = draw(st.sampled_from([1.0, 5.0] if small else [1.0, 5.0, 50.0]))
    logits = rng.standard_normal((n, c) + extra) * scale
    ignore_index = draw(st.sampled_from([-100, 0, 1]))
    target = rng.integers(0, c, (n,) + extra)
    if draw(st.booleans()):
        target.flat[0] = ignore_index if ignore_index >= 0 else -100
    if (target == ignore_index).all():
        target.flat[0] = c - 1 if ignore_index != c - 1 else 0
    weight = rng.uniform(0.2, 2.0, c) if draw(st.booleans()) else None
    reduction = draw(st.sampled_from(["none", "mean", "sum"]))
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.35]))
    return logits, target, weight, ignore_index, reduction, smoothing


@st.composite
def pair_loss_cases(draw, small=False):
    """(input, target, weight-or-None, pos_weight-or-None, reduction) float64 arrays for MSE/L1/BCE losses."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=2 if small else 3, min_side=1, max_side=3 if small else 5))
    rng = np.random.default_rng(draw(seeds()))
    x = rng.standard_normal(shape) * 2
    y = rng.uniform(0, 1, shape)
    w = rng.uniform(0.2, 2.0, shape[-1:]) if draw(st.booleans()) else None
    pw = rng.uniform(0.2, 3.0, shape[-1:]) if draw(st.booleans()) else None
    return x, y, w, pw, draw(st.sampled_from(["none", "mean", "sum"]))


# =====================================================================================
# Section: masked networks and pruning (tests/compress/test_masked.py, test_prune.py,
#          test_sparse_deploy.py)
# =====================================================================================
@st.composite
def masked_linear_case(draw, max_side=6):
    """(batch, in, out, x, W, b, M, upstream seed): a masked linear layer's inputs (float64 arrays)."""
    n, i, o = draw(st.integers(1, 4)), draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    x = draw(arrays((n, i)))
    w = draw(arrays((o, i), -1, 1))
    b = draw(arrays((o,), -1, 1))
    m = draw(hnp.arrays(np.bool_, (o, i))).astype(np.float64)
    return n, i, o, x, w, b, m, draw(seeds())


def pruning_amounts(size):
    """An amount torch accepts for ``size`` units: a fraction in [0, 1] or a count in [0, size]."""
    return st.one_of(st.integers(0, size), st.floats(0, 1, allow_nan=False))


@st.composite
def distinct_magnitudes(draw, shape):
    """float64 arrays whose absolute values are all distinct (no ties for magnitude pruning), random signs."""
    mags = draw(distinct_arrays(shape, low=0.1))
    signs = draw(hnp.arrays(np.bool_, shape))
    return np.where(signs, -mags, mags)


# =====================================================================================
# Section: optimizers and learning-rate schedulers (tests/test_optim.py,
#          tests/test_lr_scheduler.py)
# =====================================================================================
def optim_values(low=-3.0, high=3.0):
    """Parameter and gradient values: bounded, float32-exact, and either 0 or at least 1e-3 in size
    (tiny values only exercise denormal/FMA rounding, where no two libraries agree bit for bit)."""
    return floats(low, high).filter(lambda v: v == 0 or abs(v) >= 1e-3)


def optim_lrs():
    """Learning rates, from tiny to large."""
    return floats32(1e-4, 0.5)


def _maybe_zero(strategy):
    return st.one_of(st.just(0.0), strategy)


@dataclass
class OptimProblem:
    """Initial parameter values by group, each group's lr, and K steps of gradients.

    ``grads[k]`` holds one entry per parameter (in group order, flattened); None means the
    parameter gets no gradient at step k (optimizers must skip it)."""
    init: list            # list (groups) of lists of float64 arrays (float32-exact)
    lrs: list
    grads: list           # list (steps) of lists (params) of float64 arrays or None


@st.composite
def optim_problems(draw, max_groups=3, max_params=2, min_steps=1, max_steps=8, allow_missing=True):
    """An :class:`OptimProblem`: 1..max_groups groups of 1..max_params small tensors, K steps."""
    n_groups = draw(st.integers(1, max_groups))
    group_shapes = [[draw(shapes(min_dims=0, max_dims=3, max_side=4)) for _ in range(draw(st.integers(1, max_params)))]
                    for _ in range(n_groups)]
    init = [[draw(hnp.arrays(np.float64, s, elements=optim_values())) for s in g] for g in group_shapes]
    lrs = [draw(optim_lrs()) for _ in range(n_groups)]
    flat = [s for g in group_shapes for s in g]
    grads = []
    for _ in range(draw(st.integers(min_steps, max_steps))):
        step = []
        for s in flat:
            missing = allow_missing and draw(st.integers(0, 5)) == 0
            step.append(None if missing else draw(hnp.arrays(np.float64, s, elements=optim_values())))
        grads.append(step)
    return OptimProblem(init, lrs, grads)


@st.composite
def sgd_kwargs(draw):
    """SGD hyper-parameters torch accepts (nesterov only with momentum > 0 and no dampening)."""
    momentum = draw(_maybe_zero(floats32(0.01, 0.99)))
    nesterov = momentum > 0 and draw(st.booleans())
    dampening = 0.0 if nesterov else draw(_maybe_zero(floats32(0.01, 0.9)))
    return dict(momentum=momentum, dampening=dampening, nesterov=nesterov,
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))), maximize=draw(st.booleans()))


def _betas():
    return st.tuples(floats32(0.0, 0.99), floats32(0.0, 0.9999))


def _eps():
    return st.one_of(st.just(1e-8), floats32(1e-8, 1e-2))


@st.composite
def adam_kwargs(draw, decoupled=False):
    """Adam / AdamW hyper-parameters (betas in [0, 1), eps, weight decay, amsgrad, maximize)."""
    return dict(betas=draw(_betas()), eps=draw(_eps()), amsgrad=draw(st.booleans()), maximize=draw(st.booleans()),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.5 if decoupled else 0.1))))


@st.composite
def adamax_kwargs(draw):
    """Adamax hyper-parameters."""
    return dict(betas=draw(_betas()), eps=draw(_eps()), weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))),
                maximize=draw(st.booleans()))


@st.composite
def rmsprop_kwargs(draw):
    """RMSprop hyper-parameters. alpha stays >= 0.8: with small alpha the centered variance
    v − ḡ² cancels catastrophically and any two float32 implementations disagree."""
    return dict(alpha=draw(floats32(0.8, 0.999)), eps=draw(_eps()), weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))),
                momentum=draw(_maybe_zero(floats32(0.01, 0.95))), centered=draw(st.booleans()),
                maximize=draw(st.booleans()))


OPTIMIZER_KWARGS = {"SGD": sgd_kwargs, "Adam": adam_kwargs, "AdamW": lambda: adam_kwargs(decoupled=True),
                    "Adamax": adamax_kwargs, "RMSprop": rmsprop_kwargs}


@st.composite
def adadelta_kwargs(draw):
    """Adadelta hyper-parameters (rho in [0, 1) — rho = 1 never moves — eps up to 1e-2)."""
    return dict(rho=draw(floats32(0.0, 0.99)), eps=draw(st.one_of(st.just(1e-6), floats32(1e-8, 1e-2))),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))), maximize=draw(st.booleans()))


@st.composite
def adagrad_kwargs(draw):
    """Adagrad hyper-parameters: lr_decay, a starting accumulator, eps, weight decay, maximize."""
    return dict(lr_decay=draw(_maybe_zero(floats32(1e-4, 0.5))),
                initial_accumulator_value=draw(_maybe_zero(floats32(1e-3, 1.0))),
                eps=draw(st.one_of(st.just(1e-10), floats32(1e-10, 1e-2))),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.1))), maximize=draw(st.booleans()))


@st.composite
def nadam_kwargs(draw):
    """NAdam hyper-parameters: Adam's (no amsgrad), momentum_decay, L2 or decoupled weight decay."""
    decoupled = draw(st.booleans())
    return dict(betas=draw(_betas()), eps=draw(_eps()), momentum_decay=draw(_maybe_zero(floats32(1e-4, 0.5))),
                decoupled_weight_decay=decoupled, maximize=draw(st.booleans()),
                weight_decay=draw(_maybe_zero(floats32(1e-4, 0.5 if decoupled else 0.1))))


@st.composite
def radam_kwargs(draw):
    """RAdam hyper-parameters. With β2 above about 0.85, ρ_t passes 5 at step 6, so runs of up to 8
    steps meet both the plain momentum steps and the rectified ones; small β2 stays unrectified."""
    decoupled = draw(st.booleans())
    return dict(betas=draw(_betas()), eps=draw(_eps()), decoupled_weight_decay=decoupled,
                maximize=draw(st.booleans()), weight_decay=draw(_maybe_zero(floats32(1e-4, 0.5 if decoupled else 0.1))))


OPTIMIZER_KWARGS.update({"Adadelta": adadelta_kwargs, "Adagrad": adagrad_kwargs, "NAdam": nadam_kwargs,
                         "RAdam": radam_kwargs})


def scheduler_lrs(max_groups=3):
    """Initial learning rates, one per parameter group."""
    return st.lists(floats32(1e-4, 1.0), min_size=1, max_size=max_groups)


def _gammas():
    return floats32(0.05, 1.0)


@st.composite
def scheduler_specs(draw, name):
    """(kwargs, number of steps) for the scheduler ``name``; LambdaLR gets a ``lr_lambda`` spec
    ``('power', base)`` or ``('inverse', scale)`` that the test turns into a function."""
    if name == "StepLR":
        kwargs = dict(step_size=draw(st.integers(1, 10)), gamma=draw(_gammas()))
    elif name == "MultiStepLR":
        kwargs = dict(milestones=draw(st.lists(st.integers(1, 30), max_size=5)), gamma=draw(_gammas()))
    elif name == "ExponentialLR":
        kwargs = dict(gamma=draw(floats32(0.5, 1.0)))
    elif name == "CosineAnnealingLR":
        kwargs = dict(T_max=draw(st.integers(1, 20)), eta_min=draw(_maybe_zero(floats32(1e-6, 1e-4))))
    elif name == "LambdaLR":
        kwargs = dict(lr_lambda=draw(st.one_of(st.tuples(st.just("power"), floats32(0.5, 1.0)),
                                               st.tuples(st.just("inverse"), floats32(0.1, 2.0)))))
    else:
        raise ValueError(f"no strategy for scheduler {name}")
    return kwargs, draw(st.integers(1, 60))


# =====================================================================================
# Section: layer ops (tests/test_ops_layers.py): N-d and transposed convolutions, layer/group/instance
#          norm. Values are standard normal from a drawn seed (no near-constant rows for the norms).
# =====================================================================================
@st.composite
def _conv_geometry(draw, d, small, transposed):
    """(n, c_in, c_out, groups, kernel, stride, padding, dilation, output_padding, sizes) for a valid
    d-dimensional (transposed) convolution with tiny sides."""
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    top = 2 if small or d == 3 else 3
    kernel = tuple(draw(st.integers(1, top)) for _ in range(d))
    stride = tuple(draw(st.integers(1, top)) for _ in range(d))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(d))
    out_pad = (0,) * d
    if transposed:
        padding = tuple(draw(st.integers(0, dl * (k - 1))) for k, dl in zip(kernel, dilation))
        out_pad = tuple(draw(st.integers(0, max(s, dl) - 1)) for s, dl in zip(stride, dilation))
        sizes = [draw(st.integers(1, top + 1)) for _ in range(d)]
        for t in range(d):                       # the output (H − 1)·s − 2p + d·(k − 1) + op + 1 must be >= 1
            while (sizes[t] - 1) * stride[t] - 2 * padding[t] + dilation[t] * (kernel[t] - 1) + out_pad[t] < 0:
                sizes[t] += 1
    else:
        padding = tuple(draw(st.integers(0, 1 if small else 2)) for _ in range(d))
        sizes = [draw(st.integers(max(1, dl * (k - 1) + 1 - 2 * p), max(top + 1, dl * (k - 1) + 1)))
                 for k, dl, p in zip(kernel, dilation, padding)]
    return (draw(st.integers(1, 2)), c_in, c_out, groups, kernel, stride, padding, dilation, out_pad,
            tuple(sizes))


def conv_nd_inputs(d, transposed=False):
    """``inputs`` for conv{d}d / conv_transpose{d}d: [x, W] or [x, W, b] and the geometry kwargs
    (``output_padding`` too when ``transposed``)."""
    def build(small):
        @st.composite
        def draw_inputs(draw):
            n, c_in, c_out, groups, kernel, stride, padding, dilation, out_pad, sizes = draw(
                _conv_geometry(d, small, transposed))
            rng = np.random.default_rng(draw(seeds()))
            w_shape = (c_in, c_out // groups) if transposed else (c_out, c_in // groups)
            arrays = [rng.standard_normal((n, c_in) + sizes), rng.standard_normal(w_shape + kernel)]
            if draw(st.booleans()):
                arrays.append(rng.standard_normal(c_out))
            kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
            if transposed:
                kwargs["output_padding"] = out_pad
            return [a.astype(np.float32).astype(np.float64) for a in arrays], kwargs
        return draw_inputs()
    return build


def norm_inputs(kind):
    """``inputs`` for ``layer_norm`` (kwargs normalized_shape, eps), ``group_norm`` (num_groups, eps) or
    ``instance_norm`` (eps, use_input_stats and running statistics as arrays, for the callables to convert):
    [x] or [x, γ] or [x, γ, β]."""
    def build(small):
        @st.composite
        def draw_inputs(draw):
            rng = np.random.default_rng(draw(seeds()))
            side = 3 if small else 4
            eps = draw(st.sampled_from([1e-5, 1e-3, 0.1]))
            if kind == "layer_norm":
                shape = draw(shapes(1, 3 if small else 4, 1, side))
                k = draw(st.integers(1, len(shape)))
                if int(np.prod(shape[len(shape) - k:])) == 1:      # as for group_norm: rows of two or more
                    shape = shape + (2,)
                affine_shape, kwargs = shape[len(shape) - k:], dict(normalized_shape=shape[len(shape) - k:], eps=eps)
            else:
                groups = draw(st.integers(1, 3))
                c = groups * draw(st.integers(1, 2)) if kind == "group_norm" else draw(st.integers(1, 3))
                spatial = draw(shapes(0 if kind == "group_norm" else 1, 2 if small else 3, 1, side))
                if kind == "instance_norm" and int(np.prod(spatial)) == 1:
                    spatial = spatial[:-1] + (2,)
                shape = (draw(st.integers(1, 3)), c) + spatial
                if kind == "group_norm" and c // groups * int(np.prod(spatial)) == 1:
                    shape = shape + (2,)         # a group of one value: x̂ = 0 exactly, torch's gradient there
                                                 # is rounding error amplified by 1/√eps
                affine_shape = (c,)
                kwargs = dict(num_groups=groups, eps=eps) if kind == "group_norm" else dict(eps=eps)
                if kind == "instance_norm":
                    kwargs["use_input_stats"] = use = draw(st.booleans())
                    if not use or draw(st.booleans()):
                        kwargs["running_mean"] = rng.standard_normal(c)
                        kwargs["running_var"] = rng.uniform(0.5, 2.0, c)
            x = rng.standard_normal(shape) * draw(st.sampled_from([1.0, 3.0])) + draw(st.sampled_from([0.0, 2.0]))
            arrays = [x] + [rng.standard_normal(affine_shape) for _ in range(draw(st.integers(0, 2)))]
            return [a.astype(np.float32).astype(np.float64) for a in arrays], kwargs
        return draw_inputs()
    return build


def paired_inputs(count=2, kwargs=_no_kwargs, avoid_diff=(), low=-3.0, high=3.0, min_dims=0, nonzero=False):
    """``inputs`` for an op of ``count`` same-shaped arrays (pairwise losses, distances); the first two differ
    by d = x − y kept ``gap`` away from each of ``avoid_diff`` (a callable of the kwargs, e.g. a loss's kinks);
    ``nonzero``: no array holds an exact zero."""
    def build(small):
        max_dims, max_side = _sides(small)

        @st.composite
        def draw_inputs(draw):
            shape = draw(shapes(min_dims, max_dims, 1, max_side))
            kw = draw(kwargs(shape))
            points = avoid_diff(kw) if callable(avoid_diff) else avoid_diff
            zero = (0.0,) if nonzero else ()
            x = draw(arrays(shape, low, high, avoid=zero))
            d = draw(arrays(shape, -2.0, 2.0, avoid=tuple(points) + (tuple(x.flat) if nonzero else ()), gap=0.05))
            rest = [draw(arrays(shape, low, high, avoid=zero)) for _ in range(count - 2)]
            return [x, (x - d).astype(np.float32).astype(np.float64)] + rest, kw
        return draw_inputs()
    return build


# =====================================================================================
# Section: k-bit quantization (tests/compress/test_quant.py)
# =====================================================================================
@st.composite
def quant_ranges(draw):
    """(quant_min, quant_max) holding 0: signed or unsigned ranges of 2 to 8 bits."""
    bits = draw(st.integers(2, 8))
    if draw(st.booleans()):
        return 0, 2 ** bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


@st.composite
def fake_quant_inputs(draw, shape, scale, zero_point):
    """float32 inputs for quantization with ``scale`` (arrays broadcasting against ``shape``): random values
    within the range and beyond it, and exact ties ``(k + ½)·s`` (round half to even is tested on them)."""
    rng = np.random.default_rng(draw(seeds()))
    s = np.asarray(scale, np.float32)
    k = rng.integers(-20, 40, shape)
    x = (k + rng.choice([0.0, 0.5, rng.uniform(-0.5, 0.5)], shape)) * s - np.asarray(zero_point) * s
    return x.astype(np.float32)
