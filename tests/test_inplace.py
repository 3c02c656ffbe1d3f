"""In-place tensor methods, indexed assignment, version counters and ``.data``, against torch.

Torch records an in-place op on a tensor that is part of a graph (the tensor takes the op's node
as its ``grad_fn``), refuses one on a leaf that requires grad, and catches a tensor saved for
backward that was changed in place afterwards by its version counter. ``.data`` is the same
memory outside the graph: changes through it are neither recorded nor counted.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinycompress as tc
from strategies import arrays, seeds, shapes, upstream

LIBS = (tc, torch)


def leaf(L, values, requires_grad=True):
    return L.tensor(np.asarray(values, np.float64), requires_grad=requires_grad)


def np_of(t):
    return None if t is None else t.detach().numpy()


INPLACE = {
    "add_": lambda L, t: t.add_(L.ones(t.shape, dtype=t.dtype)),
    "sub_": lambda L, t: t.sub_(0.5),
    "mul_": lambda L, t: t.mul_(2.0),
    "div_": lambda L, t: t.div_(4.0),
    "clamp_": lambda L, t: t.clamp_(-0.5, 0.5),
    "copy_": lambda L, t: t.copy_(L.zeros(t.shape, dtype=t.dtype)),
    "zero_": lambda L, t: t.zero_(),
    "fill_": lambda L, t: t.fill_(3.0),
    "uniform_": lambda L, t: t.uniform_(-1, 1),
    "normal_": lambda L, t: t.normal_(),
    "masked_fill_": lambda L, t: t.masked_fill_(t > 0, 0.0),
    "setitem": lambda L, t: t.__setitem__(0, 7.0),
    "+=": lambda L, t: t.__iadd__(1.0),
}


# ----------------------------------------------------------------------------- leaves
@pytest.mark.parametrize("method", INPLACE)
def test_in_place_on_a_leaf_that_requires_grad_raises_torch_s_error(method):
    messages = []
    for L in LIBS:
        t = leaf(L, [0.5, -1.0, 2.0])
        with pytest.raises(RuntimeError) as info:
            INPLACE[method](L, t)
        messages.append(str(info.value))
        np.testing.assert_array_equal(np_of(t), [0.5, -1.0, 2.0])         # unchanged
        assert t._version == 0
    ours, theirs = messages
    assert "a leaf Variable that requires grad is being used in an in-place operation." in theirs
    assert "a leaf Variable that requires grad is being used in an in-place operation." in ours


@pytest.mark.parametrize("method", INPLACE)
def test_in_place_under_no_grad_changes_values_bumps_the_version_and_records_nothing(method):
    results = []
    for L in LIBS:
        t = leaf(L, [0.5, -1.0, 2.0])
        with L.no_grad():
            out = INPLACE[method](L, t)
        assert (out is t) or method == "setitem"
        assert t.is_leaf and t.requires_grad and t.grad_fn is None
        results.append((t._version, np_of(t)))
    assert results[0][0] == results[1][0] >= 1
    if method not in ("uniform_", "normal_"):                             # random draws differ
        np.testing.assert_array_equal(results[0][1], results[1][1])


# ----------------------------------------------------------------------------- version counters
def _version_error(L, case):
    a = leaf(L, [0.5, -1.0])
    if case == "saved leaf":
        out = a * a
        with L.no_grad():
            a.mul_(2.0)
    elif case == "saved non-leaf":
        y = a * 1.0
        out = y * y
        y.add_(1.0)
    elif case == "saved output":
        out = a.tanh()
        out.mul_(2.0)                     # tanh's backward needs its output
    else:                                 # the output of tanh saved by the next op and changed after
        y = a.tanh()
        out = y * y
        y.add_(1.0)
    with pytest.raises(RuntimeError) as info:
        out.backward(L.ones(2, dtype=L.float64))
    return str(info.value).replace("torch.", "tinycompress.")


@pytest.mark.parametrize("case", ["saved leaf", "saved non-leaf", "saved output", "saved output of another"])
def test_changing_a_saved_tensor_in_place_is_torch_s_version_error(case):
    ours, theirs = (_version_error(L, case) for L in LIBS)
    head = theirs[:theirs.index("instead.") + len("instead.")]
    assert head.startswith("one of the variables needed for gradient computation has been modified by an "
                           "inplace operation: [tinycompress.DoubleTensor [2]]")
    assert ours.startswith(head), (ours, theirs)


def test_an_in_place_change_of_an_unsaved_tensor_is_fine_and_the_gradient_is_right():
    results = []
    for L in LIBS:
        a = leaf(L, [0.5, -1.0])
        y = a * 3.0                       # Mul by a scalar saves no tensor
        y.add_(1.0)
        z = y.exp()
        z.backward(L.ones(2, dtype=L.float64))
        results.append(np_of(a.grad))
    np.testing.assert_allclose(*results, rtol=1e-12)


# ----------------------------------------------------------------------------- recorded in place
ARITH = ["add_", "sub_", "mul_", "div_"]


@given(x=shapes(0, 2, max_side=3).flatmap(lambda s: st.tuples(arrays(s), arrays(s, 0.5, 2.0))),
       ops=st.lists(st.sampled_from(ARITH), min_size=1, max_size=4), seed=seeds())
def test_non_leaf_in_place_ops_take_a_new_grad_fn_and_give_torch_s_gradients(x, ops, seed):
    results = []
    for L in LIBS:
        a, b = leaf(L, x[0]), leaf(L, x[1])
        y = a * b
        names = []
        for op in ops:
            before = y.grad_fn
            out = getattr(y, op)(b)
            assert out is y and not y.is_leaf and y.requires_grad and y.grad_fn is not before
            names.append(y.grad_fn.name())
        g = L.tensor(upstream(seed, x[0].shape, np.float64))
        y.backward(g)
        results.append((names, y._version, np_of(y), np_of(a.grad), np_of(b.grad)))
    (names_tc, v_tc, *ours), (names_t, v_t, *theirs) = results
    assert names_tc == names_t and v_tc == v_t == len(ops)
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-12)


def test_in_place_with_an_operand_that_requires_grad_makes_a_plain_tensor_part_of_the_graph():
    results = []
    for L in LIBS:
        v = leaf(L, [1.0, 2.0, 3.0])
        m = L.zeros(3, dtype=L.float64)
        m += v
        assert m.requires_grad and not m.is_leaf
        m.mul_(v)
        m.backward(L.tensor([1.0, -1.0, 0.5], dtype=L.float64))
        results.append((np_of(m), np_of(v.grad)))
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t, rtol=1e-12)


@given(i=st.integers(0, 1), j=st.integers(0, 2), value=arrays(()), seed=seeds())
def test_indexed_assignment_of_a_value_that_requires_grad(i, j, value, seed):
    """w[i, j] = v: w requires grad afterwards; v's gradient is g[i, j], w's old values' grads are zeroed there."""
    results = []
    for L in LIBS:
        base = leaf(L, np.arange(6.0).reshape(2, 3))
        v = leaf(L, value)
        w = base * 1.0
        w[i, j] = v
        assert w.requires_grad and w.grad_fn is not None
        plain = L.zeros(2, 3, dtype=L.float64)
        plain[i, j] = v
        assert plain.requires_grad and not plain.is_leaf
        g = L.tensor(upstream(seed, (2, 3), np.float64))
        (w * w + plain).backward(g)
        results.append((np_of(w), np_of(base.grad), np_of(v.grad)))
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t, rtol=1e-12)
    assert results[0][1][i, j] == 0.0


