"""k-bit quantization: fake quantization and observers against torch.ao.quantization and their definitions,
the QAT layers against torch's QAT Linear, the deployed integer form against the eval-mode model (bit for bit)
and against an int64 reference (within and beyond the float32 bound), distillation against torch's kl_div
formula, and the CLI's --bits / --ptq / --teacher on a tiny MNIST."""
import os

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

torch = pytest.importorskip("torch")
import torch.ao.quantization as tq  # noqa: E402

import tinycompress as tc  # noqa: E402
from tinycompress import cli, nn  # noqa: E402
from tinycompress.compress import quant as Q  # noqa: E402
from tinycompress.compress.deploy import export, load_deployed  # noqa: E402
from tinycompress.compress.deploy.runtime import pack_codes, unpack_codes  # noqa: E402
from tinycompress.compress.distill import DistillationLoss, distillation_loss  # noqa: E402

from strategies import fake_quant_inputs, quant_ranges, seeds, upstream  # noqa: E402


def _scales(rng, n):
    return rng.uniform(0.01, 1.0, n).astype(np.float32)


# ---------------------------------------------------------------- fake quantization
@settings(max_examples=15)
@given(qrange=quant_ranges(), seed=seeds(), data=st.data())
def test_fake_quantize_per_tensor_vs_torch(qrange, seed, data):
    """Values (ties included) and the STE gradient under a random upstream, bit for bit."""
    qmin, qmax = qrange
    rng = np.random.default_rng(seed)
    scale, zp = float(_scales(rng, 1)[0]), int(rng.integers(qmin, qmax + 1))
    x = data.draw(fake_quant_inputs((3, 7), scale, zp))
    g = upstream(seed, x.shape, np.float32)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.fake_quantize_per_tensor_affine(xt, scale, zp, qmin, qmax)
    yt.backward(torch.tensor(g))
    xc = tc.tensor(x, requires_grad=True)
    yc = Q.fake_quantize_per_tensor_affine(xc, scale, zp, qmin, qmax)
    yc.backward(tc.tensor(g))
    assert yc.dtype == tc.float32
    np.testing.assert_array_equal(yc.array, yt.detach().numpy())
    np.testing.assert_array_equal(xc.grad.array, xt.grad.numpy())


@given(qrange=quant_ranges(), seed=seeds(), axis=st.integers(-3, 2), data=st.data())
def test_fake_quantize_per_channel_vs_torch(qrange, seed, axis, data):
    qmin, qmax = qrange
    rng = np.random.default_rng(seed)
    shape = (2, 3, 4)
    c = shape[axis]
    scale, zp = _scales(rng, c), rng.integers(qmin, qmax + 1, c)
    bshape = [1, 1, 1]
    bshape[axis] = c
    x = data.draw(fake_quant_inputs(shape, scale.reshape(bshape), zp.reshape(bshape)))
    g = upstream(seed, shape, np.float32)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.fake_quantize_per_channel_affine(xt, torch.tensor(scale), torch.tensor(zp, dtype=torch.int32),
                                                axis % 3, qmin, qmax)
    yt.backward(torch.tensor(g))
    xc = tc.tensor(x, requires_grad=True)
    yc = Q.fake_quantize_per_channel_affine(xc, scale, zp, axis, qmin, qmax)
    yc.backward(tc.tensor(g))
    np.testing.assert_array_equal(yc.array, yt.detach().numpy())
    np.testing.assert_array_equal(xc.grad.array, xt.grad.numpy())


@given(qrange=quant_ranges(), seed=seeds())
def test_fake_quantize_vs_definition(qrange, seed):
    """x̂ is on the grid (q − z)·s with q in range; within s/2 of x where x is in range (up to float32
    rounding); the gradient mask is 1 exactly where z + round(x/s) is in range, computed here in float64."""
    qmin, qmax = qrange
    rng = np.random.default_rng(seed)
    s, z = np.float32(rng.uniform(0.05, 1.0)), int(rng.integers(qmin, qmax + 1))
    x = (rng.uniform(qmin - 5, qmax + 5, 50) * s - z * s).astype(np.float32)
    xc = tc.tensor(x, requires_grad=True)
    y = Q.fake_quantize_per_tensor_affine(xc, s, z, qmin, qmax)
    y.sum().backward()
    q = y.array.astype(np.float64) / float(s) + z
    np.testing.assert_allclose(q, np.round(q), atol=1e-3)
    assert q.min() >= qmin - 1e-3 and q.max() <= qmax + 1e-3
    t = z + np.rint(x.astype(np.float64) / float(s))
    inside = (t >= qmin) & (t <= qmax)
    clear = np.abs(x / float(s) - np.floor(x / float(s)) - 0.5) > 1e-3         # not within rounding of a tie
    np.testing.assert_array_equal(xc.grad.array[clear], inside[clear].astype(np.float32))
    assert np.all(np.abs(y.array - x)[inside & clear] <= float(s) / 2 * (1 + 1e-5))


