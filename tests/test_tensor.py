"""The Tensor API against torch: dtype inference, factories, conversions, repr, seeding."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc
from strategies import arrays, seeds, shapes


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


@pytest.mark.parametrize("data", [
    1.0, 3, True, [1, 2], [1.0, 2], [[True, False]], [1, 2.5], 0.5,
    np.array([1.0, 2.0]), np.array([1, 2], np.int32), np.array([1.0], np.float32), np.float64(2.0),
    np.array(3, np.int64), np.array([True]), [[1, 2], [3, 4]],
], ids=repr)
def test_tensor_infers_dtype_like_torch(data):
    assert str(tc.tensor(data).dtype) == _dtype_name(torch.tensor(data))
    np.testing.assert_array_equal(tc.tensor(data).array, torch.tensor(data).numpy())


def test_tensor_copies_its_data_and_from_numpy_shares():
    a = np.ones(3, np.float32)
    t, shared = tc.tensor(a), tc.from_numpy(a)
    a[0] = 5
    assert t.array[0] == 1 and shared.array[0] == 5


@given(shape=shapes(0, 3))
def test_shape_factories_match_torch(shape):
    for name in ("zeros", "ones", "empty", "rand", "randn"):
        ours, theirs = getattr(tc, name)(*shape), getattr(torch, name)(shape)
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == _dtype_name(theirs), name
        ours = getattr(tc, name)(shape, dtype=tc.float64)
        assert ours.shape == shape and ours.dtype == np.float64
    np.testing.assert_array_equal(tc.zeros(*shape).array, 0)
    np.testing.assert_array_equal(tc.ones(shape).array, 1)
    sample = tc.rand(*shape).array
    assert np.all((sample >= 0) & (sample < 1))


@pytest.mark.parametrize("call", [
    lambda lib: lib.arange(5), lambda lib: lib.arange(1, 4), lambda lib: lib.arange(0, 2, 0.5),
    lambda lib: lib.arange(0.0, 3), lambda lib: lib.linspace(0, 1, 5), lambda lib: lib.eye(3),
    lambda lib: lib.eye(2, 3), lambda lib: lib.full((2, 3), 1.5), lambda lib: lib.full((2,), 7),
    lambda lib: lib.full((2,), True), lambda lib: lib.zeros(2, 3, dtype=lib.int64),
    lambda lib: lib.zeros_like(lib.ones(2, dtype=lib.float64)), lambda lib: lib.ones_like(lib.arange(3)),
    lambda lib: lib.full_like(lib.ones(2), 4), lambda lib: lib.tensor([1, 2]).float(),
    lambda lib: lib.tensor([1.5, 2]).double(), lambda lib: lib.tensor([1.5, -2.7]).long(),
    lambda lib: lib.tensor([0.0, 2.0]).bool(), lambda lib: lib.tensor([1.0]).to(lib.float64),
])
def test_factories_and_casts_match_torch(call):
    ours, theirs = call(tc), call(torch)
    assert str(ours.dtype) == _dtype_name(theirs)
    np.testing.assert_allclose(ours.array, theirs.numpy(), rtol=1e-6)


def test_randint_and_randperm():
    r = tc.randint(0, 5, (100,))
    assert r.dtype == np.int64 and r.shape == (100,) and r.array.min() >= 0 and r.array.max() < 5
    assert sorted(tc.randperm(6).tolist()) == list(range(6))
    with pytest.raises(RuntimeError, match="integer"):
        tc.randint(0, 5, (3,), requires_grad=True)


@given(x=shapes(0, 3).flatmap(arrays), dtype=st.sampled_from([np.float32, np.float64]))
def test_conversions_match_torch(x, dtype):
    ours, theirs = tc.tensor(x.astype(dtype)), torch.tensor(x.astype(dtype))
    assert ours.tolist() == theirs.tolist()
    assert ours.size() == tuple(theirs.size()) and ours.ndim == theirs.ndim and ours.dim() == theirs.dim()
    assert ours.numel() == theirs.numel()
    for d in range(-ours.ndim, ours.ndim):
        assert ours.size(d) == theirs.size(d)
    assert ours.float().dtype == np.float32 and ours.double().dtype == np.float64
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    if x.size == 1:
        assert ours.item() == theirs.item() and float(ours) == float(theirs)


def test_item_numpy_and_len_errors():
    with pytest.raises(RuntimeError, match="3 elements"):
        tc.ones(3).item()
    with pytest.raises(RuntimeError, match="detach"):
        tc.ones(2, requires_grad=True).numpy()
    with pytest.raises(TypeError, match="0-d"):
        len(tc.tensor(1.0))
    assert len(tc.ones(4, 2)) == 4
    assert tc.ones(2, requires_grad=True).detach().numpy().shape == (2,)


def test_requires_grad_on_integers_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        tc.tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="floating point"):
        tc.tensor([1, 2], requires_grad=True)
    assert tc.tensor([1.0]).requires_grad_().requires_grad


def test_inplace_ops_refuse_leaves_that_require_grad():
    x = tc.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        x.add_(1)
    with tc.no_grad():
        x.mul_(3).add_(1)
    np.testing.assert_array_equal(x.array, [4, 4])


@given(x=shapes(0, 3).flatmap(lambda s: arrays(s, -1e3, 1e3)) | shapes(0, 2).flatmap(arrays),
       dtype=st.sampled_from([np.float32, np.float64, np.int64, np.int32, np.bool_]),
       requires_grad=st.booleans(), scale=st.sampled_from([1.0, 1e-6, 1e9]))
def test_repr_matches_torchs(x, dtype, requires_grad, scale):
    """The same text as torch's repr (with 'torch.' read as 'tinycompress.'): value formatting
    (whole numbers, 4 decimals, scientific notation), padding, line breaks and suffixes."""
    values = (x * scale).astype(dtype) if dtype in (np.float32, np.float64) else x.astype(dtype)
    requires_grad = requires_grad and values.dtype.kind == "f"
    ours = repr(tc.tensor(values, requires_grad=requires_grad))
    theirs = repr(torch.tensor(values, requires_grad=requires_grad)).replace("torch.", "tinycompress.")
    # 'tinycompress.' is longer than 'torch.': a suffix may wrap to its own line in one and not the other
    assert _join_suffixes(ours) == _join_suffixes(theirs)


@settings(max_examples=10)
@given(seed=seeds(), shape=st.sampled_from([(1001,), (2000,), (40, 40), (3, 20, 20), (12, 9), (2, 3, 4, 50)]),
       scale=st.sampled_from([1.0, 1e-6, 1e5]), dtype=st.sampled_from([np.float32, np.float64, np.int64]))
def test_repr_of_large_and_wide_tensors_matches_torch(seed, shape, scale, dtype):
    """Summarized ('...') and line-wrapped prints."""
    values = (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)
    ours = repr(tc.tensor(values))
    theirs = repr(torch.tensor(values)).replace("torch.", "tinycompress.")
    assert _join_suffixes(ours) == _join_suffixes(theirs)


def _join_suffixes(text):
    return re.sub(r",\n\s*(dtype=|requires_grad=|grad_fn=|size=)", r", \1", text)


def test_repr_of_a_result_names_its_grad_fn_as_torch():
    ours, theirs = (repr(L.ones(2, requires_grad=True) * 2.0) for L in (tc, torch))
    assert ours == theirs == "tensor([2., 2.], grad_fn=<MulBackward0>)"


def test_manual_seed_reproduces_every_random_factory():
    def draw():
        return [tc.randn(3).array, tc.rand(2, 2).array, tc.randint(0, 9, (4,)).array, tc.randperm(5).array,
                tc.ones(3).uniform_(-1, 1).array, tc.zeros(2).normal_().array]
    tc.manual_seed(1234)
    first = draw()
    tc.manual_seed(1234)
    second = draw()
    tc.manual_seed(4321)
    other = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], other[0])
    assert tc.initial_seed() == 4321
    state = tc.get_rng_state()
    a = tc.randn(4).array
    tc.set_rng_state(state)
    np.testing.assert_array_equal(tc.randn(4).array, a)


def test_manual_seed_rejects_non_integers():
    with pytest.raises(TypeError, match="int"):
        tc.manual_seed(1.5)


@given(x=hnp.arrays(np.float32, shapes(1, 2), elements=st.floats(-2, 2, width=32)))
def test_comparison_operators_give_bool_tensors_like_torch(x):
    ours, theirs = tc.tensor(x), torch.tensor(x)
    for op in (lambda t: t > 0, lambda t: t == 0.5, lambda t: (t < 1) & (t >= -1), lambda t: ~(t > 0)):
        o, t = op(ours), op(theirs)
        assert o.dtype == np.bool_ and o.grad_fn is None
        np.testing.assert_array_equal(o.array, t.numpy())
