"""MNIST / Fashion-MNIST: the real files, the layouts searched, the errors, the bundled subset."""
import gzip
import hashlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from mnist_fakes import FILES, make_fake_set, real_mnist_dir
from tinycompress.data import BUNDLED_DIR, MNIST, FashionMNIST, load_mnist, read_idx, write_idx
from tinycompress.data import transforms as T

# md5 of the uncompressed files, as published in /work/shared/data/README.md (the original distribution's)
README_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
ALL_FILES = [n for pair in FILES.values() for n in pair]


@pytest.fixture(scope="module")
def real():
    folder = real_mnist_dir()
    if folder is None:
        pytest.skip("the MNIST files are not in ../shared/data/mnist (nor in $TINYCOMPRESS_DATA)")
    return {train: MNIST(folder, train=train) for train in (True, False)}


# ----------------------------------------------------------------------------- the real MNIST
def test_real_mnist_shapes_dtypes_and_labels(real):
    for train, n in ((True, 60000), (False, 10000)):
        ds = real[train]
        assert ds.data.shape == (n, 28, 28) and ds.data.dtype == np.uint8
        assert ds.targets.shape == (n,) and ds.targets.dtype == np.int64
        assert len(ds) == n and not ds.is_subset
        assert set(np.unique(ds.targets)) == set(range(10))
        img, label = ds[n - 1]
        assert isinstance(label, int) and label == ds.targets[-1]
        np.testing.assert_array_equal(img, ds.data[-1])


def test_real_files_md5_and_reader_reproduces_the_original_bytes(real, mnist_dir, tmp_path):
    """The shared files are the canonical MNIST, and read_idx -> write_idx gives those bytes back."""
    arrays = {FILES[t][0]: real[t].data for t in real} | {FILES[t][1]: real[t].targets.astype(np.uint8) for t in real}
    for name, md5 in README_MD5.items():
        raw = gzip.decompress((mnist_dir / f"{name}.gz").read_bytes())
        assert hashlib.md5(raw).hexdigest() == md5, f"{name}: not the canonical MNIST"
        write_idx(tmp_path / name, arrays[name])
        assert hashlib.md5((tmp_path / name).read_bytes()).hexdigest() == md5, f"{name}: round trip differs"


def test_get_batch_equals_stacked_items(real):
    ds = real[False]
    ds.transform = T.mnist_normalize_half(flatten=True)
    ds.target_transform = lambda y: y + 100
    try:
        idx = np.random.default_rng(0).choice(len(ds), 33, replace=False)
        images, targets = ds.get_batch(idx)
        items = [ds[int(i)] for i in idx]
        np.testing.assert_array_equal(images, np.stack([x for x, _ in items]))
        np.testing.assert_array_equal(targets, [y for _, y in items])
        assert images.dtype == np.float32 and images.shape == (33, 784)
    finally:
        ds.transform = ds.target_transform = None


def test_same_as_torchvision(mnist_dir, tmp_path):
    """torchvision's MNIST reading the same files gives the same arrays and the same items."""
    try:
        import torchvision
    except ImportError:
        pytest.skip("torchvision not installed")
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ALL_FILES:                        # torchvision checks for the extracted files
        (raw / name).write_bytes(gzip.decompress((mnist_dir / f"{name}.gz").read_bytes()))
    for train in (True, False):
        tv = torchvision.datasets.MNIST(str(tmp_path), train=train, download=False,
                                        transform=torchvision.transforms.ToTensor())
        ours = MNIST(tmp_path, train=train, transform=T.ToTensor())
        np.testing.assert_array_equal(ours.data, tv.data.numpy())
        np.testing.assert_array_equal(ours.targets, tv.targets.numpy())
        for i in (0, 1, len(tv) - 1):
            (x, y), (tx, ty) = ours[i], tv[i]
            np.testing.assert_array_equal(x, tx.numpy())
            assert y == ty


