"""Image transforms with torchvision's names, working on NumPy arrays, one image or a batch.

Every transform here takes a single image or a stack of them and does the same thing to each,
without a Python loop, and says so with ``batched = True``: a dataset applies such a transform (or
a Compose of only such transforms) to a whole batch at once (``MNIST.get_batch``). Any other
callable — a user's function, a :class:`Lambda`, a Compose holding one — is applied image by image,
as torchvision does. The layouts:

    raw image      uint8 (H, W)           batch (N, H, W)        [what MNIST stores]
    after ToTensor float32 (1, H, W)      batch (N, 1, H, W)     [C, H, W as torch]
    after Flatten  (C*H*W,)               batch (N, C*H*W)

Transforms return ndarrays; the DataLoader wraps its batches in Tensors.

One difference from torchvision: a 3-D array given to :class:`ToTensor` is read as a batch of
grey images (N, H, W), not as one (H, W, C) colour image; give colour images as (H, W, C) batches
of 4-D (N, H, W, C) instead, or one image as 4-D (1, H, W, C).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

__all__ = ["is_batched", "Compose", "ToTensor", "Normalize", "Flatten", "Lambda", "MNIST_MEAN", "MNIST_STD",
           "mnist_normalize_half", "mnist_normalize_standard", "mnist_to_unit"]

#: mean and standard deviation of the MNIST training pixels scaled to [0, 1]
MNIST_MEAN = (0.1307,)
MNIST_STD = (0.3081,)


def is_batched(transform) -> bool:
    """True if ``transform`` maps a stack of images to the stack of its per-image results (the
    library's transforms and Compose of only those); a dataset may then call it once per batch."""
    return getattr(transform, "batched", False) is True


class Compose:
    """Apply ``transforms`` one after the other: ``t_k(... t_2(t_1(x)))``."""

    @property
    def batched(self) -> bool:
        return all(is_batched(t) for t in self.transforms)

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {type(t).__name__}")

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        lines = "".join(f"\n    {t}" for t in self.transforms)
        return f"{type(self).__name__}({lines}\n)"


class ToTensor:
    """uint8 pixels -> float32 in [0, 1], channels first: ``x / 255`` (float32 division, as torchvision).

    (H, W) -> (1, H, W); (N, H, W) -> (N, 1, H, W); (N, H, W, C) -> (N, C, H, W).
    Arrays of another dtype only change layout, keeping their values and dtype, as torchvision
    does for non-uint8 input.
    """

    batched = True

    def __call__(self, pic):
        x = np.asarray(pic)
        if x.ndim == 2:
            x = x[None]
        elif x.ndim == 3:
            x = x[:, None]
        elif x.ndim == 4:
            x = x.transpose(0, 3, 1, 2)
        else:
            raise ValueError(f"ToTensor expects an image (H, W) or a batch (N, H, W) / (N, H, W, C), "
                             f"got an array of shape {x.shape}")
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255)
        return np.ascontiguousarray(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Normalize:
    """Per channel ``(x - mean[c]) / std[c]``, computed in the image's own float dtype (torchvision).

    ``x`` is (C, H, W) or (N, C, H, W) floating point; ``mean`` and ``std`` have 1 or C entries.
    A new array is returned (``inplace`` is accepted for torchvision's signature and ignored).
    """

    batched = True

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        if len(self.mean) != len(self.std) and 1 not in (len(self.mean), len(self.std)):
            raise ValueError(f"Normalize: mean has {len(self.mean)} values and std {len(self.std)}")
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero after conversion ({self.std}), "
                             f"leading to division by zero")
        self.inplace = inplace

    def __call__(self, tensor):
        x = np.asarray(tensor)
        if x.dtype.kind != "f":
            raise TypeError(f"Normalize expects a floating point image, got {x.dtype}; apply ToTensor() first")
        if x.ndim < 3:
            raise ValueError(f"Normalize expects an image (C, H, W) or a batch (N, C, H, W), got shape {x.shape}")
        channels = x.shape[-3]
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise ValueError(f"Normalize: {name} has {len(values)} values for an image with "
                                 f"{channels} channels")
        mean = np.asarray(self.mean, dtype=x.dtype).reshape(-1, 1, 1)
        std = np.asarray(self.std, dtype=x.dtype).reshape(-1, 1, 1)
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"{type(self).__name__}(mean={self.mean}, std={self.std})"


class Flatten:
    """One vector per image: (C, H, W) or (H, W) -> (C*H*W,); a batch (N, C, H, W) -> (N, C*H*W)."""

    batched = True

    def __call__(self, x):
        x = np.asarray(x)
        if x.ndim in (2, 3):
            return x.reshape(-1)
        if x.ndim == 4:
            return x.reshape(x.shape[0], -1)
        raise ValueError(f"Flatten expects an image (C, H, W) or a batch (N, C, H, W), got shape {x.shape}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Lambda:
    """Apply a user function; inside a dataset it receives one image at a time, as in torchvision."""

    batched = False

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, x):
        return self.lambd(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


# ----------------------------------------------------------------------------- the seeds' recipes
def mnist_normalize_half(flatten: bool = False) -> Compose:
    """Seeds 000 and 004: ``ToTensor()`` then ``Normalize((0.5,), (0.5,))``, pixels to [-1, 1]
    (``(x/255 - 0.5) / 0.5``); ``flatten=True`` appends :class:`Flatten` (784 inputs for an MLP)."""
    return Compose([ToTensor(), Normalize((0.5,), (0.5,))] + ([Flatten()] if flatten else []))


def mnist_normalize_standard(flatten: bool = False) -> Compose:
    """The usual MNIST recipe: ``ToTensor()`` then ``Normalize((0.1307,), (0.3081,))``
    (zero mean, unit variance over the training pixels); optionally flattened."""
    return Compose([ToTensor(), Normalize(MNIST_MEAN, MNIST_STD)] + ([Flatten()] if flatten else []))


def mnist_to_unit(flatten: bool = False) -> Compose:
    """Just ``ToTensor()``: pixels to [0, 1]; optionally flattened."""
    return Compose([ToTensor()] + ([Flatten()] if flatten else []))
