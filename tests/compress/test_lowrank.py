"""SVD low-rank layers, regularisers and truncation (compress/lowrank.py) against torch twins."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinycompress as tc
from strategies import seeds
from tinycompress import nn
from tinycompress.compress.lowrank import (Conv2dSVD, LinearSVD, SVDRegularizer, energy_rank, format_summary,
                                           match_ranks, svd_layers, svd_regularizer, truncate)

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _t(a, grad=True):
    return torch.tensor(np.asarray(a), requires_grad=grad)


def _close(actual, expected, rtol=2e-4, atol=2e-5, what=""):
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    actual = actual.array if isinstance(actual, tc.Tensor) else actual
    scale = max(1.0, float(np.abs(expected).max())) if np.size(expected) else 1.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol * scale, err_msg=what)


def _randomise(layer, rng, orthonormal=False):
    """Random (not orthonormal) factors of the layer's current shapes, and a random bias."""
    with tc.no_grad():
        for p in (layer.U, layer.s, layer.V) + ((layer.bias,) if layer.bias is not None else ()):
            p.copy_(rng.standard_normal(p.shape).astype(p.dtype) * 0.5)


def _torch_kernel(layer, U, s, V):
    """The dense kernel a factorised layer stands for, rebuilt in torch from U, s, V."""
    M = (U * s) @ V.T
    if isinstance(layer, LinearSVD):
        return M
    n, c, (kh, kw) = layer.out_channels, layer.in_channels, layer.kernel_size
    if layer.decomposition == "channel":
        return M.reshape(n, c, kh, kw)
    return M.reshape(c, kh, n, kw).permute(2, 0, 1, 3)


# ----------------------------------------------------------------------------- LinearSVD
@given(n_in=st.integers(1, 12), n_out=st.integers(1, 12), batch=st.integers(1, 5), bias=st.booleans(),
       rank_frac=st.floats(0.01, 1.0), path=st.sampled_from(["factors", "dense", "auto"]),
       seed=seeds())
def test_linear_svd_forward_backward_vs_torch(n_in, n_out, batch, bias, rank_frac, path, seed):
    rng = np.random.default_rng(seed)
    rank = max(1, int(round(rank_frac * min(n_in, n_out))))
    layer = LinearSVD(n_in, n_out, bias=bias, rank=rank)
    layer.forward_path = path
    _randomise(layer, rng)
    x = rng.standard_normal((batch, n_in)).astype(np.float32)
    g = rng.standard_normal((batch, n_out)).astype(np.float32)
    xt = tc.tensor(x, requires_grad=True)
    y = layer(xt)
    y.backward(tc.tensor(g))
    assert y.dtype == np.float32 and layer.U.grad.dtype == np.float32

    X, U, s, V = _t(x), _t(layer.U.array), _t(layer.s.array), _t(layer.V.array)
    Y = TF.linear(X, _torch_kernel(layer, U, s, V), _t(layer.bias.array) if bias else None)
    Y.backward(torch.tensor(g))
    _close(y, Y, what="output")
    for mine, theirs, name in [(xt, X, "x"), (layer.U, U, "U"), (layer.s, s, "s"), (layer.V, V, "V")]:
        _close(mine.grad, theirs.grad, what=name)


def test_linear_svd_batched_leading_dims_and_bad_input():
    layer = LinearSVD(6, 4, rank=3)
    x = tc.randn(2, 3, 6)
    with tc.no_grad():
        ref = x.array @ layer.weight.array.T + layer.bias.array
        for path in ("factors", "dense"):
            layer.forward_path = path
            _close(layer(x), ref)
    with pytest.raises(RuntimeError, match="in_features=6"):
        layer(tc.randn(2, 5))
    with pytest.raises(ValueError, match="rank"):
        LinearSVD(6, 4, rank=5)
    layer.forward_path = "sideways"
    with pytest.raises(ValueError, match="forward_path"):
        layer(x)


def test_linear_svd_auto_path_rule():
    wide = LinearSVD(300, 300, rank=10)            # r(m+n) = 6,000 < m·n = 90,000: factors win
    assert wide._use_factors(64)
    full = LinearSVD(20, 20)                       # r(m+n) = 800 > 400 per row, forming W is cheap
    assert not full._use_factors(1000)
    assert full.macs(1000) == (1000 + 20) * 400 and wide.macs(64) == 64 * 10 * 600


