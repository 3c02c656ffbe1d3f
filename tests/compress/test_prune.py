"""Pruning API against torch.nn.utils.prune: same masks for the same weights and amounts, same composition."""
import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings, strategies as st
from torch.nn.utils import prune as tprune

import tinycompress as tc
from tinycompress.compress import prune
from strategies import distinct_magnitudes, pruning_amounts


def _twins(w, b=None):
    """A tc Linear and a torch Linear holding the same float32 weights."""
    o, i = w.shape
    m, t = tc.nn.Linear(i, o), torch.nn.Linear(i, o)
    m.weight.array[...] = w.astype(np.float32)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w, dtype=torch.float32))
        t.bias.copy_(torch.tensor(m.bias.array))
    return m, t


def _same(m, t, name="weight"):
    np.testing.assert_array_equal(getattr(m, name + "_mask").array, getattr(t, name + "_mask").numpy())
    np.testing.assert_array_equal(getattr(m, name).array, getattr(t, name).detach().numpy())


shapes2 = st.tuples(st.integers(1, 6), st.integers(1, 6))


@given(data=st.data())
def test_l1_unstructured_and_composition_match_torch(data):
    shape = data.draw(shapes2)
    w = data.draw(distinct_magnitudes(shape))
    m, t = _twins(w)
    for _ in range(data.draw(st.integers(1, 3))):
        surviving = int(m.weight_mask.array.sum()) if hasattr(m, "weight_mask") else w.size
        amount = data.draw(pruning_amounts(surviving))
        prune.l1_unstructured(m, "weight", amount)
        tprune.l1_unstructured(t, "weight", amount)
        _same(m, t)
    assert isinstance(m._forward_pre_hooks[next(iter(m._forward_pre_hooks))],
                      (prune.L1Unstructured, prune.PruningContainer))


@given(data=st.data())
def test_ln_structured_then_l1_matches_torch(data):
    shape = data.draw(st.tuples(st.integers(2, 6), st.integers(2, 6)))
    w = data.draw(distinct_magnitudes(shape))
    m, t = _twins(w)
    dim = data.draw(st.sampled_from([0, 1, -1]))
    n = data.draw(st.sampled_from([1, 2, np.inf, -np.inf, "fro"]))
    axes = 1 - dim % 2
    a = np.abs(w)
    norms = {1: a.sum(axes), 2: np.sqrt((a * a).sum(axes)), "fro": np.sqrt((a * a).sum(axes)),
             np.inf: a.max(axes), -np.inf: a.min(axes)}[n]
    assume(np.min(np.diff(np.sort(norms))) > 1e-3)            # torch's topk breaks ties its own way
    amount = data.draw(pruning_amounts(shape[dim]))
    prune.ln_structured(m, "weight", amount, n=n, dim=dim)
    tprune.ln_structured(t, "weight", amount, n=n, dim=dim)
    _same(m, t)
    survivors = int(m.weight_mask.array.sum())
    a2 = data.draw(pruning_amounts(survivors))
    prune.l1_unstructured(m, "weight", a2)
    tprune.l1_unstructured(t, "weight", a2)
    _same(m, t)


@given(data=st.data())
def test_global_unstructured_matches_torch(data):
    s1, s2 = data.draw(shapes2), data.draw(shapes2)
    flat = data.draw(distinct_magnitudes((s1[0] * s1[1] + s2[0] * s2[1],)))
    w1, w2 = flat[:s1[0] * s1[1]].reshape(s1), flat[s1[0] * s1[1]:].reshape(s2)
    (m1, t1), (m2, t2) = _twins(w1), _twins(w2)
    amount = data.draw(pruning_amounts(flat.size))
    prune.global_unstructured([(m1, "weight"), (m2, "weight")], pruning_method=prune.L1Unstructured, amount=amount)
    tprune.global_unstructured([(t1, "weight"), (t2, "weight")], pruning_method=tprune.L1Unstructured, amount=amount)
    _same(m1, t1); _same(m2, t2)


@given(data=st.data())
def test_custom_from_mask_composes_like_torch(data):
    shape = data.draw(shapes2)
    w = data.draw(distinct_magnitudes(shape))
    m, t = _twins(w)
    mask = data.draw(st.lists(st.booleans(), min_size=w.size, max_size=w.size))
    mask = np.array(mask, np.float32).reshape(shape)
    prune.l1_unstructured(m, "weight", 0.3); tprune.l1_unstructured(t, "weight", 0.3)
    prune.custom_from_mask(m, "weight", mask); tprune.custom_from_mask(t, "weight", torch.tensor(mask))
    _same(m, t)
    prune.custom_from_mask(m, "bias", np.ones(shape[0]))
    tprune.custom_from_mask(t, "bias", torch.ones(shape[0]))
    _same(m, t, "bias")


