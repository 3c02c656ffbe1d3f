"""Binarized networks: quantizers vs their definitions and vs torch Functions written like the
seeds'; layers vs torch twins; SBN and shift-AdaMax vs the paper's algorithms written out here."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")

import tinycompress as tc  # noqa: E402
from tinycompress.compress import binary as B  # noqa: E402

from strategies import OpCase, bnn_arrays, conv_configs, double_backward_op, seeds, shapes, upstream  # noqa: E402

DTYPES = [np.float32, np.float64]


# ---------------------------------------------------------------- torch twins, written like the seeds
class TorchBinarize(torch.autograd.Function):
    """Seed 000's Function (with x >= 0 -> +1 in place of sign(x + 1e-20))."""

    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return torch.where(input >= 0, 1.0, -1.0).to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input > 1] = 0
        grad_input[input < -1] = 0
        return grad_input


class TorchSTE(torch.autograd.Function):
    """Seed 001's estimators: saturate, identity (Binary_w) and the commented soft one."""

    @staticmethod
    def forward(ctx, input, ste):
        ctx.save_for_backward(input)
        ctx.ste = ste
        return torch.where(input >= 0, 1.0, -1.0).to(input.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        if ctx.ste == "saturate":
            g = grad_output.clone()
            g[input.abs() > 1] = 0
        elif ctx.ste == "soft":
            g = grad_output * torch.clamp(1 - input.abs(), min=0)
        else:
            g = grad_output.clone()
        return g, None


class TorchMaskSTE(torch.autograd.Function):
    """Any quantizer's STE written as the seeds write theirs: forward the quantizer (here its NumPy
    definition), backward ``grad_output * keep(input)``, a constant mask: its double backward is zero."""

    @staticmethod
    def forward(ctx, input, quantize, keep):
        ctx.save_for_backward(input)
        ctx.keep = keep
        return torch.tensor(quantize(input.detach().numpy()))

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        return grad_output * ctx.keep(input), None, None


def run_tc(fn, x, g):
    t = tc.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(tc.tensor(g))
    return y.array, t.grad.array


def run_torch(fn, x, g):
    t = torch.tensor(x, requires_grad=True)
    y = fn(t)
    y.backward(torch.tensor(g))
    return y.detach().numpy(), t.grad.numpy()


def data_and_grad(data, dtype, low=-3.0, high=3.0):
    x = data.draw(shapes(min_dims=1).flatmap(lambda s: bnn_arrays(s, low, high))).astype(dtype)
    return x, upstream(data.draw(seeds()), x.shape, dtype)


# ---------------------------------------------------------------- quantizers
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_seed_binarize_vs_definition_and_torch(dtype, data):
    x, g = data_and_grad(data, dtype)
    x0 = x.copy()
    y, gx = run_tc(B.Binarize.apply, x, g)
    assert y.dtype == dtype and gx.dtype == dtype
    np.testing.assert_array_equal(y, np.where(x >= 0, 1, -1))
    np.testing.assert_array_equal(gx, g * (np.abs(x) <= 1))
    ty, tg = run_torch(TorchBinarize.apply, x, g)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_array_equal(gx, tg)
    np.testing.assert_array_equal(x, x0)          # forward/backward never touch the input


@pytest.mark.parametrize("ste", B.STES)
@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_sign_ste_vs_definition_and_torch(ste, dtype, data):
    x, g = data_and_grad(data, dtype)
    y, gx = run_tc(lambda t: B.SignSTE.apply(t, ste=ste), x, g)
    expected = {"saturate": g * (np.abs(x) <= 1), "identity": g,
                "soft": g * np.maximum(0, 1 - np.abs(x))}[ste]
    np.testing.assert_array_equal(y, np.where(x >= 0, 1, -1))
    np.testing.assert_allclose(gx, expected, rtol=1e-6)
    ty, tg = run_torch(lambda t: TorchSTE.apply(t, ste), x, g)
    np.testing.assert_array_equal(y, ty)
    np.testing.assert_allclose(gx, tg, rtol=1e-6)
    assert y.dtype == dtype and gx.dtype == dtype


def test_sign_of_zero_is_plus_one_and_bad_ste():
    assert B.SignSTE.apply(tc.tensor([0.0, -0.0])).array.tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="ste"):
        B.SignSTE.apply(tc.tensor([1.0]), ste="bogus")


