"""Fixtures for the data tests: the real MNIST folder (or a skip) and an isolated search path."""
import pytest

from mnist_fakes import real_mnist_dir


@pytest.fixture
def mnist_dir():
    folder = real_mnist_dir()
    if folder is None:
        pytest.skip("the MNIST files are not in ../shared/data/mnist (nor in $TINYCOMPRESS_DATA)")
    return folder


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No $TINYCOMPRESS_DATA and an empty working directory: only what a test builds is found."""
    monkeypatch.delenv("TINYCOMPRESS_DATA", raising=False)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return tmp_path
