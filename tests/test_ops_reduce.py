"""Reductions and the softmax family against torch: one table, one factory (``strategies.check_op``).

Extremes (max/min/amax/amin/argmax/argmin) draw values with no ties, so the gradient and the
index are unambiguous; var/std draw at least two elements per reduced slice.
"""
import numpy as np
import pytest
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc
from strategies import (dim_tuples, dims, distinct_magnitudes, fn_variants, op_table_tests, OpCase, reduce_kwargs,
                        same, unary_inputs)


def _dim_or_tuple(ndim):
    return dims(ndim) | dim_tuples(ndim)


def _fro_dims(ndim):
    """torch's Frobenius norm takes all elements (None) or exactly two dims."""
    return st.none() | dim_tuples(ndim, 2).filter(lambda d: len(d) == 2) if ndim >= 2 else st.none()


def _int_dim(ndim):
    return dims(ndim)


def _with_zeros(shape):
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([0.0, 0.5, -1.5, 2.0, 1.25]))


def _extreme_dim(name):
    """max(x, dim) / min(x, dim): (values, indices), also read through .values and .indices."""
    return OpCase(f"{name}(dim)", fn_variants(name) + [
        same(f"x.{name}(dim).values", lambda x, **k: getattr(x, name)(**k).values),
        same(f"x.{name}(dim).indices", lambda x, **k: getattr(x, name)(**k).indices)],
        unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=_int_dim)))


def _side(shape, d):
    return shape[d] if shape else 1


@st.composite
def _sort_args(draw, shape):
    return {"dim": draw(dims(len(shape))), "descending": draw(st.booleans())}


@st.composite
def _topk_args(draw, shape):
    d = draw(dims(len(shape)))
    return {"k": draw(st.integers(0 if shape else 1, _side(shape, d))), "dim": d, "largest": draw(st.booleans())}


@st.composite
def _kthvalue_args(draw, shape):
    d = draw(dims(len(shape)))
    return {"k": draw(st.integers(1, _side(shape, d))), "dim": d, "keepdim": draw(st.booleans())}


