"""Lottery tickets: a rewind point restores the saved weights bit for bit (masks kept, pruned entries
zero), and the iterative schedule with rewinding starts every stage from that point with a fresh
optimizer state."""
import numpy as np
import pytest

import tinycompress as tc
from tinycompress.callbacks import Callback
from tinycompress.compress import prune
from tinycompress.train import fit


def _net():
    tc.manual_seed(0)
    return tc.nn.Sequential(tc.nn.Linear(10, 8), tc.nn.ReLU(), tc.nn.Linear(8, 3))


def _data(n=64):
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((n, 10)).astype(np.float32), rng.integers(0, 3, n)
    return [(tc.tensor(x[i:i + 8]), tc.tensor(y[i:i + 8])) for i in range(0, n, 8)]


def _train(net, data, steps=5):
    opt = tc.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    for x, y in data[:steps]:
        opt.zero_grad()
        tc.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()


def test_rewind_restores_saved_weights_bit_exactly_and_keeps_masks():
    net, data = _net(), _data()
    point = prune.save_rewind_point(net)
    assert set(point) == {"0.weight", "0.bias", "2.weight", "2.bias"}
    _train(net, data)
    prune.prune_to_sparsity(net, 0.7)                  # pruned after training, as IMP does
    masks = [m.weight_mask.array.copy() for m in (net[0], net[2])]
    _train(net, data)
    prune.rewind(net, point)
    for m, key, mask in zip((net[0], net[2]), ("0", "2"), masks):
        np.testing.assert_array_equal(m.weight_orig.array, point[f"{key}.weight"])
        np.testing.assert_array_equal(m.bias.array, point[f"{key}.bias"])
        np.testing.assert_array_equal(m.weight_mask.array, mask)
        np.testing.assert_array_equal(m.weight.array, point[f"{key}.weight"] * mask)
    point["0.weight"] = point["0.weight"][:2]
    with pytest.raises(ValueError, match="shape"):
        prune.rewind(net, point)
    with pytest.raises(ValueError, match="no values"):
        prune.rewind(net, {})


class _Probe(Callback):
    """Records the weights and optimizer state right after the schedule's epoch-begin work."""

    def __init__(self):
        self.seen = []

    def on_epoch_begin(self, trainer):
        net = trainer.model
        self.seen.append(([net[k].weight_orig.array.copy() for k in (0, 2)], len(trainer.optimizer.state)))


@pytest.mark.parametrize("rewind_to", ["init", 3])
def test_iterative_pruning_with_rewinding_restarts_each_stage_from_the_point(rewind_to):
    net, data = _net(), _data()
    prune.prepare_model(net)
    opt = tc.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    saved = {}
    if rewind_to == "init":
        saved = prune.save_rewind_point(net)
    schedule = prune.IterativePruning(0.8, stages=2, epochs_per_stage=1, start_epoch=1, lr_factor=1.0,
                                      rewind=rewind_to)
    probe = _Probe()

    class _Save(Callback):           # the weights after step 3, as the schedule should have saved them
        def on_step_end(self, trainer):
            if trainer.global_step == 3:
                saved.update(prune.save_rewind_point(trainer.model))
    fit(net, opt, data, epochs=3, callbacks=[schedule, probe] + ([_Save()] if rewind_to == 3 else []),
        progress=False)
    for weights, state_size in probe.seen[1:]:          # stages 1 and 2: rewound, optimizer state cleared
        np.testing.assert_array_equal(weights[0], saved["0.weight"])
        np.testing.assert_array_equal(weights[1], saved["2.weight"])
        assert state_size == 0
    assert int((net[0].weight_mask.array == 0).sum()) == round(0.8 * 80)
    restored = prune.IterativePruning(0.8, rewind=rewind_to)
    restored.load_state_dict(schedule.state_dict())
    np.testing.assert_array_equal(restored.point["0.weight"], saved["0.weight"])
