"""Loss-aware pruning criteria against their definitions, with torch as the oracle for gradients and
Hessians: exact Hessian diagonal (double backward) vs torch.autograd.functional.hessian, Hutchinson's
estimator vs its definition and its expectation, OBD, Taylor, SNIP, movement; and the scores through
every pruning entry point (per layer, global, structured, prune_to_sparsity)."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings

import tinycompress as tc
from tinycompress.compress import criteria, prune
from strategies import small_mlp_case

F = tc.nn.functional


def _net(sizes, seed, dtype=np.float64):
    """A tc Linear-ReLU-Linear net and a batch (float64 by default), weights drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    i, h, o = sizes
    net = tc.nn.Sequential(tc.nn.Linear(i, h), tc.nn.ReLU(), tc.nn.Linear(h, o))
    if dtype == np.float64:
        net = net.double()
    for p in net.parameters():
        p.array[...] = rng.standard_normal(p.shape).astype(dtype)
    return net, rng


def _batch(rng, n, sizes, dtype=np.float64):
    x = rng.standard_normal((n, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[2], n)
    return tc.tensor(x), tc.tensor(y)


def _torch_loss(net, x, y):
    """The same net's loss in torch as a function of (W1, W2)."""
    b1, b2 = (torch.tensor(net[k].bias.array) for k in (0, 2))
    xt, yt = torch.tensor(x.array), torch.tensor(y.array)

    def f(w1, w2):
        h = torch.relu(xt @ w1.T + b1)
        return torch.nn.functional.cross_entropy(h @ w2.T + b2, yt)
    return f


def _torch_hessian(net, x, y):
    """torch's Hessian of the loss over (W1, W2) flattened together, and the two layers' sizes."""
    w1, w2 = (torch.tensor(net[k].weight.array) for k in (0, 2))
    H = torch.autograd.functional.hessian(_torch_loss(net, x, y), (w1, w2), vectorize=True)
    n1, n2 = w1.numel(), w2.numel()
    full = torch.cat([torch.cat([H[0][0].reshape(n1, n1), H[0][1].reshape(n1, n2)], 1),
                      torch.cat([H[1][0].reshape(n2, n1), H[1][1].reshape(n2, n2)], 1)]).numpy()
    return full, n1


def _torch_hessian_blocks(net, x, y):
    full, n1 = _torch_hessian(net, x, y)
    return [full[:n1, :n1], full[n1:, n1:]]


@settings(max_examples=5)
@given(small_mlp_case())
def test_exact_hessian_diagonal_is_torchs(case):
    sizes, n, seed = case
    net, rng = _net(sizes, seed)
    x, y = _batch(rng, n, sizes)
    params = [net[0].weight, net[2].weight]
    diag = criteria.hessian_diagonal(lambda: F.cross_entropy(net(x), y), params, exact=True)
    for d, H, p in zip(diag, _torch_hessian_blocks(net, x, y), params):
        np.testing.assert_allclose(d, np.diagonal(H).reshape(p.shape), rtol=1e-9, atol=1e-12)


@settings(max_examples=8)
@given(small_mlp_case())
def test_hutchinson_is_mean_of_z_times_hz_with_its_own_probes(case):
    """The estimate is (1/S) Σ z_s ⊙ H z_s with the Rademacher probes the generator draws (re-drawn here)."""
    sizes, n, seed = case
    net, rng = _net(sizes, seed)
    x, y = _batch(rng, n, sizes)
    params = [net[0].weight, net[2].weight]
    S = 5
    est = criteria.hessian_diagonal(lambda: F.cross_entropy(net(x), y), params, samples=S,
                                    generator=np.random.default_rng(seed))
    full, n1 = _torch_hessian(net, x, y)
    gen, want = np.random.default_rng(seed), np.zeros(full.shape[0])
    for _ in range(S):      # one probe spans both layers: H z sees the cross-layer terms too
        z = np.concatenate([(gen.integers(0, 2, size=p.shape) * 2 - 1).astype(np.float64).reshape(-1)
                            for p in params])
        want += z * (full @ z)
    want = [want[:n1], want[n1:]]
    for e, w, p in zip(est, want, params):
        np.testing.assert_allclose(e, (w / S).reshape(p.shape), rtol=1e-9, atol=1e-12)


def test_hutchinson_converges_to_the_exact_diagonal():
    """With S probes the error of entry i has standard deviation sqrt(Σ_{j≠i} H_ij² / S) (over the whole
    Hessian, cross-layer terms included): every entry must lie within 5 of them (a false alarm has
    probability of about 35 × 6e-7 for a mean of 800 probes, near normal; the generator is seeded, so the test is deterministic)."""
    net, rng = _net((4, 5, 3), 7)
    x, y = _batch(rng, 16, (4, 5, 3))
    params = [net[0].weight, net[2].weight]
    full, _ = _torch_hessian(net, x, y)
    S = 800
    est = criteria.hessian_diagonal(lambda: F.cross_entropy(net(x), y), params, samples=S,
                                    generator=np.random.default_rng(0))
    est = np.concatenate([e.reshape(-1) for e in est])
    sd = np.sqrt(((full ** 2).sum(1) - np.diagonal(full) ** 2) / S)
    assert np.all(np.abs(est - np.diagonal(full)) <= 5 * sd + 1e-12)


@settings(max_examples=5)
@given(small_mlp_case())
def test_obd_is_half_hessian_diagonal_times_w_squared(case):
    sizes, n, seed = case
    net, rng = _net(sizes, seed)
    batches = [_batch(rng, n, sizes) for _ in range(2)]
    scores = criteria.obd(net, batches, batches=2, exact=True)
    diag = np.mean([np.diagonal(_torch_hessian_blocks(net, x, y)[1]) for x, y in batches], axis=0)
    want = 0.5 * np.maximum(diag, 0).reshape(net[2].weight.shape) * net[2].weight.array ** 2
    np.testing.assert_allclose(scores[net[2]], want, rtol=1e-9, atol=1e-12)


def _torch_grads(net, x, y):
    w1, w2 = (torch.tensor(net[k].weight.array, requires_grad=True) for k in (0, 2))
    _torch_loss(net, x, y)(w1, w2).backward()
    return [w1.grad.numpy(), w2.grad.numpy()]


@settings(max_examples=10)
@given(small_mlp_case())
def test_taylor_and_snip_against_torch_gradients(case):
    sizes, n, seed = case
    net, rng = _net(sizes, seed)
    batches = [_batch(rng, n, sizes) for _ in range(3)]
    grads = [_torch_grads(net, x, y) for x, y in batches]
    ws = [net[0].weight.array, net[2].weight.array]
    taylor = criteria.taylor(net, batches, batches=3)
    for k, (m, w) in enumerate(zip((net[0], net[2]), ws)):
        want = np.mean([np.abs(w * g[k]) for g in grads], axis=0)
        np.testing.assert_allclose(taylor[m], want, rtol=1e-9, atol=1e-12)
    snip = criteria.snip(net, batches, batches=3)
    raw = [np.abs(w * np.mean([g[k] for g in grads], axis=0)) for k, w in enumerate(ws)]
    total = sum(r.sum() for r in raw)
    for m, r in zip((net[0], net[2]), raw):
        np.testing.assert_allclose(snip[m], r / total, rtol=1e-9, atol=1e-12)


def test_scores_of_a_pruned_layer_are_zero_where_it_is_pruned():
    net, rng = _net((6, 5, 3), 3, np.float32)
    prune.l1_unstructured(net[0], "weight", 0.5)
    batches = [_batch(rng, 8, (6, 5, 3), np.float32)]
    pruned = net[0].weight_mask.array == 0
    for name in ("taylor", "snip", "obd"):
        s = criteria.scores(name, net, batches, batches=1)
        assert s[net[0]].dtype == np.float32
        assert np.all(s[net[0]][pruned] == 0), name


def test_movement_accumulates_minus_w_times_g():
    net, rng = _net((6, 5, 3), 4, np.float32)
    acc = criteria.MovementScores([net[0], net[2]])
    opt = tc.optim.SGD(net.parameters(), lr=0.1)
    want = [np.zeros_like(net[k].weight.array) for k in (0, 2)]
    for _ in range(3):
        x, y = _batch(rng, 8, (6, 5, 3), np.float32)
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        for k, w in zip((0, 2), want):
            w -= net[k].weight.array * net[k].weight.grad.array
        acc.accumulate()
    for m, w in zip((net[0], net[2]), want):
        np.testing.assert_allclose(acc.accumulated[m], w, rtol=1e-6, atol=1e-7)
    s = acc.scores()
    low = min(w.min() for w in want)
    for m, w in zip((net[0], net[2]), want):                  # one shift for all layers: ranks kept
        np.testing.assert_allclose(s[m], w - low, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="training steps"):
        criteria.MovementScores([net[0]]).scores()


def _scored_net():
    net = tc.nn.Sequential(tc.nn.Linear(4, 3), tc.nn.ReLU(), tc.nn.Linear(3, 2))
    rng = np.random.default_rng(0)
    scores = {m: rng.permutation(m.weight.array.size).reshape(m.weight.shape).astype(np.float32) + 1
              for m in (net[0], net[2])}
    return net, scores


def test_scores_drive_every_entry_point():
    net, s = _scored_net()
    prune.l1_unstructured(net[0], "weight", 5, importance_scores=s[net[0]])
    np.testing.assert_array_equal(net[0].weight_mask.array, (s[net[0]] > 5).astype(np.float32))

    net, s = _scored_net()
    prune.global_unstructured([(net[0], "weight"), (net[2], "weight")], prune.L1Unstructured, amount=6,
                              importance_scores={(m, "weight"): v for m, v in s.items()})
    flat = np.concatenate([v.reshape(-1) for v in s.values()])
    cut = np.sort(flat)[5]
    for m in (net[0], net[2]):
        np.testing.assert_array_equal(m.weight_mask.array, (s[m] > cut).astype(np.float32))

    net, s = _scored_net()
    prune.ln_structured(net[0], "weight", 1, n=1, dim=0, importance_scores=s[net[0]])
    weakest = np.argmin(s[net[0]].sum(1))
    assert np.all(net[0].weight_mask.array[weakest] == 0) and net[0].weight_mask.array.sum() == 8

    net, s = _scored_net()
    prune.prune_to_sparsity(net, 0.5, "l1", "global", importance_scores=s)
    assert sum(int((m.weight_mask.array == 0).sum()) for m in (net[0], net[2])) == 9
    with pytest.raises(ValueError, match="shape"):
        prune.prune_to_sparsity(net, 0.5, importance_scores={net[0]: np.ones((2, 2))})
    with pytest.raises(ValueError, match="unknown pruning method"):
        prune.prune_model(net, 0.5, "hessian")


def test_per_layer_targets_rank_by_the_scores_too():
    net, s = _scored_net()
    prune.prune_to_sparsity(net, {"0": 0.5, "2": 0.5}, "l1", importance_scores=s)
    for m in (net[0], net[2]):
        cut = np.sort(s[m].reshape(-1))[round(0.5 * s[m].size) - 1]
        np.testing.assert_array_equal(m.weight_mask.array, (s[m] > cut).astype(np.float32))
