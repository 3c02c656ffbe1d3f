"""The CLI's loss-aware pruning: each criterion trains, checkpoints and deploys (CSR) on the bundled
subset, and flag combinations that would do nothing are refused before training."""
import numpy as np
import pytest

import tinycompress as tc
from runs import read_metrics, run_cli
from tinycompress import cli


@pytest.mark.parametrize("flags", [
    ["--prune", "obs", "--prune-schedule", "oneshot", "--epochs", "1", "--calib-batches", "2"],
    ["--prune", "obd", "--prune-schedule", "iterative", "--epochs", "2", "--calib-batches", "1",
     "--prune-stages", "1"],
    ["--prune", "l1", "--rewind", "init", "--prune-stages", "1", "--epochs", "2"],
])
def test_criteria_train_and_deploy(tmp_path, capsys, flags):
    run_cli(["train", "--model", "lenet300_100", "--max-steps", "4", "--sparsity", "0.9", "--out",
             str(tmp_path)] + flags)
    state = tc.load(tmp_path / "last.npz")["model"]
    for layer in ("fc1", "fc2", "fc3"):
        mask = state[f"{layer}.weight_mask"]
        assert mask.size - np.count_nonzero(mask) == round(0.9 * mask.size), layer
    last = read_metrics(tmp_path)[-1]
    assert cli.main(["export", "--checkpoint", str(tmp_path / "last.npz"), "--out", str(tmp_path / "d.npz")]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "--packed", str(tmp_path / "d.npz")]) == 0
    assert f"test accuracy {last['test_acc']:.4f}" in capsys.readouterr().out


@pytest.mark.parametrize("flags, message", [
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
