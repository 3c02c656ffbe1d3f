"""The CLI's compression-family flags: pruning schedules and the low-rank train → truncate → fine-tune
pipeline survive a crash and resume exactly, and their checkpoints evaluate and export anywhere."""
import numpy as np
import pytest

import tinycompress as tc
from runs import read_metrics, run_cli
from tinycompress import cli, train


def _crash_after(monkeypatch, epochs_done: int):
    """Make the run die right after the checkpoint of its ``epochs_done``-th epoch (of any phase)."""
    original = train.Checkpoint.on_epoch_end
    seen = []

    def on_epoch_end(self, trainer, metrics):
        original(self, trainer, metrics)
        seen.append(1)
        if len(seen) == epochs_done:
            raise KeyboardInterrupt("simulated crash")

    monkeypatch.setattr(train.Checkpoint, "on_epoch_end", on_epoch_end)


def _assert_samerun_cli(a, b):
    assert read_metrics(a) == read_metrics(b)
    sa, sb = tc.load(a / "last.npz")["model"], tc.load(b / "last.npz")["model"]
    assert list(sa) == list(sb)
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=key)


def _crash_and_resume(tmp_path, monkeypatch, args, crash_after):
    run_cli(args + ["--out", str(tmp_path / "full")])
    with monkeypatch.context() as m:
        _crash_after(m, crash_after)
        assert cli.main(args + ["--out", str(tmp_path / "split"), "--no-progress"]) == 130    # Ctrl-C's status
    run_cli(["train", "--out", str(tmp_path / "split"), "--resume", "--max-steps", "5"])
    _assert_samerun_cli(tmp_path / "full", tmp_path / "split")


@pytest.mark.parametrize("schedule", ["iterative", "gradual"])
def test_pruned_run_resumes_exactly_and_reaches_its_sparsity(tmp_path, monkeypatch, schedule):
    args = ["train", "--model", "lenet300_100", "--epochs", "4", "--max-steps", "5", "--prune", "l1",
            "--sparsity", "0.8", "--prune-schedule", schedule]
    _crash_and_resume(tmp_path, monkeypatch, args, crash_after=2)
    state = tc.load(tmp_path / "split" / "last.npz")["model"]
    for layer in ("fc1", "fc2", "fc3"):
        mask = state[f"{layer}.weight_mask"]
        assert mask.size - np.count_nonzero(mask) == round(0.8 * mask.size), layer


def test_low_rank_pipeline_resumes_exactly_inside_the_fine_tuning(tmp_path, monkeypatch):
    args = ["train", "--model", "svd_mlp", "--epochs", "1", "--max-steps", "5", "--svd-lambda-o", "0.01",
            "--svd-lambda-s", "0.01", "--svd-truncate", "0.8", "--finetune-epochs", "2"]
    _crash_and_resume(tmp_path, monkeypatch, args, crash_after=2)     # 1 training + 1 of 2 fine-tuning epochs
    state = tc.load(tmp_path / "split" / "last.npz")["model"]
    assert state["0.s"].shape[0] < 300 and state["2.s"].shape[0] < 100      # truncated below full rank
    assert len(read_metrics(tmp_path / "split")) == 3


@pytest.mark.parametrize("model, flags", [
    ("lenet300_100", ["--prune", "l1", "--sparsity", "0.9", "--prune-schedule", "oneshot"]),
    ("svd_mlp", ["--svd-lambda-s", "0.01", "--svd-truncate", "0.7", "--finetune-epochs", "1"]),
])
def test_checkpoint_and_its_deployed_form_score_the_same(tmp_path, capsys, model, flags):
    run_cli(["train", "--model", model, "--epochs", "1", "--max-steps", "10", "--out", str(tmp_path)] + flags)
    last = read_metrics(tmp_path)[-1]
    capsys.readouterr()
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "last.npz")]) == 0
    assert f"test accuracy {last['test_acc']:.4f}" in capsys.readouterr().out
    assert cli.main(["export", "--checkpoint", str(tmp_path / "last.npz"), "--out", str(tmp_path / "d.npz")]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "--packed", str(tmp_path / "d.npz")]) == 0
    assert f"test accuracy {last['test_acc']:.4f}" in capsys.readouterr().out


def test_bad_family_values_are_rejected_with_the_flag_named(capsys):
    assert cli.main(["train", "--model", "lenet300_100", "--prune", "l1", "--sparsity", "1.5"]) == 2
    assert "tinycompress: error: --sparsity 1.5" in capsys.readouterr().err
    assert cli.main(["train", "--model", "svd_mlp", "--svd-truncate", "0"]) == 2
    assert "tinycompress: error: --svd-truncate 0" in capsys.readouterr().err
