"""``tc.accelerator``: torch.accelerator's answers when no accelerator exists (tinycompress is CPU-only)."""
from __future__ import annotations


def is_available() -> bool:
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator (torch returns None too)."""
    return None


def device_count() -> int:
    return 0