def test_fresh_full_rank_linear_svd_is_the_fresh_linear():
    tc.manual_seed(7)
    dense = nn.Linear(9, 5)
    tc.manual_seed(7)
    layer = LinearSVD(9, 5)
    assert layer.rank == 5 and {n for n, _ in layer.named_parameters()} == {"U", "s", "V", "bias"}
    _close(layer.weight, dense.weight.array, atol=1e-6)
    _close(layer.bias, dense.bias.array, atol=0)
    assert np.all(np.isfinite(layer.s.array)) and np.all(np.diff(layer.s.array) <= 0)


@given(n_in=st.integers(1, 10), n_out=st.integers(1, 10), bias=st.booleans(), seed=seeds())
def test_linear_from_dense_then_forward_equals_dense(n_in, n_out, bias, seed):
    rng = np.random.default_rng(seed)
    dense = nn.Linear(n_in, n_out, bias=bias)
    x = rng.standard_normal((4, n_in)).astype(np.float32)
    expected = TF.linear(_t(x, False), _t(dense.weight.array, False), _t(dense.bias.array, False) if bias else None)
    state = tc.random.get_rng_state()
    layer = LinearSVD.from_dense(dense)
    assert tc.random.get_rng_state() == state        # building it does not shift the random stream
    for path in ("factors", "dense"):
        layer.forward_path = path
        _close(layer(tc.tensor(x)), expected, what=path)
    back = layer.to_dense()
    assert type(back) is nn.Linear
    _close(back.weight, dense.weight.array, atol=1e-5)
    _close(back(tc.tensor(x)), expected)


def test_linear_from_dense_low_rank_is_the_best_approximation():
    dense = nn.Linear(8, 6)
    layer = LinearSVD.from_dense(dense, rank=2)
    U, S, Vh = torch.linalg.svd(torch.tensor(dense.weight.array, dtype=torch.float64))
    _close(layer.weight, (U[:, :2] * S[:2]) @ Vh[:2], atol=1e-5)


# ----------------------------------------------------------------------------- Conv2dSVD
@settings(max_examples=30)
@given(c=st.integers(1, 3), n=st.integers(1, 4), kh=st.integers(1, 3), kw=st.integers(1, 3),
       stride=st.tuples(st.integers(1, 2), st.integers(1, 2)), padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
       dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)), bias=st.booleans(),
       decomposition=st.sampled_from(["channel", "spatial"]), rank_frac=st.floats(0.01, 1.0),
       path=st.sampled_from(["factors", "dense", "auto"]), seed=seeds())
def test_conv2d_svd_forward_backward_vs_torch(c, n, kh, kw, stride, padding, dilation, bias, decomposition,
                                              rank_frac, path, seed):
    rng = np.random.default_rng(seed)
    full = min(n, c * kh * kw) if decomposition == "channel" else min(c * kh, n * kw)
    rank = max(1, int(round(rank_frac * full)))
    layer = Conv2dSVD(c, n, (kh, kw), stride=stride, padding=padding, dilation=dilation, bias=bias,
                      decomposition=decomposition, rank=rank)
    layer.forward_path = path
    _randomise(layer, rng)
    H = dilation[0] * (kh - 1) + 1 + int(rng.integers(0, 4))
    W = dilation[1] * (kw - 1) + 1 + int(rng.integers(0, 4))
    x = rng.standard_normal((2, c, H, W)).astype(np.float32)
    xt = tc.tensor(x, requires_grad=True)
    y = layer(xt)
    g = rng.standard_normal(y.shape).astype(np.float32)
    y.backward(tc.tensor(g))

    X, U, s, V = _t(x), _t(layer.U.array), _t(layer.s.array), _t(layer.V.array)
    B = _t(layer.bias.array) if bias else None
    Y = TF.conv2d(X, _torch_kernel(layer, U, s, V), B, stride, padding, dilation)
    Y.backward(torch.tensor(g))
    assert y.shape == tuple(Y.shape)
    _close(y, Y, what="output")
    named = [(xt, X, "x"), (layer.U, U, "U"), (layer.s, s, "s"), (layer.V, V, "V")]
    if bias:
        named.append((layer.bias, B, "bias"))
    for mine, theirs, name in named:
        _close(mine.grad, theirs.grad, what=name)


@settings(max_examples=20)
@given(c=st.integers(1, 3), n=st.integers(1, 4), k=st.tuples(st.integers(1, 3), st.integers(1, 3)),
       stride=st.integers(1, 2), padding=st.integers(0, 1), dilation=st.integers(1, 2), bias=st.booleans(),
       decomposition=st.sampled_from(["channel", "spatial"]), seed=seeds())