CASES = [
    OpCase("sum", fn_variants("sum"), unary_inputs(kwargs=reduce_kwargs()), atol32=1e-4),
    OpCase("sum()", fn_variants("sum"), unary_inputs(), atol32=1e-4),
    OpCase("x.sum(dim=1, keepdim=True)", [same("x.sum(dim=1, keepdim=True)", lambda x: x.sum(dim=1, keepdim=True))],
           unary_inputs(min_dims=2)),
    OpCase("mean", fn_variants("mean"), unary_inputs(kwargs=reduce_kwargs()), atol32=1e-4),
    OpCase("var unbiased", fn_variants("var"), unary_inputs(min_dims=1, min_side=2,
           kwargs=reduce_kwargs(unbiased=st.booleans())), rtol32=1e-3, atol32=1e-4),
    OpCase("var correction", fn_variants("var"), unary_inputs(min_dims=1, min_side=2,
           kwargs=reduce_kwargs(correction=st.sampled_from([0, 1]))), rtol32=1e-3, atol32=1e-4),
    # std: distinct values keep every slice away from std = 0, where sqrt has its kink
    OpCase("std", fn_variants("std"), unary_inputs(min_dims=1, min_side=2, distinct=True,
           kwargs=reduce_kwargs(unbiased=st.booleans())), rtol32=1e-3, atol32=1e-4),
    OpCase("std()", fn_variants("std"), unary_inputs(min_dims=1, min_side=2, distinct=True),
           rtol32=1e-3, atol32=1e-4),
    OpCase("prod()", fn_variants("prod"), unary_inputs(0.5, 1.5), rtol32=1e-3),
    OpCase("prod(dim)", fn_variants("prod"), unary_inputs(-2.0, 2.0, kwargs=reduce_kwargs(dim=_int_dim)),
           rtol32=1e-3),
    # exact zeros: Π_{j≠i} x_j without dividing by x_i (and, under create_graph, differentiably)
    OpCase("prod with zeros", fn_variants("prod"), unary_inputs(values=_with_zeros, kwargs=lambda shape: st.one_of(
        st.just({}), reduce_kwargs(dim=_int_dim)(shape))), rtol32=1e-3),
    OpCase("max()", fn_variants("max"), unary_inputs(distinct=True)),
    OpCase("min()", fn_variants("min"), unary_inputs(distinct=True)),
    _extreme_dim("max"),
    _extreme_dim("min"),
    OpCase("amax", fn_variants("amax"), unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=_dim_or_tuple))),
    OpCase("amin", fn_variants("amin"), unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=_dim_or_tuple))),
    OpCase("amax()", fn_variants("amax"), unary_inputs(distinct=True)),
    OpCase("norm p=2", fn_variants("norm"), unary_inputs(avoid=(0,), kwargs=reduce_kwargs(p=st.just(2))), atol32=1e-4),
    OpCase("norm p=1", fn_variants("norm"), unary_inputs(avoid=(0,), kwargs=reduce_kwargs(p=st.just(1))), atol32=1e-4),
    OpCase("norm fro", fn_variants("norm"), unary_inputs(avoid=(0,), kwargs=reduce_kwargs(
        dim=_fro_dims, p=st.just("fro")))),
    OpCase("norm()", fn_variants("norm"), unary_inputs(avoid=(0,))),
    OpCase("norm p=3", fn_variants("norm"), unary_inputs(avoid=(0,), kwargs=reduce_kwargs(p=st.just(3)))),
    OpCase("norm p=inf", fn_variants("norm"), unary_inputs(values=distinct_magnitudes, kwargs=reduce_kwargs(
        p=st.just(float("inf"))))),
    OpCase("argmax(dim)", fn_variants("argmax"), unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=_int_dim)),
           differentiable=False),
    OpCase("argmin(dim)", fn_variants("argmin"), unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=_int_dim)),
           differentiable=False),
    OpCase("argmax()", fn_variants("argmax") + fn_variants("argmin"),
           unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=lambda ndim: st.none())), differentiable=False),
    OpCase("softmax", fn_variants("softmax"), unary_inputs(-5.0, 5.0, kwargs=reduce_kwargs(False, _int_dim))),
    OpCase("log_softmax", fn_variants("log_softmax"),
           unary_inputs(-5.0, 5.0, kwargs=reduce_kwargs(False, _int_dim))),
    OpCase("softmax (F)", [("tc.softmax vs F.softmax, |x| <= 40", lambda x, dim: tc.softmax(x, dim),
                            lambda x, dim: torch.nn.functional.softmax(x, dim))],
           unary_inputs(-40.0, 40.0, kwargs=reduce_kwargs(False, _int_dim))),
    # scans: cumprod's gradient divides by x away from zero, and takes the running products without x_i at zeros
    OpCase("cumsum", fn_variants("cumsum"), unary_inputs(kwargs=reduce_kwargs(False, _int_dim)), atol32=1e-4),
    OpCase("cumprod", fn_variants("cumprod"), unary_inputs(-2.0, 2.0, avoid=(0,), kwargs=reduce_kwargs(False, _int_dim)),
           rtol32=1e-3, atol32=1e-4),
    OpCase("cumprod with zeros", fn_variants("cumprod"), unary_inputs(values=_with_zeros,
           kwargs=reduce_kwargs(False, _int_dim)), rtol32=1e-3, atol32=1e-4),
    # sorting and selection: distinct values (torch leaves the order of ties open)
    OpCase("sort", fn_variants("sort") + [same("x.sort(dim).values", lambda x, **k: x.sort(**k).values)],
           unary_inputs(distinct=True, kwargs=_sort_args)),
    OpCase("argsort", fn_variants("argsort"), unary_inputs(distinct=True, kwargs=_sort_args), differentiable=False),
    OpCase("topk", fn_variants("topk") + [same("x.topk(k).indices", lambda x, **k: x.topk(**k).indices)],
           unary_inputs(distinct=True, kwargs=_topk_args)),
    OpCase("kthvalue", fn_variants("kthvalue"), unary_inputs(distinct=True, kwargs=_kthvalue_args)),
    OpCase("median()", fn_variants("median"), unary_inputs(distinct=True)),
    OpCase("median(dim)", fn_variants("median") + [same("x.median(dim).values", lambda x, **k: x.median(**k).values)],
           unary_inputs(distinct=True, kwargs=reduce_kwargs(dim=_int_dim))),
    OpCase("logsumexp", fn_variants("logsumexp"), unary_inputs(-5.0, 5.0, kwargs=reduce_kwargs(dim=_dim_or_tuple)),
           atol32=1e-4),
]



# the four tests of the table: forward and gradients vs torch (float32, float64), gradcheck, double backward
# vs torch, gradgradcheck
test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = op_table_tests(
    CASES)


