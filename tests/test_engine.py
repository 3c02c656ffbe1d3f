"""The backward engine's invariants, with torch as the oracle wherever a number is compared.

Graph shapes (reuse, diamonds, deep chains), gradient ownership (no aliasing, in-place user
backwards), graph lifetime (retain_graph), grad mode, user Functions on Tensors and their errors
(torch's messages, compared with torch's own), and scalar type promotion. autograd.grad, hooks,
in-place ops and the seeds' Functions have files of their own.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress.autograd import Function
from strategies import arrays, broadcastable_shapes, distinct_arrays, python_scalars, seeds, shapes, upstream


def _pair(values, dtype=np.float64):
    """The same values as a tinycompress leaf and a torch leaf, both requiring grad."""
    values = np.asarray(values, dtype)
    return tc.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)


# ----------------------------------------------------------------------------- graph shapes
@given(x=shapes(1, 3).flatmap(arrays), seed=seeds())
def test_reused_subexpression_and_diamond_match_torch(x, seed):
    """y is used three times; a feeds two branches that meet again (a diamond)."""
    def f(t):                                  # the same code runs on both libraries
        y = t * t
        a = (y + y * y).exp()
        left, right = a * 2.0, a + 3.0
        return left * right + y
    x_tc, x_t = _pair(x / 3)
    g = upstream(seed, x.shape, np.float64)
    out_tc, out_t = f(x_tc), f(x_t)
    out_tc.backward(g)
    out_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out_tc.array, out_t.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(x_tc.grad.array, x_t.grad.numpy(), rtol=1e-10, atol=1e-12)


@given(shapes_=broadcastable_shapes(2), seed=seeds())
def test_broadcast_leaves_get_grads_of_their_own_shape(shapes_, seed):
    sa, sb = shapes_
    rng = np.random.default_rng(seed)
    a_tc, a_t = _pair(rng.standard_normal(sa), np.float32)
    b_tc, b_t = _pair(rng.standard_normal(sb), np.float32)
    out_tc, out_t = a_tc * b_tc + a_tc, a_t * b_t + a_t
    g = upstream(seed, out_t.shape, np.float32)
    out_tc.backward(g)
    out_t.backward(torch.from_numpy(g))
    for x_tc, x_t in ((a_tc, a_t), (b_tc, b_t)):
        assert x_tc.grad.shape == x_tc.shape and x_tc.grad.dtype == np.float32
        np.testing.assert_allclose(x_tc.grad.array, x_t.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_twenty_thousand_deep_chain():
    """Backward is iterative: a 20,000-op chain neither recurses too deep nor loses precision."""
    x_tc, x_t = _pair([0.5])
    y_tc, y_t = x_tc, x_t
    for _ in range(20_000):
        y_tc = y_tc * 1.0001 + 0.0
        y_t = y_t * 1.0001 + 0.0
    y_tc.sum().backward()
    y_t.sum().backward()
    np.testing.assert_allclose(x_tc.grad.array, x_t.grad.numpy(), rtol=1e-9)


# ----------------------------------------------------------------------------- ownership
@given(x=shapes(1, 3).flatmap(arrays), seed=seeds())
def test_backward_mutates_neither_inputs_nor_upstream_gradient(x, seed):
    x_tc = tc.tensor(x, requires_grad=True)
    before = x_tc.array.copy()
    g = upstream(seed, x.shape, np.float64)
    g_before = g.copy()
    ((x_tc * 2.0).exp() + x_tc).backward(g)
    np.testing.assert_array_equal(x_tc.array, before)
    np.testing.assert_array_equal(g, g_before)


def test_gradients_never_alias():
    """Add returns the same array for both inputs; expand returns a broadcast view: the engine copies."""
    a, b = tc.ones(3, requires_grad=True), tc.ones(3, requires_grad=True)
    c = tc.ones(1, requires_grad=True)
    g = np.arange(3.0, dtype=np.float32)
    (a + b + c.expand(3)).backward(g)
    grads = [a.grad.array, b.grad.array, c.grad.array]
    for i in range(3):
        assert grads[i].flags.writeable
        assert not np.shares_memory(grads[i], g)
        for j in range(i + 1, 3):
            assert not np.shares_memory(grads[i], grads[j]), (i, j)
    a.grad.array += 100                      # writing one gradient leaves the others alone
    np.testing.assert_array_equal(b.grad.array, g)


def test_retained_nonleaf_grad_does_not_alias_leaf_grad():
    x = tc.ones(3, requires_grad=True)
    y = x + 0.0
    y.retain_grad()
    (y * 1.0).backward(np.ones(3, np.float32))
    assert not np.shares_memory(x.grad.array, y.grad.array)


class Inplace(Function):
    """Identity forward; backward triples the incoming gradient IN PLACE and returns it."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        g *= 3
        return g


