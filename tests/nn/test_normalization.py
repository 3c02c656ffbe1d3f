"""LayerNorm, GroupNorm and InstanceNorm1d/2d/3d against torch's modules: repr, state_dict keys, forward and
gradients over several training steps then eval, running statistics; errors as torch's."""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F
from strategies import seeds


def _load(m, tm, rng):
    """Random γ, β into both modules (where they have them); both in float64."""
    m.double(), tm.double()
    with torch.no_grad():
        for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
            v = rng.standard_normal(p.shape)
            p.array[...] = v
            tp.copy_(torch.tensor(v))


def _steps(m, tm, shapes, rng):
    """Forward and backward of both modules on each shape (train steps, then one eval step); outputs, input
    and parameter gradients must agree, and so must the state_dicts after."""
    for mode, shape in shapes:
        getattr(m, mode)(), getattr(tm, mode)()
        x = rng.standard_normal(shape) * 2 + 1
        xt, tt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = m(xt), tm(tt)
        g = rng.standard_normal(y.shape)
        (y * tc.tensor(g)).sum().backward()
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(xt.grad.array, tt.grad.numpy(), rtol=1e-7, atol=1e-9)
        for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
            np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=1e-7, atol=1e-9, err_msg=name)
        m.zero_grad(), tm.zero_grad()
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(sd[k], tsd[k].numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
        assert sd[k].dtype == np.dtype(str(tsd[k].dtype).replace("torch.", ""))


@pytest.mark.parametrize("shape,kw", [((3, 4), dict()), ((2, 3, 4), dict(normalized_shape=(3, 4))),
                                      ((2, 3, 4), dict(elementwise_affine=False)), ((5, 4), dict(bias=False)),
                                      ((2, 2, 4), dict(eps=0.1))])
@settings(max_examples=5)
@given(seed=seeds())
def test_layer_norm_module_matches_torch(shape, kw, seed):
    kw = dict(normalized_shape=shape[-1:]) | kw
    m, tm = nn.LayerNorm(**kw), torch.nn.LayerNorm(**kw)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    assert all(v.dtype == np.float32 for v in m.state_dict().values())
    rng = np.random.default_rng(seed)
    _load(m, tm, rng)
    _steps(m, tm, [("train", shape), ("eval", shape)], rng)


@pytest.mark.parametrize("groups,channels,shape,kw", [(2, 4, (3, 4), dict()), (1, 3, (2, 3, 5), dict()),
                                                      (3, 6, (2, 6, 2, 3), dict(affine=False)),
                                                      (6, 6, (2, 6, 3), dict(bias=False, eps=1e-3))])
@settings(max_examples=5)
@given(seed=seeds())
def test_group_norm_module_matches_torch(groups, channels, shape, kw, seed):
    m, tm = nn.GroupNorm(groups, channels, **kw), torch.nn.GroupNorm(groups, channels, **kw)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(seed)
    _load(m, tm, rng)
    _steps(m, tm, [("train", shape), ("eval", shape)], rng)


@pytest.mark.parametrize("kind,extra", [("InstanceNorm1d", (5,)), ("InstanceNorm2d", (3, 4)),
                                        ("InstanceNorm3d", (2, 3, 2))])
@settings(max_examples=12)
@given(affine=st.booleans(), track=st.booleans(), momentum=st.sampled_from([0.1, 0.5, None]),
       unbatched=st.booleans(), seed=seeds())
def test_instance_norm_module_matches_torch(kind, extra, affine, track, momentum, unbatched, seed):
    """Train steps (running statistics from the batch average of per-instance statistics) then eval (the
    running statistics when tracked, the instance's own otherwise); unbatched input too."""
    c = 3
    kw = dict(affine=affine, track_running_stats=track, momentum=momentum)
    m, tm = getattr(nn, kind)(c, **kw), getattr(torch.nn, kind)(c, **kw)
    assert repr(m) == repr(tm)
    assert list(m.state_dict()) == list(tm.state_dict())
    rng = np.random.default_rng(seed)
    _load(m, tm, rng)
    shape = (c,) + extra if unbatched else (2, c) + extra
    _steps(m, tm, [("train", shape)] * 3 + [("eval", shape)], rng)


def test_functional_norms_float32_and_running_stats_in_place():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 5)).astype(np.float32)
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    trm, trv = torch.zeros(3), torch.ones(3)
    y = F.instance_norm(tc.tensor(x), rm, rv, momentum=0.3)
    ty = torch.nn.functional.instance_norm(torch.tensor(x), trm, trv, momentum=0.3)
    assert y.dtype == np.float32 and rm.dtype == np.float32
    np.testing.assert_allclose(y.array, ty.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-6, atol=1e-7)
    for fn in (lambda a: F.layer_norm(a, (5,)), lambda a: F.group_norm(a, 3)):
        assert fn(tc.tensor(x)).dtype == np.float32


def test_single_value_rows_normalise_to_zero_as_torch():
    """A row (layer norm) or group of one value has x̂ = 0: the output is β."""
    x = np.random.default_rng(0).standard_normal((2, 3, 1))
    b = np.arange(3.0)
    np.testing.assert_array_equal(F.group_norm(tc.tensor(x), 3, bias=tc.tensor(b)).array,
                                  np.broadcast_to(b[:, None], (2, 3, 1)))
    np.testing.assert_allclose(F.group_norm(tc.tensor(x), 3, bias=tc.tensor(b)).array,
                               torch.nn.functional.group_norm(torch.tensor(x), 3, bias=torch.tensor(b)).numpy(),
                               atol=1e-6)
    np.testing.assert_array_equal(F.layer_norm(tc.tensor(x), (1,)).array, np.zeros(x.shape))


def test_norm_errors_as_torch():
    x = tc.zeros((2, 6, 4))
    with pytest.raises(ValueError, match="num_channels must be divisible by num_groups"):
        nn.GroupNorm(4, 6)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(x, 4)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.group_norm(tc.zeros((1, 2)), 2)
    with pytest.raises(RuntimeError, match=r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\]"):
        F.layer_norm(x, 3)
    with pytest.raises(RuntimeError, match="Expected weight to be of same shape as normalized_shape"):
        F.layer_norm(x, (4,), tc.ones(3))
    with pytest.raises(ValueError, match="Expected more than 1 spatial element when training"):
        F.instance_norm(tc.zeros((2, 3, 1)))
    with pytest.raises(RuntimeError, match="Expected running_mean and running_var to be defined"):
        F.instance_norm(x, use_input_stats=False)
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(6)(tc.zeros((2, 6)))
    with pytest.raises(ValueError, match=r"expected input's size at dim=1 to match num_features \(5\)"):
        nn.InstanceNorm1d(5, affine=True)(x)
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(5)(x)