# ----------------------------------------------------------------------------- layouts and search order
@pytest.mark.parametrize("sub", ["", "MNIST/raw", "mnist"])
@pytest.mark.parametrize("gz", [True, False])
def test_layouts_in_root(isolated, sub, gz):
    made = make_fake_set(isolated / "root" / sub, gz=gz, mark=9)
    for train in (True, False):
        ds = MNIST(isolated / "root", train=train)
        np.testing.assert_array_equal(ds.data, made[train][0])
        np.testing.assert_array_equal(ds.targets, made[train][1].astype(np.int64))
        assert ds.targets.dtype == np.int64 and Path(ds.folder) == isolated / "root" / sub


@pytest.mark.parametrize("sub", ["", "MNIST/raw", "mnist"])
def test_env_var_is_searched(isolated, monkeypatch, sub):
    made = make_fake_set(isolated / "env" / sub, mark=5)
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(isolated / "env"))
    np.testing.assert_array_equal(MNIST().data, made[True][0])


def test_dot_data_is_searched_and_the_order_is_root_env_dot_data(isolated, monkeypatch):
    make_fake_set(isolated / "cwd" / "data" / "MNIST" / "raw", mark=3)
    assert MNIST().data[0, 0, 0] == 3
    make_fake_set(isolated / "env", mark=2)
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(isolated / "env"))
    assert MNIST().data[0, 0, 0] == 2
    make_fake_set(isolated / "root", mark=1)
    assert MNIST(isolated / "root").data[0, 0, 0] == 1
    assert MNIST(str(isolated / "empty")).data[0, 0, 0] == 2      # an empty root falls through to the env var


def test_a_folder_needs_the_requested_split_only(isolated):
    make_fake_set(isolated / "root", splits=(False,))
    assert len(MNIST(isolated / "root", train=False)) == 3
    with pytest.raises(FileNotFoundError):
        MNIST(isolated / "root", train=True)


def test_fashion_mnist_layouts(isolated, monkeypatch):
    made = make_fake_set(isolated / "root" / "FashionMNIST" / "raw", mark=4)
    ds = FashionMNIST(isolated / "root")
    np.testing.assert_array_equal(ds.data, made[True][0])
    assert ds.classes[9] == "Ankle boot" and not ds.is_subset
    make_fake_set(isolated / "flat", mark=6)
    assert FashionMNIST(isolated / "flat").data[0, 0, 0] == 6     # flat accepted in an explicit root ...
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(isolated / "flat"))
    with pytest.raises(FileNotFoundError, match="FashionMNIST data not found"):
        FashionMNIST()                                           # ... but not in $TINYCOMPRESS_DATA (MNIST's names)
    assert MNIST().data[0, 0, 0] == 6


# ----------------------------------------------------------------------------- errors
def test_missing_data_error_lists_files_and_folders(isolated, monkeypatch):
    monkeypatch.setenv("TINYCOMPRESS_DATA", str(isolated / "env"))
    with pytest.raises(FileNotFoundError) as info:
        MNIST(isolated / "root")
    msg = str(info.value)
    for name in ALL_FILES:
        assert name in msg
    for folder in (isolated / "root", isolated / "root" / "MNIST" / "raw", isolated / "env" / "mnist",
                   isolated / "cwd" / "data"):
        assert str(folder) in msg
    assert "TINYCOMPRESS_DATA" in msg and "download=True" in msg and "allow_subset=True" in msg


def test_download_without_torchvision_explains(isolated, monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)           # import torchvision -> ImportError
    with pytest.raises(FileNotFoundError, match="torchvision is not installed") as info:
        MNIST(isolated / "root", download=True)
    assert all(name in str(info.value) for name in ALL_FILES)


def _fake_torchvision(monkeypatch, make):
    tv = types.ModuleType("torchvision")
    tv.datasets = types.ModuleType("torchvision.datasets")
    tv.datasets.MNIST = make
    monkeypatch.setitem(sys.modules, "torchvision", tv)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", tv.datasets)


