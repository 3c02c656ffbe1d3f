"""tc.save / tc.load: nested structures round-trip exactly, no pickle, no half-written files."""
import os
import zipfile

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

import tinycompress as tc

arrays = hnp.arrays(dtype=st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
                    shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
leaves = st.one_of(arrays, st.integers(-2**70, 2**70), st.floats(allow_nan=False), st.text(max_size=5),
                   st.none(), st.booleans())
trees = st.recursive(leaves, lambda children: st.one_of(
    st.lists(children, max_size=3),
    st.dictionaries(st.one_of(st.text(max_size=5), st.integers(0, 9)), children, max_size=3)), max_leaves=8)


def _same(a, b):
    if isinstance(a, np.ndarray):          # bit for bit: NaN (any payload) and -0.0 must come back as written
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


@given(trees)
def test_round_trip_keeps_values_types_and_key_types(tmp_path_factory, tree):
    path = tmp_path_factory.mktemp("save") / "obj.npz"
    tc.save(tree, path)
    assert _same(tree, tc.load(path))


def test_nan_arrays_round_trip():
    """The example hypothesis once drew and a plain np.array_equal then failed on: NaN is kept, bit for bit."""
    a = np.array([np.nan, -0.0, np.inf], dtype=np.float32)
    assert _same(a, a.copy()) and not _same(a, np.array([np.nan, 0.0, np.inf], dtype=np.float32))


def test_nan_scalar_array_round_trips(tmp_path):
    tc.save({"x": np.array(np.nan, dtype=np.float32)}, tmp_path / "n.npz")
    assert _same({"x": np.array(np.nan, dtype=np.float32)}, tc.load(tmp_path / "n.npz"))


def test_tensors_come_back_as_tensors(tmp_path):
    t = tc.randn(3, 2)
    tc.save({"t": t}, tmp_path / "t.npz")
    back = tc.load(tmp_path / "t.npz")["t"]
    assert isinstance(back, tc.Tensor) and np.array_equal(back.array, t.array)


def test_file_holds_no_pickle(tmp_path):
    tc.save({"w": np.ones(3), "meta": {"k": [1, 2]}}, tmp_path / "f.npz")
    with zipfile.ZipFile(tmp_path / "f.npz") as z:
        for name in z.namelist():
            with z.open(name) as member:
                header = member.read(128)
            assert b"'descr': '|O'" not in header          # no object arrays, which need pickle


def test_unsavable_object_is_refused_and_nothing_written(tmp_path):
    with pytest.raises(TypeError, match="cannot store"):
        tc.save({"bad": object()}, tmp_path / "x.npz")
    assert os.listdir(tmp_path) == []


def test_failed_write_leaves_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    tc.save({"v": np.arange(3)}, path)

    def boom(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(OSError):
        tc.save({"v": np.arange(5)}, path)
    monkeypatch.undo()
    assert np.array_equal(tc.load(path)["v"], np.arange(3))
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]


def test_truncated_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "c.npz"
    tc.save({"v": np.arange(1000)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        tc.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        tc.load(tmp_path / "nope.npz")


def test_written_files_have_ordinary_permissions(tmp_path):
    """0666 minus the umask, as open() gives, not mkstemp's private 0600."""
    mask = os.umask(0o022)
    try:
        tc.save({"v": np.arange(3)}, tmp_path / "p.npz")
    finally:
        os.umask(mask)
    assert os.stat(tmp_path / "p.npz").st_mode & 0o777 == 0o644


@pytest.mark.parametrize("content, message", [
    (None, "single .npy array"),                                  # np.save output
    (b"hello, this is text\n", "not an .npz archive"),
    (bytes(range(256)) * 4, "not an .npz archive"),
    (b"", "empty file"),
    ("zip", "not .npy arrays"),
])
def test_files_that_are_not_npz_get_a_clear_error_naming_the_path(tmp_path, content, message):
    path = tmp_path / "odd.npz"
    if content is None:
        with open(path, "wb") as f:
            np.save(f, np.arange(3))
    elif content == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "not an array")
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as info:
        tc.load(path)
    assert str(path) in str(info.value) and "allow_pickle" not in str(info.value)


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    from tinycompress.serialization import remove_stale_temporaries
    tc.save({"v": np.arange(3)}, tmp_path / "last.npz")
    (tmp_path / ".tmp-abc123.npz").write_bytes(b"PK half")
    assert remove_stale_temporaries(tmp_path) == [".tmp-abc123.npz"]
    assert sorted(os.listdir(tmp_path)) == ["last.npz"]