class TorchTriple(torch.autograd.Function):
    """The same Function in torch, written out of place (the oracle)."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        return g * 3


@given(x=shapes(0, 3).flatmap(arrays), seed=seeds())
def test_inplace_user_backward_does_not_corrupt_other_gradients(x, seed):
    """z = Inplace(y) + y: Add hands the same gradient to both branches; writing one must not change the other."""
    x_tc, x_t = _pair(x)
    y_tc, y_t = x_tc * 2.0, x_t * 2.0
    z_tc, z_t = Inplace.apply(y_tc) + y_tc, TorchTriple.apply(y_t) + y_t
    g = upstream(seed, x.shape, np.float64)
    z_tc.backward(g)
    z_t.backward(torch.from_numpy(g))
    np.testing.assert_allclose(x_tc.grad.array, x_t.grad.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- graph lifetime
def test_gradients_accumulate_across_backward_calls():
    x_tc, x_t = _pair([1.0, -2.0])
    for _ in range(2):
        (x_tc * x_tc).sum().backward()
        (x_t * x_t).sum().backward()
    np.testing.assert_allclose(x_tc.grad.array, x_t.grad.numpy())
    np.testing.assert_allclose(x_tc.grad.array, [4.0, -8.0])


def test_retain_graph_allows_a_second_backward_and_its_absence_raises():
    x = tc.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.array, [4.0, 8.0])
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def _message(call):
    """The RuntimeError a call raises, as text (torch's class names rewritten to ours)."""
    with pytest.raises(RuntimeError) as info:
        call()
    return str(info.value).replace("torch.", "tinycompress.")


def test_backward_of_non_scalar_needs_a_gradient_as_torch():
    y_tc, y_t = (L.ones(2, 3, requires_grad=True) * 2.0 for L in (tc, torch))
    for ours, theirs in (
            (_message(y_tc.backward), _message(y_t.backward)),
            (_message(lambda: y_tc.backward(tc.ones(3))), _message(lambda: y_t.backward(torch.ones(3))))):
        assert ours.startswith(theirs.split(":")[0]), (ours, theirs)
    assert "scalar outputs" in _message(y_tc.backward)
    assert "grad_output[0] has a shape of (3,) and output[0] has a shape of (2, 3)" in _message(
        lambda: y_tc.backward(tc.ones(3)))


def test_backward_of_a_tensor_without_grad_raises_as_torch():
    theirs = _message(lambda: (torch.ones(2) * 2.0).sum().backward())
    ours = _message(lambda: (tc.ones(2) * 2.0).sum().backward())
    assert ours.startswith(theirs), (ours, theirs)


# ----------------------------------------------------------------------------- grad mode
def test_no_grad_records_nothing_and_enable_grad_inside_it_records():
    x = tc.ones(2, requires_grad=True)
    with tc.no_grad():
        y = x * 2.0
        assert not tc.is_grad_enabled()
        with tc.enable_grad():
            z = x * 2.0
        assert not tc.is_grad_enabled()
    assert tc.is_grad_enabled()
    assert y.grad_fn is None and not y.requires_grad
    assert z.grad_fn is not None and z.requires_grad


def test_no_grad_as_decorator_and_set_grad_enabled():
    x = tc.ones(2, requires_grad=True)

    @tc.no_grad()
    def double(t):
        return t * 2.0

    assert double(x).grad_fn is None
    assert tc.is_grad_enabled()

    @tc.no_grad                                # bare, as torch allows
    def triple(t):
        return t * 3.0

    @tc.enable_grad
    def quadruple(t):
        return t * 4.0

    assert triple(x).grad_fn is None and triple(x).grad_fn is None
    with tc.no_grad():
        assert quadruple(x).grad_fn is not None
    tc.set_grad_enabled(False)
    try:
        assert (x * 2.0).grad_fn is None
    finally:
        tc.set_grad_enabled(True)
    with tc.set_grad_enabled(False):
        assert (x * 2.0).grad_fn is None
    assert (x * 2.0).grad_fn is not None


def test_set_grad_enabled_as_decorator_matches_torch():
    """Decorating changes nothing until the call; every call (not only the first) runs in the mode."""
    x, t = tc.ones(2, requires_grad=True), torch.ones(2, requires_grad=True)

    @tc.set_grad_enabled(False)
    def ours():
        return (x * 2.0).grad_fn is None, tc.is_grad_enabled()

    @torch.set_grad_enabled(False)
    def theirs():
        return (t * 2.0).grad_fn is None, torch.is_grad_enabled()

    assert tc.is_grad_enabled() and torch.is_grad_enabled()
    assert [ours(), ours()] == [theirs(), theirs()] == [(True, False), (True, False)]
    assert tc.is_grad_enabled()
    with tc.no_grad():
        with tc.set_grad_enabled(True):
            assert tc.is_grad_enabled()
        assert not tc.is_grad_enabled()


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ValueError):
        with tc.no_grad():
            raise ValueError("boom")
    assert tc.is_grad_enabled()


