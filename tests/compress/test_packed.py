"""Packed 1-bit deployment: XNOR-popcount arithmetic, and packed == float on random models."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import tinycompress as tc
from tinycompress.compress.deploy import packed as P

from strategies import seeds

nn = pytest.importorskip("tinycompress.nn")
from tinycompress.compress.binary import BinarizedConv2d, BinarizedLinear  # noqa: E402


@given(b=st.integers(1, 70), o=st.integers(1, 9), n=st.integers(1, 200), seed=seeds())
def test_xnor_dot_equals_matmul(b, o, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], (b, n)).astype(np.float32)
    w = rng.choice([-1.0, 1.0], (o, n)).astype(np.float32)
    got = P.xnor_dot(P.pack_signs(x), P.pack_signs(w), n)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, (x.astype(np.int64) @ w.T.astype(np.int64)))
    np.testing.assert_array_equal(P.unpack_signs(P.pack_signs(w), n), w)


def random_bnn(rng, sizes, bias=False, negative_gamma=True):
    """A seed-000-shaped model with random latent weights and random BatchNorm statistics."""
    d0, h1, h2, h3, k = sizes
    model = nn.Sequential(BinarizedLinear(d0, h1, False, bias=bias), nn.BatchNorm1d(h1),
                          BinarizedLinear(h1, h2), nn.BatchNorm1d(h2),
                          BinarizedLinear(h2, h3), nn.Dropout(0.5), nn.BatchNorm1d(h3), nn.Linear(h3, k))
    for m in model:
        if isinstance(m, nn.BatchNorm1d):
            c = m.num_features
            m.running_mean.array[...] = rng.normal(0, 3, c)
            m.running_var.array[...] = rng.uniform(0.5, 20, c)
            gamma = rng.normal(0, 1, c)
            if not negative_gamma:
                gamma = np.abs(gamma)
            gamma[rng.random(c) < 0.1] = 0.0                      # γ = 0: a constant sign
            m.weight.array[...] = gamma
            m.bias.array[...] = rng.normal(0, 1, c)
    return model.eval()


def float_logits(model, x):
    with tc.no_grad():
        return model(tc.tensor(x)).array


def assert_same_predictions(float_out, packed_out):
    np.testing.assert_allclose(packed_out, float_out, rtol=1e-5, atol=1e-4)
    top2 = np.sort(float_out, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 1e-3                    # ties aside, the same argmax
    np.testing.assert_array_equal(packed_out.argmax(1)[clear], float_out.argmax(1)[clear])


@given(sizes=st.tuples(st.integers(1, 20), st.integers(1, 70), st.integers(1, 70), st.integers(1, 40),
                       st.integers(2, 6)),
       batch=st.integers(1, 9), bias=st.booleans(), seed=seeds())
def test_packed_equals_float_on_random_models(sizes, batch, bias, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    tc.manual_seed(int(seed % 2 ** 31))
    model = random_bnn(rng, sizes, bias=bias)
    x = rng.uniform(-1, 1, (batch, sizes[0])).astype(np.float32)
    packed = P.pack(model)
    expected = float_logits(model, x)
    got = packed(x)
    assert got.dtype == np.float32 and got.shape == expected.shape
    assert_same_predictions(expected, got)
    path = tmp_path_factory.mktemp("packed") / "model.npz"
    packed.save(path)
    loaded = P.PackedModel.load(path)
    np.testing.assert_array_equal(loaded(x), got)
    assert loaded.nbytes == packed.nbytes


def test_threshold_fold_is_exact_on_integers():
    """The folded BN + sign equals sign(BN(z)) of the float path for every reachable integer z."""
    rng = np.random.default_rng(1)
    n = 64
    bn = nn.BatchNorm1d(5).eval()
    bn.running_mean.array[...] = [0.5, -3.0, 2.0, 0.0, 7.0]
    bn.running_var.array[...] = rng.uniform(1, 9, 5)
    bn.weight.array[...] = [1.0, -2.0, 0.0, 0.5, -0.1]
    bn.bias.array[...] = [0.0, 0.3, -1.0, 0.0, 2.0]
    threshold, flip = P._bn_threshold(bn, n)
    z = np.arange(-n, n + 1, 2, dtype=np.float32)[:, None].repeat(5, 1)      # same parity as n
    with tc.no_grad():
        expected = bn(tc.tensor(z)).array >= 0
    got = np.where(flip, z <= threshold, z >= threshold)
    np.testing.assert_array_equal(got, expected)
    assert flip.tolist() == [False, True, False, False, True]


def test_binary_layers_take_one_bit_per_weight():
    rng = np.random.default_rng(0)
    model = random_bnn(rng, (784, 256, 256, 256, 10))
    packed = P.pack(model)
    for kind, arrays in packed.stages:
        if "weight_bits" in arrays:
            n = int(arrays["n"])
            float_bytes = 4 * n * arrays["weight_bits"].shape[0]
            assert arrays["weight_bits"].nbytes * 28 <= float_bytes
    float_bytes = sum(p.array.nbytes for p in model.parameters())
    assert packed.nbytes < float_bytes / 10


def test_pack_errors():
    model = nn.Sequential(BinarizedLinear(4, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="eval"):
        P.pack(model)
    with pytest.raises(NotImplementedError, match="BinarizedConv2d"):
        P.pack(nn.Sequential(BinarizedConv2d(1, 2, 3)).eval())
    with pytest.raises(NotImplementedError, match="Tanh"):
        P.pack(nn.Sequential(BinarizedLinear(4, 4), nn.Tanh()).eval())
    with pytest.raises(TypeError, match="Sequential"):
        P.pack(BinarizedLinear(4, 4).eval())


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a packed"):
        P.PackedModel.load(path)
    packed = P.pack(random_bnn(np.random.default_rng(0), (3, 4, 4, 4, 2)))
    packed.save(tmp_path / "p.npz")
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".packed-")] == []