def test_download_uses_torchvision_lazily(isolated, monkeypatch):
    calls = []

    def fake_mnist(root, train=True, download=False):
        calls.append((root, train, download))
        make_fake_set(Path(root) / "MNIST" / "raw", mark=8)
    _fake_torchvision(monkeypatch, fake_mnist)
    ds = MNIST(isolated / "root", train=False, download=True)
    assert calls == [(str(isolated / "root"), False, True)]
    assert ds.data[0, 0, 0] == 8 and Path(ds.folder) == isolated / "root" / "MNIST" / "raw"
    MNIST(isolated / "root", train=False, download=True)
    assert len(calls) == 1                                          # on disk now: no second download


def test_download_failure_is_reported(isolated, monkeypatch, capsys):
    def offline(root, train=True, download=False):
        raise OSError("<urlopen error [Errno -3] Temporary failure in name resolution>")
    _fake_torchvision(monkeypatch, offline)
    with pytest.raises(FileNotFoundError, match="download into .* failed: OSError: <urlopen error"):
        MNIST(isolated / "root", download=True)
    ds = MNIST(isolated / "root", download=True, allow_subset=True)
    assert ds.is_subset and "bundled subset" in capsys.readouterr().err


def test_mismatched_pair_is_an_error(isolated):
    make_fake_set(isolated / "root")
    write_idx(isolated / "root" / "train-labels-idx1-ubyte.gz", np.zeros(6, np.uint8))
    with pytest.raises(ValueError, match="holds 7 images but .*train-labels-idx1-ubyte.gz holds 6 labels"):
        MNIST(isolated / "root")


def test_wrong_kind_of_array_is_an_error(isolated):
    make_fake_set(isolated / "root")
    write_idx(isolated / "root" / "train-images-idx3-ubyte.gz", np.zeros((7, 4, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected uint8 images of shape \(N, H, W\), got float32"):
        MNIST(isolated / "root")


# ----------------------------------------------------------------------------- the bundled subset
def test_bundled_subset_fallback(isolated, capsys):
    ds = load_mnist(isolated / "root")
    err = capsys.readouterr().err
    assert ds.is_subset and err.count("\n") == 1 and "bundled subset" in err
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8 and ds.targets.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(ds.targets), np.full(10, 1000))
    test = MNIST(isolated / "root", train=False, allow_subset=True)
    assert test.is_subset and len(test) == 2000
    np.testing.assert_array_equal(np.bincount(test.targets), np.full(10, 200))
    assert "bundled subset" in repr(test)
    with pytest.raises(FileNotFoundError, match="No subset of FashionMNIST is bundled"):
        FashionMNIST(isolated / "root", allow_subset=True)


def test_full_set_preferred_over_subset(isolated, capsys):
    make_fake_set(isolated / "root")
    ds = load_mnist(isolated / "root")
    assert not ds.is_subset and len(ds) == 7 and capsys.readouterr().err == ""


def test_bundled_subset_is_the_documented_selection(real):
    """The first 1,000 (train) / 200 (test) images of each digit, in file order."""
    for train, per_class in ((True, 1000), (False, 200)):
        full = real[train]
        keep = np.sort(np.concatenate([np.flatnonzero(full.targets == c)[:per_class] for c in range(10)]))
        images = read_idx(BUNDLED_DIR / f"{FILES[train][0]}.gz")
        labels = read_idx(BUNDLED_DIR / f"{FILES[train][1]}.gz")
        np.testing.assert_array_equal(images, full.data[keep])
        np.testing.assert_array_equal(labels, full.targets[keep])


def test_bundled_files_stay_small():
    sizes = [p.stat().st_size for p in BUNDLED_DIR.glob("*.gz")]
    assert len(sizes) == 4 and sum(sizes) < 4_000_000
