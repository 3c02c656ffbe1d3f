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
    arrays: dict[str, np.ndarray] = {}
    structure = json.dumps(_encode(obj, arrays))
    arrays[_STRUCTURE] = np.frombuffer(structure.encode(), dtype=np.uint8)
    savez_atomic(path, arrays)


def savez_atomic(path, arrays: dict) -> None:
    """``np.savez`` to a temporary file beside ``path``, renamed into place: a crash or a full disk
    never leaves a half-written file under the real name (every file the library writes goes here)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load(path):
    """Read a file written by :func:`save` (arrays come back as ndarrays, Tensors as Tensors)."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"tc.load: no file at {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            if _STRUCTURE not in archive.files:
                return {name: archive[name] for name in archive.files}      # a plain np.savez file
            arrays = {name: archive[name] for name in archive.files if name != _STRUCTURE}
            structure = json.loads(archive[_STRUCTURE].tobytes().decode())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise ValueError(f"tc.load: {path} is not a readable tinycompress .npz file ({error}); "
                         "it may be truncated or corrupt") from None
    return _decode(structure, arrays)

