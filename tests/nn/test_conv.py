"""nn.Conv2d against torch.nn.Conv2d: state_dict keys/shapes, init bounds, forward/backward with shared weights, repr."""
import math

import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress import nn

CONFIGS = [dict(), dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(groups=2, bias=False),
           dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0)), dict(padding="valid")]


@pytest.mark.parametrize("cfg", CONFIGS)
def test_conv2d_module_matches_torch(cfg):
    kw = dict(kernel_size=3) | cfg
    m, tm = nn.Conv2d(4, 6, **kw), torch.nn.Conv2d(4, 6, **kw)
    assert repr(m) == repr(tm)
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    assert all(sd[k].shape == tuple(tsd[k].shape) and sd[k].dtype == np.float32 for k in tsd)
    fan_in = 4 // kw.get("groups", 1) * math.prod(m.kernel_size)
    for v in sd.values():                           # kaiming_uniform_(a=√5) and the bias both give U(±1/√fan_in)
        assert np.abs(v).max() <= 1 / math.sqrt(fan_in) and v.std() > 0
    m.load_state_dict({k: v.numpy() for k, v in tsd.items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 4, 7, 6)).astype(np.float32)
    xt, tt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), tm(tt)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * tc.tensor(g)).sum().backward()
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.array, tt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


def test_conv2d_module_errors():
    with pytest.raises(NotImplementedError, match="padding_mode='reflect'"):
        nn.Conv2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="divisible by groups"):
        nn.Conv2d(3, 2, 3, groups=2)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv2d(2, 2, 3, stride=2, padding="same")
    with pytest.raises(RuntimeError, match="channels"):
        nn.Conv2d(3, 2, 3)(tc.zeros((1, 2, 5, 5)))


def test_conv2d_init_is_seeded():
    tc.manual_seed(0)
    a = nn.Conv2d(2, 3, 3).weight.array.copy()
    tc.manual_seed(0)
    assert np.array_equal(a, nn.Conv2d(2, 3, 3).weight.array)
