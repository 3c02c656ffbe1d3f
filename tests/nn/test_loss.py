"""Loss functions and modules against torch (all reductions, weights, ignore_index, smoothing), gradcheck."""
import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given, settings, strategies as st

import tinycompress as tc
from tinycompress import nn
from tinycompress.nn import functional as F
from strategies import OpCase, class_loss_cases, double_backward_op, pair_loss_cases, upstream


def check_double_backward(data, name, fn, tfn, arrays):
    """grad(grad(f)·u, create_graph)·v w.r.t. every input and u against torch's chain, in float64."""
    double_backward_op(OpCase(name, [(name, fn, tfn)], lambda small: st.just((list(arrays), {}))), data)


def _compare(loss, loss_t, leaves, leaves_t, seed=0, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(loss.array, loss_t.detach().numpy(), rtol=rtol, atol=atol)
    assert loss.dtype == np.float32 and loss.shape == tuple(loss_t.shape)
    g = upstream(seed, loss.shape, np.float32)
    loss.backward(tc.tensor(g))
    loss_t.backward(torch.tensor(g))
    for a, b in zip(leaves, leaves_t):
        np.testing.assert_allclose(a.grad.array, b.grad.numpy(), rtol=rtol, atol=atol)


@given(class_loss_cases())
def test_cross_entropy_matches_torch(case):
    logits, target, weight, ignore, reduction, eps = case
    x, xt = tc.tensor(logits.astype(np.float32), requires_grad=True), torch.tensor(logits.astype(np.float32),
                                                                                 requires_grad=True)
    w = None if weight is None else weight.astype(np.float32)
    ours = nn.CrossEntropyLoss(None if w is None else tc.tensor(w), ignore_index=ignore, reduction=reduction,
                               label_smoothing=eps)
    theirs = torch.nn.CrossEntropyLoss(None if w is None else torch.tensor(w), ignore_index=ignore,
                                       reduction=reduction, label_smoothing=eps)
    _compare(ours(x, tc.tensor(target)), theirs(xt, torch.tensor(target)), [x], [xt])


@given(class_loss_cases())
def test_nll_loss_matches_torch(case):
    logits, target, weight, ignore, reduction, _ = case
    logp = TF.log_softmax(torch.tensor(logits), 1).numpy().astype(np.float32)
    x, xt = tc.tensor(logp, requires_grad=True), torch.tensor(logp, requires_grad=True)
    w = None if weight is None else weight.astype(np.float32)
    loss = F.nll_loss(x, tc.tensor(target), weight=None if w is None else tc.tensor(w), ignore_index=ignore,
                      reduction=reduction)
    loss_t = TF.nll_loss(xt, torch.tensor(target), weight=None if w is None else torch.tensor(w),
                         ignore_index=ignore, reduction=reduction)
    _compare(loss, loss_t, [x], [xt])


def test_cross_entropy_stable_for_huge_logits_and_1d_input():
    x = tc.tensor([[1e4, -1e4, 0.0], [3e4, 3e4, -3e4]], requires_grad=True)
    xt = torch.tensor(x.array, requires_grad=True)
    _compare(F.cross_entropy(x, tc.tensor([1, 0])), TF.cross_entropy(xt, torch.tensor([1, 0])), [x], [xt])
    v, vt = tc.tensor([0.5, -1.0, 2.0], requires_grad=True), torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    _compare(F.cross_entropy(v, tc.tensor(2)), TF.cross_entropy(vt, torch.tensor(2)), [v], [vt])


@given(pair_loss_cases())
def test_pair_losses_match_torch(case):
    x, y, w, pw, reduction = case
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    prob = 1 / (1 + np.exp(-x32))
    runs = [
        (nn.MSELoss(reduction=reduction), torch.nn.MSELoss(reduction=reduction), x32),
        (nn.L1Loss(reduction=reduction), torch.nn.L1Loss(reduction=reduction), x32),
        (nn.BCELoss(None if w is None else w.astype(np.float32), reduction=reduction),
         torch.nn.BCELoss(None if w is None else torch.tensor(w.astype(np.float32)), reduction=reduction), prob),
        (nn.BCEWithLogitsLoss(None if w is None else w.astype(np.float32), reduction=reduction,
                              pos_weight=None if pw is None else pw.astype(np.float32)),
         torch.nn.BCEWithLogitsLoss(None if w is None else torch.tensor(w.astype(np.float32)), reduction=reduction,
                                    pos_weight=None if pw is None else torch.tensor(pw.astype(np.float32))), x32),
    ]
    for ours, theirs, inp in runs:
        a, at = tc.tensor(inp, requires_grad=True), torch.tensor(inp, requires_grad=True)
        b, bt = tc.tensor(y32, requires_grad=True), torch.tensor(y32, requires_grad=True)
        _compare(ours(a, b), theirs(at, bt), [a, b], [at, bt], rtol=2e-4, atol=2e-5)


def test_bce_clamps_log_at_minus_100_like_torch():
    p = np.array([0.0, 1.0, 0.5, 1e-30], np.float32)
    y = np.array([1.0, 0.0, 1.0, 1.0], np.float32)
    ours = F.binary_cross_entropy(tc.tensor(p), tc.tensor(y), reduction="none")
    np.testing.assert_allclose(ours.array, TF.binary_cross_entropy(torch.tensor(p), torch.tensor(y),
                                                                 reduction="none").numpy(), rtol=1e-6)


@settings(max_examples=8)
@given(class_loss_cases(small=True))
def test_cross_entropy_and_nll_gradcheck(case):
    logits, target, weight, ignore, reduction, eps = case
    x = tc.tensor(logits, requires_grad=True)
    w = None if weight is None else tc.tensor(weight)
    t = tc.tensor(target)
    assert tc.autograd.gradcheck(lambda a: F.cross_entropy(a, t, w, ignore_index=ignore, reduction=reduction,
                                                           label_smoothing=eps), (x,))
    assert tc.autograd.gradcheck(lambda a: F.nll_loss(a, t, w, ignore_index=ignore, reduction=reduction), (x,))


@settings(max_examples=8)
@given(pair_loss_cases(small=True))
def test_pair_losses_gradcheck(case):
    x, y, w, pw, reduction = case
    a, b = tc.tensor(x + 0.01 * np.sign(x - y), requires_grad=True), tc.tensor(y, requires_grad=True)
    p = tc.tensor(np.clip(1 / (1 + np.exp(-x)), 0.05, 0.95), requires_grad=True)
    wt = None if w is None else tc.tensor(w)
    pwt = None if pw is None else tc.tensor(pw)
    assert tc.autograd.gradcheck(lambda u, v: F.mse_loss(u, v, reduction=reduction), (a, b))
    assert tc.autograd.gradcheck(lambda u, v: F.l1_loss(u, v, reduction=reduction), (a, b))
    assert tc.autograd.gradcheck(lambda u, v: F.binary_cross_entropy(u, v, wt, reduction=reduction), (p, b))
    assert tc.autograd.gradcheck(lambda u, v: F.binary_cross_entropy_with_logits(
        u, v, wt, reduction=reduction, pos_weight=pwt), (a, b))


def test_loss_errors_are_clear():
    x = tc.randn(3, 4)
    with pytest.raises(IndexError, match="out of bounds for 4 classes"):
        F.cross_entropy(x, tc.tensor([0, 4, 1]))
    with pytest.raises(RuntimeError, match="integer dtype"):
        F.cross_entropy(x, tc.tensor([0.0, 1.0, 1.0]))
    with pytest.raises(ValueError, match="target of shape"):
        F.nll_loss(x, tc.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="must equal input size"):
        F.l1_loss(x, tc.randn(4, 3))
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(x * 10, tc.rand(3, 4))


@settings(max_examples=8)
@given(case=class_loss_cases(), data=st.data())
def test_cross_entropy_and_nll_double_backward_match_torch(case, data):
    """cross_entropy's fused backward differentiated again (p = softmax(x) recomputed); nll's backward is a
    scatter whose derivative w.r.t. x is zero and w.r.t. the upstream gradient nll_loss itself."""
    logits, target, weight, ignore, reduction, eps = case
    opts = dict(ignore_index=ignore, reduction=reduction)
    w, wt = (None, None) if weight is None else (tc.tensor(weight), torch.tensor(weight))
    check_double_backward(data, "cross_entropy",
                          lambda a: F.cross_entropy(a, tc.tensor(target), w, label_smoothing=eps, **opts),
                          lambda a: TF.cross_entropy(a, torch.tensor(target), wt, label_smoothing=eps, **opts), [logits])
    check_double_backward(data, "nll_loss", lambda a: F.nll_loss(a, tc.tensor(target), w, **opts),
                          lambda a: TF.nll_loss(a, torch.tensor(target), wt, **opts), [logits])


@settings(max_examples=8)
@given(case=pair_loss_cases(), data=st.data())
def test_pair_losses_double_backward_match_torch(case, data):
    x, y, w, pw, reduction = case
    x = x + 0.05 * np.sign(x - y)                                        # away from l1's kink
    prob = np.clip(1 / (1 + np.exp(-x)), 0.05, 0.95)
    wo, wt = (None, None) if w is None else (tc.tensor(w), torch.tensor(w))
    po, pt = (None, None) if pw is None else (tc.tensor(pw), torch.tensor(pw))
    r = dict(reduction=reduction)
    check_double_backward(data, "mse_loss", lambda a, b: F.mse_loss(a, b, **r), lambda a, b: TF.mse_loss(a, b, **r), [x, y])
    check_double_backward(data, "l1_loss", lambda a, b: F.l1_loss(a, b, **r), lambda a, b: TF.l1_loss(a, b, **r), [x, y])
    check_double_backward(data, "binary_cross_entropy", lambda a, b: F.binary_cross_entropy(a, b, wo, **r),
                          lambda a, b: TF.binary_cross_entropy(a, b, wt, **r), [prob, y])
    check_double_backward(data, "binary_cross_entropy_with_logits",
                          lambda a, b: F.binary_cross_entropy_with_logits(a, b, wo, pos_weight=po, **r),
                          lambda a, b: TF.binary_cross_entropy_with_logits(a, b, wt, pos_weight=pt, **r), [x, y])


def test_nll_second_derivative_wrt_input_is_zeros():
    x = tc.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    (gx,) = tc.autograd.grad(F.nll_loss(x, tc.tensor([0, 3, 1])), x, create_graph=True)
    (gxx,) = tc.autograd.grad((gx * gx).sum(), x)          # x is in the graph of its gradient: zeros, as torch
    np.testing.assert_array_equal(gxx.array, np.zeros((3, 4)))


@settings(max_examples=4)
@given(class_loss_cases(small=True), pair_loss_cases(small=True))
def test_losses_gradgradcheck(class_case, pair_case):
    logits, target, weight, ignore, reduction, eps = class_case
    w = None if weight is None else tc.tensor(weight)
    assert tc.autograd.gradgradcheck(lambda a: F.cross_entropy(a, tc.tensor(target), w, ignore_index=ignore,
                                                               reduction=reduction, label_smoothing=eps),
                                     (tc.tensor(logits, requires_grad=True),))
    x, y, wp, pw, reduction = pair_case
    a, b = tc.tensor(x, requires_grad=True), tc.tensor(y, requires_grad=True)
    p = tc.tensor(np.clip(1 / (1 + np.exp(-x)), 0.1, 0.9), requires_grad=True)
    assert tc.autograd.gradgradcheck(lambda u, v: F.mse_loss(u, v, reduction=reduction), (a, b))
    assert tc.autograd.gradgradcheck(lambda u, v: F.binary_cross_entropy(u, v, reduction=reduction), (p, b))
    assert tc.autograd.gradgradcheck(lambda u, v: F.binary_cross_entropy_with_logits(
        u, v, None if wp is None else tc.tensor(wp), reduction=reduction,
        pos_weight=None if pw is None else tc.tensor(pw)), (a, b))
