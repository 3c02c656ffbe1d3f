"""Tensor hooks and retain_grad, against torch run side by side.

Each scenario is written once for both libraries (``L``); hooks record what they see into a log,
and the logs, the gradients and ``.grad`` fields must be the same. Torch 2.x's order: a tensor's
hooks run in registration order, each seeing the previous one's replacement; the retains_grad
hook runs last whenever ``retain_grad()`` was called.
"""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinycompress as tc
from strategies import arrays, seeds, shapes, upstream

LIBS = (tc, torch)


def leaf(L, values):
    return L.tensor(np.asarray(values, np.float64), requires_grad=True)


def logged(log, name, scale=None):
    """A hook that logs (name, gradient) and returns gradient * scale (or None: no replacement)."""
    def hook(g):
        log.append((name, g.detach().numpy().copy()))
        return None if scale is None else g * scale
    return hook


def assert_same_logs(ours, theirs):
    assert [n for n, _ in ours] == [n for n, _ in theirs]
    for (_, a), (_, b) in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def twin(scenario):
    """Run ``scenario(L, log)`` on both libraries; compare logs and the returned arrays."""
    runs = []
    for L in LIBS:
        log = []
        results = scenario(L, log)
        runs.append((log, [None if r is None else np.asarray(r.detach().numpy() if hasattr(r, "detach") else r)
                           for r in results]))
    (log_tc, res_tc), (log_t, res_t) = runs
    assert_same_logs(log_tc, log_t)
    assert len(res_tc) == len(res_t)
    for a, b in zip(res_tc, res_t):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    return log_tc


# ----------------------------------------------------------------------------- non-leaf hooks
@given(x=shapes(0, 2, max_side=3).flatmap(arrays), seed=seeds(), retain_first=st.booleans())
def test_hook_order_replacement_and_retain_grad_last_as_torch(x, seed, retain_first):
    """Two hooks on y (the second replaces), retain_grad before or after them: y.grad is the final value."""
    def scenario(L, log):
        a = leaf(L, x)
        y = a * 2.0
        if retain_first:
            y.retain_grad()
        y.register_hook(logged(log, "first", 3.0))
        y.register_hook(logged(log, "second"))
        y.register_hook(logged(log, "third", -0.5))
        if not retain_first:
            y.retain_grad()
        z = y.tanh() * y
        z.backward(L.tensor(upstream(seed, x.shape, np.float64)))
        return [y.grad, a.grad]
    log = twin(scenario)
    assert [n for n, _ in log] == ["first", "second", "third"]
    np.testing.assert_allclose(log[1][1], 3.0 * log[0][1])          # the second saw the first's replacement


def test_hook_on_a_twice_used_non_leaf_sees_the_summed_gradient_once():
    def scenario(L, log):
        a = leaf(L, [1.0, -2.0])
        y = a * 2.0
        y.register_hook(logged(log, "y"))
        (y * y + y).backward(L.ones(2, dtype=L.float64))
        return [a.grad]
    assert len(twin(scenario)) == 1


def test_a_root_s_hook_sees_the_seed_gradient():
    def scenario(L, log):
        a = leaf(L, [0.5, -1.0])
        y = a.tanh()
        y.register_hook(logged(log, "root", 10.0))
        y.backward(L.tensor([1.0, 2.0], dtype=L.float64))
        return [a.grad]
    twin(scenario)


