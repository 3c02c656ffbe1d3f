"""nn.init: bounds and moments equal torch's formulas (statistically), in place, seeded."""
import math

import numpy as np
import pytest
import torch

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import init


def _w(*shape):
    return nn.Parameter(tc.zeros(*shape))


def test_calculate_gain_and_fans_equal_torch():
    for name, param in [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
                        ("leaky_relu", None), ("leaky_relu", 0.2), ("selu", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(torch.nn.init.calculate_gain(name, param))
    for shape in [(3, 4), (5, 2, 3, 3), (2, 6, 4)]:
        assert init._calculate_fan_in_and_fan_out(tc.zeros(*shape)) == \
            torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(*shape))
    with pytest.raises(ValueError, match="fewer than 2"):
        init._calculate_fan_in_and_fan_out(tc.zeros(3))


@pytest.mark.parametrize("fn,kwargs,kind,spread", [
    (init.kaiming_uniform_, {"a": math.sqrt(5)}, "uniform", lambda fi, fo: math.sqrt(3) * math.sqrt(2 / 6) / math.sqrt(fi)),
    (init.kaiming_uniform_, {"mode": "fan_out", "nonlinearity": "relu"}, "uniform",
     lambda fi, fo: math.sqrt(3) * math.sqrt(2) / math.sqrt(fo)),
    (init.kaiming_normal_, {"nonlinearity": "relu"}, "normal", lambda fi, fo: math.sqrt(2) / math.sqrt(fi)),
    (init.xavier_uniform_, {"gain": 2.0}, "uniform", lambda fi, fo: 2.0 * math.sqrt(6 / (fi + fo))),
    (init.xavier_normal_, {}, "normal", lambda fi, fo: math.sqrt(2 / (fi + fo))),
])
def test_random_inits_match_torch_formulas(fn, kwargs, kind, spread):
    tc.manual_seed(0)
    w = _w(120, 40, 3, 3)                     # fan_in 360, fan_out 1080
    fn(w, **kwargs)
    s = spread(360, 1080)
    data = w.array.astype(np.float64)
    assert w.dtype == np.float32
    if kind == "uniform":
        assert np.abs(data).max() <= s * (1 + 1e-6) and np.abs(data).max() > 0.99 * s
        np.testing.assert_allclose(data.var(), s * s / 3, rtol=0.03)
    else:
        np.testing.assert_allclose(data.std(), s, rtol=0.03)
    assert abs(data.mean()) < 0.03 * s


def test_simple_inits_in_place():
    w = _w(3, 4)
    arr = w.array
    init.uniform_(w, -2, 3)
    assert w.array is arr and arr.min() >= -2 and arr.max() <= 3 and arr.std() > 0
    init.normal_(w, 5.0, 0.01)
    assert abs(arr.mean() - 5) < 0.05
    init.constant_(w, 0.3); assert np.all(arr == np.float32(0.3))
    init.zeros_(w); assert not arr.any()
    init.ones_(w); assert np.all(arr == 1)
    init.eye_(w); np.testing.assert_array_equal(arr, np.eye(3, 4))
    tc.manual_seed(5); a = init.normal_(_w(3, 3)).array.copy()
    tc.manual_seed(5); b = init.normal_(_w(3, 3)).array.copy()
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (3, 2, 2, 2)])
def test_orthogonal(shape):
    w = _w(*shape)
    init.orthogonal_(w, gain=2.0)
    flat = w.array.reshape(shape[0], -1).astype(np.float64)
    gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
    np.testing.assert_allclose(gram, 4.0 * np.eye(gram.shape[0]), atol=1e-5)