@pytest.mark.parametrize("ste", B.STES)
@given(data=st.data())
def test_stochastic_binarize_vs_definition(ste, data):
    x, g = data_and_grad(data, np.float32)
    u = np.random.default_rng(data.draw(seeds())).random(x.shape)
    y, gx = run_tc(lambda t: B.StochasticBinarize.apply(t, ste=ste, noise=u), x, g)
    np.testing.assert_array_equal(y, np.where(u < np.clip((x + 1) / 2, 0, 1), 1, -1))
    _, tg = run_torch(lambda t: TorchSTE.apply(t, ste), x, g)
    np.testing.assert_allclose(gx, tg, rtol=1e-6)


def test_stochastic_binarize_uses_library_generator_and_probability():
    x = np.linspace(-1.5, 1.5, 13, dtype=np.float32)
    tc.manual_seed(3)
    a = B.binarize(tc.tensor(np.tile(x, (4000, 1))), stochastic=True).array
    tc.manual_seed(3)
    b = B.binarize(tc.tensor(np.tile(x, (4000, 1))), stochastic=True).array
    np.testing.assert_array_equal(a, b)
    p = np.clip((x + 1) / 2, 0, 1)
    np.testing.assert_allclose(a.mean(0), 2 * p - 1, atol=0.05)   # E[x_b] = 2σ(x) - 1
    ev = B.binarize(tc.tensor(x), stochastic=True, training=False).array   # eval: deterministic
    np.testing.assert_array_equal(ev, np.where(x >= 0, 1, -1))


@pytest.mark.parametrize("per_channel", [False, True])
@given(data=st.data())
def test_ternarize_vs_twn_definition(per_channel, data):
    x, g = data_and_grad(data, np.float32)
    y, gx = run_tc(lambda t: B.ternarize(t, per_channel=per_channel), x, g)
    tx = torch.tensor(x)
    dims = tuple(range(1, x.ndim)) if per_channel else tuple(range(x.ndim))
    delta = 0.7 * tx.abs().mean(dim=dims, keepdim=True) if dims else 0.7 * tx.abs()
    expected = (torch.sign(tx) * (tx.abs() > delta)).numpy()
    np.testing.assert_array_equal(y, expected)
    np.testing.assert_array_equal(gx, g)                               # identity STE


@given(data=st.data())
def test_ap2_vs_definition(data):
    x, g = data_and_grad(data, np.float32, -100, 100)
    y, gx = run_tc(B.ap2, x, g)
    tx = torch.tensor(x, dtype=torch.float64)
    expected = torch.where(tx == 0, 0.0, torch.sign(tx) * 2.0 ** torch.round(torch.log2(tx.abs())))
    np.testing.assert_array_equal(y, expected.numpy().astype(np.float32))
    np.testing.assert_array_equal(gx, g)
    nz = x != 0                                                         # within a factor √2
    assert np.all(np.abs(np.log2(np.abs(y[nz]) / np.abs(x[nz]))) <= 0.5 + 1e-6)


@pytest.mark.parametrize("bits", [2, 3, 8])
@given(data=st.data())
def test_linear_quant_vs_definition(bits, data):
    x, g = data_and_grad(data, np.float32, -2, 2)
    y, gx = run_tc(lambda t: B.linear_quant(t, bits), x, g)
    s = 2.0 ** (1 - bits)
    tx = torch.tensor(x, dtype=torch.float64)
    expected = torch.clamp(torch.round(tx / s) * s, -1, 1 - s).numpy()
    np.testing.assert_array_equal(y, expected.astype(np.float32))
    assert len(np.unique(y)) <= 2 ** bits
    np.testing.assert_array_equal(gx, g * ((x >= -1) & (x <= 1 - s)))


