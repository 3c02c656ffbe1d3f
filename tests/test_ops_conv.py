"""conv2d and the 2-D pools against torch.nn.functional (forward and every input gradient)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress.ops.conv import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d
from strategies import compare_once, compare_second_order, seeds

# float32 convolutions sum up to 2·5·5 products: absolute error about 1e-5 on values near zero
TOL32 = dict(rtol=1e-4, atol=1e-4)


def check_double_backward(data, name, fn, tfn, arrays):
    """grad(grad(f)·u, create_graph)·v w.r.t. every input and u against torch's chain, in float64."""
    compare_second_order(fn, tfn, arrays, seed=data.draw(seeds(), label="seed"), where=name)


def compare(name, fn, tfn, arrays, rng, dtype):
    """fn (tinycompress) and tfn (torch) on the same inputs and a random upstream gradient, through the
    factory's one comparison: forward, every input gradient, shapes and dtypes, no input mutated."""
    compare_once(fn, tfn, arrays, dtype=dtype, seed=int(rng.integers(2 ** 31)),
                 where=f"{name} [{np.dtype(dtype).name}]",
                 **(TOL32 if dtype == np.float32 else {}))


@st.composite
def conv_cases(draw):
    groups = draw(st.integers(1, 3))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    dil = draw(st.integers(1, 2))
    padding = draw(st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])))
    stride = 1 if padding == "same" else draw(st.integers(1, 3))
    pad = 0 if isinstance(padding, str) else padding
    h = draw(st.integers(max(1, dil * (kh - 1) + 1 - 2 * pad), 9))
    w = draw(st.integers(max(1, dil * (kw - 1) + 1 - 2 * pad), 9))
    return dict(n=draw(st.integers(1, 3)), cin=cin, cout=cout, k=(kh, kw), h=h, w=w, stride=stride,
                padding=padding, dilation=dil, groups=groups, bias=draw(st.booleans()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=conv_cases(), seed=seeds())
def test_conv2d_matches_torch(case, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case["n"], case["cin"], case["h"], case["w"])).astype(dtype)
    wt = rng.standard_normal((case["cout"], case["cin"] // case["groups"]) + case["k"]).astype(dtype)
    arrays = [x, wt] + ([rng.standard_normal(case["cout"]).astype(dtype)] if case["bias"] else [])
    opts = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    compare("conv2d", lambda *a: conv2d(*a, **opts), lambda *a: F.conv2d(*a, **opts), arrays, rng, dtype)


def test_conv2d_gradcheck():
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((2, 4, 5, 4)), requires_grad=True)
    w = tc.tensor(rng.standard_normal((2, 2, 3, 2)), requires_grad=True)
    b = tc.tensor(rng.standard_normal(2), requires_grad=True)
    assert tc.autograd.gradcheck(lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                                                        groups=2), (x, w, b))


def test_conv2d_errors():
    x = tc.zeros((1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="channels"):
        conv2d(x, tc.zeros((2, 3, 3, 3)))
    with pytest.raises(RuntimeError, match="groups"):
        conv2d(x, tc.zeros((3, 2, 3, 3)), groups=2)
    with pytest.raises(RuntimeError, match="smaller than the dilated kernel"):
        conv2d(x, tc.zeros((2, 4, 7, 7)))
    with pytest.raises(ValueError, match="strided"):
        conv2d(x, tc.zeros((2, 4, 3, 3)), stride=2, padding="same")


@st.composite
def pool_cases(draw):
    k = draw(st.integers(1, 4))
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, k // 2))
    h, w = draw(st.integers(k, 9)), draw(st.integers(k, 9))
    return dict(k=k, s=s, p=p, h=h, w=w, ceil=draw(st.booleans()))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=pool_cases(), dil=st.integers(1, 2), seed=seeds())
