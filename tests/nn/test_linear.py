"""nn.Linear / F.linear against torch.nn.Linear with the same weights (state_dict round trip)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.utils import from_torch_state_dict, to_torch_state_dict
from strategies import OpCase, double_backward_op, linear_cases, upstream


def check_double_backward(data, name, fn, tfn, arrays):
    """grad(grad(f)·u, create_graph)·v w.r.t. every input and u against torch's chain, in float64."""
    double_backward_op(OpCase(name, [(name, fn, tfn)], lambda small: st.just((list(arrays), {}))), data)


@given(linear_cases())
def test_linear_forward_and_grads_match_torch(case):
    batch, fin, fout, bias, seed = case
    layer = nn.Linear(fin, fout, bias=bias)
    twin = torch.nn.Linear(fin, fout, bias=bias)
    twin.load_state_dict(to_torch_state_dict(layer.state_dict()))
    x = np.random.default_rng(seed).standard_normal(batch + (fin,)).astype(np.float32)
    g = upstream(seed + 1, batch + (fout,), np.float32)
    xt, xtt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = layer(xt), twin(xtt)
    assert y.dtype == np.float32 and y.shape == tuple(yt.shape)
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-5, atol=1e-5)
    y.backward(tc.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.array, xtt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.array, twin.weight.grad.numpy(), rtol=1e-4, atol=1e-5)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.array, twin.bias.grad.numpy(), rtol=1e-4, atol=1e-5)
        assert layer.bias.grad.dtype == np.float32


def test_linear_init_bounds_and_shapes():
    tc.manual_seed(0)
    layer = nn.Linear(400, 300)
    assert layer.weight.shape == (300, 400) and layer.bias.shape == (300,)
    bound = 1 / np.sqrt(400)                     # kaiming_uniform_(a=√5) gives U(±1/√fan_in)
    w = layer.weight.array
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.98 * bound
    assert abs(w.var() - bound ** 2 / 3) < 0.05 * bound ** 2 / 3
    assert np.abs(layer.bias.array).max() <= bound
    assert layer.weight.dtype == np.float32
    assert nn.Linear(3, 2, dtype=tc.float64).weight.dtype == np.float64
    assert nn.Linear(3, 2, bias=False).bias is None


def test_linear_gradcheck_float64():
    layer = nn.Linear(3, 2).double()
    x = tc.randn(2, 4, 3, dtype=tc.float64, requires_grad=True)
    assert tc.autograd.gradcheck(lambda a, w, b: nn.functional.linear(a, w, b), (x, layer.weight, layer.bias))


def test_linear_bad_input_names_the_shapes():
    with pytest.raises(RuntimeError, match="in_features=3"):
        nn.Linear(3, 2)(tc.randn(4, 5))


def test_identity_flatten_unflatten_match_torch():
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)).astype(np.float32)
    for ours, theirs in [(nn.Flatten(), torch.nn.Flatten()), (nn.Flatten(0, 2), torch.nn.Flatten(0, 2)),
                         (nn.Identity(7, k=1), torch.nn.Identity(7, k=1)),
                         (nn.Unflatten(1, (1, 3)), torch.nn.Unflatten(1, (1, 3)))]:
        np.testing.assert_array_equal(ours(tc.tensor(x)).array, theirs(torch.tensor(x)).numpy())
        assert repr(ours) == repr(theirs)


def test_torch_state_dict_bridge_round_trips():
    twin = torch.nn.Linear(3, 2)
    sd = from_torch_state_dict(twin.state_dict())
    assert list(sd) == ["weight", "bias"] and isinstance(sd["weight"], np.ndarray)
    np.testing.assert_array_equal(sd["weight"], twin.weight.detach().numpy())
    back = to_torch_state_dict(sd)
    assert torch.equal(back["bias"], twin.bias.detach())


@settings(max_examples=8)
@given(case=linear_cases(), data=st.data())
def test_linear_double_backward_matches_torch(case, data):
    batch, fin, fout, bias, seed = case
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(batch + (fin,)), rng.standard_normal((fout, fin))]
    arrays += [rng.standard_normal(fout)] if bias else []
    check_double_backward(data, "linear", tc.nn.functional.linear, torch.nn.functional.linear, arrays)


def test_linear_gradgradcheck():
    rng = np.random.default_rng(0)
    x, w, b = (tc.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 3, 4), (2, 4), (2,)))
    assert tc.autograd.gradgradcheck(tc.nn.functional.linear, (x, w, b))
