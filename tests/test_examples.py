"""Every example runs end to end (a few batches on the bundled MNIST subset): the scripts the README
points to cannot rot unnoticed. Their real, full-length results are in the README."""
import importlib.util
import pathlib

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"
NO_DATA = []          # no --data, no $TINYCOMPRESS_DATA, no ./data: the bundled subset, whatever this machine holds

RUNS = {
    "batchnorm_mnist.py": ["--epochs", "1", "--max-steps", "3", "--no-progress"] + NO_DATA,
    "bnn_vs_torch.py": ["--epochs", "1", "--max-steps", "2"] + NO_DATA,
    "mnist_bnn.py": ["--epochs", "1", "--max-steps", "3"] + NO_DATA,
    "bnn_conv.py": ["--epochs", "1", "--max-steps", "2", "--batch-size", "16", "--test-samples", "32",
                    "--cifar", "/nonexistent"] + NO_DATA,
    "sparse_mlp.py": ["--epochs", "1", "--max-steps", "3"] + NO_DATA,
    "prune_criteria.py": ["--dense-epochs", "1", "--max-steps", "3", "--sparsities", "0.9", "--calib-batches", "1",
                          "--criteria", "taylor", "obs", "--obs-rounds", "1", "--retrain-epochs", "1"] + NO_DATA,
    "prune_lenet.py": ["--dense-epochs", "1", "--stages", "2", "--stage-epochs", "1", "--max-steps", "3"] + NO_DATA,
    "svd_training.py": ["--samples", "64", "--epochs", "1", "--finetune-epochs", "1", "--max-steps", "3",
                        "--sweep", "0.9"] + NO_DATA,
    "higher_order.py": ["--out", "."],
    "lottery_control.py": ["--ticket", "lottery/last.npz", "--seeds", "1", "--epochs", "1", "--max-steps", "3"] + NO_DATA,
}


def _lottery_run():
    """A two-round lottery run of a few batches: the pruned checkpoint lottery_control.py reads."""
    from tinycompress.cli import main
    assert main(["train", "--model", "lenet300_100", "--prune", "l1", "--rewind", "init", "--prune-stages", "1",
                 "--epochs", "2", "--max-steps", "3", "--sparsity", "0.5", "--out", "lottery", "--no-progress"]) == 0


SETUP = {"lottery_control.py": _lottery_run}          # what an example reads, made first


def _load(name):
    spec = importlib.util.spec_from_file_location(f"example_{name[:-3]}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_has_a_smoke_run():
    assert sorted(RUNS) == sorted(p.name for p in EXAMPLES.glob("*.py") if p.name != "compare.py")


@pytest.mark.parametrize("name", sorted(RUNS))
def test_example_runs(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                     # examples that write files write them here; no ./data
    monkeypatch.delenv("TINYCOMPRESS_DATA", raising=False)
    if name in SETUP:
        SETUP[name]()
    assert _load(name).main(RUNS[name]) in (0, None)