@pytest.mark.parametrize("bits", [2, 3, 4])
@given(data=st.data())
def test_log_quant_vs_definition(bits, data):
    x, g = data_and_grad(data, np.float32, -2, 2)
    y, gx = run_tc(lambda t: B.log_quant(t, bits), x, g)
    lo = 2.0 ** -(2 ** (bits - 1) - 1)
    tx = torch.tensor(x, dtype=torch.float64)
    ap2 = torch.sign(tx) * 2.0 ** torch.round(torch.log2(tx.abs()))
    expected = torch.where(tx == 0, 0.0, torch.sign(tx) * torch.clamp(ap2.abs(), lo, 1.0)).numpy()
    np.testing.assert_array_equal(y, expected.astype(np.float32))
    np.testing.assert_array_equal(gx, g * (np.abs(x) <= 1))


def test_quant_bad_bits():
    with pytest.raises(ValueError, match="bits"):
        B.linear_quant(tc.tensor([0.5]), 1)
    with pytest.raises(ValueError, match="bits"):
        B.log_quant(tc.tensor([0.5]), 0)


# ---------------------------------------------------------------- layers vs torch twins
@given(n=st.integers(1, 5), fin=st.integers(1, 9), fout=st.integers(1, 9), binarize_input=st.booleans(),
       bias=st.booleans(), seed=seeds())
def test_binarized_linear_vs_torch_twin(n, fin, fout, binarize_input, bias, seed):
    rng = np.random.default_rng(seed)
    layer = B.BinarizedLinear(fin, fout, binarize_input=binarize_input, bias=bias)
    assert layer.weight.shape == (fout, fin) and (layer.bias is None) == (not bias)
    w = layer.weight.array.copy()
    x = rng.uniform(-2, 2, (n, fin)).astype(np.float32)
    g = rng.standard_normal((n, fout)).astype(np.float32)
    xt = tc.tensor(x, requires_grad=True)
    out = layer(xt)
    out.backward(tc.tensor(g))

    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(layer.bias.array.copy(), requires_grad=True) if bias else None
    tx = torch.tensor(x, requires_grad=True)
    txb = TorchBinarize.apply(tx) if binarize_input else tx
    tout = torch.nn.functional.linear(txb, TorchBinarize.apply(tw), tb)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(xt.grad.array, tx.grad.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.array, tw.grad.numpy(), rtol=1e-5, atol=1e-5)
    if bias:
        np.testing.assert_allclose(layer.bias.grad.array, tb.grad.numpy(), rtol=1e-5, atol=1e-5)


def torch_conv_q_weight(w, weight_quant, scale):
    """Seed 001's weight path with the centering and clamping applied (on .data, no gradient)."""
    wd = w.data
    wd = wd - wd.mean(1, keepdim=True)
    wd = wd.clamp(-1.0, 1.0)
    a = wd.abs()
    if weight_quant == "binary":
        q = torch.where(wd >= 0, 1.0, -1.0)
        alpha = a.mean((3, 2, 1), keepdim=True)
    else:
        keep = (a > 0.7 * a.mean((3, 2, 1), keepdim=True)).to(wd.dtype)
        q = torch.sign(wd) * keep
        alpha = (a * keep).sum((3, 2, 1), keepdim=True) / keep.sum((3, 2, 1), keepdim=True).clamp(min=1)
    alpha = alpha.reshape(1, -1, 1, 1) if scale == "channel" else None
    return w + (q - w).detach(), alpha         # value q, identity STE to the latent weights; α a constant


@given(cfg=conv_configs(), weight_quant=st.sampled_from(["binary", "ternary"]),
       scale=st.sampled_from(["channel", None]), binarize_input=st.booleans(), bias=st.booleans(),
       seed=seeds())
