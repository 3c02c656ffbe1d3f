"""MaskedLinear / LinearFunction (seed 002) against torch twins; gen_mask; bad masks; zeros stay zero."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress.compress.masked import ApplyMask, LinearFunction, MaskedLinear, apply_masks, gen_mask
from strategies import OpCase, conv_configs, double_backward_op, masked_linear_case, upstream


@given(st.integers(0, 7), st.integers(0, 7), st.floats(0, 1))
def test_gen_mask_counts_zeros_as_seed(row, col, percent):
    m = gen_mask(row, col, percent)
    assert m.shape == (row, col) and m.dtype == np.float32
    assert int((m == 0).sum()) == int(row * col * percent)
    assert set(np.unique(m)) <= {0.0, 1.0}


def test_gen_mask_uses_library_generator_and_num_zeros():
    tc.manual_seed(3); a = gen_mask(10, 10, num_zeros=37)
    tc.manual_seed(3); b = gen_mask(10, 10, num_zeros=37)
    np.testing.assert_array_equal(a, b)
    assert (a == 0).sum() == 37
    with pytest.raises(ValueError, match="num_zeros"):
        gen_mask(2, 2, num_zeros=5)
    with pytest.raises(ValueError, match="percent"):
        gen_mask(2, 2, percent=1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(case=masked_linear_case())
def test_linear_function_vs_torch(dtype, case):
    n, i, o, x, w, b, m, seed = case
    x, w, b, m = (a.astype(dtype) for a in (x, w, b, m))
    g = upstream(seed, (n, o), dtype)
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    ty = torch.nn.functional.linear(tx, tw * torch.tensor(m), tb)
    ty.backward(torch.tensor(g))
    cx, cw, cb = (tc.tensor(a, requires_grad=True) for a in (x, w, b))
    y = LinearFunction.apply(cx, cw, cb, tc.tensor(m))        # mask positional, as in the seed
    assert y.dtype == dtype
    y.backward(tc.tensor(g))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **tol)
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(cw.grad.array, tw.grad.numpy(), **tol)   # torch's grad is masked by the product
    np.testing.assert_allclose(cb.grad.array, tb.grad.numpy(), **tol)
    assert np.all(cw.grad.array[m == 0] == 0)


def test_linear_function_gradcheck():
    rng = np.random.default_rng(0)
    m = (rng.random((3, 4)) > 0.5).astype(np.float64)
    x, w, b = (tc.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 4), (3, 4), (3,)))
    # the masked entries have a true derivative of 0 only through W⊙M; gradcheck sees exactly that
    assert tc.autograd.gradcheck(lambda x, w, b: LinearFunction.apply(x, w, b, mask=m), [x, w, b])


@given(case=masked_linear_case(), layout=st.sampled_from(["out_in", "in_out"]))
def test_masked_linear_vs_torch_twin(case, layout):
    n, i, o, x, w, b, m, seed = case
    layer = MaskedLinear(i, o, mask=m if layout == "out_in" else m.T, mask_layout=layout)
    np.testing.assert_array_equal(layer.mask.array, m)
    assert np.all(layer.weight.array[m == 0] == 0)          # the seed zeroes masked weights at init
    layer.weight.array[...] = w.astype(np.float32)
    layer.bias.array[...] = b.astype(np.float32)
    twin = torch.nn.Linear(i, o)
    with torch.no_grad():
        twin.weight.copy_(torch.tensor(w * m, dtype=torch.float32)); twin.bias.copy_(torch.tensor(b, dtype=torch.float32))
    g = upstream(seed, (n, o), np.float32)
    xt = torch.tensor(x.astype(np.float32), requires_grad=True)
    twin(xt).backward(torch.tensor(g))
    xc = tc.tensor(x.astype(np.float32), requires_grad=True)
    layer(xc).backward(tc.tensor(g))
    np.testing.assert_allclose(layer(xc).array, twin(xt).detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xc.grad.array, xt.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.array, twin.weight.grad.numpy() * m, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.bias.grad.array, twin.bias.grad.numpy(), rtol=1e-5, atol=1e-5)
    assert layer.mask.grad is None and not layer.mask.requires_grad


def test_mask_in_state_dict_round_trip(tmp_path):
    tc.manual_seed(0)
    a = MaskedLinear(6, 5, mask=gen_mask(5, 6, 0.5))
    assert list(a.state_dict()) == ["weight", "bias", "mask"]
    tc.save(a.state_dict(), tmp_path / "m.npz")
    b = MaskedLinear(6, 5)
    b.load_state_dict(tc.load(tmp_path / "m.npz"))
    np.testing.assert_array_equal(b.mask.array, a.mask.array)
    assert np.all(b.weight.array[b.mask.array == 0] == 0)
    assert "mask" not in dict(b.named_parameters())


def test_bad_masks_are_rejected_naming_shapes():
    with pytest.raises(ValueError, match=r"\(3, 5\).*\(4, 3\)"):
        MaskedLinear(3, 4, mask=np.ones((3, 5)))
    with pytest.raises(ValueError, match="mask_layout='in_out'"):
        MaskedLinear(3, 4, mask=np.ones((3, 4)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        MaskedLinear(3, 4, mask=np.full((4, 3), 0.5))
    with pytest.raises(ValueError, match="mask_layout"):
        MaskedLinear(3, 4, mask=np.ones((4, 3)), mask_layout="rows")


def _optimizer(name, params, lr, wd, momentum):
    optim = pytest.importorskip("tinycompress.optim", reason="tc.optim is not written yet")
    if not hasattr(optim, "SGD"):
        pytest.skip("tc.optim has no optimizers yet")
    if name == "sgd":
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd, nesterov=momentum > 0)
    if name == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    return optim.AdamW(params, lr=lr, weight_decay=wd)


@settings(max_examples=15)
@given(opt=st.sampled_from(["sgd", "adam", "adamw"]), lr=st.floats(1e-3, 0.5), wd=st.sampled_from([0.0, 1e-2, 0.1]),
       momentum=st.sampled_from([0.0, 0.9]), steps=st.integers(1, 6), seed=st.integers(0, 2 ** 16),
       remask_at=st.integers(0, 5))
def test_zeros_stay_zero_through_optimizers(opt, lr, wd, momentum, steps, seed, remask_at):
    """Mask set at construction: the masked gradient alone keeps stored zeros at 0. Mask changed
    mid-training (optimizer state non-zero there): apply_masks after each step keeps them at 0."""
    tc.manual_seed(seed)
    layer = MaskedLinear(6, 4, mask=gen_mask(4, 6, 0.5))
    optimizer = _optimizer(opt, layer.parameters(), lr, wd, momentum)
    rng = np.random.default_rng(seed)
    for step in range(steps):
        if step == remask_at:
            layer.set_mask(gen_mask(4, 6, 0.7) * layer.mask.array)
        x = tc.tensor(rng.standard_normal((3, 6)).astype(np.float32))
        loss = (layer(x) ** 2).sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if remask_at < steps:
            apply_masks(layer)
        assert np.all(layer.weight.array[layer.mask.array == 0] == 0)


def test_masked_conv2d_vs_torch_twin():
    from tinycompress.compress.masked import MaskedConv2d
    from strategies import conv_configs

    @settings(max_examples=15)
    @given(cfg=conv_configs(), seed=st.integers(0, 2 ** 16))
    def check(cfg, seed):
        rng = np.random.default_rng(seed)
        k = cfg["kernel_size"]
        wshape = (cfg["c_out"], cfg["c_in"], k, k)
        mask = (rng.random(wshape) < 0.5).astype(np.float32)
        layer = MaskedConv2d(cfg["c_in"], cfg["c_out"], k, stride=cfg["stride"], padding=cfg["padding"],
                             dilation=cfg["dilation"], mask=mask)
        assert np.all(layer.weight.array[mask == 0] == 0)
        twin = torch.nn.Conv2d(cfg["c_in"], cfg["c_out"], k, stride=cfg["stride"], padding=cfg["padding"],
                               dilation=cfg["dilation"])
        layer.weight.array[...] = rng.standard_normal(wshape).astype(np.float32)    # non-zero where masked
        with torch.no_grad():
            twin.weight.copy_(torch.tensor(layer.weight.array * mask)); twin.bias.copy_(torch.tensor(layer.bias.array))
        x = rng.standard_normal((cfg["n"], cfg["c_in"], cfg["h"], cfg["w"])).astype(np.float32)
        xt = torch.tensor(x, requires_grad=True)
        yt = twin(xt)
        g = rng.standard_normal(tuple(yt.shape)).astype(np.float32)
        yt.backward(torch.tensor(g))
        xc = tc.tensor(x, requires_grad=True)
        y = layer(xc)
        y.backward(tc.tensor(g))
        np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(xc.grad.array, xt.grad.numpy(), rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(layer.weight.grad.array, twin.weight.grad.numpy() * mask, rtol=1e-4, atol=1e-4)
        assert np.all(layer.weight.grad.array[mask == 0] == 0)
    check()
    with pytest.raises(ValueError, match=r"\(2, 1, 3, 3\)"):
        MaskedConv2d(1, 2, 3, mask=np.ones((2, 1, 2, 2)))


# ----------------------------------------------------------------- second order
@settings(max_examples=8)
@given(case=masked_linear_case(), data=st.data())
def test_linear_function_double_backward_vs_torch(case, data):
    """Seed 002's Function is twice differentiable: its second derivatives are linear(x, W⊙M, b)'s."""
    n, i, o, x, w, b, m, seed = case
    def ours(x, w, b):
        return LinearFunction.apply(x, w, b, mask=m)

    def theirs(x, w, b):
        return torch.nn.functional.linear(x, w * torch.tensor(m), b)
    double_backward_op(OpCase("LinearFunction", [("", ours, theirs)], lambda small: st.just(([x, w, b], {}))), data)


@settings(max_examples=6)
@given(cfg=conv_configs(), seed=st.integers(0, 2 ** 16), data=st.data())
def test_masked_conv2d_double_backward_vs_torch(cfg, seed, data):
    rng = np.random.default_rng(seed)
    k = cfg["kernel_size"]
    wshape = (cfg["c_out"], cfg["c_in"], k, k)
    mask = (rng.random(wshape) < 0.5).astype(np.float64)
    opts = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"])
    x = rng.standard_normal((cfg["n"], cfg["c_in"], cfg["h"], cfg["w"]))
    def ours(x, w):
        return tc.nn.functional.conv2d(x, ApplyMask.apply(w, mask=mask), **opts)

    def theirs(x, w):
        return torch.nn.functional.conv2d(x, w * torch.tensor(mask), **opts)
    arrays = [x, rng.standard_normal(wshape)]
    double_backward_op(OpCase("MaskedConv2d", [("", ours, theirs)], lambda small: st.just((arrays, {}))), data)


def test_linear_function_gradgradcheck():
    rng = np.random.default_rng(0)
    m = (rng.random((3, 4)) > 0.5).astype(np.float64)
    x, w, b = (tc.tensor(rng.standard_normal(s), requires_grad=True) for s in ((2, 4), (3, 4), (3,)))
    assert tc.autograd.gradgradcheck(lambda x, w, b: LinearFunction.apply(x, w, b, mask=m), [x, w, b])