def test_conv_from_dense_then_forward_equals_dense(c, n, k, stride, padding, dilation, bias, decomposition, seed):
    rng = np.random.default_rng(seed)
    dense = nn.Conv2d(c, n, k, stride=stride, padding=padding, dilation=dilation, bias=bias)
    x = rng.standard_normal((2, c, 7, 6)).astype(np.float32)
    expected = TF.conv2d(_t(x, False), _t(dense.weight.array, False), _t(dense.bias.array, False) if bias else None,
                         stride, padding, dilation)
    layer = Conv2dSVD.from_dense(dense, decomposition)
    for path in ("factors", "dense"):
        layer.forward_path = path
        _close(layer(tc.tensor(x)), expected, what=path)
    _close(layer.weight, dense.weight.array, atol=1e-5)
    back = layer.to_dense()
    assert type(back) is nn.Conv2d and back.stride == dense.stride and back.dilation == dense.dilation
    _close(back(tc.tensor(x)), expected)


def test_conv_svd_rejects_what_it_cannot_factorise():
    with pytest.raises(ValueError, match="groups=1"):
        Conv2dSVD(4, 4, 3, groups=2)
    with pytest.raises(ValueError, match="decomposition"):
        Conv2dSVD(4, 4, 3, decomposition="depth")
    with pytest.raises(ValueError, match="rank"):
        Conv2dSVD(2, 3, 3, rank=4)                            # channel: M is 3 × 18
    assert Conv2dSVD(2, 3, 3, decomposition="spatial", rank=6).rank == 6   # spatial: M is 6 × 9
    with pytest.raises(RuntimeError, match="expected input"):
        Conv2dSVD(2, 3, 3)(tc.randn(1, 3, 5, 5))


# ----------------------------------------------------------------------------- regularisers
def _torch_regulariser(factors, lambda_o, lambda_s, sparsity):
    total = 0
    for U, s, V in factors:
        r = U.shape[1]
        eye = torch.eye(r, dtype=U.dtype)
        lo = (torch.linalg.matrix_norm(U.T @ U - eye) ** 2 + torch.linalg.matrix_norm(V.T @ V - eye) ** 2) / r**2
        ls = s.abs().sum() / torch.linalg.vector_norm(s) if sparsity == "hoyer" else torch.linalg.vector_norm(s, 1)
        total = total + lambda_o * lo + lambda_s * ls
    return total


@given(lambda_o=st.floats(0.0, 2.0), lambda_s=st.floats(0.0, 2.0), sparsity=st.sampled_from(["hoyer", "l1"]),
       seed=seeds())
def test_regulariser_value_and_gradients_vs_torch(lambda_o, lambda_s, sparsity, seed):
    rng = np.random.default_rng(seed)
    model = nn.Sequential(LinearSVD(7, 5, rank=4), nn.ReLU(), nn.Linear(5, 5),
                          nn.Sequential(Conv2dSVD(2, 3, 3, decomposition="spatial", rank=5)))
    layers = [m for _, m in svd_layers(model)]
    assert len(layers) == 2                                   # found by type, at any depth
    for layer in layers:
        _randomise(layer, rng)
        with tc.no_grad():                                    # keep s away from 0, where |s| has a kink
            layer.s.copy_(np.where(np.abs(layer.s.array) < 0.05, 0.1, layer.s.array))
    loss = svd_regularizer(model, lambda_o, lambda_s, sparsity)
    loss.backward()
    factors = [(_t(m.U.array), _t(m.s.array), _t(m.V.array)) for m in layers]
    expected = _torch_regulariser(factors, lambda_o, lambda_s, sparsity)
    assert loss.shape == () and loss.dtype == np.float32
    _close(loss, expected, what="value")
    if not (lambda_o or lambda_s):
        return
    expected.backward()
    for layer, (U, s, V) in zip(layers, factors):
        for mine, theirs, name in [(layer.U, U, "U"), (layer.s, s, "s"), (layer.V, V, "V")]:
            _close(mine.grad, theirs.grad, what=name)


def test_regulariser_edge_cases_and_callback():
    dense = nn.Sequential(nn.Linear(3, 2))
    zero = svd_regularizer(dense, 1.0, 1.0)
    assert zero.item() == 0.0
    with pytest.raises(ValueError, match="sparsity"):
        svd_regularizer(dense, 1.0, 1.0, sparsity="l2")
    with pytest.raises(ValueError, match=">= 0|≥ 0"):
        svd_regularizer(dense, -1.0, 1.0)

    class _Trainer:
        model = nn.Sequential(LinearSVD(6, 4))
    cb = SVDRegularizer(0.5, 0.01, "l1")
    cb.on_train_begin(_Trainer)
    _close(cb.extra_loss(_Trainer), svd_regularizer(_Trainer.model, 0.5, 0.01, "l1").array, atol=0)
    assert SVDRegularizer(0.0, 0.0).extra_loss(_Trainer) is None
    _Trainer.model = dense
    with pytest.raises(ValueError, match="LinearSVD"):
        cb.on_train_begin(_Trainer)