def test_binarized_conv2d_vs_torch_twin(cfg, weight_quant, scale, binarize_input, bias, seed):
    rng = np.random.default_rng(seed)
    layer = B.BinarizedConv2d(cfg["c_in"], cfg["c_out"], cfg["kernel_size"], stride=cfg["stride"],
                              padding=cfg["padding"], dilation=cfg["dilation"], bias=bias,
                              binarize_input=binarize_input, weight_quant=weight_quant, scale=scale)
    assert isinstance(layer, tc.nn.Conv2d)
    w = layer.weight.array.copy()
    x = rng.uniform(-2, 2, (cfg["n"], cfg["c_in"], cfg["h"], cfg["w"])).astype(np.float32)
    xt = tc.tensor(x, requires_grad=True)
    out = layer(xt)
    g = rng.standard_normal(out.shape).astype(np.float32)
    out.backward(tc.tensor(g))

    tw = torch.tensor(w, requires_grad=True)
    tb = torch.tensor(layer.bias.array.copy(), requires_grad=True) if bias else None
    tx = torch.tensor(x, requires_grad=True)
    txb = TorchSTE.apply(tx, "saturate") if binarize_input else tx
    tq, talpha = torch_conv_q_weight(tw, weight_quant, scale)
    tout = torch.nn.functional.conv2d(txb, tq, None, cfg["stride"], cfg["padding"], cfg["dilation"])
    if talpha is not None:                    # XNOR-Net: (x_b ⊛ Q) ⊙ α + b
        tout = tout * talpha
    if tb is not None:
        tout = tout + tb.reshape(1, -1, 1, 1)
    tout.backward(torch.tensor(g))
    np.testing.assert_allclose(out.array, tout.detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(xt.grad.array, tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(layer.weight.grad.array, tw.grad.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(layer.weight.array, w)               # latent weights untouched


def test_binarized_conv2d_bad_options():
    with pytest.raises(ValueError, match="weight_quant"):
        B.BinarizedConv2d(1, 1, 1, weight_quant="quaternary")
    with pytest.raises(ValueError, match="scale"):
        B.BinarizedConv2d(1, 1, 1, scale="layer")


def test_clip_weights_callback_and_function():
    model = tc.nn.Sequential(B.BinarizedLinear(3, 4), tc.nn.Linear(4, 2))
    model[0].weight.array[...] = np.array([[-3, 0.5, 2]] * 4, dtype=np.float32)
    model[1].weight.array[...] = 5.0
    assert B.ClipWeights()(model) == 1
    np.testing.assert_array_equal(model[0].weight.array, [[-1, 0.5, 1]] * 4)
    np.testing.assert_array_equal(model[1].weight.array, 5.0)          # float layers are left alone

    class FakeTrainer:
        pass
    trainer = FakeTrainer()
    trainer.model = model
    model[0].weight.array[0, 0] = 7
    B.ClipWeights(-0.5, 0.5).on_step_end(trainer)
    assert model[0].weight.array.max() == 0.5 and model[0].weight.array.min() == -0.5


# ---------------------------------------------------------------- the paper's algorithms
def paper_ap2(x):
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(x == 0, 0, np.sign(x) * 2.0 ** np.round(np.log2(np.abs(x))))


def paper_sbn(x, gamma, beta, eps):
    """Algorithm 2 (shift-based BN), mini-batch statistics, x of shape (N, C)."""
    mu = x.mean(0)                                   # 1. mean
    c = x - mu                                       # 2. centered input C(x)
    apx_var = (c * paper_ap2(c)).mean(0)             # 3. apx variance E[C(x) ≪≫ AP2(C(x))]
    xhat = c * paper_ap2(1 / np.sqrt(apx_var + eps))  # 4. normalize
    return paper_ap2(gamma) * xhat + beta, mu, apx_var   # 5. scale and shift


@given(n=st.integers(2, 8), c=st.integers(1, 5), seed=seeds())
def test_shift_batchnorm_vs_algorithm_2(n, c, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(1, 2, (n, c)).astype(np.float64)
    bn = B.ShiftBatchNorm(c, momentum=0.1).double()
    bn.weight.array[...] = rng.uniform(-2, 2, c)
    bn.bias.array[...] = rng.uniform(-1, 1, c)
    y = bn(tc.tensor(x))
    expected, mu, var = paper_sbn(x, bn.weight.array, bn.bias.array, bn.eps)
    np.testing.assert_allclose(y.array, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(bn.running_mean.array, 0.1 * mu, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.array, 0.9 + 0.1 * var, rtol=1e-12)
    bn.eval()
    x2 = rng.normal(0, 1, (n, c))
    expected_eval = (paper_ap2(bn.weight.array) * (x2 - bn.running_mean.array)
                     * paper_ap2(1 / np.sqrt(bn.running_var.array + bn.eps)) + bn.bias.array)
    np.testing.assert_allclose(bn(tc.tensor(x2)).array, expected_eval, rtol=1e-12, atol=1e-12)


def test_shift_batchnorm_4d_and_backward():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (3, 2, 4, 4)).astype(np.float32)
    bn = B.ShiftBatchNorm(2)
    xt = tc.tensor(x, requires_grad=True)
    y = bn(xt)
    flat = x.transpose(0, 2, 3, 1).reshape(-1, 2)
    expected, _, _ = paper_sbn(flat.astype(np.float64), np.ones(2), np.zeros(2), bn.eps)
    np.testing.assert_allclose(y.array.transpose(0, 2, 3, 1).reshape(-1, 2), expected, rtol=1e-5, atol=1e-5)
    y.backward(tc.tensor(rng.standard_normal(y.shape).astype(np.float32)))
    assert xt.grad.shape == x.shape and bn.weight.grad.shape == (2,) and xt.grad.dtype == np.float32
    with pytest.raises(ValueError, match="ShiftBatchNorm"):
        bn(tc.tensor(np.zeros((2, 3), np.float32)))


def paper_shift_adamax(theta, grads, lr, b1, b2, eps):
    """Algorithm 4 (shift-based AdaMax), one parameter, all steps."""
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        m = b1 * m + (1 - b1) * g
        v = np.maximum(b2 * v, np.abs(g))
        theta = theta - (lr * paper_ap2(1 / (1 - b1 ** t))) * (m * paper_ap2(1 / (v + eps)))
    return theta


def _has_optim():
    try:
        import tinycompress.optim.optimizer  # noqa: F401
        return True
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(not _has_optim(), reason="tinycompress.optim (the Optimizer base) is not in the tree yet")
@given(shape=shapes(min_dims=1, max_dims=2), steps=st.integers(1, 6), seed=seeds(),
       lr=st.sampled_from([1e-3, 2e-3, 0.01]))
def test_shift_adamax_vs_algorithm_4(shape, steps, seed, lr):
    rng = np.random.default_rng(seed)
    theta0 = rng.normal(0, 1, shape)
    grads = [rng.normal(0, 1, shape) for _ in range(steps)]
    p = tc.nn.Parameter(tc.tensor(theta0.copy()))
    opt = B.ShiftAdamax([p], lr=lr)
    for g in grads:
        p.grad = tc.tensor(g)
        opt.step()
    np.testing.assert_allclose(p.array, paper_shift_adamax(theta0, grads, lr, 0.9, 0.999, 1e-8),
                               rtol=1e-12, atol=1e-14)


def test_shift_adamax_bad_args():
    p = tc.nn.Parameter(tc.zeros(2))
    with pytest.raises(ValueError, match="ShiftAdamax"):
        B.ShiftAdamax([p], lr=-1)


# ---------------------------------------------------------------- second order
_ALL = lambda t: torch.ones_like(t)  # noqa: E731
_LQ_STEP = 2.0 ** (1 - 3)
QUANTIZERS = {  # name: (tinycompress, torch twin written like the seeds', input shape rank)
    "Binarize": (B.Binarize.apply, TorchBinarize.apply, 1),
    "SignSTE saturate": (lambda t: B.SignSTE.apply(t, ste="saturate"), lambda t: TorchSTE.apply(t, "saturate"), 1),
    "SignSTE identity": (lambda t: B.SignSTE.apply(t, ste="identity"), lambda t: TorchSTE.apply(t, "identity"), 1),
    "SignSTE soft": (lambda t: B.SignSTE.apply(t, ste="soft"), lambda t: TorchSTE.apply(t, "soft"), 1),
    "Ternarize": (B.ternarize, lambda t: TorchMaskSTE.apply(
        t, lambda a: B.Ternarize.apply(tc.tensor(a)).array, _ALL), 1),
    "AP2": (B.ap2, lambda t: TorchMaskSTE.apply(t, lambda a: B.ap2(tc.tensor(a)).array, _ALL), 1),
    "LinearQuant": (lambda t: B.linear_quant(t, 3), lambda t: TorchMaskSTE.apply(
        t, lambda a: B.linear_quant(tc.tensor(a), 3).array, lambda x: ((x >= -1) & (x <= 1 - _LQ_STEP)).to(x.dtype)), 1),
    "LogQuant": (lambda t: B.log_quant(t, 3), lambda t: TorchMaskSTE.apply(
        t, lambda a: B.log_quant(tc.tensor(a), 3).array, lambda x: (x.abs() <= 1).to(x.dtype)), 1),
    "QuantizeConvWeight": (B.QuantizeConvWeight.apply, lambda t: TorchMaskSTE.apply(
        t, B.quantize_conv_weight, _ALL), 4),
}


@settings(max_examples=6)
@pytest.mark.parametrize("name", list(QUANTIZERS))
@given(data=st.data())
def test_quantizers_double_backward_vs_torch_twins(name, data):
    """grad(grad(q)·u)·v against the torch Function written the same way, float64: w.r.t. u the STE's mask
    times v, w.r.t. x zero (the soft STE's g·max(0, 1-|x|) has a true derivative, and it is torch's)."""
    ours, theirs, rank = QUANTIZERS[name]
    x = data.draw(shapes(min_dims=rank, max_dims=rank).flatmap(lambda s: bnn_arrays(s, -2.0, 2.0)))
    if name.endswith("soft"):
        x = np.where(np.isin(np.abs(x), (0.0, 1.0)), x + 0.125, x)            # away from the kinks of 1-|x|
    double_backward_op(OpCase(name, [(name, ours, theirs)], lambda small: st.just(([x], {}))), data)


@pytest.mark.parametrize("name", [n for n in QUANTIZERS if not n.endswith("soft")])
def test_ste_second_derivative_wrt_input_is_zeros_not_none(name):
    """The STE's mask is piecewise constant in x: d/dx of the gradient is a zero tensor (x stays in the
    gradient's graph, no allow_unused needed), while d/du is the mask."""
    ours, _, rank = QUANTIZERS[name]
    x = tc.tensor(np.linspace(-2.5, 2.5, 2 * 3 * 2 * 2).reshape((2, 3, 2, 2)[-rank:] if rank == 4 else (24,)),
                  requires_grad=True)
    y = ours(x)
    u = tc.tensor(np.ones(y.shape), requires_grad=True)
    (gx,) = tc.autograd.grad(y, x, u, create_graph=True)
    gxx, gu = tc.autograd.grad((gx * gx).sum(), (x, u))
    np.testing.assert_array_equal(gxx.array, np.zeros(x.shape))
    np.testing.assert_array_equal(gu.array, 2 * gx.array)               # mask² · u = mask · u = gx


@settings(max_examples=6)
@given(data=st.data())
def test_binarized_linear_double_backward_vs_torch_twin(data):
    """Through BinarizedLinear (sign STEs around a linear): Hessian-vector products agree with the torch twin's."""
    n, fin, fout = data.draw(st.integers(1, 3)), data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    x = data.draw(bnn_arrays((n, fin)))
    w = data.draw(bnn_arrays((fout, fin)))

    def ours(a, b):
        return tc.nn.functional.linear(B.Binarize.apply(a), B.Binarize.apply(b))

    def theirs(a, b):
        return torch.nn.functional.linear(TorchBinarize.apply(a), TorchBinarize.apply(b))
    double_backward_op(OpCase("BinarizedLinear", [("", ours, theirs)], lambda small: st.just(([x, w], {}))), data)
