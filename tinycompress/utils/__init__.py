"""``tc.utils``: ``utils.data`` (torch.utils.data's Dataset, DataLoader, samplers) and bridges to PyTorch
state dicts (torch is imported lazily, only inside those functions)."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from . import data  # noqa: F401  (tc.utils.data, as torch.utils.data)


def from_torch_state_dict(torch_sd) -> "OrderedDict[str, np.ndarray]":
    """A torch ``state_dict`` as an OrderedDict of NumPy array copies (same keys, dtypes kept)."""
    out = OrderedDict()
    for key, value in torch_sd.items():
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        out[key] = np.array(value, copy=True)
    return out


def to_torch_state_dict(sd) -> "OrderedDict":
    """A tinycompress ``state_dict`` (ndarrays or Tensors) as an OrderedDict of torch tensors (copies)."""
    import torch

    out = OrderedDict()
    for key, value in sd.items():
        value = getattr(value, "array", value) if not isinstance(value, np.ndarray) else value
        out[key] = torch.from_numpy(np.array(value, copy=True))
    return out
