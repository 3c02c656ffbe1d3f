"""``tinycompress.nn.functional`` (``F``): torch.nn.functional's names over the library's Functions."""
from __future__ import annotations

import numpy as np

from .. import random as _random
from ..autograd.function import Function, LegacyFunction
from ..ops import flatten, hardtanh, leaky_relu, log_softmax, relu, sigmoid, softmax, softplus, tanh, unflatten  # noqa: F401
from ..ops._util import as_tensor
from ..ops.linear import linear  # noqa: F401
from ..ops.losses import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, l1_loss,  # noqa: F401
                          mse_loss, nll_loss)

from ..ops.conv import adaptive_avg_pool2d, avg_pool2d, conv2d, max_pool2d  # noqa: F401
from ..ops.normalization import batch_norm  # noqa: F401


class Dropout(LegacyFunction):
    """Inverted dropout: y = x · m / (1 − p), m ~ Bernoulli(1 − p); backward: ∂x = g · m / (1 − p)."""

    @staticmethod
    def forward(ctx, x, p=0.5):
        keep = _random.default_generator().random(x.shape) >= p
        scale = np.asarray(0.0 if p == 1 else 1.0 / (1.0 - p), dtype=x.dtype)
        mask = keep * scale                                 # x.dtype (bool * scalar array of x.dtype)
        ctx.save_for_backward(mask)
        return x * mask

    @staticmethod
    def backward(ctx, grad):
        (mask,) = ctx.saved_tensors
        return grad * mask


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


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0)


def identity(input):
    return input
