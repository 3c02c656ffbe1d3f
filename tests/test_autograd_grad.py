"""``tc.autograd.grad`` / ``tc.autograd.backward`` / ``Tensor.backward(...)`` against torch, side by side.

Every function here is written once and run on both libraries (``L`` is ``torch`` or ``tinycompress``);
the same float64 inputs go in, and values, gradients, ``.grad`` fields, ``requires_grad`` flags and
error messages must agree. Second derivatives go through the ops already written on Tensors.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from strategies import arrays, broadcastable_shapes, seeds, shapes, upstream

LIBS = (tc, torch)


def leaves(L, *values):
    return [L.tensor(np.asarray(v, np.float64), requires_grad=True) for v in values]


def f(a, b):
    """A smooth function of two broadcastable tensors using a reused sub-expression (y)."""
    y = a * b
    return (y + a).tanh() * y - a / (b * b + 1.0)


def np_of(t):
    return None if t is None else t.detach().numpy()


def message(call):
    with pytest.raises(Exception) as info:
        call()
    return type(info.value), str(info.value).replace("torch.", "tinycompress.")


def assert_close(ours, theirs, rtol=1e-10, atol=1e-12):
    assert len(ours) == len(theirs)
    for o, t in zip(ours, theirs):
        if t is None:
            assert o is None
        else:
            assert o is not None and o.shape == tuple(t.shape)
            np.testing.assert_allclose(np_of(o), np_of(t), rtol=rtol, atol=atol)


two_inputs = broadcastable_shapes(2, max_dims=3, max_side=4).flatmap(
    lambda s: st.tuples(arrays(s[0]), arrays(s[1])))


# ----------------------------------------------------------------------------- first order
@given(ab=two_inputs, seed=seeds())
def test_grad_matches_torch_and_never_touches_dot_grad(ab, seed):
    results = []
    for L in LIBS:
        a, b = leaves(L, *ab)
        b.grad = L.ones(b.shape, dtype=L.float64)            # a .grad already there stays as it is
        out = f(a, b)
        u = L.tensor(upstream(seed, tuple(out.shape), np.float64))
        grads = L.autograd.grad(out, (a, b), grad_outputs=u)
        assert isinstance(grads, tuple) and a.grad is None
        np.testing.assert_array_equal(b.grad.numpy(), np.ones(b.shape))
        assert not any(g.requires_grad for g in grads)
        results.append(grads)
    assert_close(*results)


def test_unused_input_error_none_and_materialized_zeros_as_torch():
    outs = {}
    for L in LIBS:
        a, unused = leaves(L, [1.0, 2.0], [[3.0]])
        out = lambda: (a * a).sum()         # noqa: E731
        outs[L] = dict(
            default=message(lambda: L.autograd.grad(out(), (a, unused))),
            refused=message(lambda: L.autograd.grad(out(), (a, unused), allow_unused=False)),
            contradiction=message(lambda: L.autograd.grad(out(), (a, unused), allow_unused=False,
                                                          materialize_grads=True)),
            allowed=L.autograd.grad(out(), (a, unused), allow_unused=True),
            materialized=L.autograd.grad(out(), (a, unused), materialize_grads=True))
    ours, theirs = outs[tc], outs[torch]
    for key in ("default", "refused", "contradiction"):
        assert ours[key] == theirs[key], key
    assert "index 1 appears to not have been used in the graph. Set allow_unused=True" in ours["default"][1]
    assert ours["allowed"][1] is None and theirs["allowed"][1] is None
    assert_close(ours["allowed"][:1], theirs["allowed"][:1])
    assert_close(ours["materialized"], theirs["materialized"])
    np.testing.assert_array_equal(np_of(ours["materialized"][1]), [[0.0]])


def test_grad_of_an_input_that_does_not_require_grad_or_of_a_constant_output_raises_as_torch():
    for call in (lambda L: L.autograd.grad((leaves(L, [1.0])[0] * 2).sum(), L.ones(1)),
                 lambda L: L.autograd.grad(L.ones(1).sum(), leaves(L, [1.0]))):
        (ours_type, ours), (theirs_type, theirs) = (message(lambda: call(L)) for L in LIBS)
        assert ours_type is theirs_type is RuntimeError
        assert ours.startswith(theirs.split(":")[0]), (ours, theirs)


@given(ab=two_inputs, seed=seeds())
def test_non_leaf_inputs_and_several_outputs_with_grad_outputs(ab, seed):
    """grad w.r.t. an intermediate (and a leaf behind it) of two outputs weighted by their grad_outputs."""
    results = []
    for L in LIBS:
        a, b = leaves(L, *ab)
        y = a * b
        outs = ((y + a).tanh(), y * y - b)
        us = tuple(L.tensor(upstream(seed + k, tuple(o.shape), np.float64)) for k, o in enumerate(outs))
        results.append(L.autograd.grad(outs, (y, a), grad_outputs=us))
        assert a.grad is None and b.grad is None and y.grad is None
    assert_close(*results)


def test_scalar_output_needs_no_grad_outputs_but_a_non_scalar_one_does():
    for L in LIBS:
        (a,) = leaves(L, [1.0, -2.0])
        (g,) = L.autograd.grad((a * a * a).sum(), a)
        np.testing.assert_allclose(np_of(g), [3.0, 12.0])
    (ours_type, ours), (theirs_type, theirs) = (message(lambda: L.autograd.grad(leaves(L, [1.0, 2.0])[0] * 2,
                                                                                 leaves(L, [1.0])))
                                                for L in LIBS)
    assert ours.startswith(theirs) and ours_type is theirs_type


# ----------------------------------------------------------------------------- graph lifetime
def test_a_second_grad_through_a_freed_graph_raises_and_retain_graph_allows_it():
    for L in LIBS:
        (a,) = leaves(L, [0.5, -1.0])
        out = (a * a).tanh().sum()
        first = L.autograd.grad(out, a, retain_graph=True)
        second = L.autograd.grad(out, a)                      # the graph is freed after this one
        assert_close(first, second)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            L.autograd.grad(out, a)
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            out.backward()


def test_backward_twice_accumulates_in_dot_grad_of_a_twice_used_leaf_as_torch():
    results = []
    for L in LIBS:
        a, b = leaves(L, [0.5, -1.0, 2.0], [1.5, 0.25, -0.5])
        out = (a * b + a * a).tanh() * a
        u = L.tensor([0.3, -1.2, 0.7], dtype=L.float64)
        out.backward(u, retain_graph=True)
        once = a.grad.numpy().copy()
        out.backward(u)
        np.testing.assert_allclose(a.grad.numpy(), 2 * once, rtol=1e-12)
        results.append((a.grad, b.grad))
    assert_close(*results)


def test_backward_with_inputs_fills_only_those_as_torch():
    results = []
    for L in LIBS:
        a, b, c = leaves(L, [0.5, -1.0], [1.5, 0.25], [2.0, 3.0])
        y = a * b
        out = (y * c).tanh() + y
        out.backward(L.ones(2, dtype=L.float64), inputs=[b, y], retain_graph=True)
        assert a.grad is None and c.grad is None
        assert y.retains_grad                                 # torch retains a non-leaf input's grad from now on
        out = (y * c).tanh()
        out.backward(L.ones(2, dtype=L.float64))              # ... so a second backward adds to y.grad
        results.append((b.grad, y.grad, c.grad))
        assert a.grad is not None
    assert_close(*results)
    ours, theirs = (message(lambda: (leaves(L, [1.0])[0] * 2).sum().backward(inputs=[])) for L in LIBS)
    assert ours == theirs and "cannot be empty" in ours[1]


def test_autograd_backward_of_several_tensors_sums_into_dot_grad_as_torch():
    results = []
    for L in LIBS:
        a, b = leaves(L, [0.5, -1.0], [1.5, 0.25])
        outs = [(a * b).tanh(), a * a - b]
        L.autograd.backward(outs, [L.tensor([1.0, -2.0], dtype=L.float64), L.tensor([0.5, 3.0], dtype=L.float64)])
        results.append((a.grad, b.grad))
    assert_close(*results)


# ----------------------------------------------------------------------------- higher order
@given(ab=two_inputs, seed=seeds())
def test_create_graph_gives_differentiable_gradients_and_second_derivatives_match_torch(ab, seed):
    """grad(grad(f)·u)·v, the issue's chain, through Mul/Div/Add/Sub/Tanh, against torch's."""
    results = []
    for L in LIBS:
        a, b = leaves(L, *ab)
        out = f(a, b)
        u = L.tensor(upstream(seed, tuple(out.shape), np.float64))
        ga, gb = L.autograd.grad(out, (a, b), grad_outputs=u, create_graph=True)
        assert ga.requires_grad and gb.requires_grad and ga.grad_fn is not None
        assert a.grad is None and b.grad is None
        v_a = L.tensor(upstream(seed + 1, tuple(a.shape), np.float64))
        v_b = L.tensor(upstream(seed + 2, tuple(b.shape), np.float64))
        second = L.autograd.grad((ga, gb), (a, b), grad_outputs=(v_a, v_b), allow_unused=True)
        results.append((ga, gb) + second)
    assert_close(*results, rtol=1e-9, atol=1e-10)


def test_third_derivative_of_tanh_matches_torch_and_the_formula():
    x = np.array([-1.5, -0.25, 0.0, 0.5, 2.0])
    results = []
    for L in LIBS:
        (t,) = leaves(L, x)
        y, derivatives = t.tanh(), []
        ones = L.ones(x.shape, dtype=L.float64)
        for _ in range(3):
            (y,) = L.autograd.grad(y, t, grad_outputs=ones, create_graph=True)
            derivatives.append(y)
        results.append(derivatives)
    assert_close(*results)
    th = np.tanh(x)
    np.testing.assert_allclose(np_of(results[0][2]), -2 * (1 - th ** 2) * (1 - 3 * th ** 2), rtol=1e-12)


def test_backward_with_create_graph_leaves_a_differentiable_dot_grad_as_torch():
    results = []
    for L in LIBS:
        (a,) = leaves(L, [0.5, -1.0, 2.0])
        (a * a * a).backward(L.ones(3, dtype=L.float64), create_graph=True)
        assert a.grad.requires_grad and a.grad.grad_fn is not None
        (hess_diag,) = L.autograd.grad(a.grad, a, grad_outputs=L.ones(3, dtype=L.float64))
        results.append((a.grad, hess_diag))
    assert_close(*results)
    np.testing.assert_allclose(np_of(results[0][1]), 6 * np.array([0.5, -1.0, 2.0]))


def test_a_gradient_without_create_graph_is_a_constant():
    for L in LIBS:
        (a,) = leaves(L, [0.5, -1.0])
        (g,) = L.autograd.grad((a * a).tanh(), a, grad_outputs=L.ones(2, dtype=L.float64))
        assert not g.requires_grad and g.grad_fn is None


@settings(max_examples=10)
@given(x=shapes(1, 2, max_side=3).flatmap(lambda s: arrays(s, -2.0, 2.0)),
       y=shapes(1, 1, max_side=1).flatmap(lambda s: arrays(s, 0.5, 2.0)))
def test_gradgradcheck_passes_on_the_converted_ops_and_torch_agrees(x, y):
    fn = lambda a, b: (a * b).tanh() / b - a * a   # noqa: E731
    for L in LIBS:
        assert L.autograd.gradgradcheck(fn, leaves(L, x, y))
        assert L.autograd.gradcheck(fn, leaves(L, x, y))


@settings(max_examples=10)
@given(seed=seeds(), batch=st.integers(1, 3))
def test_hessian_vector_product_of_a_small_network_loss_matches_torch(seed, batch):
    """grad(grad(loss)·v) through matmul, tanh, exp, sum and mean: the ops every HVP user hits."""
    rng = np.random.default_rng(seed)
    x, w1, w2 = rng.standard_normal((batch, 3)), rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    v1, v2 = rng.standard_normal(w1.shape), rng.standard_normal(w2.shape)
    results = []
    for L in LIBS:
        a, b = leaves(L, w1, w2)
        hidden = (L.tensor(x) @ a).tanh()
        loss = ((hidden @ b).exp() * 0.1).sum(dim=1).mean()
        ga, gb = L.autograd.grad(loss, (a, b), create_graph=True)
        dot = (ga * L.tensor(v1)).sum() + (gb * L.tensor(v2)).sum()
        results.append((ga, gb) + L.autograd.grad(dot, (a, b)))
    assert_close(*results, rtol=1e-9, atol=1e-10)