def test_fake_quantize_rounds_ties_to_even_and_masks_by_the_rounded_value():
    x = tc.tensor(np.array([0.25, 0.75, 1.25, 2.5, 2.6, -0.74], np.float32), requires_grad=True)
    y = Q.fake_quantize_per_tensor_affine(x, 0.5, 1, 0, 5)          # x/s: 0.5, 1.5, 2.5, 5, 5.2, -1.48
    y.backward(tc.ones(6))
    np.testing.assert_array_equal(y.array, [0.0, 1.0, 1.0, 2.0, 2.0, -0.5])
    np.testing.assert_array_equal(x.grad.array, [1, 1, 1, 0, 0, 1])  # z + round(x/s) = 6 > 5 for 2.5 and 2.6


def test_fake_quant_ste_second_derivative_is_zero_wrt_input_and_mask_wrt_upstream():
    x = tc.tensor(np.linspace(-3, 3, 13), requires_grad=True)
    for f in (lambda t: Q.fake_quantize_per_tensor_affine(t, 0.5, 0, -4, 3),
              lambda t: Q.QuantizeCodes.apply(t, scale=np.float32(0.5), zero_point=0, quant_min=-4, quant_max=3)):
        y = f(x)
        u = tc.tensor(np.ones(13), requires_grad=True)
        (gx,) = tc.autograd.grad(y, x, u, create_graph=True)
        gxx, gu = tc.autograd.grad((gx * gx).sum(), (x, u))
        np.testing.assert_array_equal(gxx.array, np.zeros(13))
        np.testing.assert_array_equal(gu.array, 2 * gx.array * gx.array)          # gx = mask·u·c: d/du = 2·gx·gx/u


# ---------------------------------------------------------------- observers and FakeQuantize
OBSERVERS = [
    ("MinMaxObserver", {}),
    ("MinMaxObserver", {"qscheme": "per_tensor_symmetric", "dtype": "qint8"}),
    ("MinMaxObserver", {"qscheme": "per_tensor_symmetric", "dtype": "quint8"}),
    ("MinMaxObserver", {"reduce_range": True}),
    ("MovingAverageMinMaxObserver", {"averaging_constant": 0.3}),
    ("MovingAverageMinMaxObserver", {"quant_min": 0, "quant_max": 15}),
    ("MovingAverageMinMaxObserver", {"quant_min": -7, "quant_max": 7, "dtype": "qint8",
                                     "qscheme": "per_tensor_symmetric"}),
    ("PerChannelMinMaxObserver", {"ch_axis": 1}),
    ("PerChannelMinMaxObserver", {"qscheme": "per_channel_symmetric", "dtype": "qint8"}),
    ("MovingAveragePerChannelMinMaxObserver", {"ch_axis": 0, "averaging_constant": 0.5, "quant_min": -3,
                                               "quant_max": 3, "dtype": "qint8", "qscheme": "per_channel_symmetric"}),
]


def _torch_kwargs(kw):
    return {k: getattr(torch, v) if k in ("dtype", "qscheme") else v for k, v in kw.items()}


@settings(max_examples=10)
@pytest.mark.parametrize("name, kw", OBSERVERS)
@given(seed=seeds(), batches=st.integers(1, 3), positive=st.booleans())
def test_observers_vs_torch(name, kw, seed, batches, positive):
    rng = np.random.default_rng(seed)
    ours, theirs = getattr(Q, name)(**kw), getattr(tq, name)(**_torch_kwargs(kw))
    assert (ours.quant_min, ours.quant_max) == (theirs.quant_min, theirs.quant_max)
    for _ in range(batches):
        x = (rng.standard_normal((3, 4)) * rng.uniform(0.1, 5) + rng.normal()).astype(np.float32)
        x = np.abs(x) if positive else x
        ours(tc.tensor(x))
        theirs(torch.tensor(x))
    np.testing.assert_array_equal(ours.min_val.array, theirs.min_val.numpy())
    np.testing.assert_array_equal(ours.max_val.array, theirs.max_val.numpy())
    (s, z), (ts, tz) = ours.calculate_qparams(), theirs.calculate_qparams()
    np.testing.assert_array_equal(s.array, ts.numpy())
    np.testing.assert_array_equal(z.array, tz.numpy())


