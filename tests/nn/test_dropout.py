"""Dropout against torch with the same (fixed) mask: forward, backward and double backward."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F
from tests.strategies import OpCase, double_backward_op, seeds


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
