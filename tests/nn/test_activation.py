"""Activation modules, Dropout and their F forms against torch (values and gradients)."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F
from strategies import arrays, shapes, upstream

CASES = [
    ("ReLU", (), {}), ("ReLU", (), {"inplace": True}), ("LeakyReLU", (0.2,), {}), ("Tanh", (), {}),
    ("Sigmoid", (), {}), ("Hardtanh", (), {}), ("Hardtanh", (-0.5, 2.0), {}), ("Softplus", (), {}),
    ("Softplus", (2.0, 1.0), {}), ("Softmax", (), {"dim": -1}), ("LogSoftmax", (), {"dim": 0}),
]


@pytest.mark.parametrize("name,args,kwargs", CASES, ids=[f"{c[0]}{c[1]}{c[2]}" for c in CASES])
@given(data=st.data())
def test_activation_module_matches_torch(name, args, kwargs, data):
    shape = data.draw(shapes(min_dims=1, max_dims=3))
    x = data.draw(arrays(shape, avoid=(0.0, -1.0, 1.0, -0.5, 2.0, 0.5))).astype(np.float32)
    ours, theirs = getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    g = upstream(data.draw(st.integers(0, 2 ** 31)), shape, np.float32)
    xt, xtt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, yt = ours(xt), theirs(xtt * 1)
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert y.dtype == np.float32
    y.backward(tc.tensor(g))
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.array, xtt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_dropout_statistics_and_gradient():
    tc.manual_seed(3)
    x = tc.ones(200, 500, requires_grad=True)
    layer = nn.Dropout(0.3)
    assert repr(layer) == repr(torch.nn.Dropout(0.3))
    y = layer(x)
    kept = y.array != 0
    assert abs(kept.mean() - 0.7) < 0.01                     # 100k Bernoulli draws: sd ≈ 0.0015
    np.testing.assert_allclose(y.array[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, y.array)        # ∂/∂x of Σ x·m/(1−p) is m/(1−p)
    assert y.dtype == np.float32


def test_dropout_eval_is_identity_and_seeded():
    x = tc.randn(4, 5)
    layer = nn.Dropout(0.5).eval()
    assert layer(x) is x or np.array_equal(layer(x).array, x.array)
    layer.train()
    tc.manual_seed(1); a = layer(x).array
    tc.manual_seed(1); b = layer(x).array
    np.testing.assert_array_equal(a, b)
    assert np.array_equal(F.dropout(x, 1.0).array, np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)
