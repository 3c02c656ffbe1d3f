"""The CLI under faults and bad input (issue 14): kills at any point lose nothing, bad input gets one line
naming the problem (exit 2) before anything trains, and nothing trains on the wrong data silently.

Kills are real: a subprocess SIGKILLs itself at a chosen point through the trainer's test hook
(``$TINYCOMPRESS_TEST_KILL``: ``step:N``, ``checkpoint:N`` during the N-th checkpoint write,
``after-checkpoint:N`` between a checkpoint and its metrics row).
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinycompress as tc
from runs import read_metrics, run_cli
from tinycompress import cli, train
from tinycompress.data.idx import write_idx

TREE = str(Path(tc.__file__).resolve().parents[1])       # the tree under test, first on the child's path
SMALL = ["train", "--model", "mlp", "--max-steps", "4", "--test-batch-size", "1000"]


@pytest.fixture(autouse=True)
def _no_data_around(tmp_path, monkeypatch):
    """Run where no ./data exists and no $TINYCOMPRESS_DATA is set: only what a test names is found."""
    monkeypatch.delenv("TINYCOMPRESS_DATA", raising=False)
    monkeypatch.delenv("TINYCOMPRESS_DEBUG", raising=False)
    monkeypatch.chdir(tmp_path)


def _child(args, kill=None, cwd=None, progress=False):
    env = {k: v for k, v in os.environ.items() if k not in ("TINYCOMPRESS_DATA", train.KILL_ENV)}
    env["PYTHONPATH"] = TREE + os.pathsep + env.get("PYTHONPATH", "")
    if kill:
        env[train.KILL_ENV] = kill
    return subprocess.run([sys.executable, "-m", "tinycompress"] + args + ([] if progress else ["--no-progress"]),
                          env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def _error(capsys, argv, status=2) -> str:
    """Run ``tinycompress argv``; assert the status and that stderr is one ``tinycompress: error:`` line."""
    assert cli.main(argv) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("tinycompress: error: "), err
    assert not any("Traceback" in line for line in err)
    return err[-1]


# ---------------------------------------------------------------- 2. determinism and the progress bar
def test_progress_bar_does_not_change_a_seeded_run_nor_its_resume(tmp_path, capsys):
    pytest.importorskip("tqdm")
    args = SMALL + ["--epochs", "2", "--seed", "3"]
    assert cli.main(args + ["--out", str(tmp_path / "bar")]) == 0                  # with the bar
    run_cli(args + ["--out", str(tmp_path / "plain")])                             # without
    assert read_metrics(tmp_path / "bar") == read_metrics(tmp_path / "plain")
    assert cli.main(SMALL + ["--epochs", "1", "--seed", "3", "--out", str(tmp_path / "mixed")]) == 0
    run_cli(["train", "--out", str(tmp_path / "mixed"), "--resume", "--epochs", "2", "--max-steps", "4"])
    assert read_metrics(tmp_path / "mixed") == read_metrics(tmp_path / "plain")


# ---------------------------------------------------------------- 3. run folders are not reused silently
def test_existing_run_folder_is_refused_and_left_intact(tmp_path, capsys):
    out = tmp_path / "run"
    run_cli(SMALL + ["--epochs", "1", "--out", str(out)])
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    line = _error(capsys, SMALL + ["--epochs", "1", "--out", str(out)])
    assert "--resume" in line and "--overwrite" in line and str(out) in line
    for argv in (["--epochs", "0"], ["--epochs", "-1"]):
        assert "--epochs" in _error(capsys, SMALL + argv + ["--out", str(out)])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_overwrite_starts_over_and_equals_a_fresh_run(tmp_path, capsys):
    run_cli(SMALL + ["--epochs", "2", "--out", str(tmp_path / "a")])
    run_cli(SMALL + ["--epochs", "1", "--seed", "1", "--out", str(tmp_path / "b")])
    run_cli(SMALL + ["--epochs", "2", "--out", str(tmp_path / "b"), "--overwrite"])
    assert read_metrics(tmp_path / "b") == read_metrics(tmp_path / "a")


def test_overwrite_deletes_only_a_runs_files(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert "notes.txt" in _error(capsys, SMALL + ["--epochs", "1", "--out", str(tmp_path), "--overwrite"])
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("flag, value", [
    ("--epochs", "0"), ("--max-steps", "-1"), ("--max-steps", "0"), ("--batch-size", "0"),
    ("--test-batch-size", "-5"), ("--lr", "-1"), ("--lr", "0"), ("--lr", "inf"), ("--lr", "nan"),
    ("--momentum", "-0.5"), ("--weight-decay", "nan"), ("--seed", "-1"), ("--finetune-epochs", "0"),
])
def test_out_of_range_numbers_are_refused_before_anything_is_written(tmp_path, capsys, flag, value):
    line = _error(capsys, SMALL + [flag, value, "--out", str(tmp_path / "r")])
    assert f"{flag} {value}" in line
    assert not (tmp_path / "r").exists()


def test_an_option_the_chosen_optimizer_does_not_take_is_refused_before_anything_is_written(tmp_path, capsys):
    line = _error(capsys, SMALL + ["--optimizer", "adam", "--momentum", "0.9", "--out", str(tmp_path / "r")])
    assert "'adam'" in line and "momentum" in line
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- 4. kills: metrics and checkpoint agree
@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The reference: 3 epochs of 4 steps, never interrupted."""
    out = tmp_path_factory.mktemp("ref") / "run"
    done = _child(SMALL + ["--epochs", "3", "--out", str(out)], cwd=out.parent)
    assert done.returncode == 0, done.stderr
    return read_metrics(out), tc.load(out / "last.npz")["model"]