def test_max_pool2d_matches_torch(case, dil, seed, dtype):
    rng = np.random.default_rng(seed)
    if dil * (case["k"] - 1) + 1 > case["h"] + 2 * case["p"] or dil * (case["k"] - 1) + 1 > case["w"] + 2 * case["p"]:
        dil = 1
    shape = (2, 3, case["h"], case["w"])
    x = (rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1).astype(dtype)     # distinct: no ties
    opts = dict(kernel_size=case["k"], stride=case["s"], padding=case["p"], dilation=dil, ceil_mode=case["ceil"])
    compare("max_pool2d", lambda a: max_pool2d(a, **opts), lambda a: F.max_pool2d(a, **opts), [x], rng, dtype)
    _, idx = max_pool2d(tc.tensor(x), return_indices=True, **opts)
    _, tidx = F.max_pool2d(torch.tensor(x), return_indices=True, **opts)
    np.testing.assert_array_equal(idx.array, tidx.numpy())


@given(case=pool_cases(), seed=seeds())
def test_max_pool2d_nan_like_torch(case, seed):
    """NaN propagates and a window's last NaN is its argmax (torch's rule): values, indices and gradient."""
    rng = np.random.default_rng(seed)
    x = (rng.permutation(2 * 3 * case["h"] * case["w"]).reshape(2, 3, case["h"], case["w"]) * 0.1).astype(np.float32)
    x[rng.random(x.shape) < 0.3] = np.nan
    opts = dict(kernel_size=case["k"], stride=case["s"], padding=case["p"], ceil_mode=case["ceil"])
    a, t = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (y, idx), (ty, tidx) = max_pool2d(a, return_indices=True, **opts), F.max_pool2d(t, return_indices=True, **opts)
    np.testing.assert_array_equal(y.array, ty.detach().numpy())
    np.testing.assert_array_equal(idx.array, tidx.numpy())
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(tc.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=pool_cases(), include=st.booleans(), divisor=st.sampled_from([None, 3]), seed=seeds())
def test_avg_pool2d_matches_torch(case, include, divisor, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, case["h"], case["w"])).astype(dtype)
    opts = dict(kernel_size=case["k"], stride=case["s"], padding=case["p"], ceil_mode=case["ceil"],
                count_include_pad=include, divisor_override=divisor)
    compare("avg_pool2d", lambda a: avg_pool2d(a, **opts), lambda a: F.avg_pool2d(a, **opts), [x], rng, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(h=st.integers(1, 11), w=st.integers(1, 11), oh=st.integers(1, 7), ow=st.integers(1, 7), seed=seeds())
def test_adaptive_avg_pool2d_matches_torch(h, w, oh, ow, seed, dtype):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((2, 3, h, w)).astype(dtype)
    compare("adaptive_avg_pool2d", lambda a: adaptive_avg_pool2d(a, (oh, ow)),
            lambda a: F.adaptive_avg_pool2d(a, (oh, ow)), [x], rng, dtype)


def test_pools_unbatched_and_errors():
    x = np.arange(2 * 5 * 5, dtype=np.float32).reshape(2, 5, 5)
    np.testing.assert_allclose(max_pool2d(tc.tensor(x), 2).array, F.max_pool2d(torch.tensor(x), 2).numpy())
    with pytest.raises(RuntimeError, match="half of effective kernel"):
        max_pool2d(tc.tensor(x), 2, padding=2)
    with pytest.raises(RuntimeError, match="expected 3D or 4D input"):
        avg_pool2d(tc.zeros((5, 5)), 2)


# ----------------------------------------------------------------------------- second order
@settings(max_examples=8)
@given(case=conv_cases(), seed=seeds(), data=st.data())
def test_conv2d_double_backward_matches_torch(case, seed, data):
    """conv2d's backward is itself made of Functions (the transposed convolution and the weight gradient,
    each the other's derivative), so its double backward is torch's for every stride/padding/dilation/groups."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((case["n"], case["cin"], case["h"], case["w"]))
    wt = rng.standard_normal((case["cout"], case["cin"] // case["groups"]) + case["k"])
    arrays = [x, wt] + ([rng.standard_normal(case["cout"])] if case["bias"] else [])
    opts = dict(stride=case["stride"], padding=case["padding"], dilation=case["dilation"], groups=case["groups"])
    check_double_backward(data, "conv2d", lambda *a: conv2d(*a, **opts), lambda *a: F.conv2d(*a, **opts), arrays)


@settings(max_examples=8)
@given(case=pool_cases(), dil=st.integers(1, 2), include=st.booleans(), seed=seeds(), data=st.data())
def test_pools_double_backward_match_torch(case, dil, include, seed, data):
    rng = np.random.default_rng(seed)
    if dil * (case["k"] - 1) + 1 > min(case["h"], case["w"]) + 2 * case["p"]:
        dil = 1
    shape = (2, 2, case["h"], case["w"])
    x = rng.permutation(int(np.prod(shape))).reshape(shape) * 0.1                      # distinct: no ties
    window = dict(kernel_size=case["k"], stride=case["s"], padding=case["p"], ceil_mode=case["ceil"])
    check_double_backward(data, "max_pool2d", lambda a: max_pool2d(a, dilation=dil, **window),
                          lambda a: F.max_pool2d(a, dilation=dil, **window), [x])
    check_double_backward(data, "avg_pool2d", lambda a: avg_pool2d(a, count_include_pad=include, **window),
                          lambda a: F.avg_pool2d(a, count_include_pad=include, **window), [x])
    out = (max(1, case["h"] // 2), case["w"])
    check_double_backward(data, "adaptive_avg_pool2d", lambda a: adaptive_avg_pool2d(a, out),
                          lambda a: F.adaptive_avg_pool2d(a, out), [x])


@pytest.mark.parametrize("pool", [lambda x: max_pool2d(x, 3, 2, 1), lambda x: avg_pool2d(x, 3, 2, 1),
                                  lambda x: adaptive_avg_pool2d(x, (2, 3))], ids=["max", "avg", "adaptive"])
def test_pool_second_derivative_wrt_input_is_zeros(pool):
    """A pool is piecewise linear in x: d/dx of its gradient is zeros (a tensor, as torch's), not unused."""
    x = tc.tensor(np.random.default_rng(0).permutation(2 * 2 * 5 * 6).reshape(2, 2, 5, 6) * 0.1, requires_grad=True)
    y = pool(x)
    u = tc.tensor(np.ones(y.shape), requires_grad=True)
    (gx,) = tc.autograd.grad(y, x, u, create_graph=True)
    (gxx,) = tc.autograd.grad((gx * gx).sum(), x, retain_graph=True)   # no allow_unused: x is in gx's graph
    np.testing.assert_array_equal(gxx.array, np.zeros(x.shape))
    (gu,) = tc.autograd.grad((gx * gx).sum(), u)            # ... and the gradient's derivative w.r.t. u is not
    assert np.abs(gu.array).sum() > 0


def test_conv_and_pools_gradgradcheck():
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((2, 4, 5, 4)), requires_grad=True)
    w = tc.tensor(rng.standard_normal((2, 2, 3, 2)), requires_grad=True)
    b = tc.tensor(rng.standard_normal(2), requires_grad=True)
    assert tc.autograd.gradgradcheck(lambda x, w, b: conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2),
                                                            groups=2), (x, w, b))
    p = tc.tensor(rng.permutation(2 * 5 * 4).reshape(1, 2, 5, 4) * 0.1, requires_grad=True)
    assert tc.autograd.gradgradcheck(lambda a: max_pool2d(a, 2, 1, 1, ceil_mode=True), (p,))
    assert tc.autograd.gradgradcheck(lambda a: avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False), (p,))
    assert tc.autograd.gradgradcheck(lambda a: adaptive_avg_pool2d(a, (3, 2)), (p,))
