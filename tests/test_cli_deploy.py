"""Every registered model deploys: `train` -> `export` -> `eval --packed` -> `report --packed` from the CLI, with
the deployed predictions equal to the trained model's (eval mode), on a small MNIST the test writes."""
import json
import os

import numpy as np
import pytest

import tinycompress as tc
from tinycompress import cli, models, nn
from tinycompress.compress.deploy import export, load_deployed
from tinycompress.data.idx import read_idx, write_idx

BUNDLED = os.path.join(os.path.dirname(tc.__file__), "data", "bundled")
FAMILY_FORMAT = {"bnn_mlp": "packed", "bnn_conv": "packed", "nin_bnn": "packed", "svd_mlp": "factorized",
                 "resnet18_svd": "factorized", "sparse_mlp": "sparse"}
MNIST_CLASSIFIERS = [name for name in models.names() if name != "svd_net"]     # svd_net: seed 003's regression demo


@pytest.fixture(scope="module")
def tiny_mnist(tmp_path_factory):
    """40 training and 30 test images of the bundled subset, as the four IDX files the CLI's --data reads."""
    root = tmp_path_factory.mktemp("mnist")
    for split, n in (("train", 40), ("t10k", 30)):
        for kind in ("images-idx3", "labels-idx1"):
            name = f"{split}-{kind}-ubyte"
            write_idx(root / name, read_idx(os.path.join(BUNDLED, name + ".gz"))[:n])
    return root


def test_train_help_lists_every_registered_model(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert all(name in out for name in models.names())


def _slow_if_resnet(names):
    """The low-rank ResNet-18 (11M parameters, every conv factorized and regularized) takes tens of seconds:
    `pytest -m slow` runs it; the plain ResNet-18 (residual blocks) and the other low-rank models stay."""
    return [pytest.param(n, marks=pytest.mark.slow) if n == "resnet18_svd" else n for n in names]


@pytest.mark.parametrize("name", _slow_if_resnet(MNIST_CLASSIFIERS))
def test_every_model_exports_and_evaluates_deployed(name, tiny_mnist, tmp_path, capsys):
    run, data = tmp_path / "run", str(tiny_mnist)
    assert cli.main(["train", "--model", name, "--epochs", "1", "--max-steps", "2", "--batch-size", "8",
                     "--test-batch-size", "10", "--data", data, "--out", str(run), "--no-progress"]) == 0
    capsys.readouterr()
    assert cli.main(["eval", "--checkpoint", str(run / "last.npz"), "--data", data, "--batch-size", "10"]) == 0
    trained = capsys.readouterr().out.split("test accuracy ")[1].split()[0]
    assert cli.main(["export", "--checkpoint", str(run / "last.npz"), "--out", str(tmp_path / "d.npz")]) == 0
    assert cli.main(["eval", "--packed", str(tmp_path / "d.npz"), "--data", data, "--batch-size", "10"]) == 0
    assert capsys.readouterr().out.split("test accuracy ")[1].split()[0] == trained
    assert cli.main(["report", "--packed", str(tmp_path / "d.npz"), "--json"]) == 0
    from_file = json.loads(capsys.readouterr().out)
    assert cli.main(["report", "--checkpoint", str(run / "last.npz"), "--json"]) == 0
    from_checkpoint = json.loads(capsys.readouterr().out)
    deployed = load_deployed(tmp_path / "d.npz")
    assert deployed.format == FAMILY_FORMAT.get(name, "dense")
    assert from_file["total"]["bytes"] == from_checkpoint["total"]["bytes"] == deployed.nbytes
    # prediction for prediction, on the images the CLI evaluated
    model, config, _ = cli.model_from_checkpoint(run / "last.npz")
    _, test_loader = models.mnist_loaders(models.Recipe(**config["recipe"]), root=data, test_batch_size=30)
    x, _ = next(iter(test_loader))
    model.eval()
    with tc.no_grad():
        expected = model(x).array
    got = deployed(x.array)
    np.testing.assert_array_equal(got.argmax(1), expected.argmax(1))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(expected).max()))


def _randomise_bn(model, rng):
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            c = m.num_features
            m.running_mean.array[...] = rng.normal(0, 2, c)
            m.running_var.array[...] = rng.uniform(0.5, 5, c)
            m.weight.array[...] = rng.normal(0, 1, c)
            m.bias.array[...] = rng.normal(0, 1, c)
    return model.eval()


@pytest.mark.parametrize("name", _slow_if_resnet(models.names()))
def test_every_model_deploys_with_the_same_outputs(name, tmp_path):
    """API level, every registered model (svd_net included), BatchNorm statistics randomised."""
    tc.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _randomise_bn(models.build(name), rng)
    layout = models.recipe(name).input
    shape = {"flat": (3, 1024 if name == "svd_net" else 784), "image": (3, 1, 28, 28),
             "image32x3": (2, 3, 32, 32)}[layout]
    x = rng.uniform(-1, 1, shape).astype(np.float32)
    deployed = export(model)
    deployed.save(tmp_path / "m.npz")
    loaded = load_deployed(tmp_path / "m.npz")
    with tc.no_grad():
        expected = model(tc.tensor(x)).array
    for form in (deployed, loaded):
        got = form(x)
        assert got.dtype == np.float32 and got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(expected).max()))
    assert loaded.nbytes == deployed.nbytes
