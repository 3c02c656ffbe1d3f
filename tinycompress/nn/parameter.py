"""``Parameter``: a Tensor that a Module registers as learnable (``torch.nn.Parameter``)."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor with ``requires_grad=True`` by default; assigning one to a Module registers it.

    Like torch, ``Parameter(t)`` shares ``t``'s array (no copy).
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True) -> None:
        if data is None:
            data = np.empty(0, dtype=np.float32)
        if isinstance(data, Tensor):
            data = data.array
        super().__init__(data, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
