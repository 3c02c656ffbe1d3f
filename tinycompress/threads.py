"""``torch.set_num_threads`` / ``get_num_threads``: here, the threads of NumPy's BLAS.

The GEMMs (linear layers, convolutions' im2col products) are the only threaded work in tinycompress;
everything else runs on the calling thread. So the intra-op thread count torch scripts set is BLAS's.
NumPy's wheels bundle OpenBLAS, whose ``openblas_set_num_threads`` is called through ctypes on the library
this process loaded (found in ``/proc/self/maps``); with another BLAS, or off Linux, the count cannot be
changed after start-up, and ``set_num_threads`` says so once (set ``OMP_NUM_THREADS`` before starting Python).
"""
from __future__ import annotations

import ctypes
import os
import warnings

import numpy as np

_SYMBOLS = ("scipy_openblas_{}_num_threads64_", "scipy_openblas_{}_num_threads", "openblas_{}_num_threads64_",
            "openblas_{}_num_threads")
_blas = None            # (set, get) ctypes functions, False when there are none
_warned = False


def _loaded_openblas() -> list[str]:
    """Paths of the OpenBLAS libraries mapped into this process (NumPy's among them, once it is imported)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower() and "/" in line}
    except OSError:
        return []
    return sorted(paths)


def _blas_functions():
    global _blas
    if _blas is None:
        _blas = False
        np.dot(np.ones((2, 2)), np.ones((2, 2)))                 # make sure NumPy's BLAS is loaded
        for path in _loaded_openblas():
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            for pattern in _SYMBOLS:
                setter, getter = getattr(lib, pattern.format("set"), None), getattr(lib, pattern.format("get"), None)
                if setter is not None and getter is not None:
                    setter.argtypes, setter.restype, getter.restype = [ctypes.c_int], None, ctypes.c_int
                    _blas = (setter, getter)
                    return _blas
    return _blas


def set_num_threads(num_threads: int) -> None:
    """torch.set_num_threads: the threads NumPy's BLAS runs the GEMMs on."""
    global _warned
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise RuntimeError(f"set_num_threads expects an int, but got {type(num_threads).__name__}")
    if num_threads < 1:
        raise RuntimeError("set_num_threads expects a positive integer")
    functions = _blas_functions()
    if functions:
        functions[0](int(num_threads))
    elif not _warned:
        _warned = True
        warnings.warn("tinycompress.set_num_threads: this NumPy's BLAS is not an OpenBLAS that can be reached, so "
                      "its thread count stays as it started; set OMP_NUM_THREADS before starting Python instead",
                      RuntimeWarning, stacklevel=2)


def get_num_threads() -> int:
    """torch.get_num_threads: the threads NumPy's BLAS runs the GEMMs on (as it started, if it cannot be read)."""
    functions = _blas_functions()
    if functions:
        return int(functions[1]())
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1
