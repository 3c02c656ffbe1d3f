"""Packed 1-bit deployment: XNOR-popcount arithmetic, thresholds, and packed == float bit for bit on
random binarized MLPs and hypothesis-drawn conv chains (stride, padding, dilation, groups, pools)."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.compress.binary import BinarizedConv2d, BinarizedLinear
from tinycompress.compress.deploy import convert as C, export, load_deployed, pack
from tinycompress.compress.deploy import runtime as P

from strategies import binary_conv_geometries, seeds


@given(b=st.integers(1, 70), o=st.integers(1, 9), n=st.integers(1, 200), ternary=st.booleans(), seed=seeds())
def test_xnor_dot_equals_matmul(b, o, n, ternary, seed):
    rng = np.random.default_rng(seed)
    x = rng.choice([-1.0, 1.0], (b, n)).astype(np.float32)
    w = rng.choice([-1.0, 0.0, 1.0] if ternary else [-1.0, 1.0], (o, n)).astype(np.float32)
    nonzero = P.pack_bits(w != 0) if ternary else None
    count = (w != 0).sum(1).astype(np.int32)
    got = P.xnor_dot(P.pack_signs(x), P.pack_bits(w > 0), count, nonzero)
    assert got.dtype == np.int32
    np.testing.assert_array_equal(got, x.astype(np.int64) @ w.T.astype(np.int64))


@given(n=st.integers(1, 200), lead=st.integers(1, 4), seed=seeds())
def test_bits_round_trip_and_word_sizes(n, lead, seed):
    mask = np.random.default_rng(seed).random((lead, n)) < 0.5
    words = P.pack_bits(mask)
    nbytes = -(-n // 8)
    expected = 1 << (nbytes - 1).bit_length() if nbytes <= 8 else -(-nbytes // 8) * 8
    assert words.nbytes == lead * expected                  # one 8/16/32/64-bit word, then 64-bit words
    np.testing.assert_array_equal(P.unpack_bits(words, n), mask)
    signs = np.where(mask, 1.0, -1.0).astype(np.float32)
    np.testing.assert_array_equal(P.unpack_signs(P.pack_signs(signs), n), signs)


def _randomise_bn(model, rng):
    """Random running statistics and affine parameters, with γ < 0 and γ = 0 among them."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.array[...] = rng.normal(0, 3, c)
            m.running_var.array[...] = rng.uniform(0.5, 20, c)
            gamma = rng.normal(0, 1, c)
            gamma[rng.random(c) < 0.1] = 0.0
            m.weight.array[...] = gamma
            m.bias.array[...] = rng.normal(0, 1, c)
    return model.eval()


def random_bnn(rng, sizes, bias=False):
    """A seed-000-shaped model with random latent weights and random BatchNorm statistics."""
    d0, h1, h2, h3, k = sizes
    model = nn.Sequential(BinarizedLinear(d0, h1, False, bias=bias), nn.BatchNorm1d(h1),
                          BinarizedLinear(h1, h2, bias=bias), nn.BatchNorm1d(h2),
                          BinarizedLinear(h2, h3), nn.Dropout(0.5), nn.BatchNorm1d(h3), nn.Linear(h3, k))
    return _randomise_bn(model, rng)


def float_out(model, x):
    with tc.no_grad():
        return model(tc.tensor(x)).array


@given(sizes=st.tuples(st.integers(1, 20), st.integers(1, 70), st.integers(1, 70), st.integers(1, 40),
                       st.integers(2, 6)),
       batch=st.integers(1, 9), bias=st.booleans(), seed=seeds())
