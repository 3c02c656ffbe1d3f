"""Read and write IDX files, the format MNIST and Fashion-MNIST are distributed in.

An IDX file (LeCun's format) is

    0x00 0x00 <type code> <ndim>              4 bytes: the magic number
    <dim 0> ... <dim ndim-1>                  ndim big-endian uint32
    <data>                                    prod(dims) items, big-endian, C order

with the type codes 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
Files may be gzip-compressed (recognised by their first two bytes, 0x1f 0x8b, not by their
name). Every check is made before the data are used, so a truncated or corrupt file raises an
:class:`IDXError` naming the file and what is wrong rather than giving a garbled array.
"""
from __future__ import annotations

import gzip
import os
import secrets
import zlib

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx", "IDX_DTYPES"]

#: type code -> big-endian dtype of the items as stored in the file
IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODES = {dt.newbyteorder("=") if dt.itemsize > 1 else dt: code for code, dt in IDX_DTYPES.items()}
_GZIP_MAGIC = b"\x1f\x8b"


class IDXError(ValueError):
    """A file is not a valid IDX file (bad magic number, unknown type, wrong length...)."""


def _read_bytes(path) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != _GZIP_MAGIC:
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError, zlib.error) as error:    # truncated stream, bad CRC, corrupt deflate
        raise IDXError(f"{os.fspath(path)}: corrupt or truncated gzip data ({error}); "
                       f"delete the file and fetch it again") from None


def read_idx(path) -> np.ndarray:
    """The array stored in the IDX file at ``path`` (gzip-compressed or raw).

    Returns a writable array in native byte order with the file's dtype and shape.
    Raises :class:`IDXError` (a ``ValueError``) for a bad magic number, an unknown type code,
    a header cut short, or a data section whose length is not ``prod(dims) * itemsize``.
    """
    name = os.fspath(path)
    buf = _read_bytes(path)
    if len(buf) < 4:
        raise IDXError(f"{name}: not an IDX file: {len(buf)} bytes, shorter than the 4-byte magic number")
    zero0, zero1, code, ndim = buf[0], buf[1], buf[2], buf[3]
    if zero0 != 0 or zero1 != 0:
        raise IDXError(f"{name}: not an IDX file: bad magic number {buf[:4].hex(' ')} "
                       f"(an IDX file starts with 00 00 <type> <ndim>)")
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X} {dt.name}" for c, dt in IDX_DTYPES.items())
        raise IDXError(f"{name}: unknown IDX type code 0x{code:02X} in magic number {buf[:4].hex(' ')} "
                       f"(known: {known})")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXError(f"{name}: truncated header: {ndim} dimensions need {header} header bytes, "
                       f"the file has {len(buf)}")
    shape = tuple(int(d) for d in np.frombuffer(buf, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    got = len(buf) - header
    if got != expected:
        what = "truncated" if got < expected else "has trailing bytes"
        raise IDXError(f"{name}: data {what}: shape {shape} of {dtype.newbyteorder('=').name} needs "
                       f"{expected} bytes after the {header}-byte header, got {got}")
    data = np.frombuffer(buf, dtype=dtype, count=expected // dtype.itemsize, offset=header)
    return data.astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def write_idx(path, array) -> None:
    """Write ``array`` to ``path`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    The dtype must be one IDX can hold: uint8, int8, int16, int32, float32 or float64. The file is
    written to a temporary file in the same folder and renamed into place, so a failure never
    leaves a half-written file. Gzip output has a zero timestamp, so the same array always gives
    the same bytes.
    """
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=") if array.dtype.itemsize > 1 else array.dtype
    if native not in _CODES:
        raise TypeError(f"write_idx: IDX cannot store dtype {array.dtype}; convert the array to one of "
                        f"uint8, int8, int16, int32, float32, float64 first")
    if array.ndim > 255:
        raise ValueError(f"write_idx: IDX holds at most 255 dimensions, the array has {array.ndim}")
    if any(d >= 2 ** 32 for d in array.shape):
        raise ValueError(f"write_idx: every dimension must be < 2**32, got shape {array.shape}")
    code = _CODES[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    payload = header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()
    name = os.fspath(path)
    if name.endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    folder, base = os.path.split(os.path.abspath(name))
    tmp = os.path.join(folder, f".{base}.{secrets.token_hex(6)}.tmp")   # opened "x": umask permissions
    try:
        with open(tmp, "xb") as f:
            f.write(payload)
        os.replace(tmp, name)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