def test_random_methods_prune_exact_counts_reproducibly():
    tc.manual_seed(1)
    m = prune.random_unstructured(tc.nn.Linear(5, 4), "weight", 7)
    assert (m.weight_mask.array == 0).sum() == 7
    m = prune.random_structured(tc.nn.Linear(5, 4), "weight", 2, dim=0)
    rows = m.weight_mask.array.sum(1)
    assert sorted(rows.tolist()) == [0, 0, 5, 5]
    tc.manual_seed(1); a = prune.random_unstructured(tc.nn.Linear(5, 4), "weight", 0.5).weight_mask.array
    tc.manual_seed(1); b = prune.random_unstructured(tc.nn.Linear(5, 4), "weight", 0.5).weight_mask.array
    np.testing.assert_array_equal(a, b)


def test_forward_uses_masked_weight_and_orig_gets_masked_gradient():
    tc.manual_seed(0)
    m = prune.l1_unstructured(tc.nn.Linear(4, 3), "weight", 0.5)
    t = torch.nn.Linear(4, 3)
    with torch.no_grad():
        t.weight.copy_(torch.tensor(m.weight_orig.array)); t.bias.copy_(torch.tensor(m.bias.array))
    tprune.l1_unstructured(t, "weight", 0.5)
    x = np.random.default_rng(0).standard_normal((2, 4)).astype(np.float32)
    m.weight_orig.array += 1.0                   # a change to orig shows up at the next forward (the pre-hook)
    with torch.no_grad():
        t.weight_orig += 1.0
    y = m(tc.tensor(x)); yt = t(torch.tensor(x))
    np.testing.assert_allclose(y.array, yt.detach().numpy(), rtol=1e-6, atol=1e-6)
    y.sum().backward(); yt.sum().backward()
    np.testing.assert_allclose(m.weight_orig.grad.array, t.weight_orig.grad.numpy(), rtol=1e-6, atol=1e-6)
    assert list(m.state_dict()) == list(t.state_dict())


def test_remove_and_is_pruned():
    m = tc.nn.Sequential(tc.nn.Linear(4, 3), tc.nn.Linear(3, 2))
    assert not prune.is_pruned(m)
    prune.l1_unstructured(m[0], "weight", 0.5)
    assert prune.is_pruned(m)
    w = m[0].weight.array.copy()
    prune.remove(m[0], "weight")
    assert not prune.is_pruned(m) and isinstance(m[0].weight, tc.nn.Parameter)
    np.testing.assert_array_equal(m[0].weight.array, w)
    t = torch.nn.Linear(4, 3)
    tprune.l1_unstructured(t, "weight", 0.5)
    tprune.remove(t, "weight")
    assert list(m[0].state_dict()) == list(t.state_dict())      # torch re-registers weight last
    with pytest.raises(ValueError, match="has to be pruned"):
        prune.remove(m[0], "weight")


@pytest.mark.parametrize("amount, error", [(-1, ValueError), (1.5, ValueError), (-0.1, ValueError),
                                           ("half", TypeError), (13, ValueError)])
def test_bad_amounts_give_clear_errors(amount, error):
    m = tc.nn.Linear(4, 3)
    with pytest.raises(error, match="amount"):
        prune.l1_unstructured(m, "weight", amount)
    assert "weight" in m._parameters and not hasattr(m, "weight_mask")     # left untouched


def test_bad_custom_mask_and_dim():
    m = tc.nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(3, 4\)"):
        prune.custom_from_mask(m, "weight", np.ones((2, 2)))
    with pytest.raises(IndexError):
        prune.ln_structured(m, "weight", 1, n=2, dim=2)
    with pytest.raises(ValueError, match="multidimensional"):
        prune.ln_structured(m, "bias", 1, n=2, dim=0)


# ------------------------------------------------------------------------------ sparsity targets and schedules
def _lenet_like():
    return tc.nn.Sequential(tc.nn.Linear(12, 9), tc.nn.ReLU(), tc.nn.Linear(9, 7), tc.nn.ReLU(), tc.nn.Linear(7, 3))


@given(s1=st.floats(0, 1), s2=st.floats(0, 1), scope=st.sampled_from(["layer", "global"]),
       method=st.sampled_from(["l1", "random"]), seed=st.integers(0, 1000))
