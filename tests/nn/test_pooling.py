"""MaxPool2d / AvgPool2d / AdaptiveAvgPool2d modules against torch's (forward, grad, repr)."""
import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress import nn

CASES = [("MaxPool2d", (2,), {}), ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True)),
         ("MaxPool2d", (3,), dict(stride=1, dilation=2)), ("AvgPool2d", (2,), {}),
         ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
         ("AdaptiveAvgPool2d", ((3, 4),), {}), ("AdaptiveAvgPool2d", (1,), {})]


@pytest.mark.parametrize("name,args,kw", CASES)
def test_pool_module_matches_torch(name, args, kw):
    m, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(m) == repr(tm)
    rng = np.random.default_rng(0)
    x = (rng.permutation(2 * 3 * 7 * 9).reshape(2, 3, 7, 9) * 0.1).astype(np.float32)
    xt, tt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), tm(tt)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * tc.tensor(g)).sum().backward()
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.array, tt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_maxpool_return_indices_module():
    x = np.random.default_rng(1).permutation(50).reshape(1, 2, 5, 5).astype(np.float32)
    y, idx = nn.MaxPool2d(2, return_indices=True)(tc.tensor(x))
    ty, tidx = torch.nn.MaxPool2d(2, return_indices=True)(torch.tensor(x))
    np.testing.assert_array_equal(idx.array, tidx.numpy())
    np.testing.assert_array_equal(y.array, ty.numpy())
