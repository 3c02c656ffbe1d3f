"""``dropout`` and the channel-wise ``dropout1d/2d/3d``: inverted dropout, the mask drawn from the library's
generator."""
from __future__ import annotations

import warnings

import numpy as np

from .. import random as _random
from ..autograd.function import Function
from ..tensor import Tensor
from ._util import as_tensor


class Dropout(Function):
    """Inverted dropout: y = x · m, m = Bernoulli(1 − p) / (1 − p) drawn once per call, of ``mask_shape``
    (x's shape by default; (N, C, 1, ..) drops whole channels, broadcast over the spatial dims)."""

    grad_fn_name = "MulBackward0"    # torch's dropout is a recorded multiply by the mask

    @staticmethod
    def forward(ctx, x, p=0.5, mask_shape=None):
        keep = _random.default_generator().random(x.shape if mask_shape is None else mask_shape) >= p
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


def _feature_dropout(input, p, training):
    """Channel-wise dropout of (N, C, *) input: each channel of each sample zeroed whole with probability
    ``p`` (one mask entry per (n, c), broadcast over the rest), the kept ones scaled by 1/(1−p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if input.ndim < 2:
        raise RuntimeError(f"Feature dropout requires at least 2 dimensions in the input, got {input.ndim}D")
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, p=float(p), mask_shape=input.shape[:2] + (1,) * (input.ndim - 2))


def _unbatched(input, batched_dims, fn):
    if input.ndim == batched_dims:
        return fn(input)
    return fn(input.unsqueeze(0)).squeeze(0)


def _deprecated_dims(name, ndim, spatial):
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in an error "
                  f"in a future release. To retain the behavior and silence this warning, please use dropout "
                  f"instead. Note that {name} exists to provide channel-wise dropout on inputs with {spatial} "
                  f"spatial dimensions, a channel dimension, and an optional batch dimension (i.e. {spatial + 1}D "
                  f"or {spatial + 2}D inputs).", stacklevel=3)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout1d: zero whole channels of (N, C, L) or unbatched (C, L) input.
    ``inplace`` is accepted and computed out of place."""
    input = as_tensor(input)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _unbatched(input, 3, lambda x: _feature_dropout(x, p, training))


def dropout2d(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout2d: zero whole channels of (N, C, H, W) input. As torch does today, a 3-D
    input is taken as batched (N, C, L), with torch's warning. ``inplace`` is computed out of place."""
    input = as_tensor(input)
    if input.ndim not in (3, 4):
        _deprecated_dims("dropout2d", input.ndim, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel "
                      "dim. This behavior will change in a future release to interpret the input as one "
                      "without a batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise "
                      "dropout behavior, please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout3d: zero whole channels of (N, C, D, H, W) or unbatched (C, D, H, W) input."""
    input = as_tensor(input)
    if input.ndim not in (4, 5):
        _deprecated_dims("dropout3d", input.ndim, 3)
    return _unbatched(input, 5, lambda x: _feature_dropout(x, p, training))
