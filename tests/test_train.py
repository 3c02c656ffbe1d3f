"""The training loop and CLI: a resumed run equals an uninterrupted one; checkpoints and metrics."""
import numpy as np
import pytest

import tinycompress as tc
from runs import read_metrics, run_cli
from tinycompress import cli
from tinycompress.callbacks import Callback
from tinycompress.train import Trainer, evaluate, fit


@pytest.mark.parametrize("model", ["mlp", "bn_mlp"])
def test_resume_equals_uninterrupted(tmp_path, model):
    common = ["train", "--model", model, "--max-steps", "6", "--test-batch-size", "2000"]
    run_cli(common + ["--epochs", "3", "--out", str(tmp_path / "full")])
    run_cli(common + ["--epochs", "1", "--out", str(tmp_path / "split")])
    run_cli(["train", "--epochs", "3", "--out", str(tmp_path / "split"), "--resume", "--max-steps", "6"])
    assert read_metrics(tmp_path / "split") == read_metrics(tmp_path / "full")
    full = tc.load(tmp_path / "full" / "last.npz")["model"]
    split = tc.load(tmp_path / "split" / "last.npz")["model"]
    assert list(full) == list(split)
    for key in full:
        np.testing.assert_array_equal(full[key], split[key], err_msg=key)


def test_metrics_have_the_promised_fields(tmp_path):
    run_cli(["train", "--model", "mlp", "--epochs", "1", "--max-steps", "3", "--out", str(tmp_path)])
    (row,) = read_metrics(tmp_path)
    assert {"epoch", "train_loss", "train_acc", "test_loss", "test_acc", "lr"} <= set(row)
    assert row["epoch"] == 1 and 0 <= row["test_acc"] <= 1


def test_eval_command_reproduces_the_checkpoint_accuracy(tmp_path, capsys):
    run_cli(["train", "--model", "mlp", "--epochs", "1", "--max-steps", "20", "--out", str(tmp_path),
          "--test-batch-size", "500"])
    (row,) = read_metrics(tmp_path)
    capsys.readouterr()
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "last.npz")]) == 0
    assert f"test accuracy {row['test_acc']:.4f}" in capsys.readouterr().out


def test_resume_without_a_checkpoint_says_what_to_do(tmp_path, capsys):
    assert cli.main(["train", "--out", str(tmp_path / "none"), "--resume"]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_bad_scheduler_spec_is_rejected():
    with pytest.raises(SystemExit):
        cli.main(["train", "--scheduler", "sometimes"])


class _Recorder(Callback):
    def __init__(self):
        self.calls = []

    def on_train_begin(self, trainer):
        self.calls.append("train_begin")

    def on_epoch_begin(self, trainer):
        self.calls.append(f"epoch_begin {trainer.epoch}")

    def extra_loss(self, trainer):
        self.calls.append("extra_loss")
        return None

    def on_step_end(self, trainer):
        self.calls.append("step_end")

    def on_epoch_end(self, trainer, metrics):
        self.calls.append(f"epoch_end {metrics['epoch']}")

    def on_train_end(self, trainer):
        self.calls.append("train_end")


def _toy_loaders():
    from tinycompress.data import DataLoader, TensorDataset
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    return DataLoader(TensorDataset(x, y), batch_size=10, shuffle=True), DataLoader(TensorDataset(x, y), batch_size=20)


def test_callback_hooks_are_called_in_order():
    tc.manual_seed(0)
    train, test = _toy_loaders()
    model = tc.nn.Linear(5, 2)
    rec = _Recorder()
    fit(model, tc.optim.SGD(model.parameters(), lr=0.1), train, epochs=2, test_loader=test,
        callbacks=[rec], progress=False, log=lambda m: None)
    per_epoch = ["extra_loss", "step_end"] * 4
    assert rec.calls == (["train_begin", "epoch_begin 0"] + per_epoch + ["epoch_end 1", "epoch_begin 1"]
                         + per_epoch + ["epoch_end 2", "train_end"])


def test_extra_loss_is_added_to_the_objective():
    """An L2 penalty through extra_loss must shrink weights more than training without it."""
    class L2(Callback):
        def extra_loss(self, trainer):
            return 10.0 * (trainer.model.weight ** 2).sum()

    norms = []
    for callbacks in ([], [L2()]):
        tc.manual_seed(0)
        train, _ = _toy_loaders()
        model = tc.nn.Linear(5, 2)
        fit(model, tc.optim.SGD(model.parameters(), lr=0.01), train, epochs=2, callbacks=callbacks,
            progress=False, log=lambda m: None)
        norms.append(float((model.weight.array ** 2).sum()))
    assert norms[1] < 0.5 * norms[0]


def test_evaluate_restores_training_mode_and_records_no_graph():
    train, test = _toy_loaders()
    model = tc.nn.Sequential(tc.nn.Linear(5, 4), tc.nn.BatchNorm1d(4), tc.nn.Linear(4, 2))
    before = model[1].running_mean.array.copy()
    result = evaluate(model, test)
    assert model.training and 0 <= result["acc"] <= 1
    np.testing.assert_array_equal(model[1].running_mean.array, before)   # eval mode: stats untouched
