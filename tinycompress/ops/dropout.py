"""``dropout``: inverted dropout with a mask drawn from the library's generator."""
from __future__ import annotations

import numpy as np

from .. import random as _random
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import as_tensor


class Dropout(Function):
    """Inverted dropout: y = x · m, m = Bernoulli(1 − p) / (1 − p) drawn once per call."""

    @staticmethod
    def forward(ctx, x, p=0.5):
        keep = _random.default_generator().random(x.shape) >= p
        scale = np.asarray(0.0 if p == 1 else 1.0 / (1.0 - p), dtype=x.dtype)
        ctx.mask = keep * scale                              # x.dtype (bool * scalar array of x.dtype)
        return x.array * ctx.mask

    @staticmethod
    def backward(ctx, grad):
        """∂x = g · m   (the forward's mask, scale included)"""
        return grad * Tensor._wrap(ctx.mask)


def dropout(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout: zero each element with probability ``p`` and scale by 1/(1−p).

    Identity when ``training`` is False. ``inplace`` is accepted and computed out of place.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    input = as_tensor(input)
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p=float(p))
