"""The op-table factory: checking an op against torch takes one row.

``OpCase(name, variants, inputs)`` names the op, its (label, tinycompress callable, torch callable)
variants and a strategy of inputs; :func:`op_table_tests` turns a table of rows into the four tests every
op gets (forward and gradients vs torch in float32 and float64, gradcheck, double backward vs torch,
gradgradcheck)::

    CASES = [OpCase("exp", fn_variants("exp"), unary_inputs(high=2.0)), ...]
    test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = \
        op_table_tests(CASES)

The ``inputs`` builders (:func:`unary_inputs`, :func:`binary_inputs`, ...) take a ``small`` flag for
finite-difference-sized shapes. This is how tinycompress's own suite checks its ops (DESIGN §5); a user
adding an op to their own fork checks it the same way. Needs torch, hypothesis and pytest.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ._deps import require
from .core import compare_once, compare_second_order, no_tiny_values, upstream  # noqa: F401
from .strategies import (_conv_geometry, arrays, broadcastable_shapes, dims, distinct_arrays,
                         floats32, reduce_dims, seeds, shapes, sides, untied_pair)

require("hypothesis")
from hypothesis import assume, strategies as st          # noqa: E402
from hypothesis.extra import numpy as hnp                # noqa: E402


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


def check_op(case: OpCase, data, dtype) -> None:
    """The one check every op goes through (DESIGN §5), for one drawn example in ``dtype``, every variant:
    :func:`~tinycompress.testing.core.compare_once` (forward, gradients under a random upstream gradient,
    no mutation, shapes and dtypes kept, no graph on non-differentiable results)."""
    arrays, kwargs = data.draw(case.inputs(False), label="inputs")
    arrays = [np.asarray(a, dtype=dtype) for a in arrays]
    seed = data.draw(seeds(), label="seed")
    rtol, atol = (case.rtol32, case.atol32) if dtype == np.float32 else (None, None)
    for label, tc_fn, torch_fn in case.variants:
        compare_once(tc_fn, torch_fn, arrays, kwargs, dtype=dtype, seed=seed, differentiable=case.differentiable,
                     rtol=rtol, atol=atol, where=f"{case.name} [{label}, {np.dtype(dtype).name}]")


def gradcheck_op(case: OpCase, data) -> None:
    """``tc.autograd.gradcheck`` (finite differences, float64) on tiny shapes, through the row's first variant."""
    import tinycompress as tc

    arrays, kwargs = data.draw(case.inputs(True), label="inputs")
    inputs = [tc.tensor(np.asarray(a, np.float64), requires_grad=True) for a in arrays]
    assume(sum(a.size for a in arrays) > 0)
    fn = case.variants[0][1]
    assert tc.autograd.gradcheck(lambda *xs: fn(*xs, **kwargs), inputs)


def double_backward_op(case: OpCase, data) -> None:
    """Second derivatives against torch's (:func:`~tinycompress.testing.core.compare_second_order`), on one
    drawn example in float64, every variant."""
    arrays, kwargs = data.draw(case.inputs(False), label="inputs")
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    assume(no_tiny_values(arrays))
    seed = data.draw(seeds(), label="seed")
    for label, tc_fn, torch_fn in case.variants:
        compare_second_order(tc_fn, torch_fn, arrays, kwargs, seed=seed, where=f"{case.name} [{label}, double backward]")


def gradgradcheck_op(case: OpCase, data) -> None:
    """``tc.autograd.gradgradcheck`` (finite differences of the first derivative, float64) on tiny shapes."""
    import tinycompress as tc

    arrays, kwargs = data.draw(case.inputs(True), label="inputs")
    assume(sum(a.size for a in arrays) > 0 and no_tiny_values(arrays))
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


def op_table_tests(cases, gradcheck_examples=6, double_examples=5, gradgrad_examples=3):
    """The four parametrized tests of an op table, to bind at a test module's top level::

        test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = \\
            op_table_tests(CASES)

    ``test_op_matches_torch`` runs every row in float32 and float64 (:func:`run_check`); the other three
    take the differentiable rows (``gradcheck``/``gradgradcheck`` only those with a true derivative,
    ``row.gradcheck``), each with the given hypothesis budget (finite differences are costly).
    """
    pytest = require("pytest")
    cases = list(cases)
    differentiable = [c for c in cases if c.differentiable]
    checked = [c for c in differentiable if c.gradcheck]

    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
    @pytest.mark.parametrize("case", cases, ids=repr)
    def test_op_matches_torch(case, dtype):
        run_check(case, dtype)

    @pytest.mark.parametrize("case", checked, ids=repr)
    def test_gradcheck(case):
        run_gradcheck(case, max_examples=gradcheck_examples)

    @pytest.mark.parametrize("case", differentiable, ids=repr)
    def test_double_backward_matches_torch(case):
        run_double_backward(case, max_examples=double_examples)

    @pytest.mark.parametrize("case", checked, ids=repr)
    def test_gradgradcheck(case):
        run_gradgradcheck(case, max_examples=gradgrad_examples)

    return test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck


# ----------------------------------------------------------------------------- op inputs
def _no_kwargs(shape):
    return st.just({})


def unary_inputs(low=-3.0, high=3.0, avoid=(), kwargs=_no_kwargs, min_dims=0, min_side=1,
                 distinct=False, max_dims=None, values=None):
    """``inputs`` for a one-tensor op: one array of a drawn shape; ``kwargs(shape)`` draws options.

    ``avoid`` may be a callable of the drawn kwargs (points to keep away from, e.g. clamp bounds).
    ``values(shape)``, when given, is the strategy of the array itself (e.g. :func:`distinct_magnitudes`).
    """
    def build(small):
        most_dims, max_side = sides(small)
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
        max_dims, max_side = sides(small)
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
        max_dims, max_side = sides(small)

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
def cat_inputs_arrays(draw, small, stack=False):
    """1-3 arrays that agree on every dim but ``dim`` (all dims when ``stack``), and ``{"dim": d}``."""
    max_dims, max_side = sides(small)
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
        max_dims, max_side = sides(small)

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
