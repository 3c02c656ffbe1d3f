"""Dropout and channel-wise Dropout1d/2d/3d against torch with the same (fixed) mask: forward, backward and
double backward; channels dropped whole; dims and warnings as torch."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F
from strategies import OpCase, double_backward_op, seeds


def _twin(p, seed, x):
    """tc's dropout of x with the generator seeded, and torch's function applying the same mask and scale."""
    tc.manual_seed(seed)
    mask = F.dropout(tc.tensor(np.ones_like(x)), p).array          # the mask the next call draws, scale included
    return mask, lambda a: a * torch.tensor(mask)


@settings(max_examples=8)
@given(shape=st.sampled_from([(3, 4), (2, 3, 2)]), p=st.sampled_from([0.2, 0.5, 0.9]), seed=seeds(), data=st.data())
def test_dropout_fixed_mask_matches_torch_to_second_order(shape, p, seed, data):
    x = np.random.default_rng(seed).standard_normal(shape)
    mask, theirs = _twin(p, seed, x)

    def ours(a):
        tc.manual_seed(seed)
        return F.dropout(a, p)
    y = ours(tc.tensor(x))
    np.testing.assert_allclose(y.array, theirs(torch.tensor(x)).numpy())
    assert set(np.unique(mask)) <= {0.0, 1 / (1 - p)}
    double_backward_op(OpCase("dropout", [("dropout", ours, theirs)], lambda small: st.just(([x], {}))), data)


def test_dropout_module_eval_is_identity_and_p_checked():
    d = nn.Dropout(0.5).eval()
    x = tc.randn(3, 4)
    assert d(x) is x or np.array_equal(d(x).array, x.array)
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)


# ----------------------------------------------------------------------------- channel-wise dropout
FEATURE = [("dropout1d", "Dropout1d", (4, 6, 5)), ("dropout1d", "Dropout1d", (6, 5)),
           ("dropout2d", "Dropout2d", (4, 6, 3, 2)), ("dropout3d", "Dropout3d", (4, 6, 2, 2, 3)),
           ("dropout3d", "Dropout3d", (6, 2, 3, 2))]


@pytest.mark.parametrize("name,module,shape", FEATURE)
@settings(max_examples=6)
@given(p=st.sampled_from([0.2, 0.5, 0.9]), seed=seeds(), data=st.data())
def test_feature_dropout_zeroes_whole_channels_and_matches_torch_with_its_mask(name, module, shape, p, seed, data):
    """Each (sample, channel) is kept whole (scaled by 1/(1−p)) or zeroed whole; with the mask fixed the
    op is torch's x·m to second order; the module is the function in training and the identity in eval."""
    x = np.random.default_rng(seed).standard_normal(shape)
    spatial = int(name[-2])
    tc.manual_seed(seed)
    mask = getattr(F, name)(tc.tensor(np.ones(shape)), p).array
    channels = mask.reshape(mask.shape[:mask.ndim - spatial] + (-1,))
    assert np.all(channels == channels[..., :1]), "a channel is not dropped whole"
    assert set(np.unique(mask)) <= {0.0, 1 / (1 - p)}

    def ours(a):
        tc.manual_seed(seed)
        return getattr(F, name)(a, p)
    double_backward_op(OpCase(name, [(name, ours, lambda a: a * torch.tensor(mask))],
                              lambda small: st.just(([x], {}))), data)
    m = getattr(nn, module)(p)
    assert repr(m) == repr(getattr(torch.nn, module)(p))
    tc.manual_seed(seed)
    np.testing.assert_array_equal(m(tc.tensor(x)).array, x * mask)
    m.eval()
    np.testing.assert_array_equal(m(tc.tensor(x)).array, x)


def test_feature_dropout_keeps_about_1_minus_p_of_the_channels_and_float32():
    tc.manual_seed(0)
    y = F.dropout2d(tc.ones((200, 50, 2, 2)), 0.3)
    assert y.dtype == np.float32
    assert abs((y.array[:, :, 0, 0] == 0).mean() - 0.3) < 0.02
    assert F.dropout2d(tc.ones((2, 3, 2, 2)), 0.0).array.sum() == 24


def test_feature_dropout_dims_as_torch():
    """dropout1d's dims are an error; dropout2d/3d warn as torch does (a 3-D input to dropout2d is (N, C, L))."""
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input, but received a 4D input"):
        F.dropout1d(tc.zeros((1, 2, 3, 4)))
    with pytest.warns(UserWarning, match="assuming that channel-wise 1D dropout"):
        y = F.dropout2d(tc.ones((2, 40, 3)), 0.5)
    assert np.all(y.array == y.array[:, :, :1])
    with pytest.warns(UserWarning, match="Received a 2-D input to dropout3d"):
        F.dropout3d(tc.ones((2, 3)), 0.5)
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout2d(1.5)
