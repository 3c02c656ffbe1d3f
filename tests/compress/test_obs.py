"""Layer-wise OBS against its closed forms: one weight's removal (δw = −w_q/[H⁻¹]_qq · H⁻¹e_q, error
½ w_q²/[H⁻¹]_qq, checked against torch's solve of the constrained least squares), the per-row refit as
the least-squares optimum for its mask, the im2col rows of a Conv2d as torch's unfold, and the written
mask as torch's prune API reads it; zeros stay zero through training and a state_dict reload."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.nn.utils import prune as tprune

import tinycompress as tc
from tinycompress.compress import obs, prune
from tinycompress.compress.masked import MaskedLinear
from strategies import obs_layer_case


def _layer_data(case):
    rows, cols, samples, seed = case
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((rows, cols))
    X = rng.standard_normal((samples, cols)) * rng.uniform(0.2, 2.0, cols)     # unequal input scales
    return W, X, 2.0 * X.T @ X / samples


def _torch_constrained_optimum(w, H, q):
    """argmin_δ ½ δᵀHδ subject to δ_q = −w_q, by torch's solve of the KKT system."""
    n = len(w)
    K = torch.zeros(n + 1, n + 1, dtype=torch.float64)
    K[:n, :n] = torch.tensor(H)
    K[n, q] = K[q, n] = 1.0
    rhs = torch.zeros(n + 1, dtype=torch.float64)
    rhs[n] = -w[q]
    return torch.linalg.solve(K, rhs)[:n].numpy()


@given(obs_layer_case(), st.data())
def test_one_weight_removal_is_obs_closed_form(case, data):
    W, X, H = _layer_data(case)
    w = W[0]
    q = data.draw(st.integers(0, len(w) - 1))
    Hinv = np.linalg.inv(H)
    delta, loss = obs.obs_update(w, Hinv, q)
    assert abs(w[q] + delta[q]) < 1e-12
    np.testing.assert_allclose(delta, _torch_constrained_optimum(w, H, q), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(loss, 0.5 * delta @ H @ delta, rtol=1e-9)
    np.testing.assert_allclose(loss, obs.reconstruction_error(w + delta, w, H), rtol=1e-9)
    # ½δᵀHδ is the mean squared change of the layer's output (H = 2XᵀX/N)
    np.testing.assert_allclose(loss, np.mean((X @ delta) ** 2), rtol=1e-9)


@given(obs_layer_case())
def test_pruning_one_weight_per_row_gives_the_closed_form(case):
    """One weight out of a single-row layer: the refit kept weights are exactly OBS's update for the
    weight the sweep chose (no damping, H invertible)."""
    W, X, H = _layer_data(case)
    w = W[:1]
    new, keep = obs.obs_prune_weight(w, H, 1 / w.size, damp=0.0)
    (q,) = np.flatnonzero(keep[0] == 0)
    delta, _ = obs.obs_update(w[0], np.linalg.inv(H), q)
    np.testing.assert_allclose(new[0], (w[0] + delta).astype(np.float32), rtol=1e-4, atol=1e-5)
    assert new.dtype == np.float32 and new[0, q] == 0


@settings(max_examples=15)
@given(obs_layer_case(), st.floats(0.1, 0.9))
def test_refit_is_the_least_squares_optimum_for_its_mask(case, sparsity):
    W, X, H = _layer_data(case)
    refit, keep = obs.obs_prune_weight(W, H, sparsity, damp=0.0, blocksize=3)
    swept, keep2 = obs.obs_prune_weight(W, H, sparsity, damp=0.0, blocksize=3, refit=False)
    np.testing.assert_array_equal(keep, keep2)                     # the refit never changes the mask
    assert int((keep == 0).sum()) == round(sparsity * W.size)      # the exact count
    for r in range(W.shape[0]):
        K = np.flatnonzero(keep[r])
        best = np.zeros(W.shape[1])
        if K.size:          # least squares on the kept inputs: min ‖X_K w_K − X w‖², torch's lstsq
            sol = torch.linalg.lstsq(torch.tensor(X[:, K]), torch.tensor(X @ W[r])[:, None]).solution
            best[K] = sol[:, 0].numpy()
        np.testing.assert_allclose(refit[r], best, rtol=2e-3, atol=2e-4)
    e_refit = obs.reconstruction_error(refit, W, H)
    e_swept = obs.reconstruction_error(swept, W, H)
    e_plain = obs.reconstruction_error(W * keep, W, H)
    assert np.all(e_refit <= e_swept * (1 + 1e-5) + 1e-6)
    assert np.all(e_refit <= e_plain * (1 + 1e-5) + 1e-6)


def test_conv_rows_are_torchs_unfold():
    rng = np.random.default_rng(0)
    conv = tc.nn.Conv2d(3, 4, 3, stride=2, padding=1)
    x = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    rows = obs.layer_input_rows(conv, x)
    cols = torch.nn.functional.unfold(torch.tensor(x), 3, padding=1, stride=2)       # (N, C·k·k, L)
    want = cols.permute(0, 2, 1).reshape(-1, 27).numpy()
    np.testing.assert_allclose(np.sort(rows, axis=0), np.sort(want, axis=0), rtol=1e-6)
    y = conv(tc.tensor(x)).array                                   # the rows reproduce the convolution
    flat = rows @ conv.weight.array.reshape(4, -1).T + conv.bias.array
    np.testing.assert_allclose(np.sort(flat, axis=0), np.sort(y.transpose(0, 2, 3, 1).reshape(-1, 4), axis=0),
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="groups"):
        obs.layer_input_rows(tc.nn.Conv2d(4, 4, 3, groups=2), rng.standard_normal((1, 4, 5, 5)))


def _data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12)).astype(np.float32)
    return [(tc.tensor(x[i:i + 16]), tc.tensor(rng.integers(0, 3, 16))) for i in range(0, n, 16)]