@pytest.mark.parametrize("reduce", [
    lambda x: x.max(), lambda x: x.min(), lambda x: x.amax(dim=1), lambda x: x.amin(dim=(0, 1)),
    lambda x: x.max(dim=1).values, lambda x: x.abs().amax(),
], ids=["max()", "min()", "amax(dim)", "amin(dims)", "max(dim).values", "abs().amax()"])
def test_ties_share_the_gradient_like_torch(reduce):
    """Full max/min and amax/amin split the gradient evenly among tied extremes; max(dim) gives it
    to the returned index (the first) — as torch does."""
    values = np.array([[1.0, 3.0, 3.0], [-1.0, 3.0, -1.0]], np.float32)
    x, t = tc.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    g = np.arange(1.0, 1.0 + reduce(t).numel(), dtype=np.float32).reshape(tuple(reduce(t).shape))
    reduce(x).backward(g)
    reduce(t).backward(torch.from_numpy(g))
    np.testing.assert_allclose(x.grad.array, t.grad.numpy())


def test_reductions_reject_bad_dims():
    x = tc.ones(2, 3)
    with pytest.raises(IndexError, match="out of range"):
        x.sum(dim=2)
    with pytest.raises(RuntimeError, match="floating point"):
        tc.tensor([1, 2]).mean()


def test_std_of_a_constant_has_zero_gradient_like_torch():
    x, t = tc.tensor([2.0, 2.0, 2.0], requires_grad=True), torch.tensor([2.0, 2.0, 2.0], requires_grad=True)
    x.std().backward()
    t.std().backward()
    np.testing.assert_array_equal(x.grad.array, t.grad.numpy())


@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.bool_, np.uint8])
def test_integer_and_bool_reductions_match_torch(dtype):
    values = (np.arange(12).reshape(3, 4) % 5).astype(dtype)
    ours, theirs = tc.tensor(values), torch.tensor(values)
    fns = [lambda t: t.sum(), lambda t: t.sum(dim=1), lambda t: t.amax(dim=1)]
    if dtype != np.bool_:                          # torch has no argmax of bools
        fns.append(lambda t: t.argmax(dim=0))
    for f in fns:
        o, r = f(ours), f(theirs)
        assert str(o.dtype) == str(r.dtype).replace("torch.", ""), (dtype, o.dtype, r.dtype)
        np.testing.assert_array_equal(o.array, r.numpy())


def test_sort_is_stable_both_ways_like_torchs_stable_sort():
    values = np.array([[2.0, 1.0, 2.0, 1.0, 3.0, 2.0]], np.float32)
    for descending in (False, True):
        ours = tc.sort(tc.tensor(values), dim=1, descending=descending, stable=True)
        theirs = torch.sort(torch.tensor(values), dim=1, descending=descending, stable=True)
        np.testing.assert_array_equal(ours.indices.array, theirs.indices.numpy())
        np.testing.assert_array_equal(ours.values.array, theirs.values.numpy())
        assert ours.indices.dtype == np.int64 and not ours.indices.requires_grad


def test_median_of_all_elements_shares_the_gradient_among_ties_like_torch():
    values = np.array([[1.0, 2.0, 2.0], [2.0, 5.0, 0.0]])
    x, t = tc.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    x.median().backward()
    t.median().backward()
    np.testing.assert_allclose(x.grad.array, t.grad.numpy())


def test_selection_errors_and_zero_dim_inputs_follow_torch():
    x = tc.ones(2, 3)
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(4)
    with pytest.raises(RuntimeError, match="k out of range"):
        x.kthvalue(0)
    with pytest.raises(IndexError, match="out of range"):
        x.cumsum(2)
    for f in (lambda L, v: L.sort(v).values, lambda L, v: L.topk(v, 1).indices, lambda L, v: L.cumsum(v, 0),
              lambda L, v: L.cumprod(v, 0), lambda L, v: L.kthvalue(v, 1).values):
        ours, theirs = f(tc, tc.tensor(3.0)), f(torch, torch.tensor(3.0))
        assert ours.shape == tuple(theirs.shape) and ours.item() == theirs.item()
    assert tc.cumsum(tc.tensor([1, 2, 3], dtype=tc.int32), 0).dtype == np.int64
    np.testing.assert_array_equal(tc.repeat_interleave(tc.tensor([2, 0, 1])).array,
                                  torch.repeat_interleave(torch.tensor([2, 0, 1])).numpy())
