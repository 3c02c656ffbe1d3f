"""``tc.cuda``: torch.cuda's answers on a machine without CUDA, so scripts' device checks run.

tinycompress computes with NumPy on the CPU: ``is_available()`` is False and ``device_count()`` 0,
as a CPU-only torch says; seeding is accepted and does nothing (torch defers it until CUDA starts).
"""
from __future__ import annotations


def is_available() -> bool:
    return False


def device_count() -> int:
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed) -> None:
    """Accepted and ignored, as torch does without CUDA."""


def manual_seed_all(seed) -> None:
    """Accepted and ignored, as torch does without CUDA."""


def current_device() -> int:
    raise RuntimeError("tinycompress runs on the CPU only (NumPy): there is no CUDA device; "
                       "tc.cuda.is_available() is False")