def test_packed_mlp_equals_float(sizes, batch, bias, seed, tmp_path_factory):
    rng = np.random.default_rng(seed)
    tc.manual_seed(int(seed % 2 ** 31))
    model = random_bnn(rng, sizes, bias=bias)
    x = rng.uniform(-1, 1, (batch, sizes[0])).astype(np.float32)
    packed = pack(model)
    kinds = [op.kind for op in packed.ops]
    assert kinds.count("threshold") == 2 and "affine" in kinds          # the last BN (before a float layer) stays
    # the hidden binary layers' outputs are exact integers: compare the chain up to the last binary layer
    body = nn.Sequential(*list(model)[:5])
    expected_hidden = float_out(body, x)
    hidden = P.DeployedModel(packed.ops[:[o.kind for o in packed.ops].index("affine")])
    for kernel in ("xnor", "gemm"):
        hidden.kernel = kernel
        np.testing.assert_array_equal(hidden(x), expected_hidden)
    got = packed(x)
    expected = float_out(model, x)
    assert got.dtype == np.float32 and got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)   # last BN folded as torch does: rounding
    path = tmp_path_factory.mktemp("packed") / "model.npz"
    packed.save(path)
    loaded = load_deployed(path)
    np.testing.assert_array_equal(loaded(x), got)
    assert loaded.nbytes == packed.nbytes


def _conv_layer(cfg, float_input=False):
    return BinarizedConv2d(cfg["c_in"], cfg["c_out"], cfg["kernel_size"], stride=cfg["stride"], padding=cfg["padding"],
                           dilation=cfg["dilation"], groups=cfg["groups"], bias=cfg["bias"],
                           binarize_input=not float_input, weight_quant=cfg["weight_quant"], scale=cfg["scale"])


def _out_size(size, cfg):
    return (size + 2 * cfg["padding"] - cfg["dilation"] * (cfg["kernel_size"] - 1) - 1) // cfg["stride"] + 1


@settings(max_examples=40)
@given(geo=binary_conv_geometries(), seed=seeds())
def test_packed_conv_chain_is_bit_exact(geo, seed, tmp_path_factory):
    """x -> [sign] -> binary conv -> (pool) -> BN -> (pool) -> sign -> binary conv: the deployed chain returns
    the float model's output bit for bit, with either kernel, on drawn geometries."""
    first, second = geo["first"], geo["second"]
    h, w = _out_size(geo["h"], first), _out_size(geo["w"], first)
    pool = nn.MaxPool2d(2) if seed % 2 else nn.MaxPool2d(3, 2, 1)
    if geo["pool"]:
        assume(min(h, w) >= 2)
        h, w = (h + 2 * pool.padding - pool.kernel_size) // pool.stride + 1, \
               (w + 2 * pool.padding - pool.kernel_size) // pool.stride + 1
    assume(min(h, w) >= 1 and min(_out_size(h, second), _out_size(w, second)) >= 1)
    rng = np.random.default_rng(seed)
    tc.manual_seed(int(seed % 2 ** 31))
    layers = [_conv_layer(first, geo["float_input"])]
    bn = nn.BatchNorm2d(first["c_out"])
    layers += [pool, bn] if geo["pool"] == "before_bn" else [bn, pool] if geo["pool"] == "after_bn" else [bn]
    layers.append(_conv_layer(second))
    model = _randomise_bn(nn.Sequential(*layers), rng)
    x = rng.uniform(-2, 2, (geo["n"], first["c_in"], geo["h"], geo["w"])).astype(np.float32)
    x[rng.random(x.shape) < 0.1] = 0.0                                 # sign(0) = +1 on both sides
    expected = float_out(model, x)
    deployed = export(model)
    assert deployed.format == "packed"
    assert [op.kind for op in deployed.ops].count("threshold") == 1     # BN + sign folded
    for kernel in ("xnor", "gemm", "auto"):
        deployed.kernel = kernel
        got = deployed(x)
        np.testing.assert_array_equal(got, expected, err_msg=f"kernel {kernel}")
    path = tmp_path_factory.mktemp("conv") / "m.npz"
    deployed.save(path)
    np.testing.assert_array_equal(load_deployed(path)(x), expected)


@pytest.mark.parametrize("flip", [False, True])
def test_integer_threshold_equals_sign_of_bn(flip):
    """The folded BN + sign equals sign(BN(z)) of the float path for every reachable integer z."""
    rng = np.random.default_rng(1)
    layer = BinarizedLinear(64, 5)
    bn = nn.BatchNorm1d(5).eval()
    bn.running_mean.array[...] = [0.5, -3.0, 2.0, 0.0, 7.0]
    bn.running_var.array[...] = rng.uniform(1, 9, 5)
    bn.weight.array[...] = np.array([1.0, -2.0, 0.0, 0.5, -0.1]) * (-1 if flip else 1)
    bn.bias.array[...] = [0.0, 0.3, -1.0, 0.0, 2.0]
    op = C._threshold_op(layer, [bn])
    z = np.arange(-64, 65, 2, dtype=np.float32)[:, None].repeat(5, 1)         # same parity as n
    expected = float_out(bn, z) >= 0
    np.testing.assert_array_equal(op(z).plus(), expected)
    assert op.flip.tolist() == [g < 0 for g in bn.weight.array]