def test_observer_qparams_vs_formulas():
    """calculate_qparams against the module docstring's formulas, on a min/max chosen here."""
    o = Q.MinMaxObserver(quant_min=0, quant_max=15)
    o(tc.tensor(np.array([-1.0, 2.0], np.float32)))
    s, z = o.calculate_qparams()
    assert s.array[0] == np.float32(3.0) / np.float32(15) and z.array[0] == 0 - round(-1.0 / (3.0 / 15))
    o = Q.MinMaxObserver(dtype="qint8", qscheme="per_tensor_symmetric", quant_min=-7, quant_max=7)
    o(tc.tensor(np.array([0.5, 3.5], np.float32)))
    s, z = o.calculate_qparams()
    assert s.array[0] == np.float32(0.5) and z.array[0] == 0                 # 3.5 / ((7 + 7) / 2)
    s, z = Q.MinMaxObserver().calculate_qparams()                             # nothing observed: torch's defaults
    assert s.array.tolist() == [1.0] and z.array.tolist() == [0]


@settings(max_examples=10)
@pytest.mark.parametrize("per_channel", [False, True])
@given(seed=seeds())
def test_fake_quantize_module_vs_torch(per_channel, seed):
    """torch's FakeQuantize over three training batches: outputs, gradients, scale and zero point."""
    kw = ({"observer": "MovingAveragePerChannelMinMaxObserver", "quant_min": -7, "quant_max": 7, "dtype": "qint8",
           "qscheme": "per_channel_symmetric", "ch_axis": 0} if per_channel else
          {"observer": "MovingAverageMinMaxObserver", "quant_min": 0, "quant_max": 255, "dtype": "quint8",
           "qscheme": "per_tensor_affine", "reduce_range": True})
    ours = Q.FakeQuantize(**{**kw, "observer": getattr(Q, kw["observer"])})
    theirs = tq.FakeQuantize(**_torch_kwargs({**kw, "observer": getattr(tq, kw["observer"])}))
    rng = np.random.default_rng(seed)
    for step in range(3):
        x = (rng.standard_normal((4, 6)) * 2 + step).astype(np.float32)
        g = upstream(seed + step, x.shape, np.float32)
        xc, xt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        yc, yt = ours(xc), theirs(xt)
        yc.backward(tc.tensor(g))
        yt.backward(torch.tensor(g))
        np.testing.assert_array_equal(yc.array, yt.detach().numpy())
        np.testing.assert_array_equal(xc.grad.array, xt.grad.numpy())
        np.testing.assert_array_equal(ours.scale.array, theirs.scale.numpy())
        np.testing.assert_array_equal(ours.zero_point.array, theirs.zero_point.numpy())
    assert set(ours.state_dict()) == set(theirs.state_dict())


def test_fake_quantize_observes_only_in_training_mode():
    fq = Q.FakeQuantize(quant_min=0, quant_max=255)
    fq(tc.tensor(np.array([0.0, 2.0], np.float32)))
    scale = fq.scale.array.copy()
    fq.eval()
    fq(tc.tensor(np.array([0.0, 50.0], np.float32)))
    np.testing.assert_array_equal(fq.scale.array, scale)