def test_prune_to_sparsity_reaches_targets_and_composes(s1, s2, scope, method, seed):
    tc.manual_seed(seed)
    model = _lenet_like()
    lo, hi = sorted((s1, s2))
    for s in (lo, hi):
        prune.prune_to_sparsity(model, s, method, scope)
        rows = prune.sparsity_table(model)
        if scope == "layer":
            for r in rows:        # Kaiming-uniform weights are never exactly 0: zeros are exactly the pruned ones
                assert r["weights"] - r["kept"] == round(s * r["weights"])
        else:
            total = sum(r["weights"] for r in rows)
            assert total - sum(r["kept"] for r in rows) == round(s * total)
    first = model[0]
    kept_before = first.weight_mask.array.copy()
    prune.prune_to_sparsity(model, hi, method, scope)          # already there: nothing changes
    np.testing.assert_array_equal(first.weight_mask.array, kept_before)


def test_global_l1_equals_torch_global():
    tc.manual_seed(0)
    model = _lenet_like()
    twins = [torch.nn.Linear(m.in_features, m.out_features) for m in (model[0], model[2], model[4])]
    for m, t in zip((model[0], model[2], model[4]), twins):
        with torch.no_grad():
            t.weight.copy_(torch.tensor(m.weight.array))
    prune.prune_to_sparsity(model, 0.8, "l1", "global")
    total = sum(t.weight.numel() for t in twins)
    tprune.global_unstructured([(t, "weight") for t in twins], tprune.L1Unstructured, amount=round(0.8 * total))
    for m, t in zip((model[0], model[2], model[4]), twins):
        np.testing.assert_array_equal(m.weight_mask.array, t.weight_mask.numpy())


def test_ln_node_pruning_to_sparsity():
    model = _lenet_like()
    prune.prune_to_sparsity(model, 0.5, "ln")
    for m in (model[0], model[2], model[4]):
        dead = int((~m.weight_mask.array.any(1)).sum())
        assert dead == round(0.5 * m.out_features)
    with pytest.raises(ValueError, match="global"):
        prune.prune_to_sparsity(model, 0.5, "ln", "global")
    with pytest.raises(ValueError, match="sparsity"):
        prune.prune_to_sparsity(model, 1.2)
    with pytest.raises(ValueError, match="method"):
        prune.prune_to_sparsity(model, 0.2, "magnitude")


class _FakeTrainer:
    """What the pruning callbacks read from tinycompress.train.Trainer."""

    def __init__(self, model, epochs=4, steps_per_epoch=10, lr=0.1):
        self.model, self.epochs, self.steps_per_epoch = model, epochs, steps_per_epoch
        self.epoch, self.global_step, self.scheduler = 0, 0, None
        self.optimizer = type("Opt", (), {"param_groups": [{"lr": lr}]})()
        self.logs = []

    def log(self, message):
        self.logs.append(message)


def _sparsity(model):
    rows = prune.sparsity_table(model)
    return 1 - sum(r["kept"] for r in rows) / sum(r["weights"] for r in rows)


def test_iterative_pruning_stages_and_lr():
    model = _lenet_like()
    cb = prune.IterativePruning(0.92, stages=3, epochs_per_stage=2, start_epoch=1, lr_factor=0.1)
    tr = _FakeTrainer(model, epochs=7)
    seen = []
    for epoch in range(7):
        tr.epoch = epoch
        cb.on_epoch_begin(tr)
        seen.append((round(_sparsity(model), 2), tr.optimizer.param_groups[0]["lr"]))
    assert seen[0] == (0.0, 0.1)                                      # a dense epoch first
    targets = [1 - 0.08 ** (k / 3) for k in (1, 2, 3)]               # equal kept-fraction ratios per stage
    assert [s for s, _ in seen[1::2]] == [round(t, 2) for t in targets]
    assert all(lr == pytest.approx(0.01) for _, lr in seen[1:])      # retrain at 0.1x the lr, scaled once
    assert _sparsity(model) == pytest.approx(0.92, abs=0.01)
    assert cb.state_dict() == {"stage": 3}


def test_gradual_cubic_schedule():
    model = _lenet_like()
    cb = prune.GradualPruning(0.9, initial_sparsity=0.1, begin_step=2, end_step=12, frequency=2)
    tr = _FakeTrainer(model)
    cb.on_train_begin(tr)
    for t in range(1, 16):
        tr.global_step = t
        cb.on_step_end(tr)
        last = max([s for s in range(2, 13, 2) if s <= t], default=None)
        expected = 0.0 if last is None else 0.9 + (0.1 - 0.9) * (1 - (last - 2) / 10) ** 3
        for r in prune.sparsity_table(model):
            assert r["weights"] - r["kept"] == round(expected * r["weights"])


def test_gradual_ends_at_the_final_sparsity_off_the_grid():
    """A frequency that does not divide the ramp still prunes at end_step, to exactly the final sparsity."""
    model = _lenet_like()
    cb = prune.GradualPruning(0.9, begin_step=0, end_step=10, frequency=4)
    tr = _FakeTrainer(model)
    cb.on_train_begin(tr)
    for t in range(1, 13):
        tr.global_step = t
        cb.on_step_end(tr)
        last = max([s for s in (4, 8, 10) if s <= t], default=None)
        expected = 0.0 if last is None else 0.9 * (1 - (1 - last / 10) ** 3)
        for r in prune.sparsity_table(model):
            assert r["weights"] - r["kept"] == round(expected * r["weights"])