def _net(masked=False):
    tc.manual_seed(0)
    first = MaskedLinear(12, 8) if masked else tc.nn.Linear(12, 8)
    return tc.nn.Sequential(first, tc.nn.ReLU(), tc.nn.Linear(8, 3))


def test_obs_writes_torchs_reparametrisation_and_zeros_stay_zero(tmp_path):
    net, data = _net(), _data()
    obs.obs_prune_model(net, {"0": 0.75, "2": 0.5}, data, batches=4, rounds=2)
    assert int((net[0].weight_mask.array == 0).sum()) == 72 and int((net[2].weight_mask.array == 0).sum()) == 12
    t = torch.nn.Linear(12, 8).double()                            # torch reads the same keys and values
    tprune.identity(t, "weight")
    t.load_state_dict({k: torch.tensor(v.astype(np.float64)) for k, v in net[0].state_dict().items()})
    x = data[0][0].array
    np.testing.assert_allclose(t(torch.tensor(x, dtype=torch.float64)).detach().numpy(), net[0](data[0][0]).array,
                               rtol=1e-5, atol=1e-5)
    opt = tc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    for x, y in data * 3:
        opt.zero_grad()
        tc.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()
    net(data[0][0])
    for m in (net[0], net[2]):
        assert np.all(m.weight.array[m.weight_mask.array == 0] == 0)
    tc.save(net.state_dict(), tmp_path / "s.npz")
    fresh = _net()
    state = tc.load(tmp_path / "s.npz")
    prune.restore_pruning(fresh, state)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh(data[1][0]).array, net(data[1][0]).array)
    assert np.all(fresh[0].weight.array[net[0].weight_mask.array == 0] == 0)


def test_obs_keeps_a_masked_layers_own_zeros():
    net, data = _net(masked=True), _data()
    own = (np.arange(96).reshape(8, 12) % 3 != 0).astype(np.float32)       # a third pruned already
    net[0].set_mask(own)
    obs.obs_prune_model(net, {"0": 0.5}, data, batches=4)
    eff = prune.effective_weight(net[0])
    assert np.all(eff[own == 0] == 0) and int((eff == 0).sum()) == 48
    assert np.all(net[0].weight_orig.array[own == 0] == 0)


def test_obs_bad_input_is_named():
    net, data = _net(), _data()
    with pytest.raises(ValueError, match="no prunable layer named"):
        obs.obs_prune_model(net, {"fc9": 0.5}, data)
    with pytest.raises(ValueError, match="batches"):
        obs.obs_prune_model(net, 0.5, data, batches=0)
    with pytest.raises(ValueError, match="H has shape"):
        obs.obs_prune_weight(np.ones((2, 3)), np.eye(4), 0.5)
    with pytest.raises(ValueError, match="scope='layer'"):
        prune.prune_model(net, 0.5, "obs", scope="global", loader=data)
