"""The CLI's loss-aware pruning: each criterion trains, checkpoints and deploys (CSR) on the bundled
subset, and flag combinations that would do nothing are refused before training."""
import numpy as np
import pytest

import tinycompress as tc
from runs import read_metrics, run_cli
from tinycompress import cli
from tinycompress.compress import obs


@pytest.mark.parametrize("model, flags", [
    ("sparse_mlp", ["--prune", "obs", "--prune-schedule", "oneshot", "--epochs", "1", "--calib-batches", "2"]),
    ("lenet300_100", ["--prune", "obd", "--prune-schedule", "iterative", "--epochs", "2", "--calib-batches", "1",
                      "--prune-stages", "1"]),
    ("lenet300_100", ["--prune", "l1", "--rewind", "init", "--prune-stages", "1", "--epochs", "2"]),
])
def test_criteria_train_and_deploy(tmp_path, capsys, monkeypatch, model, flags):
    monkeypatch.setattr(obs, "DEFAULT_ROUNDS", 1)          # one OBS round: the refits are the slow part
    run_cli(["train", "--model", model, "--max-steps", "4", "--sparsity", "0.9", "--out", str(tmp_path)] + flags)
    state = tc.load(tmp_path / "last.npz")["model"]
    for layer in ("fc1", "fc2", "fc3"):     # sparse_mlp's masked fc2 (half its own zeros) counts them too
        mask = state[f"{layer}.weight_mask"]
        assert mask.size - np.count_nonzero(mask) == round(0.9 * mask.size), layer
    last = read_metrics(tmp_path)[-1]
    assert cli.main(["export", "--checkpoint", str(tmp_path / "last.npz"), "--out", str(tmp_path / "d.npz")]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "--packed", str(tmp_path / "d.npz")]) == 0
    assert f"test accuracy {last['test_acc']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("schedule", [["oneshot"], ["gradual"], ["gradual", "--prune-frequency", "2"]])
def test_per_layer_sparsity_reaches_each_layer_fraction(tmp_path, schedule):
    rates = {"fc1": 0.95, "fc2": 0.9, "fc3": 0.5}
    run_cli(["train", "--model", "lenet300_100", "--max-steps", "5", "--epochs", "1", "--out", str(tmp_path),
             "--prune", "l1", "--prune-schedule", *schedule,
             "--sparsity", ",".join(f"{k}={v}" for k, v in rates.items())])
    state = tc.load(tmp_path / "last.npz")["model"]
    for layer, rate in rates.items():
        mask = state[f"{layer}.weight_mask"]
        assert mask.size - np.count_nonzero(mask) == round(rate * mask.size), layer


def test_per_layer_sparsity_leaves_unnamed_layers_dense(tmp_path):
    run_cli(["train", "--model", "lenet300_100", "--max-steps", "2", "--epochs", "1", "--out", str(tmp_path),
             "--prune", "l1", "--prune-schedule", "oneshot", "--sparsity", "fc1=0.9"])
    state = tc.load(tmp_path / "last.npz")["model"]
    assert np.count_nonzero(state["fc1.weight_mask"]) == round(0.1 * 300 * 784)
    assert np.all(state["fc2.weight_mask"] == 1) and np.all(state["fc3.weight_mask"] == 1)


@pytest.mark.parametrize("flags, message", [
    (["--prune", "l1", "--sparsity", "fc1=0.9", "--prune-scope", "global"], "per-layer"),
    (["--prune", "l1", "--sparsity", "fc1=0.9,conv9=0.5"], "conv9"),
    (["--prune", "l1", "--sparsity", "fc1=0.9,fc2=1.0"], "--sparsity"),
    (["--prune", "l1", "--prune-frequency", "100"], "--prune-frequency"),
    (["--prune", "l1", "--prune-schedule", "gradual", "--prune-frequency", "0"], "--prune-frequency"),
    (["--prune", "l1", "--rewind", "init", "--prune-schedule", "gradual"], "--rewind"),
    (["--prune", "obs", "--prune-scope", "global"], "layer-wise"),
    (["--prune", "movement", "--prune-schedule", "oneshot"], "movement"),
    (["--rewind", "init"], "without --prune"),
    (["--prune", "l1", "--rewind", "init", "--epochs", "3"], "rounds"),
    (["--prune", "taylor", "--calib-batches", "0"], "calib-batches"),
])
def test_bad_combinations_are_refused_before_training(tmp_path, capsys, flags, message):
    assert cli.main(["train", "--model", "lenet300_100", "--out", str(tmp_path)] + flags) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "last.npz").exists()


def test_compare_runs_the_second_order_point(tmp_path, monkeypatch):
    from tinycompress.compare import run_compare
    monkeypatch.delenv("TINYCOMPRESS_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(obs, "DEFAULT_ROUNDS", 1)
    result = run_compare(epochs=2, seed=0, out_dir=str(tmp_path / "cmp"), max_steps=2, progress=False,
                         methods=("pruned-obs",), log=lambda message: None)
    by = {r["method"]: r for r in result["results"]}
    assert by["pruned-obs"]["format"] == "sparse"
    assert by["pruned-obs"]["nonzeros"] <= 26_620 + 410 and by["pruned-obs"]["epochs"] == 2