def test_orthonormal_factors_have_zero_orthogonality_loss():
    layer = LinearSVD(8, 5)                                   # initialised from an SVD: UᵀU = VᵀV = I
    assert svd_regularizer(layer, 1.0, 0.0).item() < 1e-10
    assert svd_regularizer(layer, 0.0, 1.0, "hoyer").item() >= 1.0 - 1e-6   # Hoyer ≥ 1


# ----------------------------------------------------------------------------- truncation
@given(n_in=st.integers(2, 12), n_out=st.integers(2, 12), seed=seeds(), data=st.data())
def test_truncate_keeps_the_smallest_rank_holding_the_energy(n_in, n_out, seed, data):
    rng = np.random.default_rng(seed)
    layer = LinearSVD(n_in, n_out)
    _randomise(layer, rng)                                    # U, V far from orthonormal
    w = torch.tensor(layer.weight.array, dtype=torch.float64)
    Uw, S, Vh = torch.linalg.svd(w, full_matrices=False)
    fraction = (torch.cumsum(S**2, 0) / (S**2).sum()).numpy()
    k = data.draw(st.integers(1, len(S)), label="k")
    lower = fraction[k - 2] if k > 1 else 0.0
    if fraction[k - 1] - lower < 1e-6:                        # (near-)tied singular values: no clean cut
        return
    energy = float((lower + fraction[k - 1]) / 2) if k < len(S) else 1.0
    (row,) = truncate(layer, energy)
    assert row["rank_before"] == min(n_in, n_out) and row["rank_after"] == k == layer.rank
    assert row["energy"] >= energy and abs(row["energy"] - fraction[k - 1]) < 1e-6
    assert row["params_after"] == k * (n_in + n_out + 1) + n_out
    eye = np.eye(k)
    _close(layer.U.array.T @ layer.U.array, eye, atol=1e-5)
    _close(layer.V.array.T @ layer.V.array, eye, atol=1e-5)
    _close(layer.s, S[:k], atol=1e-5)
    _close(layer.weight, (Uw[:, :k] * S[:k]) @ Vh[:k], atol=1e-5)   # the best rank-k approximation


def test_energy_rank_boundaries():
    s = np.array([3.0, 2.0, 1.0])                             # energies 9, 4, 1 of 14
    assert energy_rank(s, 9 / 14)[0] == 1
    assert energy_rank(s, 9 / 14 + 1e-9)[0] == 2
    assert energy_rank(s, 1.0)[0] == 3
    assert energy_rank(np.array([1.0, 0.0]), 1.0) == (1, 1.0)
    assert energy_rank(np.zeros(3), 0.5) == (1, 1.0)
    with pytest.raises(ValueError, match="energy"):
        energy_rank(s, 0.0)


def test_truncate_without_orthonormalising_sorts_by_magnitude():
    layer = LinearSVD(5, 4)
    with tc.no_grad():
        layer.s.copy_(np.array([0.1, -3.0, 0.2, 2.0], np.float32))
    U, V = layer.U.array.copy(), layer.V.array.copy()
    (row,) = truncate(layer, 0.9, orthonormalize=False)       # 9 + 4 = 13 of 13.05
    assert row["rank_after"] == 2
    _close(layer.s, np.array([-3.0, 2.0]), atol=0)
    _close(layer.U, U[:, [1, 3]], atol=0)
    _close(layer.V, V[:, [1, 3]], atol=0)


