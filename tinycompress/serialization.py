"""``tc.save`` / ``tc.load``: nested checkpoints as ``.npz`` files, never pickle.

Arrays (and Tensors) are stored as ``.npz`` members; everything around them — dicts (any
JSON-able keys, ints kept as ints), lists, numbers, strings, None — is one JSON document in
the member ``__structure__`` that points at the arrays. Loading therefore never runs code.
Files are written to a temporary file beside the target and renamed, so a crash never leaves
a half-written checkpoint.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile

import numpy as np

from .tensor import Tensor

_STRUCTURE = "__structure__"


def _encode(obj, arrays: dict):
    if isinstance(obj, Tensor):
        key = f"a{len(arrays)}"
        arrays[key] = obj.array
        return {"__tensor__": key}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError("tc.save: object arrays cannot be saved without pickle; store plain arrays")
        key = f"a{len(arrays)}"
        arrays[key] = obj
        return {"__array__": key}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        return {"__dict__": [[_encode(k, arrays), _encode(v, arrays)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return {"__list__" if isinstance(obj, list) else "__tuple__": [_encode(v, arrays) for v in obj]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise TypeError(f"tc.save: cannot store an object of type {type(obj).__name__}; use arrays, tensors, "
                    "dicts, lists, numbers and strings (a Module: save module.state_dict())")


def _decode(obj, arrays):
    if isinstance(obj, dict):
        if "__array__" in obj:
            return arrays[obj["__array__"]]
        if "__tensor__" in obj:
            return Tensor._wrap(arrays[obj["__tensor__"]])
        if "__dict__" in obj:
            return {_decode(k, arrays): _decode(v, arrays) for k, v in obj["__dict__"]}
        if "__list__" in obj:
            return [_decode(v, arrays) for v in obj["__list__"]]
        if "__tuple__" in obj:
            return tuple(_decode(v, arrays) for v in obj["__tuple__"])
        raise ValueError(f"tc.load: unknown entry {sorted(obj)} in the file's structure")
    return obj


def save(obj, path) -> None:
    """Write ``obj`` (a state_dict, a checkpoint dict, a Tensor ...) to ``path`` as .npz."""
    _save(obj, path)


def _save(obj, path, before_rename=None) -> None:
    """:func:`save`, calling ``before_rename(tmp_path)`` between the write and the rename (a test hook)."""
    arrays: dict[str, np.ndarray] = {}
    structure = json.dumps(_encode(obj, arrays))
    arrays[_STRUCTURE] = np.frombuffer(structure.encode(), dtype=np.uint8)
    savez_atomic(path, arrays, before_rename=before_rename)


#: the prefix of the temporary files :func:`savez_atomic` writes; one left behind is from a killed process
TEMP_PREFIX = ".tmp-"


def _umask() -> int:
    mask = os.umask(0)          # the only portable way to read it: set and restore at once
    os.umask(mask)
    return mask


def savez_atomic(path, arrays: dict, before_rename=None) -> None:
    """``np.savez`` to a temporary file beside ``path``, renamed into place: a crash or a full disk
    never leaves a half-written file under the real name (every file the library writes goes here).

    The file gets the permissions any tool would give it (0666 minus the umask, usually 0644), not
    ``mkstemp``'s private 0600. A process killed mid-write leaves a ``.tmp-*.npz`` beside ``path``,
    never a damaged ``path``; :func:`remove_stale_temporaries` clears those.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TEMP_PREFIX, suffix=".npz")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        if before_rename is not None:
            before_rename(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def remove_stale_temporaries(folder) -> list[str]:
    """Delete the ``.tmp-*.npz`` files a killed :func:`savez_atomic` left in ``folder``; returns their names."""
    folder = os.fspath(folder)
    if not os.path.isdir(folder):
        return []
    stale = sorted(n for n in os.listdir(folder) if n.startswith(TEMP_PREFIX) and n.endswith(".npz"))
    for name in stale:
        os.remove(os.path.join(folder, name))
    return stale


class LoadError(ValueError):
    """A file ``tc.load`` cannot read: not an .npz, truncated, corrupt, or holding something else."""


_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")      # a zip's first local header, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"


def _check_archive(path: str) -> None:
    """Refuse, naming ``path``, whatever ``np.load`` would misread: a single .npy array, text or
    random bytes (which np.load would offer to unpickle), a zip whose members are not .npy arrays."""
    if os.path.isdir(path):
        raise LoadError(f"tc.load: {path} is a folder, not a file written by tc.save")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_NPY_MAGIC):
        raise LoadError(f"tc.load: {path} is a single .npy array, not an .npz archive; read it with "
                        "numpy.load, or write it with tc.save")
    if not head.startswith(_ZIP_MAGIC):
        what = "an empty file" if not head else f"its first bytes are {head!r}"
        raise LoadError(f"tc.load: {path} is not an .npz archive ({what}); tc.load reads files written "
                        "by tc.save or numpy.savez, and never unpickles")
    try:
        with zipfile.ZipFile(path) as archive:
            others = [n for n in archive.namelist() if not n.endswith(".npy")]
    except (zipfile.BadZipFile, EOFError, OSError) as error:
        raise LoadError(f"tc.load: {path} is not a readable .npz file ({error}); it may be truncated or "
                        "corrupt") from None
    if others:
        raise LoadError(f"tc.load: {path} is a zip archive but not an .npz: members {others[:3]} are not "
                        ".npy arrays")


def load(path):
    """Read a file written by :func:`save` (arrays come back as ndarrays, Tensors as Tensors).

    Anything else (a missing file, a truncated or corrupt one, a single .npy, text, a zip of other
    files) raises :class:`FileNotFoundError` or :class:`LoadError` (a ValueError) naming the path.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"tc.load: no file at {path}")
    _check_archive(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _STRUCTURE not in archive.files:
                return {name: archive[name] for name in archive.files}      # a plain np.savez file
            arrays = {name: archive[name] for name in archive.files if name != _STRUCTURE}
            structure = json.loads(archive[_STRUCTURE].tobytes().decode())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise LoadError(f"tc.load: {path} is not a readable tinycompress .npz file ({error}); "
                        "it may be truncated or corrupt") from None
    try:
        return _decode(structure, arrays)
    except (KeyError, TypeError, ValueError) as error:
        raise LoadError(f"tc.load: {path} has a damaged structure ({type(error).__name__}: {error})") from None

