"""nn.Conv1d/2d/3d and nn.ConvTranspose1d/2d/3d against torch.nn's: state_dict keys/shapes, init bounds, forward/backward with shared weights, repr."""
import math

import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F

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


# ----------------------------------------------------------------------------- Conv1d/3d, ConvTranspose1d/2d/3d
ND_CONFIGS = [
    ("Conv1d", dict(kernel_size=3), (2, 4, 9)),
    ("Conv1d", dict(kernel_size=2, stride=2, padding=1, dilation=2, groups=2, bias=False), (3, 4, 8)),
    ("Conv1d", dict(kernel_size=4, padding="same"), (4, 7)),                       # unbatched
    ("Conv3d", dict(kernel_size=(2, 3, 1), stride=(1, 2, 1), padding=(1, 0, 1)), (2, 4, 4, 5, 3)),
    ("Conv3d", dict(kernel_size=2, groups=2, padding="valid"), (4, 3, 3, 3)),     # unbatched
    ("ConvTranspose1d", dict(kernel_size=3, stride=2, padding=1, output_padding=1), (2, 4, 5)),
    ("ConvTranspose2d", dict(kernel_size=3), (2, 4, 5, 4)),
    ("ConvTranspose2d", dict(kernel_size=(3, 2), stride=(2, 3), padding=(1, 0), output_padding=(1, 2),
                             groups=2, dilation=(2, 1), bias=False), (2, 4, 4, 3)),
    ("ConvTranspose2d", dict(kernel_size=2, stride=1, dilation=3, output_padding=2), (4, 3, 3)),   # op ≥ stride
    ("ConvTranspose3d", dict(kernel_size=2, stride=2, output_padding=(1, 0, 1)), (1, 4, 2, 3, 2)),
]


@pytest.mark.parametrize("kind,cfg,shape", ND_CONFIGS, ids=[f"{k}-{i}" for i, (k, _, _) in enumerate(ND_CONFIGS)])
def test_nd_and_transposed_conv_modules_match_torch(kind, cfg, shape):
    """repr, state_dict keys/shapes/dtypes and init bounds, then forward and every gradient with torch's weights."""
    m, tm = getattr(nn, kind)(4, 6, **cfg), getattr(torch.nn, kind)(4, 6, **cfg)
    assert repr(m) == repr(tm)
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    assert all(sd[k].shape == tuple(tsd[k].shape) and sd[k].dtype == np.float32 for k in tsd)
    fan_in = m.weight.shape[1] * math.prod(m.kernel_size)
    for v in sd.values():
        assert np.abs(v).max() <= 1 / math.sqrt(fan_in) and v.std() > 0
    m.load_state_dict({k: v.numpy() for k, v in tsd.items()})
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    xt, tt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = m(xt), tm(tt)
    assert y.shape == tuple(ty.shape) and y.dtype == np.float32
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    g = rng.standard_normal(y.shape).astype(np.float32)
    (y * tc.tensor(g)).sum().backward()
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(xt.grad.array, tt.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-4, atol=1e-4, err_msg=name)


@pytest.mark.parametrize("size", [(9, 7), (10, 8), [2, 6, 9, 8]])
def test_conv_transpose2d_output_size_picks_output_padding(size):
    m, tm = nn.ConvTranspose2d(6, 3, 3, stride=2, padding=1), torch.nn.ConvTranspose2d(6, 3, 3, stride=2, padding=1)
    m.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 6, 5, 4)).astype(np.float32)
    y, ty = m(tc.tensor(x), output_size=size), tm(torch.tensor(x), output_size=size)
    assert y.shape == tuple(ty.shape)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="valid sizes range from"):
        m(tc.tensor(x), output_size=(11, 7))


def test_nd_conv_errors_as_torch():
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to conv1d"):
        nn.Conv1d(2, 2, 3)(tc.zeros((1, 2, 5, 5)))
    with pytest.raises(RuntimeError, match=r"Expected 4D \(unbatched\) or 5D \(batched\) input to conv3d"):
        nn.Conv3d(2, 2, 3)(tc.zeros((2, 5, 5)))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or dilation"):
        F.conv_transpose2d(tc.zeros((1, 2, 3, 3)), tc.zeros((2, 2, 3, 3)), stride=2, output_padding=2)
    with pytest.raises(RuntimeError, match="expects input with 2 channels"):
        F.conv_transpose1d(tc.zeros((1, 3, 4)), tc.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(2, 2, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        nn.Conv3d(2, 2, 3, groups=0)
    with pytest.raises(ValueError, match="strided"):
        nn.Conv1d(2, 2, 3, stride=2, padding="same")