def test_truncated_checkpoint_loads_into_a_fresh_model_and_pipeline_runs():
    tc.manual_seed(0)
    model = nn.Sequential(LinearSVD(10, 8), nn.ReLU(), nn.Sequential(LinearSVD(8, 6)))
    x = tc.randn(5, 10)
    optimizer = tc.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(3):                                        # regularised training steps
        loss = (model(x) ** 2).mean() + svd_regularizer(model, 0.1, 0.01)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    summary = truncate(model, 0.8)
    assert [r["name"] for r in summary] == ["0", "2.0"] and all(r["rank_after"] <= r["rank_before"] for r in summary)
    assert "total" in format_summary(summary)
    optimizer = tc.optim.Adam(model.parameters(), lr=1e-2)   # fine-tuning on the truncated factors
    loss = (model(x) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    state = model.state_dict()
    fresh = nn.Sequential(LinearSVD(10, 8), nn.ReLU(), nn.Sequential(LinearSVD(8, 6)))
    match_ranks(fresh, state)
    fresh.load_state_dict(state)
    with tc.no_grad():
        _close(fresh(x), model(x).array, atol=0)


# ----------------------------------------------------------------------------- models
def test_registered_models_build_and_run():
    from tinycompress import models
    assert {"svd_net", "svd_mlp", "svd_mlp_dense", "resnet18", "resnet18_svd"} <= set(models.names())
    net = models.build("svd_net", input_dim=16, hidden_dim=8)
    assert net(tc.randn(3, 16)).shape == (3, 1)
    mlp, twin = models.build("svd_mlp"), models.build("svd_mlp_dense")
    assert [type(m).__name__ for m in mlp] == ["LinearSVD", "ReLU", "LinearSVD", "ReLU", "Linear"]
    assert mlp(tc.randn(2, 784)).shape == twin(tc.randn(2, 784)).shape == (2, 10)


@pytest.mark.slow                      # an 11M-parameter forward and backward: `pytest -m slow` runs it
def test_resnet18_svd_forward_backward_small_batch():
    from tinycompress import models
    tc.manual_seed(0)
    model = models.build("resnet18_svd")
    layers = svd_layers(model)
    assert len(layers) == 21 and sum(isinstance(m, LinearSVD) for _, m in layers) == 1   # 20 convs + linear
    assert not any(type(m) in (nn.Conv2d, nn.Linear) for m in model.modules())
    x = tc.randn(2, 3, 32, 32)
    out = model(x)
    assert out.shape == (2, 10) and out.dtype == np.float32
    loss = tc.nn.functional.cross_entropy(out, tc.tensor([1, 7])) + svd_regularizer(model, 0.1, 1e-3)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and np.all(np.isfinite(p.grad.array)), name


# ----------------------------------------------------------------------------- second order
def _hvp(lib, loss_fn, leaves, v):
    """(∇loss, ∇(∇loss · v)) w.r.t. ``leaves``: a Hessian-vector product, computed with ``lib``'s autograd."""
    first = lib.autograd.grad(loss_fn(*leaves), leaves, create_graph=True)
    dot = sum((g * lib.tensor(vi)).sum() for g, vi in zip(first, v))
    second = lib.autograd.grad(dot, leaves, allow_unused=True)
    def as_np(g):
        return np.zeros(()) if g is None else (g.array if isinstance(g, tc.Tensor) else g.detach().numpy())
    return [as_np(g) for g in first], [as_np(g) for g in second]


@settings(max_examples=6)
@given(kind=st.sampled_from(["linear", "channel", "spatial"]), path=st.sampled_from(["factors", "dense"]),
       seed=seeds())
def test_svd_layers_hessian_vector_products_vs_torch(kind, path, seed):
    """A squared loss through the factors: U, s, V and x second derivatives are torch's (float64)."""
    rng = np.random.default_rng(seed)
    if kind == "linear":
        layer = LinearSVD(4, 3, rank=2).double()
        x = rng.standard_normal((5, 4))
    else:
        layer = Conv2dSVD(2, 3, (2, 3), padding=1, decomposition=kind, rank=2).double()
        x = rng.standard_normal((2, 2, 4, 5))
    layer.forward_path = path
    _randomise(layer, rng)
    arrays = [x, layer.U.array, layer.s.array, layer.V.array, layer.bias.array]
    v = [rng.standard_normal(a.shape) for a in arrays]

    def theirs(x, U, s, V, b):
        W = _torch_kernel(layer, U, s, V)
        y = TF.linear(x, W, b) if kind == "linear" else TF.conv2d(x, W, b, padding=1)
        return (y ** 2).sum()

    leaves = [tc.tensor(x, requires_grad=True), layer.U, layer.s, layer.V, layer.bias]   # the layer's own parameters
    mine = _hvp(tc, lambda x, *params: (layer(x) ** 2).sum(), leaves, v)
    ref = _hvp(torch, theirs, [_t(a) for a in arrays], v)
    for stage in range(2):
        for name, m, r in zip(("x", "U", "s", "V", "bias"), mine[stage], ref[stage]):
            _close(m, r, rtol=1e-8, atol=1e-10, what=f"{'first' if stage == 0 else 'second'} derivative, {name}")