# ----------------------------------------------------------------------------- user Functions
def broken_functions(L):
    """Two broken Functions written once for both libraries (``L`` is torch or tinycompress)."""

    class WrongCount(L.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g, g

    class WrongShape(L.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return L.ones(7)

    return WrongCount, WrongShape


def test_wrong_number_of_gradients_raises_torch_s_error():
    messages = []
    for L in (tc, torch):
        wrong_count, _ = broken_functions(L)
        a, b = L.ones(2, requires_grad=True), L.ones(2, requires_grad=True)
        messages.append(_message(lambda: wrong_count.apply(a, b).sum().backward()))
    ours, theirs = messages
    assert "function WrongCountBackward returned an incorrect number of gradients (expected 2, got 3)" in theirs
    assert ours.startswith(theirs), (ours, theirs)


def test_wrong_gradient_shape_raises_torch_s_error():
    messages = []
    for L in (tc, torch):
        _, wrong_shape = broken_functions(L)
        a = L.ones(2, 3, requires_grad=True)
        messages.append(_message(lambda: wrong_shape.apply(a).sum().backward()))
    ours, theirs = messages
    assert "returned an invalid gradient at index 0 - got [7] but expected shape compatible with [2, 3]" in theirs
    assert ours == theirs


def max_with_index(L):
    """Values and a non-differentiable index output; the backward spreads g onto the maxima."""

    class MaxWithIndex(L.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            values, index = x.max(dim=-1)
            ctx.save_for_backward(x == values.unsqueeze(-1))
            ctx.mark_non_differentiable(index)
            return values, index

        @staticmethod
        def backward(ctx, g, g_index):
            (at_max,) = ctx.saved_tensors
            assert g_index is None or not g_index.requires_grad
            return g.unsqueeze(-1) * at_max

    return MaxWithIndex


@given(x=shapes(1, 3).flatmap(lambda s: distinct_arrays(s)), seed=seeds())
def test_mark_non_differentiable_as_torch(x, seed):
    results = []
    for L in (tc, torch):
        leaf = L.tensor(x, requires_grad=True)
        values, index = max_with_index(L).apply(leaf)
        assert values.requires_grad and values.grad_fn is not None
        assert not index.requires_grad and index.grad_fn is None and index.is_leaf
        g = L.tensor(upstream(seed, tuple(values.shape), np.float64))
        (values * g).sum().backward()
        results.append((values.detach().numpy(), np.asarray(index), leaf.grad.numpy()))
    for ours, theirs in zip(*results):
        np.testing.assert_array_equal(ours, theirs)


class Recorder(Function):
    """Records ``needs_input_grad`` and the kinds of its arguments; scales by a non-tensor ``k``."""
    seen = []

    @staticmethod
    def forward(ctx, a, k, b, *, power=1):
        Recorder.seen.append(("forward", ctx.needs_input_grad, type(k).__name__, power))
        ctx.save_for_backward(a, b)
        ctx.k = k
        return a * k * b ** power

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        Recorder.seen.append(("backward", ctx.needs_input_grad))
        ga = g * ctx.k * b if ctx.needs_input_grad[0] else None
        gb = g * ctx.k * a if ctx.needs_input_grad[2] else None
        return ga, None, gb


def test_needs_input_grad_non_tensor_args_and_none_grads():
    Recorder.seen.clear()
    a = tc.tensor([1.0, 2.0], requires_grad=True)
    b = tc.tensor([3.0, 4.0])                     # needs no grad: backward returns None for it
    out = Recorder.apply(a, 2.5, b, power=1)
    out.sum().backward()
    assert Recorder.seen[0] == ("forward", (True, False, False), "float", 1)
    assert Recorder.seen[1] == ("backward", (True, False, False))
    np.testing.assert_allclose(a.grad.array, [7.5, 10.0])
    assert b.grad is None


class NoneGrad(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, None


class TorchNoneGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, None


def test_none_gradient_for_an_input_that_requires_grad_matches_torch():
    a_tc, a_t = _pair([1.0, 2.0])
    b_tc, b_t = _pair([3.0, 4.0])
    NoneGrad.apply(a_tc, b_tc).sum().backward()
    TorchNoneGrad.apply(a_t, b_t).sum().backward()
    np.testing.assert_array_equal(a_tc.grad.array, a_t.grad.numpy())
    assert b_t.grad is None and b_tc.grad is None


def test_a_keyword_tensor_that_requires_grad_is_rejected_not_silently_ungraded():
    assert Recorder.apply(tc.ones(1), 1.0, tc.ones(1), power=tc.ones(1)).shape == (1,)   # no grad: a constant
    with pytest.raises(TypeError, match="keyword argument 'power' is a Tensor that requires grad.*positional"):
        Recorder.apply(tc.ones(1), 1.0, tc.ones(1), power=tc.ones(1, requires_grad=True))


# ----------------------------------------------------------------------------- scalar promotion
@given(s=python_scalars(), dtype=st.sampled_from([np.float32, np.float64, np.int64]),
       op=st.sampled_from(["add", "sub", "mul", "div", "rsub", "rmul", "radd"]))
def test_scalars_never_promote_like_torch(s, dtype, op):
    """float32 with any Python or NumPy scalar stays float32; int tensor with a float gives float32."""
    values = np.array([1, 2, 3], dtype)
    fns = {"add": lambda t: t + s, "sub": lambda t: t - s, "mul": lambda t: t * s, "div": lambda t: t / 2,
           "rsub": lambda t: s - t, "rmul": lambda t: s * t, "radd": lambda t: s + t}
    out_tc = fns[op](tc.tensor(values))
    out_t = fns[op](torch.tensor(values))
    assert str(out_tc.dtype) == str(out_t.dtype).replace("torch.", ""), (s, type(s), dtype, op)
    np.testing.assert_allclose(out_tc.array, out_t.numpy(), rtol=1e-6)


def test_float32_graph_stays_float32_end_to_end():
    x = tc.randn(4, 3, requires_grad=True)
    w = tc.randn(3, 2, requires_grad=True)
    loss = ((x @ w).relu() * 0.5 + np.float64(1.0)).log_softmax(dim=1).mean() * 2 ** 0.5
    assert loss.dtype == np.float32
    loss.backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32


_DTYPES = [np.bool_, np.uint8, np.int32, np.int64, np.float32, np.float64]


@given(da=st.sampled_from(_DTYPES), db=st.sampled_from(_DTYPES), a_0d=st.booleans(), b_0d=st.booleans(),
       op=st.sampled_from(["add", "mul", "maximum", "where"]))
def test_tensor_tensor_promotion_matches_torch(da, db, a_0d, b_0d, op):
    """torch's rule: a 0-d tensor changes the result dtype only when it is of a higher category
    (bool < int < float): float32 * tensor(2.0, float64) stays float32."""
    a = np.array(1 if a_0d else [1, 0], da)
    b = np.array(2 if b_0d else [1, 1], db)
    fns = {"add": lambda L, x, y: x + y if da != np.bool_ or db != np.bool_ else x * y,
           "mul": lambda L, x, y: x * y, "maximum": lambda L, x, y: L.maximum(x, y),
           "where": lambda L, x, y: L.where(L.tensor([True, False]), x, y)}
    ours = fns[op](tc, tc.tensor(a), tc.tensor(b))
    theirs = fns[op](torch, torch.tensor(a), torch.tensor(b))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", ""), (da, db, a_0d, b_0d, op)
    np.testing.assert_array_equal(ours.array, theirs.numpy())


def test_zero_dim_float64_parameter_keeps_float32_graph_and_gets_float64_grad():
    x = tc.ones(3)
    w = tc.tensor(np.float64(3.0), requires_grad=True)
    y = (x * w).sum()
    assert y.dtype == np.float32
    y.backward()
    assert w.grad.dtype == np.float64 and w.grad.item() == 3.0


# ----------------------------------------------------------------------------- the ctx API, twin
def ctx_functions(L):
    """Functions exercising the context, written once for both libraries."""

    class TwoOutputs(L.autograd.Function):
        """x -> (2x, x²); records what backward receives."""
        seen = []

        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            ctx.save_for_backward(x)
            return x * 2, x * x

        @staticmethod
        def backward(ctx, g1, g2):
            (x,) = ctx.saved_tensors
            TwoOutputs.seen.append((g1 is None, g2 is None, ctx.needs_input_grad))
            out = None
            if g1 is not None:
                out = g1 * 2
            if g2 is not None:
                out = g2 * 2 * x if out is None else out + g2 * 2 * x
            return out, None

    class ScaleInPlace(L.autograd.Function):
        """x *= 3 in place, declared with mark_dirty."""

        @staticmethod
        def forward(ctx, x):
            x.mul_(3)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    class SquareOnce(L.autograd.Function):
        """x² whose backward is once_differentiable."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @L.autograd.function.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x

    return TwoOutputs, ScaleInPlace, SquareOnce


@pytest.mark.parametrize("materialize", [True, False])
def test_set_materialize_grads_and_needs_input_grad_as_torch(materialize):
    runs = []
    for L in (tc, torch):
        two_outputs, _, _ = ctx_functions(L)
        two_outputs.seen.clear()
        x = L.tensor([0.5, -2.0], dtype=L.float64, requires_grad=True)
        first, _ = two_outputs.apply(x, materialize)          # only the first output is used
        (first * 1.5).backward(L.ones(2, dtype=L.float64))
        runs.append((list(two_outputs.seen), x.grad.numpy()))
    (seen_tc, grad_tc), (seen_t, grad_t) = runs
    assert seen_tc == seen_t == [(False, not materialize, (True, False))]
    np.testing.assert_array_equal(grad_tc, grad_t)


def test_mark_dirty_returns_the_input_with_a_new_grad_fn_as_torch():
    runs = []
    for L in (tc, torch):
        _, scale_in_place, _ = ctx_functions(L)
        x = L.tensor([0.5, -2.0], dtype=L.float64, requires_grad=True)
        y = x * 1.0
        version = y._version
        z = scale_in_place.apply(y)
        assert z is y and y._version > version and type(y.grad_fn).__name__ != "MulBackward0"
        assert y.grad_fn.name() == "ScaleInPlaceBackward"
        (z * z).backward(L.ones(2, dtype=L.float64))
        runs.append((z.detach().numpy(), x.grad.numpy()))
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
            scale_in_place.apply(x)
    for ours, theirs in zip(*runs):
        np.testing.assert_array_equal(ours, theirs)


def test_once_differentiable_is_first_order_right_and_a_clear_error_naming_the_function_twice():
    grads = []
    for L in (tc, torch):
        _, _, square_once = ctx_functions(L)
        x = L.tensor([0.5, -2.0], dtype=L.float64, requires_grad=True)
        u = L.tensor([1.0, 3.0], dtype=L.float64, requires_grad=True)   # so torch's guard applies too
        (g,) = L.autograd.grad(square_once.apply(x), x, grad_outputs=u, create_graph=True)
        grads.append(g.detach().numpy())
        with pytest.raises(RuntimeError) as info:
            g.backward(L.ones(2, dtype=L.float64))
        assert "trying to differentiate twice a function that was marked with @once_differentiable" in str(info.value)
        if L is tc:
            assert "SquareOnceBackward" in str(info.value)
    np.testing.assert_array_equal(*grads)
    x = tc.tensor([0.5, -2.0], dtype=tc.float64, requires_grad=True)   # our default seed needs no grad: still named
    (g,) = tc.autograd.grad(ctx_functions(tc)[2].apply(x), x, grad_outputs=tc.ones(2, dtype=tc.float64),
                            create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable: SquareOnceBackward"):
        tc.autograd.grad(g, x, grad_outputs=tc.ones(2, dtype=tc.float64))


def test_saved_tensors_after_the_graph_is_freed_raise_torch_s_error():
    messages = []
    for L in (tc, torch):
        _, _, square_once = ctx_functions(L)
        x = L.tensor([0.5], dtype=L.float64, requires_grad=True)
        y = square_once.apply(x)
        y.backward(L.ones(1, dtype=L.float64))
        with pytest.raises(RuntimeError) as info:
            y.grad_fn.saved_tensors
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_save_for_backward_takes_tensors_only():
    class SavesAnArray(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x.array)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(TypeError, match="save_for_backward can only save tensors"):
        SavesAnArray.apply(tc.ones(2, requires_grad=True))


# ----------------------------------------------------------------------------- every library Function
def _library_functions():
    import importlib
    import pkgutil
    for module in pkgutil.walk_packages(tc.__path__, "tinycompress."):
        importlib.import_module(module.name)
    found, stack = [], [Function]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith("tinycompress.") and "backward" in sub.__dict__:
                found.append(sub)
    return sorted(set(found), key=lambda c: (c.__module__, c.__qualname__))


_LIBRARY_FUNCTIONS = _library_functions()


def test_the_library_has_functions_to_check():
    names = {c.__qualname__ for c in _LIBRARY_FUNCTIONS}
    assert {"Add", "Mul", "Tanh", "ConvNd", "Binarize"} <= names


@pytest.mark.parametrize("function", _LIBRARY_FUNCTIONS, ids=lambda c: f"{c.__module__[13:]}.{c.__qualname__}")
def test_every_library_backward_carries_its_formula_docstring(function):
    """DESIGN §1 / issue 12: the derivative's formula sits on ``backward``, once."""
    backward = function.__dict__["backward"]
    backward = getattr(backward, "__func__", backward)
    assert (backward.__doc__ or "").strip(), f"{function.__module__}.{function.__qualname__}.backward has no docstring"
