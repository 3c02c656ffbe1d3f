"""BatchNorm1d/2d and F.batch_norm against torch's modules over several training steps, then eval."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.ops.normalization import batch_norm
from strategies import OpCase, double_backward_op, seeds


def check_double_backward(data, name, fn, tfn, arrays):
    """grad(grad(f)·u, create_graph)·v w.r.t. every input and u against torch's chain, in float64."""
    double_backward_op(OpCase(name, [(name, fn, tfn)], lambda small: st.just((list(arrays), {}))), data)


def _pair(kind, c, **kw):
    return getattr(nn, kind)(c, **kw), getattr(torch.nn, kind)(c, **kw).double()


@pytest.mark.parametrize("kind,extra", [("BatchNorm1d", ()), ("BatchNorm1d", (4,)), ("BatchNorm2d", (3, 4))])
@given(momentum=st.sampled_from([0.1, 0.3, None]), affine=st.booleans(), track=st.booleans(),
       steps=st.integers(1, 4), seed=seeds())
def test_batchnorm_module_matches_torch(kind, extra, momentum, affine, track, steps, seed):
    rng = np.random.default_rng(seed)
    c = 3
    m, tm = _pair(kind, c, momentum=momentum, affine=affine, track_running_stats=track)
    m.double()
    if affine:
        w, b = rng.standard_normal(c), rng.standard_normal(c)
        m.weight.array[...] = w
        m.bias.array[...] = b
        with torch.no_grad():
            tm.weight.copy_(torch.tensor(w))
            tm.bias.copy_(torch.tensor(b))
    for mode in ["train"] * steps + ["eval"]:
        getattr(m, mode)(), getattr(tm, mode)()
        x = rng.standard_normal((5, c) + extra) * 2 + 1
        xt = tc.tensor(x, requires_grad=True)
        tt = torch.tensor(x, requires_grad=True)
        y, ty = m(xt), tm(tt)
        g = rng.standard_normal(x.shape)
        (y * tc.tensor(g)).sum().backward()
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(xt.grad.array, tt.grad.numpy(), rtol=1e-8, atol=1e-9)
        if affine:
            np.testing.assert_allclose(m.weight.grad.array, tm.weight.grad.numpy(), rtol=1e-8, atol=1e-9)
            np.testing.assert_allclose(m.bias.grad.array, tm.bias.grad.numpy(), rtol=1e-8, atol=1e-9)
            m.zero_grad(), tm.zero_grad()
    sd, tsd = m.state_dict(), tm.state_dict()
    assert list(sd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(sd[k], tsd[k].numpy(), rtol=1e-9, atol=1e-12)
        if k == "num_batches_tracked":
            assert sd[k].dtype == np.int64


@pytest.mark.parametrize("shape", [(6, 4), (3, 4, 2, 5)])
@given(training=st.booleans(), seed=seeds())
def test_functional_batch_norm_float32(shape, training, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    w, b = rng.standard_normal(4).astype(np.float32), rng.standard_normal(4).astype(np.float32)
    rm, rv = rng.standard_normal(4).astype(np.float32), (rng.random(4) + 0.5).astype(np.float32)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    xs = [tc.tensor(a, requires_grad=True) for a in (x, w, b)]
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    y = batch_norm(xs[0], rm, rv, xs[1], xs[2], training=training, momentum=0.2)
    ty = torch.nn.functional.batch_norm(ts[0], trm, trv, ts[1], ts[2], training=training, momentum=0.2)
    assert y.dtype == np.float32
    g = rng.standard_normal(shape).astype(np.float32)
    (y * tc.tensor(g)).sum().backward()
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(y.array, ty.detach().numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(rm, trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(rv, trv.numpy(), rtol=1e-5, atol=1e-6)
    for a, t in zip(xs, ts):
        assert a.grad.dtype == np.float32
        np.testing.assert_allclose(a.grad.array, t.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_batch_norm_gradcheck():
    rng = np.random.default_rng(1)
    args = [tc.tensor(a, requires_grad=True) for a in (rng.standard_normal((4, 3, 2)), rng.standard_normal(3),
                                                       rng.standard_normal(3))]
    assert tc.autograd.gradcheck(lambda x, w, b: batch_norm(x, None, None, w, b, training=True), args)


def test_batchnorm_dimension_errors_and_reset():
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(tc.zeros((2, 3, 4, 4)))
    with pytest.raises(ValueError, match=r"expected 4D input \(got 2D input\)"):
        nn.BatchNorm2d(3)(tc.zeros((2, 3)))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(tc.zeros((1, 3)))
    m = nn.BatchNorm2d(3)
    m(tc.randn(4, 3, 2, 2))
    assert int(m.num_batches_tracked.array) == 1 and not np.allclose(m.running_mean.array, 0)
    m.reset_running_stats()
    assert int(m.num_batches_tracked.array) == 0 and np.all(m.running_mean.array == 0) and np.all(m.running_var.array == 1)
    assert repr(m) == repr(torch.nn.BatchNorm2d(3))
    for kw in (dict(affine=False), dict(bias=False), dict(track_running_stats=False)):
        assert repr(nn.BatchNorm1d(3, **kw)) == repr(torch.nn.BatchNorm1d(3, **kw))
        assert list(nn.BatchNorm1d(3, **kw).state_dict()) == list(torch.nn.BatchNorm1d(3, **kw).state_dict())


@settings(max_examples=8)
@given(shape=st.sampled_from([(5, 3), (3, 2, 4), (2, 3, 3, 2)]), training=st.booleans(), affine=st.booleans(),
       seed=seeds(), data=st.data())
def test_batch_norm_double_backward_matches_torch(shape, training, affine, seed, data):
    """Training: the fused formula differentiated again through the recomputed x̂ and σ (torch's
    batchnorm_double_backward); eval: linear in x with the running statistics constant."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    mean, var = rng.standard_normal(c), rng.uniform(0.5, 2.0, c)
    arrays = [rng.standard_normal(shape) * 2 + 1] + ([rng.standard_normal(c), rng.standard_normal(c)] if affine else [])

    def ours(x, *wb):
        return batch_norm(x, tc.tensor(mean), tc.tensor(var), *wb, training=training, eps=1e-3)

    def theirs(x, *wb):
        return torch.nn.functional.batch_norm(x, torch.tensor(mean), torch.tensor(var), *wb, training=training, eps=1e-3)
    check_double_backward(data, f"batch_norm training={training}", ours, theirs, arrays)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradgradcheck(training):
    rng = np.random.default_rng(1)
    x = tc.tensor(rng.standard_normal((3, 2, 2, 2)), requires_grad=True)
    w, b = tc.tensor(rng.standard_normal(2), requires_grad=True), tc.tensor(rng.standard_normal(2), requires_grad=True)
    mean, var = tc.tensor(rng.standard_normal(2)), tc.tensor(rng.uniform(0.5, 2.0, 2))
    assert tc.autograd.gradgradcheck(lambda x, w, b: batch_norm(x, None if training else mean,
                                                                None if training else var, w, b, training=training),
                                     (x, w, b))


@settings(max_examples=6)
@given(shape=st.sampled_from([(5, 3), (3, 2, 4), (2, 3, 3, 2)]), seed=seeds())
def test_batch_norm_third_derivative_by_finite_differences(shape, seed):
    """The double backward (one NativeBatchNormBackwardBackward0 node) is itself differentiated, through x̂ and
    σ recomputed from x: gradcheck of (x, γ, β) ↦ the second derivatives ∂(Σ u·∂(Σ w·bn)/∂inputs)/∂inputs.
    Not against torch: torch's third derivative treats the saved μ and 1/σ as constants (on (5, 3) inputs its
    ∂/∂x is off by 0.43 from finite differences of its own second derivative; ours agrees to 4e-11)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    arrays = [rng.standard_normal(shape) * 2 + 1, rng.standard_normal(c), rng.standard_normal(c)]
    w = tc.tensor(rng.standard_normal(shape))
    u = [tc.tensor(rng.standard_normal(a.shape)) for a in arrays]

    def second_derivatives(*inputs):
        first = tc.autograd.grad((batch_norm(*inputs[:1], None, None, *inputs[1:], training=True, eps=1e-3)
                                  * w).sum(), inputs, create_graph=True)
        return tc.autograd.grad(sum((g * d).sum() for g, d in zip(first, u)), inputs[:2], create_graph=True)
    inputs = [tc.tensor(a, requires_grad=True) for a in arrays]
    assert tc.autograd.gradcheck(second_derivatives, inputs)


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_create_graph_backward_is_one_node_as_torch(training):
    """Under create_graph the three gradients come from one node named as torch names it."""
    rng = np.random.default_rng(0)
    x = tc.tensor(rng.standard_normal((4, 3, 2)), requires_grad=True)
    w, b = tc.ones(3, dtype=tc.float64, requires_grad=True), tc.zeros(3, dtype=tc.float64, requires_grad=True)
    y = batch_norm(x, tc.zeros(3, dtype=tc.float64), tc.ones(3, dtype=tc.float64), w, b, training=training)
    grads = tc.autograd.grad((y ** 3).sum(), (x, w, b), create_graph=True)
    assert [g.grad_fn.name() for g in grads] == ["NativeBatchNormBackwardBackward0"] * 3
    assert grads[0].grad_fn is grads[1].grad_fn is grads[2].grad_fn
