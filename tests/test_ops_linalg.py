"""Matrix products against torch: 1-D, 2-D, batched and broadcasting batch dims (``strategies.check_op``)."""
import operator

import numpy as np
import pytest
import torch
from hypothesis import strategies as st

import tinycompress as tc
from strategies import (OpCase, arrays, binary_inputs, fn_variants, matmul_shapes, op_table_tests, same, sides)


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


def _add_product_inputs(kind):
    """input (broadcastable to the product), the two factors, and drawn beta/alpha, for addmm/addmv/baddbmm."""
    def build(small):
        max_side = sides(small)[1]
        side = st.integers(1, max_side)

        @st.composite
        def draw_inputs(draw):
            m, k, n, b = draw(side), draw(side), draw(side), draw(side)
            out, first, second = {"addmm": ((m, n), (m, k), (k, n)), "addmv": ((m,), (m, k), (k,)),
                                  "baddbmm": ((b, m, n), (b, m, k), (b, k, n))}[kind]
            c_shape = draw(st.sampled_from([out, out[1:], (1,) * len(out), ()]))
            kw = draw(st.fixed_dictionaries({"beta": st.sampled_from([1, 0.5, -2.0]),
                                             "alpha": st.sampled_from([1, 1.5, -0.5])}))
            return [draw(arrays(c_shape)), draw(arrays(first)), draw(arrays(second))], kw
        return draw_inputs()
    return build


def _outer_shapes(small):
    side = st.integers(1, sides(small)[1])
    return st.tuples(side, side).map(lambda mn: [(mn[0],), (mn[1],)])


def _mv_shapes(small):
    side = st.integers(1, sides(small)[1])
    return st.tuples(side, side).map(lambda mk: [mk, (mk[1],)])


CASES = [
    OpCase("matmul", fn_variants("matmul") + [same("a @ b", operator.matmul)],
           binary_inputs(shapes_fn=_shapes()), rtol32=1e-4, atol32=1e-4),
    OpCase("mm", fn_variants("mm"), binary_inputs(shapes_fn=_shapes(2)), atol32=1e-4),
    OpCase("bmm", fn_variants("bmm"), binary_inputs(shapes_fn=_shapes(3)), atol32=1e-4),
    OpCase("dot", fn_variants("dot"), binary_inputs(shapes_fn=_shapes(1)), atol32=1e-4),
    OpCase("mv", fn_variants("mv"), binary_inputs(shapes_fn=_mv_shapes), atol32=1e-4),
    OpCase("outer", fn_variants("outer") + fn_variants("ger"), binary_inputs(shapes_fn=_outer_shapes)),
    OpCase("addmm", fn_variants("addmm"), _add_product_inputs("addmm"), atol32=1e-4),
    OpCase("addmv", fn_variants("addmv"), _add_product_inputs("addmv"), atol32=1e-4),
    OpCase("baddbmm", fn_variants("baddbmm"), _add_product_inputs("baddbmm"), atol32=1e-4),
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


def test_fixed_rank_products_carry_torchs_names_and_errors():
    a, b = tc.ones(2, 3, requires_grad=True), tc.ones(3, 2)
    assert [f().grad_fn.name() for f in (lambda: a.mm(b), lambda: tc.bmm(a[None], b[None]), lambda: a.mv(b[:, 0]),
                                         lambda: a[0].dot(a[1]), lambda: tc.addmm(tc.ones(2), a, b))] == \
        ["MmBackward0", "BmmBackward0", "MvBackward0", "DotBackward0", "AddmmBackward0"]
    with pytest.raises(RuntimeError, match=r"cannot be multiplied \(2x3 and 2x3\)"):
        tc.mm(a, a)
    with pytest.raises(RuntimeError, match="same dtype"):
        tc.mm(a, b.double())
    with pytest.raises(RuntimeError, match="size mismatch"):
        tc.mv(a, tc.ones(2))
    with pytest.raises(RuntimeError, match="Expected 1-D argument"):
        tc.outer(a, a[0])


def test_in_place_addmm_matches_torch():
    values = np.arange(6.0).reshape(2, 3) / 4
    ours = []
    for lib in (tc, torch):
        c = lib.tensor(np.ones((2, 2)), requires_grad=True)
        m = lib.tensor(values, requires_grad=True)
        y = c * 1.0
        y.addmm_(m, m.T, beta=0.5, alpha=2.0)
        y.backward(lib.tensor([[1.0, -1.0], [2.0, 0.5]], dtype=lib.float64))
        ours.append([y.detach().numpy(), c.grad.numpy(), m.grad.numpy(), y.grad_fn.name()])
    for o, t in zip(ours[0][:3], ours[1][:3]):
        np.testing.assert_allclose(o, t, rtol=1e-12)
    assert ours[0][3] == ours[1][3]
