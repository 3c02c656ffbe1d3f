"""IDX reader/writer: round trips, gzip and raw, and clear errors on damaged files."""
import gzip
import os
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from strategies import idx_arrays
from tinycompress.data import IDXError, read_idx, write_idx


def _by_hand(dtype_code, shape, payload: bytes) -> bytes:
    """An IDX file assembled from the format's definition with struct (independent of write_idx)."""
    return struct.pack(">BBBB", 0, 0, dtype_code, len(shape)) + struct.pack(f">{len(shape)}I", *shape) + payload


@settings(max_examples=40)
@given(array=idx_arrays(), gz=st.booleans())
def test_round_trip_keeps_dtype_shape_and_bits(tmp_path_factory, array, gz):
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if gz else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.shape == array.shape
    assert back.dtype == array.dtype.newbyteorder("=")          # native byte order out
    assert back.dtype.isnative and back.flags.writeable
    assert back.tobytes() == np.ascontiguousarray(array, back.dtype).tobytes()    # bit for bit (NaN, -0.0)
    with open(path, "rb") as f:
        assert (f.read(2) == b"\x1f\x8b") == gz


@pytest.mark.parametrize("code,dtype", [(0x08, ">u1"), (0x09, ">i1"), (0x0B, ">i2"), (0x0C, ">i4"),
                                        (0x0D, ">f4"), (0x0E, ">f8")])
def test_reads_a_file_built_from_the_spec_gzip_or_raw(tmp_path, code, dtype):
    values = np.arange(-6, 6).reshape(3, 4).astype(dtype)
    blob = _by_hand(code, (3, 4), values.tobytes())
    (tmp_path / "raw").write_bytes(blob)
    (tmp_path / "packed").write_bytes(gzip.compress(blob))      # no .gz suffix: detected by magic bytes
    for name in ("raw", "packed"):
        got = read_idx(tmp_path / name)
        assert got.dtype == np.dtype(dtype).newbyteorder("=")
        np.testing.assert_array_equal(got, values)


def test_writer_output_matches_the_spec(tmp_path):
    a = np.array([[1, 2, 3], [4, 5, 65535]], dtype=np.int32)
    write_idx(tmp_path / "a", a)
    assert (tmp_path / "a").read_bytes() == _by_hand(0x0C, (2, 3), a.astype(">i4").tobytes())
    assert [p.name for p in tmp_path.iterdir()] == ["a"]      # no temporary file left behind


def _write(tmp_path, blob, gz=False):
    p = tmp_path / ("f.gz" if gz else "f")
    p.write_bytes(gzip.compress(blob) if gz else blob)
    return p


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_data_names_file_and_byte_counts(tmp_path, gz):
    blob = _by_hand(0x08, (2, 3, 4), bytes(24))
    p = _write(tmp_path, blob[:-5], gz)
    with pytest.raises(IDXError, match=r"truncated") as info:
        read_idx(p)
    msg = str(info.value)
    assert os.fspath(p) in msg and "24 bytes" in msg and "got 19" in msg
    assert isinstance(info.value, ValueError)


def test_trailing_bytes_are_an_error(tmp_path):
    p = _write(tmp_path, _by_hand(0x08, (4,), bytes(4)) + b"\x00")
    with pytest.raises(IDXError, match=r"trailing bytes.*4 bytes.*got 5"):
        read_idx(p)


def test_truncated_header(tmp_path):
    p = _write(tmp_path, _by_hand(0x08, (60000, 28, 28), b"")[:9])
    with pytest.raises(IDXError, match=r"truncated header: 3 dimensions need 16 header bytes, the file has 9"):
        read_idx(p)


@pytest.mark.parametrize("head", [b"\x01\x00\x08\x01", b"PK\x03\x04", b"\x00\x01\x08\x01"])
def test_wrong_magic(tmp_path, head):
    p = _write(tmp_path, head + b"\x00\x00\x00\x01" + b"\x07")
    with pytest.raises(IDXError, match="bad magic number") as info:
        read_idx(p)
    assert os.fspath(p) in str(info.value)


def test_unknown_type_code_and_tiny_file(tmp_path):
    with pytest.raises(IDXError, match="unknown IDX type code 0x0A"):
        read_idx(_write(tmp_path, _by_hand(0x0A, (1,), b"\x00")))
    with pytest.raises(IDXError, match="shorter than the 4-byte magic"):
        read_idx(_write(tmp_path, b"\x00\x00"))


def test_corrupt_gzip_stream(tmp_path):
    packed = gzip.compress(_by_hand(0x08, (100,), bytes(range(100))))
    p = tmp_path / "f.gz"
    p.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(IDXError, match="corrupt or truncated gzip"):
        read_idx(p)


def test_write_rejects_dtypes_idx_cannot_hold(tmp_path):
    for bad in (np.zeros(3, np.int64), np.zeros(3, np.bool_), np.zeros(3, np.float16), np.zeros(3, np.uint16)):
        with pytest.raises(TypeError, match="IDX cannot store dtype"):
            write_idx(tmp_path / "x", bad)
    assert not list(tmp_path.iterdir())