@given(seed=seeds())
def test_float_threshold_equals_sign_of_bn(seed):
    """sign(BN(x)) folded to a float32 threshold agrees with the float model on any float32 x in
    [-1e30, 1e30] (beyond it BN itself overflows), those next to the threshold included."""
    rng = np.random.default_rng(seed)
    bn = _randomise_bn(nn.Sequential(nn.BatchNorm2d(6)), rng)[0]
    op = C._float_threshold_op([bn])
    t = op.threshold.astype(np.float32)
    near = np.stack([np.nextafter(t, -np.inf), t, np.nextafter(t, np.inf)]).astype(np.float32)
    near = np.clip(near, -1e30, 1e30).astype(np.float32)                 # the range the search covers
    x = np.concatenate([near, rng.normal(0, 5, (20, 6)).astype(np.float32)])[:, :, None, None]
    np.testing.assert_array_equal(op(x).plus(), float_out(bn, x) >= 0)


def test_binary_layers_take_one_bit_per_weight():
    rng = np.random.default_rng(0)
    model = random_bnn(rng, (784, 256, 256, 256, 10))
    packed = pack(model)
    for _, op in P.walk(packed.ops):
        if isinstance(op, P.BinaryLinear):
            o, n = op.values().shape
            assert op.sign.nbytes * 8 == o * -(-n // 64) * 64          # one bit each, rows padded to 64-bit words
    assert packed.nbytes < sum(p.array.nbytes for p in model.parameters()) / 10


def test_zero_padding_correction_is_what_the_float_model_pads():
    """A 3×3 conv with padding 1 on an all +1 input: at a corner 5 of the 9 taps are zero padding."""
    conv = BinarizedConv2d(1, 1, 3, padding=1, bias=False, scale=None).eval()
    conv.weight.array[...] = 1.0
    model = nn.Sequential(conv)
    x = np.ones((1, 1, 4, 4), np.float32)
    deployed = export(model)
    deployed.kernel = "xnor"
    got = deployed(x)[0, 0]
    assert got[0, 0] == 4 and got[0, 1] == 6 and got[1, 1] == 9          # taps inside the image
    np.testing.assert_array_equal(got, float_out(model, x)[0, 0])


def test_pack_errors():
    model = nn.Sequential(BinarizedLinear(4, 4), nn.BatchNorm1d(4))
    with pytest.raises(ValueError, match="eval"):
        pack(model)
    with pytest.raises(ValueError, match="Tanh"):
        pack(nn.Sequential(BinarizedLinear(4, 4), nn.Tanh()).eval())
    with pytest.raises(TypeError, match="float batch"):
        pack(model.eval())(np.zeros((1, 4), np.int64))


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.npz"
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match="not a deployed"):
        load_deployed(path)
    with pytest.raises(FileNotFoundError, match="tinycompress export"):
        load_deployed(tmp_path / "missing.npz")
    packed = pack(random_bnn(np.random.default_rng(0), (3, 4, 4, 4, 2)))
    packed.save(tmp_path / "p.npz")
    assert [f.name for f in tmp_path.iterdir() if f.name.startswith(".tmp-")] == []
    with np.load(tmp_path / "p.npz", allow_pickle=False) as f:
        assert all(f[k].dtype != object for k in f.files)


def test_runtime_stands_alone():
    """The deployed runtime is plain NumPy: it imports neither the converters nor the library's engine."""
    import ast
    import inspect
    tree = ast.parse(inspect.getsource(P))
    relative = [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level]
    assert not relative, [node.module for node in relative]
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert imported <= {"__future__", "json", "os", "tempfile", "time", "numpy", "scipy.sparse"}, imported