def test_make_pruning_callback():
    assert isinstance(prune.make_pruning_callback("l1", 0.9, "iterative", epochs=10), prune.IterativePruning)
    assert isinstance(prune.make_pruning_callback("random", 0.5, "gradual"), prune.GradualPruning)
    assert prune.make_pruning_callback("l1", 0.5, "gradual", frequency=7).frequency == 7
    with pytest.raises(ValueError, match="gradual"):
        prune.make_pruning_callback("l1", 0.5, "iterative", frequency=7)
    assert isinstance(prune.make_pruning_callback("ln", 0.5, "oneshot"), prune.OneShotPruning)
    with pytest.raises(ValueError, match="prune-schedule"):
        prune.make_pruning_callback("l1", 0.5, "sometimes")


def test_pruned_state_dict_round_trip(tmp_path):
    tc.manual_seed(0)
    model = _lenet_like()
    prune.prune_to_sparsity(model, 0.7)
    tc.save(model.state_dict(), tmp_path / "p.npz")
    fresh = _lenet_like()
    state = tc.load(tmp_path / "p.npz")
    prune.restore_pruning(fresh, state)
    fresh.load_state_dict(state)
    x = tc.tensor(np.random.default_rng(0).standard_normal((4, 12)).astype(np.float32))
    np.testing.assert_array_equal(fresh(x).array, model(x).array)
    for a, b in zip((model[0], model[2], model[4]), (fresh[0], fresh[2], fresh[4])):
        assert np.all(b.weight.array[a.weight_mask.array == 0] == 0)


def _optim_or_skip():
    optim = pytest.importorskip("tinycompress.optim", reason="tc.optim is not written yet")
    if not all(hasattr(optim, n) for n in ("SGD", "Adam", "AdamW")):
        pytest.skip("tc.optim has no SGD/Adam/AdamW yet")
    return optim


@settings(max_examples=15)
@given(opt=st.sampled_from(["sgd", "adam", "adamw"]), lr=st.floats(1e-3, 0.5), wd=st.sampled_from([0.0, 1e-2, 0.1]),
       momentum=st.sampled_from([0.0, 0.9]), steps=st.integers(1, 6), seed=st.integers(0, 2 ** 16),
       prune_at=st.integers(0, 5))
def test_pruned_weights_stay_zero_through_optimizers(opt, lr, wd, momentum, steps, seed, prune_at):
    """torch-style pruning mid-training (momentum non-zero at newly pruned entries): the effective
    weight is orig ⊙ mask, so it is exactly 0 there whatever the optimizer does to weight_orig."""
    optim = _optim_or_skip()
    tc.manual_seed(seed)
    model = _lenet_like()
    params = list(model.parameters())
    o = {"sgd": lambda: optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd),
         "adam": lambda: optim.Adam(params, lr=lr, weight_decay=wd),
         "adamw": lambda: optim.AdamW(params, lr=lr, weight_decay=wd)}[opt]()
    rng = np.random.default_rng(seed)
    for step in range(steps):
        if step == prune_at:
            prune.prune_to_sparsity(model, 0.6)
        x = tc.tensor(rng.standard_normal((4, 12)).astype(np.float32))
        loss = (model(x) ** 2).mean()
        o.zero_grad()
        loss.backward()
        o.step()
        model(x)                                              # the pre-hook refreshes module.weight
        for m in (model[0], model[2], model[4]):
            if hasattr(m, "weight_mask"):
                assert np.all(m.weight.array[m.weight_mask.array == 0] == 0)
                assert np.all(prune.effective_weight(m)[m.weight_mask.array == 0] == 0)


def test_per_layer_sparsity_dict():
    model = _lenet_like()
    prune.prune_to_sparsity(model, {"0": 0.9, "4": 0.5})
    rows = {r["layer"]: r for r in prune.sparsity_table(model)}
    assert rows["0"]["weights"] - rows["0"]["kept"] == round(0.9 * 108)
    assert rows["4"]["weights"] - rows["4"]["kept"] == round(0.5 * 21)
    assert rows["2"]["kept"] == rows["2"]["weights"]
    with pytest.raises(ValueError, match="no prunable layer named"):
        prune.prune_to_sparsity(model, {"fc9": 0.5})
    cb = prune.IterativePruning({"0": 0.9, "4": 0.5}, stages=2)
    assert cb.target(2) == pytest.approx({"0": 0.9, "4": 0.5})
