"""``tc.autograd.gradcheck`` itself: it passes right backwards, fails wrong ones, names the worst element."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress.autograd import Function, GradcheckError, gradcheck
from strategies import arrays, shapes


class Cube(Function):
    """x³ with a correct backward, or one wrong at a single element (``bad``)."""

    @staticmethod
    def forward(ctx, x, bad=None):
        ctx.save_for_backward(x)
        ctx.bad = bad
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        """d x³ = 3x²·g (plus a deliberate error of 1 in the Jacobian's diagonal entry ``bad``)"""
        (x,) = ctx.saved_tensors
        grad = 3 * x * x * g
        if ctx.bad is not None:
            grad = grad.clone()
            grad.view(-1)[ctx.bad] += g.reshape(-1)[ctx.bad]         # Jacobian entry (bad, bad) off by 1
        return grad


@settings(max_examples=10)
@given(x=shapes(0, 2, max_side=3).flatmap(lambda s: arrays(s, -2.0, 2.0)))
def test_gradcheck_passes_a_correct_backward(x):
    assert gradcheck(lambda t: Cube.apply(t), [tc.tensor(x, requires_grad=True)])


@settings(max_examples=10)
@given(data=st.data())
def test_gradcheck_fails_a_wrong_backward_and_names_the_element(data):
    x = data.draw(shapes(1, 2, max_side=3).flatmap(lambda s: arrays(s, -2.0, 2.0)))
    bad = data.draw(st.integers(0, x.size - 1))
    t = tc.tensor(x, requires_grad=True)
    with pytest.raises(GradcheckError, match=rf"d output\[0\] element {bad} / d input\[0\] element {bad}: "
                                             r"analytic .* vs numerical"):
        gradcheck(lambda v: Cube.apply(v, bad=bad), [t])
    assert gradcheck(lambda v: Cube.apply(v, bad=bad), [t], raise_exception=False) is False
    assert t.grad is None                       # gradcheck leaves no gradient behind


def test_gradcheck_reports_the_worst_of_several_errors():
    class TwoErrors(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2 + g * np.array([0.0, 0.1, 0.0, 5.0])

    with pytest.raises(GradcheckError, match=r"element 3 / d input\[0\] element 3: analytic 7 vs numerical 2"):
        gradcheck(TwoErrors.apply, [tc.zeros(4, dtype=tc.float64, requires_grad=True)])


def test_gradcheck_over_several_inputs_and_outputs():
    a = tc.tensor([[0.5, -1.0], [2.0, 0.3]], dtype=tc.float64, requires_grad=True)
    b = tc.tensor([1.5, -0.5], dtype=tc.float64, requires_grad=True)
    assert gradcheck(lambda x, y: ((x @ y).tanh(), (x * y).sum(dim=0)), [a, b])


def test_gradcheck_wants_float64_inputs_that_require_grad():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, [tc.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="requires_grad"):
        gradcheck(lambda t: t * 2, [tc.ones(2, dtype=tc.float64)])


def test_gradcheck_restores_the_inputs():
    x = tc.tensor([0.1, 0.2, 0.3], dtype=tc.float64, requires_grad=True)
    before = x.array.copy()
    gradcheck(lambda t: t.exp(), [x])
    np.testing.assert_array_equal(x.array, before)