@pytest.mark.parametrize("kill", ["step:6", "checkpoint:2", "after-checkpoint:2"])
def test_sigkill_anywhere_then_resume_equals_the_uninterrupted_run(tmp_path, uninterrupted, kill):
    out = tmp_path / "run"
    killed = _child(SMALL + ["--epochs", "3", "--out", str(out)], kill=kill, cwd=tmp_path)
    assert killed.returncode == -signal.SIGKILL
    saved = tc.load(out / "last.npz")
    rows = read_metrics(out)
    assert len(rows) <= saved["epoch"]                   # metrics never run ahead of the checkpoint
    if kill.startswith("checkpoint"):
        assert any(n.startswith(".tmp-") for n in os.listdir(out))     # the write the kill cut short
    resumed = _child(["train", "--out", str(out), "--resume", "--max-steps", "4"], cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert sorted(os.listdir(out)) == ["last.npz", "metrics.jsonl"]    # stale temporaries cleaned
    metrics, weights = uninterrupted
    assert read_metrics(out) == metrics                  # one row per epoch, none twice, none missing
    final = tc.load(out / "last.npz")["model"]
    for key in weights:
        np.testing.assert_array_equal(final[key], weights[key], err_msg=key)


def test_ctrl_c_exits_130_naming_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    original = train.Checkpoint.on_epoch_end

    def interrupt_after_first(self, trainer, metrics):
        original(self, trainer, metrics)
        raise KeyboardInterrupt
    monkeypatch.setattr(train.Checkpoint, "on_epoch_end", interrupt_after_first)
    assert cli.main(SMALL + ["--epochs", "2", "--out", str(tmp_path / "r"), "--no-progress"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"{tmp_path / 'r' / 'last.npz'} (epoch 1)" in err and "--resume" in err


# ---------------------------------------------------------------- 5. export never destroys its input
def test_export_refuses_to_overwrite_its_checkpoint_or_any_file_without_force(tmp_path, capsys):
    run_cli(SMALL + ["--epochs", "1", "--out", str(tmp_path / "r")])
    ckpt = tmp_path / "r" / "last.npz"
    before = ckpt.read_bytes()
    for out in (ckpt, tmp_path / "r" / ".." / "r" / "last.npz"):
        assert "is the checkpoint" in _error(capsys, ["export", "--checkpoint", str(ckpt), "--out", str(out),
                                                      "--force"])
    assert ckpt.read_bytes() == before
    other = tmp_path / "other.npz"
    other.write_bytes(b"precious")
    assert "--force" in _error(capsys, ["export", "--checkpoint", str(ckpt), "--out", str(other)])
    assert other.read_bytes() == b"precious"
    assert cli.main(["export", "--checkpoint", str(ckpt), "--out", str(other), "--force"]) == 0
    assert other.read_bytes() != b"precious" and ckpt.read_bytes() == before


# ---------------------------------------------------------------- 6. --out is checked before training
def test_unwritable_out_is_found_before_training(tmp_path, capsys):
    (tmp_path / "afile").write_text("x")
    assert "is a file" in _error(capsys, SMALL + ["--out", str(tmp_path / "afile")])
    assert "not writable" in _error(capsys, SMALL + ["--out", str(tmp_path / "afile" / "sub")])
    assert "Epoch" not in capsys.readouterr().out


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_found_before_training(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        assert "not writable" in _error(capsys, SMALL + ["--out", str(ro / "run")])
    finally:
        ro.chmod(0o700)


def test_compare_checks_its_flags_before_training(tmp_path, capsys):
    line = _error(capsys, ["compare", "--energy", "2", "--out", str(tmp_path / "c")])
    assert "--energy 2" in line and "==" not in capsys.readouterr().out
    assert "--data" in _error(capsys, ["compare", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c")])


# ---------------------------------------------------------------- 7. --resume does not ignore flags
def test_resume_refuses_flags_that_disagree_with_the_run(tmp_path, capsys):
    out = str(tmp_path / "r")
    run_cli(SMALL + ["--epochs", "1", "--out", out])
    line = _error(capsys, ["train", "--out", out, "--resume", "--epochs", "2", "--lr", "0.5", "--model", "bn_mlp",
                           "--batch-size", "32", "--optimizer", "adam"])
    for flag in ("--lr 0.5", "--model bn_mlp", "--batch-size 32", "--optimizer adam"):
        assert flag in line
    assert len(read_metrics(tmp_path / "r")) == 1
    run_cli(["train", "--out", out, "--resume", "--epochs", "2", "--lr", "0.1", "--max-steps", "4"])  # agrees
    assert [r["epoch"] for r in read_metrics(tmp_path / "r")] == [1, 2]
    assert "complete" in _error(capsys, ["train", "--out", out, "--resume"])


# ---------------------------------------------------------------- 8. wrong data is an error, never a fallback
def _full_fake(folder):
    """A tiny complete MNIST folder: 20 training and 10 test images, labels 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 20), ("t10k", 10)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", (np.arange(n) % 10).astype(np.uint8))
    return folder


@pytest.mark.parametrize("case", ["missing", "file", "empty", "one_file_gone"])
def test_a_named_data_folder_that_fails_is_an_error_naming_it(tmp_path, capsys, case):
    data = tmp_path / "mnist"
    if case == "file":
        data.write_text("x")
    elif case == "empty":
        data.mkdir()
    elif case == "one_file_gone":
        _full_fake(data)
        (data / "t10k-labels-idx1-ubyte.gz").unlink()
    line = _error(capsys, SMALL + ["--data", str(data), "--out", str(tmp_path / "r")])
    assert str(data) in line and "--data" in line
    if case == "one_file_gone":
        assert "t10k-labels-idx1-ubyte" in line
    assert "bundled" not in capsys.readouterr().err and not (tmp_path / "r" / "last.npz").exists()


def test_a_bad_environment_variable_is_an_error_too(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(tmp_path / "nowhere"))
    assert "$TINYCOMPRESS_DATA" in _error(capsys, SMALL + ["--out", str(tmp_path / "r")])


def test_nothing_named_falls_back_once_and_every_result_names_its_test_set(tmp_path, capsys):
    run_cli(SMALL + ["--epochs", "1", "--out", str(tmp_path / "r")])
    captured = capsys.readouterr()
    assert captured.err.count("bundled subset") == 1 and "--data" in captured.err
    assert "final test accuracy" in captured.out and "the bundled subset (2,000 test images)" in captured.out
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "r" / "last.npz")]) == 0
    assert "on the bundled subset (2,000 test images)" in capsys.readouterr().out
    data = _full_fake(tmp_path / "fake")
    assert cli.main(["eval", "--checkpoint", str(tmp_path / "r" / "last.npz"), "--data", str(data)]) == 0
    captured = capsys.readouterr()
    assert "on full MNIST (10 test images)" in captured.out and "bundled" not in captured.err


def test_a_label_outside_the_classes_is_refused_up_front_naming_the_file(tmp_path, capsys):
    data = _full_fake(tmp_path / "fake")
    labels = np.arange(10, dtype=np.uint8)
    labels[4] = 12
    write_idx(data / "t10k-labels-idx1-ubyte.gz", labels)
    line = _error(capsys, SMALL + ["--data", str(data), "--out", str(tmp_path / "r")])
    assert "t10k-labels-idx1-ubyte.gz" in line and "label 12" in line
    assert not (tmp_path / "r" / "last.npz").exists()


# ---------------------------------------------------------------- 9. NaN stops training, keeps the last finite
@pytest.mark.filterwarnings("error::RuntimeWarning")          # one error line, no overflow warnings before it
def test_a_diverging_run_stops_with_the_step_named_and_saves_nothing_non_finite(tmp_path, capsys):
    line = _error(capsys, SMALL + ["--lr", "1e30", "--epochs", "2", "--out", str(tmp_path / "r")])
    assert "nan" in line.lower() or "inf" in line.lower()
    assert "step" in line and "--lr" in line
    assert not (tmp_path / "r" / "last.npz").exists()


def test_nan_in_the_data_stops_training_and_keeps_the_last_finite_checkpoint(tmp_path):
    from tinycompress.callbacks import Callback
    from tinycompress.data import DataLoader, TensorDataset
    x = np.random.default_rng(0).standard_normal((40, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    class PoisonAfterFirstEpoch(Callback):
        def on_epoch_end(self, trainer, metrics):
            x[7, 2] = np.nan                      # the loader reads x: epoch 2 meets the NaN

    tc.manual_seed(0)
    model = tc.nn.Linear(5, 2)
    path = tmp_path / "last.npz"
    callbacks = [train.Checkpoint(path), PoisonAfterFirstEpoch()]
    with pytest.raises(train.NonFiniteLossError, match="epoch 2, step"):
        train.fit(model, tc.optim.SGD(model.parameters(), lr=0.1), DataLoader(TensorDataset(x, y), batch_size=10),
                  epochs=3, callbacks=callbacks, progress=False, log=lambda m: None)
    state = tc.load(path)
    assert state["epoch"] == 1 and all(np.isfinite(v).all() for v in state["model"].values())
    assert np.isfinite(model.weight.array).all()           # stopped before the NaN step was applied


# ---------------------------------------------------------------- 10. flags that would do nothing
@pytest.mark.parametrize("argv, needle", [
    (["--model", "lenet300_100", "--prune", "l1", "--epochs", "1"], "--prune-schedule iterative"),
    (["--model", "mlp", "--svd-truncate", "0.9"], "--svd-truncate"),
    (["--model", "mlp", "--svd-lambda-s", "0.1"], "--svd-lambda-s"),
    (["--model", "mlp", "--clip-weights"], "--clip-weights"),
    (["--model", "lenet300_100", "--sparsity", "0.5"], "without --prune"),
    (["--model", "svd_mlp", "--finetune-epochs", "2"], "without --svd-truncate"),
])
def test_flags_that_would_do_nothing_are_refused_up_front(tmp_path, capsys, argv, needle):
    assert needle in _error(capsys, ["train"] + argv + ["--out", str(tmp_path / "r")])
    assert not (tmp_path / "r").exists()


# ---------------------------------------------------------------- 11/12. one line for damaged files
@pytest.mark.parametrize("content", [b"", b"garbage bytes, not a zip", b"PK\x03\x04 cut short"])
def test_damaged_files_give_one_line_naming_the_path(tmp_path, capsys, content):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(content)
    for argv in (["eval", "--checkpoint", str(bad)], ["export", "--checkpoint", str(bad), "--out", "d.npz"],
                 ["eval", "--packed", str(bad)], ["report", "--packed", str(bad)]):
        assert str(bad) in _error(capsys, argv), argv
    assert _error(capsys, ["eval", "--checkpoint", str(tmp_path / "none.npz")]).endswith("no such file")


def test_a_deployed_file_is_not_taken_for_a_checkpoint(tmp_path, capsys):
    run_cli(SMALL + ["--epochs", "1", "--out", str(tmp_path / "r")])
    assert cli.main(["export", "--checkpoint", str(tmp_path / "r" / "last.npz"), "--out", "d.npz"]) == 0
    assert "eval --packed" in _error(capsys, ["eval", "--checkpoint", "d.npz"])


def test_debug_shows_the_traceback(tmp_path):
    with pytest.raises(Exception):
        cli.main(["--debug", "eval", "--checkpoint", str(tmp_path / "none.npz")])


# ---------------------------------------------------------------- 13. messages and files
def test_fine_tuning_numbers_epochs_on_and_names_its_phase(tmp_path, capsys):
    run_cli(["train", "--model", "svd_mlp", "--epochs", "2", "--max-steps", "3", "--svd-lambda-s", "0.01",
             "--svd-truncate", "0.8", "--finetune-epochs", "2", "--out", str(tmp_path)])
    rows = read_metrics(tmp_path)
    assert [(r["epoch"], r["phase"]) for r in rows] == [(1, "train"), (2, "train"), (3, "finetune"),
                                                       (4, "finetune")]


def test_phase_change_is_marked_on_the_curves(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    from tinycompress import plots
    lines = []
    original = plt.Axes.axvline
    monkeypatch.setattr(plt.Axes, "axvline", lambda self, x, **kw: lines.append(x) or original(self, x, **kw))
    rows = [{"epoch": e, "phase": p, "train_loss": 1.0, "test_acc": 0.5} for e, p in
            [(1, "train"), (2, "train"), (3, "finetune")]]
    assert plots.plot_curves(rows, str(tmp_path / "c.png"))
    assert lines == [2.5, 2.5]                            # both panels, between epochs 2 and 3


def test_plot_without_matplotlib_warns_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)          # import matplotlib -> ImportError
    assert cli.main(SMALL + ["--epochs", "1", "--out", str(tmp_path / "r"), "--plot", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "matplotlib" in captured.err and not (tmp_path / "r" / "curves.png").exists()
    # the warning came first: it is on stderr before any epoch line could be printed (one process, flushed)
    assert captured.err.index("matplotlib") < captured.err.index("bundled subset") or "bundled" not in captured.err


def test_without_tqdm_progress_lines_are_printed(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(train, "_has_tqdm", lambda: False)
    assert cli.main(["train", "--model", "mlp", "--max-steps", "20", "--epochs", "1", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "step 2/20" in out and "step 18/20" in out and "step 20/20" not in out


def test_help_version_header_and_file_modes(tmp_path, capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = capsys.readouterr().out
    assert "bnn_mlp" in help_text and "100 epochs" in help_text and "adam lr 0.01" in help_text
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.startswith("tinycompress ")
    mask = os.umask(0o022)
    try:
        run_cli(SMALL + ["--epochs", "1", "--out", str(tmp_path / "r")])
    finally:
        os.umask(mask)
    assert "for 1 epoch:" in capsys.readouterr().out
    for name in ("last.npz", "metrics.jsonl"):
        assert os.stat(tmp_path / "r" / name).st_mode & 0o777 == 0o644, name


def test_python_dash_m_runs_the_cli(tmp_path):
    done = _child(["--version"], progress=True)
    assert done.returncode == 0 and done.stdout.startswith("tinycompress ")


def test_metrics_rows_are_json_objects_with_a_phase(tmp_path):
    run_cli(SMALL + ["--epochs", "1", "--out", str(tmp_path)])
    (row,) = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert row["phase"] == "train" and row["epoch"] == 1
