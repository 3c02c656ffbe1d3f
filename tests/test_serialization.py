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
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)
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
