"""Activation modules (torch.nn's), each a thin wrapper over its ``F`` function.

``inplace=True`` is accepted for signature parity and computed out of place: an in-place update
would overwrite the array the previous Function saved for its backward, and the graph here keeps
no version counters to detect that, so out of place is the only safe choice (the result is equal).
"""
from __future__ import annotations

from .. import ops
from .module import Module


class ReLU(Module):
    """max(0, x). ``inplace`` is accepted and computed out of place (see the module docstring)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return ops.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """max(0, x) + negative_slope · min(0, x)."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input):
        return ops.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return "negative_slope={}{}".format(self.negative_slope, ", inplace=True" if self.inplace else "")


class Tanh(Module):
    def forward(self, input):
        return ops.tanh(input)


class Sigmoid(Module):
    def forward(self, input):
        return ops.sigmoid(input)


class Hardtanh(Module):
    """clamp(x, min_val, max_val)."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input):
        return ops.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return "min_val={}, max_val={}{}".format(self.min_val, self.max_val, ", inplace=True" if self.inplace else "")


class Softplus(Module):
    """(1/β) log(1 + exp(βx)), linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input):
        return ops.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    def __init__(self, dim=None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        if self.dim is None:
            raise ValueError("Softmax: pass dim explicitly (torch's implicit-dim choice is deprecated)")
        return ops.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    def forward(self, input):
        if self.dim is None:
            raise ValueError("LogSoftmax: pass dim explicitly (torch's implicit-dim choice is deprecated)")
        return ops.log_softmax(input, self.dim)