def test_hooks_on_several_outputs_of_one_function():
    """Outputs of one node (a Function with two outputs) each get their own hooks."""
    def scenario(L, log):
        class Two(L.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x * 2, x * x

            @staticmethod
            def backward(ctx, g1, g2):
                (x,) = ctx.saved_tensors
                return g1 * 2 + g2 * 2 * x

        a = leaf(L, [0.5, -1.0, 3.0])
        p, q = Two.apply(a)
        q.register_hook(logged(log, "q", 2.0))
        p.register_hook(logged(log, "p"))
        (p * 3.0 + q.tanh()).backward(L.ones(3, dtype=L.float64))
        return [a.grad]
    assert sorted(n for n, _ in twin(scenario)) == ["p", "q"]


# ----------------------------------------------------------------------------- leaf hooks
def test_leaf_hook_replacement_goes_into_dot_grad_and_sees_the_sum_once():
    def scenario(L, log):
        a = leaf(L, [1.0, 2.0])
        a.register_hook(logged(log, "a1", 10.0))
        a.register_hook(logged(log, "a2"))
        (a * 2.0 + a * 3.0).backward(L.ones(2, dtype=L.float64))
        return [a.grad]
    log = twin(scenario)
    assert len(log) == 2
    np.testing.assert_allclose(log[0][1], [5.0, 5.0])


def test_leaf_hooks_of_leaves_not_differentiated_do_not_run():
    def scenario(L, log):
        a, b = leaf(L, [1.0, 2.0]), leaf(L, [3.0, 4.0])
        a.register_hook(logged(log, "a", 3.0))
        b.register_hook(logged(log, "b"))
        out = (a * b * 2.0).tanh()
        ones = L.ones(2, dtype=L.float64)
        (ga,) = L.autograd.grad(out, [a], grad_outputs=ones, retain_graph=True)     # b's hook: no
        out.backward(ones, inputs=[b])                                              # a's hook: no
        return [ga, a.grad, b.grad]
    assert [n for n, _ in twin(scenario)] == ["a", "b"]


@pytest.mark.parametrize("wrt", ["y", "y and a", "a"])
def test_non_leaf_hook_replacement_and_autograd_grad_as_torch(wrt):
    """Torch captures y's gradient after its hooks when nothing behind y is asked for, before them
    (while the replacement still flows on to a) when a is asked for too."""
    def scenario(L, log):
        a = leaf(L, [1.0, 2.0])
        y = a * a
        y.register_hook(logged(log, "y", 5.0))
        inputs = {"y": [y], "y and a": [y, a], "a": [a]}[wrt]
        return L.autograd.grad((y * 2.0).tanh(), inputs, grad_outputs=L.ones(2, dtype=L.float64))
    assert len(twin(scenario)) == 1


# ----------------------------------------------------------------------------- handles
def test_removed_hooks_do_not_run_and_the_others_keep_their_order():
    def scenario(L, log):
        a = leaf(L, [1.0, 2.0])
        y = a * 3.0
        handles = [y.register_hook(logged(log, name, 2.0)) for name in ("h0", "h1", "h2")]
        handles[1].remove()
        handles[1].remove()                                  # removing twice is harmless
        leaf_handle = a.register_hook(logged(log, "leaf", 7.0))
        leaf_handle.remove()
        y.backward(L.ones(2, dtype=L.float64), retain_graph=True)
        handles[0].remove()
        y.backward(L.ones(2, dtype=L.float64))
        return [a.grad]
    assert [n for n, _ in twin(scenario)] == ["h0", "h2", "h2"]


def test_a_handle_is_a_context_manager():
    def scenario(L, log):
        a = leaf(L, [1.0, 2.0])
        with a.register_hook(logged(log, "inside", 2.0)):
            (a * 1.0).backward(L.ones(2, dtype=L.float64))
        (a * 1.0).backward(L.ones(2, dtype=L.float64))
        return [a.grad]
    assert len(twin(scenario)) == 1


def test_hook_on_a_tensor_that_does_not_require_grad_raises_as_torch():
    messages = []
    for L in LIBS:
        with pytest.raises(RuntimeError) as info:
            L.ones(2).register_hook(lambda g: g)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


# ----------------------------------------------------------------------------- retain_grad
def test_retain_grad_flags_accumulation_and_errors_as_torch():
    results = []
    for L in LIBS:
        a = leaf(L, [0.5, -1.5])
        assert not a.retains_grad
        a.retain_grad()                                      # a no-op on a leaf
        assert not a.retains_grad
        y = a * a
        assert not y.retains_grad and y.grad is None
        y.retain_grad()
        y.retain_grad()                                      # twice is once
        assert y.retains_grad
        out = y.tanh()
        out.backward(L.ones(2, dtype=L.float64), retain_graph=True)
        first = y.grad.detach().numpy().copy()
        out.backward(L.ones(2, dtype=L.float64))
        np.testing.assert_allclose(y.grad.detach().numpy(), 2 * first)       # accumulates, as .grad does
        z = a * 3.0
        out = z.tanh()
        out.backward(L.ones(2, dtype=L.float64))
        assert z.grad is None                                # not retained
        with pytest.raises(RuntimeError) as info:
            L.ones(2).retain_grad()
        results.append((y.grad.detach().numpy(), a.grad.numpy(), str(info.value)))
    (y_tc, a_tc, m_tc), (y_t, a_t, m_t) = results
    np.testing.assert_allclose(y_tc, y_t, rtol=1e-12)
    np.testing.assert_allclose(a_tc, a_t, rtol=1e-12)
    assert m_tc == m_t


def test_retained_gradient_is_not_a_later_replacement_s_victim():
    """y.grad is a copy: a hook on a later tensor, or an in-place backward, cannot change it afterwards."""
    def scenario(L, log):
        a = leaf(L, [1.0, 2.0])
        y = a * 2.0
        y.retain_grad()
        y.backward(L.tensor([1.0, -1.0], dtype=L.float64))
        kept = y.grad.detach().numpy().copy()
        a.grad.mul_(100.0)                                   # writing a.grad leaves y.grad alone
        np.testing.assert_array_equal(y.grad.detach().numpy(), kept)
        return [y.grad, a.grad]
    twin(scenario)
