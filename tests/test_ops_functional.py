"""torch.nn.functional's activations, utilities, losses and 1-D pools built from the library's ops, one table
through the op factory: forward and gradients in float32 and float64, finite differences, double backward
against torch's and gradgradcheck. Then their modules (repr, parameters) and errors against torch's.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F
from strategies import (arrays, distinct_arrays, floats32, op_table_tests, OpCase, paired_inputs, seeds, shapes,
                        unary_inputs)


def _kw(**strategies):
    return lambda shape: st.fixed_dictionaries(strategies)


def _row(name, inputs, tc_fn=None, torch_fn=None, **opts):
    return OpCase(name, [(f"F.{name}", tc_fn or getattr(F, name), torch_fn or getattr(TF, name))], inputs, **opts)


def _last_dim_even(small):
    """One array whose dim ``dim`` has an even size (glu), and that dim."""
    @st.composite
    def draw(draw):
        shape = list(draw(shapes(1, 3, 1, 3)))
        dim = draw(st.integers(-len(shape), len(shape) - 1))
        shape[dim] = 2 * draw(st.integers(1, 2))
        return [draw(arrays(tuple(shape)))], {"dim": dim}
    return draw()


def _prelu_inputs(small):
    @st.composite
    def draw(draw):
        shape = draw(shapes(2, 4, 1, 3))
        w = draw(st.sampled_from([(1,), (shape[1],)]))
        return [draw(arrays(shape, avoid=(0,))), draw(arrays(w))], {}
    return draw()


def _embedding_inputs(small):
    @st.composite
    def draw(draw):
        n, d = draw(st.integers(2, 5)), draw(st.integers(1, 3))
        idx = draw(hnp.arrays(np.int64, draw(shapes(1, 2, 1, 4)), elements=st.integers(0, n - 1)))
        pad = draw(st.sampled_from([None, 0, -1]))
        return [draw(arrays((n, d)))], {"idx": idx, "padding_idx": pad}
    return draw()


def _pixel_inputs(r_first):
    def build(small):
        @st.composite
        def draw(draw):
            r = draw(st.integers(1, 2))
            lead = draw(shapes(0, 1, 1, 2))
            c, h, w = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
            shape = lead + ((c * r * r, h, w) if r_first else (c, h * r, w * r))
            return [draw(arrays(shape))], {"r": r}
        return draw()
    return build


def _pool1d_inputs(kind):
    def build(small):
        @st.composite
        def draw(draw):
            k = draw(st.integers(1, 3))
            s, p = draw(st.integers(1, 2)), draw(st.integers(0, k // 2))
            length = draw(st.integers(k, 6))
            shape = (draw(st.integers(1, 2)), 2, length) if draw(st.booleans()) else (2, length)
            if kind == "adaptive":
                return [draw(arrays(shape))], {"output_size": draw(st.integers(1, 4))}
            kw = dict(kernel_size=k, stride=s, padding=p, ceil_mode=draw(st.booleans()))
            if kind == "max":
                return [draw(distinct_arrays(shape))], kw | {"dilation": 1}
            return [draw(arrays(shape))], kw | {"count_include_pad": draw(st.booleans())}
        return draw()
    return build


def _target_kwarg(inputs, sign=False):
    """The last drawn array as the constant ``target`` kwarg (±1 from its sign when ``sign``)."""
    def build(small):
        def move(drawn):
            arrays_, kw = drawn
            target = np.asarray(np.where(arrays_[-1] >= 0, 1.0, -1.0) if sign else arrays_[-1], np.float64)
            return arrays_[:-1], kw | {"target": target}
        return inputs(small).map(move)
    return build


def _kl_inputs(small):
    """Log-probabilities and a target: probabilities in [0.05, 1] (log y is finite), or any log-target."""
    @st.composite
    def draw(draw):
        shape = draw(shapes(0, 3, 1, 3))
        kw = dict(reduction=draw(st.sampled_from(["none", "sum", "batchmean"])), log_target=draw(st.booleans()))
        return [draw(arrays(shape, -3.0, 0.0)), draw(arrays(shape, 0.05, 1.0))], kw
    return draw()


def _embed(lib):
    def call(w, idx, padding_idx):
        index = tc.tensor(idx) if lib is F else torch.from_numpy(idx)
        return lib.embedding(index, w, padding_idx=padding_idx)
    return call


_reductions = st.sampled_from(["none", "mean", "sum"])
_positive = dict(low=0.05, high=1.0)

CASES = [
    # activations
    _row("silu", unary_inputs()),
    _row("elu", unary_inputs(avoid=(0,), kwargs=_kw(alpha=floats32(0.1, 2.0)))),
    _row("selu", unary_inputs(avoid=(0,))),
    _row("celu", unary_inputs(avoid=(0,), kwargs=_kw(alpha=floats32(0.2, 2.0)))),
    _row("gelu", unary_inputs(-8.0, 8.0, kwargs=_kw(approximate=st.sampled_from(["none", "tanh"])))),
    OpCase("erf", [("tc.erf", tc.erf, torch.erf), ("Tensor.erf", lambda x: x.erf(), lambda x: x.erf())],
           unary_inputs(-7.0, 7.0)),
    _row("logsigmoid", unary_inputs(-10.0, 10.0)),
    _row("softsign", unary_inputs(avoid=(0,))),
    _row("tanhshrink", unary_inputs()),
    _row("softmin", unary_inputs(min_dims=1, kwargs=lambda shape: st.fixed_dictionaries(
        {"dim": st.integers(-len(shape), len(shape) - 1)}))),
    # torch's own hardsigmoid backward multiplies by 1/6 rounded to float32 even in float64 (a 3e-8 relative
    # error): the reference is torch's relu6(x + 3)/6, whose float64 derivative is exact
    _row("hardsigmoid", unary_inputs(-5.0, 5.0, avoid=(-3, 3)), torch_fn=lambda x: TF.relu6(x + 3) / 6),
    _row("hardswish", unary_inputs(-5.0, 5.0, avoid=(-3, 3))),
    _row("mish", unary_inputs()),
    _row("relu6", unary_inputs(-2.0, 8.0, avoid=(0, 6))),
    _row("threshold", unary_inputs(kwargs=_kw(threshold=floats32(-1, 1), value=floats32(-2, 2)),
                                   avoid=lambda kw: (kw["threshold"],))),
    _row("hardshrink", unary_inputs(kwargs=_kw(lambd=floats32(0.1, 1.0)),
                                    avoid=lambda kw: (kw["lambd"], -kw["lambd"]))),
    _row("softshrink", unary_inputs(kwargs=_kw(lambd=floats32(0.1, 1.0)),
                                    avoid=lambda kw: (kw["lambd"], -kw["lambd"]))),
    _row("glu", _last_dim_even),
    _row("prelu", _prelu_inputs),
    # utilities
    _row("normalize", unary_inputs(min_dims=1, avoid=(0,), kwargs=lambda shape: st.fixed_dictionaries(
        {"p": st.sampled_from([1.0, 2.0, 3.0]), "dim": st.integers(-len(shape), len(shape) - 1)}))),
    # a zero vector (the eps clamp) is left out: torch's second derivative there is NaN
    _row("cosine_similarity", paired_inputs(min_dims=1, nonzero=True, kwargs=lambda shape: st.fixed_dictionaries(
        {"dim": st.integers(-len(shape), len(shape) - 1)}))),
    _row("pairwise_distance", paired_inputs(min_dims=1, avoid_diff=(0,), kwargs=_kw(
        p=st.sampled_from([1.0, 2.0, 3.0]), keepdim=st.booleans()))),
    # the padding row gets no gradient (torch's rule, not the derivative): no finite-difference check
    _row("embedding", _embedding_inputs, _embed(F), _embed(TF), gradcheck=False),
    _row("pixel_shuffle", _pixel_inputs(True), lambda x, r: F.pixel_shuffle(x, r), lambda x, r: TF.pixel_shuffle(x, r)),
    _row("pixel_unshuffle", _pixel_inputs(False), lambda x, r: F.pixel_unshuffle(x, r),
         lambda x, r: TF.pixel_unshuffle(x, r)),
    # losses
    _row("smooth_l1_loss", paired_inputs(kwargs=_kw(reduction=_reductions, beta=st.sampled_from([0.5, 1.0, 2.0])),
                                         avoid_diff=lambda kw: (kw["beta"], -kw["beta"]))),
    _row("huber_loss", paired_inputs(kwargs=_kw(reduction=_reductions, delta=st.sampled_from([0.5, 1.0, 2.0])),
                                     avoid_diff=lambda kw: (kw["delta"], -kw["delta"]))),
    _row("kl_div", _kl_inputs),
    # torch's soft_margin_loss refuses a target that requires grad (so does ours): the target is a constant
    _row("soft_margin_loss", _target_kwarg(paired_inputs(kwargs=_kw(reduction=_reductions))),
         lambda x, target, **kw: F.soft_margin_loss(x, tc.tensor(target).to(x.dtype), **kw),
         lambda x, target, **kw: TF.soft_margin_loss(x, torch.from_numpy(target).to(x.dtype), **kw)),
    _row("margin_ranking_loss", _target_kwarg(paired_inputs(count=3, kwargs=_kw(
        reduction=_reductions, margin=st.sampled_from([0.0, 0.5])), avoid_diff=lambda kw: (kw["margin"], -kw["margin"])),
        sign=True),
         lambda a, b, target, **kw: F.margin_ranking_loss(a, b, tc.tensor(target).to(a.dtype), **kw),
         lambda a, b, target, **kw: TF.margin_ranking_loss(a, b, torch.from_numpy(target).to(a.dtype), **kw)),
    # 1-D pools (the 2-D ones on a (.., 1, L) view)
    _row("max_pool1d", _pool1d_inputs("max")),
    _row("avg_pool1d", _pool1d_inputs("avg")),
    _row("adaptive_avg_pool1d", _pool1d_inputs("adaptive")),
]


# the four tests of the table: forward and gradients vs torch (float32, float64), gradcheck, double backward
# vs torch, gradgradcheck
test_op_matches_torch, test_gradcheck, test_double_backward_matches_torch, test_gradgradcheck = op_table_tests(
    CASES, gradcheck_examples=3, double_examples=3, gradgrad_examples=2)


# ----------------------------------------------------------------------------- modules and errors
MODULES = [("ELU", (0.5,)), ("CELU", ()), ("SELU", ()), ("GELU", ()), ("SiLU", ()), ("Mish", ()), ("Hardswish", ()),
           ("Hardsigmoid", ()), ("ReLU6", ()), ("LogSigmoid", ()), ("Softsign", ()), ("Tanhshrink", ()),
           ("Softmin", (1,)), ("Threshold", (0.1, 20.0)), ("GLU", ()), ("Hardshrink", ()), ("Softshrink", (0.3,)),
           ("PReLU", ()), ("PReLU", (3,)), ("SmoothL1Loss", ()), ("HuberLoss", ()), ("KLDivLoss", ()),
           ("SoftMarginLoss", ()), ("MarginRankingLoss", ()), ("MaxPool1d", (3,)), ("AvgPool1d", (3, 2, 1)),
           ("AdaptiveAvgPool1d", (4,)), ("Embedding", (10, 3)), ("PixelShuffle", (2,)), ("PixelUnshuffle", (2,)),
           ("CosineSimilarity", ()), ("PairwiseDistance", ()), ("ZeroPad2d", (1,)), ("ConstantPad1d", ((1, 2), 2.0)),
           ("ConstantPad3d", (1, -1.0))]


@pytest.mark.parametrize("name,args", MODULES, ids=[m for m, _ in MODULES])
def test_modules_repr_and_state_dict_as_torch(name, args):
    m, tm = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(m) == repr(tm)
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd) and all(sd[k].shape == tuple(tsd[k].shape) for k in tsd)


def test_prelu_and_embedding_modules_train_as_torch():
    """PReLU's learnt slope and Embedding's rows (the padding row zero and never updated) against torch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 2))
    m, tm = nn.PReLU(3).double(), torch.nn.PReLU(3).double()
    y, ty = m(tc.tensor(x)), tm(torch.tensor(x))
    g = rng.standard_normal(y.shape)
    y.backward(tc.tensor(g)), ty.backward(torch.tensor(g))
    np.testing.assert_allclose(m.weight.grad.array, tm.weight.grad.numpy(), rtol=1e-12)
    e, te = nn.Embedding(5, 2, padding_idx=1), torch.nn.Embedding(5, 2, padding_idx=1)
    assert np.all(e.weight.array[1] == 0)
    e.load_state_dict({k: v.numpy() for k, v in te.state_dict().items()})
    idx = np.array([[1, 2, 1], [4, 0, 2]])
    y, ty = e(tc.tensor(idx)), te(torch.from_numpy(idx))
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(tc.tensor(g)), ty.backward(torch.tensor(g))
    np.testing.assert_allclose(e.weight.grad.array, te.weight.grad.numpy(), rtol=1e-6, atol=1e-7)
    assert np.all(e.weight.grad.array[1] == 0)
    pre = nn.Embedding.from_pretrained(tc.tensor(np.eye(3, dtype=np.float32)))
    assert not pre.weight.requires_grad and np.array_equal(pre(tc.tensor(np.array([2]))).array, [[0, 0, 1]])


@pytest.mark.parametrize("seed", [0, 1])
def test_one_hot_as_torch(seed):
    idx = np.random.default_rng(seed).integers(0, 5, (3, 4))
    for n in (-1, 7):
        y, ty = F.one_hot(tc.tensor(idx), n), TF.one_hot(torch.from_numpy(idx), n)
        assert y.dtype == np.int64 and np.array_equal(y.array, ty.numpy())
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(tc.tensor(idx), 2)


def test_functional_errors_as_torch():
    x = tc.zeros((2, 3))
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(x, -1)
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        F.prelu(x, tc.ones(2))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(x, approximate="fast")
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(x, tc.ones((2, 3)))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.kl_div(x, x, reduction="avg")
    with pytest.raises(RuntimeError, match=r"expected 2D or 3D input \(got 4D input\)"):
        F.max_pool1d(tc.zeros((1, 2, 3, 4)), 2)
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(tc.zeros((3, 2, 2)), 2)
