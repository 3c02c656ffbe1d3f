"""Grad mode: whether operations record the graph (``torch.no_grad`` and friends)."""
from __future__ import annotations

import contextlib
import functools


class _State:
    enabled = True


_state = _State()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad record a graph."""
    return _state.enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator setting grad mode to ``self.mode`` while it is active."""

    mode = True

    def __init__(self) -> None:
        self._previous: list[bool] = []

    def __enter__(self) -> None:
        self._previous.append(_state.enabled)
        _state.enabled = self.mode

    def __exit__(self, *exc) -> bool:
        _state.enabled = self._previous.pop()
        return False


class _BareDecorator(_GradMode):
    """Also usable without parentheses, as torch allows: ``@tc.no_grad``."""

    def __new__(cls, func=None):
        self = super().__new__(cls)
        if func is None:
            return self
        self.__init__()
        return self(func)


class no_grad(_BareDecorator):
    """Disable graph recording: ``with tc.no_grad(): ...``, ``@tc.no_grad()`` or ``@tc.no_grad``."""

    mode = False


class enable_grad(_BareDecorator):
    """Re-enable graph recording inside a ``no_grad`` block."""

    mode = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``; works as a function call, a context manager and a decorator."""

    def __init__(self, mode: bool) -> None:
        super().__init__()
        self.mode = bool(mode)
        self.prev = _state.enabled
        _state.enabled = self.mode          # takes effect at once, as torch's does

    def __call__(self, func):
        """As a decorator: nothing changes until ``func`` runs, then ``mode`` holds for each call."""
        _state.enabled = self.prev
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return func(*args, **kwargs)
        return wrapper

    def __enter__(self) -> None:
        _state.enabled = self.mode

    def __exit__(self, *exc) -> bool:
        _state.enabled = self.prev
        return False
