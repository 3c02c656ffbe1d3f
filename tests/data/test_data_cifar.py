"""CIFAR-10's binary format, read without pickle, from small files the test writes; seed 001's NIN trains on
CIFAR-shaped batches and deploys packed with the float model's predictions."""
import numpy as np
import pytest

import tinycompress as tc
from tinycompress import models
from tinycompress.data.cifar import CIFAR10, RECORD, TEST_FILES, TRAIN_FILES, read_cifar10_bin


def _write_batch(path, images, labels):
    """The binary layout written out by hand: label byte, then the R, G and B planes, row-major."""
    with open(path, "wb") as f:
        for img, label in zip(images, labels):
            f.write(bytes([label]))
            for channel in range(3):
                f.write(img[channel].tobytes(order="C"))


@pytest.fixture
def cifar_dir(tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    written = {}
    for i, name in enumerate(TRAIN_FILES + TEST_FILES):
        images = rng.integers(0, 256, (3 + i, 3, 32, 32), dtype=np.uint8)
        labels = rng.integers(0, 10, 3 + i)
        _write_batch(folder / name, images, labels)
        written[name] = (images, labels)
    return tmp_path, written


def test_reads_records_back(cifar_dir):
    root, written = cifar_dir
    images, labels = read_cifar10_bin(root / "cifar-10-batches-bin" / "test_batch.bin")
    np.testing.assert_array_equal(images, written["test_batch.bin"][0])
    np.testing.assert_array_equal(labels, written["test_batch.bin"][1])
    assert images.dtype == np.uint8 and labels.dtype == np.int64


def test_dataset_concatenates_the_training_batches(cifar_dir):
    root, written = cifar_dir
    train = CIFAR10(root, train=True)
    assert len(train) == sum(len(written[f][1]) for f in TRAIN_FILES)
    img, label = train[3]                                     # the first record of data_batch_2.bin
    np.testing.assert_array_equal(img, written["data_batch_2.bin"][0][0])
    assert label == written["data_batch_2.bin"][1][0]
    assert len(CIFAR10(root / "cifar-10-batches-bin", train=False)) == len(written["test_batch.bin"][1])


def test_bad_files_are_clear_errors(tmp_path, cifar_dir):
    (tmp_path / "short.bin").write_bytes(bytes(RECORD + 5))
    with pytest.raises(ValueError, match="not a whole number"):
        read_cifar10_bin(tmp_path / "short.bin")
    bad = bytearray(RECORD)
    bad[0] = 11
    (tmp_path / "label.bin").write_bytes(bytes(bad))
    with pytest.raises(ValueError, match="label 11"):
        read_cifar10_bin(tmp_path / "label.bin")
    with pytest.raises(FileNotFoundError, match="cifar-10-binary.tar.gz"):
        CIFAR10(tmp_path / "nowhere")


def test_nin_trains_on_cifar_batches_and_deploys_packed(cifar_dir):
    from tinycompress.compress.deploy import export
    from tinycompress.train import fit
    root, _ = cifar_dir
    recipe = models.recipe("nin_bnn")
    train_loader, test_loader = models.cifar10_loaders(recipe, root, batch_size=4, test_batch_size=8)
    x, y = next(iter(train_loader))
    assert x.shape == (4, 3, 32, 32) and x.array.dtype == np.float32 and -1 <= x.array.min() <= x.array.max() <= 1
    tc.manual_seed(0)
    model = models.build("nin_bnn", cfg=(8, 8, 8, 8, 8, 8, 8, 8))
    history = fit(model, models.make_optimizer(recipe, model.parameters()), train_loader, epochs=1,
                  test_loader=test_loader, progress=False, max_steps_per_epoch=2, log=lambda _: None)
    assert np.isfinite(history[0]["train_loss"])
    deployed = export(model)
    assert deployed.format == "packed"
    x, _ = next(iter(test_loader))
    with tc.no_grad():
        expected = model.eval()(x).array
    np.testing.assert_allclose(deployed(x.array), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(deployed(x.array).argmax(1), expected.argmax(1))