# ---------------------------------------------------------------- layers
@settings(max_examples=8)
@given(seed=seeds(), bits=st.integers(2, 8), act_bits=st.integers(2, 8))
def test_quant_linear_vs_torch_qat_linear(seed, bits, act_bits):
    """Training mode, three steps: our QuantLinear against torch's QAT Linear (per-channel symmetric weights
    in the narrow range, its input through torch's FakeQuantize); equal up to the float32 rounding of the
    products (the layer sums integer codes, torch fake-quantized floats)."""
    rng = np.random.default_rng(seed)
    lo, hi = Q.weight_range(bits)
    qconfig = tq.QConfig(
        activation=tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0,
                                             quant_max=2 ** act_bits - 1, dtype=torch.quint8,
                                             qscheme=torch.per_tensor_affine),
        weight=tq.FakeQuantize.with_args(observer=tq.MovingAveragePerChannelMinMaxObserver, quant_min=lo, quant_max=hi,
                                         dtype=torch.qint8, qscheme=torch.per_channel_symmetric, ch_axis=0))
    tc.manual_seed(seed % 1000)
    ours = Q.QuantLinear(6, 4, bits=bits, act_bits=act_bits)
    theirs = torch.ao.nn.qat.Linear(6, 4, qconfig=qconfig)
    act = qconfig.activation()
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.weight.array))
        theirs.bias.copy_(torch.tensor(ours.bias.array))
    for step in range(3):
        x = (rng.standard_normal((5, 6)) * 2).astype(np.float32)
        g = upstream(seed + step, (5, 4), np.float32)
        xc, xt = tc.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ours.zero_grad()
        theirs.zero_grad()
        yc, yt = ours(xc), theirs(act(xt))
        yc.backward(tc.tensor(g))
        yt.backward(torch.tensor(g))
        tol = dict(rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(yc.array, yt.detach().numpy(), **tol)
        np.testing.assert_allclose(xc.grad.array, xt.grad.numpy(), **tol)
        np.testing.assert_allclose(ours.weight.grad.array, theirs.weight.grad.numpy(), **tol)
        np.testing.assert_array_equal(ours.weight_fake_quant.scale.array, theirs.weight_fake_quant.scale.numpy())
        np.testing.assert_array_equal(ours.input_fake_quant.zero_point.array, act.zero_point.numpy())


def test_dorefa_quantizers_vs_definition():
    w = tc.tensor(np.array([[-2.0, -0.3, 0.0], [0.1, 0.7, 5.0]], np.float32), requires_grad=True)
    k, n = 3, 7
    t = np.tanh(w.array.astype(np.float64))
    expected = 2 * np.round(n * (t / (2 * np.abs(t).max()) + 0.5)) / n - 1
    np.testing.assert_allclose(Q.dorefa_weight(w, k).array, expected, atol=1e-6)
    layer = Q.QuantLinear(3, 2, bits=k, act_bits=2, quantizer="dorefa")
    x = np.array([[-0.5, 0.2, 0.5, ]], np.float32)
    np.testing.assert_allclose(layer.input_fake_quant(tc.tensor(x)).array, np.round(3 * np.clip(x, 0, 1)) / 3,
                               atol=1e-7)                                   # quantize_k(clip(x, 0, 1)), k = 2


def test_bad_input_is_a_clear_error():
    with pytest.raises(ValueError, match="bits must be an int in"):
        Q.QuantLinear(3, 2, bits=9)
    with pytest.raises(ValueError, match="act_bits"):
        Q.QuantConv2d(1, 2, 3, act_bits=1)
    with pytest.raises(ValueError, match="quantizer"):
        Q.QuantLinear(3, 2, quantizer="log")
    with pytest.raises(ValueError, match="less than quant_max"):
        Q.fake_quantize_per_tensor_affine(tc.ones(2), 1.0, 0, 3, 3)
    with pytest.raises(ValueError, match="shape"):
        Q.fake_quantize_per_channel_affine(tc.ones(2, 3), np.ones(2, np.float32), np.zeros(2), 1, 0, 255)
    with pytest.raises(ValueError, match="qscheme"):
        Q.MinMaxObserver(qscheme="per_tensor_weird")
    with pytest.raises(ValueError, match="positive"):
        Q.fake_quantize_per_tensor_affine(tc.ones(2), 0.0, 0, 0, 255)
    m = Q.quantize_model(nn.Sequential(nn.Linear(3, 2)))
    Q.disable_fake_quant(m)
    with pytest.raises(ValueError, match="calibrate"):
        export(m)


# ---------------------------------------------------------------- the deployed integer form
def _model(rng, bits, act_bits, quantizer, conv):
    if conv:
        return nn.Sequential(Q.QuantConv2d(2, 3, 3, padding=1, stride=2, bits=bits, act_bits=act_bits,
                                           quantizer=quantizer), nn.ReLU(), nn.Flatten(),
                             Q.QuantLinear(3 * 3 * 3, 4, bits=bits, act_bits=act_bits, quantizer=quantizer)), (5, 2, 6, 6)
    return nn.Sequential(Q.QuantLinear(7, 5, bits=bits, act_bits=act_bits, quantizer=quantizer), nn.ReLU(),
                         Q.QuantLinear(5, 3, bits=bits, act_bits=act_bits, quantizer=quantizer)), (6, 7)


@settings(max_examples=15)
@given(seed=seeds(), bits=st.integers(2, 8), act_bits=st.integers(2, 8), quantizer=st.sampled_from(Q.QUANTIZERS),
       conv=st.booleans())
def test_deployed_integer_model_equals_the_eval_model(seed, bits, act_bits, quantizer, conv, tmp_path_factory):
    """After a few training steps (observers moving), the exported file loaded back gives the eval-mode model's
    outputs bit for bit, stores weight codes in ⌈bits⌉ of 2, 4 or 8 bits, and is close to the fake-quant formula."""
    rng = np.random.default_rng(seed)
    tc.manual_seed(seed % 1000)
    model, shape = _model(rng, bits, act_bits, quantizer, conv)
    for _ in range(2):
        model(tc.tensor(rng.standard_normal(shape).astype(np.float32)))
    model.eval()
    x = rng.standard_normal(shape).astype(np.float32) * 1.5
    with tc.no_grad():
        expected = model(tc.tensor(x)).array
    path = tmp_path_factory.mktemp("q") / "m.npz"
    export(model).save(path)
    deployed = load_deployed(path)
    assert deployed.format == "quantized"
    np.testing.assert_array_equal(deployed(x), expected)
    width = 2 if bits <= 2 else 4 if bits <= 4 else 8
    for op, layer in zip([op for op in deployed.ops if op.kind.startswith("quant")],
                         [m for m in model.modules() if isinstance(m, Q.QUANT_LAYERS)]):
        assert op.codes.dtype.itemsize == 1
        assert op.codes.size == layer.weight.shape[0] * -(-layer.reduction_size * width // 8)
    if quantizer == "affine":                      # the fake-quant formula: F.linear(x̂, ŵ) + b, layer by layer
        first = [m for m in model.modules() if isinstance(m, Q.QUANT_LAYERS)][0]
        with tc.no_grad():
            xh, wh = first.input_fake_quant(tc.tensor(x)), first.weight_fake_quant(first.weight)
            ref = (tc.nn.functional.conv2d(xh, wh, first.bias, 2, 1) if conv else
                   tc.nn.functional.linear(xh, wh, first.bias)).array
            got = first(tc.tensor(x)).array
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5 * np.abs(ref).max())


@pytest.mark.parametrize("k, exact32", [(512, True), (4096, False)])
def test_integer_gemm_is_exact_within_its_bound_and_falls_back_beyond(k, exact32):
    """8-bit inputs (256 levels) and weights (|q| <= 127): K·255·127 <= 2^24 holds for K = 512 and not for 4096.
    Codes near their maxima make sums far beyond 2^24 (for K = 4096) with odd values; the deployed layer must equal the int64
    sum rounded once to float32, then scaled -- which a float32 GEMM would miss beyond the bound."""
    rng = np.random.default_rng(0)
    layer = Q.QuantLinear(k, 16, bias=False, bits=8, act_bits=8)
    assert layer.exact_in_float32() is exact32
    layer.weight.array[...] = rng.uniform(0.9, 1.0, (16, k))
    layer.weight.array[:, 0] = 1.0                                           # every row's max|w| = 1: scale 1/127
    x = rng.uniform(0.95, 1.0, (8, k)).astype(np.float32) * 255
    x[:, 0] = 255
    layer(tc.tensor(x))                                                      # observe (training mode)
    layer.eval()
    with tc.no_grad():
        y = layer(tc.tensor(x)).array
    op = export(nn.Sequential(layer)).ops[0]
    cx = op.input_codes(x).astype(np.int64)
    w = op.integer_weights().astype(np.int64)
    exact = cx @ w.T
    assert np.abs(exact).max() > 2 ** 24 if not exact32 else np.abs(exact).max() <= 2 ** 24
    scale = (op.input_scale * op.weight_scale).astype(np.float32)
    np.testing.assert_array_equal(op(x), exact.astype(np.float32) * scale)
    np.testing.assert_array_equal(y, op(x))
    if not exact32:                                                          # the bound matters here
        assert not np.array_equal(cx.astype(np.float32) @ w.T.astype(np.float32), exact.astype(np.float32))
    layer.train()                                                            # the float64 path is differentiable
    xg = tc.tensor(x[:2], requires_grad=True)
    layer(xg).sum().backward()
    assert layer.weight.grad.dtype == tc.float32 and np.abs(layer.weight.grad.array).sum() > 0
    assert xg.grad.shape == (2, k)


@given(seed=seeds(), width=st.sampled_from([2, 4]), signed=st.booleans(), k=st.integers(1, 13))
def test_packed_codes_round_trip(seed, width, signed, k):
    rng = np.random.default_rng(seed)
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    codes = rng.integers(lo, hi + 1, (3, k))
    packed = pack_codes(codes, width)
    assert packed.dtype == np.uint8 and packed.shape == (3, -(-k * width // 8))
    np.testing.assert_array_equal(unpack_codes(packed, k, width, signed), codes)


def test_ptq_calibration_sets_qparams_by_their_definition():
    """quantize_model + calibrate: the weights' per-channel scales are max|w_row|/(2^(b−1)−1); the input's
    min/max follow the moving average over the calibration batches (the first taken as it is)."""
    rng = np.random.default_rng(1)
    tc.manual_seed(1)
    model = Q.quantize_model(nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2)), bits=4)
    batches = [rng.standard_normal((8, 5)).astype(np.float32) for _ in range(3)]
    Q.calibrate(model, [(tc.tensor(b), None) for b in batches])
    assert not model.training and model[0].quantized()
    w = model[0].weight.array
    np.testing.assert_array_equal(model[0].weight_fake_quant.scale.array,
                                  np.maximum(np.abs(w).max(1) / np.float32(7), Q.EPS))
    lo, hi = batches[0].min(), batches[0].max()
    for b in batches[1:]:
        lo, hi = lo + np.float32(0.01) * (b.min() - lo), hi + np.float32(0.01) * (b.max() - hi)
    app = model[0].input_fake_quant.activation_post_process
    assert (app.min_val.array, app.max_val.array) == (lo, hi)


# ---------------------------------------------------------------- distillation
@settings(max_examples=15)
@given(seed=seeds(), T=st.sampled_from([1.0, 2.0, 4.0, 8.0]), alpha=st.sampled_from([0.0, 0.5, 0.9, 1.0]))
def test_distillation_loss_vs_torch_formula(seed, T, alpha):
    rng = np.random.default_rng(seed)
    s, t = rng.standard_normal((6, 5)) * 3, rng.standard_normal((6, 5)) * 3
    y = rng.integers(0, 5, 6)
    st_ = torch.tensor(s, requires_grad=True)
    F = torch.nn.functional
    ref = (alpha * T * T * F.kl_div(F.log_softmax(st_ / T, 1), F.softmax(torch.tensor(t) / T, 1), reduction="batchmean")
           + (1 - alpha) * F.cross_entropy(st_, torch.tensor(y)))
    ref.backward()
    sc = tc.tensor(s, requires_grad=True)
    ours = distillation_loss(sc, tc.tensor(t), tc.tensor(y), T, alpha)
    ours.backward()
    np.testing.assert_allclose(ours.item(), ref.item(), rtol=1e-10)
    np.testing.assert_allclose(sc.grad.array, st_.grad.numpy(), rtol=1e-9, atol=1e-12)


def test_distillation_loss_runs_the_teacher_only_while_training():
    tc.manual_seed(0)
    student, teacher = nn.Linear(4, 3), nn.Linear(4, 3)
    loss_fn = DistillationLoss(student, teacher, T=2.0, alpha=0.5)
    x, y = tc.randn(5, 4), tc.tensor(np.array([0, 1, 2, 0, 1]))
    out = student(x)
    with tc.no_grad():
        expected = distillation_loss(out, teacher(x), y, 2.0, 0.5)
    assert loss_fn(out, y).item() == pytest.approx(expected.item(), rel=1e-6)
    student.eval()
    out = student(x)
    assert loss_fn(out, y).item() == pytest.approx(tc.nn.functional.cross_entropy(out, y).item(), rel=1e-6)
    with pytest.raises(ValueError, match="alpha"):
        DistillationLoss(student, teacher, alpha=1.5)


# ---------------------------------------------------------------- the CLI
BUNDLED = os.path.join(os.path.dirname(tc.__file__), "data", "bundled")


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    from tinycompress.data.idx import read_idx, write_idx
    root = tmp_path_factory.mktemp("mnist")
    for split, n in (("train", 64), ("t10k", 30)):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte"
            write_idx(root / name, read_idx(os.path.join(BUNDLED, name + ".gz"))[:n])
    return str(root)


def _accuracy(capsys):
    return capsys.readouterr().out.split("test accuracy ")[1].split()[0]


def test_cli_qat_ptq_and_teacher(tiny_mnist, tmp_path, capsys):
    small = ["--epochs", "1", "--max-steps", "3", "--batch-size", "8", "--test-batch-size", "10", "--data", tiny_mnist,
             "--no-progress"]
    # QAT at 4 bits: the checkpoint and its deployed file score the same; 4-bit codes packed two per byte
    assert cli.main(["train", "--model", "lenet300_100", "--bits", "4", "--out", str(tmp_path / "q4")] + small) == 0
    capsys.readouterr()
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "q4" / "last.npz"), "--data", tiny_mnist]) == 0
    trained = _accuracy(capsys)
    assert cli.main(["export", "--checkpoint", str(tmp_path / "q4" / "last.npz"), "--out", str(tmp_path / "q4.npz")]) == 0
    assert cli.main(["eval", "--packed", str(tmp_path / "q4.npz"), "--data", tiny_mnist]) == 0
    assert _accuracy(capsys) == trained
    assert cli.main(["report", "--packed", str(tmp_path / "q4.npz"), "--json"]) == 0
    import json
    total = json.loads(capsys.readouterr().out)["total"]
    assert 4.0 < total["bits_per_weight"] < 4.5 and total["ratio"] > 7.0
    # PTQ of a float run at 8 bits: ~4x smaller than float32
    assert cli.main(["train", "--model", "lenet300_100", "--out", str(tmp_path / "f")] + small) == 0
    assert cli.main(["export", "--checkpoint", str(tmp_path / "f" / "last.npz"), "--ptq", "8", "--calibration-batches",
                     "2", "--data", tiny_mnist, "--out", str(tmp_path / "p8.npz")]) == 0
    deployed = load_deployed(tmp_path / "p8.npz")
    assert deployed.format == "quantized" and deployed.meta["ptq"]["bits"] == 8
    assert 3.9 < 266_610 * 4 / deployed.nbytes < 4.0
    # a teacher weighted 0 changes nothing: the run (init, batches, steps) is the one without a teacher
    assert cli.main(["train", "--model", "lenet300_100", "--teacher", str(tmp_path / "f" / "last.npz"), "--distill-alpha",
                     "0", "--out", str(tmp_path / "f0")] + small) == 0
    a, b = tc.load(tmp_path / "f" / "last.npz")["model"], tc.load(tmp_path / "f0" / "last.npz")["model"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # QAT fine-tuning of the float run (--init) at 2 bits, distilled from it (--teacher); it resumes as configured
    f = str(tmp_path / "f" / "last.npz")
    assert cli.main(["train", "--model", "lenet300_100", "--bits", "2", "--init", f, "--teacher", f,
                     "--distill-temperature", "2", "--out", str(tmp_path / "kd")] + small) == 0
    model, config, _ = cli.model_from_checkpoint(tmp_path / "kd" / "last.npz")
    assert config["family"]["init"] == f and config["family"]["teacher"] == f
    assert all(m.bits == 2 for m in model.modules() if isinstance(m, Q.QUANT_LAYERS))
    capsys.readouterr()
    assert cli.main(["train", "--out", str(tmp_path / "kd"), "--resume", "--bits", "4"] + small[-3:]) == 2
    assert "--bits 4 (the run has 2)" in capsys.readouterr().err
    for bad, message in ((["--bits", "9"], "--bits 9"), (["--act-bits", "4"], "--act-bits does nothing without --bits"),
                         (["--distill-alpha", "0.5"], "without --teacher")):
        assert cli.main(["train", "--model", "lenet300_100", "--out", str(tmp_path / "bad")] + bad) == 2
        assert message in capsys.readouterr().err