def test_slice_assignment_m_colon_equals_v():
    results = []
    for L in LIBS:
        v = leaf(L, [1.0, -2.0, 3.0])
        m = L.zeros(2, 3, dtype=L.float64)
        m[:] = v                                   # broadcast into every row
        m[1, 1:] = v[:2] * 2.0
        (m * m).backward(L.ones(2, 3, dtype=L.float64))
        results.append((np_of(m), np_of(v.grad)))
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t, rtol=1e-12)


# ----------------------------------------------------------------------------- .data
def test_data_is_the_same_memory_outside_the_graph():
    results = []
    for L in LIBS:
        L.manual_seed(0)
        p = leaf(L, [1.0, 2.0, 3.0])
        d = p.data
        assert not d.requires_grad and d.grad_fn is None and d.is_leaf
        p.data.sub_(0.5)                           # changes p, no error, p's version unchanged
        assert p.is_leaf and p.requires_grad and p._version == 0
        d.mul_(2.0)
        saved = p * p
        p.data.mul_(10.0)                          # not counted: the backward reads the new values
        saved.backward(L.ones(3, dtype=L.float64))
        p.data.uniform_(-0.1, 0.1)
        assert p.requires_grad and p.is_leaf and p._version == 0
        assert np.all(np.abs(np_of(p)) <= 0.1)
        results.append((np_of(p.grad),))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-12)
    np.testing.assert_allclose(results[0][0], 2 * 10 * 2 * (np.array([1.0, 2.0, 3.0]) - 0.5))


def test_assigning_data_replaces_the_values_and_keeps_the_tensor():
    results = []
    for L in LIBS:
        p = leaf(L, [1.0, 2.0])
        q = p * p                                  # saved before the swap
        p.data = L.tensor([5.0, 7.0], dtype=L.float64)
        assert p.requires_grad and p.is_leaf and p._version == 0
        q.backward(L.ones(2, dtype=L.float64))     # the saved leaf is p itself: the new values
        r = p * 3.0
        results.append((np_of(p), np_of(p.grad), np_of(r), type(p.data) is type(p)))
    for o, t in zip(*results):
        np.testing.assert_allclose(o, t)
    np.testing.assert_allclose(results[0][1], [10.0, 14.0])
    with pytest.raises(TypeError):
        leaf(tc, [1.0]).data = np.ones(1)          # a Tensor inside a Tensor is refused
