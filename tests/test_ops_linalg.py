"""Matrix products against torch: 1-D, 2-D, batched and broadcasting batch dims (``strategies.check_op``)."""
import operator

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

import tinycompress as tc
from strategies import (binary_inputs, fn_variants, matmul_shapes, op_table_tests, OpCase, same, sides)


def _shapes(fixed_ndim=None, same_batch=False):
    """matmul operand shapes; ``fixed_ndim`` forces both operands' rank (mm: 2, bmm: 3, dot: 1)."""
    def build(small):
        max_dims, max_side = sides(small)
        if fixed_ndim is None:
            return matmul_shapes(max_dims=max_dims, max_side=max_side)
        side = st.integers(1, max_side)

        @st.composite
        def draw_shapes(draw):
            if fixed_ndim == 1:
                n = draw(side)
                return [(n,), (n,)]
            m, k, n = draw(side), draw(side), draw(side)
            batch = (draw(side),) if fixed_ndim == 3 else ()
            return [batch + (m, k), batch + (k, n)]
        return draw_shapes()
    return build


CASES = [
    OpCase("matmul", fn_variants("matmul") + [same("a @ b", operator.matmul)],
           binary_inputs(shapes_fn=_shapes()), rtol32=1e-4, atol32=1e-4),
    OpCase("mm", fn_variants("mm"), binary_inputs(shapes_fn=_shapes(2)), atol32=1e-4),
    OpCase("bmm", fn_variants("bmm"), binary_inputs(shapes_fn=_shapes(3)), atol32=1e-4),
    OpCase("dot", fn_variants("dot"), binary_inputs(shapes_fn=_shapes(1)), atol32=1e-4),
    OpCase("x @ W.T + 1", [same("x @ W.T + 1", lambda x, w: x @ w.mT.T + 1.0)],
           binary_inputs(shapes_fn=_shapes(2)), atol32=1e-4),
]



# the four tests of the table: forward and gradients vs torch (float32, float64), gradcheck, double backward
# vs torch, gradgradcheck
test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = op_table_tests(
    CASES)


def test_matmul_errors_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(2, 3\)"):
        tc.ones(2, 3) @ tc.ones(2, 3)
    with pytest.raises(RuntimeError, match="2-D"):
        tc.mm(tc.ones(3), tc.ones(3, 2))
    with pytest.raises(RuntimeError, match="at least 1 dimension"):
        tc.matmul(tc.tensor(1.0), tc.ones(2))


def test_ndarray_at_tensor_uses_the_reflected_operator():
    """``ndarray @ Tensor`` and ``ndarray * Tensor`` give Tensors (NumPy defers), with torch's values and grads."""
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    w_tc = tc.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    w_t = torch.ones(3, 2, requires_grad=True)
    out_tc, out_t = a @ w_tc, torch.from_numpy(a) @ w_t
    assert isinstance(out_tc, tc.Tensor)
    np.testing.assert_allclose(out_tc.array, out_t.detach().numpy())
    out_tc.sum().backward()
    out_t.sum().backward()
    np.testing.assert_allclose(w_tc.grad.array, w_t.grad.numpy())
    assert isinstance(a.T * w_tc, tc.Tensor)
